//! Object metadata rules: name validation, server-set fields, generation, defaults.

use crate::error::{ApiError, ApiResult, Cause, cause};
use crate::registry::ResourceInfo;
use serde_json::{Map, Value, json};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// Which naming rule a kind's names follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain (most kinds).
    Subdomain,
    /// DNS-1123 label (namespaces).
    Label,
    /// DNS-1035 label (services).
    Dns1035,
    /// Any path segment (RBAC kinds).
    PathSegment,
}

/// The naming rule kube-apiserver applies to a resource.
pub fn name_rule(info: &ResourceInfo) -> NameRule {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

fn is_label(s: &str, first_alpha: bool) -> bool {
    let b = s.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    let Some(first) = b.first() else { return false };
    let Some(last) = b.last() else { return false };
    let first_ok = if first_alpha {
        first.is_ascii_lowercase()
    } else {
        first.is_ascii_lowercase() || first.is_ascii_digit()
    };
    first_ok && (last.is_ascii_lowercase() || last.is_ascii_digit()) && b.iter().all(ok_char)
}

/// Messages for an invalid name under `rule` (empty when valid).
pub fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                errs.push("must be no more than 253 characters".to_string());
            }
            if !name.split('.').all(|p| is_label(p, false)) {
                errs.push(SUBDOMAIN_MSG.to_string());
            }
        }
        NameRule::Label | NameRule::Dns1035 => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_string());
            }
            let ok = is_label(name, rule == NameRule::Dns1035);
            if !ok {
                errs.push(
                    if rule == NameRule::Label {
                        LABEL_MSG
                    } else {
                        DNS1035_MSG
                    }
                    .to_string(),
                );
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errs.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    errs
}

/// Kinds whose `metadata.generation` tracks spec changes (their strategies set it).
pub fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.group.as_str(), info.plural.as_str()),
        ("apps", _)
            | ("batch", _)
            | ("networking.k8s.io", "ingresses" | "networkpolicies")
            | ("policy", _)
            | ("autoscaling", _)
            | ("apiextensions.k8s.io", _)
    ) || info.typed_check.is_none()
}

/// Now as kube prints it (RFC 3339, seconds, `Z`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metadata` of an object as a mutable map (created when absent).
pub fn meta_mut(obj: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    let o = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object provided is not a JSON object"))?;
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if m.is_null() {
        *m = json!({});
    }
    m.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Everything outside `metadata` and `status`: a change here bumps `generation`.
fn spec_part(obj: &Value) -> Vec<(&String, &Value)> {
    obj.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "kind" | "apiVersion"))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the spec (everything but metadata and status) differs.
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    let mut a = spec_part(old);
    let mut b = spec_part(new);
    a.sort_by(|x, y| x.0.cmp(y.0));
    b.sort_by(|x, y| x.0.cmp(y.0));
    a != b
}

const GENERATE_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` + 5 random characters, as kube's name generator does (base truncated to 58).
pub fn generate_name(base: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let base: String = base.chars().take(63 - 5).collect();
    let suffix: String = (0..5)
        .map(|_| GENERATE_SUFFIX_ALPHABET[rng.random_range(0..GENERATE_SUFFIX_ALPHABET.len())] as char)
        .collect();
    format!("{base}{suffix}")
}

/// Validates metadata of an incoming object (name, namespace) and returns the causes.
pub fn validate_meta(info: &ResourceInfo, obj: &Value, generated: bool) -> Vec<Cause> {
    let mut causes = Vec::new();
    let name = meta_str(obj, "name").unwrap_or("");
    if name.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else {
        let rule = name_rule(info);
        let errs = name_errors(rule, name);
        if !errs.is_empty() {
            let field = if generated {
                "metadata.generateName"
            } else {
                "metadata.name"
            };
            let shown = if field == "metadata.generateName" {
                meta_str(obj, "generateName").unwrap_or("")
            } else {
                name
            };
            for e in errs {
                causes.push(cause(
                    "FieldValueInvalid",
                    field,
                    format!("Invalid value: {shown:?}: {e}"),
                ));
            }
        }
    }
    causes.extend(validate_spec(info, obj));
    for (field, v) in [
        ("labels", obj.pointer("/metadata/labels")),
        ("annotations", obj.pointer("/metadata/annotations")),
    ] {
        if let Some(map) = v.and_then(|v| v.as_object()) {
            for (k, val) in map {
                if !val.is_string() {
                    causes.push(cause(
                        "FieldValueInvalid",
                        &format!("metadata.{field}"),
                        format!("Invalid value: {k:?}: value must be a string"),
                    ));
                }
            }
        }
    }
    causes
}

/// ConfigMaps and Secrets hold at most 1 MiB of data.
const MAX_DATA_BYTES: usize = 1024 * 1024;

fn data_size(obj: &Value) -> usize {
    ["data", "binaryData", "stringData"]
        .iter()
        .filter_map(|f| obj.get(*f).and_then(|d| d.as_object()))
        .flat_map(|m| m.iter())
        .map(|(k, v)| k.len() + v.as_str().map(str::len).unwrap_or(0))
        .sum()
}

/// The spec rules of kube-apiserver's validation that clients most often hit.
fn validate_spec(info: &ResourceInfo, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "configmaps" | "secrets") if data_size(obj) > MAX_DATA_BYTES => {
            causes.push(cause(
                "FieldValueTooLong",
                "",
                format!("Too long: may not be more than {MAX_DATA_BYTES} bytes"),
            ));
        }
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            workload_causes(obj, "/spec/template", &mut causes);
        }
        ("batch", "jobs") => {
            let tpl = obj.pointer("/spec/template/spec/containers").and_then(|c| c.as_array());
            if tpl.is_none_or(|c| c.is_empty()) {
                causes.push(cause(
                    "FieldValueRequired",
                    "spec.template.spec.containers",
                    "Required value",
                ));
            }
        }
        _ => {}
    }
    causes
}

/// Selector present and matching the template's labels; at least one container.
fn workload_causes(obj: &Value, template: &str, causes: &mut Vec<Cause>) {
    let selector = obj.pointer("/spec/selector");
    let match_labels = selector.and_then(|s| s.get("matchLabels")).and_then(|m| m.as_object());
    let has_exprs = selector
        .and_then(|s| s.get("matchExpressions"))
        .and_then(|m| m.as_array())
        .is_some_and(|a| !a.is_empty());
    if match_labels.is_none_or(|m| m.is_empty()) && !has_exprs {
        causes.push(cause("FieldValueRequired", "spec.selector", "Required value"));
    } else if let Some(ml) = match_labels {
        let labels = obj
            .pointer(&format!("{template}/metadata/labels"))
            .and_then(|l| l.as_object());
        let matches = ml.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matches {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    go_map(labels)
                ),
            ));
        }
    }
    let containers = obj
        .pointer(&format!("{template}/spec/containers"))
        .and_then(|c| c.as_array());
    if containers.is_none_or(|c| c.is_empty()) {
        causes.push(cause(
            "FieldValueRequired",
            "spec.template.spec.containers",
            "Required value",
        ));
    }
}

/// A string map as Go prints it (`map[a:b c:d]`).
fn go_map(m: Option<&Map<String, Value>>) -> String {
    let mut items: Vec<String> = m
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    items.sort();
    format!("map[{}]", items.join(" "))
}

/// Pod template defaults kube-apiserver fills in (what `kubectl get -o yaml` shows back,
/// and what member clusters would add: propagation compares against these).
fn default_pod_spec(obj: &mut Value, pointer: &str) {
    let Some(spec) = obj.pointer_mut(pointer).and_then(|s| s.as_object_mut()) else {
        return;
    };
    spec.entry("restartPolicy").or_insert(json!("Always"));
    spec.entry("terminationGracePeriodSeconds").or_insert(json!(30));
    spec.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    spec.entry("securityContext").or_insert(json!({}));
    spec.entry("schedulerName").or_insert(json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(|c| c.as_array_mut()) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(|c| c.as_object_mut()) {
            let image = c.get("image").and_then(|i| i.as_str()).unwrap_or("").to_string();
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, t)| t.to_string());
            let policy = if image.contains('@') || tag.as_deref().is_some_and(|t| t != "latest") {
                "IfNotPresent"
            } else {
                "Always"
            };
            c.entry("imagePullPolicy").or_insert(json!(policy));
            c.entry("terminationMessagePath")
                .or_insert(json!("/dev/termination-log"));
            c.entry("terminationMessagePolicy").or_insert(json!("File"));
            c.entry("resources").or_insert(json!({}));
            if let Some(ports) = c.get_mut("ports").and_then(|p| p.as_array_mut()) {
                for port in ports.iter_mut().filter_map(|p| p.as_object_mut()) {
                    port.entry("protocol").or_insert(json!("TCP"));
                }
            }
        }
    }
}

/// Defaults that kube-apiserver fills in on create/update, for the fields clients read back.
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) {
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", _) | ("batch", "jobs") => default_pod_spec(obj, "/spec/template/spec"),
        ("batch", "cronjobs") => default_pod_spec(obj, "/spec/jobTemplate/spec/template/spec"),
        _ => {}
    }
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments") => {
            let spec = ensure_obj(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if let Some(s) = strategy.as_object_mut() {
                let ty = s.entry("type").or_insert(json!("RollingUpdate")).clone();
                if ty == "RollingUpdate" {
                    let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Some(ru) = ru.as_object_mut() {
                        ru.entry("maxUnavailable").or_insert(json!("25%"));
                        ru.entry("maxSurge").or_insert(json!("25%"));
                    }
                }
            }
        }
        ("apps", "replicasets") => {
            ensure_obj(obj, "spec").entry("replicas").or_insert(json!(1));
        }
        ("apps", "statefulsets") => {
            let spec = ensure_obj(obj, "spec");
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("podManagementPolicy").or_insert(json!("OrderedReady"));
            spec.entry("updateStrategy")
                .or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
            spec.entry("persistentVolumeClaimRetentionPolicy")
                .or_insert(json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        }
        ("apps", "daemonsets") => {
            let spec = ensure_obj(obj, "spec");
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("updateStrategy")
                .or_insert(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
        }
        ("", "services") => {
            let spec = ensure_obj(obj, "spec");
            spec.entry("type").or_insert(json!("ClusterIP"));
            spec.entry("sessionAffinity").or_insert(json!("None"));
            if let Some(ports) = spec.get_mut("ports").and_then(|p| p.as_array_mut()) {
                for p in ports.iter_mut().filter_map(|p| p.as_object_mut()) {
                    p.entry("protocol").or_insert(json!("TCP"));
                    if let Some(port) = p.get("port").cloned() {
                        p.entry("targetPort").or_insert(port);
                    }
                }
            }
        }
        ("", "namespaces") => {
            let name = meta_str(obj, "name").unwrap_or("").to_string();
            if let Ok(meta) = meta_mut(obj) {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
            }
            ensure_obj(obj, "spec")
                .entry("finalizers")
                .or_insert(json!(["kubernetes"]));
            ensure_obj(obj, "status").entry("phase").or_insert(json!("Active"));
        }
        ("", "secrets") => {
            if let Some(o) = obj.as_object_mut() {
                o.entry("type").or_insert(json!("Opaque"));
                // stringData is write-only: merged into data (base64), as kube-apiserver does.
                if let Some(Value::Object(sd)) = o.remove("stringData") {
                    use base64::Engine;
                    let data = o.entry("data").or_insert_with(|| json!({}));
                    if let Some(d) = data.as_object_mut() {
                        for (k, v) in sd {
                            let s = v.as_str().unwrap_or_default();
                            d.insert(k, json!(base64::engine::general_purpose::STANDARD.encode(s)));
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

fn ensure_obj<'a>(obj: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let Value::Object(o) = obj else {
        unreachable!("made an object above")
    };
    let v = o.entry(field).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_names() {
        assert!(name_errors(NameRule::Subdomain, "web-1.example").is_empty());
        assert_eq!(
            name_errors(NameRule::Subdomain, "Bad_Name"),
            vec![SUBDOMAIN_MSG.to_string()]
        );
        assert!(!name_errors(NameRule::Subdomain, &"a".repeat(254)).is_empty());
        assert!(!name_errors(NameRule::Subdomain, "a..b").is_empty());
        assert!(!name_errors(NameRule::Subdomain, "-a").is_empty());
    }

    #[test]
    fn label_and_dns1035_names() {
        assert!(name_errors(NameRule::Label, "123-abc").is_empty());
        assert!(!name_errors(NameRule::Label, "a.b").is_empty());
        assert!(!name_errors(NameRule::Dns1035, "1abc").is_empty());
        assert!(name_errors(NameRule::Dns1035, "abc-1").is_empty());
        assert!(!name_errors(NameRule::Label, &"a".repeat(64)).is_empty());
    }

    #[test]
    fn path_segment_names() {
        assert!(name_errors(NameRule::PathSegment, "system:admin").is_empty());
        assert!(!name_errors(NameRule::PathSegment, "a/b").is_empty());
        assert!(!name_errors(NameRule::PathSegment, "..").is_empty());
    }

    #[test]
    fn spec_change_ignores_metadata_and_status() {
        let a = json!({"metadata":{"labels":{"a":"1"}},"spec":{"x":1},"status":{"y":1}});
        let b = json!({"metadata":{"labels":{"a":"2"}},"spec":{"x":1},"status":{"y":2}});
        assert!(!spec_changed(&a, &b));
        let c = json!({"metadata":{},"spec":{"x":2}});
        assert!(spec_changed(&a, &c));
        let d = json!({"metadata":{},"data":{"k":"v"}});
        assert!(spec_changed(&a, &d));
    }

    #[test]
    fn generated_names_have_five_char_suffix() {
        let n = generate_name("gen-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("gen-"));
        assert!(name_errors(NameRule::Subdomain, &n).is_empty());
    }
}
