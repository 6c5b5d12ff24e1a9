//! OpenAPI v3 documents generated from the registry.
//!
//! kubectl needs, per group-version, a PATCH operation tagged with
//! `x-kubernetes-group-version-kind` that lists the `fieldValidation` parameter: it then
//! leaves validation to the server instead of failing to download a schema.

use crate::registry::{Registry, ResourceInfo};
use serde_json::{Value, json};

/// The `/openapi/v3` index.
pub fn index(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for g in reg.groups() {
        for v in reg.versions(g) {
            let p = gv_path(g, &v);
            let hash = doc_hash(&document(reg, g, &v));
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn doc_hash(doc: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

fn schema_name(r: &ResourceInfo) -> String {
    let g = if r.group.is_empty() {
        "core".to_string()
    } else {
        r.group.clone()
    };
    format!("io.ubernetes.{g}.{}.{}", r.version, r.kind)
}

fn gvk(r: &ResourceInfo) -> Value {
    json!([{"group": r.group, "version": r.version, "kind": r.kind}])
}

fn query_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn operations(r: &ResourceInfo, item: bool) -> Value {
    let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(r))});
    let body = json!({"content": {"application/json": {"schema": reference}}});
    let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
    // Operations carry the GVK as an object; schemas carry a list of them.
    let op_gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let common = |action: &str| json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": op_gvk});
    let mut ops = serde_json::Map::new();
    let write_params = json!([
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted."
        ),
        query_param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes."
        ),
        query_param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict."
        ),
    ]);
    if item {
        let mut get = common("get");
        get["responses"] = ok.clone();
        ops.insert("get".into(), get);
        let mut put = common("put");
        put["parameters"] = write_params.clone();
        put["requestBody"] = body.clone();
        put["responses"] = ok.clone();
        ops.insert("put".into(), put);
        let mut patch = common("patch");
        patch["parameters"] = write_params.clone();
        patch["requestBody"] = json!({"content": {
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
        }});
        patch["responses"] = ok.clone();
        ops.insert("patch".into(), patch);
        let mut del = common("delete");
        del["responses"] = json!({"200": {"description": "OK"}});
        ops.insert("delete".into(), del);
    } else {
        let mut list = common("list");
        list["responses"] = json!({"200": {"description": "OK"}});
        ops.insert("get".into(), list);
        let mut post = common("post");
        post["parameters"] = write_params;
        post["requestBody"] = body;
        post["responses"] =
            json!({"201": {"description": "Created", "content": {"application/json": {"schema": reference}}}});
        ops.insert("post".into(), post);
    }
    Value::Object(ops)
}

/// The document of one group-version.
pub fn document(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in reg.resources(group, version) {
        let base = format!("/{}", gv_path(group, version));
        let coll = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{base}/{}", r.plural)
        };
        paths.insert(coll.clone(), operations(&r, false));
        paths.insert(format!("{coll}/{{name}}"), operations(&r, true));
        schemas.insert(
            schema_name(&r),
            json!({"type": "object", "description": format!("{} of {}.", r.kind, r.api_version()),
                   "x-kubernetes-group-version-kind": gvk(&r), "x-kubernetes-preserve-unknown-fields": true}),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Ubernetes", "version": "v1.36.0"},
           "paths": paths, "components": {"schemas": schemas}})
}
