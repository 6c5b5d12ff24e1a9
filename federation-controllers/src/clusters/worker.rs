//! One task per Cluster: keeps a client of the member, probes it every interval (or at
//! once when its spec or Secret changes), and writes the Cluster's status.

use super::events::Recorder;
use super::facts;
use super::status::{self, ClusterStatus, Facts, Outcome, Transition};
use super::{ClusterControllerOptions, SECRETS};
use crate::join::CLUSTERS;
use crate::member_api::{MemberClient, MemberError, client_from_secret};
use apiserver::local::ObjectStore;
use serde_json::Value;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

/// Version, nodes and capacity are refreshed every this many probes (and after a new
/// client or a failure).
pub const REFRESH_EVERY: u64 = 6;
/// Discovery is refreshed every this many refreshes.
pub const DISCOVERY_EVERY: u64 = 5;
/// The status is written every this many probes even when nothing but the probe time
/// changed (so `lastProbeTime` stays recent without a write per probe).
pub const HEARTBEAT_PROBES: u64 = 12;
/// Smallest gap between two probes of one member when changes trigger them.
const MIN_GAP: Duration = Duration::from_millis(500);

/// The timeout of each request to a member: half the interval, between 0.5 s and 10 s.
pub fn request_timeout(interval: Duration) -> Duration {
    (interval / 2).clamp(Duration::from_millis(500), Duration::from_secs(10))
}

fn name_hash(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// A fraction of `window` picked by a hash of `name`: spreads members evenly and stays
/// the same for a member.
pub fn spread(name: &str, window: Duration) -> Duration {
    let millis = window.as_millis().max(1) as u64;
    Duration::from_millis(name_hash(name) % millis)
}

/// Whether probe number `probe` of a member with `phase` is one of every `every`th.
/// Members have different phases, so periodic work (refreshes, heartbeat writes) is
/// spread over the period instead of happening for all members in the same interval.
pub fn is_turn(probe: u64, phase: u64, every: u64) -> bool {
    probe.wrapping_add(phase).is_multiple_of(every.max(1))
}

/// The first probe time at or after `after` on a member's grid: `epoch + offset + k *
/// interval`. Every member has its own offset, so probes (and heartbeat writes) stay
/// spread over the interval even after many members were woken at once.
pub fn next_slot(after: Instant, epoch: Instant, offset: Duration, interval: Duration) -> Instant {
    let base = epoch + offset;
    if after <= base || interval.is_zero() {
        return base.max(after);
    }
    let behind = (after - base).as_nanos();
    let step = interval.as_nanos();
    let k = behind.div_ceil(step);
    base + Duration::from_nanos(u64::try_from(k * step).unwrap_or(u64::MAX))
}

/// The instant every member's probe grid starts from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How the dispatcher reaches a worker.
#[derive(Default)]
pub struct Signals {
    /// Wakes the worker for a probe now (its connection settings or Secret changed).
    pub wake: Notify,
    /// Set when the Secret changed: the worker reads it again before the next probe
    /// (otherwise it does not read the Secret at all while it has a client).
    pub secret_changed: AtomicBool,
}

/// What a member client was built from; a change means a new client.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ClientKey {
    secret: (String, String),
    secret_rv: String,
    endpoint: Option<String>,
}

/// The state of one Cluster's probing.
pub struct Worker {
    name: String,
    store: Arc<dyn ObjectStore>,
    opts: ClusterControllerOptions,
    signals: Arc<Signals>,
    cluster: watch::Receiver<Arc<Value>>,
    limiter: Arc<Semaphore>,
    member: Option<(ClientKey, MemberClient)>,
    failures: u32,
    needs_refresh: bool,
    probes: u64,
    phase: u64,
    placement: (Option<String>, Option<String>),
    recorder: Recorder,
}

impl Worker {
    /// A worker for the Cluster `name`, whose latest state the dispatcher sends on `cluster`.
    pub fn new(
        name: String,
        store: Arc<dyn ObjectStore>,
        opts: ClusterControllerOptions,
        (signals, cluster): (Arc<Signals>, watch::Receiver<Arc<Value>>),
        limiter: Arc<Semaphore>,
    ) -> Self {
        let recorder = Recorder::new(store.clone());
        let phase = name_hash(&name);
        Self {
            name,
            store,
            opts,
            signals,
            cluster,
            limiter,
            member: None,
            failures: 0,
            needs_refresh: true,
            probes: 0,
            phase,
            placement: (None, None),
            recorder,
        }
    }

    /// The latest state of the Cluster; None once the dispatcher let go of it.
    fn cluster(&self) -> Option<Arc<Value>> {
        self.cluster.has_changed().ok()?;
        Some(self.cluster.borrow().clone())
    }

    /// Probes until the Cluster is gone.
    pub async fn run(mut self) {
        let Some(obj) = self.cluster() else { return };
        let status = ClusterStatus::of(&obj);
        self.failures = status.consecutive_failures;
        let has_condition = status.ready().is_some();
        if !has_condition {
            self.write_pending().await;
        }
        let interval = self.opts.probe_interval;
        let offset = spread(&self.name, interval);
        // New members are probed within a second; others (after a restart) on their grid.
        let mut next = if has_condition {
            next_slot(Instant::now(), epoch(), offset, interval)
        } else {
            Instant::now() + spread(&self.name, interval.min(Duration::from_secs(1)))
        };
        let mut last = Instant::now().checked_sub(MIN_GAP).unwrap_or_else(Instant::now);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.signals.wake.notified() => tokio::time::sleep_until(last + MIN_GAP).await,
            }
            last = Instant::now();
            let permit = self.limiter.clone().acquire_owned().await;
            let alive = self.probe_cycle().await;
            drop(permit);
            if !alive {
                return;
            }
            next = next_slot(Instant::now() + interval / 2, epoch(), offset, interval);
        }
    }

    async fn write_pending(&mut self) {
        let now = now();
        let f = move |cur: &Value| {
            let mut s = ClusterStatus::of(cur);
            if s.ready().is_some() {
                return None;
            }
            s.conditions.insert(0, status::pending_condition(&now));
            let mut new = cur.clone();
            new["status"] = s.to_value();
            Some(new)
        };
        if let Err(e) = self.store.modify(CLUSTERS, None, &self.name, Box::new(f)).await {
            tracing::debug!(cluster = %self.name, error = %e, "writing the pending condition");
        }
    }

    /// One probe and its status update; false when the Cluster is gone.
    async fn probe_cycle(&mut self) -> bool {
        let Some(obj) = self.cluster() else { return false };
        self.probes = self.probes.wrapping_add(1);
        let (outcome, facts) = self.probe(&obj).await;
        self.failures = match outcome {
            Outcome::Ready => 0,
            Outcome::Failed(_) => self.failures.saturating_add(1),
        };
        if matches!(outcome, Outcome::Failed(_)) {
            self.needs_refresh = true;
        }
        self.report(&obj, &outcome, &facts).await;
        true
    }

    async fn probe(&mut self, obj: &Value) -> (Outcome, Facts) {
        let member = match self.client(obj).await {
            Ok(m) => m,
            Err(e) => return (Outcome::Failed(e), Facts::default()),
        };
        if let Err(e) = member.readyz().await {
            return (Outcome::Failed(e), Facts::default());
        }
        if !self.needs_refresh && !is_turn(self.probes, self.phase, REFRESH_EVERY) {
            return (Outcome::Ready, Facts::default());
        }
        match self.refresh(&member).await {
            Ok(f) => (Outcome::Ready, f),
            Err(e) => (Outcome::Failed(e), Facts::default()),
        }
    }

    /// The member's client, rebuilt when its Secret or endpoint changed.
    async fn client(&mut self, obj: &Value) -> Result<MemberClient, MemberError> {
        let (ns, name) = secret_ref(obj)?;
        let endpoint = obj
            .pointer("/spec/apiEndpoint")
            .and_then(Value::as_str)
            .map(str::to_string);
        let secret_changed = self.signals.secret_changed.swap(false, Ordering::AcqRel);
        if let Some((k, m)) = &self.member
            && !secret_changed
            && k.secret.0 == ns
            && k.secret.1 == name
            && k.endpoint == endpoint
        {
            return Ok(m.clone());
        }
        let Some(secret) = self.store.get(SECRETS, Some(&ns), &name) else {
            self.member = None;
            return Err(MemberError::InvalidKubeconfig(format!("secret {ns}/{name} not found")));
        };
        let secret_rv = secret
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let key = ClientKey {
            secret: (ns, name),
            secret_rv,
            endpoint,
        };
        if let Some((k, m)) = &self.member
            && *k == key
        {
            return Ok(m.clone());
        }
        self.member = None;
        let timeout = request_timeout(self.opts.probe_interval);
        let m = client_from_secret(&secret, &key.secret, key.endpoint.as_deref(), timeout).await?;
        tracing::debug!(cluster = %self.name, url = m.url(), "built a member client");
        self.member = Some((key, m.clone()));
        self.needs_refresh = true;
        Ok(m)
    }

    /// Version, nodes, capacity and (less often) discovery. Only rejected credentials fail
    /// the probe; other errors keep the previous values.
    async fn refresh(&mut self, m: &MemberClient) -> Result<Facts, MemberError> {
        let mut f = Facts::default();
        let keep = |what: &str, e: MemberError| -> Result<(), MemberError> {
            match e {
                MemberError::Unauthorized(_) => Err(e),
                other => {
                    tracing::debug!(url = m.url(), error = %other, "refreshing {what}");
                    Ok(())
                }
            }
        };
        match m.git_version().await {
            Ok(v) => f.version = Some(v),
            Err(e) => keep("version", e)?,
        }
        match facts::capacity(m).await {
            Ok((nodes, allocated)) => {
                f.region = nodes.region.clone();
                f.zone = nodes.zone.clone();
                f.resources = Some(facts::resource_summary(&nodes, allocated));
                f.nodes = Some(nodes.summary);
            }
            Err(e) => keep("capacity", e)?,
        }
        if self.needs_refresh || is_turn(self.probes, self.phase, REFRESH_EVERY * DISCOVERY_EVERY) {
            match facts::discover(m).await {
                Ok(e) => f.enablements = Some(e),
                Err(e) => keep("discovery", e)?,
            }
        }
        self.needs_refresh = false;
        self.placement = (
            f.region.clone().or(self.placement.0.take()),
            f.zone.clone().or(self.placement.1.take()),
        );
        Ok(f)
    }

    /// Computes the new status, writes it when it changed materially or the heartbeat is
    /// due, and records an Event on a Ready transition.
    async fn report(&mut self, obj: &Value, outcome: &Outcome, facts: &Facts) {
        let old = ClusterStatus::of(obj);
        let now = now();
        let threshold = self.opts.failure_threshold.max(1);
        let (new, transition) = status::next_status(&old, outcome, self.failures, threshold, facts, &now);
        let placement = self.placement_to_fill(obj);
        let due = is_turn(self.probes, self.phase, HEARTBEAT_PROBES);
        if status::materially_different(&old, &new, threshold) || due || placement.is_some() {
            self.write(new, placement).await;
        }
        if let Some(t) = transition {
            self.announce(obj, &t, &now).await;
        }
    }

    /// Region and zone from node labels, when the spec has none.
    fn placement_to_fill(&self, obj: &Value) -> Option<(Option<String>, Option<String>)> {
        let empty = |k: &str| {
            obj.pointer(&format!("/spec/{k}"))
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        };
        let region = self.placement.0.clone().filter(|_| empty("region"));
        let zone = self.placement.1.clone().filter(|_| empty("zone"));
        (region.is_some() || zone.is_some()).then_some((region, zone))
    }

    async fn write(&mut self, new: ClusterStatus, placement: Option<(Option<String>, Option<String>)>) {
        let f = move |cur: &Value| {
            let mut next = cur.clone();
            let mut status = new.clone();
            status.other = ClusterStatus::of(cur).other;
            next["status"] = status.to_value();
            if let Some((region, zone)) = &placement {
                fill_spec(&mut next, "region", region.as_deref());
                fill_spec(&mut next, "zone", zone.as_deref());
            }
            (next != *cur).then_some(next)
        };
        match self.store.modify(CLUSTERS, None, &self.name, Box::new(f)).await {
            Err(e) if e.code != 404 => tracing::warn!(cluster = %self.name, error = %e, "writing the cluster status"),
            _ => {}
        }
    }

    async fn announce(&mut self, obj: &Value, t: &Transition, now: &str) {
        if t.to == "True" {
            tracing::info!(cluster = %self.name, "cluster is ready");
        } else {
            tracing::warn!(cluster = %self.name, reason = %t.reason, why = %t.message, "cluster is not ready");
        }
        let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
        self.recorder.transition(&self.name, uid, t, now).await;
    }
}

fn fill_spec(obj: &mut Value, key: &str, value: Option<&str>) {
    let Some(v) = value else { return };
    let empty = obj
        .pointer(&format!("/spec/{key}"))
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if empty && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert(key.to_string(), Value::String(v.to_string()));
    }
}

/// `spec.secretRef` of a Cluster.
pub fn secret_ref(obj: &Value) -> Result<(String, String), MemberError> {
    let r = obj.pointer("/spec/secretRef");
    let get = |k: &str| {
        r.and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (get("namespace"), get("name")) {
        (Some(ns), Some(n)) => Ok((ns.to_string(), n.to_string())),
        _ => Err(MemberError::InvalidKubeconfig(
            "spec.secretRef needs a namespace and a name".into(),
        )),
    }
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delays_spread_and_stay_in_window() {
        let i = Duration::from_secs(10);
        assert!(spread("a", i) < i);
        assert_eq!(spread("a", i), spread("a", i));
        let distinct: std::collections::HashSet<_> = (0..100).map(|n| spread(&format!("m{n}"), i)).collect();
        assert!(distinct.len() > 90);
    }

    #[test]
    fn periodic_work_is_spread_over_members() {
        let turns = |phase| (1..=12).filter(|p| is_turn(*p, phase, 6)).count();
        assert_eq!(turns(0), 2);
        assert_eq!(turns(3), 2);
        let first = |phase| (1..=6).find(|p| is_turn(*p, phase, 6));
        assert_ne!(first(0), first(1));
        assert!(is_turn(5, 7, 1));
    }

    #[test]
    fn probes_follow_each_members_grid() {
        let epoch = Instant::now();
        let i = Duration::from_secs(10);
        let off = Duration::from_secs(3);
        assert_eq!(next_slot(epoch, epoch, off, i), epoch + off);
        assert_eq!(next_slot(epoch + Duration::from_secs(3), epoch, off, i), epoch + off);
        assert_eq!(
            next_slot(epoch + Duration::from_secs(4), epoch, off, i),
            epoch + Duration::from_secs(13)
        );
        assert_eq!(
            next_slot(epoch + Duration::from_secs(25), epoch, off, i),
            epoch + Duration::from_secs(33)
        );
    }

    #[test]
    fn timeouts_are_shorter_than_the_interval() {
        assert_eq!(request_timeout(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(request_timeout(Duration::from_secs(1)), Duration::from_millis(500));
        assert_eq!(request_timeout(Duration::from_secs(60)), Duration::from_secs(10));
    }

    #[test]
    fn secret_refs_are_checked() {
        let ok = json!({"spec": {"secretRef": {"namespace": "ns", "name": "s"}}});
        assert_eq!(secret_ref(&ok).expect("ref"), ("ns".to_string(), "s".to_string()));
        assert_eq!(
            secret_ref(&json!({"spec": {}})).expect_err("missing").reason(),
            "InvalidKubeconfig"
        );
    }

    #[test]
    fn spec_is_filled_only_when_empty() {
        let mut obj = json!({"spec": {"region": "given", "zone": ""}});
        fill_spec(&mut obj, "region", Some("r"));
        fill_spec(&mut obj, "zone", Some("z"));
        assert_eq!(obj["spec"], json!({"region": "given", "zone": "z"}));
    }
}
