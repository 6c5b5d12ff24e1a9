//! The status a controller manager and kubelets would report for each workload kind, given
//! how many of its pods fit in the cluster. Pure functions of the object, the grant and the
//! time; previous conditions keep their timestamps when they do not change, so recomputing
//! an unchanged workload yields an identical status (no write loops).

use crate::capacity::{self, Env, Kind};
use crate::util::{self, Cond, Stamps, condition, find_condition, put_nonzero, spec_replicas, u32_at};
use serde_json::{Map, Value, json};

/// The status of a workload of `kind` with `granted` running pods (None: not simulated here).
pub fn compute(kind: Kind, obj: &Value, granted: u32, env: &Env, now: &str) -> Option<Value> {
    let wanted = capacity::demand(kind, obj, env)?;
    let granted = granted.min(wanted);
    Some(match kind {
        Kind::Deployment => deployment(obj, granted, now),
        Kind::StatefulSet => statefulset(obj, granted),
        Kind::DaemonSet => daemonset(obj, wanted, granted),
        Kind::ReplicaSet => replicaset(obj, granted),
        Kind::Job => job(obj, granted, now),
        Kind::Pod => return None,
    })
}

/// Resolves an int-or-percent against `total` (percentages round up or down), `default` when unset.
fn scaled(v: Option<&Value>, total: u32, round_up: bool, default: &str) -> u32 {
    let pct = |p: u64| {
        let x = u64::from(total) * p;
        let r = if round_up { x.div_ceil(100) } else { x / 100 };
        u32::try_from(r).unwrap_or(u32::MAX)
    };
    match v {
        None | Some(Value::Null) => scaled(Some(&json!(default)), total, round_up, default),
        Some(Value::Number(n)) => n.as_i64().map_or(0, |n| n.clamp(0, i64::from(u32::MAX)) as u32),
        Some(Value::String(s)) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<u64>().map_or(0, |p| pct(p.min(100_000))),
            None => s.trim().parse::<u32>().unwrap_or(0),
        },
        Some(_) => 0,
    }
}

/// Pods a Deployment may have unavailable (kube's `MaxUnavailable` with its fenceposts).
pub fn max_unavailable(obj: &Value, replicas: u32) -> u32 {
    let ty = obj
        .pointer("/spec/strategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    if ty != "RollingUpdate" || replicas == 0 {
        return 0;
    }
    let ru = obj.pointer("/spec/strategy/rollingUpdate");
    let surge = scaled(ru.and_then(|r| r.get("maxSurge")), replicas, true, "25%");
    let mut unavailable = scaled(ru.and_then(|r| r.get("maxUnavailable")), replicas, false, "25%");
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    unavailable.min(replicas)
}

/// A Deployment's `Available` condition.
fn available_condition(minimum: bool) -> Cond<'static> {
    if minimum {
        Cond::new(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        Cond::new(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    }
}

/// A Deployment's `Progressing` condition (`message` names its current ReplicaSet).
fn progressing_condition<'a>(obj: &Value, complete: bool, message: &'a mut String) -> Cond<'a> {
    let rs = format!("{}-{}", util::meta_str(obj, "name"), util::template_hash(obj));
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Cond::new("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused");
    }
    if complete {
        *message = format!("ReplicaSet \"{rs}\" has successfully progressed.");
        Cond::new("Progressing", "True", "NewReplicaSetAvailable", message)
    } else {
        *message = format!("ReplicaSet \"{rs}\" is progressing.");
        Cond::new("Progressing", "True", "ReplicaSetUpdated", message)
    }
}

/// Deployment status: counts, `Available` against `maxUnavailable`, `Progressing`.
pub fn deployment(obj: &Value, granted: u32, now: &str) -> Value {
    let replicas = spec_replicas(obj);
    let ready = granted.min(replicas);
    let prev = obj.pointer("/status/conditions");
    let available = available_condition(ready >= replicas - max_unavailable(obj, replicas));
    let mut message = String::new();
    let progressing = progressing_condition(obj, ready == replicas, &mut message);
    let mut s = Map::new();
    s.insert("observedGeneration".into(), json!(util::generation(obj)));
    put_nonzero(&mut s, "replicas", replicas);
    put_nonzero(&mut s, "updatedReplicas", replicas);
    put_nonzero(&mut s, "readyReplicas", ready);
    put_nonzero(&mut s, "availableReplicas", ready);
    put_nonzero(&mut s, "unavailableReplicas", replicas - ready);
    let conditions = [available, progressing].map(|c| condition(find_condition(prev, c.ty), c, Stamps::Update, now));
    s.insert("conditions".into(), json!(conditions));
    Value::Object(s)
}

/// `<name>-<template hash>`: the controller revision of a StatefulSet's current template.
fn revision(obj: &Value) -> String {
    format!("{}-{}", util::meta_str(obj, "name"), util::template_hash(obj))
}

/// StatefulSet status: every replica created and updated, `granted` of them ready.
pub fn statefulset(obj: &Value, granted: u32) -> Value {
    let replicas = spec_replicas(obj);
    let ready = granted.min(replicas);
    let rev = revision(obj);
    let mut s = Map::new();
    s.insert("observedGeneration".into(), json!(util::generation(obj)));
    s.insert("replicas".into(), json!(replicas));
    put_nonzero(&mut s, "readyReplicas", ready);
    put_nonzero(&mut s, "currentReplicas", replicas);
    put_nonzero(&mut s, "updatedReplicas", replicas);
    s.insert("availableReplicas".into(), json!(ready));
    s.insert("currentRevision".into(), json!(rev));
    s.insert("updateRevision".into(), json!(rev));
    s.insert("collisionCount".into(), json!(0));
    Value::Object(s)
}

/// DaemonSet status: one pod per matching node (`desired`), `granted` of them ready.
pub fn daemonset(obj: &Value, desired: u32, granted: u32) -> Value {
    let ready = granted.min(desired);
    let mut s = Map::new();
    s.insert("currentNumberScheduled".into(), json!(desired));
    s.insert("desiredNumberScheduled".into(), json!(desired));
    s.insert("numberMisscheduled".into(), json!(0));
    s.insert("numberReady".into(), json!(ready));
    s.insert("observedGeneration".into(), json!(util::generation(obj)));
    put_nonzero(&mut s, "updatedNumberScheduled", desired);
    put_nonzero(&mut s, "numberAvailable", ready);
    put_nonzero(&mut s, "numberUnavailable", desired - ready);
    Value::Object(s)
}

/// Status of a ReplicaSet not managed by a Deployment.
pub fn replicaset(obj: &Value, granted: u32) -> Value {
    let replicas = spec_replicas(obj);
    let ready = granted.min(replicas);
    let mut s = Map::new();
    s.insert("replicas".into(), json!(replicas));
    put_nonzero(&mut s, "fullyLabeledReplicas", replicas);
    put_nonzero(&mut s, "readyReplicas", ready);
    put_nonzero(&mut s, "availableReplicas", ready);
    s.insert("observedGeneration".into(), json!(util::generation(obj)));
    Value::Object(s)
}

/// Previous Job conditions other than `drop`, with a `Suspended=True` turned into resumed.
fn job_conditions(obj: &Value, drop: &[&str], now: &str) -> Vec<Value> {
    let prev = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let resumed = Cond::new("Suspended", "False", "JobResumed", "Job resumed");
    prev.into_iter()
        .filter(|c| !drop.iter().any(|d| c.get("type").and_then(Value::as_str) == Some(d)))
        .map(|c| match c.get("type").and_then(Value::as_str) {
            Some("Suspended") => condition(Some(&c), resumed, Stamps::Probe, now),
            _ => c,
        })
        .collect()
}

/// `startTime` kept from the previous status, else now.
fn start_time(obj: &Value, now: &str) -> Value {
    obj.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(now))
}

/// A suspended Job: the `Suspended` condition, nothing running.
fn job_suspended(obj: &Value, now: &str) -> Vec<Value> {
    let suspended = Cond::new("Suspended", "True", "JobSuspended", "Job suspended");
    let mut conditions = job_conditions(obj, &["Suspended"], now);
    let prev = find_condition(obj.pointer("/status/conditions"), "Suspended");
    conditions.push(condition(prev, suspended, Stamps::Probe, now));
    conditions
}

/// A Job whose pods all succeeded: `Complete` and `SuccessCriteriaMet`, `succeeded` = completions.
fn job_completed(obj: &Value, s: &mut Map<String, Value>, now: &str) -> Vec<Value> {
    let mut conditions = job_conditions(obj, &["SuccessCriteriaMet", "Complete"], now);
    let msg = "Reached expected number of succeeded pods";
    for ty in ["SuccessCriteriaMet", "Complete"] {
        conditions.push(condition(
            None,
            Cond::new(ty, "True", "CompletionsReached", msg),
            Stamps::Probe,
            now,
        ));
    }
    s.insert("startTime".into(), start_time(obj, now));
    s.insert("completionTime".into(), json!(now));
    put_nonzero(s, "succeeded", u32_at(obj, "/spec/completions").unwrap_or(1));
    conditions
}

/// A Job waiting for capacity: its pods are active (pending).
fn job_waiting(obj: &Value, s: &mut Map<String, Value>, now: &str) -> Vec<Value> {
    s.insert("startTime".into(), start_time(obj, now));
    put_nonzero(
        s,
        "active",
        capacity::demand(Kind::Job, obj, &Env::default()).unwrap_or(0),
    );
    job_conditions(obj, &[], now)
}

/// Job status: finished Jobs keep theirs; suspended ones say so; a Job that got a pod
/// completes at once (`succeeded` = completions); one without capacity stays active.
pub fn job(obj: &Value, granted: u32, now: &str) -> Value {
    if capacity::job_finished(obj) {
        return obj.get("status").cloned().unwrap_or_else(|| json!({}));
    }
    let mut s = Map::new();
    let conditions = if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        job_suspended(obj, now)
    } else if granted > 0 || u32_at(obj, "/spec/completions") == Some(0) {
        job_completed(obj, &mut s, now)
    } else {
        job_waiting(obj, &mut s, now)
    };
    if !conditions.is_empty() {
        s.insert("conditions".into(), json!(conditions));
    }
    s.insert("ready".into(), json!(0));
    s.insert("terminating".into(), json!(0));
    s.insert("uncountedTerminatedPods".into(), json!({}));
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: u32, generation: i64) -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default", "generation": generation},
            "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        })
    }

    fn cond<'a>(s: &'a Value, ty: &str) -> &'a Value {
        find_condition(s.get("conditions"), ty).unwrap_or(&Value::Null)
    }

    #[test]
    fn max_unavailable_follows_kube() {
        assert_eq!(max_unavailable(&deploy(20, 1), 20), 5);
        assert_eq!(max_unavailable(&deploy(3, 1), 3), 0);
        assert_eq!(max_unavailable(&deploy(4, 1), 4), 1);
        assert_eq!(
            max_unavailable(&json!({"spec": {"strategy": {"type": "Recreate"}}}), 5),
            0
        );
        let fence = json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}});
        assert_eq!(max_unavailable(&fence, 5), 1);
        let big = json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": 9}}}});
        assert_eq!(max_unavailable(&big, 5), 5);
    }

    #[test]
    fn deployment_fully_available() {
        let s = deployment(&deploy(3, 2), 3, "t");
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(
            (
                s["replicas"].clone(),
                s["readyReplicas"].clone(),
                s["availableReplicas"].clone()
            ),
            (json!(3), json!(3), json!(3))
        );
        assert_eq!(s["updatedReplicas"], 3);
        assert!(s.get("unavailableReplicas").is_none());
        assert_eq!(cond(&s, "Available")["status"], "True");
        assert_eq!(cond(&s, "Progressing")["reason"], "NewReplicaSetAvailable");
        assert_eq!(cond(&s, "Progressing")["lastUpdateTime"], "t");
    }

    #[test]
    fn deployment_bounded_by_capacity() {
        // 20 wanted, 10 fit: below 20 - 5, so not minimally available.
        let s = deployment(&deploy(20, 3), 10, "t");
        assert_eq!(
            (s["readyReplicas"].clone(), s["unavailableReplicas"].clone()),
            (json!(10), json!(10))
        );
        assert_eq!(cond(&s, "Available")["status"], "False");
        assert_eq!(cond(&s, "Available")["reason"], "MinimumReplicasUnavailable");
        assert_eq!(cond(&s, "Progressing")["reason"], "ReplicaSetUpdated");
        // 16 of 20 is within maxUnavailable (5).
        assert_eq!(
            cond(&deployment(&deploy(20, 3), 16, "t"), "Available")["status"],
            "True"
        );
    }

    #[test]
    fn deployment_recompute_is_stable_and_tracks_transitions() {
        let mut d = deploy(3, 1);
        d["status"] = deployment(&d, 3, "t1");
        assert_eq!(deployment(&d, 3, "t2"), d["status"]);
        let s = deployment(&d, 1, "t3");
        assert_eq!(cond(&s, "Available")["lastTransitionTime"], "t3");
        assert_eq!(cond(&s, "Progressing")["lastTransitionTime"], "t1");
        assert_eq!(cond(&s, "Progressing")["lastUpdateTime"], "t3");
    }

    #[test]
    fn deployment_scaled_to_zero_omits_counts() {
        let s = deployment(&deploy(0, 4), 0, "t");
        assert_eq!(s["observedGeneration"], 4);
        assert!(s.get("replicas").is_none() && s.get("readyReplicas").is_none());
        assert_eq!(cond(&s, "Available")["status"], "True");
    }

    #[test]
    fn statefulset_and_replicaset_counts() {
        let sts = json!({"metadata": {"name": "db", "generation": 2}, "spec": {"replicas": 3, "template": {}}});
        let s = statefulset(&sts, 2);
        assert_eq!(
            (
                s["replicas"].clone(),
                s["readyReplicas"].clone(),
                s["availableReplicas"].clone()
            ),
            (json!(3), json!(2), json!(2))
        );
        assert_eq!(s["currentRevision"], s["updateRevision"]);
        assert!(s["currentRevision"].as_str().is_some_and(|r| r.starts_with("db-")));
        let rs = replicaset(&json!({"metadata": {"generation": 1}, "spec": {"replicas": 2}}), 5);
        assert_eq!(
            (
                rs["replicas"].clone(),
                rs["readyReplicas"].clone(),
                rs["fullyLabeledReplicas"].clone()
            ),
            (json!(2), json!(2), json!(2))
        );
    }

    #[test]
    fn daemonset_counts() {
        let s = daemonset(&json!({"metadata": {"generation": 1}}), 3, 2);
        assert_eq!(s["desiredNumberScheduled"], 3);
        assert_eq!(s["numberReady"], 2);
        assert_eq!(s["numberUnavailable"], 1);
        assert_eq!(s["updatedNumberScheduled"], 3);
    }

    #[test]
    fn job_completes_when_it_gets_a_pod() {
        let j = json!({"spec": {"completions": 3, "parallelism": 2}});
        let s = job(&j, 2, "t");
        assert_eq!(s["succeeded"], 3);
        assert_eq!(cond(&s, "Complete")["status"], "True");
        assert_eq!(cond(&s, "SuccessCriteriaMet")["status"], "True");
        assert_eq!(
            (s["startTime"].clone(), s["completionTime"].clone()),
            (json!("t"), json!("t"))
        );
        let done = json!({"spec": {"completions": 3}, "status": s});
        assert_eq!(job(&done, 0, "later"), done["status"]);
    }

    #[test]
    fn job_without_capacity_stays_active_and_suspended_says_so() {
        let s = job(&json!({"spec": {"parallelism": 2}}), 0, "t");
        assert_eq!(s["active"], 2);
        assert!(s.get("conditions").is_none());
        let sus = job(&json!({"spec": {"suspend": true}}), 0, "t");
        assert_eq!(cond(&sus, "Suspended")["status"], "True");
        let resumed = job(&json!({"spec": {}, "status": sus}), 1, "t2");
        assert_eq!(cond(&resumed, "Suspended")["status"], "False");
        assert_eq!(cond(&resumed, "Complete")["status"], "True");
    }

    #[test]
    fn compute_skips_deployment_owned_replicasets() {
        let rs =
            json!({"metadata": {"ownerReferences": [{"kind": "Deployment", "name": "web"}]}, "spec": {"replicas": 1}});
        assert_eq!(compute(Kind::ReplicaSet, &rs, 1, &Env::default(), "t"), None);
    }
}
