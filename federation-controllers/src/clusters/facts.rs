//! What the controller learns about a member besides its health: version, served APIs,
//! nodes, capacity and use, and its region/zone from node labels.

use super::status::{ApiEnablement, ApiResourceRef, NodeSummary, ResourceSummary};
use crate::member_api::{MemberClient, MemberError};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Page size when listing pods.
const POD_PAGE: usize = 500;
/// Pages of pods read per refresh at most (the allocated sum is partial beyond).
const MAX_POD_PAGES: usize = 20;
/// Node label with the region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// Node label with the zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Parses a Kubernetes quantity (`100m`, `1.5Gi`, `2e3`, `128974848`) into base units.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    // `1e3` has an exponent; `1E` (exa) does not have digits after the E.
    let (num, suffix) = match num.rfind(['e', 'E']) {
        Some(i) if num[i + 1..].is_empty() => (&num[..i], &s[i..]),
        _ => (num, suffix),
    };
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * mult).filter(|v| v.is_finite())
}

/// Formats CPU cores: whole cores as `4`, otherwise millicores (`3500m`).
pub fn format_cpu(cores: f64) -> String {
    let milli = (cores * 1000.0).round() as i128;
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Formats bytes with the largest binary suffix that divides them exactly.
pub fn format_bytes(bytes: f64) -> String {
    let b = bytes.round() as i128;
    for (suffix, exp) in [("Ei", 6), ("Pi", 5), ("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)] {
        let unit = 1024i128.pow(exp);
        if b != 0 && b % unit == 0 {
            return format!("{}{suffix}", b / unit);
        }
    }
    b.to_string()
}

/// Sums of `cpu`, `memory` and `pods`-style resources, formatted for the status.
#[derive(Default, Debug)]
struct Sums {
    cpu: f64,
    memory: f64,
    pods: f64,
}

impl Sums {
    fn add(&mut self, resources: Option<&Value>) {
        let get = |k: &str| {
            resources
                .and_then(|r| r.get(k))
                .and_then(Value::as_str)
                .and_then(parse_quantity)
        };
        self.cpu += get("cpu").unwrap_or(0.0);
        self.memory += get("memory").unwrap_or(0.0);
        self.pods += get("pods").unwrap_or(0.0);
    }

    fn into_map(self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("cpu".to_string(), format_cpu(self.cpu)),
            ("memory".to_string(), format_bytes(self.memory)),
            ("pods".to_string(), format!("{}", self.pods.round() as i64)),
        ])
    }
}

/// What node objects say: counts, allocatable sum, and the most common region and zone.
#[derive(Debug, Default, PartialEq)]
pub struct NodeFacts {
    /// Counts.
    pub summary: NodeSummary,
    /// Sum of allocatable cpu, memory and pods.
    pub allocatable: BTreeMap<String, String>,
    /// Most common region label.
    pub region: Option<String>,
    /// Most common zone label.
    pub zone: Option<String>,
}

fn is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn most_common(values: impl Iterator<Item = String>) -> Option<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(v, _)| v)
}

/// Summarizes a list of nodes.
pub fn node_facts(nodes: &[Value]) -> NodeFacts {
    let mut sums = Sums::default();
    for n in nodes {
        sums.add(n.pointer("/status/allocatable"));
    }
    let label = |key: &'static str| {
        most_common(
            nodes
                .iter()
                .filter_map(move |n| {
                    n.pointer("/metadata/labels")
                        .and_then(|l| l.get(key))
                        .and_then(Value::as_str)
                })
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        )
    };
    NodeFacts {
        summary: NodeSummary {
            total_num: nodes.len() as u64,
            ready_num: nodes.iter().filter(|n| is_ready(n)).count() as u64,
        },
        allocatable: sums.into_map(),
        region: label(REGION_LABEL),
        zone: label(ZONE_LABEL),
    }
}

fn is_running(pod: &Value) -> bool {
    !matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// Sum of the requests of pods that are not finished; `pods` is their count.
pub fn allocated(pods: &[Value]) -> BTreeMap<String, String> {
    let mut sums = Sums::default();
    for p in pods.iter().filter(|p| is_running(p)) {
        let containers = p.pointer("/spec/containers").and_then(Value::as_array);
        for c in containers.into_iter().flatten() {
            sums.add(c.pointer("/resources/requests"));
        }
        sums.pods += 1.0;
    }
    sums.into_map()
}

/// Converts aggregated discovery documents (`/api` and `/apis`) to API enablements.
pub fn enablements_from_aggregated(docs: &[Value]) -> Vec<ApiEnablement> {
    let mut out = Vec::new();
    for item in docs
        .iter()
        .filter_map(|d| d.get("items").and_then(Value::as_array))
        .flatten()
    {
        let group = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        for v in item.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let version = v.get("version").and_then(Value::as_str).unwrap_or("");
            let mut resources: Vec<ApiResourceRef> = v
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    let name = r.get("resource").and_then(Value::as_str)?;
                    let kind = r.pointer("/responseKind/kind").and_then(Value::as_str).unwrap_or("");
                    Some(ApiResourceRef {
                        name: name.into(),
                        kind: kind.into(),
                    })
                })
                .collect();
            resources.sort();
            let group_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            out.push(ApiEnablement {
                group_version,
                resources,
            });
        }
    }
    out.sort();
    out
}

/// Converts a legacy `APIResourceList` to an enablement (subresources left out).
pub fn enablement_from_list(list: &Value) -> Option<ApiEnablement> {
    let group_version = list.get("groupVersion")?.as_str()?.to_string();
    let mut resources: Vec<ApiResourceRef> = list
        .get("resources")?
        .as_array()?
        .iter()
        .filter_map(|r| {
            let name = r.get("name")?.as_str()?;
            (!name.contains('/')).then(|| ApiResourceRef {
                name: name.into(),
                kind: r.get("kind").and_then(Value::as_str).unwrap_or("").into(),
            })
        })
        .collect();
    resources.sort();
    Some(ApiEnablement {
        group_version,
        resources,
    })
}

/// Discovery: aggregated (two requests), or legacy with the preferred version of each group.
pub async fn discover(m: &MemberClient) -> Result<Vec<ApiEnablement>, MemberError> {
    let aggregated = async {
        let core: Value = m.get_json("/api", Some(AGGREGATED)).await?;
        let groups: Value = m.get_json("/apis", Some(AGGREGATED)).await?;
        Ok::<_, MemberError>([core, groups])
    };
    match aggregated.await {
        Ok(docs) if docs.iter().all(|d| d["kind"] == "APIGroupDiscoveryList") => {
            return Ok(enablements_from_aggregated(&docs));
        }
        Err(e @ MemberError::Unauthorized(_)) => return Err(e),
        _ => {}
    }
    legacy_discovery(m).await
}

async fn legacy_discovery(m: &MemberClient) -> Result<Vec<ApiEnablement>, MemberError> {
    let mut out = Vec::new();
    let core: Value = m.get_json("/api/v1", None).await?;
    out.extend(enablement_from_list(&core));
    let groups: Value = m.get_json("/apis", None).await?;
    for g in groups.get("groups").and_then(Value::as_array).into_iter().flatten() {
        let Some(gv) = g.pointer("/preferredVersion/groupVersion").and_then(Value::as_str) else {
            continue;
        };
        let list: Value = m.get_json(&format!("/apis/{gv}"), None).await?;
        out.extend(enablement_from_list(&list));
    }
    out.sort();
    Ok(out)
}

/// Lists a resource, following `continue` up to `max_pages`.
async fn list_all(m: &MemberClient, path: &str, max_pages: usize) -> Result<Vec<Value>, MemberError> {
    let mut items = Vec::new();
    let mut cont = String::new();
    for _ in 0..max_pages {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{path}{sep}limit={POD_PAGE}{cont}");
        let page: Value = m.get_json(&url, None).await?;
        items.extend(page.get("items").and_then(Value::as_array).cloned().unwrap_or_default());
        match page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
        {
            Some(c) => cont = format!("&continue={}", percent_encode(c)),
            None => break,
        }
    }
    Ok(items)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Nodes and (when served) pods: node counts, allocatable and allocated.
pub async fn capacity(m: &MemberClient) -> Result<(NodeFacts, Option<BTreeMap<String, String>>), MemberError> {
    let nodes = list_all(m, "/api/v1/nodes", 10).await?;
    let facts = node_facts(&nodes);
    let selected = "/api/v1/pods?fieldSelector=status.phase!%3DSucceeded,status.phase!%3DFailed";
    let listed = match list_all(m, selected, MAX_POD_PAGES).await {
        Err(MemberError::Failed { .. }) => list_all(m, "/api/v1/pods", MAX_POD_PAGES).await,
        other => other,
    };
    let pods = match listed {
        Ok(p) => Some(allocated(&p)),
        Err(e @ MemberError::Unauthorized(_)) => return Err(e),
        Err(e) => {
            tracing::debug!(url = m.url(), error = %e, "listing pods");
            None
        }
    };
    Ok((facts, pods))
}

/// Builds the resource summary from node facts and the allocated sum.
pub fn resource_summary(nodes: &NodeFacts, allocated: Option<BTreeMap<String, String>>) -> ResourceSummary {
    ResourceSummary {
        allocatable: nodes.allocatable.clone(),
        allocated: allocated.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536.0));
        assert_eq!(parse_quantity("2e3"), Some(2000.0));
        assert_eq!(parse_quantity("1E"), Some(1e18));
        assert_eq!(parse_quantity("12M"), Some(12e6));
        assert_eq!(parse_quantity("x"), None);
        assert_eq!(parse_quantity("1Zi"), None);
        assert_eq!(format_cpu(3.5), "3500m");
        assert_eq!(format_cpu(4.0), "4");
        assert_eq!(format_bytes(3.0 * 1024f64.powi(3)), "3Gi");
        assert_eq!(format_bytes(1000.0), "1000");
        assert_eq!(format_bytes(0.0), "0");
    }

    fn node(ready: &str, region: &str, zone: &str) -> Value {
        json!({
            "metadata": {"labels": {REGION_LABEL: region, ZONE_LABEL: zone}},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": ready}]}
        })
    }

    #[test]
    fn nodes_are_summed() {
        let f = node_facts(&[
            node("True", "r1", "z1"),
            node("False", "r1", "z2"),
            node("True", "r2", "z1"),
        ]);
        assert_eq!(
            f.summary,
            NodeSummary {
                total_num: 3,
                ready_num: 2
            }
        );
        assert_eq!(f.allocatable["cpu"], "6");
        assert_eq!(f.allocatable["memory"], "12Gi");
        assert_eq!(f.allocatable["pods"], "330");
        assert_eq!(f.region.as_deref(), Some("r1"));
        assert_eq!(f.zone.as_deref(), Some("z1"));
        assert_eq!(node_facts(&[]).region, None);
    }

    #[test]
    fn pods_are_summed() {
        let pod = |phase: &str| {
            json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}, {}]},
                   "status": {"phase": phase}})
        };
        let a = allocated(&[pod("Running"), pod("Pending"), pod("Succeeded")]);
        assert_eq!(a["cpu"], "500m");
        assert_eq!(a["memory"], "128Mi");
        assert_eq!(a["pods"], "2");
    }

    #[test]
    fn discovery_documents_convert() {
        let core = json!({"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": ""}, "versions": [
            {"version": "v1", "resources": [{"resource": "pods", "responseKind": {"kind": "Pod"}}]}]}]});
        let apps = json!({"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": "apps"}, "versions": [
            {"version": "v1", "resources": [{"resource": "deployments", "responseKind": {"kind": "Deployment"}}]}]}]});
        let e = enablements_from_aggregated(&[core, apps]);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].group_version, "apps/v1");
        assert_eq!(e[1].group_version, "v1");
        assert_eq!(
            e[1].resources[0],
            ApiResourceRef {
                name: "pods".into(),
                kind: "Pod".into()
            }
        );
        let legacy = json!({"groupVersion": "v1", "resources": [{"name": "pods", "kind": "Pod"}, {"name": "pods/status", "kind": "Pod"}]});
        assert_eq!(enablement_from_list(&legacy).expect("list").resources.len(), 1);
    }
}
