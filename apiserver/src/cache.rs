//! The watch cache: every object in memory as its serialized JSON, fed by the
//! store's committed events; serves get, list and watch without touching disk.
//!
//! Objects are kept as bytes (plus the few fields that selectors need) rather than
//! as parsed values: a GET or a watch event is then a copy of bytes, and memory per
//! object is about the size of its JSON.

use crate::storage::{Event, EventKind, EventSink, Revision, Snapshot};
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, watch};

/// One object as held by the cache.
#[derive(Debug)]
pub struct CachedObject {
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `resourceVersion` of this state.
    pub rv: Revision,
    /// Serialized JSON with `metadata.resourceVersion` set.
    pub json: Bytes,
    /// `metadata.labels`, kept parsed because selectors read it on every list and event.
    pub labels: Option<Map<String, Value>>,
}

impl CachedObject {
    /// Parses the object (it was valid JSON when cached).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    fn from_store(key_suffix: &str, raw: &[u8], rv: Revision) -> Option<Self> {
        let mut v: Value = serde_json::from_slice(raw).ok()?;
        let meta = v.get_mut("metadata")?.as_object_mut()?;
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        let labels = meta.get("labels").and_then(|l| l.as_object()).cloned();
        let (namespace, name) = match key_suffix.split_once('/') {
            Some((ns, n)) => (ns.to_string(), n.to_string()),
            None => (String::new(), key_suffix.to_string()),
        };
        let json = Bytes::from(serde_json::to_vec(&v).ok()?);
        Some(Self {
            namespace,
            name,
            rv,
            json,
            labels,
        })
    }
}

/// Watch event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// ADDED
    Added,
    /// MODIFIED
    Modified,
    /// DELETED
    Deleted,
}

impl EventType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// One change as seen by watchers.
#[derive(Debug)]
pub struct CacheEvent {
    /// Revision of the change.
    pub rv: Revision,
    /// Resource key prefix (`/registry/apps/deployments/`).
    pub resource: Arc<str>,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for deletes: its last state at the delete's revision).
    pub object: Arc<CachedObject>,
    /// The object before the change.
    pub prev: Option<Arc<CachedObject>>,
    /// Serialized watch lines per event type, built once and shared by all watchers.
    lines: [OnceLock<Bytes>; 3],
}

impl CacheEvent {
    /// The `{"type":..,"object":..}\n` line for this event with the given type (selector
    /// transitions turn a MODIFIED into ADDED or DELETED).
    pub fn line(&self, ty: EventType, object: &CachedObject) -> Bytes {
        let build = || watch_line(ty, &object.json);
        if std::ptr::eq(object, &*self.object) {
            self.lines[ty.index()].get_or_init(build).clone()
        } else {
            build()
        }
    }
}

/// Builds one newline-terminated watch event.
pub fn watch_line(ty: EventType, object_json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object_json.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(ty.as_str().as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object_json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// The requested resourceVersion is older than the cache's window.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too old resource version: {requested} ({current})")]
pub struct TooOld {
    /// Asked for.
    pub requested: Revision,
    /// Current revision (kube-apiserver reports this one).
    pub current: Revision,
}

type Table = BTreeMap<String, Arc<CachedObject>>;

struct State {
    revision: Revision,
    tables: HashMap<Arc<str>, Table>,
    ring: VecDeque<Arc<CacheEvent>>,
    /// Bytes of the object states `ring` holds (bounded by [`RING_MAX_BYTES`]).
    ring_bytes: usize,
    /// Every event with rv > `oldest` is in `ring`.
    oldest: Revision,
}

/// The replay window holds at most this many bytes of past object states, however many
/// events that is: a few objects written often (Cluster heartbeats) must not pin memory.
pub const RING_MAX_BYTES: usize = 64 << 20;

/// What one ring entry costs besides its JSON (the event, keys, the Arc).
const RING_ENTRY_OVERHEAD: usize = 160;

fn ring_cost(ev: &CacheEvent) -> usize {
    // The object, once more for its serialized watch line, and the previous state.
    2 * ev.object.json.len() + ev.prev.as_ref().map_or(0, |p| p.json.len()) + RING_ENTRY_OVERHEAD
}

impl State {
    /// Appends an event to the replay window, dropping the oldest beyond its bounds.
    fn push_ring(&mut self, ev: Arc<CacheEvent>, capacity: usize) {
        self.ring_bytes += ring_cost(&ev);
        self.ring.push_back(ev);
        while self.ring.len() > capacity || (self.ring_bytes > RING_MAX_BYTES && self.ring.len() > 1) {
            let Some(old) = self.ring.pop_front() else { break };
            self.ring_bytes = self.ring_bytes.saturating_sub(ring_cost(&old));
            self.oldest = old.rv;
        }
    }
}

/// Start of a watch: the objects or events to replay, then a live receiver.
pub struct WatchStart {
    /// Replay: current objects (snapshot mode) as ADDED.
    pub initial: Vec<Arc<CachedObject>>,
    /// Replay: buffered events after the requested revision (resume mode).
    pub backlog: Vec<Arc<CacheEvent>>,
    /// Revision the replay brings the watcher to.
    pub revision: Revision,
    /// Live events after `revision`.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
}

/// A page of a list.
pub struct ListPage {
    /// Items in key order.
    pub items: Vec<Arc<CachedObject>>,
    /// Revision the list is consistent at.
    pub revision: Revision,
    /// Key of the last item, if more remain.
    pub continue_after: Option<String>,
    /// How many matching items follow this page.
    pub remaining: usize,
}

/// In-memory cache of every object, serving get/list/watch.
pub struct WatchCache {
    state: RwLock<State>,
    tx: broadcast::Sender<Arc<CacheEvent>>,
    rev: watch::Sender<Revision>,
    capacity: usize,
}

/// Splits `/registry/<group>/<plural>/<rest>` into (`/registry/<group>/<plural>/`, `<rest>`).
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("/registry/")?;
    let g = rest.find('/')?;
    let p = rest[g + 1..].find('/')?;
    let cut = "/registry/".len() + g + 1 + p + 1;
    Some((&key[..cut], &key[cut..]))
}

impl WatchCache {
    /// Builds the cache from a snapshot and the tail of the event log (so watches can
    /// resume across a restart). `capacity` bounds the replay window.
    pub fn new(snapshot: Snapshot, tail: Vec<Event>, capacity: usize) -> Arc<Self> {
        Self::with_buffer(snapshot, tail, capacity, 16 * 1024)
    }

    /// [`WatchCache::new`] with `buffer` events buffered per watcher (the broadcast ring is
    /// allocated up front, so servers hosted by the thousand use small ones).
    pub fn with_buffer(snapshot: Snapshot, tail: Vec<Event>, capacity: usize, buffer: usize) -> Arc<Self> {
        let mut tables: HashMap<Arc<str>, Table> = HashMap::new();
        for kv in &snapshot.kvs {
            let Some((prefix, suffix)) = split_key(&kv.key) else {
                continue;
            };
            if let Some(obj) = CachedObject::from_store(suffix, &kv.value, kv.mod_revision) {
                tables
                    .entry(Arc::from(prefix))
                    .or_default()
                    .insert(suffix.to_string(), Arc::new(obj));
            }
        }
        let (tx, _) = broadcast::channel(buffer.max(16));
        let (rev, _) = watch::channel(snapshot.revision);
        let oldest = tail
            .first()
            .map(|e| e.revision().saturating_sub(1))
            .unwrap_or(snapshot.revision);
        let cache = Arc::new(Self {
            state: RwLock::new(State {
                revision: snapshot.revision,
                tables,
                ring: VecDeque::new(),
                ring_bytes: 0,
                oldest,
            }),
            tx,
            rev,
            capacity: capacity.max(16),
        });
        {
            let mut st = cache.state.write();
            for ev in tail.iter().rev().take(cache.capacity).rev() {
                if let Some(ce) = Self::to_cache_event(ev) {
                    st.push_ring(Arc::new(ce), cache.capacity);
                }
            }
            if let Some(first) = st.ring.front() {
                st.oldest = st.oldest.max(first.rv.saturating_sub(1));
            }
        }
        cache
    }

    fn to_cache_event(ev: &Event) -> Option<CacheEvent> {
        let (prefix, suffix) = split_key(&ev.kv.key)?;
        let object = Arc::new(CachedObject::from_store(suffix, &ev.kv.value, ev.kv.mod_revision)?);
        let prev = ev
            .prev
            .as_ref()
            .and_then(|p| CachedObject::from_store(suffix, &p.value, p.mod_revision))
            .map(Arc::new);
        let kind = match (&ev.kind, &prev) {
            (EventKind::Delete, _) => EventType::Deleted,
            (EventKind::Put, None) => EventType::Added,
            (EventKind::Put, Some(_)) => EventType::Modified,
        };
        Some(CacheEvent {
            rv: ev.revision(),
            resource: Arc::from(prefix),
            kind,
            object,
            prev,
            lines: Default::default(),
        })
    }

    /// Current revision of the cache.
    pub fn revision(&self) -> Revision {
        self.state.read().revision
    }

    /// Waits until the cache has seen `rev` (for backends whose events arrive after the ack).
    pub async fn wait_for(&self, rev: Revision) {
        let mut rx = self.rev.subscribe();
        let _ = rx.wait_for(|r| *r >= rev).await;
    }

    /// One object.
    pub fn get(&self, prefix: &str, suffix: &str) -> Option<Arc<CachedObject>> {
        self.state
            .read()
            .tables
            .get(prefix)
            .and_then(|t| t.get(suffix))
            .cloned()
    }

    /// Number of objects under a resource prefix.
    pub fn count(&self, prefix: &str) -> usize {
        self.state.read().tables.get(prefix).map(|t| t.len()).unwrap_or(0)
    }

    /// Lists objects under `prefix` (optionally one namespace), in key order, starting after
    /// `start_after`, at most `limit` matching ones. `at` asks for the state as of an older
    /// revision (continue tokens): reconstructed by undoing buffered events.
    pub fn list(
        &self,
        prefix: &str,
        namespace: Option<&str>,
        start_after: Option<&str>,
        limit: Option<usize>,
        at: Option<Revision>,
        filter: &dyn Fn(&CachedObject) -> bool,
    ) -> Result<ListPage, TooOld> {
        let st = self.state.read();
        let empty = Table::new();
        let table = st.tables.get(prefix).unwrap_or(&empty);
        let ns_prefix = namespace.map(|n| format!("{n}/"));
        let in_scope = |k: &str| ns_prefix.as_deref().is_none_or(|p| k.starts_with(p));
        let lower = match (start_after, &ns_prefix) {
            (Some(s), _) => std::ops::Bound::Excluded(s.to_string()),
            (None, Some(p)) => std::ops::Bound::Included(p.clone()),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let rewound;
        let (source, revision) = match at {
            Some(r) if r < st.revision => {
                if r < st.oldest {
                    return Err(TooOld {
                        requested: r,
                        current: st.revision,
                    });
                }
                rewound = Self::rewind(table, &st.ring, prefix, r);
                (&rewound, r)
            }
            _ => (table, st.revision),
        };
        let mut items = Vec::new();
        let mut remaining = 0usize;
        let mut last = None;
        for (k, obj) in source.range((lower, std::ops::Bound::Unbounded)) {
            if !in_scope(k) {
                break;
            }
            if !filter(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
                continue;
            }
            last = Some(k.clone());
            items.push(obj.clone());
        }
        let continue_after = if remaining > 0 { last } else { None };
        Ok(ListPage {
            items,
            revision,
            continue_after,
            remaining,
        })
    }

    /// The table as it was at revision `r`, by undoing newer buffered events.
    fn rewind(table: &Table, ring: &VecDeque<Arc<CacheEvent>>, prefix: &str, r: Revision) -> Table {
        let mut t = table.clone();
        for ev in ring.iter().rev().take_while(|e| e.rv > r) {
            if &*ev.resource != prefix {
                continue;
            }
            let key = object_key(&ev.object);
            match (&ev.kind, &ev.prev) {
                (EventType::Added, _) => {
                    t.remove(&key);
                }
                (_, Some(p)) => {
                    t.insert(key, p.clone());
                }
                (_, None) => {}
            }
        }
        t
    }

    /// Starts a watch on `prefix`. `from = None` replays the current objects as ADDED;
    /// `Some(rv)` replays buffered events after `rv`.
    pub fn watch(&self, prefix: &str, from: Option<Revision>) -> Result<WatchStart, TooOld> {
        let st = self.state.read();
        // Subscribing under the read lock while `apply` broadcasts under the write lock
        // makes the replay and the live stream meet exactly, without gaps or repeats.
        let live = self.tx.subscribe();
        match from {
            None => {
                let initial = st
                    .tables
                    .get(prefix)
                    .map(|t| t.values().cloned().collect())
                    .unwrap_or_default();
                Ok(WatchStart {
                    initial,
                    backlog: Vec::new(),
                    revision: st.revision,
                    live,
                })
            }
            Some(rv) => {
                if rv < st.oldest {
                    return Err(TooOld {
                        requested: rv,
                        current: st.revision,
                    });
                }
                let backlog = st
                    .ring
                    .iter()
                    .filter(|e| e.rv > rv && &*e.resource == prefix)
                    .cloned()
                    .collect();
                Ok(WatchStart {
                    initial: Vec::new(),
                    backlog,
                    revision: st.revision.max(rv),
                    live,
                })
            }
        }
    }

    /// Oldest revision a watch can resume from.
    pub fn oldest(&self) -> Revision {
        self.state.read().oldest
    }

    /// Resource prefixes holding at least one object.
    pub fn prefixes(&self) -> Vec<Arc<str>> {
        self.state
            .read()
            .tables
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Subscribes to every live event (controllers use this).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CacheEvent>> {
        self.tx.subscribe()
    }
}

/// Table key of an object: `ns/name` or `name`.
fn object_key(o: &CachedObject) -> String {
    if o.namespace.is_empty() {
        o.name.clone()
    } else {
        format!("{}/{}", o.namespace, o.name)
    }
}

impl EventSink for WatchCache {
    fn apply(&self, events: &[Event]) {
        let converted: Vec<Arc<CacheEvent>> = events.iter().filter_map(Self::to_cache_event).map(Arc::new).collect();
        let mut st = self.state.write();
        for ev in converted {
            let table = st.tables.entry(ev.resource.clone()).or_default();
            let key = object_key(&ev.object);
            match ev.kind {
                EventType::Deleted => {
                    table.remove(&key);
                }
                _ => {
                    table.insert(key, ev.object.clone());
                }
            }
            st.revision = st.revision.max(ev.rv);
            st.push_ring(ev.clone(), self.capacity);
            // No receivers is fine: nobody is watching.
            let _ = self.tx.send(ev);
        }
        if let Some(last) = events.last() {
            st.revision = st.revision.max(last.revision());
        }
        let r = st.revision;
        drop(st);
        self.rev.send_replace(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::KeyValue;

    fn put(key: &str, rev: Revision, prev: Option<Revision>, body: &str) -> Event {
        let kv = |r| KeyValue {
            key: key.into(),
            value: Bytes::from(body.to_string()),
            create_revision: r,
            mod_revision: r,
        };
        Event {
            kind: EventKind::Put,
            kv: kv(rev),
            prev: prev.map(kv),
        }
    }

    fn cm(name: &str, label: &str) -> String {
        format!(
            r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"ns","labels":{{"l":"{label}"}}}}}}"#
        )
    }

    const P: &str = "/registry/core/configmaps/";

    #[test]
    fn split_key_separates_resource_prefix() {
        assert_eq!(split_key("/registry/core/configmaps/ns/a"), Some((P, "ns/a")));
        assert_eq!(
            split_key("/registry/core/namespaces/default"),
            Some(("/registry/core/namespaces/", "default"))
        );
        assert_eq!(split_key("/nope"), None);
    }

    #[test]
    fn apply_sets_resource_version_and_serves_list() {
        let c = WatchCache::new(Snapshot::default(), vec![], 100);
        c.apply(&[
            put(&format!("{P}ns/a"), 1, None, &cm("a", "x")),
            put(&format!("{P}ns/b"), 2, None, &cm("b", "y")),
        ]);
        let a = c.get(P, "ns/a").expect("a cached");
        assert_eq!(a.value()["metadata"]["resourceVersion"], "1");
        let page = c.list(P, Some("ns"), None, Some(1), None, &|_| true).expect("list");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.remaining, 1);
        assert_eq!(page.continue_after.as_deref(), Some("ns/a"));
        assert_eq!(page.revision, 2);
    }

    #[test]
    fn list_at_old_revision_rewinds_buffered_events() {
        let c = WatchCache::new(Snapshot::default(), vec![], 100);
        c.apply(&[put(&format!("{P}ns/a"), 1, None, &cm("a", "x"))]);
        c.apply(&[put(&format!("{P}ns/b"), 2, None, &cm("b", "x"))]);
        c.apply(&[put(&format!("{P}ns/a"), 3, Some(1), &cm("a", "changed"))]);
        let page = c.list(P, None, None, None, Some(1), &|_| true).expect("list at 1");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].rv, 1);
    }

    #[test]
    fn watch_resume_replays_and_rejects_too_old() {
        let c = WatchCache::new(Snapshot::default(), vec![], 16);
        for i in 1..=40u64 {
            c.apply(&[put(&format!("{P}ns/o{i}"), i, None, &cm(&format!("o{i}"), "x"))]);
        }
        let w = c.watch(P, Some(35)).expect("recent rv");
        assert_eq!(
            w.backlog.iter().map(|e| e.rv).collect::<Vec<_>>(),
            vec![36, 37, 38, 39, 40]
        );
        let err = c.watch(P, Some(2)).err().expect("too old");
        assert_eq!(err.to_string(), "too old resource version: 2 (40)");
    }

    #[test]
    fn the_replay_window_is_bounded_by_bytes() {
        let c = WatchCache::new(Snapshot::default(), vec![], 100_000);
        let big = "x".repeat(1 << 20);
        // One object rewritten 40 times: ~120 MiB (states, prev states, watch lines) by count.
        for i in 1..=40u64 {
            let prev = (i > 1).then(|| i - 1);
            c.apply(&[put(&format!("{P}ns/a"), i, prev, &cm("a", &big))]);
        }
        let st = c.state.read();
        assert!(st.ring_bytes <= RING_MAX_BYTES, "{} bytes kept", st.ring_bytes);
        assert!(st.ring.len() < 40 && !st.ring.is_empty());
        drop(st);
        assert!(c.watch(P, Some(35)).is_ok(), "recent revisions still resume");
        assert!(c.watch(P, Some(2)).is_err(), "old ones are gone");
    }

    #[test]
    fn watch_line_is_one_json_line() {
        let l = watch_line(EventType::Added, br#"{"a":1}"#);
        assert_eq!(&l[..], b"{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n");
    }
}
