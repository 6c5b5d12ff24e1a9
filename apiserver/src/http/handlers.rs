//! The verbs on resources: get, list, create, update, patch, delete, deletecollection.

use super::query::{Output, Query};
use super::response::{self, Body};
use super::route::ResourcePath;
use crate::cache::CachedObject;
use crate::error::{ApiError, ApiResult, cause};
use crate::objects;
use crate::registry::ResourceInfo;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::ApiServer;
use crate::storage::{Precondition, StoreError, WriteOp};
use crate::table::Printer;
use base64::Engine;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// Everything about one resource request.
pub struct Ctx<'a> {
    /// Server state.
    pub server: &'a ApiServer,
    /// The addressed resource.
    pub info: Arc<ResourceInfo>,
    /// The parsed path.
    pub path: ResourcePath,
    /// Query parameters.
    pub query: Query,
    /// Requested representation.
    pub output: Output,
    /// The client's User-Agent (default field manager name).
    pub user_agent: String,
}

impl Ctx<'_> {
    fn prefix(&self) -> String {
        self.info.key_prefix()
    }

    fn suffix(&self, name: &str) -> String {
        match (&self.path.namespace, self.info.namespaced) {
            (Some(ns), true) => format!("{ns}/{name}"),
            _ => name.to_string(),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix(), self.suffix(name))
    }

    fn name(&self) -> ApiResult<&str> {
        self.path.name.as_deref().ok_or_else(ApiError::path_not_found)
    }

    fn current(&self, name: &str) -> ApiResult<Arc<CachedObject>> {
        self.server
            .cache
            .get(&self.prefix(), &self.suffix(name))
            .ok_or_else(|| ApiError::not_found(self.info.group_resource(), name))
    }

    /// Reads see every write acknowledged before they started.
    async fn consistent(&self) {
        self.server.cache.wait_for(self.server.store.current_revision()).await;
    }
}

fn store_error(info: &ResourceInfo, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::AlreadyExists(_) => ApiError::already_exists(info.group_resource(), name),
        StoreError::NotFound(_) => ApiError::not_found(info.group_resource(), name),
        StoreError::Conflict { .. } => ApiError::conflict(info.group_resource(), name),
        StoreError::Compacted { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        StoreError::Backend(m) => ApiError::internal(m),
    }
}

/// Serializes an object for storage (without `resourceVersion`, which is the store's revision).
fn encode(obj: &Value) -> ApiResult<Bytes> {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("resourceVersion");
    }
    serde_json::to_vec(&v).map(Bytes::from).map_err(ApiError::internal)
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Ok(m) = objects::meta_mut(obj) {
        m.insert("resourceVersion".into(), json!(rv.to_string()));
    }
}

/// Writes an object; returns it with its new resourceVersion.
pub async fn put(
    server: &ApiServer,
    info: &ResourceInfo,
    key: String,
    name: &str,
    mut obj: Value,
    precondition: Precondition,
    dry_run: bool,
) -> ApiResult<Value> {
    let value = encode(&obj)?;
    if dry_run {
        return Ok(obj);
    }
    let ev = server
        .store
        .write(WriteOp::Put {
            key,
            value,
            precondition,
        })
        .await
        .map_err(|e| store_error(info, name, e))?;
    set_rv(&mut obj, ev.revision());
    Ok(obj)
}

/// Parses a request body as the resource's kind, with kube-apiserver's errors.
pub fn decode_body(info: &ResourceInfo, body: &[u8]) -> ApiResult<Value> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| {
        let shown: String = String::from_utf8_lossy(&body[..body.len().min(30)]).into_owned();
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {e} ({shown} ...)",
            info.kind
        ))
    })?;
    let Some(o) = v.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: expected an object",
            info.kind
        )));
    };
    let kind = o.get("kind").and_then(|k| k.as_str()).unwrap_or(&info.kind).to_string();
    let api_version = o
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| info.api_version());
    if kind != info.kind {
        return Err(ApiError::bad_request(format!(
            "{kind} in version {:?} cannot be handled as a {}: converting ({}.{kind}) to ({}.{}): unknown conversion",
            api_version.rsplit('/').next().unwrap_or(""),
            info.kind,
            api_version.rsplit('/').next().unwrap_or(""),
            // kube names its internal version of a group by the group's first label.
            if info.group.is_empty() {
                "core"
            } else {
                info.group.split('.').next().unwrap_or("")
            },
            info.kind
        )));
    }
    if api_version != info.api_version() {
        return Err(ApiError::bad_request(format!(
            "{kind} in version {:?} cannot be handled as a {}: no kind {:?} is registered for version {api_version:?}",
            api_version.rsplit('/').next().unwrap_or(""),
            info.kind,
            info.kind
        )));
    }
    o.insert("kind".into(), json!(info.kind));
    o.insert("apiVersion".into(), json!(info.api_version()));
    Ok(v)
}

/// Decodes through the kind's typed struct: type errors are 400, unknown fields are
/// dropped and reported per `fieldValidation` (Strict: 400; Warn, the default: warnings).
pub fn normalize(info: &ResourceInfo, v: Value, validation: Option<&str>) -> ApiResult<(Value, Vec<String>)> {
    if let Some(custom) = &info.custom {
        return normalize_custom(info, custom, v, validation);
    }
    let Some(check) = info.typed_check else {
        return Ok((v, Vec::new()));
    };
    let typed = check(&v).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            info.kind, info.version, info.kind
        ))
    })?;
    let mut unknown = Vec::new();
    unknown_fields(&v, &typed, "", &mut unknown);
    report_unknown(info, unknown, validation).map(|w| (typed, w))
}

/// Unknown fields per `fieldValidation`: Strict is a 400, Ignore is silent, Warn (the default) warns.
fn report_unknown(info: &ResourceInfo, unknown: Vec<String>, validation: Option<&str>) -> ApiResult<Vec<String>> {
    let messages: Vec<String> = unknown.iter().map(|f| format!("unknown field {f:?}")).collect();
    match validation {
        Some("Strict") if !messages.is_empty() => Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            info.kind,
            info.version,
            info.kind,
            messages.join(", ")
        ))),
        Some("Ignore") => Ok(Vec::new()),
        _ => Ok(messages),
    }
}

/// Custom resources: prune fields the schema does not declare, default, validate (422).
fn normalize_custom(
    info: &ResourceInfo,
    custom: &crate::crd::CustomResource,
    mut v: Value,
    validation: Option<&str>,
) -> ApiResult<(Value, Vec<String>)> {
    let Some(schema) = &custom.schema else {
        return Ok((v, Vec::new()));
    };
    let pruned = schema.prune(&mut v);
    let warnings = report_unknown(info, pruned, validation)?;
    schema.apply_defaults(&mut v);
    let errors = schema.validate(&v);
    if !errors.is_empty() {
        let name = objects::meta_str(&v, "name").unwrap_or("").to_string();
        let causes = errors
            .into_iter()
            .map(|e| cause(e.reason, &e.field, e.message))
            .collect();
        return Err(ApiError::invalid(&info.group, &info.kind, &name, causes));
    }
    Ok((v, warnings))
}

/// The schema table and root type used for merge logic on a resource.
pub fn merge_schema(info: &ResourceInfo) -> (&crate::patch::schema::SchemaMeta, String) {
    match &info.custom {
        Some(c) => {
            let root = c
                .meta
                .root(&info.group, &info.version, &info.kind)
                .unwrap_or_default()
                .to_string();
            (&c.meta, root)
        }
        None => {
            let meta = crate::patch::schema::SchemaMeta::builtin();
            let root = meta
                .root(&info.group, &info.version, &info.kind)
                .unwrap_or(&info.kind)
                .to_string();
            (meta, root)
        }
    }
}

/// Fields the endpoint's strategy resets, which no manager owns through it.
fn reset_fields(info: &ResourceInfo, subresource: Option<&str>) -> crate::patch::apply::FieldSet {
    use crate::patch::apply::FieldSet;
    match subresource {
        Some("status") => FieldSet::from_field_paths(&["spec", "metadata.labels", "metadata.annotations"]),
        _ if info.has_status() && info.plural != "namespaces" => FieldSet::from_field_paths(&["status"]),
        _ => FieldSet::new(),
    }
}

/// The field manager of a non-apply write: `fieldManager`, else the User-Agent's program name.
pub fn manager_name(query: &Query, user_agent: &str) -> String {
    if let Some(m) = query.field_manager.as_deref().filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let prog = user_agent.split('/').next().unwrap_or("").trim();
    if prog.is_empty() {
        "unknown".to_string()
    } else {
        prog.to_string()
    }
}

/// Records an Update operation in `new.metadata.managedFields`.
pub fn record_update(
    info: &ResourceInfo,
    old: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: Option<&str>,
) -> Value {
    let (meta, root) = merge_schema(info);
    let api_version = info.api_version();
    crate::patch::apply::FieldManager::new(meta, &root, &api_version)
        .with_subresource(subresource)
        .with_reset_fields(reset_fields(info, subresource))
        .update_object(old, &new, manager, &objects::now_rfc3339())
}

/// Paths present (and non-null) in `given` but absent from `decoded`.
fn unknown_fields(given: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (given, decoded) {
        (Value::Object(g), Value::Object(d)) => {
            for (k, gv) in g {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match d.get(k) {
                    None if !gv.is_null() => out.push(p),
                    Some(dv) => unknown_fields(gv, dv, &p, out),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(d)) => {
            for (i, (gv, dv)) in g.iter().zip(d).enumerate() {
                unknown_fields(gv, dv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Renders one object in the requested representation.
fn render_one(ctx: &Ctx<'_>, obj: &CachedObject, status: StatusCode) -> Response<Body> {
    match ctx.output {
        Output::Object => response::json_bytes(status, obj.json.clone()),
        Output::Metadata | Output::MetadataList => response::json(status, &partial_metadata(&obj.value())),
        Output::Table => {
            let v = obj.value();
            let rv = obj.rv.to_string();
            response::json(status, &table(ctx, std::slice::from_ref(&v), &rv, None))
        }
    }
}

/// Renders a value (freshly written) in the requested representation.
fn render_value(ctx: &Ctx<'_>, v: &Value, status: StatusCode) -> Response<Body> {
    match ctx.output {
        Output::Object => response::json(status, v),
        Output::Metadata | Output::MetadataList => response::json(status, &partial_metadata(v)),
        Output::Table => {
            let rv = objects::meta_str(v, "resourceVersion").unwrap_or("").to_string();
            response::json(status, &table(ctx, std::slice::from_ref(v), &rv, None))
        }
    }
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(v: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v.get("metadata").cloned().unwrap_or(json!({}))})
}

/// The Table printer of a resource (CRDs: their additionalPrinterColumns).
pub fn printer_for(info: &ResourceInfo) -> Printer {
    match &info.custom {
        Some(c) => c.printer.clone(),
        None => Printer::for_resource(&info.group, &info.plural),
    }
}

/// A `meta.k8s.io/v1 Table` of objects.
pub fn table(ctx: &Ctx<'_>, items: &[Value], rv: &str, cont: Option<&str>) -> Value {
    let printer = printer_for(&ctx.info);
    let now = now();
    let include = ctx.query.include_object.as_deref().unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut row = json!({"cells": printer.cells(o, now)});
            match include {
                "Object" => row["object"] = o.clone(),
                "None" => {}
                _ => row["object"] = partial_metadata(o),
            }
            row
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
           "columnDefinitions": printer.columns(), "rows": rows})
}

/// GET one object.
pub async fn get(ctx: &Ctx<'_>) -> ApiResult<Response<Body>> {
    check_include_object(ctx)?;
    let name = ctx.name()?;
    if ctx.query.resource_version.as_deref().is_none() {
        ctx.consistent().await;
    }
    let obj = ctx.current(name)?;
    Ok(render_one(ctx, &obj, StatusCode::OK))
}

fn check_include_object(ctx: &Ctx<'_>) -> ApiResult<()> {
    match ctx.query.include_object.as_deref() {
        None | Some("Object" | "Metadata" | "None" | "") => Ok(()),
        Some(v) => Err(ApiError::bad_request(format!(
            "includeObject: Unsupported value: {v:?}: supported values: \"None\", \"Metadata\", \"Object\""
        ))),
    }
}

/// Parsed selectors of a list or watch.
pub struct Selectors {
    /// labelSelector
    pub labels: LabelSelector,
    /// fieldSelector
    pub fields: FieldSelector,
    group: String,
    resource: String,
}

impl Selectors {
    /// Parses and validates the selectors of a request.
    pub fn from_query(info: &ResourceInfo, q: &Query) -> ApiResult<Self> {
        let labels = match q.label_selector.as_deref() {
            Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => LabelSelector::everything(),
        };
        let fields = match q.field_selector.as_deref() {
            Some(s) => FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
            None => FieldSelector::everything(),
        };
        fields
            .validate_for(&info.group, &info.plural)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Self {
            labels,
            fields,
            group: info.group.clone(),
            resource: info.plural.clone(),
        })
    }

    /// Whether an object matches both selectors.
    pub fn matches(&self, o: &CachedObject) -> bool {
        if !self.labels.is_everything() && !self.labels.matches(o.labels.as_ref()) {
            return false;
        }
        if self.fields.is_everything() {
            return true;
        }
        let v = o.value();
        self.fields.matches_resource(&self.group, &self.resource, &v)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

fn encode_continue(rv: u64, after: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("/{after}\u{0}"),
    };
    let raw = serde_json::to_vec(&t).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = |why: String| ApiError::bad_request(format!("invalid continue token: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|e| bad(format!("continue key is not valid: {e}")))?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|e| bad(format!("continue key is not valid: {e}")))?;
    if t.v != "meta.k8s.io/v1" {
        return Err(bad(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into(),
        ));
    }
    let start = t.start.trim_end_matches('\u{0}').trim_start_matches('/').to_string();
    if start.contains("..") {
        return Err(bad("continue key is not valid: key path is not allowed".into()));
    }
    Ok((t.rv, start))
}

/// LIST.
pub async fn list(ctx: &Ctx<'_>) -> ApiResult<Response<Body>> {
    ctx.query.validate_list()?;
    check_include_object(ctx)?;
    let sel = Selectors::from_query(&ctx.info, &ctx.query)?;
    let q = &ctx.query;
    let mut at = None;
    let mut start_after = None;
    if let Some(token) = &q.continue_token {
        let (rv, start) = decode_continue(token)?;
        at = Some(rv);
        start_after = Some(start);
    } else {
        match (q.resource_version.as_deref(), q.resource_version_match.as_deref()) {
            (None, _) => ctx.consistent().await,
            (Some("0"), _) => {}
            (Some(rv), Some("Exact")) => at = rv.parse().ok(),
            (Some(rv), _) => {
                let rv: u64 = rv.parse().unwrap_or(0);
                wait_not_older(ctx, rv).await?;
            }
        }
    }
    let namespace = if ctx.info.namespaced {
        ctx.path.namespace.as_deref()
    } else {
        None
    };
    let page = ctx
        .server
        .cache
        .list(&ctx.prefix(), namespace, start_after.as_deref(), q.limit, at, &|o| sel.matches(o))
        .map_err(|e| {
            if q.continue_token.is_some() {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            } else {
                ApiError::expired(e.to_string())
            }
        })?;
    let cont = page
        .continue_after
        .as_deref()
        .map(|k| encode_continue(page.revision, k));
    let rv = page.revision.to_string();
    match ctx.output {
        Output::Table => {
            let items: Vec<Value> = page.items.iter().map(|o| o.value()).collect();
            let mut t = table(ctx, &items, &rv, cont.as_deref());
            if page.remaining > 0 {
                t["metadata"]["remainingItemCount"] = json!(page.remaining);
            }
            Ok(response::json(StatusCode::OK, &t))
        }
        Output::Metadata | Output::MetadataList => {
            let items: Vec<Value> = page.items.iter().map(|o| partial_metadata(&o.value())).collect();
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = &cont {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(page.remaining);
            }
            Ok(response::json(
                StatusCode::OK,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
            ))
        }
        Output::Object => {
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = &cont {
                meta["continue"] = json!(c);
                meta["remainingItemCount"] = json!(page.remaining);
            }
            Ok(response::json_bytes(
                StatusCode::OK,
                list_bytes(&ctx.info, &meta, page.items.iter().map(|o| &o.json)),
            ))
        }
    }
}

/// A `<Kind>List` assembled from cached bytes without re-serializing the items.
pub fn list_bytes<'a>(info: &ResourceInfo, meta: &Value, items: impl Iterator<Item = &'a Bytes>) -> Bytes {
    let head = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
        info.kind,
        info.api_version(),
        meta
    );
    let mut out = Vec::with_capacity(head.len() + 4096);
    out.extend_from_slice(head.as_bytes());
    for (i, it) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(it);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

async fn wait_not_older(ctx: &Ctx<'_>, rv: u64) -> ApiResult<()> {
    let wait = ctx.server.cache.wait_for(rv);
    tokio::time::timeout(std::time::Duration::from_secs(3), wait)
        .await
        .map_err(|_| {
            ApiError::timeout(format!(
                "Too large resource version: {rv}, current: {}",
                ctx.server.cache.revision()
            ))
        })
}

fn check_namespace(ctx: &Ctx<'_>, obj: &mut Value, name: &str) -> ApiResult<()> {
    if !ctx.info.namespaced {
        if let Ok(m) = objects::meta_mut(obj) {
            m.remove("namespace");
        }
        return Ok(());
    }
    let Some(ns) = ctx.path.namespace.clone() else {
        return Err(ApiError::bad_request(
            "the server could not find the requested resource: a namespace is required",
        ));
    };
    match objects::meta_str(obj, "namespace") {
        Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => {}
    }
    objects::meta_mut(obj)?.insert("namespace".into(), json!(ns));
    let nsobj = ctx.server.cache.get("/registry/core/namespaces/", &ns).ok_or_else(|| {
        ApiError::not_found(
            crate::error::GroupResource {
                group: "",
                resource: "namespaces",
            },
            &ns,
        )
    })?;
    if nsobj.value().pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::forbidden(
            ctx.info.group_resource(),
            name,
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        )
        .with_causes(vec![cause(
            "NamespaceTerminating",
            "metadata.namespace",
            format!("namespace {ns} is being terminated"),
        )]));
    }
    Ok(())
}

/// POST: create.
pub async fn create(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    ctx.query.validate_write()?;
    if ctx.path.name.is_some() {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let decoded = decode_body(&ctx.info, body)?;
    let (mut obj, warnings) = normalize(&ctx.info, decoded, ctx.query.field_validation.as_deref())?;
    let mut generated = false;
    let name = match objects::meta_str(&obj, "name").filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => match objects::meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
            Some(base) => {
                generated = true;
                objects::generate_name(base)
            }
            None => String::new(),
        },
    };
    objects::meta_mut(&mut obj)?.insert("name".into(), json!(name));
    let causes = objects::validate_meta(&ctx.info, &obj, generated);
    if !causes.is_empty() {
        return Err(ApiError::invalid(&ctx.info.group, &ctx.info.kind, &name, causes));
    }
    check_namespace(ctx, &mut obj, &name)?;
    prepare_create(&ctx.info, &mut obj)?;
    admit(ctx.server, &ctx.info, &mut obj)?;
    let obj = record_update(&ctx.info, None, obj, &manager_name(&ctx.query, &ctx.user_agent), None);
    let key = ctx.key(&name);
    let created = put(
        ctx.server,
        &ctx.info,
        key,
        &name,
        obj,
        Precondition::MustNotExist,
        ctx.query.dry_run,
    )
    .await?;
    Ok(response::with_warnings(
        render_value(ctx, &created, StatusCode::CREATED),
        &warnings,
    ))
}

/// Server-set metadata and defaults of a new object.
pub fn prepare_create(info: &ResourceInfo, obj: &mut Value) -> ApiResult<()> {
    let tracks = objects::tracks_generation(info);
    let m = objects::meta_mut(obj)?;
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(objects::now_rfc3339()));
    for f in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        m.remove(f);
    }
    if tracks {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if info.has_status()
        && info.plural != "namespaces"
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    objects::apply_defaults(info, obj);
    Ok(())
}

/// Carries server-owned fields from the stored object into an update.
pub fn prepare_update(info: &ResourceInfo, old: &Value, new: &mut Value, status_only: bool) -> ApiResult<()> {
    let mut next = if status_only {
        // Writes to /status change only status (and metadata the client may set).
        let mut n = old.clone();
        if let Some(o) = n.as_object_mut() {
            match new.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
        n
    } else {
        let mut n = new.clone();
        if info.has_status()
            && info.plural != "namespaces"
            && let Some(o) = n.as_object_mut()
        {
            match old.get("status") {
                Some(s) => o.insert("status".into(), s.clone()),
                None => o.remove("status"),
            };
        }
        n
    };
    if info.plural == "namespaces" && info.group.is_empty() {
        // Namespace phase is owned by the server; spec.finalizers only via /finalize.
        if let Some(o) = next.as_object_mut() {
            if let Some(s) = old.get("status") {
                o.insert("status".into(), s.clone());
            }
            if let Some(s) = old.get("spec") {
                o.insert("spec".into(), s.clone());
            }
        }
    }
    let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
    let m = objects::meta_mut(&mut next)?;
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
    ] {
        match old_meta.get(f) {
            Some(v) => m.insert(f.into(), v.clone()),
            None => m.remove(f),
        };
    }
    if status_only {
        // metadata changes other than labels/annotations are ignored on /status
    }
    if objects::tracks_generation(info) && objects::spec_changed(old, &next) {
        let g = old_meta.get("generation").and_then(|g| g.as_i64()).unwrap_or(0);
        objects::meta_mut(&mut next)?.insert("generation".into(), json!(g + 1));
    }
    objects::apply_defaults(info, &mut next);
    *new = next;
    Ok(())
}

/// What a read-modify-write step decided.
pub enum Change {
    /// Write this object.
    Write(Value),
    /// Nothing to change.
    Unchanged,
}

/// Read-modify-write with compare-and-swap, retried on conflicts when the caller
/// did not pin a resourceVersion (kube's GuaranteedUpdate).
pub async fn update_with<F>(
    server: &ApiServer,
    info: &ResourceInfo,
    prefix: &str,
    suffix: &str,
    name: &str,
    dry_run: bool,
    mut f: F,
) -> ApiResult<(Value, bool)>
where
    F: FnMut(&Value, u64) -> ApiResult<Change>,
{
    for _ in 0..16 {
        let cur = server
            .cache
            .get(prefix, suffix)
            .ok_or_else(|| ApiError::not_found(info.group_resource(), name))?;
        let old = cur.value();
        let mut new = match f(&old, cur.rv)? {
            Change::Unchanged => return Ok((old, false)),
            Change::Write(v) => v,
        };
        let mut cmp = new.clone();
        set_rv(&mut cmp, cur.rv);
        if cmp == old {
            return Ok((old, false));
        }
        let finalized = new.pointer("/metadata/deletionTimestamp").is_some() && !has_pending_finalizers(info, &new);
        let key = format!("{prefix}{suffix}");
        if finalized {
            // The last finalizer is gone from an object being deleted: remove it now.
            if !dry_run {
                match server
                    .store
                    .write(WriteOp::Delete {
                        key,
                        precondition: Precondition::ModRevision(cur.rv),
                    })
                    .await
                {
                    Ok(ev) => set_rv(&mut new, ev.revision()),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(info, name, e)),
                }
            }
            return Ok((new, true));
        }
        match put(server, info, key, name, new, Precondition::ModRevision(cur.rv), dry_run).await {
            Err(e) if e.reason == "Conflict" => continue,
            other => return other.map(|v| (v, true)),
        }
    }
    Err(ApiError::conflict(info.group_resource(), name))
}

/// Whether anything still holds an object that is being deleted: metadata finalizers,
/// and for namespaces also `spec.finalizers` (released by the namespace controller).
pub fn has_pending_finalizers(info: &ResourceInfo, obj: &Value) -> bool {
    let non_empty = |p: &str| obj.pointer(p).and_then(|f| f.as_array()).is_some_and(|a| !a.is_empty());
    non_empty("/metadata/finalizers")
        || (info.group.is_empty() && info.plural == "namespaces" && non_empty("/spec/finalizers"))
}

/// PUT: replace (also `/status`).
pub async fn update(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    ctx.query.validate_write()?;
    let name = ctx.name()?.to_string();
    let status_only = ctx.path.subresource.as_deref() == Some("status");
    let decoded = decode_body(&ctx.info, body)?;
    let (mut obj, warnings) = normalize(&ctx.info, decoded, ctx.query.field_validation.as_deref())?;
    match objects::meta_str(&obj, "name") {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    objects::meta_mut(&mut obj)?.insert("name".into(), json!(name));
    let causes = objects::validate_meta(&ctx.info, &obj, false);
    if !causes.is_empty() {
        return Err(ApiError::invalid(&ctx.info.group, &ctx.info.kind, &name, causes));
    }
    if ctx.info.namespaced {
        let ns = ctx.path.namespace.clone().unwrap_or_default();
        match objects::meta_str(&obj, "namespace") {
            Some(b) if !b.is_empty() && b != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {}
        }
        objects::meta_mut(&mut obj)?.insert("namespace".into(), json!(ns));
    }
    let pinned: Option<u64> = match objects::meta_str(&obj, "resourceVersion") {
        Some(rv) if !rv.is_empty() => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?,
        ),
        _ => None,
    };
    if pinned.is_none() && ctx.info.custom.is_some() {
        // Custom resources have no unconditional update.
        return Err(ApiError::invalid(
            &ctx.info.group,
            &ctx.info.kind,
            &name,
            vec![cause(
                "FieldValueInvalid",
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )],
        ));
    }
    let info = ctx.info.clone();
    let manager = manager_name(&ctx.query, &ctx.user_agent);
    let sub = ctx.path.subresource.clone();
    let (v, _) = update_with(
        ctx.server,
        &info,
        &ctx.prefix(),
        &ctx.suffix(&name),
        &name,
        ctx.query.dry_run,
        |old, cur_rv| {
            if let Some(p) = pinned
                && p != cur_rv
            {
                return Err(ApiError::conflict(info.group_resource(), &name));
            }
            let new = obj.clone();
            finish_update(ctx.server, &info, old, new, status_only, &manager, sub.as_deref())
        },
    )
    .await?;
    Ok(response::with_warnings(
        render_value(ctx, &v, StatusCode::OK),
        &warnings,
    ))
}

/// PATCH: JSON patch, merge patch, strategic merge patch (built-ins) or server-side apply.
pub async fn patch(ctx: &Ctx<'_>, body: &[u8], content_type: &str) -> ApiResult<Response<Body>> {
    ctx.query.validate_write()?;
    let name = ctx.name()?.to_string();
    let status_only = ctx.path.subresource.as_deref() == Some("status");
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    enum Kind {
        /// A decoded JSON patch, or why its operations are unusable (422 when applied).
        Json(Result<json_patch::Patch, String>),
        Merge(Value),
        Strategic(Value),
    }
    let kind = match ct.as_str() {
        "application/apply-patch+yaml" | "application/apply-patch+json" => {
            return super::apply::server_side_apply(ctx, body).await;
        }
        // kube-apiserver decodes into `map[string]interface{}` and reports the bare error.
        "application/strategic-merge-patch+json" if ctx.info.custom.is_none() => {
            let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            if !matches!(v, Value::Object(_) | Value::Null) {
                return Err(ApiError::bad_request(go_unmarshal_error(&v, "map[string]interface {}")));
            }
            Kind::Strategic(v)
        }
        "application/json-patch+json" => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            check_json_patch_shape(&v).map_err(|m| ApiError::bad_request(format!("error decoding patch: {m}")))?;
            if v.as_array().is_some_and(|a| a.len() > 10_000) {
                return Err(ApiError::too_large(10_000).with_causes(vec![]));
            }
            if v.is_null() {
                // Go decodes `null` into an empty list of operations.
                Kind::Json(Ok(json_patch::Patch(vec![])))
            } else {
                Kind::Json(serde_json::from_value::<json_patch::Patch>(v).map_err(|e| e.to_string()))
            }
        }
        "application/merge-patch+json" => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            match v {
                Value::Object(_) => Kind::Merge(v),
                Value::Null => return Err(ApiError::bad_request("Invalid JSON Patch")),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "error decoding patch: {}",
                        go_unmarshal_error(&other, "map[string]interface {}")
                    )));
                }
            }
        }
        // Built-in kinds are routed by go-restful, which rejects other types itself.
        _ if ctx.info.custom.is_none() => {
            return Err(ApiError::unsupported_media_type("415: Unsupported Media Type"));
        }
        _ => {
            return Err(ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
    };
    if ctx.query.force.is_some() {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![cause(
                "FieldValueForbidden",
                "force",
                "Forbidden: may not be specified for non-apply patch",
            )],
        ));
    }
    let info = ctx.info.clone();
    let mut warnings = Vec::new();
    let validation = ctx.query.field_validation.clone();
    let manager = manager_name(&ctx.query, &ctx.user_agent);
    let sub = ctx.path.subresource.clone();
    let (v, _) = update_with(
        ctx.server,
        &info,
        &ctx.prefix(),
        &ctx.suffix(&name),
        &name,
        ctx.query.dry_run,
        |old, cur_rv| {
            let mut new = old.clone();
            match &kind {
                // kube: NewGenericServerResponse(422, ..) with the JSON patch error dropped.
                Kind::Json(Ok(p)) => json_patch::patch(&mut new, &p.0).map_err(|_| patch_rejected())?,
                Kind::Json(Err(_)) => return Err(patch_rejected()),
                Kind::Merge(p) => json_patch::merge(&mut new, p),
                Kind::Strategic(p) => {
                    let (meta, root) = merge_schema(&info);
                    new = crate::patch::strategic::apply(old, p, meta, &root).map_err(|e| match e.http_status() {
                        400 => ApiError::bad_request(e.to_string()),
                        422 => patch_rejected(),
                        // A plain Go error upstream: 500, no reason, the bare message.
                        _ => ApiError {
                            code: 500,
                            reason: "",
                            message: e.to_string(),
                            details: Box::default(),
                        },
                    })?;
                }
            }
            if let Some(rv) = objects::meta_str(&new, "resourceVersion")
                && rv != cur_rv.to_string()
            {
                return Err(ApiError::conflict(info.group_resource(), &name));
            }
            if objects::meta_str(&new, "name") != Some(name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    objects::meta_str(&new, "name").unwrap_or("")
                )));
            }
            let (new, w) = normalize(&info, new, validation.as_deref())?;
            warnings = w;
            let causes = objects::validate_meta(&info, &new, false);
            if !causes.is_empty() {
                return Err(ApiError::invalid(&info.group, &info.kind, &name, causes));
            }
            finish_update(ctx.server, &info, old, new, status_only, &manager, sub.as_deref())
        },
    )
    .await?;
    Ok(response::with_warnings(
        render_value(ctx, &v, StatusCode::OK),
        &warnings,
    ))
}

/// kube-apiserver's answer to a patch that does not apply (`NewGenericServerResponse(422, ..)`).
fn patch_rejected() -> ApiError {
    let mut e = ApiError::invalid("", "", "", vec![]);
    e.message = "the server rejected our request due to an error in our request".into();
    e.details = Box::default();
    e
}

/// Go's `json.Unmarshal` error for a JSON value that does not fit `go_type`.
fn go_unmarshal_error(v: &Value, go_type: &str) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("json: cannot unmarshal {kind} into Go value of type {go_type}")
}

/// Checks that a JSON patch decodes into kube's `[]jsonPatchOp` (an array of objects whose
/// `op`, `path` and `from` are strings when present); what the operations mean is checked
/// when they are applied.
fn check_json_patch_shape(v: &Value) -> Result<(), String> {
    let Some(ops) = v.as_array() else {
        return if v.is_null() {
            Ok(())
        } else {
            Err(go_unmarshal_error(v, "[]handlers.jsonPatchOp"))
        };
    };
    for op in ops {
        let Some(o) = op.as_object() else {
            if op.is_null() {
                continue;
            }
            return Err(go_unmarshal_error(op, "handlers.jsonPatchOp"));
        };
        for field in ["op", "path", "from"] {
            if let Some(f) = o.get(field)
                && !f.is_string()
                && !f.is_null()
            {
                let mut m = go_unmarshal_error(f, "string");
                m = m.replace(
                    "Go value of type",
                    &format!("Go struct field jsonPatchOp.{field} of type"),
                );
                return Err(m);
            }
        }
    }
    Ok(())
}

/// The last steps of every update: server-owned fields, admission, managedFields.
fn finish_update(
    server: &ApiServer,
    info: &ResourceInfo,
    old: &Value,
    mut new: Value,
    status_only: bool,
    manager: &str,
    subresource: Option<&str>,
) -> ApiResult<Change> {
    prepare_update(info, old, &mut new, status_only)?;
    admit(server, info, &mut new)?;
    Ok(Change::Write(record_update(info, Some(old), new, manager, subresource)))
}

/// Kind-specific admission on writes (CRDs are validated and get their status here).
pub fn admit(server: &ApiServer, info: &ResourceInfo, obj: &mut Value) -> ApiResult<()> {
    if info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions" {
        crate::crd::admit(obj, &server.registry())?;
    }
    Ok(())
}

/// Options of a delete, from the body (DeleteOptions) and the query.
#[derive(Default, Clone, Debug)]
pub struct DeleteOptions {
    /// `propagationPolicy`: Background (default), Foreground or Orphan.
    pub propagation: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun: [All]`.
    pub dry_run: bool,
}

fn delete_options(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<DeleteOptions> {
    let mut o = DeleteOptions {
        propagation: ctx.query.propagation_policy.clone(),
        dry_run: ctx.query.dry_run,
        ..Default::default()
    };
    if !body.iter().all(|b| b.is_ascii_whitespace()) {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request could not be decoded as DeleteOptions: {e}"
            ))
        })?;
        if let Some(p) = v.get("propagationPolicy").and_then(|p| p.as_str()) {
            o.propagation = Some(p.to_string());
        }
        if let Some(p) = v.get("preconditions") {
            o.uid = p.get("uid").and_then(|u| u.as_str()).map(str::to_string);
            o.resource_version = p.get("resourceVersion").and_then(|u| u.as_str()).map(str::to_string);
        }
        if let Some(d) = v.get("dryRun").and_then(|d| d.as_array()) {
            o.dry_run |= d.iter().any(|x| x == "All");
        }
    }
    if let Some(p) = &o.propagation
        && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
    {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            vec![cause(
                "FieldValueNotSupported",
                "propagationPolicy",
                format!(
                    "Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            )],
        ));
    }
    Ok(o)
}

const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Deletes one object: immediately, or by marking it (`deletionTimestamp`) when finalizers
/// are pending or the propagation policy needs the garbage collector (Foreground adds the
/// `foregroundDeletion` finalizer, Orphan the `orphan` one). Returns the object and whether
/// it is gone.
pub async fn delete_object(
    server: &ApiServer,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<(Value, bool)> {
    // The object changed between reading and deleting it (a controller wrote its status):
    // read it again and retry, as kube-apiserver does; only the caller's own preconditions
    // may fail a delete with a conflict.
    const ATTEMPTS: usize = 16;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match delete_object_once(server, info, namespace, name, opts).await {
            Err(DeleteFailure::Raced(_)) if attempt < ATTEMPTS => continue,
            Err(DeleteFailure::Raced(e) | DeleteFailure::Api(e)) => return Err(e),
            Ok(done) => return Ok(done),
        }
    }
}

/// Why one attempt to delete failed.
enum DeleteFailure {
    /// Another write came between reading and deleting the object.
    Raced(ApiError),
    /// Anything else (answered as is).
    Api(ApiError),
}

impl From<ApiError> for DeleteFailure {
    fn from(e: ApiError) -> Self {
        DeleteFailure::Api(e)
    }
}

async fn delete_object_once(
    server: &ApiServer,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<(Value, bool), DeleteFailure> {
    let is_ns = info.group.is_empty() && info.plural == "namespaces";
    if is_ns && PROTECTED_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(info.group_resource(), name, "this namespace may not be deleted").into());
    }
    let prefix = info.key_prefix();
    let suffix = match namespace {
        Some(ns) if info.namespaced => format!("{ns}/{name}"),
        _ => name.to_string(),
    };
    let cur = server
        .cache
        .get(&prefix, &suffix)
        .ok_or_else(|| ApiError::not_found(info.group_resource(), name))?;
    let old = cur.value();
    if let Some(uid) = &opts.uid
        && objects::meta_str(&old, "uid") != Some(uid.as_str())
    {
        return Err(DeleteFailure::Api(ApiError::conflict_with(
            info.group_resource(),
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                objects::meta_str(&old, "uid").unwrap_or("")
            ),
        )));
    }
    if let Some(rv) = &opts.resource_version
        && *rv != cur.rv.to_string()
    {
        return Err(DeleteFailure::Api(ApiError::conflict_with(
            info.group_resource(),
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                cur.rv
            ),
        )));
    }
    let gc_finalizer = match opts.propagation.as_deref() {
        Some("Foreground") => Some("foregroundDeletion"),
        Some("Orphan") => Some("orphan"),
        _ => None,
    };
    let has_finalizers = old
        .pointer("/metadata/finalizers")
        .and_then(|f| f.as_array())
        .is_some_and(|a| !a.is_empty());
    if is_ns || has_finalizers || gc_finalizer.is_some() {
        // Graceful: mark for deletion; the namespace controller, the garbage collector or
        // the finalizers' owners finish it.
        let (v, _) = update_with(server, info, &prefix, &suffix, name, opts.dry_run, |old, _| {
            let deleting = old.pointer("/metadata/deletionTimestamp").is_some();
            let mut new = old.clone();
            let gen_tracked = objects::tracks_generation(info);
            let m = objects::meta_mut(&mut new)?;
            if let Some(f) = gc_finalizer {
                let list = m.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut()
                    && !a.iter().any(|x| x == f)
                {
                    a.push(json!(f));
                }
            }
            if !deleting {
                m.insert("deletionTimestamp".into(), json!(objects::now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                if gen_tracked {
                    let g = m.get("generation").and_then(|g| g.as_i64()).unwrap_or(0);
                    m.insert("generation".into(), json!(g + 1));
                }
                if is_ns {
                    new["status"]["phase"] = json!("Terminating");
                }
            }
            Ok(Change::Write(new))
        })
        .await?;
        return Ok((v, false));
    }
    if !opts.dry_run {
        server
            .store
            .write(WriteOp::Delete {
                key: format!("{prefix}{suffix}"),
                precondition: Precondition::ModRevision(cur.rv),
            })
            .await
            .map_err(|e| match store_error(info, name, e) {
                e if e.code == 409 => DeleteFailure::Raced(e),
                e => DeleteFailure::Api(e),
            })?;
    }
    Ok((old, true))
}

/// DELETE one object.
pub async fn delete(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    let name = ctx.name()?.to_string();
    let opts = delete_options(ctx, body)?;
    let (obj, gone) = delete_object(ctx.server, &ctx.info, ctx.path.namespace.as_deref(), &name, &opts).await?;
    if !gone {
        return Ok(render_value(ctx, &obj, StatusCode::OK));
    }
    let mut details =
        json!({"name": name, "kind": ctx.info.plural, "uid": objects::meta_str(&obj, "uid").unwrap_or("")});
    if !ctx.info.group.is_empty() {
        details["group"] = json!(ctx.info.group);
    }
    Ok(response::json(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
    ))
}

/// DELETE a collection (with selectors); returns the list of deleted objects.
pub async fn delete_collection(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    if !ctx.info.supports("deletecollection") {
        return Err(ApiError::method_not_allowed("DELETE"));
    }
    let opts = delete_options(ctx, body)?;
    let sel = Selectors::from_query(&ctx.info, &ctx.query)?;
    let namespace = if ctx.info.namespaced {
        ctx.path.namespace.as_deref()
    } else {
        None
    };
    let page = ctx
        .server
        .cache
        .list(&ctx.prefix(), namespace, None, None, None, &|o| sel.matches(o))
        .map_err(|e| ApiError::expired(e.to_string()))?;
    let mut deleted = Vec::new();
    for o in &page.items {
        let ns = Some(o.namespace.as_str()).filter(|n| !n.is_empty());
        match delete_object(ctx.server, &ctx.info, ns, &o.name, &opts).await {
            Ok((v, _)) => deleted.push(v),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let meta = json!({"resourceVersion": ctx.server.cache.revision().to_string()});
    let bytes: Vec<Bytes> = deleted
        .iter()
        .map(|v| Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
        .collect();
    Ok(response::json_bytes(
        StatusCode::OK,
        list_bytes(&ctx.info, &meta, bytes.iter()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_round_trips_in_kube_format() {
        let t = encode_continue(13154, "ns/c1");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t)
            .expect("b64");
        let v: Value = serde_json::from_slice(&raw).expect("json");
        assert_eq!(v, json!({"v":"meta.k8s.io/v1","rv":13154,"start":"/ns/c1\u{0}"}));
        assert_eq!(decode_continue(&t).expect("decode"), (13154, "ns/c1".to_string()));
        assert_eq!(decode_continue("garbage").err().map(|e| e.code), Some(400));
    }
}
