//! OpenAPI v3 documents (`/openapi/v3`), generated from the registry.
//!
//! Component schemas of built-in kinds come from k8s-openapi's `schemars` implementations
//! (same names and descriptions as kube-apiserver's), with the `x-kubernetes-*` list and
//! patch extensions added from [`SchemaMeta::builtin`]. Custom resources use their CRD
//! version's `openAPIV3Schema`. Paths follow kube-apiserver's layout: every operation
//! carries `x-kubernetes-action` and an `x-kubernetes-group-version-kind` object, and
//! PATCH operations list `fieldValidation` (kubectl then leaves validation to the server)
//! and the patch content types the server accepts.
//!
//! Documents are cached per group-version and rebuilt only when the resources of that
//! group-version change, so kubectl's repeated fetches are cheap.

use crate::patch::schema::SchemaMeta;
use crate::registry::{Registry, ResourceInfo, Subresource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

const REF_PREFIX: &str = "#/components/schemas/";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

const API_VERSION_DESC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const OBJECT_META_DESC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_META_DESC: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The `/openapi/v3` index: one entry per served group-version, with a hash of its
/// document (clients cache documents by URL).
pub fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for g in reg.groups() {
        for v in reg.versions(g) {
            let p = gv_path(g, &v);
            let hash = cached(reg, g, &v).hash.clone();
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
            );
        }
    }
    // Forget documents of group-versions no longer served (deleted CRDs).
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(g, v), _| paths.contains_key(&gv_path(g, v)));
    json!({"paths": paths})
}

/// The document of one group-version.
pub fn document(reg: &Registry, group: &str, version: &str) -> Value {
    (*cached(reg, group, version).doc).clone()
}

/// The serialized document of one group-version (cached: no copy, no serialization).
pub fn document_bytes(reg: &Registry, group: &str, version: &str) -> bytes::Bytes {
    cached(reg, group, version).bytes.clone()
}

struct Cached {
    fingerprint: u64,
    doc: Arc<Value>,
    bytes: bytes::Bytes,
    hash: String,
}

type Cache = Mutex<HashMap<(String, String), Arc<Cached>>>;

/// Documents by (group, version).
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The cached document of a group-version, rebuilt when the resources it describes change.
fn cached(reg: &Registry, group: &str, version: &str) -> Arc<Cached> {
    let cache = cache();
    let resources = reg.resources(group, version);
    let fingerprint = fingerprint(group, version, &resources);
    let key = (group.to_string(), version.to_string());
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && c.fingerprint == fingerprint
    {
        return c.clone();
    }
    // Built outside the lock: concurrent builders produce the same document.
    let doc = build(group, version, &resources);
    let bytes = bytes::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let hash = doc_hash(&bytes);
    let entry = Arc::new(Cached {
        fingerprint,
        doc: Arc::new(doc),
        bytes,
        hash,
    });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, entry.clone());
    entry
}

/// Hash of everything about a group-version's resources that the document depends on.
fn fingerprint(group: &str, version: &str, resources: &[Arc<ResourceInfo>]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (group, version).hash(&mut h);
    for r in resources {
        (&r.kind, &r.plural, r.namespaced, &r.verbs).hash(&mut h);
        for s in &r.subresources {
            (s.name, s.group, s.version, s.kind, s.verbs).hash(&mut h);
        }
        r.schema.is_some().hash(&mut h);
        match &r.openapi_schema {
            Some(s) => s.to_string().hash(&mut h),
            None => 0u8.hash(&mut h),
        }
    }
    h.finish()
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Upper-case hex hash of a document (kube-apiserver uses SHA-512; any digest that changes
/// with the document serves clients' caches).
fn doc_hash(text: &[u8]) -> String {
    let mut out = String::with_capacity(32);
    for seed in [0u64, 0x9e37_79b9_7f4a_7c15] {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        seed.hash(&mut h);
        text.hash(&mut h);
        out.push_str(&format!("{:016X}", h.finish()));
    }
    out
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

/// The component name a `$ref` schema from the generator points at.
fn ref_name(schema: &schemars::Schema) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(REF_PREFIX))
        .map(str::to_string)
}

/// Adds `T`'s schema (and everything it references) to the generator; returns its name.
fn add<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) -> String {
    ref_name(&generator.subschema_for::<T>()).unwrap_or_else(|| T::schema_name().into_owned())
}

fn gvk_object(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

/// Schema-level GVK tag (a list, keys sorted as kube-apiserver prints them).
fn gvk_tag(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// `rbac.authorization.k8s.io` → `RbacAuthorization`, `` → `Core`, `example.com` → `ExampleCom`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let g = group.strip_suffix(".k8s.io").unwrap_or(group);
    g.split(['.', '-']).map(upper_first).collect()
}

/// Operation tag: `apps_v1`, `core_v1`, `rbacAuthorization_v1`.
fn tag_name(group: &str, version: &str) -> String {
    let c = group_camel(group);
    let mut ch = c.chars();
    let lower = match ch.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + ch.as_str(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// Component name of a custom resource's schema: `com.example.v1.Widget`.
fn crd_schema_name(r: &ResourceInfo) -> String {
    let mut parts: Vec<&str> = r.group.split('.').collect();
    parts.reverse();
    format!("{}.{}.{}", parts.join("."), r.version, r.kind)
}

fn query_param(name: &str, ty: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description,
           "schema": {"type": ty, "uniqueItems": true}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "description": description, "required": true,
           "schema": {"type": "string", "uniqueItems": true}})
}

const PRETTY: (&str, &str, &str) = (
    "pretty",
    "string",
    "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
);
const DRY_RUN: (&str, &str, &str) = (
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: (&str, &str, &str) = (
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
);
const FIELD_MANAGER_PATCH: (&str, &str, &str) = (
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).",
);
const FIELD_VALIDATION: (&str, &str, &str) = (
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
);
const FORCE: (&str, &str, &str) = (
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const ALLOW_WATCH_BOOKMARKS: (&str, &str, &str) = (
    "allowWatchBookmarks",
    "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
);
const CONTINUE: (&str, &str, &str) = (
    "continue",
    "string",
    "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.",
);
const FIELD_SELECTOR: (&str, &str, &str) = (
    "fieldSelector",
    "string",
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
const LABEL_SELECTOR: (&str, &str, &str) = (
    "labelSelector",
    "string",
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
const LIMIT: (&str, &str, &str) = (
    "limit",
    "integer",
    "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned.",
);
const RESOURCE_VERSION: (&str, &str, &str) = (
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
);
const RESOURCE_VERSION_MATCH: (&str, &str, &str) = (
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
);
const SEND_INITIAL_EVENTS: (&str, &str, &str) = (
    "sendInitialEvents",
    "boolean",
    "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise.",
);
const TIMEOUT_SECONDS: (&str, &str, &str) = (
    "timeoutSeconds",
    "integer",
    "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
);
const WATCH: (&str, &str, &str) = (
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
);
const GRACE_PERIOD_SECONDS: (&str, &str, &str) = (
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
);
const ORPHAN_DEPENDENTS: (&str, &str, &str) = (
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
);
const PROPAGATION_POLICY: (&str, &str, &str) = (
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
);

fn params(list: &[(&str, &str, &str)]) -> Value {
    Value::Array(list.iter().map(|(n, t, d)| query_param(n, t, d)).collect())
}

const LIST_PARAMS: &[(&str, &str, &str)] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];
const WRITE_PARAMS: &[(&str, &str, &str)] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMS: &[(&str, &str, &str)] = &[DRY_RUN, FIELD_MANAGER_PATCH, FIELD_VALIDATION, FORCE];
const DELETE_PARAMS: &[(&str, &str, &str)] = &[DRY_RUN, GRACE_PERIOD_SECONDS, ORPHAN_DEPENDENTS, PROPAGATION_POLICY];
const DELETE_COLLECTION_PARAMS: &[(&str, &str, &str)] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];

/// Content types the server accepts for PATCH (strategic merge patch only on built-ins).
pub fn patch_content_types(strategic: bool) -> &'static [&'static str] {
    if strategic {
        &[
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ]
    } else {
        &[
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ]
    }
}

/// `{"application/json": {schema}, "application/yaml": {schema}}` for a component.
fn content(name: &str, stream: bool) -> Value {
    let r = json!({"schema": schema_ref(name)});
    let mut m = Map::new();
    m.insert("application/json".into(), r.clone());
    if stream {
        m.insert("application/json;stream=watch".into(), r.clone());
    }
    m.insert("application/yaml".into(), r);
    Value::Object(m)
}

fn responses(codes: &[(&str, &str)], name: &str) -> Value {
    let mut m = Map::new();
    for (code, desc) in codes {
        m.insert(
            (*code).into(),
            json!({"description": desc, "content": content(name, false)}),
        );
    }
    m.insert("401".into(), json!({"description": "Unauthorized"}));
    Value::Object(m)
}

/// What operations of one resource share.
struct OpCtx<'a> {
    tag: String,
    /// `AppsV1`
    prefix: String,
    r: &'a ResourceInfo,
}

impl OpCtx<'_> {
    fn op(&self, description: String, op_id: String, action: &str, gvk: Value) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("tags".into(), json!([self.tag]));
        m.insert("description".into(), Value::String(description));
        m.insert("operationId".into(), Value::String(op_id));
        m.insert("x-kubernetes-action".into(), Value::String(action.into()));
        m.insert("x-kubernetes-group-version-kind".into(), gvk);
        m
    }

    fn gvk(&self) -> Value {
        gvk_object(&self.r.group, &self.r.version, &self.r.kind)
    }

    /// `Namespaced` for namespaced resources.
    fn scope(&self) -> &'static str {
        if self.r.namespaced { "Namespaced" } else { "" }
    }
}

fn object_body(name: &str) -> Value {
    json!({"content": {"*/*": {"schema": schema_ref(name)}}, "required": true})
}

fn patch_body(strategic: bool) -> Value {
    let mut m = Map::new();
    for ct in patch_content_types(strategic) {
        m.insert((*ct).into(), json!({"schema": schema_ref(PATCH)}));
    }
    json!({"content": m, "required": true})
}

/// Paths of one resource.
fn resource_paths(
    paths: &mut Map<String, Value>,
    base: &str,
    r: &ResourceInfo,
    name: &str,
    list_name: &str,
    strategic: bool,
    sub_schema: &dyn Fn(&Subresource) -> Option<(String, Value)>,
) {
    let ctx = OpCtx {
        tag: tag_name(&r.group, &r.version),
        prefix: format!("{}{}", group_camel(&r.group), upper_first(&r.version)),
        r,
    };
    let kind = &r.kind;
    let (pfx, scope) = (&ctx.prefix, ctx.scope());
    let namespace = path_param(
        "namespace",
        "object name and auth scope, such as for teams and projects",
    );
    let pretty = query_param(PRETTY.0, PRETTY.1, PRETTY.2);
    let coll = if r.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{base}/{}", r.plural)
    };

    // Collection.
    let mut ops = Map::new();
    if r.supports("list") {
        let mut op = ctx.op(
            format!("list or watch objects of kind {kind}"),
            format!("list{pfx}{scope}{kind}"),
            "list",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(LIST_PARAMS));
        op.insert(
            "responses".into(),
            json!({"200": {"description": "OK", "content": content(list_name, true)},
                   "401": {"description": "Unauthorized"}}),
        );
        ops.insert("get".into(), Value::Object(op));
    }
    if r.supports("create") {
        let mut op = ctx.op(
            format!("create a {kind}"),
            format!("create{pfx}{scope}{kind}"),
            "post",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(WRITE_PARAMS));
        op.insert("requestBody".into(), object_body(name));
        op.insert(
            "responses".into(),
            responses(&[("200", "OK"), ("201", "Created"), ("202", "Accepted")], name),
        );
        ops.insert("post".into(), Value::Object(op));
    }
    if r.supports("deletecollection") {
        let mut op = ctx.op(
            format!("delete collection of {kind}"),
            format!("delete{pfx}Collection{scope}{kind}"),
            "deletecollection",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(DELETE_COLLECTION_PARAMS));
        op.insert(
            "requestBody".into(),
            json!({"content": {"*/*": {"schema": schema_ref(DELETE_OPTIONS)}}}),
        );
        op.insert("responses".into(), responses(&[("200", "OK")], STATUS));
        ops.insert("delete".into(), Value::Object(op));
    }
    if !ops.is_empty() {
        let mut p = vec![];
        if r.namespaced {
            p.push(namespace.clone());
        }
        p.push(pretty.clone());
        ops.insert("parameters".into(), Value::Array(p));
        paths.insert(coll.clone(), Value::Object(ops));
    }

    // List across namespaces.
    if r.namespaced && r.supports("list") {
        let mut op = ctx.op(
            format!("list or watch objects of kind {kind}"),
            format!("list{pfx}{kind}ForAllNamespaces"),
            "list",
            ctx.gvk(),
        );
        op.insert(
            "responses".into(),
            json!({"200": {"description": "OK", "content": content(list_name, true)},
                   "401": {"description": "Unauthorized"}}),
        );
        let mut p: Vec<Value> = LIST_PARAMS
            .iter()
            .chain(std::iter::once(&PRETTY))
            .map(|(n, t, d)| query_param(n, t, d))
            .collect();
        p.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        paths.insert(format!("{base}/{}", r.plural), json!({"get": op, "parameters": p}));
    }

    // Item.
    let item = format!("{coll}/{{name}}");
    let item_params = |what: &str| {
        let mut p = vec![path_param("name", &format!("name of the {what}"))];
        if r.namespaced {
            p.push(namespace.clone());
        }
        p.push(pretty.clone());
        Value::Array(p)
    };
    let mut ops = Map::new();
    if r.supports("get") {
        let mut op = ctx.op(
            format!("read the specified {kind}"),
            format!("read{pfx}{scope}{kind}"),
            "get",
            ctx.gvk(),
        );
        op.insert("responses".into(), responses(&[("200", "OK")], name));
        ops.insert("get".into(), Value::Object(op));
    }
    if r.supports("update") {
        let mut op = ctx.op(
            format!("replace the specified {kind}"),
            format!("replace{pfx}{scope}{kind}"),
            "put",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(WRITE_PARAMS));
        op.insert("requestBody".into(), object_body(name));
        op.insert(
            "responses".into(),
            responses(&[("200", "OK"), ("201", "Created")], name),
        );
        ops.insert("put".into(), Value::Object(op));
    }
    if r.supports("delete") {
        let mut op = ctx.op(
            format!("delete a {kind}"),
            format!("delete{pfx}{scope}{kind}"),
            "delete",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(DELETE_PARAMS));
        op.insert(
            "requestBody".into(),
            json!({"content": {"*/*": {"schema": schema_ref(DELETE_OPTIONS)}}}),
        );
        op.insert(
            "responses".into(),
            responses(&[("200", "OK"), ("202", "Accepted")], STATUS),
        );
        ops.insert("delete".into(), Value::Object(op));
    }
    if r.supports("patch") {
        let mut op = ctx.op(
            format!("partially update the specified {kind}"),
            format!("patch{pfx}{scope}{kind}"),
            "patch",
            ctx.gvk(),
        );
        op.insert("parameters".into(), params(PATCH_PARAMS));
        op.insert("requestBody".into(), patch_body(strategic));
        op.insert(
            "responses".into(),
            responses(&[("200", "OK"), ("201", "Created")], name),
        );
        ops.insert("patch".into(), Value::Object(op));
    }
    if !ops.is_empty() {
        ops.insert("parameters".into(), item_params(kind));
        paths.insert(item.clone(), Value::Object(ops));
    }

    // Subresources.
    for s in &r.subresources {
        let Some((sub_name, sub_gvk)) = sub_schema(s) else {
            continue;
        };
        let sub = upper_first(s.name);
        let sub_kind = sub_gvk["kind"].as_str().unwrap_or(kind).to_string();
        let mut ops = Map::new();
        for verb in s.verbs {
            let (method, action, desc, op_id) = match *verb {
                "get" => ("get", "get", "read", "read"),
                "update" => ("put", "put", "replace", "replace"),
                "patch" => ("patch", "patch", "partially update", "patch"),
                "create" => ("post", "post", "create", "create"),
                _ => continue,
            };
            let mut op = ctx.op(
                format!("{desc} {} of the specified {kind}", s.name),
                format!("{op_id}{pfx}{scope}{kind}{sub}"),
                action,
                sub_gvk.clone(),
            );
            match method {
                "get" => {
                    op.insert("responses".into(), responses(&[("200", "OK")], &sub_name));
                }
                "put" | "post" => {
                    op.insert("parameters".into(), params(WRITE_PARAMS));
                    op.insert("requestBody".into(), object_body(&sub_name));
                    op.insert(
                        "responses".into(),
                        responses(&[("200", "OK"), ("201", "Created")], &sub_name),
                    );
                }
                _ => {
                    op.insert("parameters".into(), params(PATCH_PARAMS));
                    op.insert("requestBody".into(), patch_body(strategic));
                    op.insert(
                        "responses".into(),
                        responses(&[("200", "OK"), ("201", "Created")], &sub_name),
                    );
                }
            }
            ops.insert(method.into(), Value::Object(op));
        }
        if !ops.is_empty() {
            ops.insert("parameters".into(), item_params(&sub_kind));
            paths.insert(format!("{item}/{}", s.name), Value::Object(ops));
        }
    }
}

/// Component schema of a custom resource from its CRD version's `openAPIV3Schema`.
fn crd_schema(r: &ResourceInfo, schema: Option<&Value>) -> Value {
    let mut s = match schema {
        Some(Value::Object(o)) => o.clone(),
        _ => {
            let mut o = Map::new();
            o.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
            o
        }
    };
    s.insert("type".into(), json!("object"));
    let props = s.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    if !props.is_object() {
        *props = Value::Object(Map::new());
    }
    if let Value::Object(props) = props {
        props.insert(
            "apiVersion".into(),
            json!({"description": API_VERSION_DESC, "type": "string"}),
        );
        props.insert("kind".into(), json!({"description": KIND_DESC, "type": "string"}));
        props.insert(
            "metadata".into(),
            json!({"description": OBJECT_META_DESC, "allOf": [schema_ref(OBJECT_META)]}),
        );
        props.sort_keys();
    }
    s.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk_tag(&r.group, &r.version, &r.kind)]),
    );
    Value::Object(s)
}

/// `<Kind>List` schema (k8s-openapi's `List<T>` has no schema of its own).
fn list_schema(r: &ResourceInfo, item: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}", r.kind, r.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", r.plural),
                "type": "array",
                "items": schema_ref(item),
            },
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"description": LIST_META_DESC, "allOf": [schema_ref(LIST_META)]},
        },
        "x-kubernetes-group-version-kind": [gvk_tag(&r.group, &r.version, &format!("{}List", r.kind))],
    })
}

/// Adds `x-kubernetes-*` list, map and patch extensions of built-in types.
fn add_extensions(schemas: &mut Map<String, Value>, meta: &SchemaMeta) {
    for (name, schema) in schemas.iter_mut() {
        let Some(t) = meta.type_meta(name) else {
            continue;
        };
        let Some(obj) = schema.as_object_mut() else {
            continue;
        };
        if let Some(mt) = &t.map_type {
            obj.insert("x-kubernetes-map-type".into(), json!(mt));
        }
        let Some(Value::Object(props)) = obj.get_mut("properties") else {
            continue;
        };
        for (pname, f) in &t.props {
            let Some(Value::Object(p)) = props.get_mut(pname) else {
                continue;
            };
            if !f.map_keys.is_empty() {
                p.insert("x-kubernetes-list-map-keys".into(), json!(f.map_keys));
            }
            if let Some(lt) = &f.list_type {
                p.insert("x-kubernetes-list-type".into(), json!(lt));
            }
            if let Some(mt) = &f.map_type {
                p.insert("x-kubernetes-map-type".into(), json!(mt));
            }
            if let Some(k) = &f.key {
                p.insert("x-kubernetes-patch-merge-key".into(), json!(k));
            }
            if let Some(s) = &f.strategy {
                p.insert("x-kubernetes-patch-strategy".into(), json!(s));
            }
        }
    }
}

/// kube-apiserver's shapes of the two scalar-like types whose k8s-openapi schemas differ.
fn fix_scalars(schemas: &mut Map<String, Value>) {
    if let Some(Value::Object(s)) = schemas.get_mut(INT_OR_STRING) {
        s.remove("x-kubernetes-int-or-string");
        s.insert("format".into(), json!("int-or-string"));
        s.insert("oneOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
    if let Some(Value::Object(s)) = schemas.get_mut(QUANTITY) {
        s.remove("type");
        s.remove("format");
        s.insert("oneOf".into(), json!([{"type": "string"}, {"type": "number"}]));
    }
}

fn tag_gvk(schemas: &mut Map<String, Value>, name: &str, tag: Value) {
    if let Some(Value::Object(s)) = schemas.get_mut(name) {
        match s.entry("x-kubernetes-group-version-kind").or_insert_with(|| json!([])) {
            Value::Array(a) => {
                if !a.contains(&tag) {
                    a.push(tag);
                }
            }
            other => *other = json!([tag]),
        }
    }
}

/// Builds the document of one group-version.
fn build(group: &str, version: &str, resources: &[Arc<ResourceInfo>]) -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    add::<meta::Status>(&mut generator);
    add::<meta::DeleteOptions>(&mut generator);
    add::<meta::Patch>(&mut generator);
    add::<meta::APIResourceList>(&mut generator);
    add::<meta::ObjectMeta>(&mut generator);
    add::<meta::ListMeta>(&mut generator);

    let base = format!("/{}", gv_path(group, version));
    let mut paths = Map::new();
    let mut extra = Map::new();
    // (schema name, GVK tag) of every kind served or returned here.
    let mut tags: Vec<(String, Value)> = vec![
        (STATUS.into(), gvk_tag("", "v1", "Status")),
        (DELETE_OPTIONS.into(), gvk_tag("", "v1", "DeleteOptions")),
        (API_RESOURCE_LIST.into(), gvk_tag("", "v1", "APIResourceList")),
    ];
    if !group.is_empty() {
        tags.push((DELETE_OPTIONS.into(), gvk_tag(group, version, "DeleteOptions")));
    }
    let mut roots = vec![];

    for r in resources {
        let typed = r.schema.map(|f| f(&mut generator)).and_then(|s| ref_name(&s));
        let (name, strategic) = match typed {
            Some(n) => {
                roots.push(n.clone());
                (n, true)
            }
            None => {
                let n = crd_schema_name(r);
                extra.insert(n.clone(), crd_schema(r, r.openapi_schema.as_ref()));
                (n, false)
            }
        };
        let list_name = format!("{name}List");
        extra.insert(list_name.clone(), list_schema(r, &name));
        tags.push((name.clone(), gvk_tag(&r.group, &r.version, &r.kind)));

        let mut subs: HashMap<&str, (String, Value)> = HashMap::new();
        for s in &r.subresources {
            let g = if s.group.is_empty() { r.group.as_str() } else { s.group };
            let v = if s.version.is_empty() {
                r.version.as_str()
            } else {
                s.version
            };
            let found = if (g, v, s.kind) == (r.group.as_str(), r.version.as_str(), r.kind.as_str()) {
                Some(name.clone())
            } else if (g, v, s.kind) == ("autoscaling", "v1", "Scale") {
                Some(add::<k8s_openapi::api::autoscaling::v1::Scale>(&mut generator))
            } else {
                None
            };
            if let Some(n) = found {
                if n != name {
                    tags.push((n.clone(), gvk_tag(g, v, s.kind)));
                }
                subs.insert(s.name, (n, gvk_object(g, v, s.kind)));
            }
        }
        let sub_schema = |s: &Subresource| subs.get(s.name).cloned();
        resource_paths(&mut paths, &base, r, &name, &list_name, strategic, &sub_schema);
    }

    let mut resources_op = Map::new();
    resources_op.insert("tags".into(), json!([tag_name(group, version)]));
    resources_op.insert("description".into(), json!("get available resources"));
    resources_op.insert(
        "operationId".into(),
        json!(format!("get{}{}APIResources", group_camel(group), upper_first(version))),
    );
    resources_op.insert("responses".into(), responses(&[("200", "OK")], API_RESOURCE_LIST));
    paths.insert(format!("{base}/"), json!({"get": resources_op}));

    let mut schemas = generator.take_definitions(true);
    add_extensions(&mut schemas, SchemaMeta::builtin());
    fix_scalars(&mut schemas);
    // kube-apiserver does not mark metadata required on root kinds.
    for n in &roots {
        if let Some(Value::Object(s)) = schemas.get_mut(n)
            && let Some(Value::Array(req)) = s.get_mut("required")
        {
            req.retain(|x| x != "metadata");
            if req.is_empty() {
                s.remove("required");
            }
        }
    }
    for (k, v) in extra {
        schemas.insert(k, v);
    }
    for (n, t) in tags {
        tag_gvk(&mut schemas, &n, t);
    }
    schemas.sort_keys();
    paths.sort_keys();

    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.36.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps() -> Value {
        document(&Registry::builtin(), "apps", "v1")
    }

    fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
        &doc["components"]["schemas"][name]
    }

    #[test]
    fn root_kinds_are_tagged_with_gvk() {
        let doc = apps();
        assert_eq!(
            schema(&doc, "io.k8s.api.apps.v1.Deployment")["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        assert_eq!(
            schema(&doc, "io.k8s.api.apps.v1.DeploymentList")["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "DeploymentList", "version": "v1"}])
        );
        assert_eq!(
            schema(&doc, "io.k8s.api.autoscaling.v1.Scale")["x-kubernetes-group-version-kind"],
            json!([{"group": "autoscaling", "kind": "Scale", "version": "v1"}])
        );
        let core = document(&Registry::builtin(), "", "v1");
        assert_eq!(
            schema(&core, "io.k8s.api.core.v1.ConfigMap")["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "ConfigMap", "version": "v1"}])
        );
        // Every $ref resolves within the document.
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        for d in [&doc, &core] {
            let mut all = vec![];
            refs(d, &mut all);
            for r in all {
                let n = r.strip_prefix(REF_PREFIX).expect("component ref");
                assert!(d["components"]["schemas"].get(n).is_some(), "dangling {r}");
            }
        }
    }

    #[test]
    fn pod_spec_containers_carry_patch_extensions() {
        let doc = apps();
        let c = &schema(&doc, "io.k8s.api.core.v1.PodSpec")["properties"]["containers"];
        assert_eq!(c["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(c["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(c["x-kubernetes-list-type"], "map");
        assert_eq!(c["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(c["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Container");
        let strategy = &schema(&doc, "io.k8s.api.apps.v1.DeploymentSpec")["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        assert_eq!(
            strategy["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"
        );
        assert_eq!(
            schema(&doc, "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")["x-kubernetes-map-type"],
            "atomic"
        );
        assert_eq!(schema(&doc, INT_OR_STRING)["format"], "int-or-string");
    }

    #[test]
    fn patch_operations_list_params_and_content_types() {
        let doc = apps();
        let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        let patch = &item["patch"];
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, vec!["dryRun", "fieldManager", "fieldValidation", "force"]);
        let types: Vec<&String> = patch["requestBody"]["content"]
            .as_object()
            .expect("content")
            .keys()
            .collect();
        assert_eq!(
            types,
            vec![
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json"
            ]
        );
        assert_eq!(
            patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.Deployment"
        );
        for (path, action) in [
            ("/apis/apps/v1/namespaces/{namespace}/deployments", "list"),
            ("/apis/apps/v1/deployments", "list"),
        ] {
            assert_eq!(doc["paths"][path]["get"]["x-kubernetes-action"], action);
        }
        let coll = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"];
        assert_eq!(coll["post"]["x-kubernetes-action"], "post");
        assert_eq!(coll["delete"]["x-kubernetes-action"], "deletecollection");
        let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        assert_eq!(
            scale["patch"]["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        let status = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
        assert!(status["put"].is_object() && status["patch"]["parameters"].is_array());
        // Namespaces: no deletecollection, a finalize subresource.
        let core = document(&Registry::builtin(), "", "v1");
        assert!(core["paths"]["/api/v1/namespaces"]["delete"].is_null());
        assert_eq!(
            core["paths"]["/api/v1/namespaces/{name}/finalize"]["put"]["x-kubernetes-action"],
            "put"
        );
    }

    #[test]
    fn explain_descriptions_present() {
        let doc = apps();
        let spec = schema(&doc, "io.k8s.api.apps.v1.DeploymentSpec");
        assert!(
            spec["properties"]["strategy"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("deployment strategy"))
        );
        let strategy = schema(&doc, "io.k8s.api.apps.v1.DeploymentStrategy");
        assert!(strategy["description"].as_str().is_some());
        assert!(strategy["properties"]["rollingUpdate"]["description"].is_string());
        let container = schema(&doc, "io.k8s.api.core.v1.Container");
        assert!(
            container["properties"]["image"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("Container image name"))
        );
        assert_eq!(container["required"], json!(["name"]));
        let deploy = schema(&doc, "io.k8s.api.apps.v1.Deployment");
        assert!(deploy["required"].is_null());
        assert!(deploy["properties"]["metadata"]["allOf"][0]["$ref"].is_string());
    }

    fn widget(schema: Option<Value>) -> ResourceInfo {
        let mut r = Registry::builtin()
            .get("", "v1", "configmaps")
            .map(|c| (*c).clone())
            .expect("configmaps");
        r.group = "example.com".into();
        r.version = "v1".into();
        r.kind = "Widget".into();
        r.plural = "widgets".into();
        r.singular = "widget".into();
        r.subresources = vec![];
        r.typed_check = None;
        r.schema = None;
        r.openapi_schema = schema;
        r
    }

    #[test]
    fn crd_document_uses_its_schema_without_smp() {
        let mut reg = Registry::builtin();
        reg.insert(widget(Some(json!({"type": "object", "description": "A widget.",
            "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}))));
        let doc = document(&reg, "example.com", "v1");
        assert_eq!(
            serde_json::from_slice::<Value>(&document_bytes(&reg, "example.com", "v1")).ok(),
            Some(doc.clone())
        );
        assert_eq!(
            doc["paths"]["/apis/example.com/v1/widgets"]["get"]["operationId"],
            "listExampleComV1WidgetForAllNamespaces"
        );
        let w = schema(&doc, "com.example.v1.Widget");
        assert_eq!(w["description"], "A widget.");
        assert_eq!(w["properties"]["spec"]["properties"]["size"]["type"], "integer");
        assert_eq!(
            w["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(
            w["x-kubernetes-group-version-kind"],
            json!([{"group": "example.com", "kind": "Widget", "version": "v1"}])
        );
        assert!(schema(&doc, OBJECT_META)["properties"]["name"].is_object());
        let patch = &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
        let content = patch["requestBody"]["content"].as_object().expect("content");
        assert!(!content.contains_key("application/strategic-merge-patch+json"));
        assert!(content.contains_key("application/merge-patch+json"));
        assert!(content.contains_key("application/apply-patch+yaml"));
        assert!(
            patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );

        // The index hash follows the document.
        let url = |reg: &Registry| {
            index(reg)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
                .as_str()
                .expect("url")
                .to_string()
        };
        let before = url(&reg);
        assert_eq!(before, url(&reg));
        reg.insert(widget(Some(
            json!({"type": "object", "properties": {"spec": {"type": "string"}}}),
        )));
        assert_ne!(before, url(&reg));
        assert_eq!(
            schema(&document(&reg, "example.com", "v1"), "com.example.v1.Widget")["properties"]["spec"]["type"],
            "string"
        );
    }
}
