//! Rendering a federated object for one member: server-set fields stripped, overrides
//! applied, origin labelled. Pure functions.

use serde_json::{Value, json};

/// Label naming where a member copy comes from.
pub const ORIGIN_LABEL: &str = "propagation.ubernetes.io/managed-by";
/// Annotation naming the federated object a member copy renders.
pub const SOURCE_ANNOTATION: &str = "propagation.ubernetes.io/source";

/// Metadata the member sets for itself.
const SERVER_SET: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "managedFields",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "generateName",
];

/// The object as the federation wants it in a member, before overrides.
pub fn strip(obj: &Value, federation: &str) -> Value {
    let mut out = json!({});
    if let Some(o) = obj.as_object() {
        for (k, v) in o {
            if k != "status" {
                out[k] = v.clone();
            }
        }
    }
    if let Some(m) = out.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for f in SERVER_SET {
            m.remove(*f);
        }
        if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    let labels = out["metadata"]
        .as_object_mut()
        .map(|m| m.entry("labels").or_insert_with(|| json!({})));
    if let Some(l) = labels.and_then(|l| l.as_object_mut()) {
        l.insert(ORIGIN_LABEL.into(), json!(federation));
    }
    // Services: the member allocates its own cluster IPs and node ports.
    if obj.get("kind").and_then(|k| k.as_str()) == Some("Service")
        && let Some(spec) = out.get_mut("spec").and_then(|s| s.as_object_mut())
    {
        for f in ["clusterIP", "clusterIPs"] {
            spec.remove(f);
        }
    }
    out
}

/// Whether an override rule targets this cluster (`targetCluster.clusterNames` /
/// `labelSelector` / `exclude`; none means every cluster).
fn targets(rule: &Value, cluster: &str, cluster_labels: &serde_json::Map<String, Value>) -> bool {
    let Some(t) = rule.get("targetCluster") else {
        return true;
    };
    let names: Option<Vec<&str>> = t
        .get("clusterNames")
        .and_then(|n| n.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect());
    let excluded = t
        .get("exclude")
        .and_then(|n| n.as_array())
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(cluster)));
    names.is_none_or(|n| n.contains(&cluster))
        && !excluded
        && t.get("labelSelector")
            .is_none_or(|ls| super::policy::label_selector_matches(ls, Some(cluster_labels)))
}

/// Splits an image into (registry, repository, tag) the way Karmada's imageOverrider does.
fn split_image(image: &str) -> (String, String, String) {
    let (rest, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
        _ => (image.to_string(), String::new()),
    };
    match rest.split_once('/') {
        Some((reg, repo)) if reg.contains('.') || reg.contains(':') || reg == "localhost" => {
            (reg.to_string(), repo.to_string(), tag)
        }
        _ => (String::new(), rest, tag),
    }
}

fn join_image(reg: &str, repo: &str, tag: &str) -> String {
    let mut s = if reg.is_empty() {
        repo.to_string()
    } else {
        format!("{reg}/{repo}")
    };
    if !tag.is_empty() {
        s.push(':');
        s.push_str(tag);
    }
    s
}

fn containers_mut(obj: &mut Value) -> Vec<&mut Value> {
    const POINTERS: [&str; 3] = [
        "/spec/template/spec/containers",
        "/spec/jobTemplate/spec/template/spec/containers",
        "/spec/containers",
    ];
    let Some(p) = POINTERS.iter().find(|p| obj.pointer(p).is_some()) else {
        return Vec::new();
    };
    obj.pointer_mut(p)
        .and_then(|c| c.as_array_mut())
        .map(|l| l.iter_mut().collect())
        .unwrap_or_default()
}

fn image_override(obj: &mut Value, ov: &Value) {
    let component = ov.get("component").and_then(|c| c.as_str()).unwrap_or("");
    let operator = ov.get("operator").and_then(|c| c.as_str()).unwrap_or("replace");
    let value = ov.get("value").and_then(|c| c.as_str()).unwrap_or("");
    for c in containers_mut(obj) {
        let Some(image) = c.get("image").and_then(|i| i.as_str()) else {
            continue;
        };
        let (mut reg, mut repo, mut tag) = split_image(image);
        let part = match component {
            "Registry" => &mut reg,
            "Repository" => &mut repo,
            "Tag" => &mut tag,
            _ => continue,
        };
        match operator {
            "add" => part.push_str(value),
            "remove" => part.clear(),
            _ => *part = value.to_string(),
        }
        c["image"] = json!(join_image(&reg, &repo, &tag));
    }
}

fn list_override(obj: &mut Value, ov: &Value, field: &str) {
    let name = ov.get("containerName").and_then(|c| c.as_str()).unwrap_or("");
    let operator = ov.get("operator").and_then(|c| c.as_str()).unwrap_or("add");
    let values: Vec<Value> = ov.get("value").and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for c in containers_mut(obj) {
        if c.get("name").and_then(|n| n.as_str()) != Some(name) {
            continue;
        }
        let list = c.as_object_mut().map(|m| m.entry(field).or_insert_with(|| json!([])));
        let Some(list) = list.and_then(|l| l.as_array_mut()) else {
            continue;
        };
        match operator {
            "remove" => list.retain(|x| !values.contains(x)),
            _ => list.extend(values.iter().cloned()),
        }
    }
}

fn map_override(obj: &mut Value, ov: &Value, field: &str) {
    let operator = ov.get("operator").and_then(|c| c.as_str()).unwrap_or("add");
    let Some(values) = ov.get("value").and_then(|v| v.as_object()) else {
        return;
    };
    let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) else {
        return;
    };
    let Some(map) = meta.entry(field).or_insert_with(|| json!({})).as_object_mut() else {
        return;
    };
    for (k, v) in values {
        match operator {
            "remove" => {
                map.remove(k);
            }
            _ => {
                map.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Applies the override rules of every matching override policy (in the order given)
/// for `cluster`. Karmada overriders: imageOverrider, commandOverrider, argsOverrider,
/// labelsOverrider, annotationsOverrider, plaintext (JSON patch operations).
pub fn apply_overrides(
    obj: &mut Value,
    policies: &[&Value],
    cluster: &str,
    labels: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    for p in policies {
        let rules = p
            .pointer("/spec/overrideRules")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        for rule in rules.iter().filter(|r| targets(r, cluster, labels)) {
            let ov = &rule["overriders"];
            for i in ov
                .get("imageOverrider")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                image_override(obj, i);
            }
            for c in ov
                .get("commandOverrider")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                list_override(obj, c, "command");
            }
            for a in ov.get("argsOverrider").and_then(|x| x.as_array()).into_iter().flatten() {
                list_override(obj, a, "args");
            }
            for l in ov
                .get("labelsOverrider")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                map_override(obj, l, "labels");
            }
            for a in ov
                .get("annotationsOverrider")
                .and_then(|x| x.as_array())
                .into_iter()
                .flatten()
            {
                map_override(obj, a, "annotations");
            }
            if let Some(ops) = ov.get("plaintext").and_then(|x| x.as_array()) {
                let patch: Vec<Value> = ops
                    .iter()
                    .map(|op| {
                        json!({"op": op.get("operator").and_then(|o| o.as_str()).unwrap_or("replace"),
                                     "path": op.get("path").cloned().unwrap_or(json!("")),
                                     "value": op.get("value").cloned().unwrap_or(Value::Null)})
                    })
                    .collect();
                apply_json_patch(obj, &patch)?;
            }
        }
    }
    Ok(())
}

/// RFC 6902 add / replace / remove, enough for plaintext overriders.
fn apply_json_patch(obj: &mut Value, ops: &[Value]) -> Result<(), String> {
    for op in ops {
        let path = op["path"].as_str().unwrap_or("");
        let (parent, last) = path.rsplit_once('/').ok_or_else(|| format!("bad path {path:?}"))?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = obj
            .pointer_mut(parent)
            .ok_or_else(|| format!("path {parent:?} does not exist"))?;
        match (op["op"].as_str().unwrap_or(""), target) {
            ("remove", Value::Object(m)) => {
                m.remove(&last);
            }
            ("remove", Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>()
                    && i < a.len()
                {
                    a.remove(i);
                }
            }
            ("add" | "replace", Value::Object(m)) => {
                m.insert(last, op["value"].clone());
            }
            ("add" | "replace", Value::Array(a)) => {
                if last == "-" {
                    a.push(op["value"].clone());
                } else if let Ok(i) = last.parse::<usize>() {
                    if op["op"] == "add" && i <= a.len() {
                        a.insert(i, op["value"].clone());
                    } else if i < a.len() {
                        a[i] = op["value"].clone();
                    }
                }
            }
            (o, _) => return Err(format!("unsupported overrider operation {o:?} at {path:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7", "generation": 2,
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
               "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "args": ["-a"]}]}}},
               "status": {"replicas": 3}})
    }

    #[test]
    fn strip_removes_server_fields_and_labels_origin() {
        let r = strip(&deploy(), "fed");
        assert!(r.get("status").is_none());
        assert!(r["metadata"].get("uid").is_none() && r["metadata"].get("resourceVersion").is_none());
        assert!(r["metadata"].get("annotations").is_none());
        assert_eq!(r["metadata"]["labels"][ORIGIN_LABEL], "fed");
        assert_eq!(r["spec"]["replicas"], 3);
    }

    #[test]
    fn overriders_change_image_args_labels_and_replicas() {
        let mut r = strip(&deploy(), "fed");
        let policy = json!({"spec": {"overrideRules": [
            {"targetCluster": {"clusterNames": ["eu-1"]}, "overriders": {
                "imageOverrider": [{"component": "Registry", "operator": "replace", "value": "registry.eu.example"},
                                   {"component": "Tag", "operator": "replace", "value": "1.28"}],
                "argsOverrider": [{"containerName": "web", "operator": "add", "value": ["-b"]}],
                "labelsOverrider": [{"operator": "add", "value": {"tier": "eu"}}],
                "plaintext": [{"path": "/spec/replicas", "operator": "replace", "value": 5}]}},
            {"targetCluster": {"clusterNames": ["us-1"]}, "overriders": {"plaintext": [{"path": "/spec/replicas", "operator": "replace", "value": 9}]}}]}});
        apply_overrides(&mut r, &[&policy], "eu-1", &serde_json::Map::new()).expect("overrides");
        let c = &r["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "registry.eu.example/nginx:1.28");
        assert_eq!(c["args"], json!(["-a", "-b"]));
        assert_eq!(r["metadata"]["labels"]["tier"], "eu");
        assert_eq!(r["spec"]["replicas"], 5);
    }

    #[test]
    fn image_parts() {
        assert_eq!(split_image("nginx"), ("".into(), "nginx".into(), "".into()));
        assert_eq!(
            split_image("docker.io/library/nginx:1"),
            ("docker.io".into(), "library/nginx".into(), "1".into())
        );
        assert_eq!(
            split_image("localhost:5000/app:v2"),
            ("localhost:5000".into(), "app".into(), "v2".into())
        );
    }

    #[test]
    fn bad_plaintext_path_is_an_error() {
        let mut r = strip(&deploy(), "fed");
        let policy = json!({"spec": {"overrideRules": [{"overriders": {"plaintext": [{"path": "/nope/x", "operator": "replace", "value": 1}]}}]}});
        assert!(apply_overrides(&mut r, &[&policy], "c", &serde_json::Map::new()).is_err());
    }
}
