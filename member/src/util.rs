//! Small helpers: stable hashing, timestamps, field access, conditions.

use serde_json::{Map, Value, json};

/// Alphabet kube uses for generated name suffixes and pod-template hashes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// 64-bit FNV-1a: stable across runs and Rust versions (unlike `DefaultHasher`).
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Feeds a JSON value into a hash with object keys in sorted order (key order does not matter).
fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for k in keys {
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                canonical(&m[k.as_str()], out);
                out.push(b',');
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for x in a {
                canonical(x, out);
                out.push(b',');
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// `len` characters of kube's safe alphabet spelling `h`.
pub(crate) fn safe_string(mut h: u64, len: usize) -> String {
    let base = SAFE_ALPHABET.len() as u64;
    (0..len)
        .map(|_| {
            let c = SAFE_ALPHABET[(h % base) as usize];
            h /= base;
            char::from(c)
        })
        .collect()
}

/// A 10-character hash of a workload's pod template, spelled like kube's `pod-template-hash`.
pub(crate) fn template_hash(obj: &Value) -> String {
    let mut buf = Vec::new();
    canonical(obj.pointer("/spec/template").unwrap_or(&Value::Null), &mut buf);
    safe_string(fnv1a(&buf), 10)
}

/// Now as kube prints it (RFC 3339, seconds, `Z`).
pub(crate) fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A string field of `metadata`.
pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// A non-negative integer at a JSON pointer, clamped to `u32`.
pub(crate) fn u32_at(obj: &Value, pointer: &str) -> Option<u32> {
    let v = obj.pointer(pointer)?;
    let n = v
        .as_i64()
        .or_else(|| v.as_u64().map(|u| u.min(i64::MAX as u64) as i64))?;
    Some(n.clamp(0, i64::from(u32::MAX)) as u32)
}

/// `metadata.generation` (0 when absent).
pub(crate) fn generation(obj: &Value) -> i64 {
    obj.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0)
}

/// `spec.replicas`, defaulting to 1 as the API server does.
pub(crate) fn spec_replicas(obj: &Value) -> u32 {
    u32_at(obj, "/spec/replicas").unwrap_or(1)
}

/// Inserts `key: n` unless `n` is 0 (the `omitempty` integers of kube's status types).
pub(crate) fn put_nonzero(m: &mut Map<String, Value>, key: &str, n: u32) {
    if n != 0 {
        m.insert(key.into(), json!(n));
    }
}

/// `old` with its `status` replaced by `status`, or None when that changes nothing (or
/// `old` is not an object): the body of a status-only [`ObjectStore::modify`](apiserver::local::ObjectStore::modify).
pub(crate) fn with_status(old: &Value, status: Value) -> Option<Value> {
    if old.get("status") == Some(&status) {
        return None;
    }
    let mut new = old.clone();
    new.as_object_mut()?.insert("status".into(), status);
    Some(new)
}

/// A condition to set: type, status, reason, message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cond<'a> {
    /// `type`.
    pub ty: &'a str,
    /// `status`: `True`, `False` or `Unknown`.
    pub status: &'a str,
    /// `reason`.
    pub reason: &'a str,
    /// `message`.
    pub message: &'a str,
}

impl<'a> Cond<'a> {
    /// A condition of type `ty`.
    pub(crate) const fn new(ty: &'a str, status: &'a str, reason: &'a str, message: &'a str) -> Self {
        Self {
            ty,
            status,
            reason,
            message,
        }
    }
}

/// The time fields a kind's conditions carry besides `lastTransitionTime`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stamps {
    /// Deployments: `lastUpdateTime`.
    Update,
    /// Jobs: `lastProbeTime`.
    Probe,
    /// Nodes: `lastHeartbeatTime`.
    Heartbeat,
}

impl Stamps {
    fn field(self) -> &'static str {
        match self {
            Stamps::Update => "lastUpdateTime",
            Stamps::Probe => "lastProbeTime",
            Stamps::Heartbeat => "lastHeartbeatTime",
        }
    }
}

/// The condition of type `ty` in a `conditions` array.
pub(crate) fn find_condition<'a>(conditions: Option<&'a Value>, ty: &str) -> Option<&'a Value> {
    conditions?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
}

/// Builds a condition, keeping the previous one unchanged when nothing but time would differ
/// and keeping its `lastTransitionTime` while the status stays the same.
pub(crate) fn condition(prev: Option<&Value>, c: Cond<'_>, stamps: Stamps, now: &str) -> Value {
    let field = |p: &Value, f: &str| p.get(f).and_then(Value::as_str).map(str::to_string);
    if let Some(p) = prev {
        let same = |f: &str, v: &str| p.get(f).and_then(Value::as_str) == Some(v);
        if same("status", c.status) && same("reason", c.reason) && same("message", c.message) {
            return p.clone();
        }
    }
    let transition = prev
        .filter(|p| p.get("status").and_then(Value::as_str) == Some(c.status))
        .and_then(|p| field(p, "lastTransitionTime"))
        .unwrap_or_else(|| now.to_string());
    json!({
        "type": c.ty,
        "status": c.status,
        stamps.field(): now,
        "lastTransitionTime": transition,
        "reason": c.reason,
        "message": c.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_ignores_key_order() {
        let a = json!({"spec": {"template": {"a": 1, "b": {"c": [1, 2]}}}});
        let b = json!({"spec": {"template": {"b": {"c": [1, 2]}, "a": 1}}});
        let c = json!({"spec": {"template": {"a": 2, "b": {"c": [1, 2]}}}});
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_ne!(template_hash(&a), template_hash(&c));
        assert_eq!(template_hash(&a).len(), 10);
    }

    #[test]
    fn condition_keeps_times_when_unchanged() {
        let c = Cond {
            ty: "Available",
            status: "True",
            reason: "R",
            message: "m",
        };
        let first = condition(None, c, Stamps::Update, "t1");
        assert_eq!(condition(Some(&first), c, Stamps::Update, "t2"), first);
        let moved = condition(Some(&first), Cond { message: "n", ..c }, Stamps::Update, "t3");
        assert_eq!(moved["lastTransitionTime"], "t1");
        assert_eq!(moved["lastUpdateTime"], "t3");
        let flipped = condition(Some(&first), Cond { status: "False", ..c }, Stamps::Update, "t4");
        assert_eq!(flipped["lastTransitionTime"], "t4");
    }

    #[test]
    fn u32_at_clamps() {
        let v = json!({"a": -3, "b": 7, "c": "x"});
        assert_eq!(u32_at(&v, "/a"), Some(0));
        assert_eq!(u32_at(&v, "/b"), Some(7));
        assert_eq!(u32_at(&v, "/c"), None);
    }
}
