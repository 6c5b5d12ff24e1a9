//! Query parameters and content negotiation of API requests.

use crate::error::{ApiError, ApiResult, cause};

/// Parsed query parameters that the handlers understand. Unknown parameters are
/// ignored, as kube-apiserver's parameter codec does; known ones with bad values are 400.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `watch`
    pub watch: bool,
    /// `resourceVersion`
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`
    pub resource_version_match: Option<String>,
    /// `limit` (0 = unlimited)
    pub limit: Option<usize>,
    /// `continue`
    pub continue_token: Option<String>,
    /// `labelSelector`
    pub label_selector: Option<String>,
    /// `fieldSelector`
    pub field_selector: Option<String>,
    /// `timeoutSeconds`
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks`
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`
    pub send_initial_events: Option<bool>,
    /// `dryRun=All`
    pub dry_run: bool,
    /// `fieldManager`
    pub field_manager: Option<String>,
    /// `fieldValidation`
    pub field_validation: Option<String>,
    /// `includeObject`
    pub include_object: Option<String>,
    /// `propagationPolicy`
    pub propagation_policy: Option<String>,
    /// `gracePeriodSeconds`
    pub grace_period_seconds: Option<i64>,
    /// `force`
    pub force: Option<bool>,
}

fn parse_bool(name: &str, v: &str) -> ApiResult<bool> {
    // Go's strconv.ParseBool, which kube-apiserver's codec uses.
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name}: invalid value {v:?}: strconv.ParseBool: parsing {v:?}: invalid syntax"
        ))),
    }
}

fn parse_int<T: std::str::FromStr>(name: &str, v: &str) -> ApiResult<T> {
    v.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{name}: invalid value {v:?}: strconv.ParseInt: parsing {v:?}: invalid syntax"
        ))
    })
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> ApiResult<Self> {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = v.as_ref();
            match k.as_ref() {
                "watch" => q.watch = parse_bool("watch", v)?,
                "resourceVersion" => q.resource_version = Some(v.to_string()).filter(|s| !s.is_empty()),
                "resourceVersionMatch" => q.resource_version_match = Some(v.to_string()).filter(|s| !s.is_empty()),
                "limit" => {
                    let n: i64 = parse_int("limit", v)?;
                    q.limit = if n > 0 { Some(n as usize) } else { None };
                }
                "continue" => q.continue_token = Some(v.to_string()).filter(|s| !s.is_empty()),
                "labelSelector" => q.label_selector = Some(v.to_string()),
                "fieldSelector" => q.field_selector = Some(v.to_string()),
                "timeoutSeconds" => {
                    let n: i64 = parse_int("timeoutSeconds", v)?;
                    q.timeout_seconds = Some(n.max(0) as u64);
                }
                "allowWatchBookmarks" => q.allow_watch_bookmarks = parse_bool("allowWatchBookmarks", v)?,
                "sendInitialEvents" => q.send_initial_events = Some(parse_bool("sendInitialEvents", v)?),
                "dryRun" => {
                    if v != "All" {
                        return Err(ApiError::bad_request(format!(
                            "Invalid dry run value: dryRun: Unsupported value: {v:?}: supported values: \"All\""
                        )));
                    }
                    q.dry_run = true;
                }
                "fieldManager" => q.field_manager = Some(v.to_string()),
                "fieldValidation" => q.field_validation = Some(v.to_string()),
                "includeObject" => q.include_object = Some(v.to_string()),
                "propagationPolicy" => q.propagation_policy = Some(v.to_string()),
                "gracePeriodSeconds" => q.grace_period_seconds = Some(parse_int("gracePeriodSeconds", v)?),
                "force" => q.force = Some(parse_bool("force", v)?),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Checks the list/watch options the way kube-apiserver validates `ListOptions`.
    pub fn validate_list(&self) -> ApiResult<()> {
        let invalid = |reason: &str, msg: String| {
            ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![cause(reason, "resourceVersionMatch", msg)],
            )
        };
        if let Some(m) = &self.resource_version_match {
            if !matches!(m.as_str(), "Exact" | "NotOlderThan") {
                return Err(invalid(
                    "FieldValueNotSupported",
                    format!("Unsupported value: {m:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""),
                ));
            }
            let watch_list = self.watch && self.send_initial_events == Some(true);
            match self.resource_version.as_deref() {
                None if !watch_list => {
                    return Err(invalid(
                        "FieldValueForbidden",
                        "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
                    ));
                }
                Some("0") if m == "Exact" => {
                    return Err(invalid(
                        "FieldValueForbidden",
                        "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
                    ));
                }
                _ => {}
            }
            if self.continue_token.is_some() {
                return Err(invalid(
                    "FieldValueForbidden",
                    "Forbidden: resourceVersionMatch is forbidden when continue is provided".into(),
                ));
            }
        }
        if let Some(rv) = &self.resource_version
            && rv.parse::<u64>().is_err()
        {
            return Err(ApiError::invalid(
                "",
                "resourceVersion",
                rv,
                vec![cause(
                    "FieldValueInvalid",
                    "resourceVersion",
                    format!("Invalid value: {rv:?}"),
                )],
            )
            .with_group_kind("meta.k8s.io", "ListOptions"));
        }
        if self.send_initial_events.is_some() && !self.watch {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![cause(
                    "FieldValueForbidden",
                    "sendInitialEvents",
                    "Forbidden: sendInitialEvents is forbidden for list",
                )],
            ));
        }
        if self.send_initial_events == Some(true) && self.resource_version_match.as_deref() != Some("NotOlderThan") {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![cause(
                    "FieldValueForbidden",
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )],
            ));
        }
        Ok(())
    }

    /// Checks `fieldValidation`.
    pub fn validate_write(&self) -> ApiResult<()> {
        if let Some(fv) = &self.field_validation
            && !matches!(fv.as_str(), "Strict" | "Warn" | "Ignore" | "")
        {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {fv:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            )));
        }
        if let Some(m) = &self.field_manager
            && (m.len() > 128 || m.chars().any(|c| c.is_control()))
        {
            return Err(ApiError::invalid(
                "",
                "PatchOptions",
                "",
                vec![cause(
                    "FieldValueTooLong",
                    "fieldManager",
                    "Too long: may not be more than 128 bytes",
                )],
            ));
        }
        Ok(())
    }
}

/// The response representation a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The object (or list) itself.
    Object,
    /// `meta.k8s.io/v1 Table`.
    Table,
    /// `PartialObjectMetadata` (single) — lists use `PartialObjectMetadataList`.
    Metadata,
    /// `PartialObjectMetadataList`.
    MetadataList,
}

/// Picks the representation from the Accept header: the first media type we can serve wins.
pub fn negotiate(accept: Option<&str>) -> ApiResult<Output> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Object);
    };
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let mime = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut as_ = None;
        let mut g = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim() {
                    "as" => as_ = Some(v.trim().to_string()),
                    "g" => g = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let json_like = matches!(
            mime.as_str(),
            "application/json" | "*/*" | "application/*" | "application/vnd.kubernetes.protobuf" | "application/yaml"
        );
        if !json_like {
            continue;
        }
        match (as_.as_deref(), g.as_deref()) {
            (None, _) => return Ok(Output::Object),
            (Some("Table"), Some("meta.k8s.io")) => return Ok(Output::Table),
            (Some("PartialObjectMetadata"), Some("meta.k8s.io")) => return Ok(Output::Metadata),
            (Some("PartialObjectMetadataList"), Some("meta.k8s.io")) => {
                return Ok(Output::MetadataList);
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_parameters_and_ignores_unknown() {
        let q = Query::parse(Some("watch=1&limit=500&labelSelector=a%3Db&bogus=x&resourceVersion=0")).expect("parse");
        assert!(q.watch);
        assert_eq!(q.limit, Some(500));
        assert_eq!(q.label_selector.as_deref(), Some("a=b"));
        assert_eq!(q.resource_version.as_deref(), Some("0"));
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(Query::parse(Some("limit=abc")).err().map(|e| e.code), Some(400));
        assert_eq!(Query::parse(Some("watch=maybe")).err().map(|e| e.code), Some(400));
        assert_eq!(Query::parse(Some("dryRun=Some")).err().map(|e| e.code), Some(400));
    }

    #[test]
    fn validates_resource_version_match() {
        let q = Query::parse(Some("resourceVersionMatch=Exact&resourceVersion=0")).expect("parse");
        let e = q.validate_list().expect_err("invalid");
        assert_eq!(e.code, 422);
        assert!(
            e.message
                .contains("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
        );
        let q = Query::parse(Some("resourceVersionMatch=NotOlderThan")).expect("parse");
        assert_eq!(q.validate_list().err().map(|e| e.code), Some(422));
        let q = Query::parse(Some("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")).expect("parse");
        assert!(q.validate_list().is_ok());
    }

    #[test]
    fn negotiates_table_metadata_and_rejects_unknown() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(kubectl)).ok(), Some(Output::Table));
        assert_eq!(
            negotiate(Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")).ok(),
            Some(Output::MetadataList)
        );
        assert_eq!(negotiate(None).ok(), Some(Output::Object));
        assert_eq!(
            negotiate(Some("application/json;as=Bogus;v=v1;g=meta.k8s.io"))
                .err()
                .map(|e| e.code),
            Some(406)
        );
        assert_eq!(negotiate(Some("text/html")).err().map(|e| e.code), Some(406));
    }
}
