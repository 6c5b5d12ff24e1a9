//! Issue 5: propagation to member clusters, overrides, status aggregation, policy moves,
//! drift correction and deletion, against a real `ubernetes up` (federation + 3 members).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `ubernetes up`: the federation and its members, each with a kubeconfig.
struct System {
    _dir: tempfile::TempDir,
    child: Child,
    federation: PathBuf,
    members: Vec<(String, PathBuf)>,
    cache: tempfile::TempDir,
}

impl System {
    fn up() -> System {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ubernetes"))
            .args([
                "up",
                "--port",
                "0",
                "--members",
                "3",
                "--cluster-probe-interval",
                "1",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ubernetes up");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut members = Vec::new();
        let federation = loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read up's output");
            assert!(n > 0, "ubernetes up exited before serving");
            if line.starts_with("member-") {
                let name = line.split_whitespace().next().unwrap_or_default().to_string();
                let kc = line
                    .split("KUBECONFIG=")
                    .nth(1)
                    .map(|s| s.trim().to_string())
                    .expect("member kubeconfig");
                members.push((name, PathBuf::from(kc)));
            }
            if let Some(kc) = line
                .strip_prefix("ubernetes serving on ")
                .and_then(|l| l.split("kubeconfig=").nth(1))
            {
                break PathBuf::from(kc.trim());
            }
        };
        std::thread::spawn(move || for _ in reader.lines() {});
        assert_eq!(members.len(), 3, "three members started");
        System {
            _dir: dir,
            child,
            federation,
            members,
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn kubectl_at(&self, kubeconfig: &PathBuf, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECACHEDIR", self.cache.path())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        if let Some(s) = stdin {
            c.stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        c.wait_with_output().expect("kubectl output")
    }

    /// Waits until all three members are Ready.
    fn wait_ready(&self) {
        eventually("3 Ready clusters", Duration::from_secs(30), || {
            self.fed(&[
                "get",
                "clusters",
                "-o",
                "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .split_whitespace()
            .filter(|s| *s == "True")
            .count()
                == 3
        });
    }

    fn fed(&self, args: &[&str]) -> String {
        common::ok(self.kubectl_at(&self.federation, args, None))
    }

    fn apply(&self, manifest: &str) {
        common::ok(self.kubectl_at(&self.federation, &["apply", "-f", "-"], Some(manifest)));
    }

    fn member(&self, i: usize, args: &[&str]) -> Output {
        self.kubectl_at(&self.members[i].1, args, None)
    }

    /// Names of objects of `kind` in the default namespace of member `i`.
    fn member_names(&self, i: usize, kind: &str) -> Vec<String> {
        let out = self.member(
            i,
            &["get", kind, "-n", "default", "-o", "jsonpath={.items[*].metadata.name}"],
        );
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|n| *n != "kube-root-ca.crt")
            .map(String::from)
            .collect()
    }

    fn member_json(&self, i: usize, what: &str) -> Option<serde_json::Value> {
        let out = self.member(i, &["get", what, "-n", "default", "-o", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eventually(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {deadline:?} waiting for: {what}");
}

const APP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: default}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        volumeMounts: [{name: cfg, mountPath: /etc/web}]
      volumes: [{name: cfg, configMap: {name: web-config}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 18080, targetPort: 80}]
---
apiVersion: policy.ubernetes.io/v1alpha1
kind: OverridePolicy
metadata: {name: web, namespace: default}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: web}]
  overrideRules:
  - targetCluster: {clusterNames: [member-2]}
    overriders:
      imageOverrider: [{component: Tag, operator: replace, value: "1.28"}]
"#;

fn policy(region: &str) -> String {
    format!(
        r#"
apiVersion: policy.ubernetes.io/v1alpha1
kind: PropagationPolicy
metadata: {{name: web, namespace: default}}
spec:
  propagateDeps: true
  resourceSelectors:
  - {{apiVersion: apps/v1, kind: Deployment, name: web}}
  - {{apiVersion: v1, kind: Service, name: web}}
  placement:
    clusterAffinity:
      fieldSelector:
        matchExpressions: [{{key: region, operator: In, values: [{region}]}}]
"#
    )
}

fn image_in(sys: &System, i: usize) -> Option<String> {
    sys.member_json(i, "deploy/web").and_then(|d| {
        d.pointer("/spec/template/spec/containers/0/image")
            .and_then(|v| v.as_str())
            .map(String::from)
    })
}

/// HTTP GET to an address, returning the body.
fn http_get(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the load balancer address");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn objects_follow_the_policy_with_overrides_status_drift_and_deletion() {
    let sys = System::up();
    sys.wait_ready();
    sys.apply(APP);
    sys.apply(&policy("region-1"));

    // Exactly the clusters of region-1 (member-1, member-2), the ConfigMap too (propagateDeps).
    eventually("deployment in region-1 members", Duration::from_secs(20), || {
        sys.member_names(0, "deploy") == ["web"] && sys.member_names(1, "deploy") == ["web"]
    });
    assert!(sys.member_names(2, "deploy").is_empty(), "member-3 is in region-2");
    eventually(
        "the mounted ConfigMap follows the Deployment",
        Duration::from_secs(10),
        || sys.member_names(0, "configmaps") == ["web-config"] && sys.member_names(1, "configmaps") == ["web-config"],
    );
    assert!(sys.member_names(2, "configmaps").is_empty());
    // Per-cluster override.
    assert_eq!(image_in(&sys, 0).as_deref(), Some("nginx:1.27"));
    assert_eq!(image_in(&sys, 1).as_deref(), Some("nginx:1.28"));

    // Status back: rollout status completes; READY sums the members.
    common::ok(sys.kubectl_at(
        &sys.federation,
        &["rollout", "status", "deploy/web", "--timeout=30s"],
        None,
    ));
    eventually("ready replicas summed over 2 clusters", Duration::from_secs(20), || {
        sys.fed(&["get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}"]) == "4"
    });
    // The Service lists each cluster's load-balancer address, and each really serves.
    let mut ips = Vec::new();
    eventually("two load-balancer addresses", Duration::from_secs(20), || {
        let out = sys.fed(&[
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ]);
        ips = out.split_whitespace().map(String::from).collect();
        ips.len() == 2
    });
    let answers: Vec<String> = ips.iter().map(|ip| http_get(&format!("{ip}:18080"))).collect();
    assert!(answers.iter().any(|a| a.contains("member-1")), "{answers:?}");
    assert!(answers.iter().any(|a| a.contains("member-2")), "{answers:?}");
    // The placement record says where it went.
    let placement = sys.fed(&["get", "placements", "deployment-web", "-o", "json"]);
    assert!(placement.contains("member-1") && placement.contains("member-2") && !placement.contains("member-3"));

    // Drift: an edit in a member is undone within 5 s.
    common::ok(sys.member(0, &["set", "image", "deploy/web", "web=nginx:evil"]));
    eventually("drift corrected", Duration::from_secs(5), || {
        image_in(&sys, 0).as_deref() == Some("nginx:1.27")
    });

    // A new image in the federation rolls out everywhere.
    sys.fed(&["set", "image", "deploy/web", "web=nginx:1.29"]);
    eventually("new image in member-1", Duration::from_secs(15), || {
        image_in(&sys, 0).as_deref() == Some("nginx:1.29")
    });
    assert_eq!(
        image_in(&sys, 1).as_deref(),
        Some("nginx:1.28"),
        "the override still wins in member-2"
    );

    // Moving the policy to region-2 moves the objects.
    sys.apply(&policy("region-2"));
    eventually("moved to member-3", Duration::from_secs(20), || {
        sys.member_names(2, "deploy") == ["web"]
            && sys.member_names(0, "deploy").is_empty()
            && sys.member_names(1, "deploy").is_empty()
    });
    eventually("service moved too", Duration::from_secs(20), || {
        sys.member_names(2, "svc") == ["web"]
    });

    // Deleting in the federation removes every member copy, then the object itself.
    sys.fed(&["delete", "deploy", "web", "--wait=true", "--timeout=30s"]);
    eventually("member copies removed", Duration::from_secs(20), || {
        (0..3).all(|i| sys.member_names(i, "deploy").is_empty())
    });

    // --cascade=orphan leaves the member copies in place, no longer managed.
    sys.fed(&[
        "delete",
        "svc",
        "web",
        "--cascade=orphan",
        "--wait=true",
        "--timeout=30s",
    ]);
    assert!(sys.fed(&["get", "svc", "-o", "name"]).is_empty());
    eventually("the orphaned copy released", Duration::from_secs(20), || {
        sys.member_json(2, "svc/web").is_some_and(|s| {
            s.pointer("/metadata/labels/propagation.ubernetes.io~1managed-by")
                .is_none()
        })
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sys.member_names(2, "svc"), ["web"], "the orphaned copy stays");
}

#[test]
fn objects_without_a_policy_stay_in_the_federation() {
    let sys = System::up();
    eventually("clusters ready", Duration::from_secs(30), || {
        sys.fed(&["get", "clusters", "-o", "name"]).lines().count() == 3
    });
    sys.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local-only, namespace: default}\ndata: {a: b}\n");
    sys.apply(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: solo, namespace: default}\nspec:\n  selector: {matchLabels: {app: solo}}\n  template:\n    metadata: {labels: {app: solo}}\n    spec: {containers: [{name: c, image: nginx}]}\n",
    );
    // The Deployment's status says it is in the federation only.
    eventually(
        "Propagated=False on an unselected Deployment",
        Duration::from_secs(20),
        || {
            sys.fed(&[
                "get",
                "deploy",
                "solo",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Propagated\")].reason}",
            ]) == "NoPolicy"
        },
    );
    for i in 0..3 {
        assert!(!sys.member_names(i, "configmaps").contains(&"local-only".to_string()));
        assert!(!sys.member_names(i, "deployments").contains(&"solo".to_string()));
    }

    // An object that already exists in a member, made by someone else, is not taken over.
    common::ok(sys.kubectl_at(
        &sys.members[0].1,
        &[
            "create",
            "configmap",
            "theirs",
            "-n",
            "default",
            "--from-literal=owner=member",
        ],
        None,
    ));
    sys.apply(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: default}\ndata: {owner: federation}\n---\n\
         apiVersion: policy.ubernetes.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: theirs, namespace: default}\nspec:\n  \
         resourceSelectors: [{apiVersion: v1, kind: ConfigMap, name: theirs}]\n  placement: {clusterAffinity: {clusterNames: [member-1]}}\n",
    );
    eventually("the conflict in the placement", Duration::from_secs(20), || {
        sys.fed(&[
            "get",
            "placement",
            "configmap-theirs",
            "-o",
            "jsonpath={.status.clusters[0].state}/{.status.clusters[0].reason}",
        ]) == "Failed/Conflict"
    });
    let owner = |sys: &System| {
        sys.member_json(0, "configmap/theirs")
            .and_then(|c| c.pointer("/data/owner").cloned())
    };
    assert_eq!(owner(&sys), Some(serde_json::json!("member")));
    eventually("a Warning Event about the conflict", Duration::from_secs(20), || {
        sys.fed(&[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "involvedObject.name=theirs",
            "-o",
            "jsonpath={.items[*].reason}",
        ])
        .contains("Conflict")
    });
    // conflictResolution: Overwrite takes it over.
    sys.fed(&[
        "patch",
        "propagationpolicy",
        "theirs",
        "--type=merge",
        "-p",
        r#"{"spec":{"conflictResolution":"Overwrite"}}"#,
    ]);
    eventually("the member copy taken over", Duration::from_secs(20), || {
        owner(&sys) == Some(serde_json::json!("federation"))
    });
    let labels = sys
        .member_json(0, "configmap/theirs")
        .and_then(|c| c.pointer("/metadata/labels").cloned());
    assert_eq!(
        labels.and_then(|l| l.get("propagation.ubernetes.io/managed-by").cloned()),
        Some(serde_json::json!("ubernetes"))
    );

    // Unjoining with --remove-propagated deletes what the federation put in the member and
    // leaves the member's own objects.
    common::ok(sys.kubectl_at(
        &sys.members[0].1,
        &["create", "configmap", "own", "-n", "default", "--from-literal=a=b"],
        None,
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_ubernetes"))
        .args(["unjoin", "member-1", "--remove-propagated", "--kubeconfig"])
        .arg(&sys.federation)
        .output()
        .expect("run unjoin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "unjoin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("propagated objects removed from member-1"), "{stdout}");
    let left = sys.member_names(0, "configmaps");
    assert!(!left.contains(&"theirs".to_string()), "{left:?}");
    assert!(left.contains(&"own".to_string()), "{left:?}");
    assert!(!sys.fed(&["get", "clusters", "-o", "name"]).contains("member-1"));
}

/// A federation process (`serve`) that can be killed and restarted on the same port.
struct Proc {
    child: Option<Child>,
    args: Vec<String>,
    port: u16,
}

impl Proc {
    fn start(args: &[&str]) -> (Proc, PathBuf) {
        let mut p = Proc {
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
            port: 0,
        };
        let kc = p.spawn();
        (p, kc)
    }

    fn spawn(&mut self) -> PathBuf {
        let mut args = self.args.clone();
        args.extend(["--secure-port".to_string(), self.port.to_string()]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_ubernetes"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ubernetes");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("serving line");
        std::thread::spawn(move || for _ in reader.lines() {});
        let addr = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .expect("address");
        self.port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
        self.child = Some(child);
        PathBuf::from(line.split("kubeconfig=").nth(1).expect("kubeconfig").trim())
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn run_ok(kubeconfig: &PathBuf, args: &[&str], stdin: Option<&str>) -> String {
    let mut c = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(s) = stdin {
        c.stdin.take().expect("stdin").write_all(s.as_bytes()).expect("stdin");
    }
    common::ok(c.wait_with_output().expect("kubectl"))
}

fn configmaps(kubeconfig: &PathBuf, ns: &str) -> Vec<String> {
    let out = run_ok(
        kubeconfig,
        &[
            "get",
            "configmaps",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        None,
    );
    let mut v: Vec<String> = out
        .split_whitespace()
        .filter(|n| *n != "kube-root-ca.crt")
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Killing the federation while it propagates 200 objects, then restarting it, converges to
/// exactly the desired state in every member: no object missing, none extra.
#[test]
fn federation_restart_mid_propagation_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = |s: &str| dir.path().join(s).to_string_lossy().into_owned();
    let (_m1, m1_kc) = Proc::start(&[
        "member",
        "--name",
        "m1",
        "--region",
        "r1",
        "--zone",
        "z1",
        "--data-dir",
        &d("m1"),
    ]);
    let (_m2, m2_kc) = Proc::start(&[
        "member",
        "--name",
        "m2",
        "--region",
        "r2",
        "--zone",
        "z2",
        "--data-dir",
        &d("m2"),
    ]);
    let (mut fed, fed_kc) = Proc::start(&["serve", "--cluster-probe-interval", "1", "--data-dir", &d("fed")]);
    for (name, kc) in [("m1", &m1_kc), ("m2", &m2_kc)] {
        let out = Command::new(env!("CARGO_BIN_EXE_ubernetes"))
            .args(["join", name, "--cluster-kubeconfig"])
            .arg(kc)
            .env("KUBECONFIG", &fed_kc)
            .output()
            .expect("join");
        assert!(
            out.status.success(),
            "join {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    run_ok(&fed_kc, &["create", "namespace", "bulk"], None);
    run_ok(
        &fed_kc,
        &["apply", "-f", "-"],
        Some(
            "apiVersion: policy.ubernetes.io/v1alpha1\nkind: ClusterPropagationPolicy\nmetadata: {name: all-cms}\nspec:\n  resourceSelectors: [{apiVersion: v1, kind: ConfigMap, namespace: bulk}]\n",
        ),
    );
    let mut manifest = String::new();
    for i in 0..200 {
        manifest.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:03}, namespace: bulk}}\ndata: {{i: \"{i}\"}}\n"));
    }
    run_ok(&fed_kc, &["apply", "-f", "-"], Some(&manifest));
    // Kill it as soon as propagation has started, before it can finish.
    eventually("propagation started", Duration::from_secs(30), || {
        !configmaps(&m1_kc, "bulk").is_empty()
    });
    fed.kill9();
    let partial = configmaps(&m1_kc, "bulk").len();
    fed.spawn();
    let want: Vec<String> = (0..200).map(|i| format!("cm-{i:03}")).collect();
    eventually(
        "both members hold exactly the 200 ConfigMaps",
        Duration::from_secs(60),
        || configmaps(&m1_kc, "bulk") == want && configmaps(&m2_kc, "bulk") == want,
    );
    // And deletions after the restart still propagate.
    let to_delete: Vec<String> = (0..100).map(|i| format!("cm-{i:03}")).collect();
    let mut args = vec!["delete", "configmaps", "-n", "bulk", "--wait=false"];
    args.extend(to_delete.iter().map(|s| s.as_str()));
    run_ok(&fed_kc, &args, None);
    let rest: Vec<String> = (100..200).map(|i| format!("cm-{i:03}")).collect();
    eventually("deleted ones removed from members", Duration::from_secs(60), || {
        configmaps(&m1_kc, "bulk") == rest && configmaps(&m2_kc, "bulk") == rest
    });
    eprintln!("member-1 held {partial} of 200 when the federation was killed");
}

const WIDGETS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
---
apiVersion: policy.ubernetes.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: widget-crd}
spec:
  resourceSelectors: [{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: widgets.example.com}]
  placement: {clusterAffinity: {clusterNames: [member-1, member-3]}}
"#;

/// A CRD and its custom resources propagate like built-in kinds; a federated HPA leaves
/// replicas to the members.
#[test]
fn custom_resources_propagate_and_hpa_replicas_are_kept() {
    let sys = System::up();
    sys.wait_ready();
    sys.apply(WIDGETS);
    eventually("the CRD in member-1 and member-3", Duration::from_secs(20), || {
        [0, 2]
            .iter()
            .all(|&i| sys.member(i, &["get", "crd", "widgets.example.com"]).status.success())
    });
    sys.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n---\n\
         apiVersion: policy.ubernetes.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: widgets, namespace: default}\n\
         spec:\n  resourceSelectors: [{apiVersion: example.com/v1, kind: Widget}]\n  placement: {clusterAffinity: {clusterNames: [member-1, member-3]}}\n",
    );
    eventually("the Widget in member-1 and member-3", Duration::from_secs(20), || {
        sys.member_names(0, "widgets") == ["w1"] && sys.member_names(2, "widgets") == ["w1"]
    });
    assert!(
        !sys.member(1, &["get", "crd", "widgets.example.com"]).status.success(),
        "member-2 is not selected"
    );

    // A Deployment with a federated HPA: the member's replica count is kept.
    sys.apply(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: default}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: api, image: nginx}]}\n---\n\
         apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api, namespace: default}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}\n  minReplicas: 1\n  maxReplicas: 10\n---\n\
         apiVersion: policy.ubernetes.io/v1alpha1\nkind: PropagationPolicy\nmetadata: {name: api, namespace: default}\n\
         spec:\n  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: api}, {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: api}]\n  placement: {clusterAffinity: {clusterNames: [member-1]}}\n",
    );
    eventually("api in member-1", Duration::from_secs(20), || {
        sys.member_names(0, "deploy") == ["api"]
    });
    common::ok(sys.member(0, &["scale", "deploy/api", "--replicas=7"]));
    std::thread::sleep(Duration::from_secs(4));
    let replicas = sys
        .member_json(0, "deploy/api")
        .and_then(|d| d.pointer("/spec/replicas").and_then(|r| r.as_i64()));
    assert_eq!(replicas, Some(7), "the member's autoscaled replicas are kept");
}
