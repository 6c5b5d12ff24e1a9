//! CustomResourceDefinitions: validating CRDs, turning them into served resources, and
//! the CRD controller (cleanup of custom resources when a CRD is deleted).
//!
//! A CRD write updates the registry before the response is sent, so the new resource is
//! served at once, as kube-apiserver does once the CRD is Established.

use crate::error::{ApiError, ApiResult, Cause, cause};
use crate::http::handlers::{Change, DeleteOptions, delete_object, update_with};
use crate::patch::schema::SchemaMeta;
use crate::registry::{ALL_VERBS, Registry, ResourceInfo, Subresource};
use crate::server::ApiServer;
use crate::table::Printer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Storage prefix of CRD objects.
pub const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";
/// Finalizer that holds a CRD until its custom resources are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// JSON paths of a custom resource's scale subresource.
#[derive(Clone, Debug, Default)]
pub struct ScalePaths {
    /// `.spec.replicas`-like path of desired replicas.
    pub spec_replicas: String,
    /// `.status.replicas`-like path of observed replicas.
    pub status_replicas: String,
    /// Path of the label selector string, if any.
    pub label_selector: Option<String>,
}

/// What serving one version of a custom resource needs.
#[derive(Clone, Debug)]
pub struct CustomResource {
    /// The version's `openAPIV3Schema`, parsed once (None: anything goes).
    pub schema: Option<Arc<crate::crd_schema::CrdSchema>>,
    /// Table printer from `additionalPrinterColumns`.
    pub printer: Printer,
    /// Scale subresource paths.
    pub scale: Option<ScalePaths>,
    /// List/map semantics for server-side apply.
    pub meta: Arc<SchemaMeta>,
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(|a| a.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Dotted JSON path (`.spec.replicas`) to a JSON pointer (`/spec/replicas`).
pub fn json_pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |mut acc, seg| {
            acc.push('/');
            acc.push_str(&seg.replace('~', "~0").replace('/', "~1"));
            acc
        })
}

/// The resources a CRD serves (one per served version), ordered preferred first.
pub fn resources_of(crd: &Value) -> Vec<ResourceInfo> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_ascii_lowercase());
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for v in spec["versions"].as_array().map(|a| a.as_slice()).unwrap_or_default() {
        if v["served"].as_bool() != Some(true) {
            continue;
        }
        let version = v["name"].as_str().unwrap_or_default();
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let mut subresources = Vec::new();
        let scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
            spec_replicas: s["specReplicasPath"].as_str().unwrap_or(".spec.replicas").to_string(),
            status_replicas: s["statusReplicasPath"]
                .as_str()
                .unwrap_or(".status.replicas")
                .to_string(),
            label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
        });
        if scale.is_some() {
            subresources.push(Subresource {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: &["get", "patch", "update"],
            });
        }
        if v.pointer("/subresources/status").is_some() {
            subresources.push(Subresource {
                name: "status",
                group: "",
                version: "",
                kind: "",
                verbs: &["get", "patch", "update"],
            });
        }
        let printer = match v.get("additionalPrinterColumns") {
            Some(cols) if cols.as_array().is_some_and(|a| !a.is_empty()) => Printer::from_printer_columns(cols),
            _ => Printer::from_printer_columns(&json!([])),
        };
        let meta = match &schema {
            Some(s) => SchemaMeta::from_openapi(group, version, kind, s),
            None => SchemaMeta::default(),
        };
        let custom = CustomResource {
            schema: schema.as_ref().map(|s| Arc::new(crate::crd_schema::CrdSchema::new(s))),
            printer,
            scale,
            meta: Arc::new(meta),
        };
        let mut info = ResourceInfo {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: singular.clone(),
            namespaced,
            short_names: strs(names.get("shortNames")),
            categories: strs(names.get("categories")),
            verbs: ALL_VERBS.to_vec(),
            subresources,
            typed_check: None,
            schema: None,
            openapi_schema: schema,
            custom: Some(Arc::new(custom)),
        };
        // Status subresource responses carry the resource's own kind.
        for s in &mut info.subresources {
            if s.name == "status" {
                s.kind = Box::leak(kind.to_string().into_boxed_str());
            }
        }
        out.push(info);
    }
    out
}

/// Whether a CRD is serving (not being deleted).
fn is_active(crd: &Value) -> bool {
    crd.pointer("/metadata/deletionTimestamp").is_none()
}

/// Rebuilds the registry: built-ins plus every active CRD in the cache.
pub fn sync_registry(server: &ApiServer) {
    let mut reg = Registry::for_mode(server.settings.mode);
    if let Ok(page) = server.cache.list(CRD_PREFIX, None, None, None, None, &|_| true) {
        for o in page.items {
            let crd = o.value();
            if !is_active(&crd) {
                continue;
            }
            for info in resources_of(&crd) {
                if reg.get(&info.group, &info.version, &info.plural).is_none() {
                    reg.insert(info);
                }
            }
        }
    }
    *server.registry.write() = Arc::new(reg);
}

/// Validates a CRD on create/update and fills in what the server sets (finalizer, status).
pub fn admit(crd: &mut Value, reg: &Registry) -> ApiResult<()> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_string();
    let mut causes: Vec<Cause> = Vec::new();
    let spec = crd.get("spec").cloned().unwrap_or(json!({}));
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec
        .pointer("/names/plural")
        .and_then(|p| p.as_str())
        .unwrap_or_default();
    let kind = spec.pointer("/names/kind").and_then(|p| p.as_str()).unwrap_or_default();
    if group.is_empty() {
        causes.push(cause("FieldValueRequired", "spec.group", "Required value"));
    } else if !group.contains('.') {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: {group:?}: should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(cause("FieldValueRequired", "spec.names.plural", "Required value"));
    } else if plural != plural.to_ascii_lowercase() {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.names.plural",
            format!("Invalid value: {plural:?}: must be lowercase"),
        ));
    }
    if kind.is_empty() {
        causes.push(cause("FieldValueRequired", "spec.names.kind", "Required value"));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: {}: supported values: \"Cluster\", \"Namespaced\"",
                spec["scope"]
            ),
        ));
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    }
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .collect();
    if !versions.is_empty() && storage.len() != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {:?}: must have exactly one version marked as storage version",
                storage.len()
            ),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if let Some(s) = v.pointer("/schema/openAPIV3Schema") {
            let prefix = format!("spec.versions[{i}].schema.openAPIV3Schema");
            for e in crate::crd_schema::check_structural(s, &prefix) {
                causes.push(cause(e.reason, &e.field, e.message));
            }
        }
    }
    // Names already served by a built-in kind or another CRD conflict.
    if causes.is_empty() {
        for info in reg.all() {
            if info.group == group && info.plural == plural && info.custom.is_none() {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.names.plural",
                    format!("Invalid value: {plural:?}: is served by a built-in kind"),
                ));
                break;
            }
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &name,
            causes,
        ));
    }
    let meta = crate::objects::meta_mut(crd)?;
    let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(a) = finalizers.as_array_mut()
        && !a.iter().any(|f| f == CLEANUP_FINALIZER)
    {
        a.push(json!(CLEANUP_FINALIZER));
    }
    let now = crate::objects::now_rfc3339();
    let stored: Vec<String> = storage
        .iter()
        .filter_map(|v| v["name"].as_str().map(str::to_string))
        .collect();
    let previous_stored = strs(crd.pointer("/status/storedVersions"));
    let mut stored_versions = previous_stored;
    for s in stored {
        if !stored_versions.contains(&s) {
            stored_versions.push(s);
        }
    }
    let mut accepted = spec["names"].clone();
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(kind.to_ascii_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    crd["spec"]["names"] = accepted.clone();
    crd["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": stored_versions,
    });
    Ok(())
}

/// Deletes the custom resources of CRDs being deleted, then releases their finalizer.
pub struct CrdController {
    server: Arc<ApiServer>,
}

impl CrdController {
    /// A controller over `server`.
    pub fn new(server: Arc<ApiServer>) -> Self {
        Self { server }
    }

    /// Runs forever.
    pub async fn run(self) {
        let mut events = self.server.cache.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = events.recv() => {}
                _ = tick.tick() => {}
            }
            self.reconcile().await;
        }
    }

    async fn reconcile(&self) {
        let Ok(page) = self.server.cache.list(CRD_PREFIX, None, None, None, None, &|_| true) else {
            return;
        };
        for o in page.items {
            let crd = o.value();
            if is_active(&crd) {
                continue;
            }
            let Some(info) = resources_of_any(&crd) else { continue };
            let prefix = info.key_prefix();
            let remaining = self
                .server
                .cache
                .list(&prefix, None, None, None, None, &|_| true)
                .map(|p| p.items)
                .unwrap_or_default();
            for cr in &remaining {
                let ns = Some(cr.namespace.as_str()).filter(|n| !n.is_empty());
                let _ = delete_object(&self.server, &info, ns, &cr.name, &DeleteOptions::default()).await;
            }
            if !remaining.is_empty() {
                continue;
            }
            let Some(crd_info) = self
                .server
                .registry()
                .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            else {
                continue;
            };
            let _ = update_with(
                &self.server,
                &crd_info,
                CRD_PREFIX,
                &o.name,
                &o.name,
                false,
                |old, _| {
                    let mut new = old.clone();
                    if let Some(a) = new.pointer_mut("/metadata/finalizers").and_then(|f| f.as_array_mut()) {
                        a.retain(|f| f != CLEANUP_FINALIZER);
                    }
                    Ok(Change::Write(new))
                },
            )
            .await;
            sync_registry(&self.server);
        }
    }
}

/// Any resource of a CRD (for its storage prefix, shared by all versions), served or not.
fn resources_of_any(crd: &Value) -> Option<ResourceInfo> {
    let mut c = crd.clone();
    if let Some(vs) = c.pointer_mut("/spec/versions").and_then(|v| v.as_array_mut()) {
        for v in vs {
            v["served"] = json!(true);
        }
    }
    resources_of(&c).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widget_crd() -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}},
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}})
    }

    #[test]
    fn admit_sets_conditions_finalizer_and_stored_versions() {
        let mut crd = widget_crd();
        admit(&mut crd, &Registry::builtin()).expect("valid CRD");
        assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
        assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        assert_eq!(crd["status"]["acceptedNames"]["listKind"], "WidgetList");
    }

    #[test]
    fn admit_rejects_bad_names() {
        let mut crd = widget_crd();
        crd["metadata"]["name"] = json!("wrong.example.com");
        crd["spec"]["group"] = json!("nodot");
        let e = admit(&mut crd, &Registry::builtin()).expect_err("invalid");
        assert_eq!(e.code, 422);
        let fields: Vec<&str> = e.details.causes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"spec.group"));
        assert!(fields.contains(&"metadata.name"));
    }

    #[test]
    fn resources_of_serves_versions_with_subresources() {
        let infos = resources_of(&widget_crd());
        assert_eq!(infos.len(), 1);
        let w = &infos[0];
        assert_eq!(
            (w.group.as_str(), w.plural.as_str(), w.kind.as_str()),
            ("example.com", "widgets", "Widget")
        );
        assert!(w.has_status() && w.has_scale());
        assert_eq!(w.short_names, vec!["wd"]);
        assert_eq!(
            w.custom
                .as_ref()
                .and_then(|c| c.scale.as_ref())
                .map(|s| s.spec_replicas.clone()),
            Some(".spec.size".into())
        );
    }

    #[test]
    fn json_pointer_from_dotted_path() {
        assert_eq!(json_pointer(".spec.replicas"), "/spec/replicas");
    }
}
