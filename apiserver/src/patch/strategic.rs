//! Strategic merge patch (`application/strategic-merge-patch+json`) as kube-apiserver applies it
//! (apimachinery `strategicpatch.StrategicMergeMapPatch`, server side: parallel lists are merged and
//! unmatched `null`s are dropped).
//!
//! Semantics, per field of the type being patched (metadata from [`SchemaMeta`]):
//! - maps merge recursively; `null` deletes a key; `{"$patch": "replace", ..}` replaces the map with
//!   the rest of the patch map; `{"$patch": "delete"}` turns it into `{}`; `"$retainKeys": [..]`
//!   first drops every key of the original map that is not listed (and rejects patch keys that are
//!   not listed), then merges;
//! - lists whose patch strategy is `merge` are merged: lists of maps by their merge key
//!   (`{key: v, "$patch": "delete"}` deletes all items with that key, a `{"$patch": "replace"}`
//!   element replaces the list with the other elements), lists of primitives as a set;
//!   `"$deleteFromPrimitiveList/<field>": [..]` removes values from a list (whatever its strategy);
//! - the merged list is ordered like upstream: patch items keep the patch order, items only in the
//!   original keep their order and are interleaved by their original position (so items new to the
//!   list come first unless the patch says otherwise), and `"$setElementOrder/<field>": [..]`
//!   imposes an order on the items it names;
//! - other lists, scalars and values of a different JSON type are replaced; fields without
//!   metadata (unknown types) therefore behave like JSON merge patch.
//!
//! Where upstream copies raw patch material into the result (new fields, replaced lists and maps,
//! appended list items) it may carry nested directives along, which kube-apiserver's typed decoding
//! then drops as unknown fields. This module drops them right away, so a result never contains a
//! directive key (`$patch`, `$retainKeys`, `$setElementOrder/..`, `$deleteFromPrimitiveList/..`).
//! Everything else, including upstream's ordering quirks, follows upstream.

use super::schema::SchemaMeta;
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

/// Why a strategic merge patch could not be applied. Messages follow upstream's wording.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SmpError {
    /// The original or the patch is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// A `$deleteFromPrimitiveList` key without a `/<field>` suffix.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveListFormat,
    /// `$retainKeys` is not a list, or the patch sets a key it does not list.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeysFormat,
    /// A `$setElementOrder` key without a `/<field>` suffix.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrderFormat,
    /// A list element is itself a list.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// `$patch` with a value other than `replace`/`delete` on a map (or other than
    /// `replace`/`delete`/`merge` on a list element).
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchType {
        /// The `$patch` value.
        directive: String,
        /// The map that carries it.
        map: String,
    },
    /// `{"$patch": "merge"}` as a list element.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A list element lacks the list's merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey {
        /// The element.
        map: String,
        /// The merge key.
        key: String,
    },
    /// A value has the wrong JSON type for where it is used (e.g. `$setElementOrder/x: "a"`).
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        /// Expected (Go) type.
        expected: &'static str,
        /// Received (Go) type.
        actual: &'static str,
    },
    /// A list of maps whose field declares a merge strategy but no merge key.
    #[error("cannot merge lists without merge key for {0}")]
    MissingMergeKey(&'static str),
    /// Elements of the original and patch lists have different JSON types.
    #[error("list element types are not identical: {0}")]
    MixedListElements(String),
    /// A list starts with a `null` element where element types must be compared.
    #[error("list elements must not be null: {0}")]
    NullListElement(String),
    /// Both lists are empty where an element type is needed (`$setElementOrder` on empty lists).
    #[error("no elements in any of the given slices")]
    NoListElements,
    /// A list that should hold maps holds something else at this index.
    #[error("value for key {0} is not a map")]
    NotAMap(usize),
    /// The patch list's order contradicts its `$setElementOrder` list.
    #[error("the order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}")]
    SetElementOrderMismatch {
        /// The patch list.
        patch: String,
        /// The `$setElementOrder` list.
        order: String,
    },
}

impl SmpError {
    /// HTTP status kube-apiserver answers with (`interpretStrategicMergePatchError`): 400 for
    /// malformed documents and directive formats, 422 for lists of lists, 500 (reason unknown) for
    /// everything else, which upstream passes through as a plain error.
    pub fn http_status(&self) -> u16 {
        match self {
            SmpError::BadJsonDoc
            | SmpError::BadPrimitiveListFormat
            | SmpError::BadRetainKeysFormat
            | SmpError::BadSetElementOrderFormat => 400,
            SmpError::ListOfLists => 422,
            _ => 500,
        }
    }
}

/// Applies `patch` to `original` (both JSON objects) for the type `type_name` in `meta`.
///
/// `type_name` is a type of `meta` (for built-in kinds from [`SchemaMeta::root`]); an unknown name
/// makes the whole patch behave like JSON merge patch. A `null` patch leaves the original as is.
pub fn apply(original: &Value, patch: &Value, meta: &SchemaMeta, type_name: &str) -> Result<Value, SmpError> {
    let Value::Object(original) = original else {
        return Err(SmpError::BadJsonDoc);
    };
    let patch = match patch {
        Value::Object(p) => p.clone(),
        Value::Null => return Ok(Value::Object(original.clone())),
        _ => return Err(SmpError::BadJsonDoc),
    };
    let merger = Merger { meta };
    let root = merger.node(Some(type_name));
    merger.merge_map(original.clone(), patch, root).map(Value::Object)
}

/// What the schema says about the value at some path.
#[derive(Clone, Copy, Debug)]
enum Node<'a> {
    /// No metadata: maps merge, lists are replaced.
    Unknown,
    /// A type of the schema table.
    Struct(&'a str),
    /// A map (`additionalProperties`) whose values have this type / are lists.
    MapOf { value: Option<&'a str>, lists: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    Default,
    Merge,
    Replace,
}

/// Patch metadata of one field: the node of its value (of its elements, for lists).
#[derive(Clone, Copy, Debug)]
struct Field<'a> {
    node: Node<'a>,
    strategy: Strategy,
    merge_key: &'a str,
}

const UNKNOWN_FIELD: Field<'static> = Field {
    node: Node::Unknown,
    strategy: Strategy::Default,
    merge_key: "",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Map,
    Primitive,
}

struct Merger<'a> {
    meta: &'a SchemaMeta,
}

impl<'a> Merger<'a> {
    fn node(&self, type_name: Option<&'a str>) -> Node<'a> {
        match type_name {
            Some(t) if self.meta.type_meta(t).is_some() => Node::Struct(t),
            _ => Node::Unknown,
        }
    }

    fn field(&self, node: Node<'a>, key: &str) -> Field<'a> {
        match node {
            Node::Unknown => UNKNOWN_FIELD,
            Node::MapOf { value, lists } => Field {
                node: if lists { Node::Unknown } else { self.node(value) },
                ..UNKNOWN_FIELD
            },
            Node::Struct(t) => {
                let Some(f) = self.meta.field(t, key) else {
                    return UNKNOWN_FIELD;
                };
                let parts = || f.strategy.as_deref().unwrap_or("").split(',').map(str::trim);
                let strategy = if parts().any(|p| p == MERGE_DIRECTIVE) {
                    Strategy::Merge
                } else if parts().any(|p| p == REPLACE_DIRECTIVE) {
                    Strategy::Replace
                } else {
                    Strategy::Default
                };
                let node = if f.map {
                    Node::MapOf {
                        value: f.type_name.as_deref(),
                        lists: f.map_of_lists,
                    }
                } else {
                    self.node(f.type_name.as_deref())
                };
                Field {
                    node,
                    strategy,
                    merge_key: f.key.as_deref().unwrap_or(""),
                }
            }
        }
    }

    /// Merges `patch` into `original` (upstream `mergeMap`).
    fn merge_map(&self, mut original: Obj, mut patch: Obj, node: Node<'a>) -> Result<Obj, SmpError> {
        if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
            return match directive.as_str() {
                Some(REPLACE_DIRECTIVE) => {
                    patch.shift_remove(DIRECTIVE_MARKER);
                    Ok(strip_directives_map(patch))
                }
                Some(DELETE_DIRECTIVE) => Ok(Obj::new()),
                _ => Err(unknown_patch_type(directive, &patch)),
            };
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.merge_ordered_lists(&mut original, &mut patch, node)?;

        for (key, patch_value) in patch {
            let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
                (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?.to_string(), true)
            } else {
                (key, false)
            };
            if patch_value.is_null() {
                original.shift_remove(&key);
                continue;
            }
            let Some(current) = original.get_mut(&key) else {
                if !is_delete_list && let Some(v) = clean_new_value(patch_value) {
                    original.insert(key, v);
                }
                continue;
            };
            if go_type(current) != go_type(&patch_value) {
                if !is_delete_list {
                    match clean_new_value(patch_value) {
                        Some(v) => *current = v,
                        None => {
                            original.shift_remove(&key);
                        }
                    }
                }
                continue;
            }
            match (current, patch_value) {
                (Value::Object(current), Value::Object(p)) => {
                    let field = self.field(node, &key);
                    let merged = if field.strategy == Strategy::Replace {
                        strip_directives_map(p)
                    } else {
                        self.merge_map(std::mem::take(current), p, field.node)?
                    };
                    *current = merged;
                }
                (Value::Array(current), Value::Array(p)) => {
                    let field = self.field(node, &key);
                    *current = self
                        .merge_slice_handler(std::mem::take(current), p, &field, is_delete_list)?
                        .merged;
                }
                // Same scalar type: the patch value wins (upstream does not check for a deletion
                // list here either).
                (current, p) => *current = p,
            }
        }
        Ok(original)
    }

    /// Processes the `$setElementOrder/<field>` directives of `patch` together with the patch lists
    /// they order (upstream `mergePatchIntoOriginal`); both are removed from `patch`.
    fn merge_ordered_lists(&self, original: &mut Obj, patch: &mut Obj, node: Node<'a>) -> Result<(), SmpError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
            .cloned()
            .collect();
        for directive_key in keys {
            let Some(order) = patch.shift_remove(&directive_key) else {
                continue;
            };
            let Value::Array(order) = order else {
                return Err(bad_arg(GO_SLICE, &order));
            };
            let key = extract_key(&directive_key, SET_ELEMENT_ORDER_PREFIX)?;
            // A stored `null` counts as absent: kube-apiserver's original comes from a typed object
            // and never holds one.
            let original_list = match original.get(key) {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => return Err(bad_arg(GO_SLICE, other)),
            };
            let patch_list = match patch.get(key) {
                None => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(other) => return Err(bad_arg(GO_SLICE, other)),
            };
            let field = self.field(node, key);
            validate_patch_with_order(patch_list.as_deref().unwrap_or(&[]), &order, field.merge_key)?;

            let patch_items = patch_list.clone().unwrap_or_default();
            let (merged, server_order) = match (original_list, patch_list) {
                (None, None) => continue,
                (Some(o), None) => (o.clone(), o),
                (None, Some(p)) => (remove_directives_list(p), Vec::new()),
                (Some(o), Some(p)) => {
                    let merge = self.merge_slice_handler(o, p, &field, false)?;
                    (merge.merged, merge.original_after)
                }
            };
            if server_order.is_empty() && patch_items.is_empty() {
                // Upstream fails here ("no elements in any of the given slices"), but its typed
                // original never holds an empty list (omitempty), so it never sees this case.
                original.insert(key.to_string(), Value::Array(merged));
                patch.shift_remove(key);
                continue;
            }
            let (ordered, server_only) = partition(merged, &order, field.merge_key)?;
            let kind = element_kind(&server_order, &patch_items)?;
            let both = normalize_element_order(ordered, server_only, &order, &server_order, field.merge_key, kind)?;
            original.insert(key.to_string(), Value::Array(both));
            patch.shift_remove(key);
        }
        Ok(())
    }

    /// Upstream `mergeSliceHandler`: merge when the field says so (deletion lists always), else
    /// replace.
    fn merge_slice_handler(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        field: &Field<'a>,
        is_delete_list: bool,
    ) -> Result<SliceMerge, SmpError> {
        if field.strategy == Strategy::Merge || is_delete_list {
            self.merge_slice(original, patch, field, is_delete_list)
        } else {
            Ok(SliceMerge {
                merged: strip_directives_list(patch),
                original_after: original,
            })
        }
    }

    /// Upstream `mergeSlice`.
    fn merge_slice(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        field: &Field<'a>,
        is_delete_list: bool,
    ) -> Result<SliceMerge, SmpError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(SliceMerge {
                merged: Vec::new(),
                original_after: original,
            });
        }
        let key = field.merge_key;
        let kind = element_kind(&original, &patch)?;
        let (merged, patch_order, server_order, original_after) = if kind == Kind::Primitive {
            if is_delete_list {
                let merged = original.iter().filter(|v| !patch.contains(v)).cloned().collect();
                return Ok(SliceMerge {
                    merged,
                    original_after: original,
                });
            }
            let mut both = original.clone();
            both.extend(patch.iter().cloned());
            (deduplicate_scalars(both), patch, original.clone(), original)
        } else {
            if key.is_empty() {
                return Err(SmpError::MissingMergeKey(match field.node {
                    Node::Struct(_) => "struct",
                    Node::MapOf { .. } => "map",
                    Node::Unknown => "interface",
                }));
            }
            self.merge_map_lists(original, patch, key, field.node)?
        };
        let (patch_items, server_only) = partition(merged, &patch_order, key)?;
        let merged = normalize_element_order(patch_items, server_only, &patch_order, &server_order, key, kind)?;
        Ok(SliceMerge { merged, original_after })
    }

    /// Merges lists of maps by `key` (upstream `mergeSliceWithSpecialElements` and
    /// `mergeSliceWithoutSpecialElements`). Returns the merged list, the patch items that order it,
    /// the server order, and the original list as upstream sees it afterwards.
    ///
    /// Upstream edits the original slice in place: deletions shift later elements left (leaving a
    /// stale copy at the end) and appended patch items reuse the freed slots. A caller that still
    /// holds the original slice (the `$setElementOrder` path) orders server-only items by that
    /// edited view, which upstream's own expectations rely on; `buf` models it.
    fn merge_map_lists(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        key: &str,
        elem: Node<'a>,
    ) -> Result<MapLists, SmpError> {
        let n = original.len();
        let mut buf = original;
        let mut len = n;
        let mut plain = Vec::new();
        let mut replace = false;
        for item in &patch {
            let Value::Object(m) = item else {
                return Err(bad_arg(GO_MAP, item));
            };
            let Some(directive) = m.get(DIRECTIVE_MARKER) else {
                plain.push(item.clone());
                continue;
            };
            match directive.as_str() {
                Some(DELETE_DIRECTIVE) => {
                    let Some(wanted) = m.get(key) else {
                        return Err(no_merge_key(m, key));
                    };
                    while let Some(i) = find_by_key(&buf[..len], key, wanted)? {
                        for j in i..len - 1 {
                            buf[j] = buf[j + 1].clone();
                        }
                        len -= 1;
                    }
                }
                Some(REPLACE_DIRECTIVE) => replace = true,
                Some(MERGE_DIRECTIVE) => return Err(SmpError::MergeDirectiveInList),
                _ => return Err(unknown_patch_type(directive, m)),
            }
        }
        if replace {
            let merged = strip_directives_list(plain);
            return Ok((merged.clone(), Vec::new(), merged, buf));
        }
        let server_order = buf[..len].to_vec();
        for item in &plain {
            let Value::Object(m) = item else {
                return Err(bad_arg(GO_MAP, item));
            };
            let Some(wanted) = m.get(key) else {
                return Err(no_merge_key(m, key));
            };
            match find_by_key(&buf[..len], key, wanted)? {
                Some(i) => {
                    let Value::Object(current) = std::mem::take(&mut buf[i]) else {
                        return Err(SmpError::NotAMap(i));
                    };
                    buf[i] = Value::Object(self.merge_map(current, m.clone(), elem)?);
                }
                None => {
                    let added = strip_directives(item.clone());
                    if len < buf.len() {
                        buf[len] = added;
                    } else {
                        buf.push(added);
                    }
                    len += 1;
                }
            }
        }
        let merged = buf[..len].to_vec();
        buf.truncate(n);
        Ok((merged, plain, server_order, buf))
    }
}

/// Merged list, patch order, server order, original after in-place edits.
type MapLists = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

struct SliceMerge {
    merged: Vec<Value>,
    /// The original list as upstream's caller sees it after the merge (see `merge_map_lists`).
    original_after: Vec<Value>,
}

/// Applies `$retainKeys` (upstream `applyRetainKeysDirective`, server side).
fn apply_retain_keys(original: &mut Obj, patch: &mut Obj) -> Result<(), SmpError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(SmpError::BadRetainKeysFormat);
    };
    let listed = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null() || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) || k.starts_with(SET_ELEMENT_ORDER_PREFIX) {
            continue;
        }
        if !listed(k) {
            return Err(SmpError::BadRetainKeysFormat);
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Checks that the patch list is ordered like its `$setElementOrder` list and only names items
/// that list names (deletions and other directive elements aside).
fn validate_patch_with_order(patch: &[Value], order: &[Value], key: &str) -> Result<(), SmpError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<Value> = if key.is_empty() {
        patch.to_vec()
    } else {
        extract_to_delete(patch.to_vec())?.0
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if non_delete[pi]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[si], key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(SmpError::SetElementOrderMismatch {
            patch: go_list(patch),
            order: go_list(order),
        });
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, key: &str) -> Result<bool, SmpError> {
    if key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else {
        return Err(bad_arg(GO_MAP, left));
    };
    let Value::Object(r) = right else {
        return Err(bad_arg(GO_MAP, right));
    };
    let Some(lv) = l.get(key) else {
        return Err(no_merge_key(l, key));
    };
    let Some(rv) = r.get(key) else {
        return Err(no_merge_key(r, key));
    };
    Ok(lv == rv)
}

/// Splits `list` into the items present in `by` and the rest (keeping order).
fn partition(list: Vec<Value>, by: &[Value], key: &str) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for v in list {
        let found = if key.is_empty() {
            by.contains(&v)
        } else {
            let Value::Object(m) = &v else {
                return Err(bad_arg(GO_MAP, &v));
            };
            let Some(wanted) = m.get(key) else {
                return Err(no_merge_key(m, key));
            };
            find_by_key(by, key, wanted)?.is_some()
        };
        if found { present.push(v) } else { absent.push(v) }
    }
    Ok((present, absent))
}

/// Index of the first map in `list` whose `key` equals `wanted`; every map before it must be one.
fn find_by_key(list: &[Value], key: &str, wanted: &Value) -> Result<Option<usize>, SmpError> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(SmpError::NotAMap(i));
        };
        if m.get(key) == Some(wanted) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Sorts `patch` by `patch_order` and `server_only` by `server_order`, then interleaves them
/// (upstream `normalizeElementOrder`).
fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: &str,
    kind: Kind,
) -> Result<Vec<Value>, SmpError> {
    let patch = normalize_slice_order(patch, patch_order, key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, key, kind)?;
    Ok(merge_sorted(server_only, patch, server_order, key, kind))
}

/// Stable-sorts `items` by their position in `order` (upstream `normalizeSliceOrder`, including its
/// comparator, which calls any pair involving an item absent from `order` "less").
fn normalize_slice_order(items: Vec<Value>, order: &[Value], key: &str, kind: Kind) -> Result<Vec<Value>, SmpError> {
    let (items, to_delete) = if kind == Kind::Map {
        for v in items.iter().chain(order) {
            let Value::Object(m) = v else {
                return Err(bad_arg(GO_MAP, v));
            };
            if !m.contains_key(key) {
                return Err(no_merge_key(m, key));
            }
        }
        extract_to_delete(items)?
    } else {
        (items, Vec::new())
    };
    let mut keyed: Vec<(Option<usize>, Value)> =
        items.into_iter().map(|v| (index_of(order, &v, key, kind), v)).collect();
    go_stable_sort(&mut keyed);
    let mut out: Vec<Value> = keyed.into_iter().map(|(_, v)| v).collect();
    out.extend(to_delete);
    Ok(out)
}

/// Splits a list of maps into items without and with `$patch: delete`.
fn extract_to_delete(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let (mut keep, mut delete) = (Vec::new(), Vec::new());
    for v in list {
        let Value::Object(m) = &v else {
            return Err(bad_arg(GO_MAP, &v));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// Position of `item` in `order`: by merge key value for maps (a missing key or a non-map counts
/// as `null`, as in upstream), by value for primitives.
fn index_of(order: &[Value], item: &Value, key: &str, kind: Kind) -> Option<usize> {
    match kind {
        Kind::Map => {
            let key_of = |v: &Value| v.as_object().and_then(|m| m.get(key)).filter(|k| !k.is_null()).cloned();
            let wanted = key_of(item);
            order.iter().position(|v| key_of(v) == wanted)
        }
        Kind::Primitive => order.iter().position(|v| v == item),
    }
}

/// Interleaves two sorted lists (upstream `mergeSortedSlice`): a `left` item goes first only when
/// both are in `server_order` and it comes earlier there.
fn merge_sorted(left: Vec<Value>, right: Vec<Value>, server_order: &[Value], key: &str, kind: Kind) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let left_first = matches!(
            (index_of(server_order, l, key, kind), index_of(server_order, r, key, kind)),
            (Some(li), Some(ri)) if li < ri
        );
        let next = if left_first { left.next() } else { right.next() };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    out
}

/// Go's `sort.SliceStable` (insertion-sorted blocks of 20, then SymMerge) with upstream's
/// comparator: `a < b` when both positions are known and `a`'s is smaller, and also whenever either
/// is unknown. For valid inputs this is a plain stable sort; the exact algorithm only matters for
/// the unknown case.
fn go_stable_sort<T>(data: &mut [(Option<usize>, T)]) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b);
            a = b;
            b += 2 * block;
        }
        if a + block < n {
            sym_merge(data, a, a + block, n);
        }
        block *= 2;
    }
}

fn go_less<T>(data: &[(Option<usize>, T)], i: usize, j: usize) -> bool {
    match (data[i].0, data[j].0) {
        (Some(x), Some(y)) => x < y,
        _ => true,
    }
}

fn insertion_sort<T>(data: &mut [(Option<usize>, T)], a: usize, b: usize) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && go_less(data, j, j - 1) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(data: &mut [(Option<usize>, T)], a: usize, m: usize, b: usize) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if go_less(data, h, a) { i = h + 1 } else { j = h }
        }
        for k in a..i - 1 {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !go_less(data, m, h) { i = h + 1 } else { j = h }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !go_less(data, p - c, c) { start = c + 1 } else { r = c }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b);
    }
}

fn rotate<T>(data: &mut [(Option<usize>, T)], a: usize, m: usize, b: usize) {
    let (mut i, mut j) = (m - a, b - m);
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [(Option<usize>, T)], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

/// Upstream `deduplicateScalars` (moves the last element into a duplicate's slot).
fn deduplicate_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < s.len() {
        let mut j = i + 1;
        while j < s.len() {
            if s[i] == s[j] {
                let last = s.len() - 1;
                s.swap(j, last);
                s.truncate(last);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    s
}

/// The element kind shared by the elements of both lists (upstream `sliceElementType`).
fn element_kind(a: &[Value], b: &[Value]) -> Result<Kind, SmpError> {
    let mut first: Option<&Value> = None;
    for v in a.iter().chain(b) {
        match first {
            None => {
                match v {
                    Value::Array(_) => return Err(SmpError::ListOfLists),
                    Value::Null => return Err(SmpError::NullListElement(go_lists(a, b))),
                    _ => {}
                }
                first = Some(v);
            }
            Some(f) if go_type(f) != go_type(v) => return Err(SmpError::MixedListElements(go_lists(a, b))),
            Some(_) => {}
        }
    }
    match first {
        Some(Value::Object(_)) => Ok(Kind::Map),
        Some(_) => Ok(Kind::Primitive),
        None => Err(SmpError::NoListElements),
    }
}

/// The field name after `<prefix>/`.
fn extract_key<'k>(key: &'k str, prefix: &str) -> Result<&'k str, SmpError> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ if prefix == SET_ELEMENT_ORDER_PREFIX => Err(SmpError::BadSetElementOrderFormat),
        _ => Err(SmpError::BadPrimitiveListFormat),
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Patch material that enters the result raw upstream: directive keys dropped, nothing else.
fn strip_directives(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives_map(m)),
        Value::Array(a) => Value::Array(strip_directives_list(a)),
        other => other,
    }
}

fn strip_directives_map(m: Obj) -> Obj {
    m.into_iter()
        .filter(|(k, _)| !is_directive_key(k))
        .map(|(k, v)| (k, strip_directives(v)))
        .collect()
}

fn strip_directives_list(a: Vec<Value>) -> Vec<Value> {
    a.into_iter().map(strip_directives).collect()
}

/// A patch value for a field the original lacks or holds with another type: `null` map entries
/// are dropped (upstream `discardNullValuesFromPatch`), maps carrying `$patch` are dropped
/// (upstream `removeDirectives`; `None` when the value itself is one), other directives stripped.
fn clean_new_value(v: Value) -> Option<Value> {
    remove_directives(discard_nulls(v))
}

fn discard_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, discard_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(discard_nulls).collect()),
        other => other,
    }
}

fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter(|(k, _)| !is_directive_key(k))
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(a) => Some(Value::Array(remove_directives_list(a))),
        other => Some(other),
    }
}

fn remove_directives_list(a: Vec<Value>) -> Vec<Value> {
    a.into_iter().filter_map(remove_directives).collect()
}

// ---- Go-flavoured rendering for error messages ----

/// Go's `reflect.TypeOf` name of a decoded JSON value (k8s JSON decodes integers as int64).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => GO_SLICE,
        Value::Object(_) => GO_MAP,
    }
}

fn bad_arg(expected: &'static str, actual: &Value) -> SmpError {
    let actual = if actual.is_null() {
        "%!s(<nil>)"
    } else {
        go_type(actual)
    };
    SmpError::BadArgType { expected, actual }
}

fn no_merge_key(m: &Obj, key: &str) -> SmpError {
    SmpError::NoMergeKey {
        map: go_map(m),
        key: key.to_string(),
    }
}

fn unknown_patch_type(directive: &Value, m: &Obj) -> SmpError {
    let directive = match directive {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        other => format!("%!s({}={})", go_type(other), go_value(other)),
    };
    SmpError::UnknownPatchType {
        directive,
        map: go_map(m),
    }
}

/// Go's `%v` of a decoded JSON value.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => s.clone(),
        Value::Array(a) => go_list(a),
        Value::Object(m) => go_map(m),
    }
}

fn go_list(a: &[Value]) -> String {
    format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" "))
}

fn go_lists(a: &[Value], b: &[Value]) -> String {
    format!("[{} {}]", go_list(a), go_list(b))
}

fn go_map(m: &Obj) -> String {
    let mut entries: Vec<(&String, &Value)> = m.iter().collect();
    entries.sort_by(|x, y| x.0.cmp(y.0));
    format!(
        "map[{}]",
        entries
            .iter()
            .map(|(k, v)| format!("{k}:{}", go_value(v)))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Go's `%v` of a float64 (`%g` with the shortest digits: exponent form below 1e-4 and from 1e6).
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else { return sci };
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (head, tail) = digits.split_at(1);
        let frac = if tail.is_empty() {
            String::new()
        } else {
            format!(".{tail}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{head}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let point = exp as usize + 1;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::schema::{FieldMeta, TypeMeta};

    const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
    const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
    const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    const WIDGET: &str = "test.Widget";

    enum Want {
        Result(&'static str),
        Error(&'static str),
    }

    struct Case {
        name: &'static str,
        type_name: &'static str,
        original: &'static str,
        patch: &'static str,
        want: Want,
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("bad test JSON {s}: {e}"))
    }

    /// A schema shaped like upstream's `MergeItem` test type: `items` merge by `name`, `plain` is
    /// replaced, `nums` merges as a set, `plainNums` is replaced, `labels` is a map, `spec` has the
    /// retainKeys strategy, `keyed` is `merge,retainKeys` by `name`, `blob` has the replace strategy.
    fn widget_schema() -> SchemaMeta {
        let field = |list: bool, key: Option<&str>, strategy: Option<&str>, ty: Option<&str>| FieldMeta {
            list,
            key: key.map(str::to_string),
            strategy: strategy.map(str::to_string),
            type_name: ty.map(str::to_string),
            ..Default::default()
        };
        let mut widget = TypeMeta::default();
        let props = &mut widget.props;
        props.insert("items".into(), field(true, Some("name"), Some("merge"), Some(WIDGET)));
        props.insert("plain".into(), field(true, None, None, Some(WIDGET)));
        props.insert("nums".into(), field(true, None, Some("merge"), None));
        props.insert("plainNums".into(), field(true, None, None, None));
        props.insert(
            "labels".into(),
            FieldMeta {
                map: true,
                ..Default::default()
            },
        );
        props.insert("spec".into(), field(false, None, Some("retainKeys"), Some(WIDGET)));
        props.insert(
            "keyed".into(),
            field(true, Some("name"), Some("merge,retainKeys"), Some(WIDGET)),
        );
        props.insert("blob".into(), field(false, None, Some("replace"), None));
        let mut meta = SchemaMeta::default();
        meta.types.insert(WIDGET.into(), widget);
        meta.roots.insert("test/v1/Widget".into(), WIDGET.into());
        meta
    }

    fn run(cases: &[Case], meta: &SchemaMeta) {
        for c in cases {
            let got = apply(&json(c.original), &json(c.patch), meta, c.type_name);
            match (&c.want, got) {
                (Want::Result(want), Ok(got)) => {
                    assert_eq!(
                        got,
                        json(want),
                        "{}: got {}",
                        c.name,
                        serde_json::to_string(&got).unwrap_or_default()
                    )
                }
                (Want::Error(want), Err(e)) => {
                    assert!(e.to_string().contains(want), "{}: error {e:?} lacks {want:?}", c.name)
                }
                (Want::Result(_), Err(e)) => panic!("{}: unexpected error {e}", c.name),
                (Want::Error(want), Ok(got)) => panic!("{}: expected error {want:?}, got {got}", c.name),
            }
        }
    }

    /// A deployment like the one the recordings patch (own names and values).
    const SHOP: &str = r#"{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "shop", "labels": {"app": "shop", "team": "web"}, "annotations": {"x": "1"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "shop"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {"containers": [
                    {"name": "app", "image": "shop:1", "args": ["--port=8080", "--verbose", "--tls"],
                     "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
                     "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"},
                               {"containerPort": 8443, "name": "https", "protocol": "TCP"}]},
                    {"name": "proxy", "image": "envoy:1", "command": ["envoy", "-c", "/etc/envoy.yaml"]}
                ]}
            }
        }
    }"#;

    /// `SHOP` with the containers replaced.
    fn shop_with(containers: &str) -> Value {
        let mut v = json(SHOP);
        v["spec"]["template"]["spec"]["containers"] = json(containers);
        v
    }

    fn app_with(field: &str, value: &str) -> String {
        let mut app = json(SHOP)["spec"]["template"]["spec"]["containers"][0].clone();
        app[field] = json(value);
        serde_json::to_string(&app).unwrap_or_default()
    }

    const PROXY: &str = r#"{"name": "proxy", "image": "envoy:1", "command": ["envoy", "-c", "/etc/envoy.yaml"]}"#;

    fn patch_deployment(patch: &str) -> Result<Value, SmpError> {
        apply(&json(SHOP), &json(patch), SchemaMeta::builtin(), DEPLOYMENT)
    }

    // ---- recorded kube-apiserver behaviour ----

    #[test]
    fn recorded_new_env_var_goes_first() {
        let got = patch_deployment(
            r#"{"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "REGION", "value": "eu"}]}]}}}}"#,
        );
        let env = r#"[{"name": "REGION", "value": "eu"}, {"name": "LOG_LEVEL", "value": "info"},
                      {"name": "PORT", "value": "8080"}]"#;
        let want = shop_with(&format!("[{}, {PROXY}]", app_with("env", env)));
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn recorded_patch_delete_removes_container() {
        let got = patch_deployment(
            r#"{"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}}"#,
        );
        assert_eq!(got, Ok(shop_with(&format!("[{}]", app_with("image", r#""shop:1""#)))));
    }

    #[test]
    fn recorded_set_element_order_reorders_containers() {
        let got = patch_deployment(
            r#"{"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}],
                "containers": [{"name": "app", "image": "shop:2"}]}}}}"#,
        );
        assert_eq!(
            got,
            Ok(shop_with(&format!("[{PROXY}, {}]", app_with("image", r#""shop:2""#))))
        );
    }

    #[test]
    fn recorded_retain_keys_clears_unlisted_strategy_fields() {
        let merged = patch_deployment(r#"{"spec": {"strategy": {"type": "Recreate"}}}"#).expect("merge");
        assert_eq!(
            merged["spec"]["strategy"],
            json(r#"{"type": "Recreate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}"#)
        );
        let retained = patch_deployment(r#"{"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}"#)
            .expect("retain");
        let mut want = json(SHOP);
        want["spec"]["strategy"] = json(r#"{"type": "Recreate"}"#);
        assert_eq!(retained, want);
    }

    #[test]
    fn recorded_delete_from_primitive_list_on_args() {
        let got = patch_deployment(
            r#"{"spec": {"template": {"spec": {"containers": [
                {"name": "app", "$deleteFromPrimitiveList/args": ["--verbose"]}]}}}}"#,
        );
        let want = shop_with(&format!(
            "[{}, {PROXY}]",
            app_with("args", r#"["--port=8080", "--tls"]"#)
        ));
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn recorded_ports_merge_then_replace() {
        let merged = patch_deployment(
            r#"{"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 9090, "name": "metrics"}, {"containerPort": 8080, "name": "web"}]}]}}}}"#,
        )
        .expect("merge");
        let ports = r#"[{"containerPort": 9090, "name": "metrics"},
                        {"containerPort": 8080, "name": "web", "protocol": "TCP"},
                        {"containerPort": 8443, "name": "https", "protocol": "TCP"}]"#;
        assert_eq!(merged, shop_with(&format!("[{}, {PROXY}]", app_with("ports", ports))));

        let replaced = apply(
            &merged,
            &json(
                r#"{"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [
                    {"$patch": "replace"}, {"containerPort": 7070, "name": "only"}]}]}}}}"#,
            ),
            SchemaMeta::builtin(),
            DEPLOYMENT,
        );
        let ports = r#"[{"containerPort": 7070, "name": "only"}]"#;
        assert_eq!(
            replaced,
            Ok(shop_with(&format!("[{}, {PROXY}]", app_with("ports", ports))))
        );
    }

    #[test]
    fn recorded_kubectl_apply_three_way_patch() {
        // What client-side `kubectl apply` sends after dropping env PORT and port 8443 and
        // bumping the image: a new last-applied annotation, $setElementOrder lists and deletions.
        let got = patch_deployment(
            r#"{
                "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"v\":2}\n"}},
                "spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "proxy"}],
                    "containers": [{
                        "$setElementOrder/env": [{"name": "LOG_LEVEL"}],
                        "$setElementOrder/ports": [{"containerPort": 8080}],
                        "env": [{"$patch": "delete", "name": "PORT"}],
                        "image": "shop:2",
                        "name": "app",
                        "ports": [{"$patch": "delete", "containerPort": 8443}]
                    }]
                }}}
            }"#,
        )
        .expect("apply");
        let mut app = json(&app_with("image", r#""shop:2""#));
        app["env"] = json(r#"[{"name": "LOG_LEVEL", "value": "info"}]"#);
        app["ports"] = json(r#"[{"containerPort": 8080, "name": "http", "protocol": "TCP"}]"#);
        let mut want = shop_with(&format!("[{app}, {PROXY}]"));
        want["metadata"]["annotations"] =
            json(r#"{"x": "1", "kubectl.kubernetes.io/last-applied-configuration": "{\"v\":2}\n"}"#);
        assert_eq!(got, want);
    }

    // ---- upstream's documented expectations (strategicpatch tests), on a test schema ----

    #[test]
    fn upstream_documented_cases() {
        use Want::{Error, Result};
        let cases = [
            Case {
                name: "unique scalars when merging lists",
                type_name: WIDGET,
                original: r#"{"nums": [1, 2]}"#,
                patch: r#"{"nums": [2, 3]}"#,
                want: Result(r#"{"nums": [1, 2, 3]}"#),
            },
            Case {
                name: "delete map from nested map",
                type_name: WIDGET,
                original: r#"{"labels": {"a": "1", "b": "1"}}"#,
                patch: r#"{"labels": {"$patch": "delete"}}"#,
                want: Result(r#"{"labels": {}}"#),
            },
            Case {
                name: "delete all items from merging list",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "a"}, {"name": "b"}]}"#,
                patch: r#"{"items": [{"$patch": "replace"}]}"#,
                want: Result(r#"{"items": []}"#),
            },
            Case {
                name: "merge empty merging lists",
                type_name: WIDGET,
                original: r#"{"items": []}"#,
                patch: r#"{"items": []}"#,
                want: Result(r#"{"items": []}"#),
            },
            Case {
                name: "delete all keys from map",
                type_name: WIDGET,
                original: r#"{"name": "a", "value": "b"}"#,
                patch: r#"{"$patch": "replace"}"#,
                want: Result("{}"),
            },
            Case {
                name: "add key and delete all keys from map",
                type_name: WIDGET,
                original: r#"{"name": "a", "value": "b"}"#,
                patch: r#"{"other": "c", "$patch": "replace"}"#,
                want: Result(r#"{"other": "c"}"#),
            },
            Case {
                name: "delete all duplicate entries in a merging list",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "a"}, {"name": "a"}, {"name": "b", "value": "x"},
                                        {"name": "c"}, {"name": "c"}]}"#,
                patch: r#"{"items": [{"name": "a", "$patch": "delete"}, {"name": "c", "$patch": "delete"}]}"#,
                want: Result(r#"{"items": [{"name": "b", "value": "x"}]}"#),
            },
            Case {
                name: "retainKeys field merges normally without the directive",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a", "value": "v"}}"#,
                patch: r#"{"spec": {"value": null, "other": "o"}}"#,
                want: Result(r#"{"spec": {"name": "a", "other": "o"}}"#),
            },
            Case {
                name: "preserve the order from the patch in a merging list",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}"#,
                patch: r#"{"items": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"},
                                     {"name": "2", "other": "x"}]}"#,
                want: Result(
                    r#"{"items": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"},
                                  {"name": "2", "value": "b", "other": "x"}]}"#,
                ),
            },
            Case {
                name: "server-only items keep their place relative to patched ones",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]}"#,
                patch: r#"{"items": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}"#,
                want: Result(
                    r#"{"items": [{"name": "2", "value": "b"}, {"name": "3", "value": "c"},
                                  {"name": "1", "value": "a"}]}"#,
                ),
            },
            Case {
                name: "preserve the order from the patch in a merging int list",
                type_name: WIDGET,
                original: r#"{"nums": [1, 2, 3]}"#,
                patch: r#"{"nums": [3, 1]}"#,
                want: Result(r#"{"nums": [2, 3, 1]}"#),
            },
            Case {
                name: "$setElementOrder may name items absent from the list",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "3"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
                           "items": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]}"#,
                want: Result(r#"{"items": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]}"#),
            },
            Case {
                name: "$setElementOrder alone reorders an int list",
                type_name: WIDGET,
                original: r#"{"nums": [1, 3]}"#,
                patch: r#"{"$setElementOrder/nums": [3, 2, 1]}"#,
                want: Result(r#"{"nums": [3, 1]}"#),
            },
            Case {
                name: "patch list order must match $setElementOrder",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                           "items": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]}"#,
                want: Error("doesn't match"),
            },
            Case {
                name: "int patch list order must match $setElementOrder",
                type_name: WIDGET,
                original: r#"{"nums": [1, 3, 2]}"#,
                patch: r#"{"$setElementOrder/nums": [1, 2, 3], "nums": [3, 1]}"#,
                want: Error("doesn't match"),
            },
            Case {
                name: "missing merge key",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "value": "a"}]}"#,
                patch: r#"{"items": [{"value": "b"}]}"#,
                want: Error("does not contain declared merge key: name"),
            },
            Case {
                name: "$deleteFromPrimitiveList of an absent value",
                type_name: WIDGET,
                original: r#"{"nums": [1, 2]}"#,
                patch: r#"{"$deleteFromPrimitiveList/nums": [3]}"#,
                want: Result(r#"{"nums": [1, 2]}"#),
            },
            Case {
                name: "$deleteFromPrimitiveList on a missing list adds nothing",
                type_name: WIDGET,
                original: r#"{"other": "x"}"#,
                patch: r#"{"$deleteFromPrimitiveList/nums": [3]}"#,
                want: Result(r#"{"other": "x"}"#),
            },
            Case {
                name: "$deleteFromPrimitiveList on a list without merge strategy",
                type_name: WIDGET,
                original: r#"{"plainNums": [1, 2, 3]}"#,
                patch: r#"{"$deleteFromPrimitiveList/plainNums": [2]}"#,
                want: Result(r#"{"plainNums": [1, 3]}"#),
            },
            Case {
                name: "delete items in lists of scalars with $setElementOrder",
                type_name: WIDGET,
                original: r#"{"nums": [1, 2, 3, 3, 4]}"#,
                patch: r#"{"$setElementOrder/nums": [1, 2], "$deleteFromPrimitiveList/nums": [3]}"#,
                want: Result(r#"{"nums": [1, 2, 4]}"#),
            },
            Case {
                name: "new items named by $setElementOrder",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "other": "a"}, {"name": "2", "value": "2", "other": "b"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
                           "items": [{"name": "4", "value": "4"}, {"name": "3", "value": "3"}]}"#,
                want: Result(
                    r#"{"items": [{"name": "4", "value": "4"}, {"name": "1", "other": "a"},
                                  {"name": "2", "value": "2", "other": "b"}, {"name": "3", "value": "3"}]}"#,
                ),
            },
            Case {
                name: "add and delete with a server-only item",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "2", "other": "b"}, {"name": "4", "other": "c"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "2"}, {"name": "3"}],
                           "items": [{"name": "3"}, {"name": "1", "$patch": "delete"}]}"#,
                want: Result(r#"{"items": [{"name": "2", "other": "b"}, {"name": "4", "other": "c"}, {"name": "3"}]}"#),
            },
            Case {
                name: "add and delete when the deleted item is the only one known",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "other": "a"}, {"name": "4", "other": "c"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "2"}, {"name": "3"}],
                           "items": [{"name": "2"}, {"name": "3"}, {"name": "1", "$patch": "delete"}]}"#,
                want: Result(r#"{"items": [{"name": "4", "other": "c"}, {"name": "2"}, {"name": "3"}]}"#),
            },
            Case {
                name: "deleting an absent item while adding one",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "3", "other": "a"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "2"}],
                           "items": [{"name": "2"}, {"name": "1", "$patch": "delete"}]}"#,
                want: Result(r#"{"items": [{"name": "2"}, {"name": "3", "other": "a"}]}"#),
            },
            Case {
                name: "nested merge with a deletion of an absent item",
                type_name: WIDGET,
                original: r#"{"name": "hi", "items": [{"name": "hello2"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "hello"}, {"name": "gone"}],
                           "items": [{"name": "hello"}, {"$patch": "delete", "name": "gone"}]}"#,
                want: Result(r#"{"name": "hi", "items": [{"name": "hello"}, {"name": "hello2"}]}"#),
            },
            Case {
                name: "$setElementOrder with server-only items in between",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "other": "a"}, {"name": "2"}, {"name": "9"}, {"name": "3"},
                                        {"name": "4"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]}"#,
                want: Result(
                    r#"{"items": [{"name": "2"}, {"name": "1", "other": "a"}, {"name": "9"}, {"name": "4"},
                                  {"name": "3"}]}"#,
                ),
            },
            Case {
                name: "$setElementOrder with trailing server-only item",
                type_name: WIDGET,
                original: r#"{"nums": [1, 3, 4, 2, 9]}"#,
                patch: r#"{"$setElementOrder/nums": [4, 2, 3, 1]}"#,
                want: Result(r#"{"nums": [4, 2, 3, 1, 9]}"#),
            },
            Case {
                name: "add an item to an int list and preserve order",
                type_name: WIDGET,
                original: r#"{"nums": [1, 4, 2]}"#,
                patch: r#"{"$setElementOrder/nums": [3, 1, 2], "nums": [3]}"#,
                want: Result(r#"{"nums": [3, 1, 4, 2]}"#),
            },
            Case {
                name: "$setElementOrder naming a duplicated key",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1"}, {"name": "2", "value": "d1"}, {"name": "3"},
                                        {"name": "2", "value": "d2"}, {"name": "4"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"},
                                                    {"name": "2"}]}"#,
                want: Result(
                    r#"{"items": [{"name": "2", "value": "d1"}, {"name": "2", "value": "d2"}, {"name": "1"},
                                  {"name": "4"}, {"name": "3"}]}"#,
                ),
            },
            Case {
                name: "replace a non-merging list nested in a merging list",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "other": "a", "plain": [{"name": "1"}, {"name": "2"}]},
                                        {"name": "2"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "1"}, {"name": "2"}],
                           "items": [{"name": "1", "plain": [{"name": "1", "value": "1"}]}]}"#,
                want: Result(
                    r#"{"items": [{"name": "1", "other": "a", "plain": [{"name": "1", "value": "1"}]},
                                  {"name": "2"}]}"#,
                ),
            },
            Case {
                name: "nested $setElementOrder inside a merged item",
                type_name: WIDGET,
                original: r#"{"items": [{"name": "1", "items": [{"name": "2", "value": "2", "other": "d"}]},
                                        {"name": "2"}]}"#,
                patch: r#"{"$setElementOrder/items": [{"name": "1"}, {"name": "2"}],
                           "items": [{"$setElementOrder/items": [{"name": "2"}, {"name": "1"}], "name": "1",
                                      "items": [{"name": "1", "value": "1"}]}]}"#,
                want: Result(
                    r#"{"items": [{"name": "1", "items": [{"name": "2", "value": "2", "other": "d"},
                                                          {"name": "1", "value": "1"}]},
                                  {"name": "2"}]}"#,
                ),
            },
            Case {
                name: "retainKeys clears fields of a map",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "t1", "value": "v"}}"#,
                patch: r#"{"spec": {"$retainKeys": ["name", "other"], "name": "t2", "other": "o"}}"#,
                want: Result(r#"{"spec": {"name": "t2", "other": "o"}}"#),
            },
            Case {
                name: "retainKeys with only the directive",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a", "value": "b", "other": "c"}}"#,
                patch: r#"{"spec": {"$retainKeys": ["name", "value"]}}"#,
                want: Result(r#"{"spec": {"name": "a", "value": "b"}}"#),
            },
            Case {
                name: "retainKeys with an ordered int list inside",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a", "nums": [1, 2, 3]}}"#,
                patch: r#"{"spec": {"$setElementOrder/nums": [1, 2, 4], "$retainKeys": ["nums", "name"],
                                    "nums": [4]}}"#,
                want: Result(r#"{"spec": {"name": "a", "nums": [1, 2, 4, 3]}}"#),
            },
            Case {
                name: "retainKeys with deletions from a nested int list",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a", "nums": [1, 2, 3, 4]}}"#,
                patch: r#"{"spec": {"$retainKeys": ["nums", "name"], "nums": [5],
                                    "$deleteFromPrimitiveList/nums": [2], "$setElementOrder/nums": [1, 3, 5]}}"#,
                want: Result(r#"{"spec": {"name": "a", "nums": [1, 3, 5, 4]}}"#),
            },
            Case {
                name: "retainKeys with a nested merging list",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a", "items": [{"name": "a"}, {"name": "b"}, {"name": "x"}]}}"#,
                patch: r#"{"spec": {"$retainKeys": ["items", "name"], "$setElementOrder/items": [{"name": "a"}],
                                    "items": [{"name": "b", "$patch": "delete"}]}}"#,
                want: Result(r#"{"spec": {"name": "a", "items": [{"name": "a"}, {"name": "x"}]}}"#),
            },
            Case {
                name: "retainKeys in a merging list item",
                type_name: WIDGET,
                original: r#"{"keyed": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]}"#,
                patch: r#"{"$setElementOrder/keyed": [{"name": "bar"}, {"name": "foo"}],
                           "keyed": [{"$retainKeys": ["name", "value"], "name": "foo"}]}"#,
                want: Result(r#"{"keyed": [{"name": "bar"}, {"name": "foo", "value": "a"}]}"#),
            },
            Case {
                name: "patch keys must be listed in retainKeys",
                type_name: WIDGET,
                original: r#"{"spec": {"name": "a"}}"#,
                patch: r#"{"spec": {"$retainKeys": ["name"], "value": "v"}}"#,
                want: Error("invalid patch format of retainKeys"),
            },
            Case {
                name: "replace strategy replaces a map",
                type_name: WIDGET,
                original: r#"{"name": "o", "blob": {"some": "generic", "yaml": "inside"}}"#,
                patch: r#"{"blob": {"newly": "modified", "yaml": "inside"}}"#,
                want: Result(r#"{"name": "o", "blob": {"newly": "modified", "yaml": "inside"}}"#),
            },
            Case {
                name: "defined nulls of new fields are dropped",
                type_name: WIDGET,
                original: r#"{"name": "a", "other": "x"}"#,
                patch: r#"{"name": "b", "value": "v", "other": null, "missing": null}"#,
                want: Result(r#"{"name": "b", "value": "v"}"#),
            },
        ];
        run(&cases, &widget_schema());
    }

    // ---- built-in kinds ----

    #[test]
    fn builtin_semantics() {
        use Want::{Error, Result};
        let cases = [
            Case {
                name: "finalizers merge as a set, new ones first",
                type_name: OBJECT_META,
                original: r#"{"finalizers": ["a", "b"]}"#,
                patch: r#"{"finalizers": ["c"]}"#,
                want: Result(r#"{"finalizers": ["c", "a", "b"]}"#),
            },
            Case {
                name: "finalizers: a known value anchors the new one after it",
                type_name: OBJECT_META,
                original: r#"{"finalizers": ["a", "b"]}"#,
                patch: r#"{"finalizers": ["b", "c"]}"#,
                want: Result(r#"{"finalizers": ["a", "b", "c"]}"#),
            },
            Case {
                name: "finalizers with $setElementOrder and a deletion",
                type_name: OBJECT_META,
                original: r#"{"finalizers": ["a", "b", "c"]}"#,
                patch: r#"{"$setElementOrder/finalizers": ["a", "b", "d"], "finalizers": ["d"],
                           "$deleteFromPrimitiveList/finalizers": ["c"]}"#,
                want: Result(r#"{"finalizers": ["a", "b", "d"]}"#),
            },
            Case {
                name: "ownerReferences merge by uid",
                type_name: OBJECT_META,
                original: r#"{"ownerReferences": [{"uid": "u1", "name": "a", "kind": "ReplicaSet"}]}"#,
                patch: r#"{"ownerReferences": [{"uid": "u1", "controller": true}]}"#,
                want: Result(
                    r#"{"ownerReferences": [{"uid": "u1", "name": "a", "kind": "ReplicaSet", "controller": true}]}"#,
                ),
            },
            Case {
                name: "labels: null deletes, others merge",
                type_name: OBJECT_META,
                original: r#"{"labels": {"a": "1", "b": "2"}}"#,
                patch: r#"{"labels": {"a": null, "c": "3"}}"#,
                want: Result(r#"{"labels": {"b": "2", "c": "3"}}"#),
            },
            Case {
                name: "$patch: replace on a map field",
                type_name: OBJECT_META,
                original: r#"{"labels": {"a": "1", "b": "2"}}"#,
                patch: r#"{"labels": {"$patch": "replace", "c": "3"}}"#,
                want: Result(r#"{"labels": {"c": "3"}}"#),
            },
            Case {
                name: "tolerations are replaced wholesale",
                type_name: POD_SPEC,
                original: r#"{"tolerations": [{"key": "a", "operator": "Exists"}]}"#,
                patch: r#"{"tolerations": [{"key": "b", "operator": "Exists"}]}"#,
                want: Result(r#"{"tolerations": [{"key": "b", "operator": "Exists"}]}"#),
            },
            Case {
                name: "imagePullSecrets merge by name",
                type_name: POD_SPEC,
                original: r#"{"imagePullSecrets": [{"name": "a"}]}"#,
                patch: r#"{"imagePullSecrets": [{"name": "b"}]}"#,
                want: Result(r#"{"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}"#),
            },
            Case {
                name: "volumeMounts merge by mountPath",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/a"}]}]}"#,
                patch: r#"{"containers": [{"name": "c", "volumeMounts": [{"name": "w", "mountPath": "/a", "readOnly": true}]}]}"#,
                want: Result(
                    r#"{"containers": [{"name": "c", "volumeMounts": [{"name": "w", "mountPath": "/a", "readOnly": true}]}]}"#,
                ),
            },
            Case {
                name: "volume source switch with $retainKeys",
                type_name: POD_SPEC,
                original: r#"{"volumes": [{"name": "data", "hostPath": {"path": "/srv"}}, {"name": "tmp", "emptyDir": {}}]}"#,
                patch: r#"{"volumes": [{"name": "data", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}]}"#,
                want: Result(r#"{"volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]}"#),
            },
            Case {
                name: "new list field: directive elements are dropped",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "$patch": "delete"}]}"#,
                want: Result(r#"{"containers": [{"name": "c"}], "volumes": [{"name": "a", "emptyDir": {}}]}"#),
            },
            Case {
                name: "new map field: nulls and nested directives are dropped",
                type_name: OBJECT_META,
                original: r#"{"name": "x"}"#,
                patch: r#"{"labels": {"a": "1", "b": null}, "ownerReferences": [{"uid": "u", "$setElementOrder/x": []}]}"#,
                want: Result(r#"{"name": "x", "labels": {"a": "1"}, "ownerReferences": [{"uid": "u"}]}"#),
            },
            Case {
                name: "new map field carrying $patch is not created",
                type_name: DEPLOYMENT,
                original: r#"{"spec": {"replicas": 1}}"#,
                patch: r#"{"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}"#,
                want: Result(r#"{"spec": {"replicas": 1}}"#),
            },
            Case {
                name: "$setElementOrder for an absent list is consumed",
                type_name: POD_SPEC,
                original: r#"{"restartPolicy": "Always"}"#,
                patch: r#"{"$setElementOrder/initContainers": [{"name": "x"}]}"#,
                want: Result(r#"{"restartPolicy": "Always"}"#),
            },
            Case {
                name: "$setElementOrder with a new list",
                type_name: POD_SPEC,
                original: r#"{"restartPolicy": "Always"}"#,
                patch: r#"{"$setElementOrder/initContainers": [{"name": "a"}, {"name": "b"}],
                           "initContainers": [{"name": "a"}, {"name": "b", "image": "i"}]}"#,
                want: Result(
                    r#"{"restartPolicy": "Always", "initContainers": [{"name": "a"}, {"name": "b", "image": "i"}]}"#,
                ),
            },
            Case {
                name: "stored empty list with $setElementOrder only",
                type_name: OBJECT_META,
                original: r#"{"finalizers": []}"#,
                patch: r#"{"$setElementOrder/finalizers": ["a"]}"#,
                want: Result(r#"{"finalizers": []}"#),
            },
            Case {
                name: "stored null list with $setElementOrder counts as absent",
                type_name: POD_SPEC,
                original: r#"{"initContainers": null}"#,
                patch: r#"{"$setElementOrder/initContainers": [{"name": "a"}], "initContainers": [{"name": "a"}]}"#,
                want: Result(r#"{"initContainers": [{"name": "a"}]}"#),
            },
            Case {
                name: "value of another type replaces",
                type_name: DEPLOYMENT,
                original: r#"{"spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}}}"#,
                patch: r#"{"spec": {"replicas": "2", "selector": "none"}}"#,
                want: Result(r#"{"spec": {"replicas": "2", "selector": "none"}}"#),
            },
            Case {
                name: "unknown type: maps merge, lists replace",
                type_name: "example.com.v1.Unknown",
                original: r#"{"spec": {"list": [1, 2], "map": {"a": 1, "b": 2}, "keep": true}}"#,
                patch: r#"{"spec": {"list": [3], "map": {"a": null, "c": 3}}}"#,
                want: Result(r#"{"spec": {"list": [3], "map": {"b": 2, "c": 3}, "keep": true}}"#),
            },
            Case {
                name: "unknown type: $patch delete on a map gives an empty map",
                type_name: "example.com.v1.Unknown",
                original: r#"{"spec": {"a": 1}}"#,
                patch: r#"{"spec": {"$patch": "delete"}}"#,
                want: Result(r#"{"spec": {}}"#),
            },
            Case {
                name: "$deleteFromPrimitiveList: null removes the whole list",
                type_name: OBJECT_META,
                original: r#"{"finalizers": ["a"], "name": "x"}"#,
                patch: r#"{"$deleteFromPrimitiveList/finalizers": null}"#,
                want: Result(r#"{"name": "x"}"#),
            },
            Case {
                name: "$patch: merge on a map is rejected",
                type_name: OBJECT_META,
                original: r#"{"labels": {"a": "1"}}"#,
                patch: r#"{"labels": {"$patch": "merge", "b": "2"}}"#,
                want: Error("unknown patch type: merge in map: map[$patch:merge b:2]"),
            },
            Case {
                name: "unknown $patch value in a list",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"containers": [{"name": "c", "$patch": "bogus"}]}"#,
                want: Error("unknown patch type: bogus in map: map[$patch:bogus name:c]"),
            },
            Case {
                name: "non-string $patch value",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"containers": [{"name": "c", "$patch": 1}]}"#,
                want: Error("unknown patch type: %!s(int64=1) in map"),
            },
            Case {
                name: "$patch: merge in a list",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"containers": [{"name": "c", "$patch": "merge"}]}"#,
                want: Error("merging lists cannot yet be specified in the patch"),
            },
            Case {
                name: "$patch: delete without the merge key",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"containers": [{"$patch": "delete"}]}"#,
                want: Error("map: map[$patch:delete] does not contain declared merge key: name"),
            },
            Case {
                name: "$setElementOrder must be a list",
                type_name: POD_SPEC,
                original: r#"{"containers": [{"name": "c"}]}"#,
                patch: r#"{"$setElementOrder/containers": "c"}"#,
                want: Error("expected a []interface {}, but received a string"),
            },
            Case {
                name: "$setElementOrder without a field",
                type_name: POD_SPEC,
                original: r#"{}"#,
                patch: r#"{"$setElementOrder": []}"#,
                want: Error("invalid patch format of setElementOrder list"),
            },
            Case {
                name: "$deleteFromPrimitiveList without a field",
                type_name: OBJECT_META,
                original: r#"{}"#,
                patch: r#"{"$deleteFromPrimitiveList": ["a"]}"#,
                want: Error("invalid patch format of primitive list"),
            },
            Case {
                name: "$retainKeys must be a list",
                type_name: DEPLOYMENT,
                original: r#"{"spec": {"strategy": {"type": "Recreate"}}}"#,
                patch: r#"{"spec": {"strategy": {"$retainKeys": "type"}}}"#,
                want: Error("invalid patch format of retainKeys"),
            },
            Case {
                name: "lists of lists",
                type_name: OBJECT_META,
                original: r#"{"finalizers": [["a"]]}"#,
                patch: r#"{"finalizers": [["b"]]}"#,
                want: Error("lists of lists are not supported"),
            },
            Case {
                name: "mixed element types",
                type_name: OBJECT_META,
                original: r#"{"finalizers": ["a"]}"#,
                patch: r#"{"finalizers": [{"b": 1}]}"#,
                want: Error("list element types are not identical: [[a] [map[b:1]]]"),
            },
            Case {
                name: "primitives in a keyed list",
                type_name: POD_SPEC,
                original: r#"{"containers": ["a"]}"#,
                patch: r#"{"containers": ["b"]}"#,
                want: Error("expected a map[string]interface {}, but received a string"),
            },
        ];
        run(&cases, SchemaMeta::builtin());
    }

    #[test]
    fn non_object_documents_are_rejected_and_null_patch_is_a_no_op() {
        let meta = SchemaMeta::builtin();
        let original = json(r#"{"a": 1}"#);
        assert_eq!(
            apply(&original, &json("[1]"), meta, DEPLOYMENT),
            Err(SmpError::BadJsonDoc)
        );
        assert_eq!(
            apply(&json("3"), &json("{}"), meta, DEPLOYMENT),
            Err(SmpError::BadJsonDoc)
        );
        assert_eq!(apply(&original, &Value::Null, meta, DEPLOYMENT), Ok(original.clone()));
        assert_eq!(SmpError::BadJsonDoc.http_status(), 400);
        assert_eq!(SmpError::ListOfLists.http_status(), 422);
        assert_eq!(SmpError::MergeDirectiveInList.http_status(), 500);
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(-0.25), "-0.25");
        assert_eq!(go_float(123456.5), "123456.5");
        assert_eq!(go_float(1234567.5), "1.2345675e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1e21), "1e+21");
    }

    /// Small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
            xs[self.below(xs.len() as u64) as usize]
        }
    }

    const KEYS: &[&str] = &[
        "spec",
        "template",
        "metadata",
        "containers",
        "env",
        "ports",
        "name",
        "value",
        "containerPort",
        "args",
        "finalizers",
        "labels",
        "strategy",
        "type",
        "volumes",
        "items",
        "nums",
        "plain",
        "keyed",
        "blob",
        "uid",
        "ownerReferences",
        "tolerations",
        "selector",
        "matchLabels",
        "emptyDir",
        "hostPath",
        "rollingUpdate",
    ];
    const DIRECTIVES: &[&str] = &[
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$setElementOrder/env",
        "$setElementOrder/finalizers",
        "$setElementOrder/items",
        "$setElementOrder/nums",
        "$deleteFromPrimitiveList/finalizers",
        "$deleteFromPrimitiveList/args",
        "$deleteFromPrimitiveList/nums",
        "$setElementOrder",
        "$deleteFromPrimitiveList",
    ];
    const STRINGS: &[&str] = &["delete", "replace", "merge", "a", "b", "c", "web", "name", "type", ""];

    fn gen_value(rng: &mut Rng, depth: u32, directives: bool) -> Value {
        let choice = if depth == 0 { rng.below(4) } else { rng.below(8) };
        match choice {
            0 => Value::Null,
            1 => Value::from(rng.below(4) as i64),
            2 => Value::from(rng.pick(STRINGS)),
            3 => Value::Bool(rng.below(2) == 0),
            4 | 5 => {
                let len = rng.below(4);
                Value::Array((0..len).map(|_| gen_value(rng, depth - 1, directives)).collect())
            }
            _ => Value::Object(gen_map(rng, depth - 1, directives)),
        }
    }

    fn gen_map(rng: &mut Rng, depth: u32, directives: bool) -> Obj {
        let mut m = Obj::new();
        for _ in 0..rng.below(5) {
            let key = if directives && rng.below(3) == 0 {
                rng.pick(DIRECTIVES)
            } else {
                rng.pick(KEYS)
            };
            let value = if key == "$patch" {
                Value::from(rng.pick(STRINGS))
            } else {
                gen_value(rng, depth, directives)
            };
            m.insert(key.to_string(), value);
        }
        m
    }

    fn has_directive_key(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| is_directive_key(k) || has_directive_key(v)),
            Value::Array(a) => a.iter().any(has_directive_key),
            _ => false,
        }
    }

    #[test]
    fn fuzz_apply_never_panics_and_never_leaks_directives() {
        let builtin = SchemaMeta::builtin();
        let widget = widget_schema();
        let targets: [(&SchemaMeta, &str); 5] = [
            (builtin, DEPLOYMENT),
            (builtin, POD_SPEC),
            (builtin, OBJECT_META),
            (&widget, WIDGET),
            (builtin, "no.such.Type"),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut ok, mut err) = (0, 0);
        for i in 0..20_000 {
            let (meta, type_name) = targets[i % targets.len()];
            let original = Value::Object(gen_map(&mut rng, 4, false));
            let patch = Value::Object(gen_map(&mut rng, 4, true));
            match apply(&original, &patch, meta, type_name) {
                Ok(result) => {
                    ok += 1;
                    assert!(
                        !has_directive_key(&result),
                        "directive leaked: {original} + {patch} = {result}"
                    );
                }
                Err(e) => {
                    err += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            assert_eq!(apply(&original, &json("{}"), meta, type_name), Ok(original.clone()));
        }
        assert!(ok > 1000 && err > 100, "generator too one-sided: {ok} ok, {err} errors");
    }

    #[test]
    fn go_stable_sort_matches_a_stable_sort_for_known_positions() {
        let mut rng = Rng(42);
        for len in 0..100 {
            let mut data: Vec<(Option<usize>, usize)> = (0..len).map(|i| (Some(rng.below(10) as usize), i)).collect();
            let mut want = data.clone();
            want.sort_by_key(|(k, _)| *k);
            go_stable_sort(&mut data);
            assert_eq!(data, want, "len {len}");
        }
        // Comparisons with an unknown position always answer "less", so later items pass it.
        let mut data = vec![(None, 'c'), (Some(0), 'a'), (Some(1), 'b')];
        go_stable_sort(&mut data);
        assert_eq!(data.iter().map(|(_, c)| *c).collect::<String>(), "abc");
    }
}
