//! Issue 3, acceptance point 4: deleting an owner with each propagation policy
//! leaves exactly the dependents Kubernetes would leave.
//!
//! Each test builds a graph of owners and dependents (a Deployment owning
//! ConfigMaps, a dependent with two owners, a chain owner → child →
//! grandchild, dependents with and without `blockOwnerDeletion`, a dependent
//! held by a finalizer of its own), deletes the owner with one propagation
//! policy and polls, with a deadline, until the namespace holds exactly what
//! kube-apiserver plus kube-controller-manager's garbage collector would leave:
//!
//! - Background: the owner goes at once; dependents whose owners are all gone
//!   are deleted (recursively); a dependent with another live owner stays and
//!   loses only the reference to the deleted owner.
//! - Foreground: the owner stays, with `deletionTimestamp` and the
//!   `foregroundDeletion` finalizer, until every dependent that blocks it
//!   (`blockOwnerDeletion: true`) is gone; then it goes. Dependents that do not
//!   block are deleted too but do not hold the owner up.
//! - Orphan: the owner goes (after a transient `orphan` finalizer); every
//!   dependent stays with the reference to it removed.

mod common;

use common::Server;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long the garbage collector may take to settle.
const DEADLINE: Duration = Duration::from_secs(10);
/// A finalizer nobody but the test removes.
const HOLD: &str = "example.com/hold";

/// What the test sees of one ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// Names of its owners (from `ownerReferences`), in order.
    owners: Vec<String>,
    /// Whether `deletionTimestamp` is set.
    deleting: bool,
    /// Its finalizers.
    finalizers: Vec<String>,
}

/// A test namespace on a fresh server.
struct Graph {
    _server: Server,
    client: kube::Client,
    ns: String,
}

impl Graph {
    async fn new(ns: &str) -> Graph {
        let server = Server::start();
        let client = server.client().await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("create namespace");
        Graph {
            _server: server,
            client,
            ns: ns.to_string(),
        }
    }

    fn cms(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates Deployment `name`; returns a reference to it (not blocking).
    async fn deployment(&self, name: &str) -> OwnerReference {
        let d: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}
                }
            }
        }))
        .expect("deployment");
        let d = self
            .deployments()
            .create(&PostParams::default(), &d)
            .await
            .expect("create deployment");
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: name.into(),
            uid: d.metadata.uid.expect("uid"),
            ..Default::default()
        }
    }

    /// Creates ConfigMap `name` with the given owners and finalizers; returns a
    /// reference to it (not blocking).
    async fn cm(&self, name: &str, owners: &[OwnerReference], finalizers: &[&str]) -> OwnerReference {
        let mut meta = json!({"name": name});
        if !owners.is_empty() {
            meta["ownerReferences"] = serde_json::to_value(owners).expect("owner refs");
        }
        if !finalizers.is_empty() {
            meta["finalizers"] = json!(finalizers);
        }
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": meta, "data": {"k": "v"}})).expect("configmap");
        let cm = self
            .cms()
            .create(&PostParams::default(), &cm)
            .await
            .unwrap_or_else(|e| panic!("create configmap {name}: {e}"));
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: name.into(),
            uid: cm.metadata.uid.expect("uid"),
            ..Default::default()
        }
    }

    /// The ConfigMaps of the namespace (kube-root-ca.crt left out).
    async fn snapshot(&self) -> BTreeMap<String, Seen> {
        let list = self.cms().list(&Default::default()).await.expect("list configmaps");
        list.items
            .into_iter()
            .filter_map(|cm| {
                let m = cm.metadata;
                let name = m.name?;
                (name != "kube-root-ca.crt").then(|| {
                    let seen = Seen {
                        owners: m
                            .owner_references
                            .unwrap_or_default()
                            .into_iter()
                            .map(|r| r.name)
                            .collect(),
                        deleting: m.deletion_timestamp.is_some(),
                        finalizers: m.finalizers.unwrap_or_default(),
                    };
                    (name, seen)
                })
            })
            .collect()
    }

    /// The Deployment `name` if it exists.
    async fn get_deployment(&self, name: &str) -> Option<Deployment> {
        self.deployments().get_opt(name).await.expect("get deployment")
    }

    /// Deletes Deployment `name` with `policy`; returns the object when the
    /// answer is the object (deletion pending), None when it is a Status.
    async fn delete_deployment(&self, name: &str, policy: PropagationPolicy) -> Option<Deployment> {
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            ..Default::default()
        };
        let r = self.deployments().delete(name, &dp).await.expect("delete deployment");
        r.left()
    }

    /// Removes every finalizer from ConfigMap `name`.
    async fn release(&self, name: &str) {
        let p = json!({"metadata": {"finalizers": null}});
        self.cms()
            .patch(name, &PatchParams::default(), &Patch::Merge(&p))
            .await
            .unwrap_or_else(|e| panic!("release {name}: {e}"));
    }

    /// Polls until the ConfigMaps are exactly `want` and the Deployment
    /// `owner` exists (or not) as `owner_exists`; panics with the last state
    /// after the deadline.
    async fn settle(&self, what: &str, owner: &str, owner_exists: bool, want: &BTreeMap<String, Seen>) {
        let start = Instant::now();
        loop {
            let got = self.snapshot().await;
            let d = self.get_deployment(owner).await;
            if &got == want && d.is_some() == owner_exists {
                return;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "{what}: not settled after {DEADLINE:?}\nwant configmaps {want:#?}\n got configmaps {got:#?}\nwant owner {owner} exists: {owner_exists}, got: {:?}",
                    d.map(|d| (d.metadata.deletion_timestamp, d.metadata.finalizers))
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An owner reference with `blockOwnerDeletion: true`.
fn blocking(r: &OwnerReference) -> OwnerReference {
    OwnerReference {
        block_owner_deletion: Some(true),
        ..r.clone()
    }
}

/// A settled ConfigMap: its owners' names, not being deleted, no finalizers.
fn live(owners: &[&str]) -> Seen {
    Seen {
        owners: owners.iter().map(|s| s.to_string()).collect(),
        deleting: false,
        finalizers: vec![],
    }
}

/// A ConfigMap marked for deletion but held by [`HOLD`].
fn held(owners: &[&str]) -> Seen {
    Seen {
        owners: owners.iter().map(|s| s.to_string()).collect(),
        deleting: true,
        finalizers: vec![HOLD.to_string()],
    }
}

fn state(entries: &[(&str, Seen)]) -> BTreeMap<String, Seen> {
    entries.iter().map(|(n, s)| (n.to_string(), s.clone())).collect()
}

#[tokio::test]
async fn background_deletes_dependents_and_keeps_other_owners() {
    let g = Graph::new("gc-background").await;
    let owner = g.deployment("owner").await;
    let survivor = g.cm("survivor", &[], &[]).await;
    g.cm("dep-a", std::slice::from_ref(&owner), &[]).await;
    g.cm("dep-b", std::slice::from_ref(&owner), &[]).await;
    g.cm("shared", &[owner.clone(), survivor.clone()], &[]).await;
    let child = g.cm("child", std::slice::from_ref(&owner), &[]).await;
    g.cm("grandchild", &[child], &[]).await;
    g.cm("blocker", &[blocking(&owner)], &[]).await;
    g.cm("finalized", std::slice::from_ref(&owner), &[HOLD]).await;
    g.cm("bystander", &[], &[]).await;

    // Background is the default for apps/v1: the owner is deleted at once.
    let answer = g.delete_deployment("owner", PropagationPolicy::Background).await;
    assert!(
        answer.is_none(),
        "Background delete answered with the object: {answer:?}"
    );
    assert!(g.get_deployment("owner").await.is_none(), "owner still there");

    // The collector deletes dep-a, dep-b, blocker, child and (after child)
    // grandchild; `shared` keeps its other owner; `finalized` is marked and
    // waits for its own finalizer (an object being deleted is left alone, so
    // its reference stays).
    let want = state(&[
        ("survivor", live(&[])),
        ("shared", live(&["survivor"])),
        ("finalized", held(&["owner"])),
        ("bystander", live(&[])),
    ]);
    g.settle("Background", "owner", false, &want).await;

    g.release("finalized").await;
    let want = state(&[
        ("survivor", live(&[])),
        ("shared", live(&["survivor"])),
        ("bystander", live(&[])),
    ]);
    g.settle("Background, finalizer released", "owner", false, &want).await;

    // Once its last owner goes, `shared` goes too.
    g.cms()
        .delete("survivor", &DeleteParams::default())
        .await
        .expect("delete survivor");
    let want = state(&[("bystander", live(&[]))]);
    g.settle("Background, last owner of shared deleted", "owner", false, &want)
        .await;
}

#[tokio::test]
async fn foreground_waits_for_blocking_dependents() {
    let g = Graph::new("gc-foreground").await;
    let owner = g.deployment("owner").await;
    g.cm("dep-a", &[blocking(&owner)], &[]).await;
    g.cm("dep-b", std::slice::from_ref(&owner), &[]).await;
    let child = g.cm("child", &[blocking(&owner)], &[]).await;
    g.cm("grandchild", &[blocking(&child)], &[]).await;
    g.cm("held", &[blocking(&owner)], &[HOLD]).await;
    g.cm("bystander", &[], &[]).await;

    let d = g
        .delete_deployment("owner", PropagationPolicy::Foreground)
        .await
        .expect("Foreground delete answers with the object");
    assert!(
        d.metadata.deletion_timestamp.is_some(),
        "no deletionTimestamp: {:?}",
        d.metadata
    );
    assert_eq!(
        d.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_string()][..]),
        "finalizers of the deleted owner"
    );

    // Everything but `held` (waiting for its own finalizer) goes, blocking or
    // not, down the chain; the owner waits for `held`. (A dependent with
    // another owner: see dependent_with_a_surviving_owner_keeps_living.)
    let want = state(&[("held", held(&["owner"])), ("bystander", live(&[]))]);
    g.settle("Foreground", "owner", true, &want).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let d = g
        .get_deployment("owner")
        .await
        .expect("the owner must wait for its blocking dependent");
    assert!(d.metadata.deletion_timestamp.is_some());
    assert_eq!(
        d.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_string()][..]),
        "finalizers of the owner while a blocking dependent remains"
    );

    // Releasing the blocking dependent lets the owner go.
    g.release("held").await;
    let want = state(&[("bystander", live(&[]))]);
    g.settle("Foreground, blocking dependent released", "owner", false, &want)
        .await;
}

/// A dependent without `blockOwnerDeletion` is deleted, but does not hold up
/// its owner's foreground deletion.
#[tokio::test]
async fn foreground_does_not_wait_for_non_blocking_dependents() {
    let g = Graph::new("gc-foreground-nonblocking").await;
    let owner = g.deployment("owner").await;
    g.cm("lazy", std::slice::from_ref(&owner), &[HOLD]).await;
    g.cm("quick", std::slice::from_ref(&owner), &[]).await;

    g.delete_deployment("owner", PropagationPolicy::Foreground)
        .await
        .expect("Foreground delete answers with the object");
    let want = state(&[("lazy", held(&["owner"]))]);
    g.settle("Foreground with a non-blocking held dependent", "owner", false, &want)
        .await;

    g.release("lazy").await;
    g.settle(
        "Foreground, non-blocking dependent released",
        "owner",
        false,
        &BTreeMap::new(),
    )
    .await;
}

#[tokio::test]
async fn orphan_keeps_dependents_without_the_reference() {
    let g = Graph::new("gc-orphan").await;
    let owner = g.deployment("owner").await;
    let survivor = g.cm("survivor", &[], &[]).await;
    g.cm("dep-a", std::slice::from_ref(&owner), &[]).await;
    g.cm("dep-b", &[blocking(&owner)], &[]).await;
    g.cm("shared", &[owner.clone(), survivor.clone()], &[]).await;
    let child = g.cm("child", std::slice::from_ref(&owner), &[]).await;
    g.cm("grandchild", &[child], &[]).await;

    let d = g
        .delete_deployment("owner", PropagationPolicy::Orphan)
        .await
        .expect("Orphan delete answers with the object");
    assert!(
        d.metadata.deletion_timestamp.is_some(),
        "no deletionTimestamp: {:?}",
        d.metadata
    );
    assert!(
        d.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"orphan".to_string()),
        "no orphan finalizer on the owner"
    );

    let want = state(&[
        ("survivor", live(&[])),
        ("dep-a", live(&[])),
        ("dep-b", live(&[])),
        ("shared", live(&["survivor"])),
        ("child", live(&[])),
        ("grandchild", live(&["child"])),
    ]);
    g.settle("Orphan", "owner", false, &want).await;

    // The orphans are on their own now: a later delete of `child` in the
    // background still takes `grandchild` with it.
    g.cms()
        .delete("child", &DeleteParams::background())
        .await
        .expect("delete child");
    let want = state(&[
        ("survivor", live(&[])),
        ("dep-a", live(&[])),
        ("dep-b", live(&[])),
        ("shared", live(&["survivor"])),
    ]);
    g.settle("Orphan, then child deleted", "owner", false, &want).await;
}

/// Deleting one of two owners (each policy) leaves the dependent alive with
/// only the surviving reference.
#[tokio::test]
async fn dependent_with_a_surviving_owner_keeps_living() {
    let g = Graph::new("gc-two-owners").await;
    let survivor = g.cm("survivor", &[], &[]).await;
    for (i, policy) in [
        PropagationPolicy::Background,
        PropagationPolicy::Foreground,
        PropagationPolicy::Orphan,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("owner-{i}");
        let owner = g.deployment(&name).await;
        let dep = format!("dep-{i}");
        g.cm(&dep, &[blocking(&owner), survivor.clone()], &[]).await;
        g.delete_deployment(&name, policy.clone()).await;
        let mut want = vec![("survivor".to_string(), live(&[]))];
        for j in 0..=i {
            want.push((format!("dep-{j}"), live(&["survivor"])));
        }
        let want: BTreeMap<String, Seen> = want.into_iter().collect();
        g.settle(&format!("{policy:?} with a surviving owner"), &name, false, &want)
            .await;
    }
}
