//! Storage with etcd semantics: one global revision, compare-and-swap writes,
//! an event log that a watch can resume from, and compaction.
//!
//! The [`Store`] trait is what the watch cache and handlers depend on; the
//! embedded backend ([`embedded::EmbeddedStore`], redb with group commit) is the
//! default, and an etcd backend can implement the same trait.

pub mod embedded;
pub mod memory;

use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;

/// A global, monotonically increasing revision (used as `resourceVersion`).
pub type Revision = u64;

/// One stored key and its value as of some revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// Full key, e.g. `/registry/apps/deployments/default/web`.
    pub key: String,
    /// Serialized object (JSON), as written.
    pub value: Bytes,
    /// Revision at which the key was created (survives updates).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
}

/// What a committed write did, as seen by watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated; `prev` is the value before (None on create).
    Put,
    /// The key was deleted; `kv.value` is the last value.
    Delete,
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or Delete.
    pub kind: EventKind,
    /// The key after the write (for a delete: the last value, with `mod_revision` = the delete's revision).
    pub kv: KeyValue,
    /// The value before the write, if any.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// Revision of the write that produced this event.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Precondition of a write (compare-and-swap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No precondition.
    None,
    /// The key must not exist (create).
    MustNotExist,
    /// The key must exist, with any revision.
    MustExist,
    /// The key must exist with exactly this mod revision.
    ModRevision(Revision),
}

/// A single write.
#[derive(Clone, Debug)]
pub enum WriteOp {
    /// Put `value` at `key` if `precondition` holds.
    Put {
        /// Key.
        key: String,
        /// New value.
        value: Bytes,
        /// Condition for the write.
        precondition: Precondition,
    },
    /// Delete `key` if `precondition` holds.
    Delete {
        /// Key.
        key: String,
        /// Condition for the delete.
        precondition: Precondition,
    },
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The key exists but must not.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key does not exist.
    #[error("key {0} not found")]
    NotFound(String),
    /// The key's mod revision is not the expected one; carries the current value.
    #[error("key {key} was modified (current revision {current})")]
    Conflict {
        /// The key.
        key: String,
        /// Its current mod revision.
        current: Revision,
    },
    /// The requested revision has been compacted away.
    #[error("required revision {requested} has been compacted (oldest {oldest})")]
    Compacted {
        /// Revision asked for.
        requested: Revision,
        /// Oldest revision still held.
        oldest: Revision,
    },
    /// The backend failed (I/O, corruption, closed).
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// A consistent view of every key under a prefix.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Revision the snapshot is at.
    pub revision: Revision,
    /// Keys sorted ascending.
    pub kvs: Vec<KeyValue>,
}

/// Receives committed events in revision order; the watch cache implements it.
///
/// `apply` is called after the write is durable and *before* the writer is
/// acknowledged, so whatever the sink holds is never older than an
/// acknowledged write.
pub trait EventSink: Send + Sync + 'static {
    /// Take one batch of events (ascending revisions, no gaps beyond the batch).
    fn apply(&self, events: &[Event]);
}

/// A key-value store with etcd semantics.
pub trait Store: Send + Sync + 'static {
    /// Apply one write; returns the event it produced (its revision is the new `resourceVersion`).
    fn write(&self, op: WriteOp) -> BoxFuture<'_, Result<Event, StoreError>>;

    /// Every key under `prefix` at the current revision.
    fn snapshot(&self, prefix: &str) -> BoxFuture<'_, Result<Snapshot, StoreError>>;

    /// Events with revision > `after`, in order, up to the current revision.
    /// `Compacted` if `after` is older than the compaction point.
    fn events_since(&self, after: Revision) -> BoxFuture<'_, Result<Vec<Event>, StoreError>>;

    /// Drop log entries at or below `revision`.
    fn compact(&self, revision: Revision) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Latest committed revision.
    fn current_revision(&self) -> Revision;

    /// Oldest revision from which `events_since` still works.
    fn compacted_revision(&self) -> Revision;

    /// Register the sink that receives every committed batch from now on.
    fn set_sink(&self, sink: Arc<dyn EventSink>);
}
