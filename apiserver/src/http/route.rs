//! Parsing request paths into what they address.

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/healthz`, `/livez`, `/readyz` (and `/<check>/ping`).
    Health {
        /// `healthz`, `livez` or `readyz`.
        check: String,
        /// A single named check.
        sub: Option<String>,
    },
    /// `/api`
    CoreGroup,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion {
        /// Group ("" for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v3` and `/openapi/v3/<gv path>`
    OpenApiV3(Option<String>),
    /// `/openapi/v2`
    OpenApiV2,
    /// `/metrics`
    Metrics,
    /// A resource path.
    Resource(ResourcePath),
    /// Anything else.
    NotFound,
}

/// The parts of `/apis/<g>/<v>[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// Group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace, when the path is namespaced.
    pub namespace: Option<String>,
    /// Plural resource.
    pub plural: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `finalize`).
    pub subresource: Option<String>,
}

fn decode(seg: &str) -> Option<String> {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Parses a request path (without query string).
pub fn parse(path: &str) -> Route {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    let Some(segs) = segs.iter().map(|s| decode(s)).collect::<Option<Vec<String>>>() else {
        return Route::NotFound;
    };
    let s: Vec<&str> = segs.iter().map(|x| x.as_str()).collect();
    if s.iter().any(|x| x.is_empty()) && !s.is_empty() && path != "/" {
        return Route::NotFound;
    }
    match s.as_slice() {
        ["version"] => Route::Version,
        [c @ ("healthz" | "livez" | "readyz")] => Route::Health {
            check: c.to_string(),
            sub: None,
        },
        [c @ ("healthz" | "livez" | "readyz"), sub] => Route::Health {
            check: c.to_string(),
            sub: Some(sub.to_string()),
        },
        ["metrics"] => Route::Metrics,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3(None),
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(Some(rest.join("/"))),
        ["api"] => Route::CoreGroup,
        ["api", "v1"] => Route::GroupVersion {
            group: String::new(),
            version: "v1".into(),
        },
        ["api", "v1", rest @ ..] => resource("", "v1", rest),
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["apis", g, v] => Route::GroupVersion {
            group: g.to_string(),
            version: v.to_string(),
        },
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let mk = |ns: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: version.into(),
            namespace: ns.map(Into::into),
            plural: plural.into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        })
    };
    match rest {
        // `/namespaces/<ns>` and `/namespaces/<ns>/status|finalize` address the Namespace itself.
        ["namespaces", ns] => mk(None, "namespaces", Some(ns), None),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            mk(None, "namespaces", Some(ns), Some(sub))
        }
        ["namespaces", ns, plural] => mk(Some(ns), plural, None, None),
        ["namespaces", ns, plural, name] => mk(Some(ns), plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => mk(Some(ns), plural, Some(name), Some(sub)),
        [plural] => mk(None, plural, None, None),
        [plural, name] => mk(None, plural, Some(name), None),
        [plural, name, sub] => mk(None, plural, Some(name), Some(sub)),
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(g: &str, ns: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>) -> Route {
        Route::Resource(ResourcePath {
            group: g.into(),
            version: "v1".into(),
            namespace: ns.map(Into::into),
            plural: plural.into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        })
    }

    #[test]
    fn parses_resource_paths() {
        assert_eq!(
            parse("/api/v1/namespaces/default/configmaps"),
            rp("", Some("default"), "configmaps", None, None)
        );
        assert_eq!(
            parse("/api/v1/namespaces/default"),
            rp("", None, "namespaces", Some("default"), None)
        );
        assert_eq!(parse("/api/v1/namespaces"), rp("", None, "namespaces", None, None));
        assert_eq!(
            parse("/apis/apps/v1/namespaces/x/deployments/web/scale"),
            rp("apps", Some("x"), "deployments", Some("web"), Some("scale"))
        );
        assert_eq!(
            parse("/apis/apps/v1/deployments"),
            rp("apps", None, "deployments", None, None)
        );
        assert_eq!(
            parse("/api/v1/namespaces/x/finalize"),
            rp("", None, "namespaces", Some("x"), Some("finalize"))
        );
    }

    #[test]
    fn parses_fixed_paths() {
        assert_eq!(parse("/version"), Route::Version);
        assert_eq!(parse("/api"), Route::CoreGroup);
        assert_eq!(parse("/apis/"), Route::Groups);
        assert_eq!(parse("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            parse("/readyz"),
            Route::Health {
                check: "readyz".into(),
                sub: None
            }
        );
        assert_eq!(parse("/nope"), Route::NotFound);
        assert_eq!(parse("/api/v1/a/b/c/d/e/f"), Route::NotFound);
        assert_eq!(parse("/api/v1/namespaces/%ff/configmaps"), Route::NotFound);
    }
}
