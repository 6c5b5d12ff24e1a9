//! Simulated Nodes: `<cluster>-node-<i>`, Ready, with the member's region and zone and a
//! share of its pod capacity.

use crate::util::{Cond, Stamps, condition, find_condition};
use crate::{MemberError, MemberOptions};
use apiserver::local::{Gvr, ObjectStore};
use serde_json::{Value, json};

/// core/v1 nodes.
pub const NODES: Gvr<'static> = Gvr::new("", "v1", "nodes");

/// coordination.k8s.io/v1 leases (node heartbeats live in `kube-node-lease`).
pub const LEASES: Gvr<'static> = Gvr::new("coordination.k8s.io", "v1", "leases");

/// Namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Label every simulated node carries (`node.kubernetes.io/instance-type`).
pub const INSTANCE_TYPE: &str = "simulated";

/// Version the simulated kubelets report.
pub const KUBELET_VERSION: &str = "v1.36.0-ubernetes";

/// Field manager of the simulator's writes.
pub const MANAGER: &str = "ubernetes-member";

/// Name of node `i` of `cluster`.
pub fn node_name(cluster: &str, i: u32) -> String {
    format!("{cluster}-node-{i}")
}

/// Pods node `i` of `nodes` can run: `capacity` split as evenly as possible.
pub fn pods_of_node(capacity: u32, nodes: u32, i: u32) -> u32 {
    let nodes = nodes.max(1);
    capacity / nodes + u32::from(i < capacity % nodes)
}

/// The Node object (without status) of node `i`.
pub fn node_object(opts: &MemberOptions, i: u32) -> Value {
    let name = node_name(&opts.name, i);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": INSTANCE_TYPE,
                "topology.kubernetes.io/region": opts.region,
                "topology.kubernetes.io/zone": opts.zone,
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {
            "providerID": format!("ubernetes://{}/{name}", opts.name),
            "podCIDR": format!("10.244.{}.0/24", i % 256),
            "podCIDRs": [format!("10.244.{}.0/24", i % 256)],
        },
    })
}

/// The conditions a healthy kubelet reports.
const CONDITIONS: [Cond<'static>; 4] = [
    Cond::new(
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    Cond::new(
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    Cond::new(
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
    Cond::new("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
];

/// The status of node `i`; conditions keep their times from `prev` (a previous status).
pub fn node_status(opts: &MemberOptions, i: u32, prev: Option<&Value>, now: &str) -> Value {
    let pods = pods_of_node(opts.capacity_pods, opts.nodes, i).to_string();
    let resources = json!({"cpu": "8", "memory": "32Gi", "pods": pods, "ephemeral-storage": "100Gi"});
    let prev_conditions = prev.and_then(|p| p.get("conditions"));
    let conditions: Vec<Value> = CONDITIONS
        .iter()
        .map(|c| condition(find_condition(prev_conditions, c.ty), *c, Stamps::Heartbeat, now))
        .collect();
    let name = node_name(&opts.name, i);
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": "",
            "containerRuntimeVersion": "ubernetes://0.1.0",
            "kernelVersion": "",
            "kubeProxyVersion": KUBELET_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "machineID": "",
            "operatingSystem": "linux",
            "osImage": "Ubernetes simulated node",
            "systemUUID": "",
        },
    })
}

/// Creates the member's nodes (leaving existing ones), refreshes their status, and removes
/// simulated nodes of this cluster beyond `opts.nodes` (left from a larger earlier run).
pub async fn ensure_nodes(store: &dyn ObjectStore, opts: &MemberOptions) -> Result<(), MemberError> {
    for i in 0..opts.nodes {
        ensure_node(store, opts, i).await?;
    }
    remove_extra_nodes(store, opts).await
}

async fn ensure_node(store: &dyn ObjectStore, opts: &MemberOptions, i: u32) -> Result<(), MemberError> {
    let name = node_name(&opts.name, i);
    if store.get(NODES, None, &name).is_none() {
        match store.create(NODES, node_object(opts, i), MANAGER).await {
            Ok(_) => tracing::info!(node = %name, "registered node"),
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(MemberError::api(format!("creating node {name}"), e)),
        }
    }
    let now = crate::util::now();
    let update = move |old: &Value| refreshed(opts, i, old, &now);
    store
        .modify(NODES, None, &name, Box::new(update))
        .await
        .map_err(|e| MemberError::api(format!("node {name} status"), e))?;
    ensure_lease(store, &name).await
}

/// The node's Lease as its kubelet would hold it (renewed once per start of the simulator).
pub fn lease_object(node: &Value, now_micro: &str) -> Value {
    let name = crate::util::meta_str(node, "name");
    let owner = json!({"apiVersion": "v1", "kind": "Node", "name": name, "uid": crate::util::meta_str(node, "uid")});
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [owner]},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro},
    })
}

async fn ensure_lease(store: &dyn ObjectStore, name: &str) -> Result<(), MemberError> {
    let Some(node) = store.get(NODES, None, name) else {
        return Ok(());
    };
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let err = |e| MemberError::api(format!("lease of node {name}"), e);
    if store.get(LEASES, Some(NODE_LEASE_NAMESPACE), name).is_none() {
        return match store.create(LEASES, lease_object(&node, &now), MANAGER).await {
            Err(e) if e.reason != "AlreadyExists" => Err(err(e)),
            _ => Ok(()),
        };
    }
    let renew = move |old: &Value| {
        let mut new = old.clone();
        new.get_mut("spec")?
            .as_object_mut()?
            .insert("renewTime".into(), json!(now));
        Some(new)
    };
    store
        .modify(LEASES, Some(NODE_LEASE_NAMESPACE), name, Box::new(renew))
        .await
        .map(|_| ())
        .map_err(err)
}

/// `old` with this simulator's labels and status brought up to date (None: already are).
fn refreshed(opts: &MemberOptions, i: u32, old: &Value, now: &str) -> Option<Value> {
    let mut new = old.clone();
    let wanted = node_object(opts, i);
    let labels = new
        .pointer_mut("/metadata")?
        .as_object_mut()?
        .entry("labels")
        .or_insert_with(|| json!({}));
    if let (Some(have), Some(want)) = (
        labels.as_object_mut(),
        wanted.pointer("/metadata/labels").and_then(Value::as_object),
    ) {
        have.extend(want.clone());
    }
    new.as_object_mut()?
        .insert("status".into(), node_status(opts, i, old.get("status"), now));
    (new != *old).then_some(new)
}

/// Whether `name` is a node of `cluster` numbered `nodes` or more.
fn is_extra(cluster: &str, nodes: u32, name: &str) -> bool {
    let index = name
        .strip_prefix(cluster)
        .and_then(|r| r.strip_prefix("-node-"))
        .and_then(|n| n.parse::<u32>().ok());
    index.is_some_and(|i| i >= nodes)
}

async fn remove_extra_nodes(store: &dyn ObjectStore, opts: &MemberOptions) -> Result<(), MemberError> {
    for node in store.list(NODES, None) {
        let name = crate::util::meta_str(&node, "name");
        let simulated = node
            .pointer("/metadata/labels/node.kubernetes.io~1instance-type")
            .and_then(Value::as_str)
            == Some(INSTANCE_TYPE);
        if simulated && is_extra(&opts.name, opts.nodes, name) {
            match store.delete(NODES, None, name).await {
                Ok(()) => tracing::info!(node = %name, "removed node"),
                Err(e) if e.reason == "NotFound" => {}
                Err(e) => return Err(MemberError::api(format!("deleting node {name}"), e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> MemberOptions {
        MemberOptions {
            name: "m1".into(),
            region: "r1".into(),
            zone: "z1".into(),
            capacity_pods: 10,
            nodes: 3,
        }
    }

    #[test]
    fn capacity_split_over_nodes() {
        let split: Vec<u32> = (0..3).map(|i| pods_of_node(10, 3, i)).collect();
        assert_eq!(split, [4, 3, 3]);
        assert_eq!(pods_of_node(5, 0, 0), 5);
    }

    #[test]
    fn node_labels_and_status() {
        let o = opts();
        let n = node_object(&o, 1);
        assert_eq!(n["metadata"]["name"], "m1-node-1");
        assert_eq!(n["metadata"]["labels"]["topology.kubernetes.io/zone"], "z1");
        assert_eq!(n["metadata"]["labels"]["kubernetes.io/hostname"], "m1-node-1");
        let s = node_status(&o, 0, None, "t");
        assert_eq!(s["capacity"]["pods"], "4");
        assert_eq!(s["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(
            find_condition(s.get("conditions"), "Ready").map(|c| c["status"].clone()),
            Some(json!("True"))
        );
        assert_eq!(node_status(&o, 0, Some(&s), "later"), s);
        let mut stored = n.clone();
        stored["status"] = node_status(&o, 1, None, "t");
        assert_eq!(refreshed(&o, 1, &stored, "later"), None);
        let moved = MemberOptions {
            region: "r2".into(),
            ..o.clone()
        };
        let r = refreshed(&moved, 1, &stored, "later").unwrap_or_default();
        assert_eq!(r["metadata"]["labels"]["topology.kubernetes.io/region"], "r2");
    }

    #[test]
    fn extra_nodes() {
        assert!(is_extra("m1", 3, "m1-node-3"));
        assert!(!is_extra("m1", 3, "m1-node-2"));
        assert!(!is_extra("m1", 3, "m10-node-7"));
        assert!(!is_extra("m1", 3, "other"));
    }
}
