//! Events expire, as kube-apiserver's `--event-ttl` (default one hour) makes them: an Event
//! is deleted once its last occurrence is older than the TTL, so a long-running federation
//! does not accumulate them without bound.

use crate::local::{Gvr, LocalClient, ObjectStore};
use crate::server::ApiServer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long an Event lives after its last occurrence.
pub const EVENT_TTL: Duration = Duration::from_secs(3600);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const EVENTS: Gvr<'static> = Gvr::new("", "v1", "events");

/// When the event last happened (RFC 3339): the latest of its timestamps.
fn last_seen(ev: &Value) -> Option<jiff::Timestamp> {
    [
        "/lastTimestamp",
        "/eventTime",
        "/series/lastObservedTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| ev.pointer(p).and_then(Value::as_str))
    .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
    .max()
}

/// Whether an Event has outlived `ttl` at `now`. Events without any timestamp never expire
/// here (nothing says how old they are).
pub fn expired(ev: &Value, now: jiff::Timestamp, ttl: Duration) -> bool {
    let Ok(ttl) = jiff::SignedDuration::try_from(ttl) else {
        return false;
    };
    last_seen(ev).is_some_and(|t| now.duration_since(t) > ttl)
}

/// Deletes expired Events every minute, until the process ends.
pub async fn run(server: Arc<ApiServer>) {
    let store = LocalClient::new(server);
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let now = jiff::Timestamp::now();
        for ev in store.list(EVENTS, None) {
            if !expired(&ev, now, EVENT_TTL) {
                continue;
            }
            let ns = ev.pointer("/metadata/namespace").and_then(Value::as_str);
            let name = ev.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            if let Err(e) = store.delete(EVENTS, ns, name).await {
                tracing::debug!(error = %e.message, "could not delete an expired Event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn events_expire_an_hour_after_their_last_occurrence() {
        let ev =
            json!({"metadata": {"creationTimestamp": "2026-11-21T08:00:00Z"}, "lastTimestamp": "2026-11-21T09:30:00Z"});
        assert!(!expired(&ev, at("2026-11-21T10:00:00Z"), EVENT_TTL));
        assert!(expired(&ev, at("2026-11-21T10:31:00Z"), EVENT_TTL));
    }

    #[test]
    fn new_style_events_use_event_time_and_series() {
        let ev = json!({"eventTime": "2026-11-21T09:00:00.000000Z", "series": {"lastObservedTime": "2026-11-21T09:50:00.000000Z"}});
        assert!(!expired(&ev, at("2026-11-21T10:30:00Z"), EVENT_TTL));
        assert!(expired(&ev, at("2026-11-21T10:51:00Z"), EVENT_TTL));
    }

    #[test]
    fn events_without_times_are_kept() {
        assert!(!expired(
            &json!({"lastTimestamp": null}),
            at("2030-01-01T00:00:00Z"),
            EVENT_TTL
        ));
        assert!(!expired(
            &json!({"lastTimestamp": "garbage"}),
            at("2030-01-01T00:00:00Z"),
            EVENT_TTL
        ));
    }
}
