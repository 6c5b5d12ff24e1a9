//! The table of served kinds. Adding a built-in kind is one line in [`Registry::builtin`].

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
    core::v1 as core, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use serde_json::Value;
use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A subresource advertised in discovery (e.g. `status`, `scale`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// Name, e.g. `scale`.
    pub name: &'static str,
    /// Group of the kind it returns (empty = same as the resource).
    pub group: &'static str,
    /// Version of the kind it returns (empty = same as the resource).
    pub version: &'static str,
    /// Kind it returns.
    pub kind: &'static str,
    /// Verbs it supports.
    pub verbs: &'static [&'static str],
}

/// `status` subresource of `kind`.
const fn status(kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group: "",
        version: "",
        kind,
        verbs: &["get", "patch", "update"],
    }
}

/// `scale` subresource (autoscaling/v1 Scale).
const SCALE: Subresource = Subresource {
    name: "scale",
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
    verbs: &["get", "patch", "update"],
};

/// Decodes a JSON object as the kind's typed struct and encodes it again: the result has
/// unknown fields dropped, as kube-apiserver's decoding does. The error text goes into a 400.
pub type TypedCheck = fn(&Value) -> Result<Value, String>;

/// Everything the API machinery needs to know about one served resource.
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    /// API group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Singular name, e.g. `deployment`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Verbs served on the resource.
    pub verbs: Vec<&'static str>,
    /// Subresources served.
    pub subresources: Vec<Subresource>,
    /// Typed decode check for built-ins; None for kinds validated otherwise.
    pub typed_check: Option<TypedCheck>,
    /// Adds the kind's OpenAPI schema to a generator, returning a `$ref` to it (built-ins).
    pub schema: Option<SchemaFn>,
    /// OpenAPI v3 schema of a custom resource (its CRD version's `openAPIV3Schema`).
    pub openapi_schema: Option<Value>,
    /// How to serve a custom resource (schema, printer columns, scale paths); None for built-ins.
    pub custom: Option<Arc<crate::crd::CustomResource>>,
}

/// Adds a kind's schema (and the schemas it references) to an OpenAPI generator.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// All verbs of a normal resource.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// `apiVersion` of objects of this kind.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `<plural>.<group>` pair used in error messages.
    pub fn group_resource(&self) -> crate::error::GroupResource<'_> {
        crate::error::GroupResource {
            group: &self.group,
            resource: &self.plural,
        }
    }

    /// Storage key prefix of this resource (ends with `/`).
    pub fn key_prefix(&self) -> String {
        let g = if self.group.is_empty() { "core" } else { &self.group };
        format!("/registry/{g}/{}/", self.plural)
    }

    /// Storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Whether the resource has a `status` subresource.
    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    /// Whether the resource has a `scale` subresource.
    pub fn has_scale(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "scale")
    }

    /// Whether a verb is served.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

fn typed_check<K: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
    let typed = K::deserialize(v).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Describes a built-in kind from its k8s-openapi type.
fn builtin<K>(short_names: &[&str], categories: &[&str], subresources: &[Subresource]) -> ResourceInfo
where
    K: k8s_openapi::Resource + serde::de::DeserializeOwned + serde::Serialize + schemars::JsonSchema + 'static,
{
    ResourceInfo {
        group: K::GROUP.to_string(),
        version: K::VERSION.to_string(),
        kind: K::KIND.to_string(),
        plural: K::URL_PATH_SEGMENT.to_string(),
        singular: K::KIND.to_ascii_lowercase(),
        namespaced: TypeId::of::<K::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>(),
        short_names: short_names.iter().map(|s| s.to_string()).collect(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        verbs: ALL_VERBS.to_vec(),
        subresources: subresources.to_vec(),
        typed_check: Some(typed_check::<K>),
        schema: Some(schemars::SchemaGenerator::subschema_for::<K>),
        openapi_schema: None,
        custom: None,
    }
}

const ALL: &[&str] = &["all"];

/// The set of served resources, indexed for path routing and discovery.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// (group, version, plural) → info.
    by_path: BTreeMap<(String, String, String), Arc<ResourceInfo>>,
    /// Group order as first registered (discovery lists groups in this order).
    group_order: Vec<String>,
}

/// Which API a server serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerMode {
    /// The federation: Kubernetes kinds plus the federation's own (clusters, policies).
    #[default]
    Federation,
    /// A member cluster: Kubernetes kinds plus pods and nodes.
    Member,
}

/// The federation's own kinds, defined as CRD manifests in `manifests/crds/`.
const FEDERATION_CRDS: &[&str] = &[
    include_str!("../../manifests/crds/clusters.yaml"),
    include_str!("../../manifests/crds/policies.yaml"),
];

impl Registry {
    /// The kinds a server in `mode` serves before any user CRD.
    pub fn for_mode(mode: ServerMode) -> Self {
        let mut r = Self::builtin();
        match mode {
            ServerMode::Member => {
                r.insert(builtin::<core::Pod>(&["po"], ALL, &[status("Pod")]));
                r.insert(builtin::<core::Node>(&["no"], &[], &[status("Node")]));
            }
            ServerMode::Federation => {
                for manifest in FEDERATION_CRDS {
                    for doc in manifest.split("\n---\n") {
                        let Ok(crd) = serde_saphyr::from_str::<Value>(doc) else {
                            continue;
                        };
                        for info in crate::crd::resources_of(&crd) {
                            r.insert(info);
                        }
                    }
                }
            }
        }
        r
    }

    /// Every built-in kind a user propagates to member clusters.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        let mut ns = builtin::<core::Namespace>(&["ns"], &[], &[status("Namespace")]);
        ns.verbs = vec!["create", "delete", "get", "list", "patch", "update", "watch"];
        ns.subresources.insert(
            0,
            Subresource {
                name: "finalize",
                group: "",
                version: "",
                kind: "Namespace",
                verbs: &["update"],
            },
        );
        for info in [
            builtin::<core::ConfigMap>(&["cm"], &[], &[]),
            builtin::<core::Event>(&["ev"], &[], &[]),
            builtin::<core::LimitRange>(&["limits"], &[], &[]),
            ns,
            builtin::<core::PersistentVolumeClaim>(&["pvc"], &[], &[status("PersistentVolumeClaim")]),
            builtin::<core::ResourceQuota>(&["quota"], &[], &[status("ResourceQuota")]),
            builtin::<core::Secret>(&[], &[], &[]),
            builtin::<core::ServiceAccount>(&["sa"], &[], &[]),
            builtin::<core::Service>(&["svc"], ALL, &[status("Service")]),
            builtin::<apps::DaemonSet>(&["ds"], ALL, &[status("DaemonSet")]),
            builtin::<apps::Deployment>(&["deploy"], ALL, &[SCALE, status("Deployment")]),
            builtin::<apps::ReplicaSet>(&["rs"], ALL, &[SCALE, status("ReplicaSet")]),
            builtin::<apps::StatefulSet>(&["sts"], ALL, &[SCALE, status("StatefulSet")]),
            builtin::<autoscaling::HorizontalPodAutoscaler>(&["hpa"], ALL, &[status("HorizontalPodAutoscaler")]),
            builtin::<batch::CronJob>(&["cj"], ALL, &[status("CronJob")]),
            builtin::<batch::Job>(&[], ALL, &[status("Job")]),
            builtin::<networking::IngressClass>(&[], &[], &[]),
            builtin::<networking::Ingress>(&["ing"], &[], &[status("Ingress")]),
            builtin::<networking::NetworkPolicy>(&["netpol"], &[], &[]),
            builtin::<policy::PodDisruptionBudget>(&["pdb"], &[], &[status("PodDisruptionBudget")]),
            builtin::<rbac::ClusterRoleBinding>(&[], &[], &[]),
            builtin::<rbac::ClusterRole>(&[], &[], &[]),
            builtin::<rbac::RoleBinding>(&[], &[], &[]),
            builtin::<rbac::Role>(&[], &[], &[]),
            builtin::<storage::StorageClass>(&["sc"], &[], &[]),
            builtin::<apiextensions::CustomResourceDefinition>(
                &["crd", "crds"],
                &["api-extensions"],
                &[status("CustomResourceDefinition")],
            ),
            builtin::<scheduling::PriorityClass>(&["pc"], &[], &[]),
            builtin::<coordination::Lease>(&[], &[], &[]),
        ] {
            r.insert(info);
        }
        r
    }

    /// Adds or replaces a resource.
    pub fn insert(&mut self, info: ResourceInfo) {
        if !self.group_order.contains(&info.group) {
            self.group_order.push(info.group.clone());
        }
        let k = (info.group.clone(), info.version.clone(), info.plural.clone());
        self.by_path.insert(k, Arc::new(info));
    }

    /// Looks up a resource by group, version and plural.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Looks up by group and plural, any version (for storage events).
    pub fn by_group_resource(&self, group: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.by_path
            .values()
            .find(|r| r.group == group && r.plural == plural)
            .cloned()
    }

    /// Groups in discovery order; the core group is `""`.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.group_order.iter().map(|s| s.as_str())
    }

    /// Versions served for a group (preferred first).
    pub fn versions(&self, group: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_path
            .keys()
            .filter(|k| k.0 == group)
            .map(|k| k.1.clone())
            .collect();
        v.dedup();
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        v
    }

    /// Resources of one group/version, sorted by plural.
    pub fn resources(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.by_path
            .iter()
            .filter(|(k, _)| k.0 == group && k.1 == version)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every resource.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceInfo>> {
        self.by_path.values()
    }
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    (level, major, num.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_kinds_have_k8s_names_and_scope() {
        let r = Registry::builtin();
        let d = r.get("apps", "v1", "deployments").expect("deployments served");
        assert_eq!(d.kind, "Deployment");
        assert!(d.namespaced);
        assert_eq!(d.short_names, vec!["deploy"]);
        assert!(d.has_scale());
        let ns = r.get("", "v1", "namespaces").expect("namespaces served");
        assert!(!ns.namespaced);
        assert!(!ns.supports("deletecollection"));
        assert_eq!(
            r.get("rbac.authorization.k8s.io", "v1", "clusterroles")
                .map(|c| c.namespaced),
            Some(false)
        );
    }

    #[test]
    fn typed_check_rejects_wrong_types() {
        let r = Registry::builtin();
        let cm = r.get("", "v1", "configmaps").expect("cm");
        let check = cm.typed_check.expect("typed");
        assert_eq!(
            check(&serde_json::json!({"data": {"a": "b"}, "bogus": 1})).ok(),
            Some(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}, "metadata": {}}))
        );
        assert!(check(&serde_json::json!({"data": {"a": 1}})).is_err());
    }

    #[test]
    fn modes_add_their_own_kinds() {
        let fed = Registry::for_mode(ServerMode::Federation);
        let cl = fed
            .get("cluster.ubernetes.io", "v1alpha1", "clusters")
            .expect("clusters served by the federation");
        assert!(!cl.namespaced);
        assert!(fed.get("", "v1", "pods").is_none());
        for plural in [
            "propagationpolicies",
            "clusterpropagationpolicies",
            "overridepolicies",
            "clusteroverridepolicies",
            "placements",
        ] {
            assert!(
                fed.get("policy.ubernetes.io", "v1alpha1", plural).is_some(),
                "{plural} served"
            );
        }
        let member = Registry::for_mode(ServerMode::Member);
        assert!(member.get("", "v1", "pods").is_some());
        assert!(member.get("cluster.ubernetes.io", "v1alpha1", "clusters").is_none());
    }

    #[test]
    fn versions_sort_ga_first() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, vec!["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }
}
