//! API errors rendered as `metav1.Status`, with the reasons and codes kube-apiserver uses.

use http::StatusCode;
use serde_json::{Value, json};

/// One `details.causes[]` entry of a Status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// Field path, e.g. `metadata.name`.
    pub field: String,
}

/// An error that the API returns to clients as a `metav1.Status` body.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Status `reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Status `message`.
    pub message: String,
    /// `details` (boxed: errors travel in every `Result` of the request path).
    pub details: Box<Details>,
}

/// The `details` of a Status.
#[derive(Clone, Debug, Default)]
pub struct Details {
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`.
    pub group: Option<String>,
    /// `details.kind` (the plural resource for most reasons, the Kind for `Invalid`).
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<Cause>,
    /// `details.retryAfterSeconds` (also sent as the `Retry-After` header).
    pub retry_after: Option<u32>,
}

/// The group/resource pair used in error messages (`deployments.apps`, `configmaps`).
#[derive(Clone, Copy, Debug)]
pub struct GroupResource<'a> {
    /// API group, empty for core.
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
}

impl std::fmt::Display for GroupResource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, gr: GroupResource<'_>, name: &str) -> Self {
        self.details.name = Some(name.to_string());
        if !gr.group.is_empty() {
            self.details.group = Some(gr.group.to_string());
        }
        self.details.kind = Some(gr.resource.to_string());
        self
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{gr} \"{name}\" not found")).about(gr, name)
    }

    /// 404 for a path that names no resource.
    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
    }

    /// 409 `<resource> "<name>" already exists`.
    pub fn already_exists(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{gr} \"{name}\" already exists")).about(gr, name)
    }

    /// 409 optimistic-concurrency conflict.
    pub fn conflict(gr: GroupResource<'_>, name: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {gr} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        );
        Self::new(409, "Conflict", msg).about(gr, name)
    }

    /// 409 Conflict with a custom explanation.
    pub fn conflict_with(gr: GroupResource<'_>, name: &str, why: &str) -> Self {
        let msg = format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}");
        Self::new(409, "Conflict", msg).about(gr, name)
    }

    /// 422 Invalid: `<Kind> "<name>" is invalid: <field>: <msg>, ...`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        // kube qualifies the kind with its group: `Deployment.apps "d" is invalid`.
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(422, "Invalid", format!("{qualified} \"{name}\" is invalid: {joined}"));
        if !name.is_empty() {
            e.details.name = Some(name.to_string());
        }
        if !group.is_empty() {
            e.details.group = Some(group.to_string());
        }
        e.details.kind = Some(kind.to_string());
        e.details.causes = causes;
        e
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 403 Forbidden about one object.
    pub fn forbidden(gr: GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(403, "Forbidden", format!("{gr} \"{name}\" is forbidden: {why}")).about(gr, name)
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 410 Expired (too old resource version / continue token).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 429 TooManyRequests with a retry hint.
    pub fn too_many_requests(retry_after: u32) -> Self {
        let mut e = Self::new(429, "TooManyRequests", "Too many requests, please try again later.");
        e.details.retry_after = Some(retry_after);
        e
    }

    /// 500 InternalError.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {message}"))
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// Adds `details.causes` (kept after the constructor's own details).
    pub fn with_causes(mut self, causes: Vec<Cause>) -> Self {
        self.details.causes = causes;
        self
    }

    /// Adds `details.group`/`details.kind` (for errors not about one object).
    pub fn with_group_kind(mut self, group: &str, kind: &str) -> Self {
        self.details.group = Some(group.to_string());
        self.details.kind = Some(kind.to_string());
        self
    }

    /// The HTTP status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.details.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.details.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.details.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.details.causes.is_empty() {
            let causes: Vec<Value> = self
                .details
                .causes
                .iter()
                .map(|c| {
                    let mut m = serde_json::Map::new();
                    m.insert("reason".into(), json!(c.reason));
                    m.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        m.insert("field".into(), json!(c.field));
                    }
                    Value::Object(m)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = self.details.retry_after {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status["code"] = json!(self.code);
        status
    }
}

/// Shorthand for results whose error is an [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// Builds a field cause.
pub fn cause(reason: &str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: reason.to_string(),
        message: message.into(),
        field: field.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_kube_apiserver_body() {
        let e = ApiError::not_found(
            GroupResource {
                group: "",
                resource: "configmaps",
            },
            "nope",
        );
        assert_eq!(
            e.to_status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"configmaps \"nope\" not found","reason":"NotFound",
                   "details":{"name":"nope","kind":"configmaps"},"code":404})
        );
    }

    #[test]
    fn grouped_resource_names_include_group() {
        let e = ApiError::conflict(
            GroupResource {
                group: "apps",
                resource: "deployments",
            },
            "x",
        );
        assert!(
            e.message
                .starts_with("Operation cannot be fulfilled on deployments.apps \"x\"")
        );
        assert_eq!(e.to_status()["details"]["group"], "apps");
        assert_eq!(e.code, 409);
    }

    #[test]
    fn invalid_lists_causes() {
        let e = ApiError::invalid(
            "",
            "ConfigMap",
            "Bad",
            vec![cause("FieldValueInvalid", "metadata.name", "Invalid value: \"Bad\"")],
        );
        assert_eq!(
            e.message,
            "ConfigMap \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\""
        );
        assert_eq!(e.to_status()["details"]["causes"][0]["field"], "metadata.name");
    }
}
