//! Subresources with their own representation: `scale` (autoscaling/v1 Scale) and
//! the namespace `finalize` endpoint.

use crate::error::{ApiError, ApiResult};
use crate::http::handlers::{Change, Ctx, update_with};
use crate::http::response::{self, Body};
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// Handles `/scale` and `/finalize`.
pub async fn handle(ctx: &Ctx<'_>, method: &Method, body: &Bytes, content_type: &str) -> ApiResult<Response<Body>> {
    match ctx.path.subresource.as_deref() {
        Some("scale") => scale(ctx, method, body, content_type).await,
        Some("finalize") if *method == Method::PUT => finalize(ctx, body).await,
        _ => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

fn selector_string(obj: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(m) = obj.pointer("/spec/selector/matchLabels").and_then(|m| m.as_object()) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    if let Some(exprs) = obj
        .pointer("/spec/selector/matchExpressions")
        .and_then(|m| m.as_array())
    {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or("");
            let vals: Vec<&str> = e["values"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            match e["operator"].as_str().unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", vals.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", vals.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

/// Where replicas and the selector live: built-ins use spec/status.replicas and
/// spec.selector; custom resources use their CRD's scale paths.
struct ScaleMap {
    spec: String,
    status: String,
    selector: Option<String>,
}

fn scale_map(info: &crate::registry::ResourceInfo) -> ScaleMap {
    match info.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(p) => ScaleMap {
            spec: crate::crd::json_pointer(&p.spec_replicas),
            status: crate::crd::json_pointer(&p.status_replicas),
            // Without labelSelectorPath a custom resource's Scale has no selector.
            selector: Some(
                p.label_selector
                    .as_deref()
                    .map(crate::crd::json_pointer)
                    .unwrap_or_default(),
            ),
        },
        None => ScaleMap {
            spec: "/spec/replicas".into(),
            status: "/status/replicas".into(),
            selector: None,
        },
    }
}

fn to_scale(obj: &Value, map: &ScaleMap) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let mut m = serde_json::Map::new();
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    let selector = match &map.selector {
        Some(p) if p.is_empty() => String::new(),
        Some(p) => obj.pointer(p).and_then(|s| s.as_str()).unwrap_or("").to_string(),
        None => selector_string(obj),
    };
    let mut status = json!({"replicas": obj.pointer(&map.status).cloned().unwrap_or(json!(0))});
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": m,
           "spec": {"replicas": obj.pointer(&map.spec).cloned().unwrap_or(json!(0))},
           "status": status})
}

/// Sets a JSON pointer path, creating objects on the way.
fn set_path(obj: &mut Value, pointer: &str, v: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(o) = cur.as_object_mut() else { return };
        if i + 1 == parts.len() {
            o.insert(p.to_string(), v);
            return;
        }
        cur = o.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}

async fn scale(ctx: &Ctx<'_>, method: &Method, body: &Bytes, content_type: &str) -> ApiResult<Response<Body>> {
    let name = ctx.path.name.clone().ok_or_else(ApiError::path_not_found)?;
    let prefix = ctx.info.key_prefix();
    let suffix = match &ctx.path.namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let map = scale_map(&ctx.info);
    if *method == Method::GET {
        let cur = ctx
            .server
            .cache
            .get(&prefix, &suffix)
            .ok_or_else(|| ApiError::not_found(ctx.info.group_resource(), &name))?;
        return Ok(response::json(StatusCode::OK, &to_scale(&cur.value(), &map)));
    }
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let input: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))?;
    let info = ctx.info.clone();
    let (v, _) = update_with(
        ctx.server,
        &info,
        &prefix,
        &suffix,
        &name,
        ctx.query.dry_run,
        |old, cur_rv| {
            let mut s = to_scale(old, &map);
            match (method, ct) {
                (&Method::PUT, _) => s = input.clone(),
                (&Method::PATCH, "application/merge-patch+json") => json_patch::merge(&mut s, &input),
                (&Method::PATCH, "application/json-patch+json") => {
                    let p: json_patch::Patch =
                        serde_json::from_value(input.clone()).map_err(|e| ApiError::bad_request(e.to_string()))?;
                    json_patch::patch(&mut s, &p.0).map_err(|e| ApiError::bad_request(e.to_string()))?;
                }
                _ => {
                    return Err(ApiError::unsupported_media_type(
                        "the body of the request was in an unknown format",
                    ));
                }
            }
            if let Some(rv) = s.pointer("/metadata/resourceVersion").and_then(|r| r.as_str())
                && !rv.is_empty()
                && rv != cur_rv.to_string()
            {
                return Err(ApiError::conflict(info.group_resource(), &name));
            }
            let replicas = s.pointer("/spec/replicas").and_then(|r| r.as_i64()).unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    "autoscaling",
                    "Scale",
                    &name,
                    vec![crate::error::cause(
                        "FieldValueInvalid",
                        "spec.replicas",
                        format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    )],
                ));
            }
            let mut new = old.clone();
            set_path(&mut new, &map.spec, json!(replicas));
            if new != *old {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(|g| g.as_i64())
                    .unwrap_or(0);
                new["metadata"]["generation"] = json!(g + 1);
            }
            Ok(Change::Write(new))
        },
    )
    .await?;
    Ok(response::json(StatusCode::OK, &to_scale(&v, &map)))
}

async fn finalize(ctx: &Ctx<'_>, body: &Bytes) -> ApiResult<Response<Body>> {
    let name = ctx.path.name.clone().ok_or_else(ApiError::path_not_found)?;
    let input: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))?;
    let finalizers = input.pointer("/spec/finalizers").cloned().unwrap_or(json!([]));
    let info = ctx.info.clone();
    let (v, _) = update_with(
        ctx.server,
        &info,
        &info.key_prefix(),
        &name,
        &name,
        ctx.query.dry_run,
        |old, _| {
            let mut new = old.clone();
            new["spec"]["finalizers"] = finalizers.clone();
            Ok(Change::Write(new))
        },
    )
    .await?;
    Ok(response::json(StatusCode::OK, &v))
}
