//! Kubernetes label selectors and field selectors, evaluated over `serde_json::Value` objects.
//!
//! This module reproduces kube-apiserver's behaviour for the `labelSelector` and `fieldSelector`
//! query parameters: the grammar, the validation rules and the exact error messages (which end up
//! in the `message` of a 400 `BadRequest` `Status`), and the matching semantics.
//!
//! * [`LabelSelector`] follows apimachinery's `pkg/labels` parser (`k=v`, `k==v`, `k!=v`,
//!   `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`, comma = AND).
//! * [`FieldSelector`] follows apimachinery's `pkg/fields` parser (`=`, `==`, `!=`, backslash
//!   escapes, comma = AND), plus the per-resource field-label checks kube-apiserver performs
//!   before listing or watching ([`FieldSelector::validate_for`], [`supported_fields`]).
//!
//! Selectors are parsed once; matching does not allocate (except through a caller-supplied
//! extractor passed to [`FieldSelector::matches`]).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A selector that kube-apiserver would reject. The `Display` text is exactly the message
/// kube-apiserver puts in the 400 `BadRequest` `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The `labelSelector` could not be parsed or one of its keys/values is invalid.
    #[error("{0}")]
    InvalidLabelSelector(String),
    /// The `fieldSelector` could not be parsed (bad term or bad escape sequence).
    #[error("{0}")]
    InvalidFieldSelector(String),
    /// The `fieldSelector` names a field the resource does not support.
    #[error("{message}")]
    UnsupportedField {
        /// The offending field label, as written by the client.
        field: String,
        /// kube-apiserver's message for it.
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Shared helpers: Go-compatible quoting and validation messages
// ---------------------------------------------------------------------------------------------

/// Quote a string the way Go's `%q` verb does (used in `field.Invalid` messages).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x1_0000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Approximation of Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space are printable; controls, format characters, separators other than U+0020
/// and private-use characters are not.
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_ascii() {
        return c.is_ascii_graphic();
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(
        u,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0xE0001
            | 0xE0020..=0xE007F
            | 0xE000..=0xF8FF
            | 0xF_0000..=0xF_FFFD
            | 0x10_0000..=0x10_FFFD
    );
    !format_or_private
}

/// `field.Invalid(path, value, detail).Error()` for a string value.
fn invalid_value(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {}: {detail}", go_quote(value))
}

/// `content.RegexError`.
fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{re}')");
    }
    let mut out = String::from(msg);
    out.push_str(" (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(ex);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(re);
    out.push_str("')");
    out
}

/// `content.MaxLenError`.
fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_MAX: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX: usize = 253;

/// Matches `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$` (label key name part, non-empty label value).
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    match b {
        [] => false,
        [only] => only.is_ascii_alphanumeric(),
        [first, middle @ .., last] => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && middle
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
    }
}

/// Matches the lowercase RFC 1123 subdomain regex (no length check).
fn is_dns1123_subdomain(s: &str) -> bool {
    let lower_alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| match label.as_bytes() {
        [] => false,
        [only] => lower_alnum(only),
        [first, middle @ .., last] => {
            lower_alnum(first) && lower_alnum(last) && middle.iter().all(|c| lower_alnum(c) || *c == b'-')
        }
    })
}

/// `content.IsLabelKey` (a.k.a. `validation.IsQualifiedName`): the list of problems with a key.
fn label_key_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let name = match value.split_once('/') {
        None => value,
        Some((_, suffix)) if suffix.contains('/') => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
        Some((prefix, suffix)) => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > DNS1123_SUBDOMAIN_MAX {
                    errs.push(format!("prefix part {}", max_len_error(DNS1123_SUBDOMAIN_MAX)));
                }
                if !is_dns1123_subdomain(prefix) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"])
                    ));
                }
            }
            suffix
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_KEY_MAX {
        errs.push(format!("name part {}", max_len_error(LABEL_KEY_MAX)));
    }
    if !is_label_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// `content.IsLabelValue`: the list of problems with a label value.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(max_len_error(LABEL_VALUE_MAX));
    }
    if !value.is_empty() && !is_label_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Whether `key` is a valid label key (optional DNS-1123 subdomain prefix and `/`, then a name of
/// at most 63 characters matching `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`).
pub fn is_valid_label_key(key: &str) -> bool {
    label_key_errors(key).is_empty()
}

/// Whether `value` is a valid label value (empty, or at most 63 characters matching
/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`).
pub fn is_valid_label_value(value: &str) -> bool {
    label_value_errors(value).is_empty()
}

/// `utilerrors.NewAggregate(...).Error()` over already-rendered messages (deduplicated).
fn aggregate(errs: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(errs.len());
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

/// The operator of one label-selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `k in (a,b)`: the key exists and its value is one of the values.
    In,
    /// `k notin (a,b)`: the key is absent or its value is none of the values.
    NotIn,
    /// `k=v`: the key exists with that value.
    Equals,
    /// `k==v`: same as [`Operator::Equals`].
    DoubleEquals,
    /// `k!=v`: the key is absent or has another value.
    NotEquals,
    /// `k`: the key exists.
    Exists,
    /// `!k`: the key does not exist.
    DoesNotExist,
    /// `k>n`: the key exists and its value is an integer greater than `n`.
    GreaterThan,
    /// `k<n`: the key exists and its value is an integer less than `n`.
    LessThan,
}

impl Operator {
    /// The operator's name in apimachinery's `selection.Operator` vocabulary.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement of a [`LabelSelector`] (all requirements are ANDed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated, as apimachinery's parser produces them.
    values: Vec<String>,
    /// The parsed bound for `gt` / `lt` (0 otherwise).
    bound: i64,
}

impl Requirement {
    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted and deduplicated (empty for `exists` / `!`).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &Value) -> bool {
        match v.as_str() {
            Some(s) => self.values.iter().any(|x| x == s),
            None => false,
        }
    }

    /// Whether the requirement holds for the given labels (`None` = no labels at all).
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let found = labels.and_then(|m| m.get(self.key.as_str()));
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => found.is_some_and(|v| self.has_value(v)),
            Operator::NotIn | Operator::NotEquals => found.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                match found.and_then(Value::as_str).and_then(|s| s.parse::<i64>().ok()) {
                    Some(n) if self.operator == Operator::GreaterThan => n > self.bound,
                    Some(n) => n < self.bound,
                    None => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Renders like apimachinery's `Requirement.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parens {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if parens {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed Kubernetes label selector (the `labelSelector` query parameter).
///
/// Requirements are sorted by key, as apimachinery does, so [`fmt::Display`] output is canonical.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parse a label selector with kube-apiserver's grammar and error messages.
    ///
    /// Supported: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`,
    /// requirements separated by commas (AND), whitespace (space, tab, CR, LF) anywhere between
    /// tokens. Keys must be valid label keys and values valid label values (values may be empty).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser { items: lex(s), pos: 0 };
        let mut requirements = parser.parse().map_err(SelectorError::InvalidLabelSelector)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Whether this selector matches every object (it has no requirements).
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether all requirements hold for the given labels (`None` = the object has no labels).
    /// `!=` and `notin` match objects lacking the key; `gt`/`lt` need an integer value.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// [`LabelSelector::matches`] applied to `obj["metadata"]["labels"]`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        let labels = obj
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.matches(labels)
    }

    /// If the selector requires `label` to have one specific value (`=`, `==`, or `in` with a
    /// single value), return it (apimachinery's `RequiresExactMatch`).
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [only]) => Some(only),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Renders like apimachinery's `Selector.String()` (requirements joined by commas).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(r, f)?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelSelector::parse(s)
    }
}

// --- lexer ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone, Copy)]
struct Item<'a> {
    tok: Tok,
    lit: &'a str,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn special_token(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

/// Byte-oriented lexer with the same state machine as apimachinery's (a NUL byte reads like the
/// end of input, exactly as there).
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn read(&mut self) -> u8 {
        match self.src.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        // Boundaries always sit next to ASCII bytes or at the ends, so they are char boundaries.
        self.src.get(start..end).unwrap_or("")
    }

    fn lex(&mut self) -> Item<'a> {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return Item {
                tok: Tok::EndOfString,
                lit: "",
            };
        }
        self.unread();
        if is_special(ch) {
            self.scan_special()
        } else {
            self.scan_identifier()
        }
    }

    fn scan_identifier(&mut self) -> Item<'a> {
        let start = self.pos;
        let end = loop {
            let at = self.pos;
            let ch = self.read();
            if ch == 0 {
                break at;
            }
            if is_special(ch) || is_whitespace(ch) {
                self.unread();
                break at;
            }
        };
        let lit = self.slice(start, end);
        let tok = match lit {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        Item { tok, lit }
    }

    fn scan_special(&mut self) -> Item<'a> {
        let start = self.pos;
        let mut len = 0;
        let mut best: Option<(Tok, usize)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special(ch) {
                self.unread();
                break;
            }
            len += 1;
            match special_token(self.slice(start, start + len)) {
                Some(tok) => best = Some((tok, len)),
                None if best.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        match best {
            Some((tok, n)) => Item {
                tok,
                lit: self.slice(start, start + n),
            },
            None => Item {
                tok: Tok::Error,
                lit: self.slice(start, start + len),
            },
        }
    }
}

fn lex(s: &str) -> Vec<Item<'_>> {
    let mut lexer = Lexer { src: s, pos: 0 };
    let mut items = Vec::new();
    loop {
        let item = lexer.lex();
        items.push(item);
        if item.tok == Tok::EndOfString {
            return items;
        }
    }
}

// --- parser ---

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl<'a> Parser<'a> {
    fn item(&self, at: usize, ctx: Ctx) -> (Tok, &'a str) {
        let item = self.items.get(at).copied().unwrap_or(Item {
            tok: Tok::EndOfString,
            lit: "",
        });
        let tok = match (ctx, item.tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            (_, t) => t,
        };
        (tok, item.lit)
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, &'a str) {
        self.item(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, &'a str) {
        let out = self.item(self.pos, ctx);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        out
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::EndOfString => return Ok(requirements),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!("found '{l2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'"));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = inferred {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = label_key_errors(lit);
        if !errs.is_empty() {
            // apiserver parses with a nil field path, which Go renders as "<nil>".
            return Err(invalid_value("<nil>", lit, &errs.join("; ")));
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::EndOfString || next == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let set = self.parse_identifiers_list()?;
                let (closing, _) = self.consume(Ctx::Values);
                if closing != Tok::ClosedPar {
                    // Upstream reports the first token inside the parentheses here.
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set.into_iter().collect())
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut set = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.insert(lit.to_string());
                    let (next, next_lit) = self.lookahead(Ctx::Values);
                    match next {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{next_lit}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert(String::new()); // "(,"
                    }
                    let (next, _) = self.lookahead(Ctx::Values);
                    if next == Tok::ClosedPar {
                        set.insert(String::new()); // ",)"
                        return Ok(set);
                    }
                    if next == Tok::Comma {
                        self.consume(Ctx::Values);
                        set.insert(String::new()); // ",,"
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (next, _) = self.lookahead(Ctx::Values);
        if next == Tok::EndOfString || next == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit.to_string()]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

/// apimachinery's `NewRequirement` checks on parser output (the key was already validated and
/// the parser always yields the right number of values, so only value checks can fail).
fn new_requirement(key: &str, op: Operator, values: Vec<String>) -> Result<Requirement, String> {
    let mut errs = Vec::new();
    let mut bound = 0;
    if matches!(op, Operator::GreaterThan | Operator::LessThan) {
        for (i, v) in values.iter().enumerate() {
            match v.parse::<i64>() {
                Ok(n) => bound = n,
                Err(_) => errs.push(invalid_value(
                    &format!("values[{i}]"),
                    v,
                    "for 'Gt', 'Lt' operators, the value must be an integer",
                )),
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let problems = label_value_errors(v);
        if !problems.is_empty() {
            errs.push(invalid_value(&format!("values[{i}][{key}]"), v, &problems.join("; ")));
        }
    }
    match aggregate(errs) {
        Some(msg) => Err(msg),
        None => Ok(Requirement {
            key: key.to_string(),
            operator: op,
            values,
            bound,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

/// The operator of one field-selector term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a [`FieldSelector`] (all terms are ANDed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    field: String,
    operator: FieldOperator,
    value: String,
}

impl FieldTerm {
    /// The field label, as written (field labels are never unescaped or trimmed).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The operator.
    pub fn operator(&self) -> FieldOperator {
        self.operator
    }

    /// The unescaped value.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn holds(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldTerm {
    /// Renders like apimachinery (`==` is printed as `=`; the value is re-escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.field)?;
        f.write_str(match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        })?;
        for c in self.value.chars() {
            if matches!(c, '\\' | ',' | '=') {
                f.write_str("\\")?;
            }
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// A parsed Kubernetes field selector (the `fieldSelector` query parameter).
///
/// Terms are kept in the order kube-apiserver evaluates them (sorted by their raw text), which
/// decides which unsupported field is reported first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// How a resource's field-label conversion words its rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    /// `runtime.DefaultMetaV1FieldSelectorConversion`.
    Default,
    /// `field label not supported: X` (most hand-written conversion funcs, custom resources).
    NotSupported,
    /// batch/v1 Job's conversion func.
    Job,
}

impl Reject {
    fn error(self, field: &str) -> SelectorError {
        let message = match self {
            Reject::Default => format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(field)
            ),
            Reject::NotSupported => format!("field label not supported: {field}"),
            Reject::Job => format!("field label {} not supported for Job", go_quote(field)),
        };
        SelectorError::UnsupportedField {
            field: field.to_string(),
            message,
        }
    }
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::with_capacity(1);
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, rhs));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<Cow<'_, str>, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::InvalidFieldSelector(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(SelectorError::InvalidFieldSelector(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::InvalidFieldSelector(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(Cow::Owned(out))
}

impl FieldSelector {
    /// Parse a field selector with kube-apiserver's grammar and error messages.
    ///
    /// Terms are separated by unescaped commas (AND); each is `field=value`, `field==value` or
    /// `field!=value`, split at the first operator. In values, `\,`, `\=` and `\\` are escapes and
    /// bare `,`/`=` are errors. Nothing is trimmed: whitespace is part of fields and values.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let (field, operator, rhs) = split_term(part).ok_or_else(|| {
                SelectorError::InvalidFieldSelector(format!("invalid selector: '{s}'; can't understand '{part}'"))
            })?;
            let value = unescape_value(rhs)?.into_owned();
            terms.push(FieldTerm {
                field: field.to_string(),
                operator,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The selector that matches every object.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Whether this selector matches every object (it has no terms).
    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in evaluation order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// Check every field used is in `supported`, returning kube's message for the first one
    /// (in kube's evaluation order) that is not, e.g.
    /// `"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"`.
    ///
    /// The wording follows the resource whose [`supported_fields`] list equals `supported`
    /// (`field label not supported: X` for most resources with extra fields, the generic wording
    /// above for metadata-only resources). Prefer [`FieldSelector::validate_for`] when the group
    /// and resource are at hand.
    pub fn validate(&self, supported: &[&str]) -> Result<(), SelectorError> {
        let reject = KINDS
            .iter()
            .find(|k| k.accepted == supported)
            .map(|k| k.reject)
            .unwrap_or(if supported == DEFAULT_FIELDS {
                Reject::Default
            } else {
                Reject::NotSupported
            });
        self.check(|f| supported.contains(&f), reject)
    }

    /// Check the selector against the field labels kube-apiserver accepts for `group` and
    /// `resource` (plural), with that resource's exact rejection message.
    pub fn validate_for(&self, group: &str, resource: &str) -> Result<(), SelectorError> {
        let kind = kind_rules(group, resource);
        self.check(|f| kind.accepted.contains(&f), kind.reject)
    }

    /// Check the selector as kube-apiserver does for a custom resource: `metadata.name`,
    /// `metadata.namespace` (namespaced resources only) and the CRD's `selectableFields` JSON
    /// paths (without the leading dot) are accepted; anything else is rejected with
    /// `field label not supported: X`.
    pub fn validate_custom_resource(&self, namespaced: bool, selectable_fields: &[&str]) -> Result<(), SelectorError> {
        self.check(
            |f| f == "metadata.name" || (namespaced && f == "metadata.namespace") || selectable_fields.contains(&f),
            Reject::NotSupported,
        )
    }

    fn check(&self, accepted: impl Fn(&str) -> bool, reject: Reject) -> Result<(), SelectorError> {
        match self.terms.iter().find(|t| !accepted(&t.field)) {
            Some(t) => Err(reject.error(&t.field)),
            None => Ok(()),
        }
    }

    /// Whether every term holds for `obj`, reading fields with `field_of`. A field for which
    /// `field_of` returns `None` reads as the empty string, as in kube (`fields.Set.Get`).
    pub fn matches(&self, obj: &Value, field_of: impl Fn(&Value, &str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let actual = field_of(obj, &t.field);
            t.holds(actual.as_deref().unwrap_or(""))
        })
    }

    /// Whether every term holds for `obj` of the given group/resource, reading fields the way
    /// kube's registry strategies do (see [`resource_field_value`]). Does not allocate for
    /// string fields.
    pub fn matches_resource(&self, group: &str, resource: &str, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let actual = resource_field(group, resource, obj, &t.field);
            t.holds(actual.as_deref().unwrap_or(""))
        })
    }

    /// If the selector requires `field` to equal one value (`=` or `==`), return it
    /// (apimachinery's `RequiresExactMatch`: the first such term in evaluation order).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.operator == FieldOperator::Equals && t.field == field)
            .map(|t| t.value.as_str())
    }

    /// If the selector pins `metadata.name` with `=`/`==`, return it (lets the cache do a point
    /// lookup; the full selector must still be applied to the result).
    pub fn exact_name(&self) -> Option<&str> {
        self.requires_exact_match("metadata.name")
    }

    /// If the selector pins `metadata.namespace` with `=`/`==`, return it.
    pub fn exact_namespace(&self) -> Option<&str> {
        self.requires_exact_match("metadata.namespace")
    }
}

impl fmt::Display for FieldSelector {
    /// Renders like apimachinery's `Selector.String()` (terms joined by commas, values escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            fmt::Display::fmt(t, f)?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldSelector::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Per-resource field labels
// ---------------------------------------------------------------------------------------------

struct KindRules {
    group: &'static str,
    resource: &'static str,
    accepted: &'static [&'static str],
    reject: Reject,
}

const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

const DEFAULT_KIND: KindRules = KindRules {
    group: "",
    resource: "",
    accepted: DEFAULT_FIELDS,
    reject: Reject::Default,
};

/// Resources whose API version registers a field-label conversion func in kube-apiserver
/// (pkg/apis/*/v1/conversion.go); every other built-in resource uses the default conversion,
/// which accepts only `metadata.name` and `metadata.namespace`.
static KINDS: &[KindRules] = &[
    KindRules {
        group: "",
        resource: "events",
        accepted: &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "events.k8s.io",
        resource: "events",
        accepted: &[
            "metadata.name",
            "metadata.namespace",
            "reason",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reportingController",
            "source",
            "type",
        ],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "namespaces",
        accepted: &["metadata.name", "status.phase"],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "secrets",
        accepted: &["metadata.name", "metadata.namespace", "type"],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "services",
        accepted: &["metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "pods",
        accepted: &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
            "spec.host",
        ],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "nodes",
        accepted: &["metadata.name", "spec.unschedulable"],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "",
        resource: "replicationcontrollers",
        accepted: &["metadata.name", "metadata.namespace", "status.replicas"],
        reject: Reject::NotSupported,
    },
    KindRules {
        group: "batch",
        resource: "jobs",
        accepted: &["metadata.name", "metadata.namespace", "status.successful"],
        reject: Reject::Job,
    },
    KindRules {
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests",
        accepted: &["metadata.name", "spec.signerName"],
        reject: Reject::NotSupported,
    },
];

fn kind_rules(group: &str, resource: &str) -> &'static KindRules {
    KINDS
        .iter()
        .find(|k| k.group == group && k.resource == resource)
        .unwrap_or(&DEFAULT_KIND)
}

/// Field labels kube-apiserver accepts in a field selector for `group` + `resource` (plural),
/// in the client's spelling, starting with `metadata.name` (then `metadata.namespace` where it
/// is accepted).
///
/// Notes on upstream behaviour (kube-apiserver v1.36):
/// * core `namespaces` (and `nodes`, `certificatesigningrequests`) reject `metadata.namespace`;
/// * apps/v1 registers no conversion, so `replicasets.apps` rejects `status.replicas`
///   (kubernetes/kubernetes#135136) and all apps kinds are metadata-only;
/// * `services` accept `spec.clusterIP` and `spec.type`; `secrets` accept `type`;
///   `jobs.batch` accept `status.successful`; events accept the involvedObject/regarding family;
/// * every other built-in kind (configmaps, serviceaccounts, PVCs, quotas, limit ranges,
///   deployments, statefulsets, daemonsets, replicasets, cronjobs, ingresses, ingress classes,
///   network policies, PDBs, HPAs, RBAC kinds, storage classes, priority classes, leases, ...)
///   accepts only `metadata.name` and `metadata.namespace`.
pub fn supported_fields(group: &str, resource: &str) -> &'static [&'static str] {
    kind_rules(group, resource).accepted
}

// --- field extraction ---

/// Walk a dotted path (`a.b.c`) through nested JSON objects.
fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |cur, seg| cur.as_object()?.get(seg))
}

/// Render a scalar as Go's `fields.Set` would hold it; `None` for null, objects and arrays.
fn render(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Number(n) => Some(Cow::Owned(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => (f as i64).to_string(),
            _ => n.to_string(),
        })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn string_at<'a>(obj: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    lookup(obj, path).and_then(render)
}

/// A string field that is always set upstream: missing reads as "".
fn string_or_empty<'a>(obj: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    Some(string_at(obj, path).unwrap_or(Cow::Borrowed("")))
}

/// An integer field rendered with `strconv.Itoa`: missing reads as "0".
fn int_at<'a>(obj: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    Some(string_at(obj, path).unwrap_or(Cow::Borrowed("0")))
}

/// A boolean field rendered with `strconv.FormatBool`: missing reads as "false".
fn bool_at<'a>(obj: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    Some(string_at(obj, path).unwrap_or(Cow::Borrowed("false")))
}

/// First of several spellings that is present (core/v1 vs events.k8s.io/v1 wire formats).
fn first_present<'a>(obj: &'a Value, paths: &[&str]) -> Option<Cow<'a, str>> {
    paths.iter().find_map(|p| string_at(obj, p))
}

fn event_field<'a>(obj: &'a Value, field: &str) -> Option<Cow<'a, str>> {
    let sub = field
        .strip_prefix("involvedObject.")
        .or_else(|| field.strip_prefix("regarding."));
    if let Some(sub) = sub {
        let found = ["involvedObject", "regarding"]
            .iter()
            .find_map(|parent| obj.get(*parent).and_then(|p| p.get(sub)).and_then(render));
        return Some(found.unwrap_or(Cow::Borrowed("")));
    }
    match field {
        "reportingComponent" | "reportingController" => {
            Some(first_present(obj, &["reportingComponent", "reportingController"]).unwrap_or(Cow::Borrowed("")))
        }
        "source" => {
            let component = first_present(obj, &["source.component", "deprecatedSource.component"]);
            match component {
                Some(c) if !c.is_empty() => Some(c),
                _ => Some(
                    first_present(obj, &["reportingComponent", "reportingController"]).unwrap_or(Cow::Borrowed("")),
                ),
            }
        }
        "reason" | "type" => string_or_empty(obj, field),
        _ => None,
    }
}

fn pod_field<'a>(obj: &'a Value, field: &str) -> Option<Cow<'a, str>> {
    match field {
        "spec.host" | "spec.nodeName" => string_or_empty(obj, "spec.nodeName"),
        "spec.hostNetwork" => bool_at(obj, "spec.hostNetwork"),
        "status.podIP" => Some(
            lookup(obj, "status.podIPs")
                .and_then(|ips| ips.get(0))
                .and_then(|ip| ip.get("ip"))
                .and_then(render)
                .or_else(|| string_at(obj, "status.podIP"))
                .unwrap_or(Cow::Borrowed("")),
        ),
        // Accepted by the conversion but never put in the field set upstream.
        "status.podIPs" => Some(Cow::Borrowed("")),
        _ => None,
    }
}

fn resource_field<'a>(group: &str, resource: &str, obj: &'a Value, field: &str) -> Option<Cow<'a, str>> {
    let specific = match (group, resource) {
        ("" | "events.k8s.io", "events") => event_field(obj, field),
        ("", "pods") => pod_field(obj, field),
        ("", "nodes") if field == "spec.unschedulable" => bool_at(obj, field),
        ("", "replicationcontrollers") if field == "status.replicas" => int_at(obj, field),
        // The label and the JSON field differ: upstream reads Status.Succeeded.
        ("batch", "jobs") if field == "status.successful" => int_at(obj, "status.succeeded"),
        _ => None,
    };
    specific.or_else(|| string_at(obj, field))
}

/// Default field extractor: follows the dotted path `field` into `obj` and renders the scalar
/// found there as Go would (`"3"`, `"true"`). Returns `None` when the path is missing, null or
/// not a scalar; [`FieldSelector::matches`] treats `None` as `""`, which is what kube does for
/// unset fields (its field sets hold `""` for them).
pub fn field_value(obj: &Value, field: &str) -> Option<String> {
    string_at(obj, field).map(Cow::into_owned)
}

/// Field extractor mirroring kube's per-resource `ToSelectableFields`: like [`field_value`], plus
/// the upstream special cases — `jobs.batch` `status.successful` reads `status.succeeded` (unset →
/// `"0"`), replication controllers' `status.replicas` (unset → `"0"`), boolean fields (unset →
/// `"false"`), events' `source` (`source.component`, falling back to the reporting controller)
/// and both event spellings (`involvedObject.*`/`regarding.*`, `reportingComponent`/
/// `reportingController`), pods' `spec.host` alias and `status.podIP`.
pub fn resource_field_value(group: &str, resource: &str, obj: &Value, field: &str) -> Option<String> {
    resource_field(group, resource, obj, field).map(Cow::into_owned)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn lerr(s: &str) -> String {
        match LabelSelector::parse(s) {
            Ok(sel) => panic!("expected error for {s:?}, got {sel:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn lsel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("parse {s:?}: {e}"))
    }

    fn lmatch(s: &str, l: Value) -> bool {
        lsel(s).matches(Some(&labels(l)))
    }

    fn ferr(s: &str) -> String {
        match FieldSelector::parse(s) {
            Ok(sel) => panic!("expected error for {s:?}, got {sel:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn fsel(s: &str) -> FieldSelector {
        FieldSelector::parse(s).unwrap_or_else(|e| panic!("parse {s:?}: {e}"))
    }

    fn term(s: &str) -> FieldTerm {
        fsel(s).terms()[0].clone()
    }

    const KEY_NAME_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    // ----- label selector: parsing -----

    #[test]
    fn label_empty_and_whitespace_are_everything() {
        for s in ["", " ", "\t\r\n  "] {
            let sel = lsel(s);
            assert!(sel.is_everything(), "{s:?}");
            assert!(sel.matches(None));
            assert_eq!(sel.to_string(), "");
        }
        assert!(LabelSelector::everything().is_everything());
        assert_eq!(LabelSelector::everything(), lsel(""));
    }

    #[test]
    fn label_every_operator_parses() {
        let cases = [
            ("k=v", Operator::Equals, vec!["v"]),
            ("k==v", Operator::DoubleEquals, vec!["v"]),
            ("k!=v", Operator::NotEquals, vec!["v"]),
            ("k in (a,b)", Operator::In, vec!["a", "b"]),
            ("k notin (a,b)", Operator::NotIn, vec!["a", "b"]),
            ("k", Operator::Exists, vec![]),
            ("!k", Operator::DoesNotExist, vec![]),
            ("k>1", Operator::GreaterThan, vec!["1"]),
            ("k<1", Operator::LessThan, vec!["1"]),
        ];
        for (s, op, values) in cases {
            let sel = lsel(s);
            assert_eq!(sel.requirements().len(), 1, "{s}");
            let r = &sel.requirements()[0];
            assert_eq!(r.key(), "k", "{s}");
            assert_eq!(r.operator(), op, "{s}");
            assert_eq!(r.values(), values.as_slice(), "{s}");
            assert!(!sel.is_everything());
            assert_eq!(sel.to_string(), s, "round trip of {s}");
        }
    }

    #[test]
    fn label_operator_names() {
        assert_eq!(Operator::In.as_str(), "in");
        assert_eq!(Operator::NotIn.as_str(), "notin");
        assert_eq!(Operator::Equals.as_str(), "=");
        assert_eq!(Operator::DoubleEquals.as_str(), "==");
        assert_eq!(Operator::NotEquals.as_str(), "!=");
        assert_eq!(Operator::Exists.as_str(), "exists");
        assert_eq!(Operator::DoesNotExist.as_str(), "!");
        assert_eq!(Operator::GreaterThan.as_str(), "gt");
        assert_eq!(Operator::LessThan.as_str(), "lt");
    }

    #[test]
    fn label_whitespace_tolerant() {
        let sel = lsel("  a  =  b ,\tc\nin\r( x ,  y ) , ! d , e != f , g  ");
        assert_eq!(sel.to_string(), "a=b,c in (x,y),!d,e!=f,g");
        let sel = lsel("x\t>\t5");
        assert_eq!(sel.to_string(), "x>5");
        let sel = lsel("a notin(b)");
        assert_eq!(sel.to_string(), "a notin (b)");
    }

    #[test]
    fn label_requirements_sorted_by_key_and_and_ed() {
        let sel = lsel("z=1,a=2,m");
        let keys: Vec<_> = sel.requirements().iter().map(|r| r.key()).collect();
        assert_eq!(keys, ["a", "m", "z"]);
        assert_eq!(sel.to_string(), "a=2,m,z=1");
        assert!(lmatch("z=1,a=2,m", json!({"z": "1", "a": "2", "m": ""})));
        assert!(!lmatch("z=1,a=2,m", json!({"z": "1", "a": "2"})));
        assert!(!lmatch("z=1,a=2,m", json!({"z": "1", "a": "3", "m": "x"})));
    }

    #[test]
    fn label_set_values_sorted_and_deduplicated() {
        let sel = lsel("k in (c,a,b,a)");
        assert_eq!(sel.requirements()[0].values(), ["a", "b", "c"]);
        assert_eq!(sel.to_string(), "k in (a,b,c)");
    }

    #[test]
    fn label_empty_values() {
        assert_eq!(lsel("k=").requirements()[0].values(), [""]);
        assert_eq!(lsel("k==").requirements()[0].values(), [""]);
        assert_eq!(lsel("k!=").requirements()[0].values(), [""]);
        assert_eq!(lsel("k=,j").requirements()[1].values(), [""]);
        assert_eq!(lsel("k in ()").requirements()[0].values(), [""]);
        assert_eq!(lsel("k in (,)").requirements()[0].values(), [""]);
        assert_eq!(lsel("k in (a,)").requirements()[0].values(), ["", "a"]);
        assert_eq!(lsel("k in (,a)").requirements()[0].values(), ["", "a"]);
        assert_eq!(lsel("k in (a,,b)").requirements()[0].values(), ["", "a", "b"]);
        assert_eq!(lsel("k notin ()").requirements()[0].values(), [""]);
        assert!(lmatch("k=", json!({"k": ""})));
        assert!(!lmatch("k=", json!({})));
        assert!(lmatch("k in (a,)", json!({"k": ""})));
    }

    #[test]
    fn label_keywords_usable_as_keys_and_values() {
        let sel = lsel("in in (in,notin)");
        let r = &sel.requirements()[0];
        assert_eq!((r.key(), r.operator()), ("in", Operator::In));
        assert_eq!(r.values(), ["in", "notin"]);
        let sel = lsel("notin=notin");
        assert_eq!(sel.requirements()[0].values(), ["notin"]);
        let sel = lsel("notin");
        assert_eq!(sel.requirements()[0].operator(), Operator::Exists);
        let sel = lsel("!in");
        assert_eq!(sel.requirements()[0].operator(), Operator::DoesNotExist);
    }

    #[test]
    fn label_prefixed_keys() {
        let sel = lsel("app.kubernetes.io/name=web,example.com/x in (a)");
        assert_eq!(sel.requirements()[0].key(), "app.kubernetes.io/name");
        assert!(lmatch(
            "app.kubernetes.io/name=web",
            json!({"app.kubernetes.io/name": "web"})
        ));
        // 63-character name part and value are the maximum.
        let k = "a".repeat(63);
        lsel(&format!("{k}={k}"));
        let prefix = format!("{}.com", "a".repeat(249));
        lsel(&format!("{prefix}/k"));
    }

    #[test]
    fn label_display_round_trips() {
        for s in [
            "a=b",
            "a==b",
            "a!=b",
            "a in (b,c)",
            "a notin (b,c)",
            "a",
            "!a",
            "a>3",
            "a<-3",
            "a=,b in (,x)",
        ] {
            // "a<-3" is invalid (value must start with alphanumeric); skip it below.
            if let Ok(sel) = LabelSelector::parse(s) {
                assert_eq!(lsel(&sel.to_string()), sel, "{s}");
            }
        }
        assert_eq!(lsel("b, a").to_string(), "a,b");
        assert_eq!("x=y".parse::<LabelSelector>().unwrap(), lsel("x=y"));
    }

    // ----- label selector: errors -----

    #[test]
    fn label_syntax_errors() {
        let cases = [
            (
                "a in (",
                "unable to parse requirement: found '', expected: ',', ')' or identifier",
            ),
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
            (
                "a in (b,",
                "unable to parse requirement: found '', expected: ',', or identifier",
            ),
            ("a in b", "unable to parse requirement: found 'b' expected: '('"),
            ("a in", "unable to parse requirement: found '' expected: '('"),
            (
                "a in (b c)",
                "unable to parse requirement: found 'c', expected: ',' or ')'",
            ),
            (
                "a in (b,=)",
                "unable to parse requirement: found '=', expected: ',', or identifier",
            ),
            (
                "a in (=)",
                "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            ),
            ("=v", "found '=', expected: !, identifier, or 'end of string'"),
            ("a=b=c", "found '=', expected: ',' or 'end of string'"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a in (b) c", "found 'c', expected: ',' or 'end of string'"),
            (",", "found ',', expected: !, identifier, or 'end of string'"),
            ("a,", "found '', expected: identifier after ','"),
            ("a,,b", "found ',', expected: identifier after ','"),
            ("a,=b", "found '=', expected: identifier after ','"),
            (
                "a!",
                "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "a (b)",
                "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
            ),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("!a in (b)", "found 'in', expected: ',' or 'end of string'"),
            ("!", "unable to parse requirement: found '', expected: identifier"),
            ("!!a", "unable to parse requirement: found '!', expected: identifier"),
            ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
            ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
            ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
            ("a=)", "unable to parse requirement: found ')', expected: identifier"),
            ("a===b", "unable to parse requirement: found '=', expected: identifier"),
            ("a<=1", "unable to parse requirement: found '=', expected: identifier"),
        ];
        for (s, want) in cases {
            assert_eq!(lerr(s), want, "selector {s:?}");
        }
    }

    #[test]
    fn label_key_errors_have_kube_wording() {
        assert_eq!(
            lerr("-a=b"),
            format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {KEY_NAME_REGEX}")
        );
        assert_eq!(
            lerr("a/b/c=d"),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert_eq!(
            lerr("/a"),
            "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty"
        );
        assert_eq!(
            lerr("a/"),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be non-empty; {KEY_NAME_REGEX}"
            )
        );
        assert_eq!(
            lerr("Example.com/a"),
            "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        let long = "a".repeat(64);
        assert_eq!(
            lerr(&format!("{long}=b")),
            format!(
                "unable to parse requirement: <nil>: Invalid value: \"{long}\": name part must be no more than 63 bytes"
            )
        );
        let long_prefix = format!("{}.com", "a".repeat(250));
        let msg = lerr(&format!("{long_prefix}/a"));
        assert!(msg.ends_with("\": prefix part must be no more than 253 bytes"), "{msg}");
        // Keys are validated for `!k`, `k` and set-based requirements too.
        assert!(lerr("!a_").contains("Invalid value: \"a_\""));
        assert!(lerr("a_").contains("Invalid value: \"a_\""));
        assert!(lerr("a_ in (b)").contains("Invalid value: \"a_\""));
        // Unusual characters are quoted like Go's %q.
        assert!(lerr("a\"b=c").contains("Invalid value: \"a\\\"b\""));
        assert!(lerr("é=c").contains("Invalid value: \"é\""));
    }

    #[test]
    fn label_value_errors_have_kube_wording() {
        assert_eq!(
            lerr("a=-b"),
            format!("unable to parse requirement: values[0][a]: Invalid value: \"-b\": {VALUE_REGEX}")
        );
        assert_eq!(
            lerr("a in (x,y_)"),
            format!("unable to parse requirement: values[1][a]: Invalid value: \"y_\": {VALUE_REGEX}")
        );
        assert_eq!(
            lerr("a in (_x,y_)"),
            format!(
                "unable to parse requirement: [values[0][a]: Invalid value: \"_x\": {VALUE_REGEX}, values[1][a]: Invalid value: \"y_\": {VALUE_REGEX}]"
            )
        );
        let long = "v".repeat(64);
        assert_eq!(
            lerr(&format!("a={long}")),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"{long}\": must be no more than 63 bytes"
            )
        );
        let long_bad = format!("{}-", "v".repeat(63));
        assert_eq!(
            lerr(&format!("a!={long_bad}")),
            format!(
                "unable to parse requirement: values[0][a]: Invalid value: \"{long_bad}\": must be no more than 63 bytes; {VALUE_REGEX}"
            )
        );
    }

    #[test]
    fn label_gt_lt_value_errors() {
        assert_eq!(
            lerr("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert_eq!(
            lerr("a<"),
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        // Negative bounds parse as integers but are not valid label values.
        assert_eq!(
            lerr("a>-1"),
            format!("unable to parse requirement: values[0][a]: Invalid value: \"-1\": {VALUE_REGEX}")
        );
        // Both checks fail: aggregated in order.
        assert_eq!(
            lerr("a>b_"),
            format!(
                "unable to parse requirement: [values[0]: Invalid value: \"b_\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: \"b_\": {VALUE_REGEX}]"
            )
        );
        assert_eq!(
            lerr("a>99999999999999999999"),
            "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert_eq!(lsel("a>007").requirements()[0].values(), ["007"]);
    }

    #[test]
    fn label_errors_are_invalid_label_selector_variant() {
        assert!(matches!(
            LabelSelector::parse("a in ("),
            Err(SelectorError::InvalidLabelSelector(_))
        ));
    }

    #[test]
    fn label_nul_byte_behaves_like_upstream_lexer() {
        // A NUL byte reads like end of input where a token starts...
        assert!(lsel("\0a=b").is_everything());
        // ...and is swallowed where it ends one.
        assert_eq!(lsel("a=\0b").to_string(), "a=b");
        assert_eq!(lsel("a\0=b").to_string(), "a=b");
    }

    // ----- label selector: matching -----

    #[test]
    fn label_equality_matching() {
        for s in ["k=v", "k==v"] {
            assert!(lmatch(s, json!({"k": "v"})));
            assert!(!lmatch(s, json!({"k": "w"})));
            assert!(!lmatch(s, json!({})));
            assert!(!lsel(s).matches(None));
        }
        assert!(!lmatch("k=v", json!({"k": "V"})), "values are case-sensitive");
        assert!(!lmatch("k=v", json!({"K": "v"})), "keys are case-sensitive");
    }

    #[test]
    fn label_not_equals_matches_missing_key() {
        assert!(lmatch("k!=v", json!({"k": "w"})));
        assert!(!lmatch("k!=v", json!({"k": "v"})));
        assert!(lmatch("k!=v", json!({})));
        assert!(lsel("k!=v").matches(None));
        assert!(!lmatch("k!=", json!({"k": ""})));
        assert!(lmatch("k!=", json!({"k": "x"})));
    }

    #[test]
    fn label_set_based_matching() {
        assert!(lmatch("k in (a,b,c)", json!({"k": "b"})));
        assert!(lmatch("k in (a,b,c)", json!({"k": "c"})));
        assert!(!lmatch("k in (a,b,c)", json!({"k": "d"})));
        assert!(!lmatch("k in (a,b,c)", json!({})));
        assert!(!lsel("k in (a)").matches(None));
        assert!(lmatch("k notin (a,b)", json!({"k": "c"})));
        assert!(!lmatch("k notin (a,b)", json!({"k": "a"})));
        assert!(!lmatch("k notin (a,b)", json!({"k": "b"})));
        assert!(lmatch("k notin (a,b)", json!({})));
        assert!(lsel("k notin (a,b)").matches(None));
    }

    #[test]
    fn label_existence_matching() {
        assert!(lmatch("k", json!({"k": ""})));
        assert!(!lmatch("k", json!({"j": "x"})));
        assert!(!lsel("k").matches(None));
        assert!(lmatch("!k", json!({"j": "x"})));
        assert!(!lmatch("!k", json!({"k": ""})));
        assert!(lsel("!k").matches(None));
    }

    #[test]
    fn label_gt_lt_matching() {
        assert!(lmatch("k>5", json!({"k": "6"})));
        assert!(!lmatch("k>5", json!({"k": "5"})));
        assert!(lmatch("k<5", json!({"k": "4"})));
        assert!(!lmatch("k<5", json!({"k": "5"})));
        assert!(lmatch("k<5", json!({"k": "-10"})));
        assert!(lmatch("k>5", json!({"k": "+6"})));
        assert!(lmatch("k>5", json!({"k": "0010"})));
        assert!(!lmatch("k>5", json!({"k": "abc"})), "non-integer never matches");
        assert!(!lmatch("k<5", json!({"k": ""})));
        assert!(!lmatch("k<5", json!({"k": "1.5"})));
        assert!(!lmatch("k>5", json!({})), "missing key never matches");
        assert!(!lsel("k<5").matches(None));
    }

    #[test]
    fn label_non_string_values_never_equal() {
        assert!(!lmatch("k=1", json!({"k": 1})));
        assert!(lmatch("k!=1", json!({"k": 1})));
        assert!(lmatch("k", json!({"k": null})));
    }

    #[test]
    fn label_matches_object_reads_metadata_labels() {
        let obj = json!({"metadata": {"name": "m", "labels": {"sel": "yes"}}});
        assert!(lsel("sel=yes").matches_object(&obj));
        assert!(!lsel("sel=no").matches_object(&obj));
        assert!(lsel("sel!=no").matches_object(&obj));
        let bare = json!({"metadata": {"name": "m"}});
        assert!(!lsel("sel=yes").matches_object(&bare));
        assert!(lsel("!sel").matches_object(&bare));
        assert!(lsel("sel notin (yes)").matches_object(&bare));
        assert!(lsel("").matches_object(&json!(null)));
        assert!(lsel("!sel").matches_object(&json!({})));
    }

    #[test]
    fn label_watch_transitions_like_reference_034() {
        // labelSelector=sel=yes: matches, stops matching, matches again.
        let sel = lsel("sel=yes");
        let v = |s: &str| json!({"metadata": {"name": "m", "labels": {"sel": s}}});
        assert!(sel.matches_object(&v("yes")));
        assert!(!sel.matches_object(&v("no")));
        assert!(sel.matches_object(&v("yes")));
    }

    #[test]
    fn label_requires_exact_match() {
        let sel = lsel("a=1,b==2,c in (3),d in (4,5),e!=6,f");
        assert_eq!(sel.requires_exact_match("a"), Some("1"));
        assert_eq!(sel.requires_exact_match("b"), Some("2"));
        assert_eq!(sel.requires_exact_match("c"), Some("3"));
        assert_eq!(sel.requires_exact_match("d"), None);
        assert_eq!(sel.requires_exact_match("e"), None);
        assert_eq!(sel.requires_exact_match("f"), None);
        assert_eq!(sel.requires_exact_match("zzz"), None);
    }

    #[test]
    fn label_key_and_value_predicates() {
        assert!(is_valid_label_key("a"));
        assert!(is_valid_label_key("a.b-c_d"));
        assert!(is_valid_label_key("example.com/a"));
        assert!(!is_valid_label_key(""));
        assert!(!is_valid_label_key("a."));
        assert!(!is_valid_label_key("EXAMPLE.com/a"));
        assert!(!is_valid_label_key("a..b/c"));
        assert!(!is_valid_label_key(".example.com/a"));
        assert!(is_valid_label_value(""));
        assert!(is_valid_label_value("A1"));
        assert!(!is_valid_label_value("a b"));
        assert!(!is_valid_label_value(&"a".repeat(64)));
    }

    // ----- go quoting -----

    #[test]
    fn go_quote_matches_go() {
        assert_eq!(go_quote("abc"), "\"abc\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\n\t\r\u{7}\u{8}\u{c}\u{b}"), "\"\\n\\t\\r\\a\\b\\f\\v\"");
        assert_eq!(go_quote("\u{1}\u{7f}"), "\"\\x01\\x7f\"");
        assert_eq!(go_quote("é日本"), "\"é日本\"");
        assert_eq!(go_quote("\u{a0}\u{200b}"), "\"\\u00a0\\u200b\"");
        assert_eq!(go_quote("\u{e0001}"), "\"\\U000e0001\"");
    }

    // ----- field selector: parsing -----

    #[test]
    fn field_operators() {
        for (s, op) in [
            ("a=b", FieldOperator::Equals),
            ("a==b", FieldOperator::Equals),
            ("a!=b", FieldOperator::NotEquals),
        ] {
            let sel = fsel(s);
            assert_eq!(sel.terms().len(), 1);
            let t = &sel.terms()[0];
            assert_eq!((t.field(), t.operator(), t.value()), ("a", op, "b"), "{s}");
        }
        assert_eq!(fsel("a==b").to_string(), "a=b");
        assert_eq!(fsel("a!=b").to_string(), "a!=b");
        assert_eq!("a=b".parse::<FieldSelector>().unwrap(), fsel("a=b"));
    }

    #[test]
    fn field_split_at_first_operator() {
        let t = term("a=!b");
        assert_eq!((t.field(), t.operator(), t.value()), ("a", FieldOperator::Equals, "!b"));
        let t = term("a!b=c");
        assert_eq!((t.field(), t.value()), ("a!b", "c"));
        let t = term("=v");
        assert_eq!((t.field(), t.value()), ("", "v"));
        let t = term("a=");
        assert_eq!((t.field(), t.value()), ("a", ""));
        let t = term("a!=");
        assert_eq!(
            (t.field(), t.operator(), t.value()),
            ("a", FieldOperator::NotEquals, "")
        );
    }

    #[test]
    fn field_empty_and_commas_only_are_everything() {
        for s in ["", ",", ",,,"] {
            assert!(fsel(s).is_everything(), "{s:?}");
        }
        assert!(FieldSelector::everything().is_everything());
        assert!(FieldSelector::everything().matches(&json!({}), field_value));
        assert_eq!(fsel("").to_string(), "");
    }

    #[test]
    fn field_multiple_terms_sorted_and_anded() {
        let sel = fsel("metadata.namespace=ns,,metadata.name=n");
        let fields: Vec<_> = sel.terms().iter().map(|t| t.field()).collect();
        assert_eq!(fields, ["metadata.name", "metadata.namespace"]);
        assert_eq!(sel.to_string(), "metadata.name=n,metadata.namespace=ns");
        let obj = json!({"metadata": {"name": "n", "namespace": "ns"}});
        assert!(sel.matches(&obj, field_value));
        let other = json!({"metadata": {"name": "n", "namespace": "other"}});
        assert!(!sel.matches(&other, field_value));
    }

    #[test]
    fn field_whitespace_is_significant() {
        let t = term("a = b");
        assert_eq!((t.field(), t.value()), ("a ", " b"));
        assert!(!fsel(" metadata.name=x").matches(&json!({"metadata": {"name": "x"}}), field_value));
    }

    #[test]
    fn field_escapes() {
        assert_eq!(fsel(r"a=b\,c").terms()[0].value(), "b,c");
        assert_eq!(fsel(r"a=b\=c").terms()[0].value(), "b=c");
        assert_eq!(fsel(r"a=b\\c").terms()[0].value(), r"b\c");
        assert_eq!(fsel(r"a=b\\").terms()[0].value(), r"b\");
        // An escaped comma does not split terms; an escaped backslash before a comma does.
        assert_eq!(fsel(r"a=x\,y,b=z").terms().len(), 2);
        let sel = fsel(r"a=x\\,b=z");
        assert_eq!(sel.terms().len(), 2);
        assert_eq!(sel.terms()[0].value(), r"x\");
        // The field part is never unescaped.
        assert_eq!(fsel(r"a\,b=c").terms()[0].field(), r"a\,b");
        // Display re-escapes.
        assert_eq!(fsel(r"a=b\,c\=d\\e").to_string(), r"a=b\,c\=d\\e");
        // Escaped values match the literal value.
        let obj = json!({"metadata": {"name": "x,y"}});
        assert!(fsel(r"metadata.name=x\,y").matches(&obj, field_value));
    }

    #[test]
    fn field_syntax_errors() {
        let cases = [
            ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
            ("a=b,xyz", "invalid selector: 'a=b,xyz'; can't understand 'xyz'"),
            ("a!b", "invalid selector: 'a!b'; can't understand 'a!b'"),
            ("a=b=c", "invalid field selector: unescaped character in value: 61"),
            ("a==b=c", "invalid field selector: unescaped character in value: 61"),
            (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
            (r"a=\n", r"invalid field selector: invalid escape sequence: \n"),
            (r"a=b\", r"invalid field selector: invalid escape sequence: \"),
            (r"a=b\\\", r"invalid field selector: invalid escape sequence: \"),
        ];
        for (s, want) in cases {
            assert_eq!(ferr(s), want, "selector {s:?}");
        }
        // Terms are examined in sorted order, so the first failing one after sorting is reported.
        assert_eq!(ferr("zzz,aaa"), "invalid selector: 'zzz,aaa'; can't understand 'aaa'");
        assert!(matches!(
            FieldSelector::parse("abc"),
            Err(SelectorError::InvalidFieldSelector(_))
        ));
    }

    // ----- field selector: validation -----

    #[test]
    fn field_validate_default_message_matches_reference_015() {
        let sel = fsel("data.a=1");
        let err = sel.validate(&["metadata.name", "metadata.namespace"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"data.a\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            err,
            SelectorError::UnsupportedField {
                field: "data.a".into(),
                message: err.to_string()
            }
        );
        assert_eq!(sel.validate_for("", "configmaps").unwrap_err(), err);
        assert!(
            fsel("metadata.name=x")
                .validate(supported_fields("", "configmaps"))
                .is_ok()
        );
        assert!(fsel("").validate(&[]).is_ok());
    }

    #[test]
    fn field_validate_reports_first_in_sorted_order() {
        let err = fsel("zeta=1,alpha=2,metadata.name=x")
            .validate_for("", "configmaps")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"alpha\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let err = fsel("=v").validate_for("", "configmaps").unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
    }

    #[test]
    fn field_validate_per_resource_messages() {
        let e = |s: &str, g: &str, r: &str| fsel(s).validate_for(g, r).unwrap_err().to_string();
        assert_eq!(e("data.a=1", "", "secrets"), "field label not supported: data.a");
        assert_eq!(
            e("metadata.namespace=x", "", "namespaces"),
            "field label not supported: metadata.namespace"
        );
        assert_eq!(
            e("status.succeeded=1", "batch", "jobs"),
            "field label \"status.succeeded\" not supported for Job"
        );
        assert_eq!(
            e("status.replicas=0", "apps", "replicasets"),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            e("involvedObject.kind=Pod", "events.k8s.io", "events"),
            "field label not supported: involvedObject.kind"
        );
        assert_eq!(e("spec.foo=x", "", "services"), "field label not supported: spec.foo");
        let ok = |s: &str, g: &str, r: &str| fsel(s).validate_for(g, r).is_ok();
        assert!(ok("type=Opaque,metadata.namespace=a", "", "secrets"));
        assert!(ok("status.phase=Active,metadata.name=a", "", "namespaces"));
        assert!(ok("spec.clusterIP=None,spec.type=ClusterIP", "", "services"));
        assert!(ok("status.successful=1", "batch", "jobs"));
        assert!(ok(
            "involvedObject.kind=Pod,involvedObject.name=p,reason=X,source=s,type=Normal,reportingComponent=c",
            "",
            "events"
        ));
        assert!(ok(
            "regarding.kind=Pod,reportingController=c,source=s",
            "events.k8s.io",
            "events"
        ));
        assert!(ok("metadata.namespace=x", "", "storageclasses"));
    }

    #[test]
    fn field_validate_uses_wording_of_matching_table_entry() {
        let sel = fsel("bogus=1");
        assert_eq!(
            sel.validate(supported_fields("batch", "jobs")).unwrap_err().to_string(),
            "field label \"bogus\" not supported for Job"
        );
        assert_eq!(
            sel.validate(supported_fields("", "secrets")).unwrap_err().to_string(),
            "field label not supported: bogus"
        );
        assert_eq!(
            sel.validate(&["metadata.name", "spec.custom"]).unwrap_err().to_string(),
            "field label not supported: bogus"
        );
        assert!(sel.validate(&["bogus"]).is_ok());
    }

    #[test]
    fn field_validate_custom_resource() {
        let sel = fsel("metadata.namespace=x");
        assert!(sel.validate_custom_resource(true, &[]).is_ok());
        assert_eq!(
            sel.validate_custom_resource(false, &[]).unwrap_err().to_string(),
            "field label not supported: metadata.namespace"
        );
        assert!(
            fsel("spec.color=red")
                .validate_custom_resource(true, &["spec.color"])
                .is_ok()
        );
        assert_eq!(
            fsel("spec.size=1")
                .validate_custom_resource(true, &["spec.color"])
                .unwrap_err()
                .to_string(),
            "field label not supported: spec.size"
        );
    }

    #[test]
    fn supported_fields_table() {
        assert_eq!(
            supported_fields("", "configmaps"),
            ["metadata.name", "metadata.namespace"]
        );
        for (g, r) in [
            ("", "serviceaccounts"),
            ("", "persistentvolumeclaims"),
            ("", "resourcequotas"),
            ("", "limitranges"),
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "replicasets"),
            ("batch", "cronjobs"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("policy", "poddisruptionbudgets"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("storage.k8s.io", "storageclasses"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("coordination.k8s.io", "leases"),
            ("example.com", "widgets"),
        ] {
            assert_eq!(supported_fields(g, r), DEFAULT_FIELDS, "{g}/{r}");
        }
        assert_eq!(
            supported_fields("", "secrets"),
            ["metadata.name", "metadata.namespace", "type"]
        );
        assert_eq!(supported_fields("", "namespaces"), ["metadata.name", "status.phase"]);
        assert_eq!(
            supported_fields("", "services"),
            ["metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"]
        );
        assert_eq!(
            supported_fields("batch", "jobs"),
            ["metadata.name", "metadata.namespace", "status.successful"]
        );
        let events = supported_fields("", "events");
        assert_eq!(events.len(), 13);
        for f in [
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ] {
            assert!(events.contains(&f), "{f}");
        }
        for g in KINDS {
            assert_eq!(g.accepted[0], "metadata.name", "{}/{}", g.group, g.resource);
        }
    }

    // ----- field selector: matching -----

    #[test]
    fn field_missing_reads_as_empty() {
        let obj = json!({"metadata": {"name": "a"}});
        assert!(fsel("metadata.namespace=").matches(&obj, field_value));
        assert!(!fsel("metadata.namespace=x").matches(&obj, field_value));
        assert!(fsel("metadata.namespace!=x").matches(&obj, field_value));
        assert!(!fsel("metadata.namespace!=").matches(&obj, field_value));
        assert!(fsel("metadata.name!=b").matches(&obj, field_value));
        assert!(!fsel("metadata.name!=a").matches(&obj, field_value));
    }

    #[test]
    fn field_matches_with_custom_extractor() {
        let obj = json!({"x": 1});
        let sel = fsel("virtual=yes");
        assert!(sel.matches(&obj, |_, f| (f == "virtual").then(|| "yes".to_string())));
        assert!(!sel.matches(&obj, |_, _| None));
    }

    #[test]
    fn field_value_renders_like_go() {
        let obj = json!({
            "s": "str", "i": 3, "n": -4, "f": 2.0, "g": 2.5, "t": true, "b": false,
            "z": null, "a": [1], "o": {"k": "v"}
        });
        assert_eq!(field_value(&obj, "s").as_deref(), Some("str"));
        assert_eq!(field_value(&obj, "i").as_deref(), Some("3"));
        assert_eq!(field_value(&obj, "n").as_deref(), Some("-4"));
        assert_eq!(field_value(&obj, "f").as_deref(), Some("2"));
        assert_eq!(field_value(&obj, "g").as_deref(), Some("2.5"));
        assert_eq!(field_value(&obj, "t").as_deref(), Some("true"));
        assert_eq!(field_value(&obj, "b").as_deref(), Some("false"));
        assert_eq!(field_value(&obj, "z"), None);
        assert_eq!(field_value(&obj, "a"), None);
        assert_eq!(field_value(&obj, "o"), None);
        assert_eq!(field_value(&obj, "o.k").as_deref(), Some("v"));
        assert_eq!(field_value(&obj, "o.k.deeper"), None);
        assert_eq!(field_value(&obj, "missing"), None);
        assert_eq!(field_value(&json!("scalar"), "a"), None);
    }

    #[test]
    fn resource_fields_secrets_services_namespaces() {
        let secret = json!({"metadata": {"name": "s", "namespace": "n"}, "type": "Opaque"});
        assert!(fsel("type=Opaque").matches_resource("", "secrets", &secret));
        assert!(!fsel("type=kubernetes.io/tls").matches_resource("", "secrets", &secret));
        let svc = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.0.0.1", "type": "ClusterIP"}});
        assert!(fsel("spec.clusterIP=10.0.0.1,spec.type=ClusterIP").matches_resource("", "services", &svc));
        assert!(fsel("spec.type!=NodePort").matches_resource("", "services", &svc));
        let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
        assert!(fsel("status.phase=Active").matches_resource("", "namespaces", &ns));
        assert!(fsel("status.phase!=Terminating").matches_resource("", "namespaces", &ns));
        assert!(fsel("metadata.name=default").matches_resource("", "namespaces", &ns));
    }

    #[test]
    fn resource_fields_jobs_and_counts() {
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 2}});
        assert_eq!(
            resource_field_value("batch", "jobs", &job, "status.successful").as_deref(),
            Some("2")
        );
        assert!(fsel("status.successful=2").matches_resource("batch", "jobs", &job));
        let fresh = json!({"metadata": {"name": "j"}});
        assert!(fsel("status.successful=0").matches_resource("batch", "jobs", &fresh));
        assert!(!fsel("status.successful=").matches_resource("batch", "jobs", &fresh));
        let rc = json!({"metadata": {"name": "r"}});
        assert!(fsel("status.replicas=0").matches_resource("", "replicationcontrollers", &rc));
        let node = json!({"metadata": {"name": "n"}});
        assert!(fsel("spec.unschedulable=false").matches_resource("", "nodes", &node));
        let cordoned = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(fsel("spec.unschedulable=true").matches_resource("", "nodes", &cordoned));
    }

    #[test]
    fn resource_fields_core_events() {
        let ev = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns", "uid": "u1"},
            "reason": "Started",
            "type": "Normal",
            "source": {"component": "kubelet"},
            "reportingComponent": "kubelet-rc"
        });
        let m = |s: &str| fsel(s).matches_resource("", "events", &ev);
        assert!(m("involvedObject.kind=Pod,involvedObject.name=p,involvedObject.uid=u1"));
        assert!(m("involvedObject.fieldPath="));
        assert!(m("reason=Started,type=Normal"));
        assert!(m("source=kubelet"));
        assert!(m("reportingComponent=kubelet-rc"));
        assert!(m("metadata.namespace=ns"));
        assert!(!m("involvedObject.kind=Node"));
        // source falls back to the reporting controller when source.component is empty.
        let ev2 = json!({"metadata": {"name": "e"}, "reportingComponent": "ctrl"});
        assert_eq!(
            resource_field_value("", "events", &ev2, "source").as_deref(),
            Some("ctrl")
        );
        let ev3 = json!({"metadata": {"name": "e"}, "source": {"component": ""}, "reportingComponent": "ctrl"});
        assert!(fsel("source=ctrl").matches_resource("", "events", &ev3));
        let ev4 = json!({"metadata": {"name": "e"}});
        assert_eq!(resource_field_value("", "events", &ev4, "source").as_deref(), Some(""));
        assert_eq!(resource_field_value("", "events", &ev4, "reason").as_deref(), Some(""));
    }

    #[test]
    fn resource_fields_events_k8s_io() {
        let ev = json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p"},
            "reportingController": "ctrl",
            "reason": "R",
            "type": "Warning"
        });
        let m = |s: &str| fsel(s).matches_resource("events.k8s.io", "events", &ev);
        assert!(m("regarding.kind=Pod,regarding.name=p"));
        assert!(m("involvedObject.kind=Pod"));
        assert!(m("reportingController=ctrl"));
        assert!(m("reportingComponent=ctrl"));
        assert!(m("source=ctrl"));
        assert!(m("type=Warning,reason=R"));
        let ev2 = json!({"deprecatedSource": {"component": "old"}, "reportingController": "ctrl"});
        assert_eq!(
            resource_field_value("events.k8s.io", "events", &ev2, "source").as_deref(),
            Some("old")
        );
    }

    #[test]
    fn resource_fields_pods() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"nodeName": "node-1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}]}
        });
        let m = |s: &str| fsel(s).matches_resource("", "pods", &pod);
        assert!(m("spec.nodeName=node-1"));
        assert!(m("spec.host=node-1"));
        assert!(m("spec.hostNetwork=false"));
        assert!(m("status.phase=Running,spec.restartPolicy=Always"));
        assert!(m("status.podIP=10.0.0.9"));
        assert!(m("status.podIPs="));
        assert!(!m("status.podIPs=10.0.0.9"));
    }

    #[test]
    fn resource_fields_fall_back_to_dotted_path() {
        let cm = json!({"metadata": {"name": "c", "namespace": "n"}, "data": {"a": "1"}});
        assert!(fsel("metadata.name=c,metadata.namespace=n").matches_resource("", "configmaps", &cm));
        assert_eq!(
            resource_field_value("", "configmaps", &cm, "data.a").as_deref(),
            Some("1")
        );
        // Cluster-scoped objects have no namespace: it reads as "".
        let sc = json!({"metadata": {"name": "fast"}});
        assert!(fsel("metadata.namespace=").matches_resource("storage.k8s.io", "storageclasses", &sc));
        assert!(!fsel("metadata.namespace=x").matches_resource("storage.k8s.io", "storageclasses", &sc));
    }

    // ----- exact match helpers -----

    #[test]
    fn field_exact_name_and_namespace() {
        assert_eq!(fsel("metadata.name=x").exact_name(), Some("x"));
        assert_eq!(fsel("metadata.name==x").exact_name(), Some("x"));
        assert_eq!(fsel("metadata.name!=x").exact_name(), None);
        assert_eq!(fsel("metadata.name=").exact_name(), Some(""));
        assert_eq!(fsel("metadata.namespace=ns").exact_name(), None);
        assert_eq!(fsel("metadata.namespace=ns").exact_namespace(), Some("ns"));
        let sel = fsel("metadata.name!=a,metadata.name=b,metadata.namespace=c");
        assert_eq!(sel.exact_name(), Some("b"));
        assert_eq!(sel.exact_namespace(), Some("c"));
        assert_eq!(sel.requires_exact_match("metadata.namespace"), Some("c"));
        assert_eq!(FieldSelector::everything().exact_name(), None);
        assert_eq!(fsel(r"metadata.name=a\,b").exact_name(), Some("a,b"));
        // Contradictory pins: the first in evaluation order is returned; matching still filters.
        let sel = fsel("metadata.name=b,metadata.name=a");
        assert_eq!(sel.exact_name(), Some("a"));
        assert!(!sel.matches(&json!({"metadata": {"name": "a"}}), field_value));
    }
}
