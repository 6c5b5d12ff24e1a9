//! CustomResourceDefinition schema handling, modelled on kube-apiserver's apiextensions-apiserver.
//!
//! A CRD version's `schema.openAPIV3Schema` is checked once when the CRD is written
//! ([`check_structural`]), and then drives every write of a custom resource. Kube's order on a
//! write is: decode → [`prune`] (drop unknown fields, report them for `fieldValidation`) →
//! [`apply_defaults`] → [`validate`]. Defaults are also applied when objects are read back from
//! storage.
//!
//! What is emulated, and where kube's behaviour comes from:
//! - structural-schema rules and CRD schema API checks (`pkg/apiserver/schema/validation.go`,
//!   `complete.go`, `pkg/apis/apiextensions/validation`), including defaults that must validate
//!   and be pruned;
//! - value validation as kube-openapi's `validate.SchemaValidator` does it, with its messages
//!   (`spec.size in body should be less than or equal to 10`) converted into field errors the way
//!   `kubeOpenAPIResultToFieldErrors` does, and the value rendering of apimachinery's `field.Error`;
//! - embedded resources (`x-kubernetes-embedded-resource`): `apiVersion`/`kind` required and
//!   checked, nested `metadata` checked (name, generateName, namespace, labels, annotations) and
//!   pruned to `ObjectMeta` fields;
//! - `x-kubernetes-list-type` `set`/`map` uniqueness;
//! - pruning (including `x-kubernetes-preserve-unknown-fields` subtrees and the root
//!   `apiVersion`/`kind`/`metadata`, whose unknown `metadata` fields are dropped like kube's
//!   `ObjectMeta` round trip does) and removal of non-nullable `null`s without a default;
//! - defaulting (including array items and `additionalProperties`).
//!
//! Not emulated: `x-kubernetes-validations` (CEL) rules are only checked statically (they are
//! never evaluated), validation ratcheting on update, the status-subresource restriction of
//! root-level keywords, and the `ObjectMeta` normalisation of the root `metadata` (omitted empty
//! fields) — the rest of the server owns the root object's metadata.
//!
//! Patterns are Go (RE2) regular expressions; they are translated to the `regex` crate's syntax
//! (ASCII `\d`, `\w`, `\s`, `\b`, literal `{`, `[` inside classes, …) before compiling.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------------
// Field errors
// ---------------------------------------------------------------------------------------------

const REASON_REQUIRED: &str = "FieldValueRequired";
const REASON_INVALID: &str = "FieldValueInvalid";
const REASON_TYPE_INVALID: &str = "FieldValueTypeInvalid";
const REASON_NOT_SUPPORTED: &str = "FieldValueNotSupported";
const REASON_FORBIDDEN: &str = "FieldValueForbidden";
const REASON_TOO_LONG: &str = "FieldValueTooLong";
const REASON_TOO_MANY: &str = "FieldValueTooMany";
const REASON_DUPLICATE: &str = "FieldValueDuplicate";

/// One validation error, rendered into `Status` `details.causes[]` the way kube renders a
/// `field.Error`.
///
/// `reason` is the cause type (`FieldValueRequired`, `FieldValueInvalid`,
/// `FieldValueTypeInvalid`, `FieldValueNotSupported`, `FieldValueForbidden`,
/// `FieldValueTooLong`, `FieldValueTooMany`, `FieldValueDuplicate`), `field` the field path
/// (`spec.replicas`, `spec.versions[0].schema.openAPIV3Schema.properties[spec].type`; `<nil>` for
/// errors kube reports without a path) and `message` the error body without the field, e.g.
/// `Invalid value: "string": spec.replicas in body must be of type integer: "string"`. The
/// `Display` form is kube's `field.Error.Error()`: `<field>: <message>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Cause type, e.g. `FieldValueInvalid`.
    pub reason: &'static str,
    /// Field path, e.g. `spec.size`.
    pub field: String,
    /// Message without the field, e.g. `Invalid value: 11: spec.size in body should be less than or equal to 10`.
    pub message: String,
}

impl FieldError {
    fn new(reason: &'static str, field: &str, message: String) -> Self {
        Self {
            reason,
            field: field.to_string(),
            message,
        }
    }

    fn with_detail(head: String, detail: &str) -> String {
        if detail.is_empty() {
            head
        } else {
            format!("{head}: {detail}")
        }
    }

    fn required(field: &str, detail: &str) -> Self {
        Self::new(
            REASON_REQUIRED,
            field,
            Self::with_detail("Required value".to_string(), detail),
        )
    }

    fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(
            REASON_FORBIDDEN,
            field,
            Self::with_detail("Forbidden".to_string(), detail),
        )
    }

    fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let head = format!("Invalid value: {}", render_bad_value(value));
        Self::new(REASON_INVALID, field, Self::with_detail(head, detail))
    }

    fn type_invalid(field: &str, value: &Value, detail: &str) -> Self {
        let head = format!("Invalid value: {}", render_bad_value(value));
        Self::new(REASON_TYPE_INVALID, field, Self::with_detail(head, detail))
    }

    fn not_supported(field: &str, value: &Value, supported: &[String]) -> Self {
        let head = format!("Unsupported value: {}", render_bad_value(value));
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(REASON_NOT_SUPPORTED, field, Self::with_detail(head, &detail))
    }

    fn too_long(field: &str, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("may not be more than {max} {}", if max == 1 { "byte" } else { "bytes" })
        } else {
            "value is too long".to_string()
        };
        Self::new(REASON_TOO_LONG, field, format!("Too long: {detail}"))
    }

    fn too_many(field: &str, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} {}", if max == 1 { "item" } else { "items" })
        } else {
            "too many items".to_string()
        };
        let head = if actual >= 0 {
            format!("Too many: {actual}")
        } else {
            "Too many".to_string()
        };
        Self::new(REASON_TOO_MANY, field, format!("{head}: {detail}"))
    }

    fn duplicate(field: &str, value: &Value) -> Self {
        Self::new(
            REASON_DUPLICATE,
            field,
            format!("Duplicate value: {}", render_bad_value(value)),
        )
    }
}

/// Renders a bad value like apimachinery's `field.Error.ErrorBody`: strings quoted, numbers and
/// booleans plain, everything else as JSON.
fn render_bad_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_fmt_float(n.as_f64().unwrap_or_default()),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => go_json(v),
    }
}

fn empty_str() -> Value {
    Value::String(String::new())
}

// ---------------------------------------------------------------------------------------------
// Field paths (apimachinery `field.Path` rendering)
// ---------------------------------------------------------------------------------------------

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

// ---------------------------------------------------------------------------------------------
// Parsed schema
// ---------------------------------------------------------------------------------------------

/// Schema nodes nested deeper than this are rejected (`check_structural`) or ignored. JSON parsed by
/// serde_json (recursion limit 128) never gets there; it bounds recursion for hand-built values.
const MAX_SCHEMA_DEPTH: usize = 128;
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];
const VALID_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

#[derive(Clone, Debug)]
enum Additional {
    Bool(bool),
    Schema(Box<Node>),
}

impl Additional {
    fn schema(&self) -> Option<&Node> {
        match self {
            Additional::Schema(s) => Some(s),
            Additional::Bool(_) => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Rule {
    rule: String,
    message: Option<String>,
    message_expression: Option<String>,
    reason: Option<String>,
    field_path: Option<String>,
}

/// One node of an `openAPIV3Schema` (a `JSONSchemaProps`).
#[derive(Clone, Debug, Default)]
struct Node {
    ty: String,
    format: String,
    title: String,
    description: String,
    nullable: bool,
    default: Option<Value>,
    properties: Vec<(String, Node)>,
    prop_index: HashMap<String, usize>,
    additional: Option<Additional>,
    items: Option<Box<Node>>,
    items_array: Vec<Node>,
    enum_values: Vec<Value>,
    maximum: Option<f64>,
    exclusive_maximum: bool,
    minimum: Option<f64>,
    exclusive_minimum: bool,
    multiple_of: Option<f64>,
    max_length: Option<i64>,
    min_length: Option<i64>,
    pattern: Option<String>,
    regex: Option<Result<Regex, String>>,
    max_items: Option<i64>,
    min_items: Option<i64>,
    unique_items: bool,
    max_properties: Option<i64>,
    min_properties: Option<i64>,
    required: Vec<String>,
    all_of: Vec<Node>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    not: Option<Box<Node>>,
    preserve_unknown: Option<bool>,
    embedded: bool,
    int_or_string: bool,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
    map_type: Option<String>,
    validations: Vec<Rule>,
    id: bool,
    schema_keyword: bool,
    reference: Option<String>,
    pattern_properties: Option<Vec<(String, Node)>>,
    definitions: Option<Vec<(String, Node)>>,
    dependencies: Option<Vec<(String, Option<Node>)>>,
    additional_items: bool,
}

impl Node {
    fn prop(&self, name: &str) -> Option<&Node> {
        self.prop_index
            .get(name)
            .and_then(|&i| self.properties.get(i))
            .map(|(_, n)| n)
    }

    fn preserve(&self) -> bool {
        self.preserve_unknown == Some(true)
    }

    /// The `type` list kube-openapi validates against.
    fn types(&self) -> Vec<&str> {
        if self.int_or_string {
            vec!["integer", "string"]
        } else if self.ty.is_empty() {
            Vec::new()
        } else {
            vec![self.ty.as_str()]
        }
    }

    /// The format after apiextensions strips the ones it does not support.
    fn effective_format(&self) -> &str {
        if self.format.is_empty() {
            return "";
        }
        let schema_type = if self.int_or_string { "" } else { self.ty.as_str() };
        let supported = match schema_type {
            "" | "string" => is_known_format(&self.format),
            "integer" => self.format == "int32" || self.format == "int64",
            "number" => self.format == "float" || self.format == "double",
            _ => false,
        };
        if supported { &self.format } else { "" }
    }

    fn value_validation_is_empty(&self) -> bool {
        self.format.is_empty()
            && self.maximum.is_none()
            && !self.exclusive_maximum
            && self.minimum.is_none()
            && !self.exclusive_minimum
            && self.max_length.is_none()
            && self.min_length.is_none()
            && self.pattern.is_none()
            && self.max_items.is_none()
            && self.min_items.is_none()
            && !self.unique_items
            && self.multiple_of.is_none()
            && self.max_properties.is_none()
            && self.min_properties.is_none()
            && self.required.is_empty()
            && self.enum_values.is_empty()
            && self.all_of.is_empty()
            && self.any_of.is_empty()
            && self.one_of.is_empty()
            && self.not.is_none()
    }

    fn extensions_are_empty(&self) -> bool {
        !self.preserve()
            && !self.embedded
            && !self.int_or_string
            && self.list_type.is_none()
            && self.list_map_keys.is_empty()
            && self.map_type.is_none()
            && self.validations.is_empty()
    }

    /// Everything except `type`, `default` and `properties` is unset.
    fn only_type_default_properties(&self) -> bool {
        self.title.is_empty()
            && self.description.is_empty()
            && !self.nullable
            && self.additional.is_none()
            && self.items.is_none()
            && self.value_validation_is_empty()
            && self.extensions_are_empty()
    }

    /// The node is exactly `{type: <t>}` (the two halves of the int-or-string `anyOf` pattern).
    fn is_only_type(&self, t: &str) -> bool {
        self.ty == t && self.default.is_none() && self.properties.is_empty() && self.only_type_default_properties()
    }
}

fn is_int_or_string_any_of(any_of: &[Node]) -> bool {
    any_of.len() == 2 && any_of[0].is_only_type("integer") && any_of[1].is_only_type("string")
}

fn decode_error(path: &str, v: &Value, expected: &str) -> FieldError {
    FieldError::type_invalid(path, v, &format!("must be of type {expected}"))
}

fn want_str(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => {
            errs.push(decode_error(path, v, "string"));
            String::new()
        }
    }
}

fn want_bool(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> bool {
    match v {
        Value::Bool(b) => *b,
        _ => {
            errs.push(decode_error(path, v, "boolean"));
            false
        }
    }
}

fn want_f64(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => {
            errs.push(decode_error(path, v, "number"));
            None
        }
    }
}

fn want_i64(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<i64> {
    match v.as_i64() {
        Some(i) => Some(i),
        None => {
            errs.push(decode_error(path, v, "integer"));
            None
        }
    }
}

fn want_str_list(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Vec<String> {
    let Some(a) = v.as_array() else {
        errs.push(decode_error(path, v, "array"));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(a.len());
    for (i, e) in a.iter().enumerate() {
        match e {
            Value::String(s) => out.push(s.clone()),
            _ => errs.push(decode_error(&index(path, i), e, "string")),
        }
    }
    out
}

fn parse_schema_map(v: &Value, path: &str, errs: &mut Vec<FieldError>, depth: usize) -> Vec<(String, Node)> {
    let Some(m) = v.as_object() else {
        errs.push(decode_error(path, v, "object"));
        return Vec::new();
    };
    m.iter()
        .map(|(k, s)| (k.clone(), parse_node(s, &key(path, k), errs, depth)))
        .collect()
}

fn parse_schema_list(v: &Value, path: &str, errs: &mut Vec<FieldError>, depth: usize) -> Vec<Node> {
    let Some(a) = v.as_array() else {
        errs.push(decode_error(path, v, "array"));
        return Vec::new();
    };
    a.iter()
        .enumerate()
        .map(|(i, s)| parse_node(s, &index(path, i), errs, depth))
        .collect()
}

fn parse_rules(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Vec<Rule> {
    let Some(a) = v.as_array() else {
        errs.push(decode_error(path, v, "array"));
        return Vec::new();
    };
    let mut rules = Vec::with_capacity(a.len());
    for (i, r) in a.iter().enumerate() {
        let rp = index(path, i);
        let Some(m) = r.as_object() else {
            errs.push(decode_error(&rp, r, "object"));
            continue;
        };
        let mut rule = Rule::default();
        for (k, val) in m {
            if val.is_null() {
                continue;
            }
            let kp = child(&rp, k);
            match k.as_str() {
                "rule" => rule.rule = want_str(val, &kp, errs),
                "message" => rule.message = Some(want_str(val, &kp, errs)),
                "messageExpression" => rule.message_expression = Some(want_str(val, &kp, errs)),
                "reason" => rule.reason = Some(want_str(val, &kp, errs)),
                "fieldPath" => rule.field_path = Some(want_str(val, &kp, errs)),
                "optionalOldSelf" => {
                    want_bool(val, &kp, errs);
                }
                _ => {}
            }
        }
        rules.push(rule);
    }
    rules
}

/// Parses one schema node. Malformed keywords (wrong JSON types) are reported into `errs`, which
/// only [`check_structural`] looks at; validation, pruning and defaulting ignore them.
fn parse_node(v: &Value, path: &str, errs: &mut Vec<FieldError>, depth: usize) -> Node {
    let mut n = Node::default();
    let Some(m) = v.as_object() else {
        errs.push(decode_error(path, v, "object"));
        return n;
    };
    if depth >= MAX_SCHEMA_DEPTH {
        errs.push(FieldError::forbidden(path, "schema is nested too deeply"));
        return n;
    }
    let d = depth + 1;
    for (k, val) in m {
        if val.is_null() {
            continue;
        }
        let kp = child(path, k);
        match k.as_str() {
            "type" => n.ty = want_str(val, &kp, errs),
            "format" => n.format = want_str(val, &kp, errs),
            "title" => n.title = want_str(val, &kp, errs),
            "description" => n.description = want_str(val, &kp, errs),
            "pattern" => {
                let p = want_str(val, &kp, errs);
                if !p.is_empty() {
                    n.regex = Some(compile_go_regex(&p));
                    n.pattern = Some(p);
                }
            }
            "id" => n.id = !want_str(val, &kp, errs).is_empty(),
            "$schema" => n.schema_keyword = !want_str(val, &kp, errs).is_empty(),
            "$ref" => n.reference = Some(want_str(val, &kp, errs)),
            "nullable" => n.nullable = want_bool(val, &kp, errs),
            "exclusiveMaximum" => n.exclusive_maximum = want_bool(val, &kp, errs),
            "exclusiveMinimum" => n.exclusive_minimum = want_bool(val, &kp, errs),
            "uniqueItems" => n.unique_items = want_bool(val, &kp, errs),
            "x-kubernetes-embedded-resource" => n.embedded = want_bool(val, &kp, errs),
            "x-kubernetes-int-or-string" => n.int_or_string = want_bool(val, &kp, errs),
            "x-kubernetes-preserve-unknown-fields" => n.preserve_unknown = Some(want_bool(val, &kp, errs)),
            "maximum" => n.maximum = want_f64(val, &kp, errs),
            "minimum" => n.minimum = want_f64(val, &kp, errs),
            "multipleOf" => n.multiple_of = want_f64(val, &kp, errs),
            "maxLength" => n.max_length = want_i64(val, &kp, errs),
            "minLength" => n.min_length = want_i64(val, &kp, errs),
            "maxItems" => n.max_items = want_i64(val, &kp, errs),
            "minItems" => n.min_items = want_i64(val, &kp, errs),
            "maxProperties" => n.max_properties = want_i64(val, &kp, errs),
            "minProperties" => n.min_properties = want_i64(val, &kp, errs),
            "required" => n.required = want_str_list(val, &kp, errs),
            "x-kubernetes-list-map-keys" => n.list_map_keys = want_str_list(val, &kp, errs),
            "x-kubernetes-list-type" => n.list_type = Some(want_str(val, &kp, errs)),
            "x-kubernetes-map-type" => n.map_type = Some(want_str(val, &kp, errs)),
            "x-kubernetes-validations" => n.validations = parse_rules(val, &kp, errs),
            "enum" => match val.as_array() {
                Some(a) => n.enum_values = a.clone(),
                None => errs.push(decode_error(&kp, val, "array")),
            },
            "properties" => n.properties = parse_schema_map(val, &kp, errs, d),
            "patternProperties" => n.pattern_properties = Some(parse_schema_map(val, &kp, errs, d)),
            "definitions" => n.definitions = Some(parse_schema_map(val, &kp, errs, d)),
            "dependencies" => match val.as_object() {
                Some(deps) => {
                    let mut out = Vec::with_capacity(deps.len());
                    for (dk, dv) in deps {
                        let dp = key(&kp, dk);
                        if dv.is_array() {
                            want_str_list(dv, &dp, errs);
                            out.push((dk.clone(), None));
                        } else {
                            out.push((dk.clone(), Some(parse_node(dv, &dp, errs, d))));
                        }
                    }
                    n.dependencies = Some(out);
                }
                None => errs.push(decode_error(&kp, val, "object")),
            },
            "items" => {
                if val.is_array() {
                    n.items_array = parse_schema_list(val, &kp, errs, d);
                } else {
                    n.items = Some(Box::new(parse_node(val, &kp, errs, d)));
                }
            }
            "additionalProperties" => match val {
                Value::Bool(b) => n.additional = Some(Additional::Bool(*b)),
                _ => n.additional = Some(Additional::Schema(Box::new(parse_node(val, &kp, errs, d)))),
            },
            "additionalItems" => {
                n.additional_items = true;
                if !val.is_boolean() {
                    parse_node(val, &kp, errs, d);
                }
            }
            "allOf" => n.all_of = parse_schema_list(val, &kp, errs, d),
            "anyOf" => n.any_of = parse_schema_list(val, &kp, errs, d),
            "oneOf" => n.one_of = parse_schema_list(val, &kp, errs, d),
            "not" => n.not = Some(Box::new(parse_node(val, &kp, errs, d))),
            "default" => n.default = Some(val.clone()),
            "externalDocs" if !val.is_object() => errs.push(decode_error(&kp, val, "object")),
            _ => {}
        }
    }
    n.prop_index = n
        .properties
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), i))
        .collect();
    n
}

/// A CRD version's `openAPIV3Schema`, parsed once and reusable for many objects (patterns are
/// compiled once). The free functions [`validate`], [`prune`] and [`apply_defaults`] parse the
/// schema on every call; keep one of these per served CRD version instead.
#[derive(Clone, Debug)]
pub struct CrdSchema {
    root: Node,
}

impl CrdSchema {
    /// Parses an `openAPIV3Schema`. Malformed keywords are ignored here; reject them at CRD
    /// write time with [`check_structural`].
    pub fn new(schema: &Value) -> Self {
        let mut ignored = Vec::new();
        Self {
            root: parse_node(schema, "", &mut ignored, 0),
        }
    }

    /// See [`validate`].
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut verrs = Vec::new();
        validate_value(&self.root, obj, "", &mut verrs);
        let mut out = to_field_errors(verrs, None);
        validate_embedded(&self.root, obj, "", &mut out);
        if let Value::Object(m) = obj {
            validate_list_types(&self.root, m, "", &mut out);
        }
        out
    }

    /// See [`apply_defaults`].
    pub fn apply_defaults(&self, obj: &mut Value) {
        default_value(obj, &self.root);
    }

    /// See [`prune`].
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(meta) = obj.as_object_mut().and_then(|m| m.get_mut("metadata")) {
            prune_object_meta(meta, "metadata", &mut out);
        }
        let mut pruned = Vec::new();
        prune_node(obj, Some(&self.root), true, "", &mut pruned);
        pruned.sort();
        out.extend(pruned);
        prune_nulls(obj, Some(&self.root));
        let mut coerced = Vec::new();
        coerce_embedded(obj, &self.root, "", &mut coerced);
        coerced.sort();
        out.extend(coerced);
        out
    }
}

/// Validates a custom resource against its schema, like the custom resource strategy does on
/// create and update: value validation (types, formats, `enum`, `required`, `pattern`, bounds,
/// lengths, item and property counts, `uniqueItems`, `nullable`, int-or-string, `allOf`/`anyOf`/
/// `oneOf`/`not`, `additionalProperties` and `items` schemas), then embedded resources, then
/// `x-kubernetes-list-type` `set`/`map` uniqueness.
///
/// The root `apiVersion`, `kind` and `metadata` are validated only by what the schema says about
/// them (the rest of the server validates the root object's metadata). Run it after [`prune`]
/// and [`apply_defaults`].
pub fn validate(obj: &Value, schema: &Value) -> Vec<FieldError> {
    CrdSchema::new(schema).validate(obj)
}

/// Applies `default`s like kube's structural defaulting (on create, update and read): a property
/// that is missing, or `null` while not `nullable`, gets its default (deep-copied), then
/// defaulting recurses into every property, including freshly defaulted objects, `items` (also
/// replacing non-nullable `null` items by the items' default) and `additionalProperties`.
pub fn apply_defaults(obj: &mut Value, schema: &Value) {
    CrdSchema::new(schema).apply_defaults(obj);
}

/// Removes fields the schema does not specify and returns their paths, for `fieldValidation`
/// (Strict → 400 `strict decoding error: unknown field "spec.foo"`, Warn → one warning each).
///
/// Like kube's decoder: unknown fields of the root `metadata` (anything that is not an
/// `ObjectMeta` field) are dropped and reported first as `metadata.<field>`; then the structural
/// prune (root `apiVersion`/`kind`/`metadata` kept, `x-kubernetes-preserve-unknown-fields`
/// subtrees kept, embedded resources keep their own `apiVersion`/`kind`/`metadata`) reports
/// sorted paths such as `spec.foo` and `spec.items[0].bar`; then non-nullable `null`s without a
/// default are removed (not reported); finally unknown fields in embedded resources' `metadata`
/// are dropped and reported (`spec.template.metadata.foo`).
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    CrdSchema::new(schema).prune(obj)
}

// ---------------------------------------------------------------------------------------------
// Value validation (kube-openapi SchemaValidator)
// ---------------------------------------------------------------------------------------------

enum Code {
    Required,
    Enum(Vec<Value>),
    TooLong(i64),
    MaxItems(i64),
    TooManyProperties(i64),
    InvalidType,
    Other,
    Composite,
}

/// A kube-openapi validation error: `name` is its dotted path (`spec.items[0].name`).
struct VErr {
    name: String,
    code: Code,
    value: Option<Value>,
    msg: String,
}

impl VErr {
    fn other(name: &str, value: Option<Value>, msg: String) -> Self {
        Self {
            name: name.to_string(),
            code: Code::Other,
            value,
            msg,
        }
    }

    fn composite(msg: String) -> Self {
        Self {
            name: String::new(),
            code: Code::Composite,
            value: None,
            msg,
        }
    }

    fn invalid_type(path: &str, type_name: &str, got: &str) -> Self {
        Self {
            name: path.to_string(),
            code: Code::InvalidType,
            value: Some(Value::String(got.to_string())),
            msg: format!("{path} in body must be of type {type_name}: {}", go_quote(got)),
        }
    }
}

/// Converts kube-openapi errors to field errors (`kubeOpenAPIResultToFieldErrors`); `prefix` is
/// the field path the validated value sits at (none for a whole object).
fn to_field_errors(errs: Vec<VErr>, prefix: Option<&str>) -> Vec<FieldError> {
    let base = prefix.unwrap_or("<nil>");
    errs.into_iter()
        .map(|e| {
            if let Code::Composite = e.code {
                return FieldError::invalid(base, &empty_str(), &e.msg);
            }
            let field = if !e.name.is_empty() && e.name != "." {
                let name = e.name.strip_prefix('.').unwrap_or(&e.name);
                match prefix {
                    Some(p) => child(p, name),
                    None => name.to_string(),
                }
            } else {
                base.to_string()
            };
            let value = e.value.unwrap_or_else(empty_str);
            match e.code {
                Code::Required => FieldError::required(&field, ""),
                Code::Enum(values) => {
                    let supported: Vec<String> = values
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => go_json(other),
                        })
                        .collect();
                    FieldError::not_supported(&field, &value, &supported)
                }
                Code::TooLong(max) => FieldError::too_long(&field, max),
                Code::MaxItems(max) | Code::TooManyProperties(max) => {
                    FieldError::too_many(&field, value.as_i64().unwrap_or(-1), max)
                }
                Code::InvalidType => FieldError::type_invalid(&field, &value, &e.msg),
                Code::Other | Code::Composite => FieldError::invalid(&field, &value, &e.msg),
            }
        })
        .collect()
}

enum Num {
    Int(i64),
    Float(f64),
}

fn num(n: &Number) -> Num {
    match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or_default()),
    }
}

/// JSON type and kube-openapi "format" of a value, as kube's decoder types it (int64/float64).
fn data_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) => match num(n) {
            Num::Int(_) => ("integer", "int64"),
            Num::Float(_) => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// go-openapi's `swag.IsFloat64AJSONInteger`.
fn is_json_integer(f: f64) -> bool {
    const MAX_JSON_FLOAT: f64 = 9_007_199_254_740_991.0;
    if !f.is_finite() || !(-MAX_JSON_FLOAT..=MAX_JSON_FLOAT).contains(&f) {
        return false;
    }
    if f == f.trunc() {
        return true;
    }
    ((f - f.round()).abs() / f.abs()) < 1e-9
}

/// Validates `data` against `n` at kube-openapi path `path`; returns kube-openapi's "match count"
/// (how much was checked), used to pick the best failing `anyOf`/`oneOf` branch.
fn validate_value(n: &Node, data: &Value, path: &str, out: &mut Vec<VErr>) -> usize {
    let types = n.types();
    let format = n.effective_format();
    if data.is_null() {
        check_type(&types, n.nullable, format, data, path, out);
        check_enum(n, data, path, out);
        return 2;
    }
    let mut count = 1;
    if !types.is_empty() || !format.is_empty() {
        check_type(&types, n.nullable, format, data, path, out);
        count += 1;
    }
    count += validate_junctors(n, data, path, out) + 1;
    match data {
        Value::String(s) => {
            check_string(n, s, path, out);
            count += 1;
            if !format.is_empty() && is_known_format(format) {
                if !format_validates(format, s) {
                    out.push(VErr {
                        name: path.to_string(),
                        code: Code::InvalidType,
                        value: Some(data.clone()),
                        msg: format!("{path} in body must be of type {format}: {}", go_quote(s)),
                    });
                }
                count += 1;
            }
        }
        Value::Number(x) => {
            check_number(n, x, data, path, out);
            count += 1;
        }
        Value::Array(items) => count += check_array(n, items, path, out) + 1,
        _ => {}
    }
    check_enum(n, data, path, out);
    count += 1;
    if let Value::Object(m) = data {
        count += check_object(n, m, path, out) + 1;
    }
    count
}

fn check_type(types: &[&str], nullable: bool, format: &str, data: &Value, path: &str, out: &mut Vec<VErr>) {
    if data.is_null() {
        if !types.is_empty() && !types.contains(&"null") && !nullable {
            out.push(VErr::invalid_type(path, &types.join(","), "null"));
        }
        return;
    }
    if types.is_empty() && format.is_empty() {
        return;
    }
    let (sch_type, data_format) = data_type(data);
    let contains = |t: &str| types.contains(&t);
    let is_float_int = match data {
        Value::Number(x) => match num(x) {
            Num::Float(f) => is_json_integer(f) && contains("integer"),
            Num::Int(_) => false,
        },
        _ => false,
    };
    let is_int_float = sch_type == "integer" && contains("number");
    let string_or_array = matches!(data, Value::String(_) | Value::Array(_));
    if !(string_or_array
        || format.is_empty()
        || contains(sch_type)
        || data_format == format
        || is_float_int
        || is_int_float)
    {
        out.push(VErr::invalid_type(path, format, data_format));
        return;
    }
    if string_or_array && !(contains("number") || contains("integer") || format.is_empty()) {
        return;
    }
    if !(contains(sch_type) || is_float_int || is_int_float) {
        out.push(VErr::invalid_type(path, &types.join(","), sch_type));
    }
}

fn check_string(n: &Node, s: &str, path: &str, out: &mut Vec<VErr>) {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    let value = Some(Value::String(s.to_string()));
    if let Some(max) = n.max_length
        && len > max
    {
        out.push(VErr {
            name: path.to_string(),
            code: Code::TooLong(max),
            value,
            msg: format!("{path} in body should be at most {max} chars long"),
        });
        return;
    }
    if let Some(min) = n.min_length
        && len < min
    {
        out.push(VErr::other(
            path,
            value,
            format!("{path} in body should be at least {min} chars long"),
        ));
        return;
    }
    if let (Some(pattern), Some(re)) = (&n.pattern, &n.regex) {
        match re {
            Ok(re) if re.is_match(s) => {}
            Ok(_) => out.push(VErr::other(
                path,
                value,
                format!("{path} in body should match '{pattern}'"),
            )),
            Err(e) => out.push(VErr::other(
                path,
                value,
                format!("{path} in body should match '{pattern}, but pattern is invalid: {e}'"),
            )),
        }
    }
}

/// Go's `int64(f)` (saturating here instead of implementation-defined).
fn go_int(f: f64) -> i64 {
    f as i64
}

fn check_number(n: &Node, x: &Number, data: &Value, path: &str, out: &mut Vec<VErr>) {
    let value = Some(data.clone());
    let v = num(x);
    if let Some(factor) = n.multiple_of {
        match v {
            Num::Int(i) if go_int(factor) != 0 => {
                let f = go_int(factor);
                if f < 0 {
                    out.push(VErr::other(
                        path,
                        Some(Value::from(f)),
                        format!("factor MultipleOf declared for {path} must be positive: {f}"),
                    ));
                } else if i.checked_rem(f).is_some_and(|r| r != 0) {
                    out.push(VErr::other(
                        path,
                        value.clone(),
                        format!("{path} in body should be a multiple of {f}"),
                    ));
                }
            }
            _ => {
                let d = match v {
                    Num::Int(i) => i as f64,
                    Num::Float(f) => f,
                };
                if factor < 0.0 {
                    out.push(VErr::other(
                        path,
                        Some(Value::from(factor)),
                        format!(
                            "factor MultipleOf declared for {path} must be positive: {}",
                            go_fmt_float(factor)
                        ),
                    ));
                } else {
                    let mult = if factor < 1.0 { 1.0 / factor * d } else { d / factor };
                    if !is_json_integer(mult) {
                        out.push(VErr::other(
                            path,
                            value.clone(),
                            format!("{path} in body should be a multiple of {}", go_fmt_float(factor)),
                        ));
                    }
                }
            }
        }
    }
    if let Some(min) = n.minimum {
        let excl = n.exclusive_minimum;
        let (fails, shown) = match v {
            Num::Int(i) => {
                let m = go_int(min);
                (if excl { i <= m } else { i < m }, m.to_string())
            }
            Num::Float(f) => (if excl { f <= min } else { f < min }, go_fmt_float(min)),
        };
        if fails {
            let rel = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.push(VErr::other(
                path,
                value.clone(),
                format!("{path} in body should be {rel} {shown}"),
            ));
        }
    }
    if let Some(max) = n.maximum {
        let excl = n.exclusive_maximum;
        let (fails, shown) = match v {
            Num::Int(i) => {
                let m = go_int(max);
                (if excl { i >= m } else { i > m }, m.to_string())
            }
            Num::Float(f) => (if excl { f >= max } else { f > max }, go_fmt_float(max)),
        };
        if fails {
            let rel = if excl { "less than" } else { "less than or equal to" };
            out.push(VErr::other(
                path,
                value,
                format!("{path} in body should be {rel} {shown}"),
            ));
        }
    }
}

fn check_array(n: &Node, items: &[Value], path: &str, out: &mut Vec<VErr>) -> usize {
    let mut count = 0;
    if let Some(item_schema) = &n.items {
        for (i, v) in items.iter().enumerate() {
            count += validate_value(item_schema, v, &index(path, i), out);
        }
    }
    let size = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_items
        && size < min
    {
        out.push(VErr::other(
            path,
            Some(Value::from(size)),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = n.max_items
        && size > max
    {
        out.push(VErr {
            name: path.to_string(),
            code: Code::MaxItems(max),
            value: Some(Value::from(size)),
            msg: format!("{path} in body should have at most {max} items"),
        });
    }
    if n.unique_items {
        let mut seen = HashSet::with_capacity(items.len());
        if items.iter().any(|v| !seen.insert(strict_key(v))) {
            out.push(VErr::other(
                path,
                None,
                format!("{path} in body shouldn't contain duplicates"),
            ));
        }
    }
    count
}

fn check_enum(n: &Node, data: &Value, path: &str, out: &mut Vec<VErr>) {
    if n.enum_values.is_empty() {
        return;
    }
    if !data.is_null() && n.enum_values.iter().any(|e| enum_matches(data, e)) {
        return;
    }
    out.push(VErr {
        name: path.to_string(),
        code: Code::Enum(n.enum_values.clone()),
        value: Some(data.clone()),
        msg: format!("{path} in body should be one of the enum values"),
    });
}

fn enum_matches(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (_, Value::Null) => false,
        (Value::Number(a), Value::Number(b)) => match (num(a), num(b)) {
            (Num::Int(x), Num::Int(y)) => x == y,
            (x, y) => {
                let fx = match x {
                    Num::Int(i) => i as f64,
                    Num::Float(f) => f,
                };
                let fy = match y {
                    Num::Int(i) => i as f64,
                    Num::Float(f) => f,
                };
                fx == fy
            }
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| deep_eq(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, x)| b.get(k).is_some_and(|y| deep_eq(x, y)))
        }
        _ => data == e,
    }
}

fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        _ => enum_matches(a, b),
    }
}

fn check_object(n: &Node, m: &Map<String, Value>, path: &str, out: &mut Vec<VErr>) -> usize {
    let size = i64::try_from(m.len()).unwrap_or(i64::MAX);
    if let Some(min) = n.min_properties
        && size < min
    {
        out.push(VErr::other(
            path,
            Some(Value::from(size)),
            format!("{path} in body should have at least {min} properties"),
        ));
        return 0;
    }
    if let Some(max) = n.max_properties
        && size > max
    {
        out.push(VErr {
            name: path.to_string(),
            code: Code::TooManyProperties(max),
            value: Some(Value::from(size)),
            msg: format!("{path} in body should have at most {max} properties"),
        });
        return 0;
    }
    let mut count = 0;
    match &n.additional {
        Some(Additional::Bool(false)) => {
            for k in m.keys() {
                if n.prop(k).is_none() {
                    out.push(VErr::other(
                        path,
                        Some(Value::String(k.clone())),
                        format!("{path}.{k} in body is a forbidden property"),
                    ));
                }
            }
        }
        Some(Additional::Schema(ap)) => {
            for (k, v) in m {
                if n.prop(k).is_none() {
                    count += validate_value(ap, v, &format!("{path}.{k}"), out);
                }
            }
        }
        _ => {}
    }
    for (name, schema) in &n.properties {
        if let Some(v) = m.get(name) {
            count += validate_value(schema, v, &child(path, name), out);
        }
    }
    for k in &n.required {
        if !m.contains_key(k) {
            out.push(VErr {
                name: format!("{path}.{k}"),
                code: Code::Required,
                value: None,
                msg: format!("{path}.{k} in body is required"),
            });
        }
    }
    count
}

fn validate_junctors(n: &Node, data: &Value, path: &str, out: &mut Vec<VErr>) -> usize {
    let mut count = 0;
    if !n.any_of.is_empty() {
        let mut best: Option<(usize, Vec<VErr>)> = None;
        let mut success = None;
        for s in &n.any_of {
            let mut tmp = Vec::new();
            let c = validate_value(s, data, path, &mut tmp);
            if tmp.is_empty() {
                success = Some(c);
                best = None;
                break;
            }
            if best.as_ref().is_none_or(|(bc, _)| c > *bc) {
                best = Some((c, tmp));
            }
        }
        if success.is_none() {
            out.push(VErr::composite(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
        }
        if let Some((c, errs)) = best {
            out.extend(errs);
            count += c;
        } else if let Some(c) = success {
            count += c;
        }
    }
    if !n.one_of.is_empty() {
        let mut best: Option<(usize, Vec<VErr>)> = None;
        let mut first_success = None;
        let mut validated = 0usize;
        for s in &n.one_of {
            let mut tmp = Vec::new();
            let c = validate_value(s, data, path, &mut tmp);
            if tmp.is_empty() {
                validated += 1;
                best = None;
                first_success.get_or_insert(c);
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|(bc, _)| c > *bc) {
                best = Some((c, tmp));
            }
        }
        if validated != 1 {
            let additional = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            out.push(VErr::composite(format!(
                "{} must validate one and only one schema (oneOf). {additional}",
                go_quote(path)
            )));
            if let Some((c, errs)) = best {
                out.extend(errs);
                count += c;
            }
        } else if let Some(c) = first_success {
            count += c;
        }
    }
    if !n.all_of.is_empty() {
        let mut validated = 0usize;
        for s in &n.all_of {
            let mut tmp = Vec::new();
            count += validate_value(s, data, path, &mut tmp);
            if tmp.is_empty() {
                validated += 1;
            }
            out.extend(tmp);
        }
        if validated != n.all_of.len() {
            let additional = if validated == 0 { ". None validated" } else { "" };
            out.push(VErr::composite(format!(
                "{} must validate all the schemas (allOf){additional}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = &n.not {
        let mut tmp = Vec::new();
        validate_value(not, data, path, &mut tmp);
        if tmp.is_empty() {
            out.push(VErr::composite(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
    count
}

/// A key that tells values apart exactly like Go's `reflect.DeepEqual` on decoded JSON (an
/// integer and a float are different).
fn strict_key(v: &Value) -> String {
    let mut s = String::new();
    write_strict_key(v, &mut s);
    s
}

fn write_strict_key(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('n'),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Number(n) => match num(n) {
            Num::Int(i) => {
                let _ = write!(out, "i{i};");
            }
            Num::Float(f) => {
                let _ = write!(out, "d{};", f.to_bits());
            }
        },
        Value::String(s) => {
            let _ = write!(out, "s{}:{s}", s.len());
        }
        Value::Array(a) => {
            out.push('[');
            for e in a {
                write_strict_key(e, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                let _ = write!(out, "{}:{k}", k.len());
                if let Some(e) = m.get(k) {
                    write_strict_key(e, out);
                }
            }
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Embedded resources (objectmeta.Validate) and list types (listtype.ValidateListSetsAndMaps)
// ---------------------------------------------------------------------------------------------

fn validate_embedded(n: &Node, x: &Value, pth: &str, out: &mut Vec<FieldError>) {
    match x {
        Value::Object(m) => {
            if n.embedded {
                validate_embedded_resource(pth, m, out);
            }
            for (k, v) in m {
                if let Some(p) = n.prop(k) {
                    validate_embedded(p, v, &child(pth, k), out);
                } else if let Some(ap) = n.additional.as_ref().and_then(Additional::schema) {
                    validate_embedded(ap, v, &key(pth, k), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = &n.items {
                for (i, v) in a.iter().enumerate() {
                    validate_embedded(items, v, &index(pth, i), out);
                }
            }
        }
        _ => {}
    }
}

fn validate_embedded_resource(pth: &str, m: &Map<String, Value>, out: &mut Vec<FieldError>) {
    if !m.contains_key("apiVersion") {
        out.push(FieldError::required(&child(pth, "apiVersion"), ""));
    }
    if !m.contains_key("kind") {
        out.push(FieldError::required(&child(pth, "kind"), ""));
    }
    for (k, v) in m {
        let fp = child(pth, k);
        match k.as_str() {
            "apiVersion" => match v {
                Value::String(s) if s.is_empty() => out.push(FieldError::required(&fp, "")),
                Value::String(s) => {
                    if s != "/" && s.matches('/').count() > 1 {
                        out.push(FieldError::invalid(
                            &fp,
                            v,
                            &format!("unexpected GroupVersion string: {s}"),
                        ));
                    }
                }
                _ => out.push(FieldError::invalid(&fp, v, "must be a string")),
            },
            "kind" => match v {
                Value::String(s) if s.is_empty() => out.push(FieldError::required(&fp, "")),
                Value::String(s) => {
                    let errs = dns1035_label_errors(&s.to_lowercase());
                    if !errs.is_empty() {
                        out.push(FieldError::invalid(
                            &fp,
                            v,
                            &format!("may have mixed case, but should otherwise match: {}", errs.join(",")),
                        ));
                    }
                }
                _ => out.push(FieldError::invalid(&fp, v, "must be a string")),
            },
            "metadata" => match object_meta_decode_error(v) {
                Some(e) => out.push(FieldError::invalid(&fp, v, &e)),
                None => validate_object_meta(v, &fp, out),
            },
            _ => {}
        }
    }
}

const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
const OWNER_REFERENCE_FIELDS: [&str; 6] = ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"];
const MANAGED_FIELDS_FIELDS: [&str; 7] = [
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
];

fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "bool".to_string(),
        Value::Number(n) => format!("number {}", go_json(&Value::Number(n.clone()))),
        Value::String(_) => "string".to_string(),
        Value::Array(_) => "array".to_string(),
        Value::Object(_) => "object".to_string(),
    }
}

/// The error Go's JSON decoder reports when `metadata` does not decode into an `ObjectMeta`.
fn object_meta_decode_error(meta: &Value) -> Option<String> {
    let Value::Object(m) = meta else {
        if meta.is_null() {
            return None;
        }
        return Some(format!(
            "json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
            json_kind(meta)
        ));
    };
    let bad = |field: &str, v: &Value, go_type: &str| {
        Some(format!(
            "json: cannot unmarshal {} into Go struct field ObjectMeta.{field} of type {go_type}",
            json_kind(v)
        ))
    };
    for (k, v) in m {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" if !v.is_string() => {
                return bad(k, v, "string");
            }
            "creationTimestamp" | "deletionTimestamp" if !v.is_string() => return bad(k, v, "v1.Time"),
            "generation" | "deletionGracePeriodSeconds" if v.as_i64().is_none() => return bad(k, v, "int64"),
            "labels" | "annotations" => match v {
                Value::Object(entries) => {
                    if let Some((_, e)) = entries.iter().find(|(_, e)| !e.is_string() && !e.is_null()) {
                        return bad(k, e, "string");
                    }
                }
                _ => return bad(k, v, "map[string]string"),
            },
            "finalizers" => match v {
                Value::Array(entries) => {
                    if let Some(e) = entries.iter().find(|e| !e.is_string() && !e.is_null()) {
                        return bad(k, e, "string");
                    }
                }
                _ => return bad(k, v, "[]string"),
            },
            "ownerReferences" if !v.is_array() => return bad(k, v, "[]v1.OwnerReference"),
            "managedFields" if !v.is_array() => return bad(k, v, "[]v1.ManagedFieldsEntry"),
            _ => {}
        }
    }
    None
}

fn validate_object_meta(meta: &Value, pth: &str, out: &mut Vec<FieldError>) {
    let Value::Object(m) = meta else { return };
    let get_str = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    let generate_name = get_str("generateName");
    if !generate_name.is_empty() {
        for msg in path_segment_errors(generate_name, true) {
            out.push(FieldError::invalid(
                &child(pth, "generateName"),
                &Value::from(generate_name),
                &msg,
            ));
        }
    }
    let name = match get_str("name") {
        "" => "fakename",
        n => n,
    };
    for msg in path_segment_errors(name, false) {
        out.push(FieldError::invalid(&child(pth, "name"), &Value::from(name), &msg));
    }
    let namespace = get_str("namespace");
    if !namespace.is_empty() {
        for msg in dns1123_label_errors(namespace) {
            out.push(FieldError::invalid(
                &child(pth, "namespace"),
                &Value::from(namespace),
                &msg,
            ));
        }
    }
    if let Some(g) = m.get("generation").and_then(Value::as_i64)
        && g < 0
    {
        out.push(FieldError::invalid(
            &child(pth, "generation"),
            &Value::from(g),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(Value::Object(labels)) = m.get("labels") {
        let lp = child(pth, "labels");
        for (k, v) in labels {
            for msg in qualified_name_errors(k) {
                out.push(FieldError::invalid(&lp, &Value::from(k.as_str()), &msg));
            }
            let value = v.as_str().unwrap_or("");
            for msg in label_value_errors(value) {
                out.push(FieldError::invalid(&lp, &Value::from(value), &msg));
            }
        }
    }
    if let Some(Value::Object(annotations)) = m.get("annotations") {
        let ap = child(pth, "annotations");
        let mut total = 0usize;
        for (k, v) in annotations {
            for msg in qualified_name_errors(&k.to_lowercase()) {
                out.push(FieldError::invalid(&ap, &Value::from(k.as_str()), &msg));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            out.push(FieldError::too_long(&ap, 256 * 1024));
        }
    }
}

fn validate_list_types(n: &Node, obj: &Map<String, Value>, pth: &str, out: &mut Vec<FieldError>) {
    if let Some(ap) = n.additional.as_ref().and_then(Additional::schema) {
        for (k, v) in obj {
            list_type_value(ap, v, &key(pth, k), out);
        }
    }
    if !n.properties.is_empty() {
        for (k, v) in obj {
            if let Some(p) = n.prop(k) {
                list_type_value(p, v, &child(pth, k), out);
            }
        }
    }
}

fn list_type_value(n: &Node, v: &Value, pth: &str, out: &mut Vec<FieldError>) {
    match v {
        Value::Array(a) => {
            match n.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique_indices(a.iter().map(set_key)) {
                        if let Some(item) = a.get(i) {
                            out.push(FieldError::duplicate(&index(pth, i), item));
                        }
                    }
                }
                Some("map") => validate_list_map(n, a, pth, out),
                _ => {}
            }
            if let Some(items) = &n.items {
                for (i, x) in a.iter().enumerate() {
                    list_type_value(items, x, &index(pth, i), out);
                }
            }
        }
        Value::Object(m) => validate_list_types(n, m, pth, out),
        _ => {}
    }
}

/// Identity of a list element as Go's `validateListSet` sees it: scalars by type and value,
/// compound values by their JSON encoding.
fn set_key(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) => format!("j{}", go_json(v)),
        _ => strict_key(v),
    }
}

/// Indices of the second occurrence of every repeated key.
fn non_unique_indices(keys: impl Iterator<Item = String>) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        let times = seen.entry(k).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn validate_list_map(n: &Node, a: &[Value], pth: &str, out: &mut Vec<FieldError>) {
    if let Some((i, x)) = a.iter().enumerate().find(|(_, x)| !x.is_null() && !x.is_object()) {
        out.push(FieldError::invalid(
            &index(pth, i),
            x,
            "must be an object for an array of list-type map",
        ));
        return;
    }
    if a.len() <= 1 {
        return;
    }
    let keys: Vec<Map<String, Value>> = a
        .iter()
        .map(|x| {
            let mut k = Map::new();
            if let Value::Object(m) = x {
                for field in &n.list_map_keys {
                    if let Some(v) = m.get(field) {
                        k.insert(field.clone(), v.clone());
                    }
                }
            }
            k
        })
        .collect();
    let identities = keys.iter().map(|k| {
        if n.list_map_keys.len() == 1 {
            // a single key compares like a scalar (a missing key is its own value)
            k.values().next().map_or_else(|| "unspecified".to_string(), set_key)
        } else {
            format!("j{}", go_json(&Value::Object(k.clone())))
        }
    });
    for i in non_unique_indices(identities) {
        if let Some(k) = keys.get(i) {
            out.push(FieldError::duplicate(&index(pth, i), &Value::Object(k.clone())));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pruning and defaulting
// ---------------------------------------------------------------------------------------------

fn prune_node(x: &mut Value, s: Option<&Node>, root: bool, path: &str, out: &mut Vec<String>) {
    let embedded = root || s.is_some_and(|n| n.embedded);
    if let Some(n) = s
        && n.preserve()
    {
        skip_prune(x, n, embedded, path, out);
        return;
    }
    match x {
        Value::Object(m) => {
            let Some(n) = s else {
                out.extend(m.keys().map(|k| child(path, k)));
                m.clear();
                return;
            };
            let mut unknown = Vec::new();
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = n.prop(k) {
                    prune_node(v, Some(p), false, &child(path, k), out);
                } else if let Some(ad) = &n.additional {
                    prune_node(v, ad.schema(), false, &child(path, k), out);
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                        out.push(child(path, k));
                    }
                    unknown.push(k.clone());
                }
            }
            for k in unknown {
                m.shift_remove(&k);
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|n| n.items.as_deref());
            for (i, v) in a.iter_mut().enumerate() {
                prune_node(v, items, false, &index(path, i), out);
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, n: &Node, embedded: bool, path: &str, out: &mut Vec<String>) {
    match x {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = n.prop(k) {
                    prune_node(v, Some(p), false, &child(path, k), out);
                } else if let Some(ad) = &n.additional {
                    prune_node(v, ad.schema(), false, &child(path, k), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = &n.items {
                for (i, v) in a.iter_mut().enumerate() {
                    skip_prune(v, items, items.embedded, &index(path, i), out);
                }
            }
        }
        _ => {}
    }
}

/// Drops fields `ObjectMeta` does not have (as kube's decode into `ObjectMeta` does), recording
/// `<prefix>.<field>`.
fn prune_object_meta(meta: &mut Value, prefix: &str, out: &mut Vec<String>) {
    let Value::Object(m) = meta else { return };
    m.retain(|k, _| {
        let known = OBJECT_META_FIELDS.contains(&k.as_str());
        if !known {
            out.push(format!("{prefix}.{k}"));
        }
        known
    });
    for (list, fields) in [
        ("ownerReferences", &OWNER_REFERENCE_FIELDS[..]),
        ("managedFields", &MANAGED_FIELDS_FIELDS[..]),
    ] {
        if let Some(Value::Array(entries)) = m.get_mut(list) {
            for (i, e) in entries.iter_mut().enumerate() {
                if let Value::Object(em) = e {
                    em.retain(|k, _| {
                        let known = fields.contains(&k.as_str());
                        if !known {
                            out.push(format!("{prefix}.{list}[{i}].{k}"));
                        }
                        known
                    });
                }
            }
        }
    }
}

/// `objectmeta.Coerce` for embedded resources below the root.
fn coerce_embedded(x: &mut Value, n: &Node, pth: &str, out: &mut Vec<String>) {
    match x {
        Value::Object(m) => {
            if n.embedded
                && let Some(meta) = m.get_mut("metadata")
            {
                prune_object_meta(meta, &child(pth, "metadata"), out);
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = n.prop(k) {
                    coerce_embedded(v, p, &child(pth, k), out);
                } else if let Some(ap) = n.additional.as_ref().and_then(Additional::schema) {
                    coerce_embedded(v, ap, &key(pth, k), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = &n.items {
                for (i, v) in a.iter_mut().enumerate() {
                    coerce_embedded(v, items, &index(pth, i), out);
                }
            }
        }
        _ => {}
    }
}

fn field_schema<'a>(k: &str, s: Option<&'a Node>) -> Option<&'a Node> {
    let n = s?;
    match n.prop(k) {
        Some(p) => Some(p),
        None => n.additional.as_ref().and_then(Additional::schema),
    }
}

/// `PruneNonNullableNullsWithoutDefaults`.
fn prune_nulls(x: &mut Value, s: Option<&Node>) {
    match x {
        Value::Object(m) => {
            m.retain(|k, v| !(v.is_null() && field_schema(k, s).is_some_and(|n| !n.nullable && n.default.is_none())));
            for (k, v) in m.iter_mut() {
                prune_nulls(v, field_schema(k, s));
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|n| n.items.as_deref());
            for v in a {
                prune_nulls(v, items);
            }
        }
        _ => {}
    }
}

fn default_value(x: &mut Value, s: &Node) {
    match x {
        Value::Object(m) => {
            for (k, p) in &s.properties {
                if let Some(d) = &p.default {
                    let missing = match m.get(k) {
                        None => true,
                        Some(v) => v.is_null() && !p.nullable,
                    };
                    if missing {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = s.prop(k) {
                    default_value(v, p);
                } else if let Some(ap) = s.additional.as_ref().and_then(Additional::schema) {
                    if v.is_null() && !ap.nullable {
                        *v = ap.default.clone().unwrap_or(Value::Null);
                    }
                    default_value(v, ap);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = &s.items {
                for v in a {
                    if v.is_null() && !items.nullable {
                        *v = items.default.clone().unwrap_or(Value::Null);
                    }
                    default_value(v, items);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// CRD schema checks (structural schema + OpenAPI schema API validation)
// ---------------------------------------------------------------------------------------------

/// Checks a CRD version's `openAPIV3Schema` the way the CRD API does on create/update, returning
/// the errors kube puts in its 422 `CustomResourceDefinition.apiextensions.k8s.io "…" is invalid`.
///
/// `field_prefix` is the path of the schema itself, e.g.
/// `spec.versions[0].schema.openAPIV3Schema`; errors look like
/// `spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields`.
///
/// Checked, in kube's order: `nullable` at the root; structural invariants (every specified node
/// has a `type` unless `x-kubernetes-int-or-string`/`x-kubernetes-preserve-unknown-fields`
/// allow it, `items` for arrays, object at the root, no `additionalProperties` at the root,
/// embedded-resource rules, root `metadata` restricted to `name`/`generateName`, no `type`,
/// `default`, `description`, `nullable`, extensions or `metadata` inside `allOf`/`anyOf`/`oneOf`/
/// `not` except the int-or-string patterns, value validations only on specified fields, valid
/// `pattern`s) — sorted like kube sorts them; when those pass, `default`s must validate against
/// their schema and be pruned; then the schema API rules (valid `type`, `additionalProperties`
/// together with `properties`, `uniqueItems`, unsupported keywords such as `$ref`, `id`,
/// `patternProperties`, `definitions`, `dependencies`, `additionalItems`, `type: null`, item
/// tuples, defaults in the root `metadata`/`apiVersion`/`kind`, list/map type rules and
/// list-map keys, `x-kubernetes-validations` rules' static checks).
///
/// A keyword of the wrong JSON type (e.g. `"type": 5`) fails kube's decoding of the whole CRD
/// (400); here those are returned alone, as `FieldValueTypeInvalid` errors at the keyword's path.
pub fn check_structural(schema: &Value, field_prefix: &str) -> Vec<FieldError> {
    let mut decode = Vec::new();
    let root = parse_node(schema, field_prefix, &mut decode, 0);
    if !decode.is_empty() {
        return decode;
    }
    let mut errs = Vec::new();
    if root.nullable {
        errs.push(FieldError::forbidden(
            &child(field_prefix, "nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let init_error = first_unsupported(&root);
    if init_error.is_none() {
        let mut structural = Vec::new();
        structural_invariants(&root, Level::Root, field_prefix, &mut structural);
        structural_completeness(&root, field_prefix, &mut structural);
        structural.sort_by_cached_key(ToString::to_string);
        if structural.is_empty() {
            validate_defaults(&root, field_prefix, false, true, &mut errs);
        } else {
            errs.extend(structural);
        }
    }
    let ssv = Ssv {
        allow_defaults: true,
        disallow_reason: String::new(),
        inside_meta: false,
    };
    openapi_checks(&root, field_prefix, &ssv, true, &mut errs);
    if errs.is_empty()
        && let Some(msg) = init_error
    {
        errs.push(FieldError::invalid(field_prefix, &empty_str(), &msg));
    }
    errs
}

/// The error `structuralschema.NewStructural` fails with, if any.
fn first_unsupported(n: &Node) -> Option<String> {
    let unsupported = |what: &str| Some(format!("OpenAPIV3Schema '{what}' is not supported"));
    if n.id {
        return unsupported("id");
    }
    if n.schema_keyword {
        return unsupported("schema");
    }
    if n.reference.as_ref().is_some_and(|r| !r.is_empty()) {
        return unsupported("$ref");
    }
    if n.pattern_properties.as_ref().is_some_and(|p| !p.is_empty()) {
        return unsupported("patternProperties");
    }
    if n.dependencies.as_ref().is_some_and(|d| !d.is_empty()) {
        return unsupported("dependencies");
    }
    if n.additional_items {
        return unsupported("additionalItems");
    }
    if n.definitions.as_ref().is_some_and(|d| !d.is_empty()) {
        return unsupported("definitions");
    }
    let nested = n
        .not
        .iter()
        .map(|b| &**b)
        .chain(&n.all_of)
        .chain(&n.any_of)
        .chain(&n.one_of);
    for s in nested {
        if let Some(e) = first_unsupported(s) {
            return Some(e);
        }
    }
    if let Some(ap) = n.additional.as_ref().and_then(Additional::schema)
        && let Some(e) = first_unsupported(ap)
    {
        return Some(e);
    }
    if n.preserve_unknown == Some(false) {
        return Some("internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined".to_string());
    }
    if !n.items_array.is_empty() {
        return Some("OpenAPIV3Schema 'items' must be a schema, but is an array".to_string());
    }
    if let Some(items) = &n.items
        && let Some(e) = first_unsupported(items)
    {
        return Some(e);
    }
    n.properties.iter().find_map(|(_, p)| first_unsupported(p))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn structural_invariants(s: &Node, lvl: Level, path: &str, out: &mut Vec<FieldError>) {
    if s.ty == "array" && s.items.is_none() {
        out.push(FieldError::required(&child(path, "items"), "must be specified"));
    }
    if let Some(items) = &s.items {
        structural_invariants(items, Level::Item, &child(path, "items"), out);
    }
    for (k, p) in &s.properties {
        structural_invariants(p, Level::Field, &key(&child(path, "properties"), k), out);
    }
    if let Some(ad) = &s.additional {
        if lvl == Level::Root {
            out.push(FieldError::forbidden(
                &child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Additional::Schema(ap) = ad {
            structural_invariants(ap, Level::Field, &child(path, "additionalProperties"), out);
        }
    }
    if s.int_or_string && s.preserve() {
        out.push(FieldError::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if s.int_or_string && s.embedded {
        out.push(FieldError::invalid(
            &child(path, "x-kubernetes-embedded-resource"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let skip_any_of = is_int_or_string_any_of(&s.any_of);
    let skip_first_all_of_any_of = s.all_of.first().is_some_and(|a| is_int_or_string_any_of(&a.any_of));
    value_validation_checks(s, skip_any_of, skip_first_all_of_any_of, lvl, path, out);

    let check_metadata = lvl == Level::Root || s.embedded;
    if s.embedded && s.ty != "object" {
        let msg = "must be object if x-kubernetes-embedded-resource is true";
        if s.ty.is_empty() {
            out.push(FieldError::required(&child(path, "type"), msg));
        } else {
            out.push(FieldError::invalid(
                &child(path, "type"),
                &Value::from(s.ty.as_str()),
                msg,
            ));
        }
    } else if s.ty.is_empty() && !s.int_or_string && !s.preserve() {
        let msg = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(FieldError::required(&child(path, "type"), msg));
    }
    if s.embedded && s.additional.is_some() {
        out.push(FieldError::forbidden(
            &child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !s.ty.is_empty() && s.ty != "object" {
        out.push(FieldError::invalid(
            &child(path, "type"),
            &Value::from(s.ty.as_str()),
            "must be object at the root",
        ));
    }
    let props = child(path, "properties");
    for meta_string in ["kind", "apiVersion"] {
        if let Some(p) = s.prop(meta_string)
            && check_metadata
            && p.ty != "string"
        {
            out.push(FieldError::invalid(
                &child(&key(&props, meta_string), "type"),
                &Value::from(p.ty.as_str()),
                "must be string",
            ));
        }
    }
    if let Some(meta) = s.prop("metadata") {
        let mp = key(&props, "metadata");
        if check_metadata && meta.ty != "object" {
            out.push(FieldError::invalid(
                &child(&mp, "type"),
                &Value::from(meta.ty.as_str()),
                "must be object",
            ));
        }
        if lvl == Level::Root {
            let props_ok = meta.properties.iter().all(|(k, _)| k == "name" || k == "generateName");
            if !props_ok || !meta.only_type_default_properties() {
                out.push(FieldError::forbidden(
                    &mp,
                    "must not specify anything other than name and generateName, but metadata is implicitly specified",
                ));
            }
        }
    }
    if s.embedded && !s.preserve() && s.properties.is_empty() {
        out.push(FieldError::required(
            &props,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// `validateValueValidation`: the junctors and pattern of a node.
fn value_validation_checks(
    v: &Node,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, a) in v.any_of.iter().enumerate() {
            nested_checks(a, false, false, lvl, &index(&child(path, "anyOf"), i), out);
        }
    }
    for (i, a) in v.all_of.iter().enumerate() {
        nested_checks(
            a,
            skip_first_all_of_any_of && i == 0,
            false,
            lvl,
            &index(&child(path, "allOf"), i),
            out,
        );
    }
    for (i, a) in v.one_of.iter().enumerate() {
        nested_checks(a, false, false, lvl, &index(&child(path, "oneOf"), i), out);
    }
    if let Some(not) = &v.not {
        nested_checks(not, false, false, lvl, &child(path, "not"), out);
    }
    if let (Some(p), Some(Err(e))) = (&v.pattern, &v.regex) {
        out.push(FieldError::invalid(
            &child(path, "pattern"),
            &Value::from(p.as_str()),
            &format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
}

/// `validateNestedValueValidation`: what may not appear inside `allOf`/`anyOf`/`oneOf`/`not`.
fn nested_checks(
    v: &Node,
    skip_any_of: bool,
    skip_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    value_validation_checks(v, skip_any_of, skip_all_of_any_of, lvl, path, out);
    if let Some(items) = &v.items {
        nested_checks(items, false, false, lvl, &child(path, "items"), out);
    }
    for (k, p) in &v.properties {
        nested_checks(p, false, false, Level::Field, &key(&child(path, "properties"), k), out);
    }
    let forbid = |out: &mut Vec<FieldError>, name: &str, detail: &str| {
        out.push(FieldError::forbidden(&child(path, name), detail));
    };
    if !v.ty.is_empty() {
        forbid(out, "type", "must be empty to be structural");
    }
    if v.additional.is_some() {
        forbid(out, "additionalProperties", "must be undefined to be structural");
    }
    if v.default.is_some() {
        forbid(out, "default", "must be undefined to be structural");
    }
    if !v.title.is_empty() {
        forbid(out, "title", "must be empty to be structural");
    }
    if !v.description.is_empty() {
        forbid(out, "description", "must be empty to be structural");
    }
    if v.nullable {
        forbid(out, "nullable", "must be false to be structural");
    }
    if v.preserve() {
        forbid(
            out,
            "x-kubernetes-preserve-unknown-fields",
            "must be false to be structural",
        );
    }
    if v.embedded {
        forbid(out, "x-kubernetes-embedded-resource", "must be false to be structural");
    }
    if v.int_or_string {
        forbid(out, "x-kubernetes-int-or-string", "must be false to be structural");
    }
    if !v.list_map_keys.is_empty() {
        forbid(out, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    if v.list_type.is_some() {
        forbid(out, "x-kubernetes-list-type", "must be undefined to be structural");
    }
    if v.map_type.is_some() {
        forbid(out, "x-kubernetes-map-type", "must be undefined to be structural");
    }
    if !v.validations.is_empty() {
        forbid(out, "x-kubernetes-validations", "must be empty to be structural");
    }
    if v.prop("metadata").is_some() {
        out.push(FieldError::forbidden(
            &key(&child(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// `validateStructuralCompleteness`: fields and items named in the root's value validations must
/// also be specified structurally.
fn structural_completeness(root: &Node, path: &str, out: &mut Vec<FieldError>) {
    junctor_completeness(root, root, path, path, out);
}

fn junctor_completeness(v: &Node, s: &Node, s_path: &str, v_path: &str, out: &mut Vec<FieldError>) {
    if let Some(not) = &v.not {
        nested_completeness(not, Some(s), s_path, &child(v_path, "not"), out);
    }
    for (name, list) in [("allOf", &v.all_of), ("anyOf", &v.any_of), ("oneOf", &v.one_of)] {
        for (i, x) in list.iter().enumerate() {
            nested_completeness(x, Some(s), s_path, &index(&child(v_path, name), i), out);
        }
    }
}

fn nested_completeness(v: &Node, s: Option<&Node>, s_path: &str, v_path: &str, out: &mut Vec<FieldError>) {
    let Some(s) = s else {
        out.push(FieldError::required(
            s_path,
            &format!("because it is defined in {v_path}"),
        ));
        return;
    };
    junctor_completeness(v, s, s_path, v_path, out);
    if let Some(vi) = &v.items {
        nested_completeness(
            vi,
            s.items.as_deref(),
            &child(s_path, "items"),
            &child(v_path, "items"),
            out,
        );
    }
    for (k, vf) in &v.properties {
        let sp = key(&child(s_path, "properties"), k);
        let vp = key(&child(v_path, "properties"), k);
        match s.prop(k) {
            Some(sf) => nested_completeness(vf, Some(sf), &sp, &vp, out),
            None => out.push(FieldError::required(&sp, &format!("because it is defined in {vp}"))),
        }
    }
}

/// `structuraldefaulting.ValidateDefaults`: defaults must be pruned and valid.
fn validate_defaults(n: &Node, path: &str, inside_meta: bool, resource_root: bool, out: &mut Vec<FieldError>) {
    let embedded = n.embedded || resource_root;
    let inside_meta = inside_meta && !embedded;
    if let Some(d) = &n.default {
        let dp = child(path, "default");
        if !inside_meta {
            let mut pruned = d.clone();
            let mut ignored = Vec::new();
            prune_node(&mut pruned, Some(n), embedded, "", &mut ignored);
            if pruned != *d {
                out.push(FieldError::invalid(&dp, d, "must not have unknown fields"));
            }
        }
        let mut meta_errs = Vec::new();
        if embedded
            && !inside_meta
            && let Value::Object(m) = d
        {
            validate_embedded_resource(&dp, m, &mut meta_errs);
        }
        if meta_errs.is_empty() {
            let mut verrs = Vec::new();
            validate_value(n, d, "", &mut verrs);
            out.extend(to_field_errors(verrs, Some(&dp)));
        } else {
            out.extend(meta_errs);
        }
    }
    if let Some(items) = &n.items {
        validate_defaults(items, &child(path, "items"), inside_meta, false, out);
    }
    for (k, p) in &n.properties {
        let sub = inside_meta || (embedded && META_FIELDS.contains(&k.as_str()));
        validate_defaults(p, &key(&child(path, "properties"), k), sub, false, out);
    }
}

#[derive(Clone)]
struct Ssv {
    allow_defaults: bool,
    disallow_reason: String,
    inside_meta: bool,
}

impl Ssv {
    fn with_forbidden_defaults(&self, reason: String) -> Self {
        Self {
            allow_defaults: false,
            disallow_reason: reason,
            inside_meta: self.inside_meta,
        }
    }
}

/// `specStandardValidatorV3.validate`.
fn ssv_validate(n: &Node, path: &str, ssv: &Ssv, out: &mut Vec<FieldError>) {
    if !n.ty.is_empty() && !VALID_TYPES.contains(&n.ty.as_str()) {
        let supported: Vec<String> = VALID_TYPES.iter().map(|s| (*s).to_string()).collect();
        out.push(FieldError::not_supported(
            &child(path, "type"),
            &Value::from(n.ty.as_str()),
            &supported,
        ));
    }
    if n.default.is_some() && !ssv.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ssv.disallow_reason.is_empty() {
            detail.push(' ');
            detail.push_str(&ssv.disallow_reason);
        }
        out.push(FieldError::forbidden(&child(path, "default"), &detail));
    }
    let forbid = |out: &mut Vec<FieldError>, name: &str, detail: &str| {
        out.push(FieldError::forbidden(&child(path, name), detail));
    };
    if n.id {
        forbid(out, "id", "id is not supported");
    }
    if n.additional_items {
        forbid(out, "additionalItems", "additionalItems is not supported");
    }
    if n.pattern_properties.as_ref().is_some_and(|p| !p.is_empty()) {
        forbid(out, "patternProperties", "patternProperties is not supported");
    }
    if n.definitions.as_ref().is_some_and(|p| !p.is_empty()) {
        forbid(out, "definitions", "definitions is not supported");
    }
    if n.dependencies.is_some() {
        forbid(out, "dependencies", "dependencies is not supported");
    }
    if n.reference.is_some() {
        forbid(out, "$ref", "$ref is not supported");
    }
    if n.ty == "null" {
        forbid(
            out,
            "type",
            "type cannot be set to null, use nullable as an alternative",
        );
    }
    if !n.items_array.is_empty() {
        forbid(out, "items", "items must be a schema object and not an array");
    }
    if ssv.inside_meta && n.embedded {
        forbid(
            out,
            "x-kubernetes-embedded-resource",
            "must not be used inside of resource meta",
        );
    }
}

/// `ValidateCustomResourceDefinitionOpenAPISchema` (without compiling CEL rules).
fn openapi_checks(n: &Node, path: &str, ssv: &Ssv, is_root: bool, out: &mut Vec<FieldError>) {
    ssv_validate(n, path, ssv, out);
    if n.unique_items {
        out.push(FieldError::forbidden(
            &child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if let Some(ad) = &n.additional {
        if !n.properties.is_empty() && matches!(ad, Additional::Bool(false) | Additional::Schema(_)) {
            out.push(FieldError::forbidden(
                &child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Additional::Schema(ap) = ad {
            let sub = if ssv.inside_meta {
                ssv.with_forbidden_defaults("inside additionalProperties applying to object metadata".to_string())
            } else {
                ssv.clone()
            };
            openapi_checks(ap, &child(path, "additionalProperties"), &sub, false, out);
        }
    }
    for (k, p) in &n.properties {
        let mut sub = ssv.clone();
        if (is_root || n.embedded) && META_FIELDS.contains(&k.as_str()) {
            sub.inside_meta = true;
            if is_root {
                sub = sub.with_forbidden_defaults(format!("in top-level {k}"));
            }
        }
        openapi_checks(p, &key(&child(path, "properties"), k), &sub, false, out);
    }
    if let Some(not) = &n.not {
        openapi_checks(not, &child(path, "not"), ssv, false, out);
    }
    for (name, list) in [("allOf", &n.all_of), ("oneOf", &n.one_of), ("anyOf", &n.any_of)] {
        for (i, x) in list.iter().enumerate() {
            openapi_checks(x, &index(&child(path, name), i), ssv, false, out);
        }
    }
    for (k, d) in n.definitions.iter().flatten() {
        openapi_checks(d, &key(&child(path, "definitions"), k), ssv, false, out);
    }
    if let Some(items) = &n.items {
        openapi_checks(items, &child(path, "items"), ssv, false, out);
    }
    for (i, x) in n.items_array.iter().enumerate() {
        openapi_checks(x, &index(&child(path, "items"), i), ssv, false, out);
    }
    for (k, d) in n.dependencies.iter().flatten() {
        if let Some(d) = d {
            openapi_checks(d, &key(&child(path, "dependencies"), k), ssv, false, out);
        }
    }
    if n.preserve_unknown == Some(false) {
        out.push(FieldError::invalid(
            &child(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined",
        ));
    }
    list_and_map_type_checks(n, path, out);
    rule_checks(n, path, out);
}

fn list_and_map_type_checks(n: &Node, path: &str, out: &mut Vec<FieldError>) {
    let tp = child(path, "type");
    if let Some(mt) = &n.map_type {
        let msg = "must be object if x-kubernetes-map-type is specified";
        if n.ty.is_empty() {
            out.push(FieldError::required(&tp, msg));
        } else if n.ty != "object" {
            out.push(FieldError::invalid(&tp, &Value::from(n.ty.as_str()), msg));
        }
        if mt != "atomic" && mt != "granular" {
            out.push(FieldError::not_supported(
                &child(path, "x-kubernetes-map-type"),
                &Value::from(mt.as_str()),
                &["atomic".to_string(), "granular".to_string()],
            ));
        }
    }
    let lt = n.list_type.as_deref();
    let items = n.items.as_deref();
    let items_path = child(path, "items");
    if let Some(lt) = lt {
        let msg = "must be array if x-kubernetes-list-type is specified";
        if n.ty.is_empty() {
            out.push(FieldError::required(&tp, msg));
        } else if n.ty != "array" {
            out.push(FieldError::invalid(&tp, &Value::from(n.ty.as_str()), msg));
        } else if lt == "set"
            && let Some(is) = items
        {
            let msg = "must be atomic as item of a list with x-kubernetes-list-type=set";
            let list_type_value = is.list_type.as_ref().map_or(Value::Null, |s| Value::from(s.as_str()));
            if is.ty == "array" && is.list_type.as_deref().is_some_and(|t| t != "atomic") {
                out.push(FieldError::invalid(
                    &child(&items_path, "x-kubernetes-list-type"),
                    &list_type_value,
                    msg,
                ));
            } else if is.ty == "object" && is.map_type.as_deref() != Some("atomic") {
                out.push(FieldError::invalid(
                    &child(&items_path, "x-kubernetes-map-type"),
                    &list_type_value,
                    msg,
                ));
            }
        }
        if !["atomic", "set", "map"].contains(&lt) {
            out.push(FieldError::not_supported(
                &child(path, "x-kubernetes-list-type"),
                &Value::from(lt),
                &["atomic".to_string(), "set".to_string(), "map".to_string()],
            ));
        }
    }
    if !n.list_map_keys.is_empty() {
        let msg = "must be map if x-kubernetes-list-map-keys is non-empty";
        match lt {
            None => out.push(FieldError::required(&child(path, "x-kubernetes-list-type"), msg)),
            Some(t) if t != "map" => {
                out.push(FieldError::invalid(
                    &child(path, "x-kubernetes-list-type"),
                    &Value::from(t),
                    msg,
                ));
            }
            _ => {}
        }
    }
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    let keys_value = Value::Array(n.list_map_keys.iter().map(|k| Value::from(k.as_str())).collect());
    if lt == Some("map") {
        if n.list_map_keys.is_empty() {
            out.push(FieldError::required(
                &keys_path,
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        match items {
            None => out.push(FieldError::required(
                &items_path,
                "must have a schema if x-kubernetes-list-type is map",
            )),
            Some(is) if is.ty != "object" => out.push(FieldError::invalid(
                &child(&items_path, "type"),
                &Value::from(is.ty.as_str()),
                "must be object if parent array's x-kubernetes-list-type is map",
            )),
            Some(is) => {
                let mut seen = HashSet::new();
                for k in &n.list_map_keys {
                    match is.prop(k) {
                        Some(p) if p.ty == "array" || p.ty == "object" => out.push(FieldError::invalid(
                            &child(&key(&child(&items_path, "properties"), k), "type"),
                            &Value::from(is.ty.as_str()),
                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                        )),
                        Some(_) => {}
                        None => out.push(FieldError::invalid(
                            &keys_path,
                            &keys_value,
                            "entries must all be names of item properties",
                        )),
                    }
                    if !seen.insert(k.as_str()) {
                        out.push(FieldError::invalid(
                            &keys_path,
                            &keys_value,
                            "must not contain duplicate entries",
                        ));
                    }
                }
            }
        }
    }
    if let (Some(lt @ ("set" | "map")), Some(is)) = (lt, items) {
        if is.nullable {
            out.push(FieldError::forbidden(
                &child(&items_path, "nullable"),
                &format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            for k in &n.list_map_keys {
                let Some(p) = is.prop(k) else { continue };
                let pp = key(&child(&items_path, "properties"), k);
                if !is.required.contains(k) && p.default.is_none() {
                    out.push(FieldError::required(
                        &child(&pp, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if p.nullable {
                    out.push(FieldError::forbidden(
                        &child(&pp, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
}

fn rule_checks(n: &Node, path: &str, out: &mut Vec<FieldError>) {
    const REASONS: [&str; 4] = [
        "FieldValueDuplicate",
        "FieldValueForbidden",
        "FieldValueInvalid",
        "FieldValueRequired",
    ];
    let has_newline = |s: &str| s.contains(['\n', '\r']);
    for (i, r) in n.validations.iter().enumerate() {
        let rp = index(&child(path, "x-kubernetes-validations"), i);
        let rule = r.rule.trim();
        let message = r.message.as_deref().unwrap_or("");
        let trimmed_message = message.trim();
        if rule.is_empty() {
            out.push(FieldError::required(&child(&rp, "rule"), "rule is not specified"));
        } else if !message.is_empty() && trimmed_message.is_empty() {
            out.push(FieldError::invalid(
                &child(&rp, "message"),
                &Value::from(message),
                "message must be non-empty if specified",
            ));
        } else if has_newline(trimmed_message) {
            out.push(FieldError::invalid(
                &child(&rp, "message"),
                &Value::from(message),
                "message must not contain line breaks",
            ));
        } else if has_newline(rule) && trimmed_message.is_empty() {
            out.push(FieldError::required(
                &child(&rp, "message"),
                "message must be specified if rule contains line breaks",
            ));
        }
        if let Some(me) = &r.message_expression
            && !me.is_empty()
            && me.trim().is_empty()
        {
            out.push(FieldError::required(
                &child(&rp, "messageExpression"),
                "messageExpression must be non-empty if specified",
            ));
        }
        if let Some(reason) = &r.reason
            && !REASONS.contains(&reason.as_str())
        {
            let supported: Vec<String> = REASONS.iter().map(|s| (*s).to_string()).collect();
            out.push(FieldError::not_supported(
                &child(&rp, "reason"),
                &Value::from(reason.as_str()),
                &supported,
            ));
        }
        if let Some(fp) = &r.field_path {
            if !fp.is_empty() && fp.trim().is_empty() {
                out.push(FieldError::invalid(
                    &child(&rp, "fieldPath"),
                    &Value::from(fp.as_str()),
                    "fieldPath must be non-empty if specified",
                ));
            }
            if has_newline(fp) {
                out.push(FieldError::invalid(
                    &child(&rp, "fieldPath"),
                    &Value::from(fp.as_str()),
                    "fieldPath must not contain line breaks",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Go (RE2) regular expressions
// ---------------------------------------------------------------------------------------------

/// Compiles a Go regular expression (as used by `pattern`), returning Go-style error text.
fn compile_go_regex(pattern: &str) -> Result<Regex, String> {
    let translated = translate_go_regex(pattern).map_err(|e| format!("error parsing regexp: {e}: `{pattern}`"))?;
    RegexBuilder::new(&translated).octal(true).build().map_err(|e| {
        let text = e.to_string();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid regular expression");
        let detail = last.trim().strip_prefix("error: ").unwrap_or(last.trim());
        format!("error parsing regexp: {detail}: `{pattern}`")
    })
}

const GO_SPACE: &str = r"\t\n\x0C\r ";

/// Rewrites Go RE2 syntax into the `regex` crate's: Perl classes and `\b` are ASCII in Go,
/// `{` is literal unless it starts a valid repetition, `[`, `&`, `~` are literal inside classes,
/// `\Q…\E` quotes, `\<`/`\>` are literal.
fn translate_go_regex(p: &str) -> Result<String, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if in_class {
            match c {
                ']' => {
                    out.push(']');
                    in_class = false;
                    i += 1;
                }
                '[' => {
                    if chars.get(i + 1) == Some(&':')
                        && let Some(end) = find_from(&chars, i + 2, ":]")
                    {
                        out.extend(&chars[i..end + 2]);
                        i = end + 2;
                        continue;
                    }
                    out.push_str(r"\[");
                    i += 1;
                }
                '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                    i += 1;
                }
                '-' if chars.get(i + 1) == Some(&'-') => {
                    out.push_str(r"\-");
                    i += 1;
                }
                '\\' => {
                    let Some(&e) = chars.get(i + 1) else {
                        return Err("trailing backslash at end of expression".to_string());
                    };
                    match e {
                        'd' => out.push_str("0-9"),
                        'D' => out.push_str("[^0-9]"),
                        's' => out.push_str(GO_SPACE),
                        'S' => {
                            out.push_str("[^");
                            out.push_str(GO_SPACE);
                            out.push(']');
                        }
                        'w' => out.push_str("0-9A-Za-z_"),
                        'W' => out.push_str("[^0-9A-Za-z_]"),
                        _ => {
                            i = copy_escape(&chars, i, &mut out);
                            continue;
                        }
                    }
                    i += 2;
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
            continue;
        }
        match c {
            '[' => {
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                in_class = true;
            }
            '{' => match repetition_end(&chars, i)? {
                Some(end) => {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err("trailing backslash at end of expression".to_string());
                };
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    's' => {
                        out.push('[');
                        out.push_str(GO_SPACE);
                        out.push(']');
                    }
                    'S' => {
                        out.push_str("[^");
                        out.push_str(GO_SPACE);
                        out.push(']');
                    }
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    'b' => out.push_str(r"(?-u:\b)"),
                    'B' => out.push_str(r"(?-u:\B)"),
                    '<' | '>' => out.push(e),
                    'Q' => {
                        let start = i + 2;
                        let end = find_from(&chars, start, r"\E").unwrap_or(chars.len());
                        let literal: String = chars[start..end].iter().collect();
                        out.push_str(&regex::escape(&literal));
                        i = if end < chars.len() { end + 2 } else { end };
                        continue;
                    }
                    _ => {
                        i = copy_escape(&chars, i, &mut out);
                        continue;
                    }
                }
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if in_class {
        return Err("missing closing ]".to_string());
    }
    Ok(out)
}

/// Copies the escape starting at `chars[i] == '\\'` (with `\p{…}`, `\x{…}` bodies); returns the
/// index after it.
fn copy_escape(chars: &[char], i: usize, out: &mut String) -> usize {
    let Some(&e) = chars.get(i + 1) else {
        out.push_str(r"\\");
        return i + 1;
    };
    out.push('\\');
    out.push(e);
    let mut j = i + 2;
    if matches!(e, 'p' | 'P' | 'x') {
        if chars.get(j) == Some(&'{') {
            if let Some(end) = chars[j..].iter().position(|&c| c == '}') {
                out.extend(&chars[j..=j + end]);
                j += end + 1;
            }
        } else if e != 'x'
            && let Some(&c) = chars.get(j)
        {
            out.push(c);
            j += 1;
        }
    }
    j
}

fn find_from(chars: &[char], start: usize, needle: &str) -> Option<usize> {
    let n: Vec<char> = needle.chars().collect();
    if start > chars.len() || n.is_empty() {
        return None;
    }
    (start..chars.len()).find(|&i| chars[i..].starts_with(&n))
}

/// If `chars[i] == '{'` starts a valid Go repetition (`{n}`, `{n,}`, `{n,m}`), the index of its
/// `}`; Go rejects counts above 1000.
fn repetition_end(chars: &[char], i: usize) -> Result<Option<usize>, String> {
    let mut j = i + 1;
    let digits = |j: &mut usize| -> Option<u64> {
        let start = *j;
        while chars.get(*j).is_some_and(char::is_ascii_digit) {
            *j += 1;
        }
        if *j == start {
            return None;
        }
        chars[start..*j]
            .iter()
            .collect::<String>()
            .parse::<u64>()
            .ok()
            .or(Some(u64::MAX))
    };
    let Some(min) = digits(&mut j) else { return Ok(None) };
    let mut max = Some(min);
    if chars.get(j) == Some(&',') {
        j += 1;
        max = if chars.get(j) == Some(&'}') {
            None
        } else {
            digits(&mut j)
        };
        if max.is_none() && chars.get(j) != Some(&'}') {
            return Ok(None);
        }
    }
    if chars.get(j) != Some(&'}') {
        return Ok(None);
    }
    let text: String = chars[i..=j].iter().collect();
    if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
        return Err(format!("invalid repeat count: `{text}`"));
    }
    Ok(Some(j))
}

// ---------------------------------------------------------------------------------------------
// Formats (kube-openapi strfmt registry, as far as CRDs support them)
// ---------------------------------------------------------------------------------------------

const KNOWN_FORMATS: [&str; 27] = [
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "quantity",
    "k8sshortname",
    "k8slongname",
];

fn normalize_format(f: &str) -> String {
    f.replace('-', "")
}

fn is_known_format(f: &str) -> bool {
    KNOWN_FORMATS.contains(&normalize_format(f).as_str())
}

fn format_validates(format: &str, s: &str) -> bool {
    match normalize_format(format).as_str() {
        "bsonobjectid" => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "uri" => is_request_uri(s),
        "email" => is_email(s),
        "hostname" => is_hostname(s),
        "ipv4" => {
            s.parse::<std::net::Ipv4Addr>().is_ok() || (s.parse::<std::net::Ipv6Addr>().is_ok() && s.contains('.'))
        }
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "uuid" => is_uuid(s, None),
        "uuid3" => is_uuid(s, Some('3')),
        "uuid4" => is_uuid(s, Some('4')),
        "uuid5" => is_uuid(s, Some('5')),
        "isbn" => is_isbn10(s) || is_isbn13(s),
        "isbn10" => is_isbn10(s),
        "isbn13" => is_isbn13(s),
        "creditcard" => is_credit_card(s),
        "ssn" => is_ssn(s),
        "hexcolor" => is_hex_color(s),
        "rgbcolor" => is_rgb_color(s),
        "byte" => is_base64(s),
        "date" => is_date(s),
        "duration" => is_duration(s),
        "datetime" => is_date_time(s),
        "quantity" => is_quantity(s),
        "k8sshortname" => dns1123_label_errors(s).is_empty(),
        "k8slongname" => is_dns1123_subdomain(s),
        _ => true,
    }
}

fn is_uuid(s: &str, version: Option<char>) -> bool {
    let b: Vec<char> = s.chars().collect();
    let mut hex = Vec::with_capacity(32);
    let groups = [8usize, 4, 4, 4, 12];
    let mut i = 0;
    for (g, len) in groups.iter().enumerate() {
        if g > 0 && b.get(i) == Some(&'-') {
            i += 1;
        }
        for _ in 0..*len {
            match b.get(i) {
                Some(c) if c.is_ascii_hexdigit() => hex.push(c.to_ascii_lowercase()),
                _ => return false,
            }
            i += 1;
        }
    }
    if i != b.len() {
        return false;
    }
    match version {
        None => true,
        Some(v) => hex[12] == v && (v == '3' || matches!(hex[16], '8' | '9' | 'a' | 'b')),
    }
}

fn isbn_digits(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\x0C' | '\r' | '-'))
        .collect()
}

fn is_isbn10(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 10 || !d[..9].iter().all(char::is_ascii_digit) || !(d[9].is_ascii_digit() || d[9] == 'X') {
        return false;
    }
    let mut sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u32 + 1) * c.to_digit(10).unwrap_or(0))
        .sum();
    sum += 10
        * if d[9] == 'X' {
            10
        } else {
            d[9].to_digit(10).unwrap_or(0)
        };
    sum.is_multiple_of(11)
}

fn is_isbn13(s: &str) -> bool {
    let d = isbn_digits(s);
    if d.len() != 13 || !d.iter().all(char::is_ascii_digit) {
        return false;
    }
    let sum: u32 = d[..12]
        .iter()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    d[12].to_digit(10).unwrap_or(0) == (10 - sum % 10) % 10
}

fn is_credit_card(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11})$",
        )
        .ok()
    });
    if !re.as_ref().is_some_and(|re| re.is_match(&digits)) {
        return false;
    }
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap_or(0);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

fn is_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[..3].iter().all(u8::is_ascii_digit)
        && matches!(b[3], b'-' | b' ')
        && b[4..6].iter().all(u8::is_ascii_digit)
        && matches!(b[6], b'-' | b' ')
        && b[7..].iter().all(u8::is_ascii_digit)
}

fn is_hex_color(s: &str) -> bool {
    let h = s.strip_prefix('#').unwrap_or(s);
    (h.len() == 3 || h.len() == 6) && h.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_rgb_color(s: &str) -> bool {
    let Some(inner) = s.strip_prefix("rgb(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split(',').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            let t = p.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\x0C' | '\r'));
            !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_digit())
                && (t == "0" || !t.starts_with('0'))
                && t.parse::<u32>().is_ok_and(|v| v <= 255)
        })
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2 && b[..b.len() - pad].iter().all(|&c| alphabet(c))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let parts: Vec<&str> = lower.split('t').collect();
    if parts.len() < 2 || !is_date(parts[0]) {
        return false;
    }
    // ^(hh):(mm):(ss)(.[0-9]+)?(z|[+-]hh:mm)$ with the fields compared as strings like Go does
    let t: Vec<char> = parts[1].chars().collect();
    let two_digits =
        |i: usize| t.get(i).is_some_and(char::is_ascii_digit) && t.get(i + 1).is_some_and(char::is_ascii_digit);
    if !(two_digits(0) && t.get(2) == Some(&':') && two_digits(3) && t.get(5) == Some(&':') && two_digits(6)) {
        return false;
    }
    let mut i = 8;
    if t.len() > i + 1 && t[i + 1].is_ascii_digit() {
        i += 1;
        while t.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
    }
    let zone_ok = match t.get(i) {
        Some('z') => i + 1 == t.len(),
        Some('+' | '-') => two_digits(i + 1) && t.get(i + 3) == Some(&':') && two_digits(i + 4) && i + 6 == t.len(),
        _ => false,
    };
    let field = |a: usize| -> String { t[a..a + 2].iter().collect() };
    zone_ok && field(0).as_str() <= "23" && field(3).as_str() <= "59" && field(6).as_str() <= "59"
}

/// Go's `time.ParseDuration`.
fn is_go_duration(s: &str) -> bool {
    let mut rest = s.strip_prefix(['-', '+']).unwrap_or(s);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let b = rest.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return false;
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let frac_len = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..frac_len];
            rest = &r[frac_len..];
            if int_part.is_empty() && frac_len == 0 {
                return false;
            }
        } else if int_part.is_empty() {
            return false;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return false;
        }
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return false,
        };
        rest = &rest[unit_len..];
        let Ok(v) = int_part
            .parse::<u128>()
            .or(if int_part.is_empty() { Ok(0) } else { Err(()) })
        else {
            return false;
        };
        let mut part = v.saturating_mul(unit);
        if !frac_part.is_empty() {
            let digits = frac_part.len().min(30);
            let frac: u128 = frac_part[..digits].parse().unwrap_or(0);
            part = part.saturating_add(frac.saturating_mul(unit) / 10u128.saturating_pow(digits as u32));
        }
        total = total.saturating_add(part);
        if total > 1u128 << 63 {
            return false;
        }
    }
    true
}

/// kube-openapi's duration: Go durations, or Scala-style `<n> <unit>` lists.
fn is_duration(s: &str) -> bool {
    if is_go_duration(s) {
        return true;
    }
    static VALIDATOR: OnceLock<Option<Regex>> = OnceLock::new();
    static MATCHER: OnceLock<Option<Regex>> = OnceLock::new();
    let validator =
        VALIDATOR.get_or_init(|| Regex::new(r"^[\t\n\x0C\r ]*(?:[0-9]+[\t\n\x0C\r ]*[A-Za-zµ]+[\t\n\x0C\r ]*)+$").ok());
    let matcher = MATCHER.get_or_init(|| Regex::new(r"([0-9]+)[\t\n\x0C\r ]*([A-Za-zµ]+)").ok());
    let (Some(validator), Some(matcher)) = (validator, matcher) else {
        return false;
    };
    if !validator.is_match(s) {
        return false;
    }
    const UNITS: [&[&str]; 8] = [
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    let mut ok = false;
    for caps in matcher.captures_iter(s) {
        if caps.get(1).is_some_and(|m| m.as_str().parse::<i64>().is_err()) {
            return false;
        }
        let unit = caps.get(2).map_or(String::new(), |m| m.as_str().trim().to_lowercase());
        for variants in UNITS {
            let last = variants.len() - 1;
            for (i, v) in variants.iter().enumerate() {
                if (i == last && unit.starts_with(v)) || unit.eq_ignore_ascii_case(v) {
                    ok = true;
                }
            }
        }
    }
    ok
}

/// `resource.ParseQuantity`.
fn is_quantity(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i - int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    let suffix = &s[i..];
    match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        _ => {
            let Some(exp) = suffix.strip_prefix(['e', 'E']) else {
                return false;
            };
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && exp.parse::<i64>().is_ok()
        }
    }
}

fn is_hostname_char(c: char) -> bool {
    static SYMBOL_OR_LETTER: OnceLock<Option<Regex>> = OnceLock::new();
    if c.is_ascii_alphanumeric() {
        return true;
    }
    let re = SYMBOL_OR_LETTER.get_or_init(|| Regex::new(r"^[\p{S}\p{L}]$").ok());
    let mut buf = [0u8; 4];
    re.as_ref().is_some_and(|re| re.is_match(c.encode_utf8(&mut buf)))
}

/// kube-openapi's `IsHostname` (its regex, spelled out).
fn is_hostname(s: &str) -> bool {
    if s.len() > 255 || s.split('.').any(|p| p.len() > 63) {
        return false;
    }
    let labels: Vec<Vec<char>> = s.split('.').map(|l| l.chars().collect()).collect();
    if labels.len() == 1 {
        // [x](-?[x]{0,62})?
        let l = &labels[0];
        let Some((first, rest)) = l.split_first() else {
            return false;
        };
        let rest = rest.strip_prefix(&['-']).unwrap_or(rest);
        return is_hostname_char(*first) && rest.len() <= 62 && rest.iter().all(|&c| is_hostname_char(c));
    }
    let (tld, labels) = labels.split_last().unwrap_or((&labels[0], &[]));
    let label_ok = |l: &Vec<char>| match (l.first(), l.last()) {
        (Some(&f), Some(&e)) => {
            l.len() <= 63
                && is_hostname_char(f)
                && is_hostname_char(e)
                && l.iter().all(|&c| c == '-' || is_hostname_char(c))
        }
        _ => false,
    };
    // tld: [x](-?[x]){1,62}
    let tld_ok = match tld.split_first() {
        Some((&f, rest)) if is_hostname_char(f) => {
            let mut count = 0;
            let mut i = 0;
            let mut ok = true;
            while i < rest.len() {
                if rest[i] == '-' {
                    i += 1;
                }
                match rest.get(i) {
                    Some(&c) if is_hostname_char(c) => count += 1,
                    _ => {
                        ok = false;
                        break;
                    }
                }
                i += 1;
            }
            ok && (1..=62).contains(&count)
        }
        _ => false,
    };
    tld_ok && labels.iter().all(label_ok)
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, mask)) = s.split_once('/') else {
        return false;
    };
    let bits = if addr.parse::<std::net::Ipv4Addr>().is_ok() {
        32
    } else if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    !mask.is_empty()
        && mask.len() <= 3
        && mask.bytes().all(|b| b.is_ascii_digit())
        && mask.parse::<u32>().is_ok_and(|m| m <= bits)
}

fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 14 {
        return false;
    }
    let (group, sep) = if matches!(b[2], b':' | b'-') {
        (2, b[2])
    } else if b[4] == b'.' {
        (4, b'.')
    } else {
        return false;
    };
    if !(b.len() + 1).is_multiple_of(group + 1) {
        return false;
    }
    let groups = (b.len() + 1) / (group + 1);
    let octets = groups * group / 2;
    if !matches!(octets, 6 | 8 | 20) {
        return false;
    }
    b.chunks(group + 1).enumerate().all(|(i, chunk)| {
        chunk[..group].iter().all(u8::is_ascii_hexdigit) && (i + 1 == groups || chunk.get(group) == Some(&sep))
    }) && b.chunks(group + 1).last().is_some_and(|c| c.len() == group)
}

fn valid_percent_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Go's `url.ParseRequestURI` succeeding.
fn is_request_uri(s: &str) -> bool {
    if s.is_empty() || s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    let mut scheme = "";
    let mut rest = s;
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' => {
                if i == 0 {
                    return false;
                }
                scheme = &s[..i];
                rest = &s[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let rest = match rest.split_once('?') {
        Some((before, _)) => before,
        None => rest,
    };
    if !rest.starts_with('/') {
        return !scheme.is_empty();
    }
    let mut path = rest;
    if !scheme.is_empty()
        && let Some(after) = rest.strip_prefix("//")
    {
        let (authority, p) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        path = p;
        let host = match authority.rfind('@') {
            Some(i) => {
                let userinfo = &authority[..i];
                let ok = userinfo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
                if !ok || !valid_percent_escapes(userinfo) {
                    return false;
                }
                &authority[i + 1..]
            }
            None => authority,
        };
        let valid_port = |p: &str| {
            p.is_empty()
                || p.strip_prefix(':')
                    .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
        };
        if host.starts_with('[') {
            let Some(close) = host.rfind(']') else { return false };
            if !valid_port(&host[close + 1..]) {
                return false;
            }
        } else if let Some(colon) = host.rfind(':')
            && !valid_port(&host[colon..])
        {
            return false;
        }
        let host_ok = host
            .chars()
            .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:[]<>\"%".contains(c));
        if !host_ok || !valid_percent_escapes(host) {
            return false;
        }
    }
    valid_percent_escapes(path)
}

/// An approximation of Go's `mail.ParseAddress` (bare `local@domain` or `Name <local@domain>`).
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(lt), Some(inner)) if lt < inner.len() => &inner[lt + 1..],
        _ => s,
    };
    let Some(at) = addr.rfind('@') else { return false };
    let (local, domain) = (&addr[..at], &addr[at + 1..]);
    let atext = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |p: &str| !p.is_empty() && p.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        true
    } else {
        dot_atom(local)
    };
    let domain_ok = (domain.starts_with('[') && domain.ends_with(']') && domain.len() >= 2) || dot_atom(domain);
    local_ok && domain_ok
}

// ---------------------------------------------------------------------------------------------
// Kubernetes name rules
// ---------------------------------------------------------------------------------------------

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(alnum) && b.last().is_some_and(alnum) && b.iter().all(|c| alnum(c) || *c == b'-')
}

fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(s) {
        errs.push(DNS1123_LABEL_MSG.to_string());
    }
    errs
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        errs.push(DNS1035_LABEL_MSG.to_string());
    }
    errs
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_string());
                }
                if !prefix.split('.').all(is_dns1123_label) {
                    errs.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    errs
}

fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(LABEL_VALUE_MSG.to_string());
    }
    errs
}

fn path_segment_errors(name: &str, prefix: bool) -> Vec<String> {
    if !prefix && (name == "." || name == "..") {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Go formatting
// ---------------------------------------------------------------------------------------------

/// Whether Go's `strconv.IsPrint` holds (approximately: control, separator, format and
/// private-use characters are not printable).
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
}

/// Go's `strconv.Quote` (`%q`).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0B' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !go_is_print(c) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Mantissa digits and decimal exponent of the shortest representation of `f` (finite, non-zero).
fn float_exp_parts(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    (mantissa.to_string(), exp.parse().unwrap_or(0))
}

fn go_exp_notation(f: f64) -> String {
    let (mantissa, exp) = float_exp_parts(f);
    let sign = if f < 0.0 { "-" } else { "" };
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mantissa}e{exp_sign}{:02}", exp.unsigned_abs())
}

/// Go's `%v` for a float64.
fn go_fmt_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
    }
    // strconv 'g' with the shortest precision: exponent form when exp < -4 || exp >= 6
    let (_, exp) = float_exp_parts(f);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        go_exp_notation(f)
    }
}

/// Go's `encoding/json` rendering of a float64.
fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = go_exp_notation(f);
        // Go's encoder turns e-07 into e-7
        if let Some(pos) = s.find("e-0") {
            let mut t = s.clone();
            t.remove(pos + 2);
            return t;
        }
        return s;
    }
    format!("{f}")
}

/// Go's `json.Marshal` of a decoded JSON value (sorted keys, HTML-safe escaping).
fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match num(n) {
            Num::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Num::Float(f) => out.push_str(&go_json_float(f)),
        },
        Value::String(s) => write_go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(e, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(k, out);
                out.push(':');
                if let Some(e) = m.get(k) {
                    write_go_json(e, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    /// A root schema with `spec` described by `spec`.
    fn with_spec(spec: Value) -> Value {
        json!({"type": "object", "properties": {"spec": spec}})
    }

    fn obj(spec: Value) -> Value {
        json!({"apiVersion": "golden.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
    }

    /// (spec schema, spec value, expected rendered errors)
    fn check_table(cases: &[(Value, Value, &[&str])]) {
        for (i, (schema, value, want)) in cases.iter().enumerate() {
            let got = rendered(&validate(&obj(value.clone()), &with_spec(schema.clone())));
            assert_eq!(got, *want, "case {i}: schema {schema} value {value}");
        }
    }

    #[test]
    fn type_keyword() {
        let int = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}});
        check_table(&[
            (int.clone(), json!({"replicas": 3}), &[]),
            (int.clone(), json!({"replicas": 3.0}), &[]),
            (
                int.clone(),
                json!({"replicas": "string"}),
                &[r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#],
            ),
            (
                int.clone(),
                json!({"replicas": 1.5}),
                &[r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#],
            ),
            (
                int.clone(),
                json!({"replicas": true}),
                &[
                    r#"spec.replicas: Invalid value: "boolean": spec.replicas in body must be of type integer: "boolean""#,
                ],
            ),
            (
                int,
                json!({"replicas": null}),
                &[r#"spec.replicas: Invalid value: "null": spec.replicas in body must be of type integer: "null""#],
            ),
            (
                json!({"type": "object", "properties": {"n": {"type": "number"}}}),
                json!({"n": 3}),
                &[],
            ),
            (
                json!({"type": "object", "properties": {"n": {"type": "number"}}}),
                json!({"n": 3.25}),
                &[],
            ),
            (
                json!({"type": "object", "properties": {"s": {"type": "string"}}}),
                json!({"s": 1}),
                &[r#"spec.s: Invalid value: "integer": spec.s in body must be of type string: "integer""#],
            ),
            (
                json!({"type": "object", "properties": {"b": {"type": "boolean"}}}),
                json!({"b": "true"}),
                &[r#"spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string""#],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}}),
                json!({"a": {}}),
                &[r#"spec.a: Invalid value: "object": spec.a in body must be of type array: "object""#],
            ),
            (
                json!({"type": "object", "properties": {"o": {"type": "object"}}}),
                json!({"o": []}),
                &[r#"spec.o: Invalid value: "array": spec.o in body must be of type object: "array""#],
            ),
            (
                json!({"type": "object", "properties": {"s": {"type": "string", "nullable": true}}}),
                json!({"s": null}),
                &[],
            ),
        ]);
    }

    #[test]
    fn type_error_reason_and_fields() {
        let errs = validate(
            &obj(json!({"replicas": "x"})),
            &with_spec(json!({"type": "object", "properties": {"replicas": {"type": "integer"}}})),
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, "FieldValueTypeInvalid");
        assert_eq!(errs[0].field, "spec.replicas");
        assert_eq!(
            errs[0].message,
            r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        );
    }

    #[test]
    fn required_keyword() {
        let schema = json!({"type": "object", "required": ["size", "color"], "properties": {
            "size": {"type": "integer"}, "color": {"type": "string"}}});
        check_table(&[
            (schema.clone(), json!({"size": 1, "color": "red"}), &[]),
            (schema.clone(), json!({"color": "red"}), &["spec.size: Required value"]),
            (
                schema,
                json!({}),
                &["spec.size: Required value", "spec.color: Required value"],
            ),
        ]);
        let root = json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
        let errs = validate(&json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}}), &root);
        assert_eq!(rendered(&errs), ["spec: Required value"]);
        assert_eq!(errs[0].reason, "FieldValueRequired");
        assert_eq!(errs[0].message, "Required value");
    }

    #[test]
    fn enum_keyword() {
        let s = json!({"type": "object", "properties": {"c": {"type": "string", "enum": ["a", "b"]}}});
        let n = json!({"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}});
        let nullable =
            json!({"type": "object", "properties": {"c": {"type": "string", "nullable": true, "enum": ["a", null]}}});
        check_table(&[
            (s.clone(), json!({"c": "a"}), &[]),
            (
                s,
                json!({"c": "x"}),
                &[r#"spec.c: Unsupported value: "x": supported values: "a", "b""#],
            ),
            (n.clone(), json!({"n": 2}), &[]),
            (n.clone(), json!({"n": 2.0}), &[]),
            (
                n,
                json!({"n": 3}),
                &[r#"spec.n: Unsupported value: 3: supported values: "1", "2""#],
            ),
            // kube-openapi never matches null against an enum
            (
                nullable,
                json!({"c": null}),
                &[r#"spec.c: Unsupported value: null: supported values: "a", "null""#],
            ),
        ]);
        let errs = validate(
            &obj(json!({"c": "x"})),
            &with_spec(json!({"type": "object", "properties": {"c": {"type": "string", "enum": ["a"]}}})),
        );
        assert_eq!(errs[0].reason, "FieldValueNotSupported");
    }

    #[test]
    fn pattern_keyword() {
        let s = json!({"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}}});
        check_table(&[
            (s.clone(), json!({"name": "abc"}), &[]),
            (
                s,
                json!({"name": "ABC"}),
                &[r#"spec.name: Invalid value: "ABC": spec.name in body should match '^[a-z]+$'"#],
            ),
            // Go's \d is ASCII only
            (
                json!({"type": "object", "properties": {"d": {"type": "string", "pattern": "^\\d+$"}}}),
                json!({"d": "١٢"}),
                &[r#"spec.d: Invalid value: "١٢": spec.d in body should match '^\d+$'"#],
            ),
            // unanchored like Go's MatchString
            (
                json!({"type": "object", "properties": {"d": {"type": "string", "pattern": "b"}}}),
                json!({"d": "abc"}),
                &[],
            ),
        ]);
    }

    #[test]
    fn numeric_bounds() {
        let max = json!({"type": "object", "properties": {"size": {"type": "integer", "maximum": 10}}});
        let xmax = json!({"type": "object", "properties": {"size": {"type": "integer", "maximum": 10, "exclusiveMaximum": true}}});
        let min = json!({"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}});
        let xmin = json!({"type": "object", "properties": {"size": {"type": "integer", "minimum": 1, "exclusiveMinimum": true}}});
        let fmax = json!({"type": "object", "properties": {"f": {"type": "number", "maximum": 2.5}}});
        check_table(&[
            (max.clone(), json!({"size": 10}), &[]),
            (
                max,
                json!({"size": 11}),
                &["spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"],
            ),
            (
                xmax,
                json!({"size": 10}),
                &["spec.size: Invalid value: 10: spec.size in body should be less than 10"],
            ),
            (min.clone(), json!({"size": 1}), &[]),
            (
                min,
                json!({"size": 0}),
                &["spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"],
            ),
            (
                xmin,
                json!({"size": 1}),
                &["spec.size: Invalid value: 1: spec.size in body should be greater than 1"],
            ),
            (fmax.clone(), json!({"f": 2.5}), &[]),
            (
                fmax,
                json!({"f": 2.75}),
                &["spec.f: Invalid value: 2.75: spec.f in body should be less than or equal to 2.5"],
            ),
        ]);
    }

    #[test]
    fn multiple_of_keyword() {
        let i = json!({"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 3}}});
        let f = json!({"type": "object", "properties": {"n": {"type": "number", "multipleOf": 0.1}}});
        check_table(&[
            (i.clone(), json!({"n": 9}), &[]),
            (
                i,
                json!({"n": 7}),
                &["spec.n: Invalid value: 7: spec.n in body should be a multiple of 3"],
            ),
            (f.clone(), json!({"n": 0.3}), &[]),
            (
                f,
                json!({"n": 0.35}),
                &["spec.n: Invalid value: 0.35: spec.n in body should be a multiple of 0.1"],
            ),
        ]);
    }

    #[test]
    fn string_lengths() {
        let max = json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}});
        let min = json!({"type": "object", "properties": {"name": {"type": "string", "minLength": 3}}});
        check_table(&[
            (max.clone(), json!({"name": "héllo"}), &[]),
            (
                max,
                json!({"name": "toolong"}),
                &["spec.name: Too long: may not be more than 5 bytes"],
            ),
            (min.clone(), json!({"name": "abc"}), &[]),
            (
                min,
                json!({"name": "ab"}),
                &[r#"spec.name: Invalid value: "ab": spec.name in body should be at least 3 chars long"#],
            ),
            (
                json!({"type": "object", "properties": {"c": {"type": "string", "maxLength": 1}}}),
                json!({"c": "ab"}),
                &["spec.c: Too long: may not be more than 1 byte"],
            ),
        ]);
        let errs = validate(
            &obj(json!({"name": "toolong"})),
            &with_spec(json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}})),
        );
        assert_eq!(errs[0].reason, "FieldValueTooLong");
    }

    #[test]
    fn item_counts_and_uniqueness() {
        let s = |extra: Value| {
            let mut tags = json!({"type": "array", "items": {"type": "string"}});
            if let (Some(t), Some(e)) = (tags.as_object_mut(), extra.as_object()) {
                t.extend(e.clone());
            }
            json!({"type": "object", "properties": {"tags": tags}})
        };
        check_table(&[
            (s(json!({"minItems": 1})), json!({"tags": ["a"]}), &[]),
            (
                s(json!({"minItems": 1})),
                json!({"tags": []}),
                &["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"],
            ),
            (
                s(json!({"maxItems": 2})),
                json!({"tags": ["a", "b", "c"]}),
                &["spec.tags: Too many: 3: must have at most 2 items"],
            ),
            (s(json!({"uniqueItems": true})), json!({"tags": ["a", "b"]}), &[]),
            (
                s(json!({"uniqueItems": true})),
                json!({"tags": ["a", "b", "a"]}),
                &[r#"spec.tags: Invalid value: "": spec.tags in body shouldn't contain duplicates"#],
            ),
            (
                s(json!({})),
                json!({"tags": ["a", 1]}),
                &[r#"spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer""#],
            ),
        ]);
        let errs = validate(
            &obj(json!({"tags": ["a", "b", "c"]})),
            &with_spec(s(json!({"maxItems": 2}))),
        );
        assert_eq!(errs[0].reason, "FieldValueTooMany");
    }

    #[test]
    fn property_counts_and_additional_properties() {
        let map = json!({"type": "object", "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}});
        let counts = json!({"type": "object", "properties": {"m": {"type": "object", "minProperties": 1, "maxProperties": 2,
            "additionalProperties": {"type": "integer"}}}});
        let closed = json!({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": false}}});
        check_table(&[
            (map.clone(), json!({"labels": {"a": "b"}}), &[]),
            (
                map,
                json!({"labels": {"a": 1}}),
                &[
                    r#"spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer""#,
                ],
            ),
            (counts.clone(), json!({"m": {"a": 1}}), &[]),
            (
                counts.clone(),
                json!({"m": {}}),
                &["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"],
            ),
            (
                counts,
                json!({"m": {"a": 1, "b": 2, "c": 3}}),
                &["spec.m: Too many: 3: must have at most 2 items"],
            ),
            (
                closed,
                json!({"m": {"x": 1}}),
                &[r#"spec.m: Invalid value: "x": spec.m.x in body is a forbidden property"#],
            ),
        ]);
    }

    #[test]
    fn nested_objects_and_arrays_of_objects() {
        let s = json!({"type": "object", "properties": {
            "template": {"type": "object", "properties": {"spec": {"type": "object", "required": ["image"],
                "properties": {"image": {"type": "string"}, "port": {"type": "integer", "maximum": 65535}}}}},
            "items": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "weight": {"type": "integer", "minimum": 0}}}}}});
        check_table(&[
            (
                s.clone(),
                json!({"template": {"spec": {"image": "x", "port": 80}}, "items": [{"name": "a"}]}),
                &[],
            ),
            (
                s.clone(),
                json!({"template": {"spec": {"port": 70000}}}),
                &[
                    "spec.template.spec.port: Invalid value: 70000: spec.template.spec.port in body should be less than or equal to 65535",
                    "spec.template.spec.image: Required value",
                ],
            ),
            (
                s,
                json!({"items": [{"name": "a"}, {"weight": -1}]}),
                &[
                    "spec.items[1].weight: Invalid value: -1: spec.items[1].weight in body should be greater than or equal to 0",
                    "spec.items[1].name: Required value",
                ],
            ),
        ]);
    }

    #[test]
    fn int_or_string() {
        let s = json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true, "anyOf": [
            {"type": "integer"}, {"type": "string"}], "pattern": "^[a-z]+$"}}});
        check_table(&[
            (s.clone(), json!({"port": 80}), &[]),
            (s.clone(), json!({"port": "http"}), &[]),
            (
                s.clone(),
                json!({"port": "HTTP"}),
                &[r#"spec.port: Invalid value: "HTTP": spec.port in body should match '^[a-z]+$'"#],
            ),
            (
                s,
                json!({"port": true}),
                &[
                    r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                    r#"<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
                    r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
                ],
            ),
        ]);
    }

    #[test]
    fn preserve_unknown_fields_subtrees() {
        let s = json!({"type": "object", "properties": {"raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "integer"}}}}});
        check_table(&[
            (
                s.clone(),
                json!({"raw": {"anything": {"deep": [1, "x"]}, "known": 1}}),
                &[],
            ),
            (
                s,
                json!({"raw": {"known": "x"}}),
                &[
                    r#"spec.raw.known: Invalid value: "string": spec.raw.known in body must be of type integer: "string""#,
                ],
            ),
        ]);
    }

    #[test]
    fn junctors() {
        let one = json!({"type": "object", "properties": {"v": {"type": "integer",
            "oneOf": [{"minimum": 0}, {"maximum": 10}]}}});
        let all = json!({"type": "object", "properties": {"v": {"type": "integer",
            "allOf": [{"minimum": 0}, {"maximum": 10}]}}});
        let not = json!({"type": "object", "properties": {"v": {"type": "integer", "not": {"enum": [5]}}}});
        check_table(&[
            (one.clone(), json!({"v": 20}), &[]),
            (
                one,
                json!({"v": 5}),
                &[
                    r#"<nil>: Invalid value: "": "spec.v" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
                ],
            ),
            (all.clone(), json!({"v": 5}), &[]),
            (
                all,
                json!({"v": 20}),
                &[
                    "spec.v: Invalid value: 20: spec.v in body should be less than or equal to 10",
                    r#"<nil>: Invalid value: "": "spec.v" must validate all the schemas (allOf)"#,
                ],
            ),
            (not.clone(), json!({"v": 4}), &[]),
            (
                not,
                json!({"v": 5}),
                &[r#"<nil>: Invalid value: "": "spec.v" must not validate the schema (not)"#],
            ),
        ]);
    }

    #[test]
    fn formats() {
        let s = |format: &str, ty: &str| json!({"type": "object", "properties": {"f": {"type": ty, "format": format}}});
        check_table(&[
            (s("date-time", "string"), json!({"f": "2024-01-02T03:04:05Z"}), &[]),
            (
                s("date-time", "string"),
                json!({"f": "2024-01-02T03:04:05.123+01:00"}),
                &[],
            ),
            (
                s("date-time", "string"),
                json!({"f": "yesterday"}),
                &[r#"spec.f: Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday""#],
            ),
            (s("date", "string"), json!({"f": "2024-02-29"}), &[]),
            (
                s("date", "string"),
                json!({"f": "2023-02-29"}),
                &[r#"spec.f: Invalid value: "2023-02-29": spec.f in body must be of type date: "2023-02-29""#],
            ),
            (
                s("uuid", "string"),
                json!({"f": "123e4567-e89b-12d3-a456-426614174000"}),
                &[],
            ),
            (s("ipv4", "string"), json!({"f": "10.0.0.1"}), &[]),
            (
                s("ipv4", "string"),
                json!({"f": "10.0.0.256"}),
                &[r#"spec.f: Invalid value: "10.0.0.256": spec.f in body must be of type ipv4: "10.0.0.256""#],
            ),
            (s("cidr", "string"), json!({"f": "10.0.0.0/8"}), &[]),
            (s("hostname", "string"), json!({"f": "example.com"}), &[]),
            (s("uri", "string"), json!({"f": "https://example.com/x?y=1"}), &[]),
            (
                s("uri", "string"),
                json!({"f": "not a uri"}),
                &[r#"spec.f: Invalid value: "not a uri": spec.f in body must be of type uri: "not a uri""#],
            ),
            (s("duration", "string"), json!({"f": "1h30m"}), &[]),
            (s("quantity", "string"), json!({"f": "500Mi"}), &[]),
            (s("byte", "string"), json!({"f": "aGVsbG8="}), &[]),
            (
                s("k8s-short-name", "string"),
                json!({"f": "Bad_Name"}),
                &[r#"spec.f: Invalid value: "Bad_Name": spec.f in body must be of type k8s-short-name: "Bad_Name""#],
            ),
            // unknown formats are stripped, as apiextensions does
            (s("no-such-format", "string"), json!({"f": "anything"}), &[]),
            // int32 is not range-checked by kube
            (s("int32", "integer"), json!({"f": 9_999_999_999_i64}), &[]),
            (
                s("int32", "integer"),
                json!({"f": 1.5}),
                &[r#"spec.f: Invalid value: "float64": spec.f in body must be of type int32: "float64""#],
            ),
        ]);
    }

    #[test]
    fn embedded_resources() {
        let s = json!({"type": "object", "properties": {"template": {"type": "object",
            "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}});
        check_table(&[
            (
                s.clone(),
                json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}),
                &[],
            ),
            (
                s.clone(),
                json!({"template": {"metadata": {"name": "p"}}}),
                &[
                    "spec.template.apiVersion: Required value",
                    "spec.template.kind: Required value",
                ],
            ),
            (
                s.clone(),
                json!({"template": {"apiVersion": "a/b/c", "kind": "Pod"}}),
                &[r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#],
            ),
            (
                s.clone(),
                json!({"template": {"apiVersion": "v1", "kind": "Po_d"}}),
                &[&format!(
                    r#"spec.template.kind: Invalid value: "Po_d": may have mixed case, but should otherwise match: {DNS1035_LABEL_MSG}"#
                )],
            ),
            (
                s.clone(),
                json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b"}}}),
                &[r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#],
            ),
            (
                s,
                json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": 1}}}}),
                &[
                    r#"spec.template.metadata: Invalid value: {"labels":{"a":1}}: json: cannot unmarshal number 1 into Go struct field ObjectMeta.labels of type string"#,
                ],
            ),
        ]);
    }

    #[test]
    fn list_types() {
        let set = json!({"type": "object", "properties": {"tags": {"type": "array", "x-kubernetes-list-type": "set",
            "items": {"type": "string"}}}});
        let map = json!({"type": "object", "properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}}}});
        check_table(&[
            (set.clone(), json!({"tags": ["a", "b"]}), &[]),
            (
                set,
                json!({"tags": ["a", "b", "a", "a"]}),
                &[r#"spec.tags[2]: Duplicate value: "a""#],
            ),
            (
                map.clone(),
                json!({"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 1}]}),
                &[],
            ),
            (
                map,
                json!({"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]}),
                &[r#"spec.ports[1]: Duplicate value: {"name":"a"}"#],
            ),
        ]);
    }

    #[test]
    fn root_type_meta_is_only_validated_by_schema() {
        let schema = json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 3}}}}});
        let ok =
            json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "abc", "uid": "x", "labels": {"a": "b"}}});
        assert!(validate(&ok, &schema).is_empty());
        let long = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "abcd"}});
        assert_eq!(
            rendered(&validate(&long, &schema)),
            ["metadata.name: Too long: may not be more than 3 bytes"]
        );
    }

    // ---- defaulting ----

    #[test]
    fn defaults() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
            "replicas": {"type": "integer", "default": 1},
            "nullable": {"type": "string", "nullable": true, "default": "d"},
            "strategy": {"type": "object", "default": {"type": "Rolling"}, "properties": {
                "type": {"type": "string"}, "maxSurge": {"type": "integer", "default": 25}}},
            "containers": {"type": "array", "items": {"type": "object", "default": {"name": "x"}, "properties": {
                "name": {"type": "string"}, "pull": {"type": "string", "default": "IfNotPresent"}}}},
            "env": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "value": {"type": "string", "default": "unset"}}}}}}}});
        let cases = [
            (
                json!({}),
                json!({"spec": {"replicas": 1, "nullable": "d", "strategy": {"type": "Rolling", "maxSurge": 25}}}),
            ),
            (
                json!({"spec": {"replicas": 3, "nullable": null, "strategy": {"type": "Recreate"}}}),
                json!({"spec": {"replicas": 3, "nullable": null, "strategy": {"type": "Recreate", "maxSurge": 25}}}),
            ),
            (
                json!({"spec": {"replicas": null, "nullable": "n"}}),
                json!({"spec": {"replicas": 1, "nullable": "n", "strategy": {"type": "Rolling", "maxSurge": 25}}}),
            ),
            (
                json!({"spec": {"replicas": 2, "nullable": "n", "strategy": {}, "containers": [{"name": "a"}, null, {"pull": "Always"}]}}),
                json!({"spec": {"replicas": 2, "nullable": "n", "strategy": {"maxSurge": 25}, "containers": [
                    {"name": "a", "pull": "IfNotPresent"}, {"name": "x", "pull": "IfNotPresent"}, {"pull": "Always"}]}}),
            ),
            (
                json!({"spec": {"replicas": 2, "nullable": "n", "strategy": {}, "env": {"A": {}, "B": {"value": "b"}}}}),
                json!({"spec": {"replicas": 2, "nullable": "n", "strategy": {"maxSurge": 25}, "env": {
                    "A": {"value": "unset"}, "B": {"value": "b"}}}}),
            ),
        ];
        for (i, (input, want)) in cases.into_iter().enumerate() {
            let mut got = input;
            apply_defaults(&mut got, &schema);
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn defaults_are_deep_copies_and_leave_scalars_alone() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "object", "default": {"x": [1]}, "properties": {
            "x": {"type": "array", "items": {"type": "integer"}}}}}});
        let mut one = json!({});
        apply_defaults(&mut one, &schema);
        if let Some(x) = one.pointer_mut("/a/x/0") {
            *x = json!(2);
        }
        let mut two = json!({});
        apply_defaults(&mut two, &schema);
        assert_eq!(two, json!({"a": {"x": [1]}}));
        let mut scalar = json!(5);
        apply_defaults(&mut scalar, &schema);
        assert_eq!(scalar, json!(5));
    }

    // ---- pruning ----

    fn prune_case(schema: &Value, input: Value) -> (Value, Vec<String>) {
        let mut v = input;
        let paths = prune(&mut v, schema);
        (v, paths)
    }

    #[test]
    fn pruning() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "object", "properties": {"v": {"type": "integer"}}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "objects": {"type": "object", "additionalProperties": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "typed": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "name": {"type": "string"}}}}});
        let cases: Vec<(Value, Value, Vec<&str>)> = vec![
            (
                json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"size": 1, "foo": 1}, "status": {}}),
                json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"size": 1}}),
                vec!["spec.foo", "status"],
            ),
            (
                json!({"spec": {"items": [{"name": "a", "bar": 1}, {"baz": {"x": 1}}]}}),
                json!({"spec": {"items": [{"name": "a"}, {}]}}),
                vec!["spec.items[0].bar", "spec.items[1].baz"],
            ),
            (
                json!({"spec": {"matrix": [[{"v": 1, "w": 2}]]}}),
                json!({"spec": {"matrix": [[{"v": 1}]]}}),
                vec!["spec.matrix[0][0].w"],
            ),
            (
                json!({"spec": {"labels": {"a": "b"}, "objects": {"o": {"k": "v", "extra": 1}}}}),
                json!({"spec": {"labels": {"a": "b"}, "objects": {"o": {"k": "v"}}}}),
                vec!["spec.objects.o.extra"],
            ),
            (
                json!({"spec": {"raw": {"free": {"deep": 1}, "typed": {"a": "x", "b": "y"}}}}),
                json!({"spec": {"raw": {"free": {"deep": 1}, "typed": {"a": "x"}}}}),
                vec!["spec.raw.typed.b"],
            ),
            // an object where a string is specified: all its fields are unknown
            (
                json!({"spec": {"name": {"a": 1}}}),
                json!({"spec": {"name": {}}}),
                vec!["spec.name.a"],
            ),
            // metadata is kept but reduced to ObjectMeta fields
            (
                json!({"metadata": {"name": "n", "foo": 1, "ownerReferences": [{"name": "o", "bar": 2}]}}),
                json!({"metadata": {"name": "n", "ownerReferences": [{"name": "o"}]}}),
                vec!["metadata.foo", "metadata.ownerReferences[0].bar"],
            ),
            // non-nullable nulls without a default disappear without being reported
            (
                json!({"spec": {"size": null, "name": "x"}}),
                json!({"spec": {"name": "x"}}),
                vec![],
            ),
        ];
        for (i, (input, want, paths)) in cases.into_iter().enumerate() {
            let (got, got_paths) = prune_case(&schema, input);
            assert_eq!(got, want, "case {i}");
            assert_eq!(got_paths, paths, "case {i}");
        }
    }

    #[test]
    fn pruning_embedded_resources() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
                "spec": {"type": "object", "properties": {"image": {"type": "string"}}}}},
            "byName": {"type": "object", "additionalProperties": {"type": "object", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true}}}}}});
        let input = json!({"spec": {
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1}, "spec": {"image": "i", "x": 1}, "y": 2},
            "byName": {"a": {"apiVersion": "v1", "kind": "Pod", "metadata": {"zzz": 1}, "free": true}}}});
        let (got, paths) = prune_case(&schema, input);
        assert_eq!(
            got,
            json!({"spec": {
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"image": "i"}},
                "byName": {"a": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "free": true}}}})
        );
        assert_eq!(
            paths,
            [
                "spec.template.spec.x",
                "spec.template.y",
                "spec.byName[a].metadata.zzz",
                "spec.template.metadata.junk"
            ]
        );
    }

    #[test]
    fn pruning_keeps_order_and_preserves_at_root() {
        let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        let (got, paths) = prune_case(&schema, json!({"z": 1, "a": {"b": 2}, "metadata": {"name": "n"}}));
        assert_eq!(got, json!({"z": 1, "a": {"b": 2}, "metadata": {"name": "n"}}));
        assert!(paths.is_empty());
        let keys: Vec<&String> = got.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["z", "a", "metadata"]);
    }

    #[test]
    fn write_path_order() {
        // decode → prune → default → validate, as kube does
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "default": 3, "maximum": 5}, "color": {"type": "string", "enum": ["red"]}}}}});
        let compiled = CrdSchema::new(&schema);
        let mut o = obj(json!({"color": "red", "junk": true}));
        assert_eq!(compiled.prune(&mut o), ["spec.junk"]);
        compiled.apply_defaults(&mut o);
        assert_eq!(o["spec"], json!({"color": "red", "size": 3}));
        assert!(compiled.validate(&o).is_empty());
    }

    // ---- structural checks ----

    const P: &str = "spec.versions[0].schema.openAPIV3Schema";

    fn structural(schema: Value) -> Vec<String> {
        rendered(&check_structural(&schema, P))
    }

    #[test]
    fn recorded_crd_schema_is_structural() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "integer"}, "color": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}}}}}});
        assert!(structural(schema).is_empty());
    }

    #[test]
    fn structural_table() {
        let cases: Vec<(Value, Vec<String>)> = vec![
            (
                json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}),
                vec![format!(
                    "{P}.properties[spec].type: Required value: must not be empty for specified object fields"
                )],
            ),
            (
                json!({"properties": {}}),
                vec![format!("{P}.type: Required value: must not be empty at the root")],
            ),
            (
                json!({"type": "string"}),
                vec![format!(
                    r#"{P}.type: Invalid value: "string": must be object at the root"#
                )],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "array"}}}),
                vec![format!("{P}.properties[l].items: Required value: must be specified")],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "array", "items": {}}}}),
                vec![format!(
                    "{P}.properties[l].items.type: Required value: must not be empty for specified array items"
                )],
            ),
            (
                json!({"type": "object", "properties": {"m": {"type": "object", "properties": {"a": {"type": "string"}},
                    "additionalProperties": {"type": "string"}}}}),
                vec![format!(
                    "{P}.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
                )],
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                vec![format!(
                    "{P}.additionalProperties: Forbidden: must not be used at the root"
                )],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "string", "anyOf": [{"type": "string"}]}}}),
                vec![format!(
                    "{P}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural"
                )],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "string", "allOf": [{"description": "d", "nullable": true,
                    "default": "x", "x-kubernetes-preserve-unknown-fields": true}]}}}),
                vec![
                    format!("{P}.properties[a].allOf[0].default: Forbidden: must be undefined to be structural"),
                    format!("{P}.properties[a].allOf[0].description: Forbidden: must be empty to be structural"),
                    format!("{P}.properties[a].allOf[0].nullable: Forbidden: must be false to be structural"),
                    format!(
                        "{P}.properties[a].allOf[0].x-kubernetes-preserve-unknown-fields: Forbidden: must be false to be structural"
                    ),
                ],
            ),
            (
                json!({"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": true,
                    "anyOf": [{"type": "integer"}, {"type": "string"}]}}}),
                vec![],
            ),
            (
                json!({"type": "object", "properties": {"free": {"x-kubernetes-preserve-unknown-fields": true}}}),
                vec![],
            ),
            (
                json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 10}}}}}),
                vec![],
            ),
            (
                json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
                    "labels": {"type": "object"}}}}}),
                vec![format!(
                    "{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"
                )],
            ),
            (
                json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {"name": "x"}}}}),
                vec![format!(
                    "{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata"
                )],
            ),
            (
                json!({"type": "object", "nullable": true}),
                vec![format!("{P}.nullable: Forbidden: nullable cannot be true at the root")],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}}}),
                vec![format!(
                    "{P}.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
                )],
            ),
            (
                json!({"type": "object", "properties": {"r": {"$ref": "#/definitions/x"}}}),
                vec![format!("{P}.properties[r].$ref: Forbidden: $ref is not supported")],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "foo"}}}),
                vec![format!(
                    r#"{P}.properties[a].type: Unsupported value: "foo": supported values: "array", "boolean", "integer", "number", "object", "string""#
                )],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "null"}}}),
                vec![
                    format!(
                        r#"{P}.properties[a].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string""#
                    ),
                    format!(
                        "{P}.properties[a].type: Forbidden: type cannot be set to null, use nullable as an alternative"
                    ),
                ],
            ),
            (
                json!({"type": "object", "properties": {"size": {"type": "integer", "default": "string"}}}),
                vec![format!(
                    r#"{P}.properties[size].default: Invalid value: "string":  in body must be of type integer: "string""#
                )],
            ),
            (
                json!({"type": "object", "properties": {"o": {"type": "object", "default": {"a": 1, "b": 2}, "properties": {
                    "a": {"type": "integer"}}}}}),
                vec![format!(
                    r#"{P}.properties[o].default: Invalid value: {{"a":1,"b":2}}: must not have unknown fields"#
                )],
            ),
            (
                json!({"type": "object", "properties": {"o": {"type": "object", "default": {}, "required": ["a"], "properties": {
                    "a": {"type": "integer"}}}}}),
                vec![format!("{P}.properties[o].default.a: Required value")],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "string"}}, "anyOf": [{"properties": {"b": {}}}]}),
                vec![format!(
                    "{P}.properties[b]: Required value: because it is defined in {P}.anyOf[0].properties[b]"
                )],
            ),
            (
                json!({"type": "object", "properties": {"t": {"x-kubernetes-embedded-resource": true,
                    "x-kubernetes-preserve-unknown-fields": true}}}),
                vec![format!(
                    "{P}.properties[t].type: Required value: must be object if x-kubernetes-embedded-resource is true"
                )],
            ),
            (
                json!({"type": "object", "properties": {"t": {"type": "object", "x-kubernetes-embedded-resource": true}}}),
                vec![format!(
                    "{P}.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
                )],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(abc"}}}),
                vec![format!(
                    r#"{P}.properties[a].pattern: Invalid value: "(abc": must be a valid regular expression, but isn't: error parsing regexp: unclosed group: `(abc`"#
                )],
            ),
            (
                json!({"type": "object", "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": false}}}),
                vec![format!(
                    "{P}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
                )],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}),
                vec![format!(
                    "{P}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
                )],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}),
                vec![format!(
                    "{P}.properties[l].items.properties[name].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"
                )],
            ),
            (
                json!({"type": "object", "properties": {"l": {"type": "string", "x-kubernetes-list-type": "bag"}}}),
                vec![
                    format!(
                        r#"{P}.properties[l].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified"#
                    ),
                    format!(
                        r#"{P}.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#
                    ),
                ],
            ),
            (
                json!({"type": "object", "x-kubernetes-validations": [{"rule": " "}], "properties": {}}),
                vec![format!(
                    "{P}.x-kubernetes-validations[0].rule: Required value: rule is not specified"
                )],
            ),
            (
                json!({"type": "object", "$schema": "http://json-schema.org/draft-04/schema#"}),
                vec![format!(
                    r#"{P}: Invalid value: "": OpenAPIV3Schema 'schema' is not supported"#
                )],
            ),
            (
                json!({"type": 5}),
                vec![format!("{P}.type: Invalid value: 5: must be of type string")],
            ),
        ];
        for (i, (schema, want)) in cases.into_iter().enumerate() {
            assert_eq!(structural(schema.clone()), want, "case {i}: {schema}");
        }
    }

    #[test]
    fn structural_errors_are_sorted_and_reasons_set() {
        let errs = check_structural(
            &json!({"type": "object", "properties": {"z": {"properties": {}}, "a": {"type": "array"}}}),
            P,
        );
        assert_eq!(
            rendered(&errs),
            [
                format!("{P}.properties[a].items: Required value: must be specified"),
                format!("{P}.properties[z].type: Required value: must not be empty for specified object fields"),
            ]
        );
        assert!(errs.iter().all(|e| e.reason == "FieldValueRequired"));
        let forbidden = check_structural(&json!({"type": "object", "additionalProperties": false}), P);
        assert_eq!(forbidden[0].reason, "FieldValueForbidden");
    }

    // ---- Go compatibility helpers ----

    #[test]
    fn go_float_formatting() {
        for (f, want) in [
            (10.0, "10"),
            (10.5, "10.5"),
            (0.1, "0.1"),
            (123_456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.000_01, "1e-05"),
            (-2.5, "-2.5"),
        ] {
            assert_eq!(go_fmt_float(f), want);
        }
        for (v, want) in [
            (json!(1.0), "1"),
            (json!(1e21), "1e+21"),
            (json!(1e-7), "1e-7"),
            (json!(1e20), "100000000000000000000"),
            (json!({"b": [1, "x<y"], "a": null}), r#"{"a":null,"b":[1,"x\u003cy"]}"#),
        ] {
            assert_eq!(go_json(&v), want);
        }
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é\u{200b}"), r#""a\"b\\c\n\x01é\u200b""#);
    }

    #[test]
    fn go_regex_translation() {
        let cases: &[(&str, &str, bool)] = &[
            (r"^\d+$", "123", true),
            (r"^\d+$", "١٢", false),
            (r"^\w+$", "é", false),
            (r"a{", "a{", true),
            (r"^a{2}$", "aa", true),
            (r"[[]", "[", true),
            (r"[]a]+", "]a", true),
            (r"\Q.*\E", ".*", true),
            (r"\Q.*\E", "ab", false),
            (r"^[\d-]+$", "1-2", true),
            (r"^\x41$", "A", true),
            (r"^\101$", "A", true),
            (r"a&&b", "a&&b", true),
            (r"[a&&b]", "&", true),
        ];
        for (p, s, want) in cases {
            let re = compile_go_regex(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(re.is_match(s), *want, "{p} on {s}");
        }
        assert!(compile_go_regex("a{1001}").is_err());
        assert!(compile_go_regex("(abc").is_err());
        assert!(compile_go_regex("abc\\").is_err());
    }

    #[test]
    fn format_checkers() {
        let ok = [
            ("uri", "/relative/path"),
            ("uri", "mailto:a@b.c"),
            ("email", "a.b@example.com"),
            ("email", "Name <a@example.com>"),
            ("hostname", "a-b.example"),
            ("ipv6", "::1"),
            ("mac", "00:00:5e:00:53:01"),
            ("mac", "0000.5e00.5301"),
            ("isbn10", "0-321-75104-3"),
            ("isbn13", "978-0321751041"),
            ("creditcard", "4111 1111 1111 1111"),
            ("ssn", "123-45-6789"),
            ("hexcolor", "#fff"),
            ("rgbcolor", "rgb(0, 255, 10)"),
            ("bsonobjectid", "507f1f77bcf86cd799439011"),
            ("duration", "3 days"),
            ("duration", "-1.5h"),
            ("quantity", "1e3"),
            ("quantity", ".5"),
            ("uuid4", "123e4567-e89b-42d3-a456-426614174000"),
            ("k8s-long-name", "a.b-c"),
            ("password", "anything"),
        ];
        for (f, s) in ok {
            assert!(format_validates(f, s), "{f} should accept {s}");
        }
        let bad = [
            ("uri", "relative/path"),
            ("uri", "http://exa mple.com/"),
            ("email", "no-at-sign"),
            ("hostname", "-bad.example"),
            ("ipv6", "1.2.3.4"),
            ("cidr", "10.0.0.0/33"),
            ("mac", "00:00:5e:00:53"),
            ("isbn10", "0-321-75104-4"),
            ("creditcard", "4111 1111 1111 1112"),
            ("ssn", "123456789"),
            ("hexcolor", "#ffff"),
            ("rgbcolor", "rgb(256,0,0)"),
            ("byte", "abc"),
            ("duration", "forever"),
            ("quantity", "1Qi"),
            ("quantity", "."),
            ("uuid3", "123e4567-e89b-42d3-a456-426614174000"),
            ("date-time", "2024-01-02T25:00:00Z"),
        ];
        for (f, s) in bad {
            assert!(!format_validates(f, s), "{f} should reject {s}");
        }
    }

    #[test]
    fn qualified_names() {
        assert!(qualified_name_errors("example.com/name").is_empty());
        assert_eq!(qualified_name_errors("/x"), ["prefix part must be non-empty"]);
        assert_eq!(qualified_name_errors("a/b/c").len(), 1);
        assert!(label_value_errors("").is_empty());
        assert_eq!(label_value_errors("-x"), [LABEL_VALUE_MSG]);
    }

    // ---- robustness ----

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    fn random_value(r: &mut Rng, depth: usize) -> Value {
        let choice = if depth == 0 { r.below(6) } else { r.below(8) };
        match choice {
            0 => Value::Null,
            1 => Value::Bool(r.below(2) == 0),
            2 => json!(r.next() as i64 % 2000 - 1000),
            3 => json!((r.next() % 100_000) as f64 / 7.0 - 5000.0),
            4 => json!(r.pick(&[
                "",
                "a",
                "abc",
                "x/y",
                "10.0.0.1",
                "2024-01-01",
                "ÿ",
                "-1",
                "metadata",
                "\u{1}"
            ])),
            5 => json!(u64::MAX - r.next() % 10),
            6 => Value::Array((0..r.below(4)).map(|_| random_value(r, depth - 1)).collect()),
            _ => {
                let mut m = Map::new();
                for _ in 0..r.below(5) {
                    let k = r.pick(&[
                        "a",
                        "b",
                        "spec",
                        "metadata",
                        "apiVersion",
                        "kind",
                        "name",
                        "labels",
                        "x",
                    ]);
                    m.insert(k.to_string(), random_value(r, depth - 1));
                }
                Value::Object(m)
            }
        }
    }

    fn random_schema(r: &mut Rng, depth: usize) -> Value {
        const KEYWORDS: [&str; 33] = [
            "type",
            "format",
            "nullable",
            "default",
            "enum",
            "pattern",
            "maximum",
            "minimum",
            "exclusiveMaximum",
            "exclusiveMinimum",
            "multipleOf",
            "maxLength",
            "minLength",
            "maxItems",
            "minItems",
            "uniqueItems",
            "maxProperties",
            "minProperties",
            "required",
            "items",
            "properties",
            "additionalProperties",
            "allOf",
            "anyOf",
            "oneOf",
            "not",
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
            "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys",
            "$ref",
            "x-kubernetes-validations",
        ];
        let mut m = Map::new();
        for _ in 0..r.below(6) {
            let k = KEYWORDS[r.below(KEYWORDS.len())];
            let sub = depth > 0 && r.below(3) != 0;
            let v = match k {
                "type" => json!(r.pick(&[
                    "object", "array", "string", "integer", "number", "boolean", "null", "bogus"
                ])),
                "format" => json!(r.pick(&["int32", "date-time", "uri", "quantity", "email", "byte", "x"])),
                "pattern" => json!(r.pick(&["^[a-z]+$", "(", "\\d{2,3}", "a{", "[[:alpha:]]", "\\Qx", ""])),
                "maximum" | "minimum" | "multipleOf" => {
                    json!(r.pick(&["-1", "0", "0.5", "3", "1e300"]).parse::<f64>().unwrap_or(0.0))
                }
                "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties" | "minProperties" => {
                    json!(r.below(4) as i64 - 1)
                }
                "required" | "x-kubernetes-list-map-keys" => json!(["a", "name"]),
                "enum" => Value::Array((0..r.below(3)).map(|_| random_value(r, 1)).collect()),
                "default" => random_value(r, 2),
                "items" | "not" | "additionalProperties" if sub => random_schema(r, depth - 1),
                "properties" if sub => {
                    let mut p = Map::new();
                    for name in ["a", "name", "metadata", "spec"] {
                        if r.below(2) == 0 {
                            p.insert(name.to_string(), random_schema(r, depth - 1));
                        }
                    }
                    Value::Object(p)
                }
                "allOf" | "anyOf" | "oneOf" if sub => {
                    Value::Array((0..r.below(3)).map(|_| random_schema(r, depth - 1)).collect())
                }
                "x-kubernetes-list-type" => json!(r.pick(&["set", "map", "atomic", "x"])),
                "x-kubernetes-validations" => json!([{"rule": r.pick(&["", "self > 0", "a\nb"]), "reason": "x"}]),
                _ => random_value(r, 1),
            };
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    }

    /// `{"a": [{"a": [...1...]}]}` and its schema, built without recursion (2 schema nodes per level).
    fn nested(levels: usize) -> (Value, Value) {
        let mut value = json!(1);
        let mut schema = json!({"type": "integer"});
        for _ in 0..levels {
            let mut m = Map::new();
            m.insert("a".to_string(), Value::Array(vec![value]));
            value = Value::Object(m);
            let mut array = Map::new();
            array.insert("type".to_string(), json!("array"));
            array.insert("items".to_string(), schema);
            let mut props = Map::new();
            props.insert("a".to_string(), Value::Object(array));
            let mut object = Map::new();
            object.insert("type".to_string(), json!("object"));
            object.insert("properties".to_string(), Value::Object(props));
            schema = Value::Object(object);
        }
        (value, schema)
    }

    #[test]
    fn no_panics_on_random_schemas_and_values() {
        const DEEP: usize = 63;
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let schema = random_schema(&mut r, 4);
            let _ = check_structural(&schema, P);
            let compiled = CrdSchema::new(&schema);
            for _ in 0..3 {
                let mut v = random_value(&mut r, 5);
                let _ = compiled.validate(&v);
                let _ = compiled.prune(&mut v);
                compiled.apply_defaults(&mut v);
                let _ = compiled.validate(&v);
            }
        }
        // nesting up to serde_json's parse limit is handled; deeper schemas are refused, not overflowed
        let (deep, deep_schema) = nested(DEEP);
        assert!(validate(&deep, &deep_schema).is_empty());
        assert!(check_structural(&deep_schema, P).is_empty());
        let mut pruned = deep.clone();
        assert!(prune(&mut pruned, &deep_schema).is_empty());
        apply_defaults(&mut pruned, &deep_schema);
        assert_eq!(pruned, deep);
        let mut too_deep = json!({"type": "string"});
        for _ in 0..MAX_SCHEMA_DEPTH {
            let mut wrapper = json!({"type": "array"});
            if let Some(m) = wrapper.as_object_mut() {
                m.insert("items".to_string(), too_deep);
            }
            too_deep = wrapper;
        }
        let errs = check_structural(&too_deep, "p");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("nested too deeply"), "{errs:?}");
    }
}
