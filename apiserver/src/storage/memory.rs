//! An in-memory backend with the same etcd semantics as the embedded one, for servers
//! that need no durability (virtual member clusters hosted by the thousand, tests).

use super::{Event, EventKind, EventSink, KeyValue, Precondition, Revision, Snapshot, Store, StoreError, WriteOp};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
struct State {
    kv: BTreeMap<String, KeyValue>,
    log: VecDeque<Event>,
    compacted: Revision,
    sink: Option<Arc<dyn EventSink>>,
}

/// A non-durable [`Store`]: writes apply under one lock, in revision order.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    revision: AtomicU64,
    /// Log entries kept for `events_since` (older ones are compacted away).
    log_limit: usize,
}

impl MemoryStore {
    /// An empty store keeping the last `log_limit` events.
    pub fn new(log_limit: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            revision: AtomicU64::new(0),
            log_limit: log_limit.max(1),
        })
    }

    fn apply(&self, op: WriteOp) -> Result<Event, StoreError> {
        let mut st = self.state.lock();
        let key = match &op {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key.clone(),
        };
        let current = st.kv.get(&key).cloned();
        let precondition = match &op {
            WriteOp::Put { precondition, .. } | WriteOp::Delete { precondition, .. } => *precondition,
        };
        match (precondition, &current) {
            (Precondition::MustNotExist, Some(_)) => return Err(StoreError::AlreadyExists(key)),
            (Precondition::MustExist | Precondition::ModRevision(_), None) => return Err(StoreError::NotFound(key)),
            (Precondition::ModRevision(r), Some(c)) if c.mod_revision != r => {
                return Err(StoreError::Conflict {
                    key,
                    current: c.mod_revision,
                });
            }
            _ => {}
        }
        let rev = self.revision.load(Ordering::SeqCst) + 1;
        let event = match op {
            WriteOp::Put { key, value, .. } => {
                let create_revision = current.as_ref().map(|c| c.create_revision).unwrap_or(rev);
                let kv = KeyValue {
                    key: key.clone(),
                    value,
                    create_revision,
                    mod_revision: rev,
                };
                st.kv.insert(key, kv.clone());
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev: current,
                }
            }
            WriteOp::Delete { key, .. } => {
                let Some(prev) = current else {
                    return Err(StoreError::NotFound(key));
                };
                st.kv.remove(&key);
                let kv = KeyValue {
                    mod_revision: rev,
                    ..prev.clone()
                };
                Event {
                    kind: EventKind::Delete,
                    kv,
                    prev: Some(prev),
                }
            }
        };
        self.revision.store(rev, Ordering::SeqCst);
        st.log.push_back(event.clone());
        while st.log.len() > self.log_limit {
            if let Some(old) = st.log.pop_front() {
                st.compacted = old.revision();
            }
        }
        // The sink sees the event before the writer is answered, as with the embedded store.
        if let Some(sink) = st.sink.clone() {
            sink.apply(std::slice::from_ref(&event));
        }
        Ok(event)
    }
}

impl Store for MemoryStore {
    fn write(&self, op: WriteOp) -> BoxFuture<'_, Result<Event, StoreError>> {
        let r = self.apply(op);
        Box::pin(async move { r })
    }

    fn snapshot(&self, prefix: &str) -> BoxFuture<'_, Result<Snapshot, StoreError>> {
        let st = self.state.lock();
        let kvs = st
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        let snap = Snapshot {
            revision: self.revision.load(Ordering::SeqCst),
            kvs,
        };
        Box::pin(async move { Ok(snap) })
    }

    fn events_since(&self, after: Revision) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        let st = self.state.lock();
        let r = if after < st.compacted {
            Err(StoreError::Compacted {
                requested: after,
                oldest: st.compacted,
            })
        } else {
            Ok(st.log.iter().filter(|e| e.revision() > after).cloned().collect())
        };
        Box::pin(async move { r })
    }

    fn compact(&self, revision: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut st = self.state.lock();
        let target = revision.min(self.revision.load(Ordering::SeqCst));
        while st.log.front().is_some_and(|e| e.revision() <= target) {
            st.log.pop_front();
        }
        st.compacted = st.compacted.max(target);
        Box::pin(async { Ok(()) })
    }

    fn current_revision(&self) -> Revision {
        self.revision.load(Ordering::SeqCst)
    }

    fn compacted_revision(&self) -> Revision {
        self.state.lock().compacted
    }

    fn set_sink(&self, sink: Arc<dyn EventSink>) {
        self.state.lock().sink = Some(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn put(key: &str, p: Precondition) -> WriteOp {
        WriteOp::Put {
            key: key.into(),
            value: Bytes::from_static(b"{}"),
            precondition: p,
        }
    }

    #[tokio::test]
    async fn etcd_semantics() {
        let s = MemoryStore::new(2);
        let a = s.write(put("/a", Precondition::MustNotExist)).await.expect("create");
        assert_eq!(a.revision(), 1);
        assert_eq!(
            s.write(put("/a", Precondition::MustNotExist)).await.err(),
            Some(StoreError::AlreadyExists("/a".into()))
        );
        assert!(matches!(
            s.write(put("/a", Precondition::ModRevision(7))).await,
            Err(StoreError::Conflict { .. })
        ));
        let b = s.write(put("/a", Precondition::ModRevision(1))).await.expect("update");
        assert_eq!((b.kv.create_revision, b.kv.mod_revision), (1, 2));
        let d = s
            .write(WriteOp::Delete {
                key: "/a".into(),
                precondition: Precondition::None,
            })
            .await
            .expect("delete");
        assert_eq!(d.kind, EventKind::Delete);
        assert!(matches!(s.events_since(0).await, Err(StoreError::Compacted { .. })));
        assert_eq!(s.events_since(1).await.expect("recent").len(), 2);
        assert!(s.snapshot("/").await.expect("snap").kvs.is_empty());
    }
}
