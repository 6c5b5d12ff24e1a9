//! The HTTPS front: TLS, authentication, body limits, routing to handlers.
//!
//! The request pipeline is a stack of small tower layers
//! (authentication → handler) served by hyper over rustls.

pub mod apply;
pub mod auth;
pub mod handlers;
pub mod limit;
pub mod query;
pub mod response;
pub mod route;
pub mod watch;

use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::server::ApiServer;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use response::Body;
use route::Route;
use std::sync::Arc;

/// Reads a request body up to the server's limit (413 beyond it).
async fn read_body(req: Request<Incoming>, limit: usize) -> ApiResult<(http::request::Parts, Bytes)> {
    let (parts, mut body) = req.into_parts();
    let mut buf = bytes::BytesMut::new();
    let mut over = false;
    // Read to the end even when over the limit (up to a cap), so that a client that sends
    // its whole body before reading gets the 413 rather than a reset connection.
    let drain_cap = limit.saturating_mul(8).max(64 << 20);
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("error reading request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen > limit {
            over = true;
            buf.clear();
            if seen > drain_cap {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if over {
        return Err(ApiError::too_large(limit));
    }
    Ok((parts, buf.freeze()))
}

/// Handles one authenticated request.
pub async fn handle(server: Arc<ApiServer>, req: Request<Incoming>) -> Response<Body> {
    match dispatch(&server, req).await {
        Ok(r) => r,
        Err(e) => response::error(&e),
    }
}

fn header_str(parts: &http::request::Parts, name: header::HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

async fn dispatch(server: &Arc<ApiServer>, req: Request<Incoming>) -> ApiResult<Response<Body>> {
    let route = route::parse(req.uri().path());
    let (parts, body) = read_body(req, server.settings.max_body_bytes).await?;
    let accept = header_str(&parts, header::ACCEPT);
    let get_only = |r: Response<Body>| {
        if parts.method == Method::GET {
            Ok(r)
        } else {
            Err(ApiError::method_not_allowed(parts.method.as_str()))
        }
    };
    let reg = server.registry();
    match route {
        Route::Version => get_only(response::json(StatusCode::OK, &version())),
        Route::Health { check, sub } => get_only(health(&check, sub.as_deref(), parts.uri.query())),
        Route::Metrics => get_only(response::full(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            crate::metrics::render(server),
        )),
        Route::CoreGroup => get_only(if discovery::wants_aggregated(accept) {
            response::full(
                StatusCode::OK,
                discovery::AGGREGATED_CONTENT_TYPE,
                discovery::aggregated(&reg, true).to_string(),
            )
        } else {
            response::json(
                StatusCode::OK,
                &discovery::core_versions(&server.settings.advertise_address),
            )
        }),
        Route::Groups => get_only(if discovery::wants_aggregated(accept) {
            response::full(
                StatusCode::OK,
                discovery::AGGREGATED_CONTENT_TYPE,
                discovery::aggregated(&reg, false).to_string(),
            )
        } else {
            response::json(StatusCode::OK, &discovery::group_list(&reg))
        }),
        Route::Group(g) => match discovery::group(&reg, &g) {
            Some(v) => get_only(response::json(StatusCode::OK, &v)),
            None => Ok(response::page_not_found()),
        },
        Route::GroupVersion { group, version } => match discovery::resource_list(&reg, &group, &version) {
            Some(v) => get_only(response::json(StatusCode::OK, &v)),
            None => Ok(response::page_not_found()),
        },
        Route::OpenApiV3(None) => get_only(response::json(StatusCode::OK, &crate::openapi::index(&reg))),
        Route::OpenApiV3(Some(gv)) => {
            let parts_gv: Vec<&str> = gv.split('/').collect();
            let (g, v) = match parts_gv.as_slice() {
                ["api", v] => ("", *v),
                ["apis", g, v] => (*g, *v),
                _ => return Ok(response::page_not_found()),
            };
            if reg.versions(g).iter().any(|x| x == v) {
                get_only(response::json_bytes(
                    StatusCode::OK,
                    crate::openapi::document_bytes(&reg, g, v),
                ))
            } else {
                Ok(response::page_not_found())
            }
        }
        Route::OpenApiV2 | Route::NotFound => Ok(response::page_not_found()),
        Route::Resource(path) => {
            let Some(info) = reg.get(&path.group, &path.version, &path.plural) else {
                // Unknown groups get Go's plain 404; unknown resources of a served group a Status.
                if reg.versions(&path.group).contains(&path.version) {
                    return Err(ApiError::path_not_found());
                }
                return Ok(response::page_not_found());
            };
            resource(server, info, path, &parts, &body).await
        }
    }
}

async fn resource(
    server: &ApiServer,
    info: Arc<crate::registry::ResourceInfo>,
    path: route::ResourcePath,
    parts: &http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    if path.namespace.is_some() && !info.namespaced {
        return Err(ApiError::path_not_found());
    }
    if let Some(sub) = path.subresource.as_deref()
        && !info.subresources.iter().any(|s| s.name == sub)
    {
        return Err(ApiError::path_not_found());
    }
    let query = query::Query::parse(parts.uri.query())?;
    let output = query::negotiate(header_str(parts, header::ACCEPT))?;
    let content_type = header_str(parts, header::CONTENT_TYPE)
        .unwrap_or("application/json")
        .to_string();
    let user_agent = header_str(parts, header::USER_AGENT).unwrap_or("").to_string();
    let ctx = handlers::Ctx {
        server,
        info,
        path,
        query,
        output,
        user_agent,
    };
    let has_name = ctx.path.name.is_some();
    let sub = ctx.path.subresource.clone();
    if matches!(sub.as_deref(), Some("scale") | Some("finalize")) {
        return crate::subresources::handle(&ctx, &parts.method, body, &content_type).await;
    }
    let converted;
    let body = if matches!(parts.method, Method::POST | Method::PUT | Method::DELETE) && !body.is_empty() {
        converted = body_as_json(&content_type, body)?;
        &converted
    } else {
        body
    };
    let is_crd = ctx.info.group == "apiextensions.k8s.io" && ctx.info.plural == "customresourcedefinitions";
    let result = match (&parts.method, has_name) {
        (&Method::GET, true) => handlers::get(&ctx).await,
        (&Method::GET, false) if ctx.query.watch => watch::watch(&ctx).await,
        (&Method::GET, false) => handlers::list(&ctx).await,
        (&Method::POST, false) => handlers::create(&ctx, body).await,
        (&Method::PUT, true) => handlers::update(&ctx, body).await,
        (&Method::PATCH, true) => handlers::patch(&ctx, body, &content_type).await,
        (&Method::DELETE, true) if sub.is_none() => handlers::delete(&ctx, body).await,
        (&Method::DELETE, false) => handlers::delete_collection(&ctx, body).await,
        (m, _) => Err(ApiError::method_not_allowed(m.as_str())),
    };
    if is_crd && parts.method != Method::GET && result.is_ok() {
        // Serve (or stop serving) the CRD's resources before the client hears back.
        crate::crd::sync_registry(server);
    }
    result
}

/// Request bodies arrive as JSON, YAML or Kubernetes protobuf; handlers see JSON.
fn body_as_json(content_type: &str, body: &Bytes) -> ApiResult<Bytes> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" | "" | "*/*" => Ok(body.clone()),
        "application/yaml" => {
            let v = yaml_to_json(body)?;
            Ok(Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?))
        }
        "application/vnd.kubernetes.protobuf" => {
            let v = crate::protobuf::decode(body)
                .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}")))?;
            Ok(Bytes::from(serde_json::to_vec(&v).map_err(ApiError::internal)?))
        }
        _ => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {mime})"
        ))),
    }
}

/// Parses a YAML document into JSON (bounded: serde-saphyr limits depth and aliases).
pub fn yaml_to_json(body: &[u8]) -> ApiResult<serde_json::Value> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
    // A 3 MiB body holds far fewer than 100k nodes of a real manifest; alias "bombs" that
    // expand beyond that are refused instead of costing seconds of CPU.
    let options = serde_saphyr::options! {
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
    };
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, options)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// `/version`.
pub fn version() -> serde_json::Value {
    serde_json::json!({
        "major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
        "gitVersion": concat!("v1.36.0-ubernetes.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-11-21T00:00:00Z",
        "goVersion": "rust", "compiler": "rustc", "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

const CHECKS: &[&str] = &[
    "ping",
    "log",
    "etcd",
    "informer-sync",
    "poststarthook/start-system-namespaces-controller",
];

fn health(check: &str, sub: Option<&str>, query: Option<&str>) -> Response<Body> {
    if let Some(s) = sub {
        return if CHECKS.contains(&s) {
            response::full(StatusCode::OK, "text/plain; charset=utf-8", "ok")
        } else {
            response::page_not_found()
        };
    }
    let verbose = query.is_some_and(|q| q.split('&').any(|p| p == "verbose" || p.starts_with("verbose=")));
    if !verbose {
        return response::full(StatusCode::OK, "text/plain; charset=utf-8", "ok");
    }
    let mut out = String::new();
    for c in CHECKS {
        out.push_str(&format!("[+]{c} ok\n"));
    }
    out.push_str(&format!("{check} check passed\n"));
    response::full(StatusCode::OK, "text/plain; charset=utf-8", out)
}
