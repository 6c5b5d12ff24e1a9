//! core/v1 Events about Clusters: one per Ready transition, aggregated (count and
//! lastTimestamp) when the same event repeats within ten minutes.

use super::status::Transition;
use crate::join::CLUSTER_API_VERSION;
use apiserver::local::{Gvr, ObjectStore};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: Gvr<'static> = Gvr::new("", "v1", "events");
/// `source.component` of the events.
pub const COMPONENT: &str = "ubernetes-cluster-controller";
/// Events about cluster-scoped Clusters go to this namespace.
pub const EVENT_NAMESPACE: &str = "default";
/// Repeats of an event within this window increase its count instead of adding one.
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);

/// The type, reason and message of an Event for a Ready transition.
pub fn describe(t: &Transition) -> (&'static str, &'static str, String) {
    if t.to == "True" {
        ("Normal", "ClusterReady", t.message.clone())
    } else {
        ("Warning", "ClusterNotReady", format!("{}: {}", t.reason, t.message))
    }
}

/// A new Event object.
pub fn event_object(name: &str, cluster: &str, uid: &str, kind: (&str, &str, &str), now: &str) -> Value {
    let (type_, reason, message) = kind;
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": EVENT_NAMESPACE},
        "involvedObject": {"apiVersion": CLUSTER_API_VERSION, "kind": "Cluster", "name": cluster, "uid": uid},
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    })
}

/// The Event with its count incremented and `lastTimestamp` set to `now`.
pub fn bump(old: &Value, now: &str) -> Value {
    let mut new = old.clone();
    let count = old.get("count").and_then(Value::as_u64).unwrap_or(1);
    new["count"] = json!(count + 1);
    new["lastTimestamp"] = json!(now);
    new
}

/// (type, reason, message) of an Event.
type EventKey = (String, String, String);

/// Records Events of one Cluster.
pub struct Recorder {
    store: Arc<dyn ObjectStore>,
    /// Recent events by (type, reason, message): object name and when last recorded.
    recent: HashMap<EventKey, (String, Instant)>,
}

impl Recorder {
    /// A recorder writing through `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            recent: HashMap::new(),
        }
    }

    /// Records a Ready transition of `cluster`. Failures are logged, not returned.
    pub async fn transition(&mut self, cluster: &str, uid: &str, t: &Transition, now: &str) {
        let (type_, reason, message) = describe(t);
        let key = (type_.to_string(), reason.to_string(), message.clone());
        self.recent.retain(|_, (_, at)| at.elapsed() < AGGREGATE_WINDOW);
        if let Some((name, _)) = self.recent.get(&key) {
            let name = name.clone();
            let now = now.to_string();
            let f = Box::new(move |old: &Value| Some(bump(old, &now)));
            if self.store.modify(EVENTS, Some(EVENT_NAMESPACE), &name, f).await.is_ok() {
                self.recent.insert(key, (name, Instant::now()));
                return;
            }
        }
        let name = event_name(cluster);
        let obj = event_object(&name, cluster, uid, (type_, reason, &message), now);
        match self.store.create(EVENTS, obj, COMPONENT).await {
            Ok(_) => {
                self.recent.insert(key, (name, Instant::now()));
            }
            Err(e) => tracing::warn!(cluster, error = %e, "recording an event"),
        }
    }
}

fn event_name(cluster: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{cluster}.{nanos:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_describe_transitions() {
        let up = Transition {
            from: None,
            to: "True".into(),
            reason: "ClusterReady".into(),
            message: "ok".into(),
        };
        assert_eq!(describe(&up), ("Normal", "ClusterReady", "ok".to_string()));
        let down = Transition {
            from: Some("True".into()),
            to: "False".into(),
            reason: "InvalidCredentials".into(),
            message: "m".into(),
        };
        assert_eq!(
            describe(&down),
            ("Warning", "ClusterNotReady", "InvalidCredentials: m".to_string())
        );
        let (ty, reason, msg) = describe(&down);
        let e = event_object("m1.1", "m1", "u-1", (ty, reason, &msg), "t");
        assert_eq!(e["involvedObject"]["kind"], "Cluster");
        assert_eq!(e["involvedObject"]["uid"], "u-1");
        assert_eq!(e["source"]["component"], COMPONENT);
        let b = bump(&e, "t2");
        assert_eq!(
            (b["count"].as_u64(), b["lastTimestamp"].as_str()),
            (Some(2), Some("t2"))
        );
        assert_eq!(b["firstTimestamp"], "t");
    }
}
