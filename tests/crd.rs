//! Issue 3: CustomResourceDefinitions end to end, with the machine's kubectl and
//! raw requests: establishment, printer columns, defaulting, structural-schema
//! validation, pruning and strict field validation, the status and scale
//! subresources, the patch types a custom resource accepts, and deletion of a
//! CRD with its objects.

mod common;

use common::{Server, ok, raw};
use serde_json::{Value, json};
use std::process::Output;

/// The CRD under test: namespaced `widgets.example.com`, with a required
/// integer with bounds, an enum with a default, a nested object, status and
/// scale subresources and printer columns Size, Color, Age.
const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
      description: the color
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: Desired state of the widget.
            required: [size]
            properties:
              size:
                type: integer
                description: How big the widget is.
                minimum: 1
                maximum: 10
              color:
                type: string
                enum: [red, green, blue]
                default: blue
              replicas:
                type: integer
                minimum: 0
              owner:
                type: object
                properties:
                  name:
                    type: string
                  contact:
                    type: object
                    properties:
                      email:
                        type: string
          status:
            type: object
            properties:
              replicas:
                type: integer
              phase:
                type: string
"#;

/// Collection path of Widgets in `ns`.
fn widgets_path(ns: &str) -> String {
    format!("/apis/example.com/v1/namespaces/{ns}/widgets")
}

/// A Widget manifest (JSON) with the given spec.
fn widget(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// Runs kubectl and returns its stdout, failing the test when it fails.
fn run(s: &Server, args: &[&str]) -> String {
    ok(s.kubectl(args))
}

/// Runs kubectl with `stdin`, returning stdout; fails the test when it fails.
fn run_stdin(s: &Server, args: &[&str], stdin: &str) -> String {
    ok(s.kubectl_with("kubectl", args, Some(stdin)))
}

/// Runs kubectl expecting failure; returns stderr.
fn run_fail(s: &Server, args: &[&str], stdin: Option<&str>) -> String {
    let out: Output = s.kubectl_with("kubectl", args, stdin);
    assert!(
        !out.status.success(),
        "kubectl {args:?} unexpectedly succeeded:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl get ... -o json` parsed.
fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    let out = run(s, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON ({e}):\n{out}"))
}

/// Whether some line of a table has all the given cells, in order, as
/// whitespace-separated columns.
fn has_row(table: &str, cells: &[&str]) -> bool {
    table.lines().any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.windows(cells.len()).any(|w| w == cells)
    })
}

/// Applies the Widget CRD and waits until it is Established.
fn install_crd(s: &Server) {
    let out = run_stdin(s, &["apply", "-f", "-"], WIDGET_CRD);
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created",
        "apply CRD"
    );
    let out = run(
        s,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
    );
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com condition met",
        "kubectl wait"
    );
}

/// A server with the Widget CRD installed and Established.
fn server_with_crd() -> Server {
    let s = Server::start();
    install_crd(&s);
    s
}

/// Creates a Widget with kubectl from a JSON manifest.
fn create_widget(s: &Server, ns: &str, w: &Value) {
    let out = run_stdin(s, &["create", "-n", ns, "-f", "-"], &w.to_string());
    let name = w["metadata"]["name"].as_str().expect("name");
    assert_eq!(
        out.trim(),
        format!("widget.example.com/{name} created"),
        "create widget"
    );
}

/// The CRD becomes Established with accepted names; Widgets are listed with
/// the printer columns, get their defaults, and are reachable by short name.
#[test]
fn crd_established_printer_columns_and_defaults() {
    let s = server_with_crd();
    let crd = get_json(&s, &["get", "crd", "widgets.example.com"]);
    let conditions = crd["status"]["conditions"].as_array().expect("conditions");
    for t in ["Established", "NamesAccepted"] {
        assert!(
            conditions.iter().any(|c| c["type"] == t && c["status"] == "True"),
            "CRD lacks condition {t}=True: {crd}"
        );
    }
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget", "{crd}");
    assert_eq!(crd["status"]["acceptedNames"]["plural"], "widgets", "{crd}");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]), "{crd}");

    create_widget(
        &s,
        "default",
        &widget(
            "w",
            json!({"size": 3, "color": "red", "owner": {"name": "ann", "contact": {"email": "ann@example.com"}}}),
        ),
    );
    create_widget(&s, "default", &widget("w2", json!({"size": 5})));

    // Printer columns from additionalPrinterColumns.
    let table = run(&s, &["get", "widgets"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "COLOR", "AGE"], "get widgets header:\n{table}");
    assert!(has_row(&table, &["w", "3", "red"]), "get widgets lacks w:\n{table}");
    assert!(
        has_row(&table, &["w2", "5", "blue"]),
        "get widgets lacks w2 with its default color:\n{table}"
    );
    // Short name and fully qualified name.
    let table = run(&s, &["get", "wd", "w"]);
    assert!(has_row(&table, &["w", "3", "red"]), "get wd w:\n{table}");
    let table = run(&s, &["get", "widgets.example.com", "-A"]);
    assert!(has_row(&table, &["default", "w2", "5", "blue"]), "get -A:\n{table}");

    // The default was applied and stored; the nested object is kept.
    let w2 = get_json(&s, &["get", "widget", "w2"]);
    assert_eq!(w2["spec"], json!({"size": 5, "color": "blue"}), "defaulted spec");
    assert_eq!(w2["metadata"]["generation"], 1, "{w2}");
    let w = get_json(&s, &["get", "widget", "w"]);
    assert_eq!(w["spec"]["owner"]["contact"]["email"], "ann@example.com", "{w}");
    assert_eq!(w["kind"], "Widget");
    assert_eq!(w["apiVersion"], "example.com/v1");

    // Discovery lists the new resource.
    let out = run(&s, &["api-resources", "--api-group=example.com"]);
    assert!(
        has_row(&out, &["widgets", "wd", "example.com/v1", "true", "Widget"]),
        "api-resources lacks widgets:\n{out}"
    );
}

/// `kubectl explain` describes the Widget schema (published in OpenAPI v3).
#[test]
fn crd_explain() {
    let s = server_with_crd();
    let out = run(&s, &["explain", "widget.spec"]);
    for needle in [
        "KIND:",
        "Widget",
        "DESCRIPTION:",
        "Desired state of the widget.",
        "FIELDS:",
    ] {
        assert!(out.contains(needle), "explain widget.spec lacks {needle:?}:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("size\t<integer>") && l.contains("-required-")),
        "explain widget.spec does not list size as a required integer:\n{out}"
    );
    assert!(
        out.lines().any(|l| l.trim_start().starts_with("color\t<string>")),
        "explain widget.spec does not list color:\n{out}"
    );
}

/// Schema violations are rejected as Invalid with a cause per field.
#[tokio::test]
async fn crd_validation_rejects_invalid_widgets() {
    let s = server_with_crd();

    // kubectl: above the maximum and not in the enum.
    let bad = widget("bad", json!({"size": 20, "color": "purple"}));
    let err = run_fail(&s, &["create", "-f", "-"], Some(&bad.to_string()));
    // kubectl reformats a 422 with causes as one line per cause.
    assert!(
        err.contains(r#"The Widget "bad" is invalid: "#),
        "create of an invalid widget:\n{err}"
    );
    assert!(
        err.lines()
            .any(|l| l == "* spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"),
        "no spec.size maximum error:\n{err}"
    );
    assert!(
        err.lines()
            .any(|l| l == r#"* spec.color: Unsupported value: "purple": supported values: "red", "green", "blue""#),
        "no spec.color enum error:\n{err}"
    );
    // Missing the required field.
    let err = run_fail(
        &s,
        &["create", "-f", "-"],
        Some(&widget("bad", json!({"color": "red"})).to_string()),
    );
    assert!(
        err.contains(r#"The Widget "bad" is invalid: spec.size: Required value"#),
        "create without spec.size:\n{err}"
    );
    // Below the minimum.
    let err = run_fail(
        &s,
        &["create", "-f", "-"],
        Some(&widget("bad", json!({"size": 0})).to_string()),
    );
    assert!(
        err.contains("spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
        "create with size 0:\n{err}"
    );

    // The same through a raw request: a 422 Status with reason Invalid and causes.
    let c = s.client().await;
    let (code, status) = raw(
        &c,
        "POST",
        &widgets_path("default"),
        Some("application/json"),
        serde_json::to_vec(&bad).expect("json"),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "Invalid", "{status}");
    assert_eq!(status["code"], 422, "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(r#"Widget.example.com "bad" is invalid: ["#)
            && message.contains("spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10")
            && message.contains(r#"spec.color: Unsupported value: "purple": supported values: "red", "green", "blue""#),
        "{status}"
    );
    assert_eq!(status["details"]["name"], "bad", "{status}");
    assert_eq!(status["details"]["group"], "example.com", "{status}");
    assert_eq!(status["details"]["kind"], "Widget", "{status}");
    let mut causes: Vec<(String, String, String)> = status["details"]["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("no causes: {status}"))
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (f("field"), f("reason"), f("message"))
        })
        .collect();
    causes.sort();
    assert_eq!(
        causes,
        [
            (
                "spec.color".to_string(),
                "FieldValueNotSupported".to_string(),
                r#"Unsupported value: "purple": supported values: "red", "green", "blue""#.to_string()
            ),
            (
                "spec.size".to_string(),
                "FieldValueInvalid".to_string(),
                "Invalid value: 20: spec.size in body should be less than or equal to 10".to_string()
            ),
        ],
        "causes: {status}"
    );

    let (code, status) = raw(
        &c,
        "POST",
        &widgets_path("default"),
        Some("application/json"),
        serde_json::to_vec(&widget("bad", json!({"color": "red"}))).expect("json"),
    )
    .await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");
    assert_eq!(
        status["message"], r#"Widget.example.com "bad" is invalid: spec.size: Required value"#,
        "{status}"
    );
    assert_eq!(
        status["details"]["causes"],
        json!([{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}]),
        "{status}"
    );

    // Updates are validated too.
    create_widget(&s, "default", &widget("good", json!({"size": 2})));
    let err = run_fail(
        &s,
        &[
            "patch",
            "widget",
            "good",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":11}}"#,
        ],
        None,
    );
    assert!(
        err.contains("spec.size in body should be less than or equal to 10"),
        "patch to an invalid size:\n{err}"
    );
    // Nothing invalid was stored.
    let list = get_json(&s, &["get", "widgets"]);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["good"], "{list}");
    assert_eq!(list["items"][0]["spec"]["size"], 2);
}

/// Unknown fields are pruned (Ignore, and kubectl --validate=ignore), reported
/// (Warn) or rejected (Strict, kubectl's default).
#[tokio::test]
async fn crd_unknown_fields_pruned_or_rejected() {
    let s = server_with_crd();
    let with_unknown = |name: &str| {
        let mut w = widget(
            name,
            json!({"size": 4, "bogus": true, "owner": {"name": "bob", "extra": 1}}),
        );
        w["status"] = json!({"phase": "x", "junk": 1});
        w
    };

    // kubectl's default validation is strict.
    let err = run_fail(&s, &["create", "-f", "-"], Some(&with_unknown("s").to_string()));
    assert!(
        err.contains("strict decoding error") && err.contains(r#"unknown field "spec.bogus""#),
        "kubectl create with an unknown field:\n{err}"
    );
    // --validate=warn: created, with a warning naming the field.
    let out = s.kubectl_with(
        "kubectl",
        &["create", "--validate=warn", "-f", "-"],
        Some(&with_unknown("warned").to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "create --validate=warn failed:\n{stderr}");
    assert!(
        stderr.contains(r#"unknown field "spec.bogus""#),
        "no warning about spec.bogus:\n{stderr}"
    );
    // --validate=ignore: created silently, unknown fields pruned.
    let out = s.kubectl_with(
        "kubectl",
        &["create", "--validate=ignore", "-f", "-"],
        Some(&with_unknown("ignored").to_string()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "create --validate=ignore failed:\n{stderr}");
    assert!(
        !stderr.contains("unknown field"),
        "warning with --validate=ignore:\n{stderr}"
    );
    for name in ["warned", "ignored"] {
        let w = get_json(&s, &["get", "widget", name]);
        assert_eq!(
            w["spec"],
            json!({"size": 4, "color": "blue", "owner": {"name": "bob"}}),
            "unknown fields were not pruned from {name}"
        );
        assert!(
            w.get("status").is_none(),
            "status stored on create through the main resource: {w}"
        );
    }

    // Raw requests.
    let c = s.client().await;
    let (code, status) = raw(
        &c,
        "POST",
        &format!("{}?fieldValidation=Strict", widgets_path("default")),
        Some("application/json"),
        serde_json::to_vec(&with_unknown("strict")).expect("json"),
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest", "{status}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("strict decoding error")
            && message.contains(r#"unknown field "spec.bogus""#)
            && message.contains(r#"unknown field "spec.owner.extra""#),
        "{status}"
    );
    let (code, created) = raw(
        &c,
        "POST",
        &format!("{}?fieldValidation=Ignore", widgets_path("default")),
        Some("application/json"),
        serde_json::to_vec(&with_unknown("raw-ignored")).expect("json"),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["spec"],
        json!({"size": 4, "color": "blue", "owner": {"name": "bob"}}),
        "{created}"
    );
    // Strict also applies to updates.
    let (code, status) = raw(
        &c,
        "PATCH",
        &format!("{}/raw-ignored?fieldValidation=Strict", widgets_path("default")),
        Some("application/merge-patch+json"),
        br#"{"spec":{"bogus":1}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains(r#"unknown field "spec.bogus""#),
        "{status}"
    );
}

/// The status subresource: /status writes change only status, main writes
/// ignore status; the scale subresource maps to spec/status replicas.
#[tokio::test]
async fn crd_status_and_scale_subresources() {
    let s = server_with_crd();
    create_widget(&s, "default", &widget("w", json!({"size": 3, "replicas": 1})));

    // A /status write that also tries to change the spec.
    let out = run(
        &s,
        &[
            "patch",
            "widget",
            "w",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":9},"status":{"phase":"Ready","replicas":1}}"#,
        ],
    );
    assert_eq!(out.trim(), "widget.example.com/w patched", "status patch");
    let w = get_json(&s, &["get", "widget", "w"]);
    assert_eq!(
        w["status"],
        json!({"phase": "Ready", "replicas": 1}),
        "status after /status patch"
    );
    assert_eq!(w["spec"]["size"], 3, "a /status write changed the spec");
    assert_eq!(w["metadata"]["generation"], 1, "a /status write bumped generation");

    // A main-resource write that also tries to change status.
    run(
        &s,
        &[
            "patch",
            "widget",
            "w",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":4},"status":{"phase":"Hacked"}}"#,
        ],
    );
    let w = get_json(&s, &["get", "widget", "w"]);
    assert_eq!(w["spec"]["size"], 4, "spec after main patch");
    assert_eq!(w["status"]["phase"], "Ready", "a main write changed status");
    assert_eq!(w["metadata"]["generation"], 2, "spec change did not bump generation");

    // Raw PUT on /status with a stale spec: only status is taken.
    let c = s.client().await;
    let mut body = w.clone();
    body["spec"]["size"] = json!(7);
    body["status"]["phase"] = json!("Done");
    let (code, updated) = raw(
        &c,
        "PUT",
        &format!("{}/w/status", widgets_path("default")),
        Some("application/json"),
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["status"]["phase"], "Done", "{updated}");
    assert_eq!(updated["spec"]["size"], 4, "PUT /status changed the spec: {updated}");
    // Raw PUT on the main resource with a changed status: status ignored.
    let mut body = updated.clone();
    body["status"]["phase"] = json!("Nope");
    body["spec"]["color"] = json!("green");
    let (code, updated) = raw(
        &c,
        "PUT",
        &format!("{}/w", widgets_path("default")),
        Some("application/json"),
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["status"]["phase"], "Done", "PUT changed status: {updated}");
    assert_eq!(updated["spec"]["color"], "green", "{updated}");
    // Status is validated against the schema too.
    let (code, status) = raw(
        &c,
        "PATCH",
        &format!("{}/w/status", widgets_path("default")),
        Some("application/merge-patch+json"),
        br#"{"status":{"replicas":"many"}}"#.to_vec(),
    )
    .await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");

    // Scale subresource.
    let out = run(&s, &["scale", "widget", "w", "--replicas=3"]);
    assert_eq!(out.trim(), "widget.example.com/w scaled", "kubectl scale");
    let w = get_json(&s, &["get", "widget", "w"]);
    assert_eq!(w["spec"]["replicas"], 3, "spec.replicas after scale");
    assert_eq!(w["status"]["replicas"], 1, "scale changed status");
    let (code, scale) = raw(&c, "GET", &format!("{}/w/scale", widgets_path("default")), None, vec![]).await;
    assert_eq!(code, 200, "{scale}");
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1", "{scale}");
    assert_eq!(scale["metadata"]["name"], "w", "{scale}");
    assert_eq!(scale["spec"], json!({"replicas": 3}), "{scale}");
    assert_eq!(scale["status"]["replicas"], 1, "{scale}");
    // A negative scale is rejected.
    let (code, status) = raw(
        &c,
        "PATCH",
        &format!("{}/w/scale", widgets_path("default")),
        Some("application/merge-patch+json"),
        br#"{"spec":{"replicas":-1}}"#.to_vec(),
    )
    .await;
    assert_eq!((code, &status["reason"]), (422, &json!("Invalid")), "{status}");
    assert_eq!(get_json(&s, &["get", "widget", "w"])["spec"]["replicas"], 3);
    // Without labelSelectorPath the Scale has no selector (omitted, as kube's
    // `selector,omitempty` does), not an empty string.
    assert_eq!(
        scale["status"],
        json!({"replicas": 1}),
        "Scale status of a CRD without labelSelectorPath"
    );
}

/// Custom resources accept JSON and merge patches but not strategic merge
/// patches (415).
#[tokio::test]
async fn crd_strategic_merge_patch_unsupported() {
    let s = server_with_crd();
    create_widget(&s, "default", &widget("w", json!({"size": 1})));
    let err = run_fail(
        &s,
        &[
            "patch",
            "widget",
            "w",
            "--type=strategic",
            "-p",
            r#"{"spec":{"size":2}}"#,
        ],
        None,
    );
    assert!(
        err.contains("UnsupportedMediaType") || err.contains("unknown format"),
        "strategic merge patch on a Widget:\n{err}"
    );
    let c = s.client().await;
    let (code, status) = raw(
        &c,
        "PATCH",
        &format!("{}/w", widgets_path("default")),
        Some("application/strategic-merge-patch+json"),
        br#"{"spec":{"size":2}}"#.to_vec(),
    )
    .await;
    assert_eq!(code, 415, "{status}");
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["reason"], "UnsupportedMediaType", "{status}");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        "{status}"
    );
    assert_eq!(
        get_json(&s, &["get", "widget", "w"])["spec"]["size"],
        1,
        "415 changed the object"
    );

    // JSON patch and merge patch work.
    run(
        &s,
        &["patch", "widget", "w", "--type=merge", "-p", r#"{"spec":{"size":3}}"#],
    );
    run(
        &s,
        &[
            "patch",
            "widget",
            "w",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/color","value":"red"}]"#,
        ],
    );
    let w = get_json(&s, &["get", "widget", "w"]);
    assert_eq!(w["spec"], json!({"size": 3, "color": "red"}), "{w}");
    // And server-side apply: spec.size belongs to kubectl-patch, so applying
    // another value conflicts until forced.
    let applied = widget("w", json!({"size": 6})).to_string();
    let err = run_fail(&s, &["apply", "--server-side", "-f", "-"], Some(&applied));
    assert!(
        err.contains(r#"conflict with "kubectl-patch""#) && err.contains(".spec.size"),
        "server-side apply over a patched field:\n{err}"
    );
    let out = run_stdin(
        &s,
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &applied,
    );
    assert_eq!(out.trim(), "widget.example.com/w serverside-applied");
    assert_eq!(get_json(&s, &["get", "widget", "w"])["spec"]["size"], 6);
}

/// Deleting the CRD deletes every Widget and removes the resource from
/// discovery; a re-created CRD starts empty.
#[tokio::test]
async fn crd_delete_removes_widgets_and_resource() {
    let s = server_with_crd();
    run_stdin(
        &s,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n",
    );
    create_widget(&s, "default", &widget("a", json!({"size": 1})));
    create_widget(&s, "default", &widget("b", json!({"size": 2})));
    create_widget(&s, "other", &widget("c", json!({"size": 3})));
    let table = run(&s, &["get", "widgets", "-A"]);
    assert!(has_row(&table, &["other", "c", "3", "blue"]), "{table}");

    let out = run(&s, &["delete", "crd", "widgets.example.com", "--timeout=15s"]);
    assert!(
        out.contains(r#""widgets.example.com" deleted"#),
        "delete crd output:\n{out}"
    );
    let err = run_fail(&s, &["get", "crd", "widgets.example.com"], None);
    assert!(err.contains("NotFound"), "CRD still there after delete:\n{err}");

    let out = run(&s, &["api-resources"]);
    assert!(
        !out.lines().any(|l| l.starts_with("widgets ")),
        "widgets still in api-resources:\n{out}"
    );
    let err = run_fail(&s, &["get", "widgets"], None);
    assert!(
        err.contains(r#"the server doesn't have a resource type "widgets""#),
        "get widgets after the CRD is gone:\n{err}"
    );
    let c = s.client().await;
    let (code, body) = raw(&c, "GET", &widgets_path("default"), None, vec![]).await;
    assert_eq!(code, 404, "list widgets after the CRD is gone: {body}");
    let (code, body) = raw(&c, "GET", "/apis/example.com/v1", None, vec![]).await;
    assert_eq!(code, 404, "group version still served: {body}");

    // The Widgets were deleted with the CRD, not merely hidden.
    install_crd(&s);
    let out = s.kubectl(&["get", "widgets", "-A"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "get widgets after re-creating the CRD:\n{stderr}");
    assert_eq!(stdout, "", "widgets survived the CRD's deletion");
    assert!(stderr.contains("No resources found"), "{stderr}");
    let (code, list) = raw(&c, "GET", &widgets_path("other"), None, vec![]).await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["items"], json!([]), "widgets survived the CRD's deletion: {list}");
}
