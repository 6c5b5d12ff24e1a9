//! LoadBalancer Services: each gets a loopback address 127.x.y.z (derived from the cluster
//! and the Service, unique in the process), published as `status.loadBalancer.ingress`,
//! and a [`Responder`] on every TCP port of the Service. Listening stops when the Service
//! is deleted or stops being a LoadBalancer.

use crate::responder::{Identity, Responder};
use crate::{MemberError, util};
use apiserver::cache::CacheEvent;
use apiserver::local::{Gvr, ObjectStore};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::broadcast::{self, error::RecvError};

/// core/v1 services.
pub const SERVICES: Gvr<'static> = Gvr::new("", "v1", "services");

/// Candidate addresses tried per Service before giving up.
const ATTEMPTS: u32 = 64;

/// Addresses held by LoadBalancer Services of every member in this process, with their owner
/// (`cluster/namespace/name`): `ubernetes up` runs several members in one process.
static CLAIMS: LazyLock<Mutex<HashMap<Ipv4Addr, String>>> = LazyLock::new(Mutex::default);

/// Takes `ip` for `owner`; false when another owner holds it.
fn claim(ip: Ipv4Addr, owner: &str) -> bool {
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    let holder = claims.entry(ip).or_insert_with(|| owner.to_string());
    holder == owner
}

/// Gives `ip` back if `owner` holds it.
fn release(ip: Ipv4Addr, owner: &str) {
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    if claims.get(&ip).is_some_and(|h| h == owner) {
        claims.remove(&ip);
    }
}

/// The `attempt`-th candidate address of a Service: 127.x.y.z with x in 1..=254 (never the
/// 127.0.0.0/16 that resolvers and /etc/hosts use) and z in 1..=254.
pub fn candidate(cluster: &str, namespace: &str, name: &str, attempt: u32) -> Ipv4Addr {
    let h = util::fnv1a(format!("{cluster}/{namespace}/{name}#{attempt}").as_bytes());
    let x = (h % 254) as u8 + 1;
    let y = (h >> 16) as u8;
    let z = ((h >> 24) % 254) as u8 + 1;
    Ipv4Addr::new(127, x, y, z)
}

/// Whether an address can serve a LoadBalancer here: loopback, not 127.0.0.1.
fn usable(ip: Ipv4Addr) -> bool {
    ip.is_loopback() && ip != Ipv4Addr::LOCALHOST && ip.octets()[3] != 0 && ip.octets()[3] != 255
}

/// Whether a Service wants a load balancer (type LoadBalancer, not being deleted).
pub fn wants_lb(svc: &Value) -> bool {
    svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
        && svc.pointer("/metadata/deletionTimestamp").is_none()
}

/// The TCP ports of a Service.
pub fn tcp_ports(svc: &Value) -> BTreeSet<u16> {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    ports
        .iter()
        .filter(|p| p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == "TCP")
        .filter_map(|p| {
            p.get("port")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())
        })
        .filter(|p| *p != 0)
        .collect()
}

/// The first ingress IP in a Service's status.
fn status_ip(svc: &Value) -> Option<Ipv4Addr> {
    svc.pointer("/status/loadBalancer/ingress/0/ip")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// `status.loadBalancer` for an address.
pub fn lb_status(ip: Ipv4Addr) -> Value {
    json!({"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]})
}

/// Namespace and name of a Service.
type Key = (String, String);

/// One Service's load balancer.
struct Active {
    ip: Ipv4Addr,
    listeners: HashMap<u16, Responder>,
    /// Ports whose bind failed (reported once, retried on every pass).
    failed: HashSet<u16>,
}

/// The LoadBalancer controller of one member.
pub struct LoadBalancers {
    store: Arc<dyn ObjectStore>,
    cluster: String,
    prefix: String,
    active: HashMap<Key, Active>,
}

impl LoadBalancers {
    /// A controller for the member `cluster`.
    pub fn new(store: Arc<dyn ObjectStore>, cluster: &str) -> Self {
        let prefix = store.prefix(SERVICES);
        Self {
            store,
            cluster: cluster.to_string(),
            prefix,
            active: HashMap::new(),
        }
    }

    /// Runs until the process ends.
    pub async fn run(mut self) {
        let mut events = self.store.subscribe();
        let mut resync = crate::resync_ticker(&self.cluster);
        let mut ticks = 0u32;
        loop {
            let settled = self.reconcile().await;
            loop {
                tokio::select! {
                    _ = resync.tick() => {
                        ticks = ticks.wrapping_add(1);
                        if !settled || ticks.is_multiple_of(crate::FULL_RESYNC_TICKS) {
                            break;
                        }
                    }
                    open = next_service_event(&mut events, &self.prefix) => {
                        if !open {
                            events = self.store.subscribe();
                        }
                        break;
                    }
                }
            }
        }
    }

    fn owner(&self, key: &Key) -> String {
        format!("{}/{}/{}", self.cluster, key.0, key.1)
    }

    /// One pass over every Service; true when every load balancer is complete (nothing
    /// failed that a later pass should retry).
    pub async fn reconcile(&mut self) -> bool {
        let mut settled = true;
        let mut wanted = HashMap::new();
        for svc in self.store.list(SERVICES, None) {
            let key = (
                util::meta_str(&svc, "namespace").to_string(),
                util::meta_str(&svc, "name").to_string(),
            );
            if wants_lb(&svc) {
                wanted.insert(key, svc);
            } else if svc.pointer("/status/loadBalancer/ingress").is_some() {
                settled &= self.clear_status(&key).await;
            }
        }
        let gone: Vec<Key> = self
            .active
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.stop(&key);
        }
        for (key, svc) in wanted {
            if let Err(e) = self.ensure(&key, &svc).await {
                settled = false;
                tracing::warn!(service = %format!("{}/{}", key.0, key.1), error = %e, "load balancer");
            }
        }
        settled && self.active.values().all(|a| a.failed.is_empty())
    }

    /// Stops listening for a Service and frees its address.
    fn stop(&mut self, key: &Key) {
        if let Some(a) = self.active.remove(key) {
            release(a.ip, &self.owner(key));
            tracing::info!(service = %format!("{}/{}", key.0, key.1), ip = %a.ip, "load balancer removed");
        }
    }

    /// Gives a Service its address and listeners and publishes the address.
    async fn ensure(&mut self, key: &Key, svc: &Value) -> Result<(), MemberError> {
        let ports = tcp_ports(svc);
        if !self.active.contains_key(key) {
            let active = self.start(key, svc, &ports).await?;
            tracing::info!(service = %format!("{}/{}", key.0, key.1), ip = %active.ip, "load balancer allocated");
            self.active.insert(key.clone(), active);
        }
        let id = self.identity(key);
        let Some(active) = self.active.get_mut(key) else {
            return Ok(());
        };
        sync_listeners(active, &ports, &id).await;
        let ip = active.ip;
        if status_ip(svc) != Some(ip) || svc.pointer("/status/loadBalancer/ingress/1").is_some() {
            self.write_status(key, Some(ip)).await?;
        }
        Ok(())
    }

    fn identity(&self, key: &Key) -> Identity {
        Identity {
            cluster: self.cluster.clone(),
            namespace: key.0.clone(),
            name: key.1.clone(),
        }
    }

    /// Picks the address of a Service: the published one when still free, otherwise the first
    /// free candidate on which every port binds.
    async fn start(&self, key: &Key, svc: &Value, ports: &BTreeSet<u16>) -> Result<Active, MemberError> {
        let owner = self.owner(key);
        let id = self.identity(key);
        if let Some(ip) = status_ip(svc).filter(|ip| usable(*ip))
            && claim(ip, &owner)
        {
            let mut active = Active {
                ip,
                listeners: HashMap::new(),
                failed: HashSet::new(),
            };
            sync_listeners(&mut active, ports, &id).await;
            return Ok(active);
        }
        for attempt in 0..ATTEMPTS {
            let ip = candidate(&self.cluster, &key.0, &key.1, attempt);
            if !usable(ip) || !claim(ip, &owner) {
                continue;
            }
            match bind_all(ip, ports, &id).await {
                Ok(listeners) => {
                    return Ok(Active {
                        ip,
                        listeners,
                        failed: HashSet::new(),
                    });
                }
                Err(e) if is_in_use(&e) => release(ip, &owner),
                Err(e) => {
                    // Not the address's fault (e.g. a privileged port): keep it, retry the ports later.
                    tracing::warn!(error = %e, "load balancer port");
                    let mut active = Active {
                        ip,
                        listeners: HashMap::new(),
                        failed: HashSet::new(),
                    };
                    sync_listeners(&mut active, ports, &id).await;
                    return Ok(active);
                }
            }
        }
        Err(MemberError::NoAddress(format!("{}/{}", key.0, key.1)))
    }

    /// Sets (or with None clears) `status.loadBalancer`, keeping the rest of the status.
    async fn write_status(&self, key: &Key, ip: Option<Ipv4Addr>) -> Result<(), MemberError> {
        let lb = ip.map_or_else(|| json!({}), lb_status);
        let update = move |old: &Value| {
            let mut status = old.get("status").cloned().unwrap_or_else(|| json!({}));
            status.as_object_mut()?.insert("loadBalancer".into(), lb.clone());
            util::with_status(old, status)
        };
        match self
            .store
            .modify(SERVICES, Some(&key.0), &key.1, Box::new(update))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.reason == "NotFound" => Ok(()),
            Err(e) => Err(MemberError::api(format!("status of service {}/{}", key.0, key.1), e)),
        }
    }

    /// Clears `status.loadBalancer` of a Service that is no longer a LoadBalancer; true when done.
    async fn clear_status(&self, key: &Key) -> bool {
        let result = self.write_status(key, None).await;
        if let Err(e) = &result {
            tracing::warn!(error = %e, "clearing load balancer status");
        }
        result.is_ok()
    }
}

fn is_in_use(e: &MemberError) -> bool {
    matches!(e, MemberError::Bind { source, .. } if source.kind() == ErrorKind::AddrInUse)
}

/// Binds every port on `ip` (all or nothing).
async fn bind_all(ip: Ipv4Addr, ports: &BTreeSet<u16>, id: &Identity) -> Result<HashMap<u16, Responder>, MemberError> {
    let mut listeners = HashMap::new();
    for port in ports {
        let r = Responder::start(SocketAddr::from((ip, *port)), id.clone()).await?;
        listeners.insert(*port, r);
    }
    Ok(listeners)
}

/// Stops listeners of ports the Service no longer has and starts missing ones.
async fn sync_listeners(active: &mut Active, ports: &BTreeSet<u16>, id: &Identity) {
    active.listeners.retain(|port, _| ports.contains(port));
    active.failed.retain(|port| ports.contains(port));
    for port in ports {
        if active.listeners.contains_key(port) {
            continue;
        }
        match Responder::start(SocketAddr::from((active.ip, *port)), id.clone()).await {
            Ok(r) => {
                active.failed.remove(port);
                active.listeners.insert(*port, r);
            }
            Err(e) if active.failed.insert(*port) => tracing::warn!(error = %e, "load balancer port; will retry"),
            Err(_) => {}
        }
    }
}

/// Waits for a Service event (true) or for the stream to close (false).
async fn next_service_event(events: &mut broadcast::Receiver<Arc<CacheEvent>>, prefix: &str) -> bool {
    loop {
        match events.recv().await {
            Ok(ev) if &*ev.resource == prefix => return true,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => {
                tokio::time::sleep(crate::RESYNC).await;
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_usable_and_stable() {
        for attempt in 0..200 {
            let ip = candidate("m1", "default", "web", attempt);
            assert!(usable(ip), "{ip}");
            assert_ne!(ip.octets()[1], 0);
        }
        assert_eq!(candidate("m1", "a", "b", 0), candidate("m1", "a", "b", 0));
        assert_ne!(candidate("m1", "a", "b", 0), candidate("m2", "a", "b", 0));
    }

    #[test]
    fn claims_are_exclusive() {
        let ip = Ipv4Addr::new(127, 200, 1, 2);
        assert!(claim(ip, "a"));
        assert!(claim(ip, "a"));
        assert!(!claim(ip, "b"));
        release(ip, "b");
        assert!(!claim(ip, "b"));
        release(ip, "a");
        assert!(claim(ip, "b"));
        release(ip, "b");
    }

    #[test]
    fn service_fields() {
        let svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}, {"port": 70000}]}});
        assert!(wants_lb(&svc));
        assert_eq!(tcp_ports(&svc).into_iter().collect::<Vec<_>>(), [80]);
        assert!(!wants_lb(&json!({"spec": {"type": "ClusterIP"}})));
        assert_eq!(lb_status(Ipv4Addr::new(127, 1, 2, 3))["ingress"][0]["ipMode"], "VIP");
    }
}
