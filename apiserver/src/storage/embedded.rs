//! The embedded, durable backend: one [redb] file and a single writer thread
//! that group-commits.
//!
//! ## Layout
//!
//! Three tables live in the one file:
//!
//! - `kv`: key → `(create_revision, mod_revision, value)`, the current state.
//! - `log`: revision → encoded [`Event`], which `events_since` replays and
//!   `compact` trims.
//! - `meta`: `current_revision` and `compacted_revision`. They are written in
//!   the same transaction as the `kv`/`log` changes they describe, so after a
//!   crash the counters can never disagree with the data. That is also why the
//!   revision survives restarts.
//!
//! ## Group commit
//!
//! Every write and compaction goes through a channel to one writer thread.
//! It takes everything queued at that moment, applies it all in one redb write
//! transaction and commits once, so many writers share one fsync. Inside a
//! batch each op is checked against the state left by the ops before it, and
//! a failed precondition fails only that op. Only after the commit is durable
//! (redb's [`Durability::Immediate`] fsyncs before `commit` returns) does the
//! writer hand the batch's events to the [`EventSink`] and then answer the
//! waiting callers. So a caller never sees an acknowledged write that a
//! `kill -9` could take back, and the sink is never behind what a caller was
//! told.
//!
//! Reads (`snapshot`, `events_since`) use redb read transactions. redb is MVCC,
//! so reads see a consistent committed state and never block the writer.
//!
//! ## Log encoding
//!
//! Log entries use a small hand-rolled binary format rather than serde_json.
//! Values are opaque bytes (usually JSON already). JSON would have to wrap them
//! as base64 or as number arrays, which means 1.3–4× the size plus a parse on
//! every watch resume, and it would need serde derives on the storage types.
//! The format starts with a version byte so it can change later. Every length
//! is checked when decoding, so a corrupt entry becomes
//! [`StoreError::Backend`] instead of a panic. See `encode_event` for the
//! exact layout.

use super::{Event, EventKind, EventSink, KeyValue, Precondition, Revision, Snapshot, Store, StoreError, WriteOp};
use bytes::Bytes;
use futures::future::BoxFuture;
use parking_lot::RwLock;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition};
use std::fmt;
use std::ops::Bound;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Current state: key → (create_revision, mod_revision, value).
const KV: TableDefinition<&str, (u64, u64, &[u8])> = TableDefinition::new("kv");
/// Event log: revision → [`encode_event`] bytes.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
/// Persisted counters.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_CURRENT: &str = "current_revision";
const META_COMPACTED: &str = "compacted_revision";

/// Upper bound on ops in one transaction. Without it, a sustained flood would
/// keep one batch (and the latency of its first writer) growing without limit.
const MAX_BATCH: usize = 4096;
/// redb page cache.
const CACHE_BYTES: usize = 32 << 20;

/// Largest value accepted. redb caps a stored value near 3 GiB, and a log
/// entry can hold a value twice (new and prev), so this keeps a single
/// oversized put from failing the whole batch deep inside redb.
const MAX_VALUE_LEN: usize = 1 << 30;

type KvTable<'t> = Table<'t, &'static str, (u64, u64, &'static [u8])>;
type LogTable<'t> = Table<'t, u64, &'static [u8]>;

/// Maps any redb error to [`StoreError::Backend`]. I/O errors must never panic.
fn backend<E: Into<redb::Error>>(err: E) -> StoreError {
    StoreError::Backend(err.into().to_string())
}

fn writer_gone() -> StoreError {
    StoreError::Backend("store writer has stopped".to_owned())
}

/// What the writer thread and the read paths share.
struct Shared {
    db: Database,
    /// Latest committed revision. Only the writer thread stores it, after each
    /// commit.
    current: AtomicU64,
    /// Latest compaction point. Only the writer thread stores it, after each
    /// commit.
    compacted: AtomicU64,
    /// Number of redb write transactions committed since open. It shows that
    /// group commit actually groups, and can feed metrics.
    commits: AtomicU64,
    sink: RwLock<Option<Arc<dyn EventSink>>>,
}

/// A request to the writer thread.
enum Request {
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<Event, StoreError>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Sent by `Drop`: finish the batch at hand, then exit so the file closes.
    Shutdown,
}

/// A request's payload, kept apart from its reply channel so a batch can
/// consume the ops and still answer everyone if the commit fails.
enum Op {
    Write(WriteOp),
    Compact(Revision),
}

enum Reply {
    Write(oneshot::Sender<Result<Event, StoreError>>),
    Compact(oneshot::Sender<Result<(), StoreError>>),
}

/// Per-op result inside a batch. A successful write holds an index into
/// [`Applied::events`], so the events can go to the sink as one slice without
/// cloning.
enum Outcome {
    Write(Result<usize, StoreError>),
    Compact,
}

/// A batch that was applied to a write transaction.
struct Applied {
    outcomes: Vec<Outcome>,
    events: Vec<Event>,
    revision: Revision,
    compacted: Revision,
}

/// A [`Store`] backed by one redb file, with group commit.
///
/// Created by [`EmbeddedStore::open`]. Dropping the last `Arc` stops the writer
/// thread once the batch in hand is finished, then closes the file, so the
/// same path can be reopened right away.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    requests: mpsc::Sender<Request>,
    writer: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .field("current_revision", &self.current_revision())
            .field("compacted_revision", &self.compacted_revision())
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens the store at `path`, creating the file (and its parent
    /// directories) if absent, and starts the writer thread.
    ///
    /// If the previous process was killed, redb recovers the last committed
    /// state here. On a large file this can take a while, which is why it is
    /// a blocking call.
    pub fn open(path: &Path) -> Result<Arc<Self>, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Backend(format!("creating {}: {e}", parent.display())))?;
        }
        // Every read is served from the watch cache, so redb's own page cache only speeds up
        // writes and startup: keep it small instead of its 1 GiB default.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(backend)?;
        let (current, compacted) = init_tables(&db)?;
        let shared = Arc::new(Shared {
            db,
            current: AtomicU64::new(current),
            compacted: AtomicU64::new(compacted),
            commits: AtomicU64::new(0),
            sink: RwLock::new(None),
        });
        let (requests, queue) = mpsc::channel();
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || writer_loop(&writer_shared, &queue))
            .map_err(|e| StoreError::Backend(format!("spawning store writer: {e}")))?;
        tracing::debug!(path = %path.display(), current, compacted, "embedded store opened");
        Ok(Arc::new(Self {
            shared,
            requests,
            writer: Some(writer),
            path: path.to_owned(),
        }))
    }

    /// Number of redb write transactions (so fsyncs) committed since
    /// [`open`](Self::open).
    ///
    /// It is lower than the number of writes when group commit batches them,
    /// and batches where every op failed its precondition commit nothing.
    /// Meant for metrics and tests.
    pub fn commit_count(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Join the writer so the redb file lock is released when this
        // returns, which lets a restart in the same process reopen the path.
        // Nothing else can be queued now: `drop` has `&mut self`.
        let _ = self.requests.send(Request::Shutdown);
        if let Some(writer) = self.writer.take()
            // A sink holding the last reference could run this drop on the
            // writer thread itself; joining there would deadlock.
            && writer.thread().id() != std::thread::current().id()
            && writer.join().is_err()
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

/// Creates the tables if missing and reads the persisted counters.
fn init_tables(db: &Database) -> Result<(Revision, Revision), StoreError> {
    let txn = db.begin_write().map_err(backend)?;
    let counters = {
        txn.open_table(KV).map_err(backend)?;
        txn.open_table(LOG).map_err(backend)?;
        let meta = txn.open_table(META).map_err(backend)?;
        let current = meta.get(META_CURRENT).map_err(backend)?.map_or(0, |g| g.value());
        let compacted = meta.get(META_COMPACTED).map_err(backend)?.map_or(0, |g| g.value());
        (current, compacted)
    };
    txn.commit().map_err(backend)?;
    Ok(counters)
}

/// The writer thread: take everything queued, apply it as one batch, repeat.
///
/// No timer is involved. While one batch is fsyncing, new requests pile up in
/// the channel and become the next batch. An idle store commits each write
/// alone, with no added latency, and a busy one batches as much as the disk
/// makes it wait.
fn writer_loop(shared: &Shared, queue: &mpsc::Receiver<Request>) {
    loop {
        // All senders gone (cannot normally happen, since Drop sends Shutdown first).
        let Ok(first) = queue.recv() else { return };
        let mut ops = Vec::new();
        let mut replies = Vec::new();
        let mut shutdown = false;
        let mut next = Some(first);
        while let Some(request) = next {
            match request {
                Request::Write { op, reply } => {
                    ops.push(Op::Write(op));
                    replies.push(Reply::Write(reply));
                }
                Request::Compact { revision, reply } => {
                    ops.push(Op::Compact(revision));
                    replies.push(Reply::Compact(reply));
                }
                Request::Shutdown => {
                    shutdown = true;
                    break;
                }
            }
            if ops.len() >= MAX_BATCH {
                break;
            }
            next = queue.try_recv().ok();
        }
        if !ops.is_empty() {
            commit_batch(shared, ops, replies);
        }
        if shutdown {
            return;
        }
    }
}

/// Applies and commits one batch, then delivers events to the sink, and only
/// then answers the callers.
fn commit_batch(shared: &Shared, ops: Vec<Op>, replies: Vec<Reply>) {
    let start = shared.current.load(Ordering::Acquire);
    let start_compacted = shared.compacted.load(Ordering::Acquire);
    let applied = match apply_batch(shared, ops, start, start_compacted) {
        Ok(applied) => applied,
        Err(err) => {
            // The transaction was dropped uncommitted, so nothing of the batch
            // happened and the in-memory counters stay as they were.
            tracing::error!(error = %err, "store batch failed");
            for reply in replies {
                match reply {
                    Reply::Write(tx) => {
                        let _ = tx.send(Err(err.clone()));
                    }
                    Reply::Compact(tx) => {
                        let _ = tx.send(Err(err.clone()));
                    }
                }
            }
            return;
        }
    };

    shared.compacted.store(applied.compacted, Ordering::Release);
    shared.current.store(applied.revision, Ordering::Release);

    if !applied.events.is_empty() {
        // Read the sink after the commit: a snapshot taken after `set_sink`
        // returned sees revision R, and every batch above R commits later, so
        // it reaches the new sink.
        let sink = shared.sink.read().clone();
        if let Some(sink) = sink {
            // If a bad sink panicked here, it would kill the writer thread and
            // with it every future write. The data is already durable, so log
            // the panic and keep serving.
            let delivered = std::panic::catch_unwind(AssertUnwindSafe(|| sink.apply(&applied.events)));
            if delivered.is_err() {
                tracing::error!(
                    first = applied.events.first().map(Event::revision),
                    last = applied.events.last().map(Event::revision),
                    "event sink panicked; continuing"
                );
            }
        }
    }

    let mut events: Vec<Option<Event>> = applied.events.into_iter().map(Some).collect();
    for (reply, outcome) in replies.into_iter().zip(applied.outcomes) {
        match (reply, outcome) {
            (Reply::Write(tx), Outcome::Write(result)) => {
                let result = result.and_then(|i| events.get_mut(i).and_then(Option::take).ok_or_else(writer_gone));
                let _ = tx.send(result);
            }
            (Reply::Compact(tx), Outcome::Compact) => {
                let _ = tx.send(Ok(()));
            }
            // Cannot happen: outcomes are pushed one per op, in op order.
            (Reply::Write(tx), Outcome::Compact) => {
                let _ = tx.send(Err(writer_gone()));
            }
            (Reply::Compact(tx), Outcome::Write(_)) => {
                let _ = tx.send(Err(writer_gone()));
            }
        }
    }
}

/// Runs a batch inside one write transaction and commits it (one fsync).
///
/// An `Err` means the transaction failed as a whole (I/O, corruption), and
/// none of it was committed. Precondition failures are per-op results inside
/// [`Applied::outcomes`].
fn apply_batch(
    shared: &Shared,
    ops: Vec<Op>,
    start: Revision,
    start_compacted: Revision,
) -> Result<Applied, StoreError> {
    let mut txn = shared.db.begin_write().map_err(backend)?;
    // This is redb's default, set explicitly because acknowledged writes
    // surviving `kill -9` depends on it.
    txn.set_durability(Durability::Immediate).map_err(backend)?;
    let mut applied = Applied {
        outcomes: Vec::with_capacity(ops.len()),
        events: Vec::with_capacity(ops.len()),
        revision: start,
        compacted: start_compacted,
    };
    {
        let mut kv = txn.open_table(KV).map_err(backend)?;
        let mut log = txn.open_table(LOG).map_err(backend)?;
        for op in ops {
            match op {
                Op::Write(write) => {
                    let rev = applied
                        .revision
                        .checked_add(1)
                        .ok_or_else(|| StoreError::Backend("revision counter exhausted".to_owned()))?;
                    match apply_write(&mut kv, &mut log, rev, write)? {
                        Ok(event) => {
                            applied.revision = rev;
                            applied.outcomes.push(Outcome::Write(Ok(applied.events.len())));
                            applied.events.push(event);
                        }
                        Err(err) => applied.outcomes.push(Outcome::Write(Err(err))),
                    }
                }
                Op::Compact(target) => {
                    // Compacting past the head means "everything so far". If
                    // we recorded a future revision instead, later events would
                    // look compacted before anyone could read them.
                    let target = target.min(applied.revision);
                    if target > applied.compacted {
                        log.retain_in(..=target, |_, _| false).map_err(backend)?;
                        applied.compacted = target;
                    }
                    applied.outcomes.push(Outcome::Compact);
                }
            }
        }
        if applied.revision != start || applied.compacted != start_compacted {
            let mut meta = txn.open_table(META).map_err(backend)?;
            meta.insert(META_CURRENT, applied.revision).map_err(backend)?;
            meta.insert(META_COMPACTED, applied.compacted).map_err(backend)?;
        }
    }
    if applied.revision == start && applied.compacted == start_compacted {
        // Every op failed its precondition (or was a no-op compaction):
        // nothing needs making durable, so skip the fsync.
        txn.abort().map_err(backend)?;
    } else {
        txn.commit().map_err(backend)?;
        shared.commits.fetch_add(1, Ordering::Relaxed);
    }
    Ok(applied)
}

/// Applies one write at `rev` against the transaction's current state.
///
/// Outer `Err`: the transaction is broken and the whole batch must fail.
/// Inner `Err`: only this op failed (precondition, not found), and nothing was
/// written for it.
fn apply_write(
    kv: &mut KvTable<'_>,
    log: &mut LogTable<'_>,
    rev: Revision,
    op: WriteOp,
) -> Result<Result<Event, StoreError>, StoreError> {
    let (key, value, precondition) = match op {
        WriteOp::Put {
            key,
            value,
            precondition,
        } => (key, Some(value), precondition),
        WriteOp::Delete { key, precondition } => (key, None, precondition),
    };
    let prev = read_kv(kv, &key)?;
    if let Err(err) = check_precondition(precondition, &key, prev.as_ref()) {
        return Ok(Err(err));
    }
    let event = match value {
        Some(value) => {
            if value.len() > MAX_VALUE_LEN {
                return Ok(Err(StoreError::Backend(format!(
                    "value for {key} is {} bytes, over the {MAX_VALUE_LEN}-byte limit",
                    value.len()
                ))));
            }
            let create_revision = prev.as_ref().map_or(rev, |p| p.create_revision);
            kv.insert(key.as_str(), (create_revision, rev, value.as_ref()))
                .map_err(backend)?;
            Event {
                kind: EventKind::Put,
                kv: KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: rev,
                },
                prev,
            }
        }
        None => {
            // A delete has nothing to delete, and no event to report, without a
            // current value, whatever the precondition.
            let Some(prev) = prev else {
                return Ok(Err(StoreError::NotFound(key)));
            };
            kv.remove(key.as_str()).map_err(backend)?;
            Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key,
                    value: prev.value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: rev,
                },
                prev: Some(prev),
            }
        }
    };
    log.insert(rev, encode_event(&event).as_slice()).map_err(backend)?;
    Ok(Ok(event))
}

/// Reads `key` from the write transaction, which includes earlier ops of the
/// same batch.
fn read_kv(kv: &KvTable<'_>, key: &str) -> Result<Option<KeyValue>, StoreError> {
    Ok(kv.get(key).map_err(backend)?.map(|guard| {
        let (create_revision, mod_revision, value) = guard.value();
        KeyValue {
            key: key.to_owned(),
            value: Bytes::copy_from_slice(value),
            create_revision,
            mod_revision,
        }
    }))
}

fn check_precondition(precondition: Precondition, key: &str, current: Option<&KeyValue>) -> Result<(), StoreError> {
    match (precondition, current) {
        (Precondition::None, _) => Ok(()),
        (Precondition::MustNotExist, Some(_)) => Err(StoreError::AlreadyExists(key.to_owned())),
        (Precondition::MustNotExist, None) => Ok(()),
        (Precondition::MustExist | Precondition::ModRevision(_), None) => Err(StoreError::NotFound(key.to_owned())),
        (Precondition::MustExist, Some(_)) => Ok(()),
        (Precondition::ModRevision(expected), Some(kv)) if kv.mod_revision == expected => Ok(()),
        (Precondition::ModRevision(_), Some(kv)) => Err(StoreError::Conflict {
            key: key.to_owned(),
            current: kv.mod_revision,
        }),
    }
}

/// Runs a blocking read on tokio's blocking pool when inside a runtime, so a
/// large scan does not stall an async worker. Outside a runtime it runs inline
/// rather than panicking.
async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| StoreError::Backend(format!("store read task failed: {e}")))?,
        Err(_) => f(),
    }
}

fn read_snapshot(db: &Database, prefix: &str) -> Result<Snapshot, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    // Read the revision in the same transaction as the keys, so the two agree.
    // The in-memory counter could already be one batch ahead.
    let meta = txn.open_table(META).map_err(backend)?;
    let revision = meta.get(META_CURRENT).map_err(backend)?.map_or(0, |g| g.value());
    let kv = txn.open_table(KV).map_err(backend)?;
    let mut kvs = Vec::new();
    for entry in kv.range(prefix..).map_err(backend)? {
        let (key, value) = entry.map_err(backend)?;
        let key = key.value();
        // Keys are sorted, so the first one without the prefix ends the run.
        if !key.starts_with(prefix) {
            break;
        }
        let (create_revision, mod_revision, value) = value.value();
        kvs.push(KeyValue {
            key: key.to_owned(),
            value: Bytes::copy_from_slice(value),
            create_revision,
            mod_revision,
        });
    }
    Ok(Snapshot { revision, kvs })
}

fn read_events_since(db: &Database, after: Revision) -> Result<Vec<Event>, StoreError> {
    let txn = db.begin_read().map_err(backend)?;
    // Take the compaction point from the same transaction as the log, so a
    // compaction that commits concurrently cannot make us return a gap.
    let meta = txn.open_table(META).map_err(backend)?;
    let compacted = meta.get(META_COMPACTED).map_err(backend)?.map_or(0, |g| g.value());
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            oldest: compacted,
        });
    }
    let log = txn.open_table(LOG).map_err(backend)?;
    let mut events = Vec::new();
    for entry in log.range((Bound::Excluded(after), Bound::Unbounded)).map_err(backend)? {
        let (rev, bytes) = entry.map_err(backend)?;
        events.push(decode_event(rev.value(), bytes.value())?);
    }
    Ok(events)
}

impl Store for EmbeddedStore {
    /// Queues the write right away, when `write` is called rather than when
    /// the future is first polled. So writes issued in sequence reach the
    /// writer in that order. Dropping the future does not cancel the write,
    /// just as with an etcd request that was already sent.
    fn write(&self, op: WriteOp) -> BoxFuture<'_, Result<Event, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .requests
            .send(Request::Write { op, reply })
            .map_err(|_| writer_gone());
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| writer_gone())?
        })
    }

    fn snapshot(&self, prefix: &str) -> BoxFuture<'_, Result<Snapshot, StoreError>> {
        let shared = self.shared.clone();
        let prefix = prefix.to_owned();
        Box::pin(run_blocking(move || read_snapshot(&shared.db, &prefix)))
    }

    fn events_since(&self, after: Revision) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        let shared = self.shared.clone();
        Box::pin(run_blocking(move || read_events_since(&shared.db, after)))
    }

    /// Goes through the writer so it is ordered with the writes around it.
    /// A `revision` past the current one compacts up to the current one.
    fn compact(&self, revision: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .requests
            .send(Request::Compact { revision, reply })
            .map_err(|_| writer_gone());
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| writer_gone())?
        })
    }

    fn current_revision(&self) -> Revision {
        self.shared.current.load(Ordering::Acquire)
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.compacted.load(Ordering::Acquire)
    }

    fn set_sink(&self, sink: Arc<dyn EventSink>) {
        *self.shared.sink.write() = Some(sink);
    }
}

// ---------------------------------------------------------------------------
// Log entry encoding
// ---------------------------------------------------------------------------

const LOG_FORMAT_V1: u8 = 1;
const KIND_PUT: u8 = 0;
const KIND_DELETE: u8 = 1;
const KIND_MASK: u8 = 0x0f;
/// `prev` is present.
const FLAG_PREV: u8 = 0x80;
/// `kv.value` is not stored because it equals `prev.value`. This always holds
/// for a delete, which would otherwise store the last value twice.
const FLAG_VALUE_IS_PREV: u8 = 0x40;

/// Encodes an event for the `log` table.
///
/// Layout (varint = unsigned LEB128, bytes = varint length + raw bytes):
///
/// ```text
/// u8      format version (1)
/// u8      kind (0 put, 1 delete) | 0x80 if prev | 0x40 if kv.value == prev.value
/// varint  kv.create_revision
/// bytes   kv.key (UTF-8)
/// bytes   kv.value                        -- unless 0x40
/// varint  prev.create_revision            -- if 0x80
/// varint  prev.mod_revision               -- if 0x80
/// bytes   prev.value                      -- if 0x80
/// ```
///
/// `kv.mod_revision` is the log key, and `prev.key` is always `kv.key`, so
/// neither is stored.
fn encode_event(event: &Event) -> Vec<u8> {
    let prev_len = event.prev.as_ref().map_or(0, |p| p.value.len() + 20);
    let mut out = Vec::with_capacity(32 + event.kv.key.len() + event.kv.value.len() + prev_len);
    let kind = match event.kind {
        EventKind::Put => KIND_PUT,
        EventKind::Delete => KIND_DELETE,
    };
    let value_is_prev =
        event.prev.as_ref().is_some_and(|p| p.value == event.kv.value) && event.kind == EventKind::Delete;
    let mut flags = kind;
    if event.prev.is_some() {
        flags |= FLAG_PREV;
    }
    if value_is_prev {
        flags |= FLAG_VALUE_IS_PREV;
    }
    out.push(LOG_FORMAT_V1);
    out.push(flags);
    put_varint(&mut out, event.kv.create_revision);
    put_bytes(&mut out, event.kv.key.as_bytes());
    if !value_is_prev {
        put_bytes(&mut out, &event.kv.value);
    }
    if let Some(prev) = &event.prev {
        put_varint(&mut out, prev.create_revision);
        put_varint(&mut out, prev.mod_revision);
        put_bytes(&mut out, &prev.value);
    }
    out
}

/// Decodes a `log` entry stored at `rev`. Corruption becomes a `Backend` error.
fn decode_event(rev: Revision, buf: &[u8]) -> Result<Event, StoreError> {
    decode_event_inner(rev, buf).ok_or_else(|| StoreError::Backend(format!("corrupt log entry at revision {rev}")))
}

fn decode_event_inner(rev: Revision, buf: &[u8]) -> Option<Event> {
    let mut r = Reader { buf };
    if r.byte()? != LOG_FORMAT_V1 {
        return None;
    }
    let flags = r.byte()?;
    let kind = match flags & KIND_MASK {
        KIND_PUT => EventKind::Put,
        KIND_DELETE => EventKind::Delete,
        _ => return None,
    };
    let create_revision = r.varint()?;
    let key = std::str::from_utf8(r.bytes()?).ok()?.to_owned();
    let value = if flags & FLAG_VALUE_IS_PREV == 0 {
        Some(Bytes::copy_from_slice(r.bytes()?))
    } else {
        None
    };
    let prev = if flags & FLAG_PREV != 0 {
        let create_revision = r.varint()?;
        let mod_revision = r.varint()?;
        let value = Bytes::copy_from_slice(r.bytes()?);
        Some(KeyValue {
            key: key.clone(),
            value,
            create_revision,
            mod_revision,
        })
    } else {
        None
    };
    if !r.buf.is_empty() {
        return None;
    }
    // With FLAG_VALUE_IS_PREV but no prev, the entry is corrupt: `?` rejects it.
    let value = match value {
        Some(value) => value,
        None => prev.as_ref()?.value.clone(),
    };
    Some(Event {
        kind,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: rev,
        },
        prev,
    })
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // Truncation is the point: the low 7 bits, plus the continuation bit.
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A bounds-checked cursor. Every read returns `None` at the end of the buffer
/// instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let low = u64::from(b & 0x7f);
            // The 10th byte may carry only the single top bit of a u64.
            if shift == 63 && low > 1 {
                return None;
            }
            n |= low << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::collections::HashSet;
    use std::time::Instant;

    fn put(key: &str, value: &str, precondition: Precondition) -> WriteOp {
        WriteOp::Put {
            key: key.to_owned(),
            value: Bytes::from(value.to_owned()),
            precondition,
        }
    }

    fn del(key: &str, precondition: Precondition) -> WriteOp {
        WriteOp::Delete {
            key: key.to_owned(),
            precondition,
        }
    }

    fn open_temp() -> (tempfile::TempDir, Arc<EmbeddedStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
        (dir, store)
    }

    /// Records every batch it is given.
    #[derive(Default)]
    struct RecordingSink {
        batches: Mutex<Vec<Vec<Event>>>,
    }

    impl EventSink for RecordingSink {
        fn apply(&self, events: &[Event]) {
            self.batches.lock().push(events.to_vec());
        }
    }

    /// Blocks the writer thread inside `apply` until the test lets it go,
    /// so the test can queue up a known set of writes behind it.
    struct GateSink {
        gate: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
        entered: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
        batch_sizes: Mutex<Vec<usize>>,
    }

    impl GateSink {
        fn new() -> (Arc<Self>, std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>) {
            let (open_tx, open_rx) = std::sync::mpsc::channel();
            let (entered_tx, entered_rx) = std::sync::mpsc::channel();
            let sink = Arc::new(Self {
                gate: std::sync::Mutex::new(Some(open_rx)),
                entered: std::sync::Mutex::new(Some(entered_tx)),
                batch_sizes: Mutex::new(Vec::new()),
            });
            (sink, open_tx, entered_rx)
        }
    }

    impl EventSink for GateSink {
        fn apply(&self, events: &[Event]) {
            self.batch_sizes.lock().push(events.len());
            // Only the first batch waits.
            if let Some(entered) = self.entered.lock().unwrap().take() {
                entered.send(()).unwrap();
            }
            if let Some(gate) = self.gate.lock().unwrap().take() {
                gate.recv().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn revisions_are_monotonic_and_persist_create_revision() {
        let (_dir, store) = open_temp();
        assert_eq!(store.current_revision(), 0);
        let a = store.write(put("/r/a", "1", Precondition::None)).await.unwrap();
        let b = store.write(put("/r/b", "1", Precondition::None)).await.unwrap();
        let a2 = store.write(put("/r/a", "2", Precondition::None)).await.unwrap();
        assert_eq!((a.revision(), b.revision(), a2.revision()), (1, 2, 3));
        assert_eq!(a.kind, EventKind::Put);
        assert!(a.prev.is_none());
        assert_eq!(a2.kv.create_revision, 1);
        assert_eq!(a2.kv.mod_revision, 3);
        assert_eq!(a2.prev.as_ref().unwrap().value, Bytes::from("1"));
        assert_eq!(a2.prev.as_ref().unwrap().mod_revision, 1);
        assert_eq!(store.current_revision(), 3);

        let snap = store.snapshot("/r/").await.unwrap();
        assert_eq!(snap.revision, 3);
        let keys: Vec<_> = snap.kvs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["/r/a", "/r/b"]);
        assert_eq!(snap.kvs[0].value, Bytes::from("2"));
        assert_eq!((snap.kvs[0].create_revision, snap.kvs[0].mod_revision), (1, 3));
    }

    #[tokio::test]
    async fn snapshot_filters_by_prefix() {
        let (_dir, store) = open_temp();
        for key in ["/a/1", "/a/2", "/a0", "/b/1", "/a/"] {
            store.write(put(key, "x", Precondition::None)).await.unwrap();
        }
        let snap = store.snapshot("/a/").await.unwrap();
        let keys: Vec<_> = snap.kvs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["/a/", "/a/1", "/a/2"]);
        assert_eq!(snap.revision, 5);
        assert_eq!(store.snapshot("").await.unwrap().kvs.len(), 5);
        assert!(store.snapshot("/zzz").await.unwrap().kvs.is_empty());
    }

    #[tokio::test]
    async fn compare_and_swap_outcomes() {
        let (_dir, store) = open_temp();
        let created = store.write(put("/k", "v1", Precondition::MustNotExist)).await.unwrap();
        assert_eq!(created.revision(), 1);

        assert_eq!(
            store.write(put("/k", "v", Precondition::MustNotExist)).await,
            Err(StoreError::AlreadyExists("/k".into()))
        );
        assert_eq!(
            store.write(put("/missing", "v", Precondition::MustExist)).await,
            Err(StoreError::NotFound("/missing".into()))
        );
        assert_eq!(
            store.write(put("/missing", "v", Precondition::ModRevision(1))).await,
            Err(StoreError::NotFound("/missing".into()))
        );
        assert_eq!(
            store.write(put("/k", "v", Precondition::ModRevision(7))).await,
            Err(StoreError::Conflict {
                key: "/k".into(),
                current: 1
            })
        );
        assert_eq!(
            store.write(del("/k", Precondition::ModRevision(7))).await,
            Err(StoreError::Conflict {
                key: "/k".into(),
                current: 1
            })
        );
        // Failed ops consume no revision and commit nothing.
        assert_eq!(store.current_revision(), 1);
        assert_eq!(store.commit_count(), 1);

        let updated = store
            .write(put("/k", "v2", Precondition::ModRevision(1)))
            .await
            .unwrap();
        assert_eq!(updated.revision(), 2);
        let updated = store.write(put("/k", "v3", Precondition::MustExist)).await.unwrap();
        assert_eq!(updated.revision(), 3);
        assert_eq!(updated.kv.create_revision, 1);
    }

    #[tokio::test]
    async fn delete_produces_event_with_last_value() {
        let (_dir, store) = open_temp();
        store.write(put("/d", "one", Precondition::None)).await.unwrap();
        store.write(put("/d", "two", Precondition::None)).await.unwrap();
        let event = store.write(del("/d", Precondition::ModRevision(2))).await.unwrap();
        assert_eq!(event.kind, EventKind::Delete);
        assert_eq!(event.revision(), 3);
        assert_eq!(event.kv.key, "/d");
        assert_eq!(event.kv.value, Bytes::from("two"));
        assert_eq!(event.kv.create_revision, 1);
        assert_eq!(event.kv.mod_revision, 3);
        let prev = event.prev.clone().unwrap();
        assert_eq!(
            (prev.value, prev.create_revision, prev.mod_revision),
            (Bytes::from("two"), 1, 2)
        );

        assert!(store.snapshot("/d").await.unwrap().kvs.is_empty());
        assert_eq!(
            store.write(del("/d", Precondition::None)).await,
            Err(StoreError::NotFound("/d".into()))
        );
        // The log holds the same event as the write returned.
        let logged = store.events_since(2).await.unwrap();
        assert_eq!(logged, vec![event]);
        // Re-creating starts a new life: a fresh create_revision.
        let again = store
            .write(put("/d", "three", Precondition::MustNotExist))
            .await
            .unwrap();
        assert_eq!((again.kv.create_revision, again.revision()), (4, 4));
        assert!(again.prev.is_none());
    }

    #[tokio::test]
    async fn events_since_and_compaction() {
        let (_dir, store) = open_temp();
        for i in 0..5 {
            store
                .write(put(&format!("/e/{i}"), "v", Precondition::None))
                .await
                .unwrap();
        }
        let all = store.events_since(0).await.unwrap();
        assert_eq!(all.iter().map(Event::revision).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        let tail = store.events_since(2).await.unwrap();
        assert_eq!(tail.iter().map(Event::revision).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(store.events_since(5).await.unwrap().is_empty());
        assert!(store.events_since(99).await.unwrap().is_empty());

        store.compact(3).await.unwrap();
        assert_eq!(store.compacted_revision(), 3);
        assert_eq!(
            store.events_since(2).await,
            Err(StoreError::Compacted {
                requested: 2,
                oldest: 3
            })
        );
        let tail = store.events_since(3).await.unwrap();
        assert_eq!(tail.iter().map(Event::revision).collect::<Vec<_>>(), [4, 5]);
        // Compacting backwards is a no-op; the state is untouched.
        store.compact(1).await.unwrap();
        assert_eq!(store.compacted_revision(), 3);
        // Compacting past the head stops at the head.
        store.compact(1000).await.unwrap();
        assert_eq!(store.compacted_revision(), 5);
        assert!(store.events_since(5).await.unwrap().is_empty());
        let next = store.write(put("/e/x", "v", Precondition::None)).await.unwrap();
        assert_eq!(next.revision(), 6);
        assert_eq!(store.events_since(5).await.unwrap(), vec![next]);
        // Compaction drops the log, never the current data.
        assert_eq!(store.snapshot("/e/").await.unwrap().kvs.len(), 6);
    }

    #[tokio::test]
    async fn reopen_keeps_data_revision_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/store.redb");
        {
            let store = EmbeddedStore::open(&path).unwrap();
            store.write(put("/p/a", "1", Precondition::None)).await.unwrap();
            store.write(put("/p/b", "1", Precondition::None)).await.unwrap();
            store.write(del("/p/a", Precondition::None)).await.unwrap();
            store.write(put("/p/c", "1", Precondition::None)).await.unwrap();
            store.compact(2).await.unwrap();
        }
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(store.current_revision(), 4);
        assert_eq!(store.compacted_revision(), 2);
        let snap = store.snapshot("/p/").await.unwrap();
        assert_eq!(snap.revision, 4);
        let keys: Vec<_> = snap.kvs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["/p/b", "/p/c"]);
        let events = store.events_since(2).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, EventKind::Delete);
        assert_eq!(events[0].kv.value, Bytes::from("1"));
        assert!(matches!(store.events_since(1).await, Err(StoreError::Compacted { .. })));
        let next = store.write(put("/p/d", "1", Precondition::None)).await.unwrap();
        assert_eq!(next.revision(), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_get_distinct_revisions() {
        let (_dir, store) = open_temp();
        let sink = Arc::new(RecordingSink::default());
        store.set_sink(sink.clone());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(put(&format!("/c/{i}"), "v", Precondition::MustNotExist))
                        .await
                        .unwrap()
                        .revision()
                })
            })
            .collect();
        let mut revs = Vec::new();
        for task in tasks {
            revs.push(task.await.unwrap());
        }
        revs.sort_unstable();
        assert_eq!(revs, (1..=200).collect::<Vec<_>>());
        assert_eq!(store.current_revision(), 200);
        assert!(store.commit_count() <= 200);
        // The sink saw every event exactly once, in revision order.
        let seen: Vec<_> = sink.batches.lock().iter().flatten().map(Event::revision).collect();
        assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_share_one_commit() {
        let (_dir, store) = open_temp();
        let (sink, open_gate, entered) = GateSink::new();
        store.set_sink(sink.clone());
        let first = store.write(put("/g/first", "v", Precondition::None));
        // Wait until the writer is parked in the sink, after commit #1.
        tokio::task::spawn_blocking(move || entered.recv().unwrap())
            .await
            .unwrap();
        // `write` queues eagerly, so these 199 sit in the channel together.
        let rest: Vec<_> = (0..199)
            .map(|i| store.write(put(&format!("/g/{i}"), "v", Precondition::None)))
            .collect();
        open_gate.send(()).unwrap();
        assert_eq!(first.await.unwrap().revision(), 1);
        let mut revs = HashSet::new();
        for write in rest {
            assert!(revs.insert(write.await.unwrap().revision()));
        }
        assert_eq!(revs.len(), 199);
        assert_eq!(store.commit_count(), 2, "199 queued writes should commit together");
        assert_eq!(*sink.batch_sizes.lock(), [1, 199]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ops_in_one_batch_see_each_other() {
        let (_dir, store) = open_temp();
        let (sink, open_gate, entered) = GateSink::new();
        store.set_sink(sink.clone());
        let warmup = store.write(put("/w", "v", Precondition::None));
        tokio::task::spawn_blocking(move || entered.recv().unwrap())
            .await
            .unwrap();
        // All of these land in the second batch.
        let create = store.write(put("/b", "1", Precondition::MustNotExist));
        let dup = store.write(put("/b", "2", Precondition::MustNotExist));
        let cas = store.write(put("/b", "3", Precondition::ModRevision(2)));
        let stale = store.write(put("/b", "4", Precondition::ModRevision(2)));
        let delete = store.write(del("/b", Precondition::MustExist));
        let gone = store.write(del("/b", Precondition::None));
        let compact = store.compact(3);
        open_gate.send(()).unwrap();
        warmup.await.unwrap();
        assert_eq!(create.await.unwrap().revision(), 2);
        assert_eq!(dup.await, Err(StoreError::AlreadyExists("/b".into())));
        assert_eq!(cas.await.unwrap().revision(), 3);
        assert_eq!(
            stale.await,
            Err(StoreError::Conflict {
                key: "/b".into(),
                current: 3
            })
        );
        let delete = delete.await.unwrap();
        assert_eq!((delete.revision(), delete.kv.value.clone()), (4, Bytes::from("3")));
        assert_eq!(gone.await, Err(StoreError::NotFound("/b".into())));
        compact.await.unwrap();
        assert_eq!(store.commit_count(), 2);
        assert_eq!(store.compacted_revision(), 3);
        assert_eq!(*sink.batch_sizes.lock(), [1, 3]);
        let tail = store.events_since(3).await.unwrap();
        assert_eq!(tail, vec![delete]);
    }

    #[tokio::test]
    async fn sink_receives_batches_in_order() {
        let (_dir, store) = open_temp();
        let sink = Arc::new(RecordingSink::default());
        // Writes before the sink is set are not delivered to it.
        store.write(put("/s/0", "v", Precondition::None)).await.unwrap();
        store.set_sink(sink.clone());
        let writes: Vec<_> = (1..=20)
            .map(|i| store.write(put(&format!("/s/{}", i % 4), "v", Precondition::None)))
            .collect();
        // A failing op inside a batch produces no event.
        let failing = store.write(put("/s/0", "v", Precondition::MustNotExist));
        let mut returned = Vec::new();
        for write in writes {
            returned.push(write.await.unwrap());
        }
        assert!(failing.await.is_err());
        store.write(del("/s/1", Precondition::None)).await.unwrap();

        let seen: Vec<Event> = sink.batches.lock().iter().flatten().cloned().collect();
        assert_eq!(seen.len(), 21);
        assert_eq!(seen[..20], returned[..]);
        assert!(seen.windows(2).all(|w| w[1].revision() == w[0].revision() + 1));
        assert_eq!(seen[0].revision(), 2);
        assert_eq!(seen[20].kind, EventKind::Delete);
        assert_eq!(seen, store.events_since(1).await.unwrap());
    }

    #[tokio::test]
    async fn panicking_sink_does_not_stop_writes() {
        struct Panicky;
        impl EventSink for Panicky {
            fn apply(&self, _: &[Event]) {
                panic!("sink failure");
            }
        }
        let (_dir, store) = open_temp();
        store.set_sink(Arc::new(Panicky));
        assert_eq!(
            store
                .write(put("/x", "v", Precondition::None))
                .await
                .unwrap()
                .revision(),
            1
        );
        assert_eq!(
            store
                .write(put("/y", "v", Precondition::None))
                .await
                .unwrap()
                .revision(),
            2
        );
    }

    #[test]
    fn works_outside_a_runtime() {
        let (_dir, store) = open_temp();
        let event = futures::executor::block_on(store.write(put("/o", "v", Precondition::None)));
        assert_eq!(event.unwrap().revision(), 1);
        let snap = futures::executor::block_on(store.snapshot("/")).unwrap();
        assert_eq!(snap.kvs.len(), 1);
    }

    #[test]
    fn event_encoding_round_trips() {
        let kv = |key: &str, value: &str, c, m| KeyValue {
            key: key.to_owned(),
            value: Bytes::from(value.to_owned()),
            create_revision: c,
            mod_revision: m,
        };
        let cases = [
            Event {
                kind: EventKind::Put,
                kv: kv("/a", "new", 7, 7),
                prev: None,
            },
            Event {
                kind: EventKind::Put,
                kv: kv("/a", "new", 3, u64::MAX),
                prev: Some(kv("/a", "old", 3, 300)),
            },
            Event {
                kind: EventKind::Delete,
                kv: kv("/ü/ключ", "last", 1, 2),
                prev: Some(kv("/ü/ключ", "last", 1, 1)),
            },
            Event {
                kind: EventKind::Delete,
                kv: kv("/odd", "", 1, 2),
                prev: None,
            },
            Event {
                kind: EventKind::Put,
                kv: kv("", "", 0, 0),
                prev: Some(kv("", "", 0, 0)),
            },
        ];
        for event in cases {
            let bytes = encode_event(&event);
            let decoded = decode_event(event.revision(), &bytes).unwrap();
            assert_eq!(decoded, event);
            // Every truncation is rejected, never a panic.
            for cut in 0..bytes.len() {
                assert!(decode_event(event.revision(), &bytes[..cut]).is_err());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_event(event.revision(), &longer).is_err());
        }
        assert!(decode_event(1, &[2, 0]).is_err());
        assert!(decode_event(1, &[LOG_FORMAT_V1, 0x0f]).is_err());
        // An 11-byte varint overflows a u64.
        let mut overlong = vec![LOG_FORMAT_V1, KIND_PUT];
        overlong.extend([0xff; 10]);
        overlong.push(0x01);
        assert!(decode_event(1, &overlong).is_err());
    }

    #[test]
    fn varint_boundaries() {
        for n in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, n);
            let mut r = Reader { buf: &out };
            assert_eq!(r.varint(), Some(n));
            assert!(r.buf.is_empty());
        }
    }

    /// Throughput of 10k puts from 100 concurrent tasks with group commit.
    /// Run with:
    /// `cargo test --release -- --ignored --nocapture group_commit_throughput`.
    /// Set `STORE_BENCH_DIR` to put the file on a particular disk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "benchmark; run explicitly in release mode"]
    async fn group_commit_throughput() {
        const TASKS: usize = 100;
        const PER_TASK: usize = 100;
        let dir = match std::env::var_os("STORE_BENCH_DIR") {
            Some(base) => tempfile::tempdir_in(base).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let store = EmbeddedStore::open(&dir.path().join("bench.redb")).unwrap();
        let value = Bytes::from(vec![b'x'; 512]);
        let started = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let store = store.clone();
                let value = value.clone();
                tokio::spawn(async move {
                    for i in 0..PER_TASK {
                        store
                            .write(WriteOp::Put {
                                key: format!("/bench/{t}/{i}"),
                                value: value.clone(),
                                precondition: Precondition::None,
                            })
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        let total = TASKS * PER_TASK;
        assert_eq!(store.current_revision(), total as u64);
        println!(
            "group commit: {total} puts from {TASKS} tasks in {:.3}s = {:.0} puts/s, \
             {} commits (avg batch {:.1})",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64(),
            store.commit_count(),
            total as f64 / store.commit_count() as f64
        );
    }
}
