//! Server-side apply and `metadata.managedFields` tracking, after kube-apiserver's field
//! manager (`k8s.io/apimachinery/pkg/util/managedfields`) and structured-merge-diff.
//!
//! Everything here is a pure function over `serde_json::Value` and a [`SchemaMeta`]:
//!
//! * [`FieldSet`]: sets of field paths, read from and written as `FieldsV1` JSON.
//! * [`fields_of`]: the fields an object (an apply configuration) sets.
//! * [`FieldManager::apply`] (or [`apply`]): `PATCH` with `application/apply-patch+yaml`.
//! * [`FieldManager::update`] (or [`update_managed_fields`]): the bookkeeping of `POST`, `PUT`
//!   and the other `PATCH` types.
//! * [`conflict_message`]: kube's 409 message and status causes.
//!
//! How kube behaves, and so how this module behaves:
//!
//! * Ownership is per manager entry, identified by manager name, operation, subresource and,
//!   for `Update` entries only, apiVersion (an applier keeps one entry across versions).
//! * `apiVersion`, `kind`, `metadata` itself and `metadata.{name, namespace, uid,
//!   resourceVersion, generation, creationTimestamp, managedFields, selfLink, clusterName}` are
//!   never owned; everything else is, `metadata.generateName` and labels included.
//! * Struct fields are owned through their leaves; map entries (`data`, `labels`) and list
//!   items are owned themselves (`"."` when they also have owned children); atomic maps and
//!   lists, empty maps and empty lists are leaves. `Update` entries also own containers that
//!   the update created (`"f:data": {".": {}, ...}`).
//! * Apply: the configuration is merged into the live object (granular maps by key, map
//!   lists by their keys, set lists by value, everything else replaced); what the applier
//!   applied last time and no longer applies is removed unless another manager owns it;
//!   changing a value another manager owns is a conflict unless `force`, which moves the
//!   ownership; applying the same value shares it. An apply that changes nothing keeps the
//!   entry's time (a new applier's entry then has none).
//! * Update: the fields that changed (added or modified) move to the updater; removed fields
//!   leave every entry; the entry's time changes only when it took fields.
//! * Entries are sorted as kube sorts them: `Apply` before `Update`, then by time, manager,
//!   apiVersion and subresource. Empty entries disappear. More than 10 `Update` entries
//!   fold the oldest into `ancient-changes`.
//!
//! Known differences: no conversion between API versions (every entry is compared in the
//! request's version), no union or unset-marker support, undeclared scalar fields are not
//! rejected (the schema table lists only fields with structure).

use super::schema::{FieldMeta, SchemaMeta, TypeMeta};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

/// Manager that owns the fields of an object applied to for the first time without managedFields.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// Manager into which the oldest `Update` entries are folded.
const ANCIENT_CHANGES: &str = "ancient-changes";
/// Most `Update` entries kept before folding.
const MAX_UPDATE_MANAGERS: usize = 10;
/// kubectl's client-side apply annotation.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Properties that Go types hold by value (`default: {}` in the OpenAPI documents): an empty
/// built-in object already has them, so creating one does not add them as `"."` members.
const VALUE_STRUCTS: &[&str] = &[
    "acceptedNames",
    "backend",
    "clientConfig",
    "current",
    "daemonEndpoints",
    "deprecatedSource",
    "describedObject",
    "devices",
    "involvedObject",
    "jobTemplate",
    "kubeletEndpoint",
    "lastState",
    "limitResponse",
    "loadBalancer",
    "metadata",
    "metric",
    "names",
    "nodeInfo",
    "podAffinityTerm",
    "pool",
    "preference",
    "preferredVersion",
    "priorityLevelConfiguration",
    "regarding",
    "resources",
    "roleRef",
    "scaleTargetRef",
    "source",
    "spec",
    "state",
    "status",
    "strategy",
    "target",
    "template",
    "updateStrategy",
    "userInfo",
];

/// Required list properties (no `omitempty`): an empty built-in object has them as `null`.
const REQUIRED_LISTS: &[&str] = &[
    "admissionReviewVersions",
    "containers",
    "conversionReviewVersions",
    "drivers",
    "limits",
    "monitors",
    "nodeSelectorTerms",
    "paths",
    "requestMappings",
    "validationActions",
    "verbs",
    "versions",
];

/// Paths the field manager never records (kube's `stripMetaManager`).
const STRIPPED: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.creationTimestamp",
    "metadata.selfLink",
    "metadata.uid",
    "metadata.clusterName",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.resourceVersion",
];

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

fn value_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// Total order of values (structured-merge-diff's `value.Compare`): numbers, strings,
/// booleans, lists, maps, null.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => x
                .as_f64()
                .unwrap_or(0.0)
                .partial_cmp(&y.as_f64().unwrap_or(0.0))
                .unwrap_or(Ordering::Equal),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = cmp_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((ka, va), (kb, vb)) in xs.iter().zip(&ys) {
                let c = ka.cmp(kb).then_with(|| cmp_values(va, vb));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => value_rank(a).cmp(&value_rank(b)),
    }
}

/// Go's `%q` of a string (close enough: JSON escaping).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// A value as structured-merge-diff prints it in paths (`value.ToString`).
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(value_to_string).collect::<Vec<_>>().join(",")),
        Value::Object(m) => {
            format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect::<Vec<_>>()
                    .join(";")
            )
        }
    }
}

/// Rebuilds a value with object keys in sorted order (Go's `encoding/json` of maps).
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(x) = m.get(k) {
                    out.insert(k.clone(), sorted_keys(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        _ => v.clone(),
    }
}

/// Drops `null` map entries, as converting to a typed object (or CRD pruning) does.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            for x in m.values_mut() {
                strip_nulls(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Seconds since the epoch of an RFC 3339 time (`None` when it doesn't parse).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |from: usize, to: usize| s.get(from..to).and_then(|x| x.parse::<i64>().ok());
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hour * 3600 + minute * 60 + second - offset)
}

fn time_seconds(t: Option<&str>) -> i64 {
    t.and_then(parse_rfc3339).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Paths and sets
// ---------------------------------------------------------------------------------------

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A struct field or a map key (`f:<name>`).
    Field(String),
    /// An item of a map-typed list, by its key fields sorted by name (`k:{...}`).
    Key(Vec<(String, Value)>),
    /// An item of a set-typed list, by value (`v:<json>`).
    Value(Value),
    /// An item by position (`i:<n>`); never produced for map or set lists.
    Index(i64),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The element as a `FieldsV1` key: `f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`.
    pub fn to_fields_key(&self) -> String {
        match self {
            PathElement::Field(n) => format!("f:{n}"),
            PathElement::Key(kv) => {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k.clone(), v.clone());
                }
                format!("k:{}", Value::Object(m))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key.
    pub fn from_fields_key(s: &str) -> Result<PathElement, String> {
        let (prefix, rest) = (s.get(..2).unwrap_or(""), s.get(2..).unwrap_or(""));
        match prefix {
            "f:" => Ok(PathElement::Field(rest.to_string())),
            "v:" => serde_json::from_str(rest)
                .map(PathElement::Value)
                .map_err(|e| format!("parsing {s:?}: {e}")),
            "i:" => rest
                .parse::<i64>()
                .map(PathElement::Index)
                .map_err(|e| format!("parsing {s:?}: {e}")),
            "k:" => match serde_json::from_str::<Value>(rest) {
                Ok(Value::Object(m)) => {
                    let mut kv: Vec<(String, Value)> = m.into_iter().collect();
                    kv.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(PathElement::Key(kv))
                }
                Ok(_) => Err(format!("parsing {s:?}: keys must be a JSON object")),
                Err(e) => Err(format!("parsing {s:?}: {e}")),
            },
            _ => Err(format!("unknown path element type: {s:?}")),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((na, va), (nb, vb)) in a.iter().zip(b) {
                    let c = na.cmp(nb).then_with(|| cmp_values(va, vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => cmp_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// As kube prints path elements: `.name`, `[name="web"]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(kv) => {
                let parts: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={}", value_to_string(v))).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Renders a path as kube does in conflict messages: `.spec.containers[name="web"].image`.
pub fn render_path(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, in the trie shape of `FieldsV1`:
/// `{"f:data":{"f:a":{}}, "f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// A set of plain field paths written with dots (`"status"`, `"metadata.labels"`), e.g.
    /// the fields a strategy resets.
    pub fn from_field_paths(paths: &[&str]) -> FieldSet {
        let mut set = FieldSet::new();
        for p in paths {
            let path: Vec<PathElement> = p.split('.').map(|s| PathElement::Field(s.to_string())).collect();
            set.insert(&path);
        }
        set
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [pe] => {
                self.members.insert(pe.clone());
            }
            [pe, rest @ ..] => self.children.entry(pe.clone()).or_default().insert(rest),
        }
    }

    /// Whether the path is a member of the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [pe] => self.members.contains(pe),
            [pe, rest @ ..] => self.children.get(pe).is_some_and(|c| c.has(rest)),
        }
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            match out.children.get_mut(pe) {
                Some(mine) => *mine = mine.union(c),
                None => {
                    out.children.insert(pe.clone(), c.clone());
                }
            }
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            ..Default::default()
        };
        for (pe, c) in &self.children {
            if let Some(oc) = other.children.get(pe) {
                let i = c.intersection(oc);
                if !i.is_empty() {
                    out.children.insert(pe.clone(), i);
                }
            }
        }
        out
    }

    /// Paths of `self` that are not in `other` (children of a removed member stay).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            ..Default::default()
        };
        for (pe, c) in &self.children {
            let d = match other.children.get(pe) {
                Some(oc) => c.difference(oc),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    /// Paths of `self` that are neither in `other` nor below a member of `other`.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            ..Default::default()
        };
        for (pe, c) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let d = match other.children.get(pe) {
                Some(oc) => c.recursive_difference(oc),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    /// Every member path, in structured-merge-diff's order (a level's members, then its
    /// children's).
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    /// Member paths that have no member below them (the owned values themselves).
    pub fn leaf_paths(&self) -> Vec<Vec<PathElement>> {
        self.paths()
            .into_iter()
            .filter(|p| self.child_at(p).is_none_or(FieldSet::is_empty))
            .collect()
    }

    fn child_at(&self, path: &[PathElement]) -> Option<&FieldSet> {
        match path {
            [] => Some(self),
            [pe, rest @ ..] => self.children.get(pe)?.child_at(rest),
        }
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Reads `FieldsV1` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        match v {
            Value::Object(m) => Ok(FieldSet::parse_object(m)?.0),
            Value::Null => Ok(FieldSet::new()),
            _ => Err("FieldsV1 must be a JSON object".to_string()),
        }
    }

    fn parse_object(m: &Map<String, Value>) -> Result<(FieldSet, bool), String> {
        let mut set = FieldSet::new();
        let mut itself = false;
        for (k, v) in m {
            if k == "." {
                itself = true;
                continue;
            }
            let pe = PathElement::from_fields_key(k)?;
            let Value::Object(child) = v else {
                return Err(format!("expected an object for {k:?}"));
            };
            let (sub, sub_itself) = FieldSet::parse_object(child)?;
            if child.is_empty() || sub_itself {
                set.members.insert(pe.clone());
            }
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        Ok((set, itself))
    }

    /// Writes `FieldsV1` JSON (keys in structured-merge-diff's order, `"."` first).
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.write_object(false))
    }

    fn write_object(&self, itself: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if itself && !self.is_empty() {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        let keys: BTreeSet<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        for pe in keys {
            let member = self.members.contains(pe);
            let value = match self.children.get(pe) {
                Some(c) if !c.is_empty() => Value::Object(c.write_object(member)),
                _ => Value::Object(Map::new()),
            };
            out.insert(pe.to_fields_key(), value);
        }
        out
    }
}

impl fmt::Display for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_fields_v1())
    }
}

fn strip_set() -> FieldSet {
    FieldSet::from_field_paths(STRIPPED)
}

// ---------------------------------------------------------------------------------------
// Schema walking
// ---------------------------------------------------------------------------------------

/// List semantics.
#[derive(Clone, Copy, Debug)]
enum Rel<'a> {
    Atomic,
    Set,
    Map(&'a [String]),
}

/// What the schema says about one position of an object.
#[derive(Clone, Copy, Debug)]
enum Shape<'a> {
    /// A struct with named fields (atomic or granular).
    Struct(&'a TypeMeta, bool),
    /// A map (`additionalProperties`); values of a named type, or atomic lists.
    Map {
        atomic: bool,
        value: Option<&'a str>,
        lists: bool,
    },
    /// A list of items of a named type.
    List { rel: Rel<'a>, item: Option<&'a str> },
    /// Unknown: maps are granular (keys undeclared), lists atomic.
    Deduced,
}

fn list_rel(f: &FieldMeta) -> Rel<'_> {
    let merge_strategy = f
        .strategy
        .as_deref()
        .is_some_and(|s| s.split(',').any(|p| p == "merge"));
    match f.list_type.as_deref() {
        Some("map") if !f.map_keys.is_empty() => Rel::Map(&f.map_keys),
        Some("map") => f
            .key
            .as_ref()
            .map_or(Rel::Atomic, |k| Rel::Map(std::slice::from_ref(k))),
        Some("set") => Rel::Set,
        Some(_) => Rel::Atomic,
        None if merge_strategy => f.key.as_ref().map_or(Rel::Set, |k| Rel::Map(std::slice::from_ref(k))),
        None => Rel::Atomic,
    }
}

/// How two sides of a comparison or merge are walked.
enum Walk<'a> {
    Leaf,
    Map,
    List(Rel<'a>),
}

fn is_nullish(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// The schema table plus what the walk needs to know about the kind.
#[derive(Clone, Copy)]
struct Typer<'a> {
    meta: &'a SchemaMeta,
    /// Built-in kind: list keys default as in the OpenAPI documents.
    builtin: bool,
}

/// Added, modified and removed paths between two objects.
#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

impl Comparison {
    fn exclude(&mut self, ignored: &FieldSet) {
        if ignored.is_empty() {
            return;
        }
        self.added = self.added.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
    }
}

impl<'a> Typer<'a> {
    fn new(meta: &'a SchemaMeta, type_name: &str) -> Typer<'a> {
        Typer {
            meta,
            builtin: type_name.starts_with("io.k8s."),
        }
    }

    fn named(&self, name: Option<&'a str>, map_type: Option<&'a str>) -> Shape<'a> {
        match name.and_then(|n| self.meta.types.get(n)) {
            Some(t) => Shape::Struct(t, map_type.or(t.map_type.as_deref()) == Some("atomic")),
            None if map_type == Some("atomic") => Shape::Map {
                atomic: true,
                value: None,
                lists: false,
            },
            None => Shape::Deduced,
        }
    }

    fn prop(&self, f: Option<&'a FieldMeta>) -> Shape<'a> {
        let Some(f) = f else { return Shape::Deduced };
        if f.list {
            return Shape::List {
                rel: list_rel(f),
                item: f.type_name.as_deref(),
            };
        }
        if f.map {
            return Shape::Map {
                atomic: f.map_type.as_deref() == Some("atomic"),
                value: f.type_name.as_deref(),
                lists: f.map_of_lists,
            };
        }
        self.named(f.type_name.as_deref(), f.map_type.as_deref())
    }

    fn field(&self, parent: Shape<'a>, key: &str) -> Shape<'a> {
        match parent {
            Shape::Struct(t, _) => self.prop(t.props.get(key)),
            Shape::Map { lists: true, .. } => Shape::List {
                rel: Rel::Atomic,
                item: None,
            },
            Shape::Map { value, .. } => self.named(value, None),
            _ => Shape::Deduced,
        }
    }

    fn item(&self, parent: Shape<'a>) -> Shape<'a> {
        match parent {
            Shape::List { item, .. } => self.named(item, None),
            _ => Shape::Deduced,
        }
    }

    fn child(&self, parent: Shape<'a>, pe: &PathElement) -> Shape<'a> {
        match pe {
            PathElement::Field(k) => self.field(parent, k),
            PathElement::Key(_) => self.item(parent),
            _ => Shape::Deduced,
        }
    }

    /// Whether `key` is a declared field of a struct (such fields are not members by themselves).
    fn declared(&self, parent: Shape<'a>, key: &str) -> bool {
        matches!(parent, Shape::Struct(t, _) if t.props.contains_key(key))
    }

    fn map_atomic(&self, shape: Shape<'a>) -> bool {
        match shape {
            Shape::Struct(_, atomic) => atomic,
            Shape::Map { atomic, .. } => atomic,
            _ => false,
        }
    }

    fn assoc(&self, shape: Shape<'a>) -> Option<Rel<'a>> {
        match shape {
            Shape::List {
                rel: rel @ (Rel::Set | Rel::Map(_)),
                ..
            } => Some(rel),
            _ => None,
        }
    }

    /// How `l` and `r` are walked together.
    fn walk(&self, shape: Shape<'a>, l: Option<&Value>, r: Option<&Value>) -> Walk<'a> {
        let obj = |v: Option<&Value>| matches!(v, Some(Value::Object(_)));
        let arr = |v: Option<&Value>| matches!(v, Some(Value::Array(_)));
        let both_empty = is_empty_value(l) && is_empty_value(r);
        if (obj(l) || obj(r)) && (obj(l) || is_nullish(l)) && (obj(r) || is_nullish(r)) {
            if self.map_atomic(shape) || both_empty {
                Walk::Leaf
            } else {
                Walk::Map
            }
        } else if (arr(l) || arr(r)) && (arr(l) || is_nullish(l)) && (arr(r) || is_nullish(r)) {
            match self.assoc(shape) {
                Some(rel) if !both_empty => Walk::List(rel),
                _ => Walk::Leaf,
            }
        } else {
            Walk::Leaf
        }
    }

    /// Default of a list-map key the item omits (built-in kinds: `protocol` is `TCP`, ports 0,
    /// other keys the empty string, as their OpenAPI documents say).
    fn key_default(&self, key: &str) -> Option<Value> {
        if !self.builtin {
            return None;
        }
        Some(match key {
            "protocol" => Value::String("TCP".to_string()),
            k if k == "port" || k.ends_with("Port") => Value::from(0),
            _ => Value::String(String::new()),
        })
    }

    fn item_pe(&self, rel: Rel<'a>, index: usize, item: &Value) -> Result<PathElement, String> {
        match rel {
            Rel::Set => match item {
                Value::Object(_) => Err("associative list without keys has an element that's a map type".to_string()),
                Value::Array(_) => Err("not supported: associative list with lists as elements".to_string()),
                Value::Null => Err("associative list without keys has an element that's an explicit null".to_string()),
                v => Ok(PathElement::Value(v.clone())),
            },
            Rel::Map(keys) => {
                let m = match item {
                    Value::Object(m) => m,
                    Value::Null => return Err("associative list with keys may not have a null element".to_string()),
                    _ => return Err("associative list with keys may not have non-map elements".to_string()),
                };
                let mut kv = Vec::with_capacity(keys.len());
                for k in keys {
                    match m.get(k).cloned().or_else(|| self.key_default(k)) {
                        Some(v) => kv.push((k.clone(), v)),
                        None => {
                            return Err(format!(
                                "associative list with keys has an element that omits key field {} (and doesn't have default value)",
                                go_quote(k)
                            ));
                        }
                    }
                }
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(kv))
            }
            Rel::Atomic => Ok(PathElement::Index(index as i64)),
        }
    }

    /// The items of a list with their path elements (by position when the key is unusable).
    fn items<'v>(&self, rel: Rel<'a>, list: Option<&'v Value>) -> Vec<(PathElement, &'v Value)> {
        let Some(Value::Array(a)) = list else { return Vec::new() };
        a.iter()
            .enumerate()
            .map(|(i, item)| (self.item_pe(rel, i, item).unwrap_or(PathElement::Index(i as i64)), item))
            .collect()
    }

    /// Schema errors of an apply configuration (duplicate or unusable list keys).
    fn validate(&self, shape: Shape<'a>, v: &Value, path: &mut Vec<PathElement>, errs: &mut Vec<String>) {
        let at = |path: &[PathElement], msg: String| {
            if path.is_empty() {
                msg
            } else {
                format!("{}: {msg}", render_path(path))
            }
        };
        match v {
            Value::Object(m) if !self.map_atomic(shape) => {
                for (k, cv) in m {
                    path.push(PathElement::Field(k.clone()));
                    self.validate(self.field(shape, k), cv, path, errs);
                    path.pop();
                }
            }
            Value::Array(a) => {
                let Some(rel) = self.assoc(shape) else { return };
                let mut seen = BTreeSet::new();
                for (i, item) in a.iter().enumerate() {
                    match self.item_pe(rel, i, item) {
                        Ok(pe) => {
                            if !seen.insert(pe.clone()) {
                                errs.push(at(path, format!("duplicate entries for key {pe}")));
                            }
                            path.push(pe);
                            self.validate(self.item(shape), item, path, errs);
                            path.pop();
                        }
                        Err(e) => errs.push(at(path, format!("element {i}: {e}"))),
                    }
                }
            }
            _ => {}
        }
    }

    /// The fields `v` sets (structured-merge-diff's `ToFieldSet`).
    fn field_set(&self, shape: Shape<'a>, v: &Value) -> FieldSet {
        let mut set = FieldSet::new();
        self.collect_set(shape, v, &mut Vec::new(), &mut set);
        set
    }

    fn collect_set(&self, shape: Shape<'a>, v: &Value, path: &mut Vec<PathElement>, set: &mut FieldSet) {
        match v {
            Value::Object(m) => {
                if self.map_atomic(shape) {
                    set.insert(path);
                    return;
                }
                for (k, cv) in m {
                    path.push(PathElement::Field(k.clone()));
                    self.collect_set(self.field(shape, k), cv, path, set);
                    if !self.declared(shape, k) {
                        set.insert(path);
                    }
                    path.pop();
                }
            }
            Value::Array(a) => match self.assoc(shape) {
                Some(rel) => {
                    for (i, item) in a.iter().enumerate() {
                        path.push(self.item_pe(rel, i, item).unwrap_or(PathElement::Index(i as i64)));
                        self.collect_set(self.item(shape), item, path, set);
                        set.insert(path);
                        path.pop();
                    }
                }
                None => set.insert(path),
            },
            Value::Null => match shape {
                Shape::Struct(_, false) | Shape::Map { atomic: false, .. } => {}
                Shape::List {
                    rel: Rel::Set | Rel::Map(_),
                    ..
                } => {}
                _ => set.insert(path),
            },
            _ => set.insert(path),
        }
    }

    /// Compares `l` (old) with `r` (new) (structured-merge-diff's `Compare`).
    fn compare(
        &self,
        shape: Shape<'a>,
        l: Option<&Value>,
        r: Option<&Value>,
        path: &mut Vec<PathElement>,
        c: &mut Comparison,
    ) {
        if l.is_none() && r.is_none() {
            return;
        }
        match self.walk(shape, l, r) {
            Walk::Leaf => {
                match (l, r) {
                    (None, Some(_)) => c.added.insert(path),
                    (Some(_), None) => c.removed.insert(path),
                    (Some(a), Some(b)) if a != b => c.modified.insert(path),
                    _ => {}
                }
                return;
            }
            Walk::Map => {
                let lm = l.and_then(Value::as_object);
                let rm = r.and_then(Value::as_object);
                for (k, lv) in lm.into_iter().flatten() {
                    path.push(PathElement::Field(k.clone()));
                    self.compare(self.field(shape, k), Some(lv), rm.and_then(|m| m.get(k)), path, c);
                    path.pop();
                }
                for (k, rv) in rm.into_iter().flatten() {
                    if lm.is_some_and(|m| m.contains_key(k)) {
                        continue;
                    }
                    path.push(PathElement::Field(k.clone()));
                    self.compare(self.field(shape, k), None, Some(rv), path, c);
                    path.pop();
                }
            }
            Walk::List(rel) => {
                let item = self.item(shape);
                let mut lhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
                let mut order = Vec::new();
                for (pe, v) in self.items(rel, l) {
                    lhs.entry(pe).or_insert_with_key(|pe| {
                        order.push(pe.clone());
                        v
                    });
                }
                let mut rhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
                for (pe, v) in self.items(rel, r) {
                    if !lhs.contains_key(&pe) && !rhs.contains_key(&pe) {
                        order.push(pe.clone());
                    }
                    rhs.entry(pe).or_insert(v);
                }
                for pe in order {
                    let (lv, rv) = (lhs.get(&pe).copied(), rhs.get(&pe).copied());
                    path.push(pe);
                    self.compare(item, lv, rv, path, c);
                    path.pop();
                }
            }
        }
        if l.is_none() {
            c.added.insert(path);
        } else if r.is_none() {
            c.removed.insert(path);
        }
    }

    /// Merges `r` (an apply configuration) into `l` (structured-merge-diff's `Merge`).
    fn merge(&self, shape: Shape<'a>, l: Option<&Value>, r: Option<&Value>) -> Option<Value> {
        let (l, r) = match (l, r) {
            (None, None) => return None,
            (Some(l), None) => return Some(l.clone()),
            (None, Some(r)) => return Some(r.clone()),
            (Some(l), Some(r)) => (l, r),
        };
        match self.walk(shape, Some(l), Some(r)) {
            Walk::Leaf => Some(r.clone()),
            Walk::Map => {
                let empty = Map::new();
                let lm = l.as_object().unwrap_or(&empty);
                let rm = r.as_object().unwrap_or(&empty);
                let mut out = Map::new();
                for (k, lv) in lm {
                    if let Some(v) = self.merge(self.field(shape, k), Some(lv), rm.get(k)) {
                        out.insert(k.clone(), v);
                    }
                }
                for (k, rv) in rm {
                    if !lm.contains_key(k) {
                        out.insert(k.clone(), rv.clone());
                    }
                }
                Some(Value::Object(out))
            }
            Walk::List(rel) => Some(Value::Array(self.merge_list(shape, rel, l, r))),
        }
    }

    /// Merges associative lists: items keep the live order, except that items the
    /// configuration mentions follow the configuration's order.
    fn merge_list(&self, shape: Shape<'a>, rel: Rel<'a>, l: &Value, r: &Value) -> Vec<Value> {
        let item = self.item(shape);
        let lhs = self.items(rel, Some(l));
        let rhs = self.items(rel, Some(r));
        // Live items by key; `None` marks a key the live list repeats.
        let mut seen_l: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
        for (pe, v) in &lhs {
            seen_l.entry(pe).and_modify(|x| *x = None).or_insert(Some(*v));
        }
        let mut seen_r: BTreeMap<&PathElement, &Value> = BTreeMap::new();
        for (pe, v) in &rhs {
            seen_r.entry(pe).or_insert(*v);
        }
        let mut shared: VecDeque<&PathElement> = rhs
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| seen_l.contains_key(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_r: BTreeSet<&PathElement> = BTreeSet::new();
        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let pe = &lhs[li].0;
                if *pe == rhs[ri].0 {
                    merged_r.insert(pe);
                    let lc = seen_l.get(pe).copied().flatten();
                    out.extend(self.merge(item, lc, Some(rhs[ri].1)));
                    li += 1;
                    ri += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if seen_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                let pe = &lhs[li].0;
                if !seen_r.contains_key(pe) {
                    out.extend(self.merge(item, Some(lhs[li].1), None));
                    li += 1;
                    continue;
                }
                if merged_r.contains(pe) {
                    li += 1;
                    continue;
                }
            }
            if ri < rhs.len() {
                let pe = &rhs[ri].0;
                merged_r.insert(pe);
                let lc = seen_l.get(pe).copied().flatten();
                out.extend(self.merge(item, lc, Some(rhs[ri].1)));
                ri += 1;
                if next_shared == Some(pe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        out
    }

    /// Removes the members of `set` from `v` (structured-merge-diff's `RemoveItems`). A map
    /// or list left empty becomes `null`.
    fn remove(&self, shape: Shape<'a>, v: &Value, set: &FieldSet) -> Value {
        match v {
            Value::Object(m) if !self.map_atomic(shape) => {
                let mut out = Map::new();
                for (k, cv) in m {
                    let pe = PathElement::Field(k.clone());
                    if set.members.contains(&pe) {
                        continue;
                    }
                    let kept = match set.children.get(&pe) {
                        Some(sub) => self.remove(self.field(shape, k), cv, sub),
                        None => cv.clone(),
                    };
                    out.insert(k.clone(), kept);
                }
                if out.is_empty() {
                    Value::Null
                } else {
                    Value::Object(out)
                }
            }
            Value::Array(a) => {
                let Some(rel) = self.assoc(shape) else { return v.clone() };
                let mut out = Vec::new();
                for (i, item) in a.iter().enumerate() {
                    let pe = self.item_pe(rel, i, item).unwrap_or(PathElement::Index(i as i64));
                    if set.members.contains(&pe) {
                        continue;
                    }
                    out.push(match set.children.get(&pe) {
                        Some(sub) => self.remove(self.item(shape), item, sub),
                        None => item.clone(),
                    });
                }
                if out.is_empty() { Value::Null } else { Value::Array(out) }
            }
            _ => v.clone(),
        }
    }

    /// Makes declared struct fields members when the set has paths below them, so that
    /// removing the set removes them whole.
    fn ensure_named(&self, shape: Shape<'a>, set: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: set.members.clone(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &set.children {
            if let PathElement::Field(k) = pe
                && self.declared(shape, k)
            {
                out.members.insert(pe.clone());
            }
            let c = self.ensure_named(self.child(shape, pe), child);
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// What an empty built-in object of this type looks like, given the new object: value
    /// structs are there (empty), required lists are `null`.
    fn skeleton(&self, shape: Shape<'a>, v: &Value) -> Value {
        let mut out = Map::new();
        if let (Shape::Struct(..), Value::Object(m)) = (shape, v) {
            for (k, cv) in m {
                let cs = self.field(shape, k);
                match cv {
                    Value::Object(_) if VALUE_STRUCTS.contains(&k.as_str()) && matches!(cs, Shape::Struct(..)) => {
                        out.insert(k.clone(), self.skeleton(cs, cv));
                    }
                    Value::Array(_) if REQUIRED_LISTS.contains(&k.as_str()) => {
                        out.insert(k.clone(), Value::Null);
                    }
                    _ => {}
                }
            }
        }
        Value::Object(out)
    }
}

// ---------------------------------------------------------------------------------------
// Managed fields entries
// ---------------------------------------------------------------------------------------

/// The operation of a managedFields entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write (POST, PUT, non-apply PATCH).
    Update,
}

impl Operation {
    /// `"Apply"` or `"Update"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `metadata.managedFields` (always `fieldsType: FieldsV1`).
#[derive(Clone, Debug, PartialEq)]
pub struct ManagedFieldsEntry {
    /// The manager's name (`fieldManager`, or a user-agent prefix).
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: Operation,
    /// API version the fields are expressed in.
    pub api_version: String,
    /// When the entry last took fields (RFC 3339, seconds, UTC); absent when it never did.
    pub time: Option<String>,
    /// The owned fields.
    pub fields: FieldSet,
    /// Subresource written through (`status`, `scale`), if any.
    pub subresource: Option<String>,
}

impl ManagedFieldsEntry {
    /// kube's manager identifier: the entry's JSON without time and fields, and without
    /// apiVersion for appliers. Entries with equal identifiers are the same manager.
    pub fn identifier(&self) -> String {
        let mut s = String::from("{");
        if !self.manager.is_empty() {
            s.push_str(&format!("\"manager\":{},", go_quote(&self.manager)));
        }
        s.push_str(&format!("\"operation\":\"{}\"", self.operation.as_str()));
        if self.operation == Operation::Update && !self.api_version.is_empty() {
            s.push_str(&format!(",\"apiVersion\":{}", go_quote(&self.api_version)));
        }
        if let Some(sub) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            s.push_str(&format!(",\"subresource\":{}", go_quote(sub)));
        }
        s.push('}');
        s
    }

    /// How conflict messages name the manager: `"one"`, `"three" using v1`,
    /// `"kcm" with subresource "status" using apps/v1`.
    pub fn display_name(&self) -> String {
        let mut s = go_quote(&self.manager);
        if let Some(sub) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            s.push_str(&format!(" with subresource {}", go_quote(sub)));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    /// Reads one entry of `metadata.managedFields` (`index` is used in messages).
    pub fn from_json(v: &Value, index: usize) -> Result<ManagedFieldsEntry, String> {
        let Value::Object(m) = v else {
            return Err(format!("managed fields entry {index} is not an object"));
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".to_string()),
        };
        if text("apiVersion").is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {index}")),
            t => {
                return Err(format!(
                    "invalid fieldsType {} in managed fields entry {index}",
                    go_quote(t)
                ));
            }
        }
        let fields = match m.get("fieldsV1") {
            None => FieldSet::new(),
            Some(f) => FieldSet::from_fields_v1(f)
                .map_err(|e| format!("error decoding versioned set from managed fields entry {index}: {e}"))?,
        };
        Ok(ManagedFieldsEntry {
            manager: text("manager").to_string(),
            operation,
            api_version: text("apiVersion").to_string(),
            time: m.get("time").and_then(Value::as_str).map(str::to_string),
            fields,
            subresource: Some(text("subresource")).filter(|s| !s.is_empty()).map(str::to_string),
        })
    }

    /// The entry as stored in `metadata.managedFields`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::String(self.manager.clone()));
        }
        m.insert("operation".into(), Value::String(self.operation.as_str().into()));
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if let Some(t) = &self.time {
            m.insert("time".into(), Value::String(t.clone()));
        }
        m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = self.subresource.as_deref().filter(|s| !s.is_empty()) {
            m.insert("subresource".into(), Value::String(s.to_string()));
        }
        Value::Object(m)
    }
}

/// Reads `metadata.managedFields` (absent or `null` is no entry). A later entry with the
/// same identifier replaces an earlier one.
pub fn decode_managed_fields(v: Option<&Value>) -> Result<Vec<ManagedFieldsEntry>, String> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("managedFields must be a list".to_string()),
    };
    let mut out: Vec<ManagedFieldsEntry> = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let entry = ManagedFieldsEntry::from_json(e, i)?;
        let id = entry.identifier();
        match out.iter().position(|x| x.identifier() == id) {
            Some(p) => out[p] = entry,
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// Writes entries as `metadata.managedFields`, sorted as kube sorts them (operation, time,
/// manager, apiVersion, subresource).
pub fn encode_managed_fields(entries: &[ManagedFieldsEntry]) -> Value {
    let mut sorted: Vec<&ManagedFieldsEntry> = entries.iter().filter(|e| !e.fields.is_empty()).collect();
    sorted.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| time_seconds(p.time.as_deref()).cmp(&time_seconds(q.time.as_deref())))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    Value::Array(sorted.into_iter().map(ManagedFieldsEntry::to_json).collect())
}

/// Stores encoded managedFields into an object; an empty list removes the field, as kube
/// never stores an empty `managedFields`.
pub fn set_managed_fields(obj: &mut Value, managed_fields: Value) {
    let empty = managed_fields.as_array().is_none_or(Vec::is_empty);
    let Value::Object(root) = obj else { return };
    if empty {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.remove("managedFields");
        }
        return;
    }
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert("managedFields".to_string(), managed_fields);
    }
}

fn remove_managed_fields(obj: &mut Value) {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.remove("managedFields");
    }
}

/// `[]` or `[{}]`: the client asks to drop all managedFields.
fn is_reset(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) if a.is_empty() => true,
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_object().is_some_and(|m| {
            m.values()
                .all(|x| x.is_null() || x.as_str() == Some("") || x.as_object().is_some_and(Map::is_empty))
        }),
        _ => false,
    }
}

/// Folds the oldest `Update` entries into per-version `ancient-changes` entries until at
/// most ten `Update` entries remain.
fn cap_managers(entries: &mut Vec<ManagedFieldsEntry>) {
    let mut updaters: Vec<(i64, String)> = entries
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .map(|e| (time_seconds(e.time.as_deref()), e.identifier()))
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort();
    let mut length = updaters.len();
    let mut first_by_version: HashMap<String, String> = HashMap::new();
    for (_, id) in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(pos) = entries.iter().position(|e| e.identifier() == id) else {
            continue;
        };
        let entry = entries[pos].clone();
        let version = entry.api_version.clone();
        let bucket = ManagedFieldsEntry {
            manager: ANCIENT_CHANGES.to_string(),
            operation: Operation::Update,
            api_version: version.clone(),
            time: None,
            fields: FieldSet::new(),
            subresource: None,
        };
        let bucket_id = bucket.identifier();
        if id == bucket_id {
            continue;
        }
        let Some(first) = first_by_version.get(&version).cloned() else {
            first_by_version.insert(version, id);
            continue;
        };
        if !entries.iter().any(|e| e.identifier() == bucket_id)
            && let Some(fp) = entries.iter().position(|e| e.identifier() == first)
        {
            let first_entry = entries.remove(fp);
            entries.push(ManagedFieldsEntry {
                fields: first_entry.fields,
                time: first_entry.time,
                ..bucket
            });
        }
        if let Some(b) = entries.iter_mut().find(|e| e.identifier() == bucket_id) {
            b.fields = entry.fields.union(&b.fields);
            b.time = entry.time.clone();
        }
        entries.retain(|e| e.identifier() != id);
        length -= 1;
    }
}

// ---------------------------------------------------------------------------------------
// Conflicts and errors
// ---------------------------------------------------------------------------------------

/// A field that an apply would change although another manager owns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The other manager's entry (its fields hold just the conflicting path).
    pub manager: ManagedFieldsEntry,
    /// The conflicting field.
    pub path: Vec<PathElement>,
}

impl Conflict {
    /// The field as kube prints it (`.data.k1`).
    pub fn field(&self) -> String {
        render_path(&self.path)
    }
}

/// kube's conflict message and status causes (`message`, `field`), e.g.
/// `Apply failed with 1 conflict: conflict with "one": .data.k1` and
/// `[("conflict with \"one\"", ".data.k1")]`; the causes' reason is `FieldManagerConflict`.
pub fn conflict_message(conflicts: &[Conflict]) -> (String, Vec<(String, String)>) {
    let causes: Vec<(String, String)> = conflicts
        .iter()
        .map(|c| (format!("conflict with {}", c.manager.display_name()), c.field()))
        .collect();
    let message = match conflicts {
        [c] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager.display_name(),
            c.field()
        ),
        _ => {
            let mut by_manager: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
            for c in conflicts {
                by_manager
                    .entry(c.manager.identifier())
                    .or_insert_with(|| (c.manager.display_name(), Vec::new()))
                    .1
                    .push(c.field());
            }
            let mut lines = Vec::new();
            for (name, fields) in by_manager.into_values() {
                lines.push(format!("conflicts with {name}:"));
                lines.extend(fields.into_iter().map(|f| format!("- {f}")));
            }
            format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
        }
    };
    (message, causes)
}

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// 409 Conflict: fields owned by other managers would change (see [`conflict_message`]).
    #[error("{}", conflict_message(.0).0)]
    Conflicts(Vec<Conflict>),
    /// 400 Bad Request: managedFields in the patch, wrong apiVersion, not an object.
    #[error("{0}")]
    BadRequest(String),
    /// The configuration doesn't fit the schema (duplicate or missing list keys). kube
    /// answers 500 with `failed to create typed patch object (<ns>/<name>; <group/version>,
    /// Kind=<kind>): <this message>`.
    #[error("{0}")]
    Schema(String),
    /// The live object's managedFields can't be read (kube answers 500).
    #[error("{0}")]
    Invalid(String),
}

// ---------------------------------------------------------------------------------------
// The field manager
// ---------------------------------------------------------------------------------------

/// The field manager of one resource: its schema, the request's API version and
/// subresource, and the fields its strategy resets (ignored for ownership).
#[derive(Clone, Debug)]
pub struct FieldManager<'a> {
    meta: &'a SchemaMeta,
    type_name: &'a str,
    api_version: &'a str,
    subresource: Option<&'a str>,
    reset: FieldSet,
}

impl<'a> FieldManager<'a> {
    /// A field manager for `type_name` (a key of `meta.types`; unknown names are walked
    /// without schema) served at `api_version` (`v1`, `apps/v1`).
    pub fn new(meta: &'a SchemaMeta, type_name: &'a str, api_version: &'a str) -> FieldManager<'a> {
        FieldManager {
            meta,
            type_name,
            api_version,
            subresource: None,
            reset: FieldSet::new(),
        }
    }

    /// Requests through a subresource (`status`, `scale`): entries are kept apart and the
    /// request's own managedFields are ignored.
    pub fn with_subresource(mut self, subresource: Option<&'a str>) -> FieldManager<'a> {
        self.subresource = subresource.filter(|s| !s.is_empty());
        self
    }

    /// Fields the strategy resets on this endpoint (kube's `GetResetFields`), e.g. `status`
    /// on the main resource of a kind with a status subresource, `spec` on `/status`. They
    /// are never owned and never conflict.
    pub fn with_reset_fields(mut self, reset: FieldSet) -> FieldManager<'a> {
        self.reset = reset;
        self
    }

    fn typer(&self) -> Typer<'a> {
        Typer::new(self.meta, self.type_name)
    }

    fn root(&self) -> Shape<'a> {
        self.typer().named(Some(self.type_name), None)
    }

    fn entry(&self, manager: &str, operation: Operation) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: if manager.is_empty() {
                "unknown".to_string()
            } else {
                manager.to_string()
            },
            operation,
            api_version: self.api_version.to_string(),
            time: None,
            fields: FieldSet::new(),
            subresource: self.subresource.map(str::to_string),
        }
    }

    /// The empty object a create starts from.
    fn empty_object(&self, new: &Value) -> Value {
        if self.typer().builtin {
            self.typer().skeleton(self.root(), new)
        } else {
            Value::Object(Map::new())
        }
    }

    /// Server-side apply of `applied` (the manager's whole intent) by `manager` onto `live`
    /// (`None` when creating). Returns the merged object with `metadata.managedFields`
    /// updated; the caller still validates, defaults and stores it.
    pub fn apply(
        &self,
        live: Option<&Value>,
        applied: &Value,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<Value, ApplyError> {
        if !applied.is_object() {
            return Err(ApplyError::BadRequest(
                "the apply configuration must be an object".to_string(),
            ));
        }
        if applied.pointer("/metadata/managedFields").is_some_and(|v| !v.is_null()) {
            return Err(ApplyError::BadRequest("metadata.managedFields must be nil".to_string()));
        }
        let patch_version = applied.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if patch_version != self.api_version {
            return Err(ApplyError::BadRequest(format!(
                "Incorrect version specified in apply patch. Specified patch version: {patch_version}, expected: {}",
                self.api_version
            )));
        }
        let typer = self.typer();
        let mut errs = Vec::new();
        typer.validate(self.root(), applied, &mut Vec::new(), &mut errs);
        match errs.len() {
            0 => {}
            1 => return Err(ApplyError::Schema(errs.remove(0))),
            _ => return Err(ApplyError::Schema(format!("errors:\n  {}", errs.join("\n  ")))),
        }

        let mut live_obj = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let mut managed = decode_managed_fields(live_obj.pointer("/metadata/managedFields"))
            .map_err(|e| ApplyError::Invalid(format!("failed to decode managed fields: {e}")))?;
        remove_managed_fields(&mut live_obj);
        if managed.is_empty() {
            // Fields set before the first apply belong to a placeholder updater.
            let empty = self.empty_object(&live_obj);
            self.record_update(&empty, &live_obj, &mut managed, BEFORE_FIRST_APPLY, now);
        }

        let (mut obj, managed) = match self.apply_managed(&live_obj, applied, &managed, manager, force, now) {
            Err(ApplyError::Conflicts(conflicts)) if manager == "kubectl" => {
                // Upgrading from client-side apply: conflicts on fields kubectl applied
                // client-side (per the last-applied annotation) are forced.
                match self.last_applied_fields(&live_obj) {
                    None => return Err(ApplyError::Conflicts(conflicts)),
                    Some(allowed) => {
                        let rest: Vec<Conflict> = conflicts.into_iter().filter(|c| !allowed.has(&c.path)).collect();
                        if !rest.is_empty() {
                            return Err(ApplyError::Conflicts(rest));
                        }
                        self.apply_managed(&live_obj, applied, &managed, manager, true, now)?
                    }
                }
            }
            r => r?,
        };
        if manager == "kubectl"
            && obj
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(LAST_APPLIED))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        {
            set_last_applied(&mut obj, applied);
        }
        set_managed_fields(&mut obj, encode_managed_fields(&managed));
        Ok(obj)
    }

    /// The apply proper: merge, prune, conflicts, ownership.
    fn apply_managed(
        &self,
        live: &Value,
        applied: &Value,
        managed: &[ManagedFieldsEntry],
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<(Value, Vec<ManagedFieldsEntry>), ApplyError> {
        let typer = self.typer();
        let root = self.root();
        let mut entries = managed.to_vec();
        let me = self.entry(manager, Operation::Apply);
        let id = me.identifier();
        let pos = entries.iter().position(|e| e.identifier() == id);
        let last = pos.map(|i| entries[i].fields.clone());
        let merged = typer
            .merge(root, Some(live), Some(applied))
            .unwrap_or_else(|| applied.clone());
        let set = typer.field_set(root, applied).recursive_difference(&self.reset);
        match pos {
            Some(i) => {
                entries[i].fields = set;
                entries[i].api_version = self.api_version.to_string();
            }
            None => entries.push(ManagedFieldsEntry { fields: set, ..me }),
        }
        let merged = self.prune(&typer, root, &merged, &entries, last.as_ref());
        self.update_sets(live, &merged, &mut entries, Some(&id), force)?;
        let strip = strip_set();
        if let Some(e) = entries.iter_mut().find(|e| e.identifier() == id) {
            e.fields = e.fields.difference(&strip);
        }
        entries.retain(|e| !e.fields.is_empty());
        let changed = merged != *live;
        if changed && let Some(e) = entries.iter_mut().find(|e| e.identifier() == id) {
            e.time = Some(now.to_string());
        }
        cap_managers(&mut entries);
        let obj = if changed {
            let mut m = merged;
            strip_nulls(&mut m);
            m
        } else {
            live.clone()
        };
        Ok((obj, entries))
    }

    /// Removes what the applier applied last time and no longer applies, unless another
    /// manager owns it (structured-merge-diff's `prune`).
    fn prune(
        &self,
        typer: &Typer<'a>,
        root: Shape<'a>,
        merged: &Value,
        entries: &[ManagedFieldsEntry],
        last: Option<&FieldSet>,
    ) -> Value {
        let Some(last) = last.filter(|s| !s.is_empty()) else {
            return merged.clone();
        };
        let last = typer.ensure_named(root, last);
        let pruned = typer.remove(root, merged, &last);
        // Add back what some manager (the applier's new configuration included) owns.
        let owned = entries.iter().fold(FieldSet::new(), |acc, e| acc.union(&e.fields));
        let owned = typer.ensure_named(root, &owned);
        let merged_set = typer.ensure_named(root, &typer.field_set(root, merged));
        let pruned_set = typer.ensure_named(root, &typer.field_set(root, &pruned));
        let pruned = typer.remove(root, merged, &merged_set.difference(&pruned_set.union(&owned)));
        // Add back what the applier did not own before.
        let pruned_set = typer.ensure_named(root, &typer.field_set(root, &pruned));
        typer.remove(root, merged, &merged_set.difference(&pruned_set).intersection(&last))
    }

    /// Moves changed fields away from the other managers (structured-merge-diff's `update`):
    /// modified or added fields they own conflict (an error unless `force`), removed fields
    /// leave them.
    fn update_sets(
        &self,
        old: &Value,
        new: &Value,
        entries: &mut Vec<ManagedFieldsEntry>,
        workflow: Option<&str>,
        force: bool,
    ) -> Result<Comparison, ApplyError> {
        let mut c = Comparison::default();
        self.typer()
            .compare(self.root(), Some(old), Some(new), &mut Vec::new(), &mut c);
        c.exclude(&self.reset);
        let changed = c.modified.union(&c.added);
        let mut conflicts: Vec<(String, FieldSet)> = Vec::new();
        for e in entries.iter() {
            let id = e.identifier();
            if Some(id.as_str()) == workflow {
                continue;
            }
            let cs = e.fields.intersection(&changed);
            if !cs.is_empty() {
                conflicts.push((id, cs));
            }
        }
        if !force && !conflicts.is_empty() {
            conflicts.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Vec::new();
            for (id, cs) in &conflicts {
                let Some(e) = entries.iter().find(|e| &e.identifier() == id) else {
                    continue;
                };
                for path in cs.paths() {
                    let mut single = FieldSet::new();
                    single.insert(&path);
                    out.push(Conflict {
                        manager: ManagedFieldsEntry {
                            fields: single,
                            ..e.clone()
                        },
                        path,
                    });
                }
            }
            return Err(ApplyError::Conflicts(out));
        }
        for e in entries.iter_mut() {
            let id = e.identifier();
            if Some(id.as_str()) == workflow {
                continue;
            }
            if let Some((_, cs)) = conflicts.iter().find(|(cid, _)| *cid == id) {
                e.fields = e.fields.difference(cs);
            }
            if !c.removed.is_empty() {
                e.fields = e.fields.difference(&c.removed);
            }
        }
        entries.retain(|e| !e.fields.is_empty());
        Ok(c)
    }

    /// An Update by `manager` from `old` to `new` (both without managedFields).
    fn record_update(&self, old: &Value, new: &Value, entries: &mut Vec<ManagedFieldsEntry>, manager: &str, now: &str) {
        let Ok(c) = self.update_sets(old, new, entries, None, true) else {
            return;
        };
        let taken = c
            .modified
            .union(&c.added)
            .difference(&c.removed)
            .recursive_difference(&self.reset)
            .difference(&strip_set());
        if !taken.is_empty() {
            let me = self.entry(manager, Operation::Update);
            let id = me.identifier();
            match entries.iter_mut().find(|e| e.identifier() == id) {
                Some(e) => {
                    e.fields = taken.union(&e.fields);
                    e.api_version = self.api_version.to_string();
                    e.time = Some(now.to_string());
                }
                None => entries.push(ManagedFieldsEntry {
                    fields: taken,
                    time: Some(now.to_string()),
                    ..me
                }),
            }
        }
        cap_managers(entries);
    }

    /// Records a non-apply write (`POST`, `PUT`, `PATCH`) by `manager` from `old` (`None`
    /// when creating) to `new`: fields that changed become the manager's, and leave the
    /// other entries. Managed fields the request itself carries replace the stored ones
    /// (`[]` or `[{}]` drops them all), except through a subresource. Returns the new
    /// `metadata.managedFields` (an empty list: remove the field; see [`set_managed_fields`]).
    pub fn update(&self, old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
        let mut entries = self.decode_live_or_new(old, new);
        let mut new_obj = new.clone();
        remove_managed_fields(&mut new_obj);
        let old_obj = match old {
            Some(o) => {
                let mut o = o.clone();
                remove_managed_fields(&mut o);
                o
            }
            None => self.empty_object(&new_obj),
        };
        self.record_update(&old_obj, &new_obj, &mut entries, manager, now);
        encode_managed_fields(&entries)
    }

    /// [`FieldManager::update`], returning `new` with its managedFields set.
    pub fn update_object(&self, old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
        let managed = self.update(old, new, manager, now);
        let mut out = new.clone();
        set_managed_fields(&mut out, managed);
        out
    }

    fn decode_live_or_new(&self, old: Option<&Value>, new: &Value) -> Vec<ManagedFieldsEntry> {
        let live = || decode_managed_fields(old.and_then(|o| o.pointer("/metadata/managedFields"))).unwrap_or_default();
        if self.subresource.is_some() {
            return live();
        }
        let requested = new.pointer("/metadata/managedFields");
        if is_reset(requested) {
            return Vec::new();
        }
        match decode_managed_fields(requested) {
            Ok(entries) if !entries.is_empty() => entries,
            _ => live(),
        }
    }

    /// Fields kubectl applied client-side that still hold their applied value.
    fn last_applied_fields(&self, live: &Value) -> Option<FieldSet> {
        let text = live.pointer("/metadata/annotations")?.get(LAST_APPLIED)?.as_str()?;
        let last: Value = serde_json::from_str(text).ok()?;
        if last.get("apiVersion").and_then(Value::as_str) != Some(self.api_version) {
            return None;
        }
        let typer = self.typer();
        let root = self.root();
        let mut errs = Vec::new();
        typer.validate(root, &last, &mut Vec::new(), &mut errs);
        if !errs.is_empty() {
            return None;
        }
        let mut c = Comparison::default();
        typer.compare(root, Some(&last), Some(live), &mut Vec::new(), &mut c);
        Some(
            typer
                .field_set(root, &last)
                .difference(&c.modified)
                .difference(&c.added)
                .difference(&c.removed),
        )
    }
}

/// Sets kubectl's last-applied annotation to the applied configuration (kube does so for
/// `fieldManager=kubectl` when the object has one).
fn set_last_applied(obj: &mut Value, applied: &Value) {
    let mut config = applied.clone();
    if let Some(Value::Object(ann)) = config.pointer_mut("/metadata/annotations") {
        ann.remove(LAST_APPLIED);
    }
    let text = format!("{}\n", sorted_keys(&config));
    if let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") {
        ann.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
}

/// The fields an object sets, as a manager applying it would own them (the never-owned
/// metadata left out): map entries by key, map-list items by `k:{...}`, set items by
/// `v:<json>`, atomic lists and maps as leaves.
pub fn fields_of(obj: &Value, meta: &SchemaMeta, type_name: &str) -> FieldSet {
    let typer = Typer::new(meta, type_name);
    typer
        .field_set(typer.named(Some(type_name), None), obj)
        .difference(&strip_set())
}

/// Server-side apply (see [`FieldManager::apply`]) on the main resource.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    meta: &SchemaMeta,
    type_name: &str,
    api_version: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    FieldManager::new(meta, type_name, api_version).apply(live, applied, manager, force, now)
}

/// Records an Update operation (see [`FieldManager::update`]); returns the managedFields
/// to store into `new.metadata.managedFields`.
#[allow(clippy::too_many_arguments)]
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    meta: &SchemaMeta,
    type_name: &str,
    api_version: &str,
    now: &str,
    subresource: Option<&str>,
) -> Value {
    FieldManager::new(meta, type_name, api_version)
        .with_subresource(subresource)
        .update(old, new, manager, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CM: &str = "io.k8s.api.core.v1.ConfigMap";
    const DEPLOY: &str = "io.k8s.api.apps.v1.Deployment";

    fn at(i: usize) -> String {
        format!("2026-01-01T00:00:{i:02}Z")
    }

    fn cm_fm() -> FieldManager<'static> {
        FieldManager::new(SchemaMeta::builtin(), CM, "v1")
    }

    fn deploy_fm() -> FieldManager<'static> {
        FieldManager::new(SchemaMeta::builtin(), DEPLOY, "apps/v1")
            .with_reset_fields(FieldSet::from_field_paths(&["status"]))
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data})
    }

    /// What the server adds when it stores an object.
    fn store(mut obj: Value, rv: usize) -> Value {
        let meta = &mut obj["metadata"];
        meta["namespace"] = json!("ns");
        meta["uid"] = json!("8f0c2a4e");
        meta["resourceVersion"] = json!(rv.to_string());
        meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        obj
    }

    /// (manager, operation, subresource, has time, fieldsV1) of each entry, in order.
    fn summary(obj: &Value) -> Vec<(String, String, String, bool, Value)> {
        obj.pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["manager"].as_str().unwrap_or("").to_string(),
                            e["operation"].as_str().unwrap_or("").to_string(),
                            e["subresource"].as_str().unwrap_or("").to_string(),
                            e.get("time").is_some(),
                            e["fieldsV1"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn entry(manager: &str, op: &str, time: bool, fields: Value) -> (String, String, String, bool, Value) {
        (manager.to_string(), op.to_string(), String::new(), time, fields)
    }

    enum Step {
        /// Apply `data` by manager (force?).
        Apply(&'static str, Value, bool),
        /// PUT of the stored object with `data` replaced, by manager.
        Put(&'static str, Value),
    }

    enum Outcome {
        Ok(Value, Vec<(String, String, String, bool, Value)>),
        Conflict(&'static str, Vec<(&'static str, &'static str)>),
    }

    fn run(name: &str, steps: Vec<(Step, Outcome)>) {
        let fm = cm_fm();
        let mut stored: Option<Value> = None;
        for (i, (step, outcome)) in steps.into_iter().enumerate() {
            let now = at(i + 1);
            let result = match step {
                Step::Apply(manager, data, force) => fm.apply(stored.as_ref(), &cm(data), manager, force, &now),
                Step::Put(manager, data) => {
                    let old = stored.clone().expect("put needs an object");
                    let mut new = old.clone();
                    new["data"] = data;
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove("managedFields");
                    }
                    Ok(fm.update_object(Some(&old), &new, manager, &now))
                }
            };
            match (outcome, result) {
                (Outcome::Ok(data, managed), Ok(obj)) => {
                    assert_eq!(obj["data"], data, "{name} step {i}: data");
                    assert_eq!(summary(&obj), managed, "{name} step {i}: managedFields");
                    stored = Some(store(obj, i + 1));
                }
                (Outcome::Conflict(message, causes), Err(ApplyError::Conflicts(c))) => {
                    let (m, got) = conflict_message(&c);
                    assert_eq!(m, message, "{name} step {i}");
                    let want: Vec<(String, String)> =
                        causes.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
                    assert_eq!(got, want, "{name} step {i}");
                }
                (_, r) => panic!("{name} step {i}: unexpected {r:?}"),
            }
        }
    }

    #[test]
    fn configmap_apply_scenarios() {
        let k12 = json!({"f:data": {"f:k1": {}, "f:k2": {}}});
        let k1 = json!({"f:data": {"f:k1": {}}});
        let k2 = json!({"f:data": {"f:k2": {}}});
        let scenarios: Vec<(&str, Vec<(Step, Outcome)>)> = vec![
            (
                "create",
                vec![(
                    Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                    Outcome::Ok(
                        json!({"k1": "v1", "k2": "v2"}),
                        vec![entry("one", "Apply", true, k12.clone())],
                    ),
                )],
            ),
            (
                "drop key",
                vec![
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![entry("one", "Apply", true, k12.clone())],
                        ),
                    ),
                    (
                        Step::Apply("one", json!({"k1": "v1"}), false),
                        Outcome::Ok(json!({"k1": "v1"}), vec![entry("one", "Apply", true, k1.clone())]),
                    ),
                ],
            ),
            (
                "conflict, then the same value shares ownership",
                vec![
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![entry("one", "Apply", true, k12.clone())],
                        ),
                    ),
                    (
                        Step::Apply("two", json!({"k1": "other"}), false),
                        Outcome::Conflict(
                            "Apply failed with 1 conflict: conflict with \"one\": .data.k1",
                            vec![("conflict with \"one\"", ".data.k1")],
                        ),
                    ),
                    (
                        Step::Apply("two", json!({"k1": "v1"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            // The object did not change: the new entry has no time, so it sorts first.
                            vec![
                                entry("two", "Apply", false, k1.clone()),
                                entry("one", "Apply", true, k12.clone()),
                            ],
                        ),
                    ),
                ],
            ),
            (
                "force",
                vec![
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![entry("one", "Apply", true, k12.clone())],
                        ),
                    ),
                    (
                        Step::Apply("two", json!({"k1": "other"}), true),
                        Outcome::Ok(
                            json!({"k1": "other", "k2": "v2"}),
                            vec![
                                entry("one", "Apply", true, k2.clone()),
                                entry("two", "Apply", true, k1.clone()),
                            ],
                        ),
                    ),
                ],
            ),
            (
                "update then apply",
                vec![
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![entry("one", "Apply", true, k12.clone())],
                        ),
                    ),
                    (
                        Step::Put("three", json!({"k1": "v1", "k2": "changed", "k3": "new"})),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "changed", "k3": "new"}),
                            vec![
                                entry("one", "Apply", true, k1.clone()),
                                entry("three", "Update", true, json!({"f:data": {"f:k2": {}, "f:k3": {}}})),
                            ],
                        ),
                    ),
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Conflict(
                            "Apply failed with 1 conflict: conflict with \"three\" using v1: .data.k2",
                            vec![("conflict with \"three\" using v1", ".data.k2")],
                        ),
                    ),
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), true),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2", "k3": "new"}),
                            vec![
                                entry("one", "Apply", true, k12.clone()),
                                entry("three", "Update", true, json!({"f:data": {"f:k3": {}}})),
                            ],
                        ),
                    ),
                    (
                        Step::Apply("one", json!({"k1": "v1"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k3": "new"}),
                            vec![
                                entry("one", "Apply", true, k1.clone()),
                                entry("three", "Update", true, json!({"f:data": {"f:k3": {}}})),
                            ],
                        ),
                    ),
                ],
            ),
            (
                "a key another applier also owns survives",
                vec![
                    (
                        Step::Apply("one", json!({"k1": "v1", "k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![entry("one", "Apply", true, k12.clone())],
                        ),
                    ),
                    (
                        Step::Apply("two", json!({"k2": "v2"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![
                                entry("two", "Apply", false, k2.clone()),
                                entry("one", "Apply", true, k12.clone()),
                            ],
                        ),
                    ),
                    (
                        Step::Apply("one", json!({"k1": "v1"}), false),
                        Outcome::Ok(
                            json!({"k1": "v1", "k2": "v2"}),
                            vec![
                                entry("two", "Apply", false, k2.clone()),
                                entry("one", "Apply", true, k1.clone()),
                            ],
                        ),
                    ),
                ],
            ),
        ];
        for (name, steps) in scenarios {
            run(name, steps);
        }
    }

    #[test]
    fn create_records_exact_entry() {
        let out = apply(
            None,
            &cm(json!({"k1": "v1", "k2": "v2"})),
            "one",
            false,
            SchemaMeta::builtin(),
            CM,
            "v1",
            &at(1),
        )
        .expect("apply");
        assert_eq!(
            out["metadata"]["managedFields"],
            json!([{"manager": "one", "operation": "Apply", "apiVersion": "v1", "time": at(1),
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:k1": {}, "f:k2": {}}}}])
        );
        assert_eq!(out["metadata"]["name"], "cfg");
    }

    #[test]
    fn dropping_every_key_removes_the_map() {
        let fm = cm_fm();
        let first = store(
            fm.apply(None, &cm(json!({"k1": "v1"})), "one", false, &at(1))
                .expect("apply"),
            1,
        );
        let config =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"a": "b"}}});
        let out = fm.apply(Some(&first), &config, "one", false, &at(2)).expect("apply");
        assert!(out.get("data").is_none(), "{out}");
        assert_eq!(out["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(out["metadata"]["uid"], "8f0c2a4e");
        assert_eq!(
            summary(&out),
            vec![entry(
                "one",
                "Apply",
                true,
                json!({"f:metadata": {"f:labels": {"f:a": {}}}})
            )]
        );
    }

    #[test]
    fn noop_apply_keeps_object_and_time() {
        let fm = cm_fm();
        let first = store(
            fm.apply(None, &cm(json!({"k": "v"})), "one", false, &at(1))
                .expect("apply"),
            1,
        );
        let again = fm
            .apply(Some(&first), &cm(json!({"k": "v"})), "one", false, &at(2))
            .expect("apply");
        assert_eq!(again, first);
    }

    fn deployment_config() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ssa", "labels": {"app": "ssa"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "ssa"}},
                "template": {
                    "metadata": {"labels": {"app": "ssa"}},
                    "spec": {"containers": [{
                        "name": "web", "image": "nginx:1",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}]
                    }]}
                }
            }
        })
    }

    #[test]
    fn apply_deployment_fields_shape() {
        let out = deploy_fm()
            .apply(None, &deployment_config(), "golden", false, &at(1))
            .expect("apply");
        let want = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {},
                        "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}, "f:protocol": {}
                        }}
                    }}}
                }
            }
        });
        assert_eq!(summary(&out), vec![entry("golden", "Apply", true, want.clone())]);
        // Key order as kube writes it.
        let got = serde_json::to_string(&out["metadata"]["managedFields"][0]["fieldsV1"]).expect("json");
        assert_eq!(got, serde_json::to_string(&want).expect("json"));
        assert_eq!(
            fields_of(&deployment_config(), SchemaMeta::builtin(), DEPLOY),
            FieldSet::from_fields_v1(&want).expect("set")
        );
    }

    /// A Deployment as a POST stores it (defaults applied, status empty).
    fn defaulted_deployment() -> Value {
        json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "d", "namespace": "ns", "labels": {"app": "d", "tier": "x"}, "annotations": {"a": "1", "b": "2"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "nginx:1", "args": ["--a", "--b"],
                             "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                             "env": [{"name": "A", "value": "1"}],
                             "resources": {}, "terminationMessagePath": "/dev/termination-log",
                             "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"},
                            {"name": "side", "image": "busybox", "command": ["sleep", "3600"], "resources": {},
                             "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                             "imagePullPolicy": "Always"}
                        ],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                        "securityContext": {}, "schedulerName": "default-scheduler"
                    }
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600
            },
            "status": {}
        })
    }

    fn defaulted_deployment_fields() -> Value {
        let container = |extra: Value| {
            let mut c = json!({".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                               "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}});
            if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
                c.extend(e);
            }
            c
        };
        json!({
            "f:metadata": {"f:annotations": {".": {}, "f:a": {}, "f:b": {}}, "f:labels": {".": {}, "f:app": {}, "f:tier": {}}},
            "f:spec": {
                "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            "k:{\"name\":\"side\"}": container(json!({"f:command": {}})),
                            "k:{\"name\":\"web\"}": container(json!({
                                "f:args": {},
                                "f:env": {".": {}, "k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
                                "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                    ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}}
                            }))
                        },
                        "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                        "f:terminationGracePeriodSeconds": {}
                    }
                }
            }
        })
    }

    #[test]
    fn update_on_create_marks_created_containers() {
        // POST of built-in objects (manager "unknown" when the request names none).
        let cases: Vec<(&str, &str, Value, Value)> = vec![
            (
                "configmap data",
                CM,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup"}, "data": {"a": "1"}}),
                json!({"f:data": {".": {}, "f:a": {}}}),
            ),
            (
                "labels",
                CM,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"k": "v"}}, "data": {"a": "1"}}),
                json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:k": {}}}}),
            ),
            (
                "finalizers",
                CM,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["golden.example.com/hold"]}}),
                json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"golden.example.com/hold\"": {}}}}),
            ),
            (
                "generateName",
                CM,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-", "name": "gen-abcde"}}),
                json!({"f:metadata": {"f:generateName": {}}}),
            ),
            (
                "namespace label",
                "io.k8s.api.core.v1.Namespace",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {"kubernetes.io/metadata.name": "n"}}, "status": {"phase": "Active"}}),
                json!({"f:metadata": {"f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}}}}),
            ),
            (
                "deployment",
                DEPLOY,
                defaulted_deployment(),
                defaulted_deployment_fields(),
            ),
        ];
        for (name, ty, obj, want) in cases {
            let version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
            let mut fm = FieldManager::new(SchemaMeta::builtin(), ty, &version);
            if ty != CM {
                fm = fm.with_reset_fields(FieldSet::from_field_paths(&["status"]));
            }
            let managed = fm.update(None, &obj, "", &at(1));
            let want = json!([{"manager": "unknown", "operation": "Update", "apiVersion": version, "time": at(1),
                               "fieldsType": "FieldsV1", "fieldsV1": want}]);
            assert_eq!(managed, want, "{name}");
        }
    }

    #[test]
    fn status_subresource_entry_is_separate() {
        let main = deploy_fm();
        let created = main.update_object(None, &defaulted_deployment(), "", &at(1));
        let mut new = created.clone();
        new["status"] = json!({"observedGeneration": 1, "replicas": 5});
        let status = FieldManager::new(SchemaMeta::builtin(), DEPLOY, "apps/v1")
            .with_subresource(Some("status"))
            .with_reset_fields(FieldSet::from_field_paths(&["spec", "metadata.labels"]));
        let out = status.update_object(Some(&created), &new, "", &at(2));
        let got = summary(&out);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], entry("unknown", "Update", true, defaulted_deployment_fields()));
        assert_eq!(
            got[1],
            (
                "unknown".to_string(),
                "Update".to_string(),
                "status".to_string(),
                true,
                json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}})
            )
        );
        // A later PUT by the same manager on the main resource does not touch the status entry.
        let mut put = out.clone();
        put["spec"]["replicas"] = json!(3);
        let after = main.update_object(Some(&out), &put, "", &at(3));
        assert_eq!(summary(&after).len(), 2);
    }

    fn container_config(manager_containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": manager_containers}}}})
    }

    fn containers_of(obj: &Value) -> Value {
        obj["spec"]["template"]["spec"]["containers"].clone()
    }

    #[test]
    fn two_managers_own_different_list_items() {
        let fm = deploy_fm();
        let a = fm.apply(
            None,
            &container_config(json!([{"name": "web", "image": "nginx:1"}])),
            "a",
            false,
            &at(1),
        );
        let a = store(a.expect("a"), 1);
        let b = fm.apply(
            Some(&a),
            &container_config(json!([{"name": "side", "image": "busybox"}])),
            "b",
            false,
            &at(2),
        );
        let b = store(b.expect("b"), 2);
        assert_eq!(
            containers_of(&b),
            json!([{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "busybox"}])
        );
        let b_fields = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"side\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}});
        assert!(summary(&b).contains(&entry("b", "Apply", true, b_fields)));
        // "a" stops applying its container: only "web" goes.
        let config =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}});
        let out = fm.apply(Some(&b), &config, "a", false, &at(3)).expect("apply");
        assert_eq!(containers_of(&out), json!([{"name": "side", "image": "busybox"}]));
        assert_eq!(out["spec"]["replicas"], 2);
        // Changing the other manager's item conflicts, naming the item by key.
        let steal = container_config(json!([{"name": "side", "image": "busybox:2"}]));
        let err = fm
            .apply(Some(&store(out, 3)), &steal, "a", false, &at(4))
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"b\": .spec.template.spec.containers[name=\"side\"].image"
        );
    }

    #[test]
    fn nested_items_are_removed_when_no_longer_applied() {
        let fm = deploy_fm();
        let with_env = |env: Value| container_config(json!([{"name": "web", "image": "nginx", "env": env}]));
        let first = fm.apply(
            None,
            &with_env(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            "m",
            false,
            &at(1),
        );
        let first = store(first.expect("first"), 1);
        let out = fm
            .apply(
                Some(&first),
                &with_env(json!([{"name": "A", "value": "1"}])),
                "m",
                false,
                &at(2),
            )
            .expect("apply");
        assert_eq!(
            containers_of(&out),
            json!([{"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}]}])
        );
        // Dropping a field of an item keeps the item.
        let out = fm.apply(
            Some(&store(out, 2)),
            &container_config(json!([{"name": "web"}])),
            "m",
            false,
            &at(3),
        );
        assert_eq!(containers_of(&out.expect("apply")), json!([{"name": "web"}]));
    }

    #[test]
    fn set_lists_merge_by_value() {
        let fm = cm_fm();
        let fin = |values: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "finalizers": values}});
        let no_fin = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}});
        let a = store(
            fm.apply(None, &fin(json!(["x", "y"])), "a", false, &at(1)).expect("a"),
            1,
        );
        assert_eq!(
            summary(&a)[0].4,
            json!({"f:metadata": {"f:finalizers": {"v:\"x\"": {}, "v:\"y\"": {}}}})
        );
        let b = store(
            fm.apply(Some(&a), &fin(json!(["y", "z"])), "b", false, &at(2))
                .expect("b"),
            2,
        );
        assert_eq!(b["metadata"]["finalizers"], json!(["x", "y", "z"]));
        let a2 = store(
            fm.apply(Some(&b), &fin(json!(["x"])), "a", false, &at(3)).expect("a2"),
            3,
        );
        assert_eq!(a2["metadata"]["finalizers"], json!(["x", "y", "z"]), "y is still b's");
        let b2 = fm.apply(Some(&a2), &no_fin, "b", false, &at(4)).expect("b2");
        assert_eq!(b2["metadata"]["finalizers"], json!(["x"]));
    }

    #[test]
    fn list_order_follows_the_configuration_for_shared_items() {
        let fm = cm_fm();
        let live = store(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "finalizers": ["a", "b", "c"]}}),
            1,
        );
        let config =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "finalizers": ["c", "a"]}});
        let out = fm.apply(Some(&live), &config, "x", false, &at(2)).expect("apply");
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "c", "a"]));
    }

    #[test]
    fn atomic_lists_and_maps_are_replaced_and_owned_whole() {
        let fm = deploy_fm();
        let args = |a: Value| container_config(json!([{"name": "web", "args": a}]));
        let first = store(
            fm.apply(None, &args(json!(["--a", "--b"])), "a", false, &at(1))
                .expect("a"),
            1,
        );
        let fields = &summary(&first)[0].4;
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:args"],
            json!({})
        );
        let err = fm
            .apply(Some(&first), &args(json!(["--c"])), "b", false, &at(2))
            .expect_err("conflict");
        let ApplyError::Conflicts(c) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(c[0].field(), ".spec.template.spec.containers[name=\"web\"].args");
        let forced = fm
            .apply(Some(&first), &args(json!(["--c"])), "b", true, &at(2))
            .expect("force");
        assert_eq!(containers_of(&forced), json!([{"name": "web", "args": ["--c"]}]));
        let got = summary(&forced);
        let a_fields = &got.iter().find(|e| e.0 == "a").expect("a keeps the item").4;
        assert!(
            a_fields
                .pointer("/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"web\"}/f:args")
                .is_none()
        );

        // Atomic map (nodeSelector) and atomic struct (selector): replaced, not merged.
        let sel = |ns: Value, s: Value| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                   "spec": {"selector": s, "template": {"spec": {"nodeSelector": ns}}}})
        };
        let one = fm.apply(
            None,
            &sel(json!({"a": "1"}), json!({"matchLabels": {"x": "1"}})),
            "m",
            false,
            &at(3),
        );
        let one = store(one.expect("one"), 1);
        let two = fm.apply(
            Some(&one),
            &sel(json!({"b": "2"}), json!({"matchExpressions": []})),
            "m",
            false,
            &at(4),
        );
        let two = two.expect("two");
        assert_eq!(two["spec"]["template"]["spec"]["nodeSelector"], json!({"b": "2"}));
        assert_eq!(two["spec"]["selector"], json!({"matchExpressions": []}));
        assert_eq!(
            summary(&two)[0].4,
            json!({"f:spec": {"f:selector": {}, "f:template": {"f:spec": {"f:nodeSelector": {}}}}})
        );
    }

    #[test]
    fn first_apply_to_unmanaged_object_conflicts_with_existing_fields() {
        let fm = cm_fm();
        let live = store(cm(json!({"a": "1"})), 1);
        let err = fm
            .apply(Some(&live), &cm(json!({"a": "2"})), "x", false, &at(2))
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
        );
        let out = fm
            .apply(Some(&live), &cm(json!({"b": "1"})), "x", false, &at(2))
            .expect("apply");
        assert_eq!(
            summary(&out),
            vec![
                entry("x", "Apply", true, json!({"f:data": {"f:b": {}}})),
                entry(
                    "before-first-apply",
                    "Update",
                    true,
                    json!({"f:data": {".": {}, "f:a": {}}})
                ),
            ]
        );
    }

    #[test]
    fn updates_merge_per_manager_and_keep_time_when_nothing_changes() {
        let fm = cm_fm();
        let created = fm.update_object(None, &cm(json!({"a": "1"})), "m", &at(1));
        let mut same = created.clone();
        same["metadata"]["uid"] = json!("u");
        let unchanged = fm.update_object(Some(&created), &same, "m", &at(2));
        assert_eq!(
            unchanged["metadata"]["managedFields"],
            created["metadata"]["managedFields"]
        );
        let mut more = created.clone();
        more["data"]["b"] = json!("2");
        let out = fm.update_object(Some(&created), &more, "m", &at(3));
        assert_eq!(out["metadata"]["managedFields"][0]["time"], at(3));
        assert_eq!(
            out["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
        );
        // Another version is another Update entry.
        let v2 = FieldManager::new(SchemaMeta::builtin(), CM, "v2");
        let mut other = out.clone();
        other["data"]["c"] = json!("3");
        let two = v2.update_object(Some(&out), &other, "m", &at(4));
        assert_eq!(two["metadata"]["managedFields"].as_array().map(Vec::len), Some(2));
        // Removing a field takes it from every entry; an emptied entry disappears.
        let mut fewer = two.clone();
        fewer["data"] = json!({"a": "1", "b": "2"});
        let three = fm.update_object(Some(&two), &fewer, "n", &at(5));
        assert_eq!(
            summary(&three),
            vec![entry(
                "m",
                "Update",
                true,
                json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
            )]
        );
    }

    #[test]
    fn request_managed_fields_replace_or_reset() {
        let fm = cm_fm();
        let created = fm.update_object(None, &cm(json!({"a": "1"})), "m", &at(1));
        for reset in [json!([{}]), json!([])] {
            let mut new = created.clone();
            new["metadata"]["managedFields"] = reset.clone();
            assert_eq!(fm.update(Some(&created), &new, "m", &at(2)), json!([]), "{reset}");
            new["data"]["b"] = json!("2");
            assert_eq!(
                summary(&fm.update_object(Some(&created), &new, "n", &at(2)))[0].4,
                json!({"f:data": {"f:b": {}}})
            );
        }
        // A request without managedFields keeps the stored ones.
        let mut new = created.clone();
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        assert_eq!(
            fm.update(Some(&created), &new, "m", &at(2)),
            created["metadata"]["managedFields"]
        );
        // Through a subresource the request's managedFields are ignored.
        let mut new = created.clone();
        new["metadata"]["managedFields"] = json!([{}]);
        let sub = cm_fm().with_subresource(Some("status"));
        assert_eq!(
            sub.update(Some(&created), &new, "m", &at(2)),
            created["metadata"]["managedFields"]
        );
    }

    #[test]
    fn update_managers_are_capped() {
        let fm = cm_fm();
        let mut obj = cm(json!({}));
        let mut old: Option<Value> = None;
        for i in 0..11 {
            let mut new = obj.clone();
            new["data"][format!("k{i}")] = json!("v");
            obj = fm.update_object(old.as_ref(), &new, &format!("m{i:02}"), &at(i + 1));
            old = Some(obj.clone());
        }
        let got = summary(&obj);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].0, "ancient-changes");
        assert_eq!(got[0].4, json!({"f:data": {".": {}, "f:k0": {}, "f:k1": {}}}));
        assert_eq!(obj["metadata"]["managedFields"][0]["time"], at(2));
        assert_eq!(got[9].0, "m10");
    }

    #[test]
    fn conflict_messages() {
        let entry_of = |m: &str, op: Operation, sub: Option<&str>| ManagedFieldsEntry {
            manager: m.to_string(),
            operation: op,
            api_version: "apps/v1".to_string(),
            time: None,
            fields: FieldSet::new(),
            subresource: sub.map(str::to_string),
        };
        let path = |p: &[&str]| p.iter().map(|s| PathElement::Field(s.to_string())).collect::<Vec<_>>();
        let conflicts = vec![
            Conflict {
                manager: entry_of("b", Operation::Update, None),
                path: path(&["spec", "replicas"]),
            },
            Conflict {
                manager: entry_of("a", Operation::Apply, None),
                path: path(&["data", "x"]),
            },
            Conflict {
                manager: entry_of("a", Operation::Apply, None),
                path: path(&["data", "y"]),
            },
            Conflict {
                manager: entry_of("kcm", Operation::Update, Some("status")),
                path: path(&["status"]),
            },
        ];
        let (message, causes) = conflict_message(&conflicts);
        assert_eq!(
            message,
            "Apply failed with 4 conflicts: conflicts with \"a\":\n- .data.x\n- .data.y\nconflicts with \"b\" using apps/v1:\n- .spec.replicas\nconflicts with \"kcm\" with subresource \"status\" using apps/v1:\n- .status"
        );
        assert_eq!(
            causes[0],
            (
                "conflict with \"b\" using apps/v1".to_string(),
                ".spec.replicas".to_string()
            )
        );
        assert_eq!(
            causes[3].0,
            "conflict with \"kcm\" with subresource \"status\" using apps/v1"
        );
    }

    #[test]
    fn multiple_conflicts_from_apply() {
        let fm = cm_fm();
        let a = store(
            fm.apply(None, &cm(json!({"x": "1", "y": "1"})), "a", false, &at(1))
                .expect("a"),
            1,
        );
        let mut put = a.clone();
        put["data"]["z"] = json!("1");
        let b = store(fm.update_object(Some(&a), &put, "b", &at(2)), 2);
        let err = fm
            .apply(Some(&b), &cm(json!({"x": "2", "y": "2", "z": "2"})), "c", false, &at(3))
            .expect_err("conflicts");
        assert_eq!(
            err.to_string(),
            "Apply failed with 3 conflicts: conflicts with \"a\":\n- .data.x\n- .data.y\nconflicts with \"b\" using v1:\n- .data.z"
        );
    }

    #[test]
    fn bad_requests_and_schema_errors() {
        let fm = cm_fm();
        let mut with_mf = cm(json!({}));
        with_mf["metadata"]["managedFields"] = json!([]);
        let cases: Vec<(Value, &str)> = vec![
            (with_mf, "metadata.managedFields must be nil"),
            (
                json!({"apiVersion": "v2", "kind": "ConfigMap"}),
                "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1",
            ),
            (
                json!({"kind": "ConfigMap"}),
                "Incorrect version specified in apply patch. Specified patch version: , expected: v1",
            ),
        ];
        for (config, want) in cases {
            match fm.apply(None, &config, "m", false, &at(1)) {
                Err(ApplyError::BadRequest(m)) => assert_eq!(m, want),
                other => panic!("{want}: {other:?}"),
            }
        }
        let dup = container_config(
            json!([{"name": "web", "env": [{"name": "A"}, {"name": "A", "value": "2"}],
                                            "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]}]),
        );
        match deploy_fm().apply(None, &dup, "m", false, &at(1)) {
            Err(ApplyError::Schema(m)) => assert_eq!(
                m,
                "errors:\n  .spec.template.spec.containers[name=\"web\"].env: duplicate entries for key [name=\"A\"]\n  .spec.template.spec.containers[name=\"web\"].ports: duplicate entries for key [containerPort=80,protocol=\"TCP\"]"
            ),
            other => panic!("{other:?}"),
        }
        // A CRD list key without a default.
        let (meta, ty) = widget_schema();
        let config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                            "spec": {"items": [{"value": "x"}]}});
        match FieldManager::new(&meta, &ty, "example.com/v1").apply(None, &config, "m", false, &at(1)) {
            Err(ApplyError::Schema(m)) => assert_eq!(
                m,
                ".spec.items: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn service_port_protocol_defaults_in_keys() {
        let fm = FieldManager::new(SchemaMeta::builtin(), "io.k8s.api.core.v1.Service", "v1");
        let config = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                            "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}});
        let out = fm.apply(None, &config, "m", false, &at(1)).expect("apply");
        assert_eq!(
            summary(&out)[0].4,
            json!({"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}, "f:selector": {}}})
        );
    }

    fn widget_schema() -> (SchemaMeta, String) {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer"},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "tags": {"type": "array", "items": {"type": "string"}},
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}}
        }}}});
        let meta = SchemaMeta::from_openapi("example.com", "v1", "Widget", &schema);
        let ty = meta.root("example.com", "v1", "Widget").unwrap_or_default().to_string();
        (meta, ty)
    }

    #[test]
    fn custom_resource_fields() {
        let (meta, ty) = widget_schema();
        let fm = FieldManager::new(&meta, &ty, "example.com/v1");
        let config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                            "spec": {"size": 1, "extra": {"a": {"b": 1}}, "tags": ["x"], "items": [{"name": "i", "value": "v"}]}});
        let out = fm.apply(None, &config, "m", false, &at(1)).expect("apply");
        assert_eq!(
            summary(&out)[0].4,
            json!({"f:spec": {
                "f:extra": {"f:a": {".": {}, "f:b": {}}},
                "f:items": {"k:{\"name\":\"i\"}": {".": {}, "f:name": {}, "f:value": {}}},
                "f:size": {},
                "f:tags": {}
            }})
        );
        // Created through POST, the custom resource starts empty: spec itself is new.
        let managed = update_managed_fields(None, &config, "kubectl", &meta, &ty, "example.com/v1", &at(1), None);
        assert_eq!(managed[0]["fieldsV1"]["f:spec"]["."], json!({}));
        // Dropping a nested preserved field removes it.
        let second =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
        let out = fm
            .apply(Some(&store(out, 1)), &second, "m", false, &at(2))
            .expect("apply");
        assert_eq!(out["spec"], json!({"size": 1}));
    }

    #[test]
    fn kubectl_takes_over_client_side_applied_fields() {
        let fm = cm_fm();
        let mut csa = cm(json!({"a": "1", "b": "1"}));
        let last =
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"1\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"}}\n";
        csa["metadata"]["annotations"] = json!({ LAST_APPLIED: last });
        let live = store(fm.update_object(None, &csa, "kubectl-client-side-apply", &at(1)), 1);
        // "a" was applied client-side: kubectl may take it; "b" was not.
        let out = fm
            .apply(Some(&live), &cm(json!({"a": "2"})), "kubectl", false, &at(2))
            .expect("apply");
        assert_eq!(out["data"], json!({"a": "2", "b": "1"}));
        assert_eq!(
            out["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"2\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"}}\n"
        );
        let err = fm
            .apply(Some(&live), &cm(json!({"b": "2"})), "kubectl", false, &at(2))
            .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.b"
        );
        let err = fm
            .apply(Some(&live), &cm(json!({"a": "2"})), "other", false, &at(2))
            .expect_err("conflict");
        assert!(err.to_string().contains(".data.a"));
    }

    #[test]
    fn field_sets_round_trip_and_render() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}},
                       "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {}},
                       "f:finalizers": {"v:\"a\"": {}}, "f:args": {"i:0": {}}}
        });
        let set = FieldSet::from_fields_v1(&v).expect("parse");
        assert_eq!(set.to_fields_v1(), v);
        let rendered: Vec<String> = set.paths().iter().map(|p| render_path(p)).collect();
        assert_eq!(
            rendered,
            vec![
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.args[0]",
                ".spec.containers[name=\"web\"]",
                ".spec.containers[name=\"web\"].image",
                ".spec.finalizers[=\"a\"]",
                ".spec.ports[containerPort=80,protocol=\"TCP\"]",
            ]
        );
        let leaves: Vec<String> = set.leaf_paths().iter().map(|p| render_path(p)).collect();
        assert!(!leaves.contains(&".metadata.labels".to_string()));
        assert!(leaves.contains(&".metadata.labels.app".to_string()));
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        // Written order: fields, keys, values, indexes; "." first.
        let text = serde_json::to_string(
            &FieldSet::from_fields_v1(&json!({"f:b": {}, "f:a": {".": {}, "f:c": {}}}))
                .expect("parse")
                .to_fields_v1(),
        );
        assert_eq!(text.expect("json"), "{\"f:a\":{\".\":{},\"f:c\":{}},\"f:b\":{}}");
    }

    #[test]
    fn field_set_operations() {
        let s = |v: Value| FieldSet::from_fields_v1(&v).expect("set");
        let a = s(json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}, "f:spec": {"f:x": {}}}));
        let b = s(json!({"f:data": {"f:b": {}, "f:c": {}}}));
        assert_eq!(
            a.union(&b),
            s(json!({"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}, "f:spec": {"f:x": {}}}))
        );
        assert_eq!(a.intersection(&b), s(json!({"f:data": {"f:b": {}}})));
        assert_eq!(
            a.difference(&b),
            s(json!({"f:data": {".": {}, "f:a": {}}, "f:spec": {"f:x": {}}}))
        );
        let data = s(json!({"f:data": {}}));
        assert_eq!(
            a.difference(&data),
            s(json!({"f:data": {"f:a": {}, "f:b": {}}, "f:spec": {"f:x": {}}}))
        );
        assert_eq!(a.recursive_difference(&data), s(json!({"f:spec": {"f:x": {}}})));
        assert!(a.has(&[PathElement::Field("data".into())]));
        assert!(!b.has(&[PathElement::Field("data".into())]));
        assert!(FieldSet::new().is_empty());
    }

    #[test]
    fn managed_fields_decode_encode() {
        let stored = json!([
            {"manager": "z", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:05Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}},
            {"manager": "y", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T01:00:00+02:00", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2026-01-02T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}},
            {"manager": "s", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:05Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:x": {}}}, "subresource": "status"}
        ]);
        let entries = decode_managed_fields(Some(&stored)).expect("decode");
        let encoded = encode_managed_fields(&entries);
        let order: Vec<&str> = encoded
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        // Apply first; then by time (01:00+02:00 is 23:00 the day before), then by manager.
        assert_eq!(order, vec!["a", "y", "s", "z"]);
        assert_eq!(encoded[2]["subresource"], "status");
        let bad = [
            (
                json!([{"operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
                "operation must be `Apply` or `Update`",
            ),
            (
                json!([{"operation": "Apply", "fieldsType": "FieldsV1"}]),
                "apiVersion must not be empty",
            ),
            (
                json!([{"operation": "Apply", "apiVersion": "v1"}]),
                "missing fieldsType in managed fields entry 0",
            ),
            (
                json!([{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}]),
                "invalid fieldsType \"FieldsV2\" in managed fields entry 0",
            ),
        ];
        for (v, want) in bad {
            assert_eq!(decode_managed_fields(Some(&v)).expect_err(want), want);
        }
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00.5Z"), Some(951868800));
        assert_eq!(parse_rfc3339("nope"), None);
    }
}
