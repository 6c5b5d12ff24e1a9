//! Server-side apply (`application/apply-patch+yaml`).

use super::handlers::{Change, Ctx, admit, merge_schema, normalize, prepare_create, put, update_with};
use super::response::{self, Body};
use crate::error::{ApiError, ApiResult, cause};
use crate::objects;
use crate::patch::apply::{ApplyError, FieldManager, conflict_message};
use crate::registry::ResourceInfo;
use crate::storage::Precondition;
use http::{Response, StatusCode};
use serde_json::{Value, json};

fn apply_error(info: &ResourceInfo, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(c) => {
            let (message, causes) = conflict_message(&c);
            let mut err = ApiError::conflict(info.group_resource(), name);
            err.message = message;
            // kube's apply conflict carries only the causes in its details.
            err.details = Box::default();
            err.details.causes = causes
                .into_iter()
                .map(|(m, f)| cause("FieldManagerConflict", &f, m))
                .collect();
            err
        }
        ApplyError::BadRequest(m) => ApiError::bad_request(m),
        ApplyError::Schema(m) => ApiError::internal(format!(
            "failed to create typed patch object ({name}; {}, Kind={}): {m}",
            info.api_version(),
            info.kind
        )),
        ApplyError::Invalid(m) => ApiError::internal(m),
    }
}

/// PATCH with `application/apply-patch+yaml`: creates the object when absent; otherwise
/// merges the manager's intent, removing what it no longer applies; 409 on conflicts
/// unless `force=true`.
pub async fn server_side_apply(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    let name = ctx.path.name.clone().ok_or_else(ApiError::path_not_found)?;
    let manager = ctx
        .query
        .field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                vec![cause(
                    "FieldValueRequired",
                    "fieldManager",
                    "Required value: is required for apply patch",
                )],
            )
        })?;
    let applied = super::yaml_to_json(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply configuration must be an object",
        ));
    }
    match objects::meta_str(&applied, "name") {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    let info = ctx.info.clone();
    let force = ctx.query.force.unwrap_or(false);
    let (meta, root) = merge_schema(&info);
    let api_version = info.api_version();
    let fm = FieldManager::new(meta, &root, &api_version).with_subresource(ctx.path.subresource.as_deref());
    let now = objects::now_rfc3339();
    let validation = ctx.query.field_validation.clone();
    let status_only = ctx.path.subresource.as_deref() == Some("status");

    let exists = ctx.server.cache.get(&info.key_prefix(), &suffix(ctx, &name)).is_some();
    if !exists {
        let merged = fm
            .apply(None, &applied, &manager, force, &now)
            .map_err(|e| apply_error(&info, &name, e))?;
        let (mut obj, warnings) = normalize(&info, merged, validation.as_deref())?;
        objects::meta_mut(&mut obj)?.insert("name".into(), json!(name));
        let causes = objects::validate_meta(&info, &obj, false);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&info.group, &info.kind, &name, causes));
        }
        set_namespace(ctx, &mut obj)?;
        prepare_create(&info, &mut obj)?;
        admit(ctx.server, &info, &mut obj)?;
        let created = put(
            ctx.server,
            &info,
            info.key(ctx.path.namespace.as_deref(), &name),
            &name,
            obj,
            Precondition::MustNotExist,
            ctx.query.dry_run,
        )
        .await;
        match created {
            Ok(v) => {
                return Ok(response::with_warnings(
                    response::json(StatusCode::CREATED, &v),
                    &warnings,
                ));
            }
            // Created concurrently: apply onto it below.
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    let mut warnings = Vec::new();
    let (v, _) = update_with(
        ctx.server,
        &info,
        &info.key_prefix(),
        &suffix(ctx, &name),
        &name,
        ctx.query.dry_run,
        |old, _| {
            let merged = fm
                .apply(Some(old), &applied, &manager, force, &now)
                .map_err(|e| apply_error(&info, &name, e))?;
            let (mut new, w) = normalize(&info, merged, validation.as_deref())?;
            warnings = w;
            super::handlers::prepare_update(&info, old, &mut new, status_only)?;
            admit(ctx.server, &info, &mut new)?;
            Ok(Change::Write(new))
        },
    )
    .await?;
    Ok(response::with_warnings(response::json(StatusCode::OK, &v), &warnings))
}

fn suffix(ctx: &Ctx<'_>, name: &str) -> String {
    match (&ctx.path.namespace, ctx.info.namespaced) {
        (Some(ns), true) => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

fn set_namespace(ctx: &Ctx<'_>, obj: &mut Value) -> ApiResult<()> {
    if !ctx.info.namespaced {
        return Ok(());
    }
    let ns = ctx.path.namespace.clone().unwrap_or_default();
    if ctx.server.cache.get("/registry/core/namespaces/", &ns).is_none() {
        return Err(ApiError::not_found(
            crate::error::GroupResource {
                group: "",
                resource: "namespaces",
            },
            &ns,
        ));
    }
    objects::meta_mut(obj)?.insert("namespace".into(), json!(ns));
    Ok(())
}
