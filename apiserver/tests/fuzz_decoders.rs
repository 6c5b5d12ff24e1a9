//! Fuzzing of the decoders that see untrusted request bodies: the protobuf body decoder, strategic
//! merge patch, server-side apply (and the managedFields it reads back), the JSON patch and JSON
//! merge patch library the PATCH handler uses, and the YAML reader of apply bodies.
//!
//! Deterministic pseudo-random generation (xorshift, fixed seeds, no extra crate), structure-aware
//! where structure matters: protobuf messages are generated from the decoder's own schema table
//! (`src/protobuf_schema.json`) and patches and objects from the merge schema
//! ([`SchemaMeta::builtin`]), so that inputs get past the first check and reach the deep code;
//! then they are corrupted (bit flips, truncation, wrong wire types, directives in odd places,
//! extreme numbers). Every call must return, not panic; a panic is reported with the input that
//! caused it. Where a decoder documents an invariant of its output, that is checked too.
//!
//! Each target stops after its iteration count or its time budget, whichever comes first, so
//! that the whole file runs in well under 20 s in a debug build. `FUZZ_SCALE=<n>` multiplies
//! both for a longer run.

use apiserver::patch::apply::{FieldManager, FieldSet, PathElement, decode_managed_fields};
use apiserver::patch::schema::SchemaMeta;
use apiserver::patch::strategic;
use apiserver::protobuf;
use serde_json::{Map, Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// xorshift64: small, deterministic, good enough for input generation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    /// True with probability 1/n.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Up to `max - 1` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

fn scale() -> u32 {
    std::env::var("FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// Runs `body` with fresh inputs until `iterations` or `budget` is spent; returns the number of
/// iterations run. `body` gets the generator and must describe its input for a failure report.
fn fuzz(
    name: &str,
    seed: u64,
    iterations: u32,
    budget: Duration,
    mut body: impl FnMut(&mut Rng) -> Option<String>,
) -> u32 {
    let iterations = iterations * scale();
    let budget = budget * scale();
    let start = Instant::now();
    let mut rng = Rng(seed);
    let mut done = 0;
    while done < iterations && start.elapsed() < budget {
        let state = rng.0;
        let r = catch_unwind(AssertUnwindSafe(|| body(&mut rng)));
        match r {
            Ok(None) => {}
            Ok(Some(failure)) => panic!("{name}: iteration {done} (rng state {state:#x}): {failure}"),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name}: PANIC at iteration {done} (rng state {state:#x}): {msg}");
            }
        }
        done += 1;
    }
    eprintln!("{name}: {done} iterations in {:?}", start.elapsed());
    done
}

/// Calls `f` on `input`; on a panic, re-panics with the input shown (truncated).
fn with_input<T>(what: &str, input: &dyn std::fmt::Debug, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let mut shown = format!("{input:?}");
            if shown.len() > 4000 {
                shown.truncate(4000);
                shown.push_str("...");
            }
            panic!("{what} panicked: {msg}\ninput: {shown}");
        }
    }
}

/// Silences the default panic hook's output for panics that `with_input` reports itself.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.to_string();
            if msg.contains("panicked: ") || msg.contains("PANIC at iteration") {
                default(info);
            } else {
                eprintln!("(panic inside a fuzz target: {msg})");
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// Protobuf
// ---------------------------------------------------------------------------------------------

/// The decoder's schema table: kinds → messages → fields.
struct PbSchema {
    kinds: Vec<(String, String, String)>,
    messages: serde_json::Map<String, Value>,
}

impl PbSchema {
    fn load() -> PbSchema {
        let v: Value = serde_json::from_str(include_str!("../src/protobuf_schema.json")).expect("schema json");
        let mut kinds: Vec<(String, String, String)> = v["kinds"]
            .as_object()
            .expect("kinds")
            .iter()
            .map(|(k, m)| {
                let (av, kind) = k.rsplit_once('/').expect("group/version/kind");
                (
                    av.to_string(),
                    kind.to_string(),
                    m.as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        kinds.sort();
        PbSchema {
            kinds,
            messages: v["messages"].as_object().expect("messages").clone(),
        }
    }

    fn fields(&self, msg: &str) -> Vec<(u64, String, String)> {
        self.messages
            .get(msg)
            .and_then(|m| m["fields"].as_array())
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        (
                            f[0].as_u64().unwrap_or(1),
                            f[2].as_str().unwrap_or("string").to_string(),
                            f[3].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(num: u64, wire: u64, out: &mut Vec<u8>) {
    varint(num << 3 | wire, out);
}

fn len_field(num: u64, payload: &[u8], out: &mut Vec<u8>) {
    key(num, 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut tm = Vec::new();
    len_field(1, api_version.as_bytes(), &mut tm);
    len_field(2, kind.as_bytes(), &mut tm);
    let mut out = protobuf::MAGIC.to_vec();
    len_field(1, &tm, &mut out);
    len_field(2, raw, &mut out);
    out
}

/// Interesting integers: edges of every width, small values, negatives.
fn random_int(r: &mut Rng) -> u64 {
    match r.below(8) {
        0 => *r.pick(&[
            0,
            1,
            0x7f,
            0x80,
            0xffff_ffff,
            u64::MAX,
            i64::MAX as u64,
            i64::MIN as u64,
        ]),
        1 => (-(r.below(100) as i64)) as u64,
        2 => r.next(),
        3 => r.next() >> r.below(64),
        _ => r.below(1000) as u64,
    }
}

fn random_text(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0 => r.some_bytes(12),                    // likely invalid UTF-8
        1 => "é✓\u{0}\u{7f}".as_bytes().to_vec(), // odd but valid
        2 => br#"{"a":[1,{"b":null}]}"#.to_vec(), // JSON (raw fields)
        3 => b"12Mi".to_vec(),                    // quantity-ish
        4 => b"2024-01-01T00:00:00Z".to_vec(),    // time-ish
        5 => "x".repeat(r.below(300)).into_bytes(),
        _ => r
            .pick(&["web", "a", "", "name", "v1", "TCP", "Always", "1"])
            .as_bytes()
            .to_vec(),
    }
}

/// A random (mostly well-formed) encoding of message `msg`.
fn random_message(s: &PbSchema, r: &mut Rng, msg: &str, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let fields = s.fields(msg);
    if fields.is_empty() || depth > 12 {
        if r.one_in(4) {
            out.extend(r.some_bytes(8));
        }
        return out;
    }
    let n = r.below(fields.len().min(8) + 1);
    for _ in 0..n {
        let (num, ty, flags) = r.pick(&fields).clone();
        let repeats = if flags.contains('r') { 1 + r.below(3) } else { 1 };
        for _ in 0..repeats {
            random_field(s, r, num, &ty, depth, &mut out);
        }
    }
    // Sometimes: an unknown field, or a field with the wrong wire type.
    if r.one_in(8) {
        let num = 1 + r.below(40) as u64;
        let wire = *r.pick(&[0u64, 1, 2, 5, 3, 4, 6, 7]);
        key(num, wire, &mut out);
        match wire {
            0 => varint(random_int(r), &mut out),
            1 => out.extend(r.bytes(8)),
            5 => out.extend(r.bytes(4)),
            2 => {
                let b = r.some_bytes(6);
                varint(b.len() as u64, &mut out);
                out.extend(b);
            }
            _ => {}
        }
    }
    out
}

fn random_field(s: &PbSchema, r: &mut Rng, num: u64, ty: &str, depth: usize, out: &mut Vec<u8>) {
    if let Some(value_ty) = ty.strip_prefix("map:") {
        let mut entry = Vec::new();
        if !r.one_in(10) {
            len_field(1, &random_text(r), &mut entry);
        }
        if !r.one_in(10) {
            random_field(s, r, 2, value_ty, depth + 1, &mut entry);
        }
        len_field(num, &entry, out);
        return;
    }
    if let Some(m) = ty.strip_prefix("m:") {
        let inner = random_message(s, r, m, depth + 1);
        len_field(num, &inner, out);
        return;
    }
    match ty {
        "int64" | "int32" | "bool" => {
            if r.one_in(10) {
                // packed
                let mut p = Vec::new();
                for _ in 0..r.below(4) {
                    varint(random_int(r), &mut p);
                }
                len_field(num, &p, out);
            } else {
                key(num, 0, out);
                varint(if ty == "bool" { r.below(3) as u64 } else { random_int(r) }, out);
            }
        }
        "double" => {
            key(num, 1, out);
            let f = *r.pick(&[0.0f64, -1.5, 1e308, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE, 3.0]);
            out.extend(f.to_le_bytes());
        }
        _ => len_field(num, &random_text(r), out),
    }
}

/// Corrupts a body in place a few times.
fn corrupt(r: &mut Rng, b: &mut Vec<u8>) {
    for _ in 0..1 + r.below(3) {
        if b.is_empty() {
            b.extend(r.bytes(4));
            continue;
        }
        let at = r.below(b.len());
        match r.below(6) {
            0 => b[at] = r.next() as u8,
            1 => b[at] ^= 1 << r.below(8),
            2 => b.truncate(at),
            3 => b.insert(at, r.next() as u8),
            4 => {
                b.remove(at);
            }
            _ => {
                // Duplicate a slice (repeated fields, bogus lengths).
                let end = (at + 1 + r.below(16)).min(b.len());
                let chunk = b[at..end].to_vec();
                let to = r.below(b.len() + 1);
                b.splice(to..to, chunk);
            }
        }
    }
}

#[test]
fn protobuf_decode_never_panics() {
    quiet_panics();
    let schema = PbSchema::load();
    let mut ok = 0u32;
    let n = fuzz("protobuf::decode", 0x5eed_0001, 20_000, Duration::from_secs(4), |r| {
        let (av, kind, msg) = r.pick(&schema.kinds).clone();
        let raw = random_message(&schema, r, &msg, 0);
        let mut body = envelope(&av, &kind, &raw);
        let well_formed = body.clone();
        let clean = r.one_in(2);
        if !clean {
            corrupt(r, &mut body);
        }
        let got = with_input("protobuf::decode", &body, || protobuf::decode(&body));
        if let Ok(v) = &got {
            if clean {
                ok += 1;
                // A well-formed typed body decodes to an object with the envelope's kind.
                if !v.is_object() || v["kind"] != kind.as_str() || v["apiVersion"] != av.as_str() {
                    return Some(format!("{kind}: decoded to {v}"));
                }
            }
            serde_json::to_vec(v).expect("serializable");
        }
        // Every prefix of the well-formed body must be handled too.
        if r.one_in(20) {
            for cut in 0..well_formed.len() {
                let part = &well_formed[..cut];
                let _ = with_input("protobuf::decode (prefix)", &part, || protobuf::decode(part));
            }
        }
        None
    });
    eprintln!("protobuf::decode: {ok} of ~{} well-formed bodies decoded", n / 2);
    // The generator must mostly produce bodies the decoder accepts, or it tests nothing deep.
    assert!(ok * 4 > n / 2 / 2, "only {ok} of ~{} well-formed bodies decoded", n / 2);

    // Hand-made edge cases.
    let mut huge_len = protobuf::MAGIC.to_vec();
    huge_len.extend([0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(protobuf::decode(&huge_len).is_err());
    let mut deep = Vec::new();
    for _ in 0..3_000 {
        let mut next = Vec::new();
        len_field(1, &deep, &mut next);
        deep = next;
    }
    let _ = protobuf::decode(&envelope("v1", "ConfigMap", &deep));
    let _ = protobuf::decode(&envelope("apps/v1", "Deployment", &deep));
    for k in &schema.kinds {
        let _ = protobuf::decode(&envelope(&k.0, &k.1, &[]));
        let _ = protobuf::decode(&envelope(&k.0, &k.1, &[0xff; 32]));
    }
}

// ---------------------------------------------------------------------------------------------
// Objects and patches shaped by the merge schema
// ---------------------------------------------------------------------------------------------

const KINDS: &[(&str, &str, &str)] = &[
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "StatefulSet"),
    ("apps", "v1", "DaemonSet"),
    ("", "v1", "Pod"),
    ("", "v1", "Service"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "Node"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
    ("networking.k8s.io", "v1", "Ingress"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
];

/// Scalar field names worth setting (the schema lists only fields with structure).
const SCALAR_KEYS: &[&str] = &[
    "name",
    "image",
    "value",
    "type",
    "containerPort",
    "protocol",
    "port",
    "key",
    "replicas",
    "mountPath",
    "ip",
    "x",
];

const DIRECTIVES: &[&str] = &[
    "$patch",
    "$retainKeys",
    "$setElementOrder",
    "$deleteFromPrimitiveList",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$setElementOrder/ports",
    "$setElementOrder/finalizers",
    "$deleteFromPrimitiveList/args",
    "$deleteFromPrimitiveList/finalizers",
    "$deleteFromPrimitiveList/command",
];

/// Values list items are keyed by, few enough that original and patch items collide.
fn key_value(r: &mut Rng, key: &str) -> Value {
    match key {
        "containerPort" | "port" => json!(*r.pick(&[80, 443, 8080])),
        "protocol" => json!(*r.pick(&["TCP", "UDP"])),
        _ => json!(*r.pick(&["a", "b", "web", "side"])),
    }
}

fn random_scalar(r: &mut Rng) -> Value {
    match r.below(7) {
        0 => Value::Null,
        1 => json!(r.one_in(2)),
        2 => json!(random_int(r) as i64),
        3 => json!(1.5),
        4 => json!(*r.pick(&["replace", "delete", "merge", "bogus"])),
        _ => json!(*r.pick(&["a", "b", "web", "side", "", "--a", "x"])),
    }
}

/// Arbitrary JSON (for where no schema applies).
fn random_json(r: &mut Rng, depth: usize) -> Value {
    match if depth > 5 { r.below(4) } else { r.below(7) } {
        0..=3 => random_scalar(r),
        4 | 5 => {
            let mut m = Map::new();
            for _ in 0..r.below(4) {
                let k = if r.one_in(4) {
                    r.pick(DIRECTIVES)
                } else {
                    r.pick(SCALAR_KEYS)
                };
                m.insert(k.to_string(), random_json(r, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..r.below(4)).map(|_| random_json(r, depth + 1)).collect()),
    }
}

/// Generation options.
#[derive(Clone, Copy)]
struct Gen {
    /// Insert patch directives (and their malformed variants).
    directives: bool,
    /// Allow nulls, wrong types and missing merge keys.
    chaos: bool,
}

/// A random value of type `ty` (a merge-schema type name, or None for scalars).
fn random_of_type(meta: &SchemaMeta, r: &mut Rng, ty: Option<&str>, depth: usize, g: Gen) -> Value {
    if g.chaos && r.one_in(25) {
        return random_json(r, depth);
    }
    let Some(ty) = ty else {
        return random_scalar_typed(r);
    };
    let Some(t) = meta.type_meta(ty) else {
        return random_scalar_typed(r);
    };
    let mut out = Map::new();
    if depth > 7 {
        return Value::Object(out);
    }
    let mut props: Vec<(&String, _)> = t.props.iter().collect();
    props.sort_by(|a, b| a.0.cmp(b.0));
    if !props.is_empty() {
        for _ in 0..r.below(props.len().min(4) + 1) {
            let (name, f) = *r.pick(&props);
            let v = if f.list {
                let key = f.key.clone().or_else(|| f.map_keys.first().cloned());
                let items = (0..r.below(4))
                    .map(|_| {
                        let mut item = random_of_type(meta, r, f.type_name.as_deref(), depth + 1, g);
                        if let (Some(k), Value::Object(m)) = (&key, &mut item)
                            && !(g.chaos && r.one_in(10))
                        {
                            m.insert(k.clone(), key_value(r, k));
                        }
                        if g.directives
                            && r.one_in(8)
                            && let Value::Object(m) = &mut item
                        {
                            m.insert("$patch".into(), random_directive_value(r));
                        }
                        item
                    })
                    .collect();
                Value::Array(items)
            } else if f.map {
                let mut m = Map::new();
                for _ in 0..r.below(3) {
                    let v = if f.map_of_lists {
                        json!([random_scalar_typed(r)])
                    } else {
                        random_of_type(meta, r, f.type_name.as_deref(), depth + 1, g)
                    };
                    m.insert(r.pick(&["a", "b", "c"]).to_string(), v);
                }
                Value::Object(m)
            } else {
                random_of_type(meta, r, f.type_name.as_deref(), depth + 1, g)
            };
            out.insert(name.clone(), v);
        }
    }
    for _ in 0..r.below(3) {
        out.insert(r.pick(SCALAR_KEYS).to_string(), random_scalar_typed(r));
    }
    if g.chaos && r.one_in(6) {
        out.insert(r.pick(SCALAR_KEYS).to_string(), Value::Null);
    }
    if g.directives && r.one_in(4) {
        add_directive(
            r,
            &mut out,
            &props.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>(),
        );
    }
    Value::Object(out)
}

fn random_scalar_typed(r: &mut Rng) -> Value {
    match r.below(4) {
        0 => json!(r.below(100)),
        1 => json!(r.one_in(2)),
        _ => json!(*r.pick(&["a", "b", "web", "--a", "--b", "x"])),
    }
}

fn random_directive_value(r: &mut Rng) -> Value {
    match r.below(6) {
        0 => json!("replace"),
        1 => json!("delete"),
        2 => json!("merge"),
        3 => json!("bogus"),
        4 => json!(null),
        _ => json!([1]),
    }
}

/// Adds one directive (well-formed or not) to a patch map.
fn add_directive(r: &mut Rng, m: &mut Map<String, Value>, props: &[String]) {
    let field = if props.is_empty() || r.one_in(4) {
        r.pick(&["containers", "env", "args", "nope"]).to_string()
    } else {
        r.pick(props).clone()
    };
    match r.below(6) {
        0 => {
            m.insert("$patch".into(), random_directive_value(r));
        }
        1 => {
            let keys: Vec<Value> = m.keys().take(r.below(4)).map(|k| json!(k)).collect();
            let v = if r.one_in(4) {
                random_scalar(r)
            } else {
                Value::Array(keys)
            };
            m.insert("$retainKeys".into(), v);
        }
        2 => {
            let order = if r.one_in(2) {
                json!([{"name": "web"}, {"name": "side"}, {"name": "a"}])
            } else if r.one_in(2) {
                json!(["a", "b", "--a"])
            } else {
                random_json(r, 3)
            };
            m.insert(format!("$setElementOrder/{field}"), order);
        }
        3 => {
            let v = if r.one_in(3) {
                random_json(r, 3)
            } else {
                json!(["--a", "a", 1])
            };
            m.insert(format!("$deleteFromPrimitiveList/{field}"), v);
        }
        4 => {
            let k = *r.pick(DIRECTIVES);
            m.insert(k.to_string(), random_json(r, 3));
        }
        _ => {
            // A directive on a nested list item map.
            m.insert(
                field,
                json!([{"name": "web", "$patch": "delete"}, {"$patch": "replace"}]),
            );
        }
    }
}

/// Whether `v` holds a directive key anywhere.
fn has_directive(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$patch"
                    || k == "$retainKeys"
                    || k.starts_with("$setElementOrder/")
                    || k.starts_with("$deleteFromPrimitiveList/")
                {
                    return Some(k.clone());
                }
                if let Some(d) = has_directive(x) {
                    return Some(format!("{k}.{d}"));
                }
            }
            None
        }
        Value::Array(a) => a.iter().find_map(has_directive),
        _ => None,
    }
}

fn root_of<'a>(meta: &'a SchemaMeta, (group, version, kind): (&str, &str, &str)) -> &'a str {
    meta.root(group, version, kind)
        .unwrap_or_else(|| panic!("no merge schema root for {group}/{version}/{kind}"))
}

#[test]
fn strategic_merge_patch_never_panics() {
    quiet_panics();
    let meta = SchemaMeta::builtin();
    let mut applied = 0u32;
    let n = fuzz("strategic::apply", 0x5eed_0002, 6_000, Duration::from_secs(4), |r| {
        let kind = *r.pick(KINDS);
        let root = if r.one_in(20) {
            "no.such.Type"
        } else {
            root_of(meta, kind)
        };
        let original = if r.one_in(30) {
            random_json(r, 0)
        } else {
            random_of_type(
                meta,
                r,
                Some(root),
                0,
                Gen {
                    directives: false,
                    chaos: false,
                },
            )
        };
        let patch = if r.one_in(15) {
            random_json(r, 0)
        } else {
            {
                let g = Gen {
                    directives: true,
                    chaos: r.one_in(3),
                };
                random_of_type(meta, r, Some(root), 0, g)
            }
        };
        let input = (&original, &patch, root);
        let got = with_input("strategic::apply", &input, || {
            strategic::apply(&original, &patch, meta, root)
        });
        match got {
            Ok(v) => {
                applied += 1;
                // Documented: a result never carries a directive key (the originals made here
                // carry none).
                if original.is_object()
                    && has_directive(&original).is_none()
                    && let Some(d) = has_directive(&v)
                {
                    return Some(format!(
                        "directive {d} left in the result\noriginal: {original}\npatch: {patch}\nresult: {v}"
                    ));
                }
                // Patching the result again must work as well (it is a plain object).
                let _ = with_input("strategic::apply (again)", &input, || {
                    strategic::apply(&v, &patch, meta, root)
                });
            }
            Err(e) => {
                let status = e.http_status();
                if ![400, 422, 500].contains(&status) || e.to_string().is_empty() {
                    return Some(format!("odd error {e:?} ({status})"));
                }
            }
        }
        // Identity patches.
        if original.is_object() {
            let same = with_input("strategic::apply (null)", &original, || {
                strategic::apply(&original, &Value::Null, meta, root)
            });
            if same.as_ref() != Ok(&original) {
                return Some(format!("a null patch changed {original} into {same:?}"));
            }
        }
        None
    });
    eprintln!("strategic::apply: {applied} of {n} patches applied");
    assert!(
        applied * 10 > n,
        "only {applied} of {n} patches applied: the generator is too noisy"
    );

    // Deep nesting that a JSON body can still carry (serde_json stops at 128 levels).
    let mut deep_patch = json!({"x": 1});
    let mut deep_orig = json!({"x": 1});
    for _ in 0..120 {
        deep_patch = json!({"spec": deep_patch, "$setElementOrder/x": [1]});
        deep_orig = json!({"spec": deep_orig});
    }
    let root = root_of(meta, ("apps", "v1", "Deployment"));
    let _ = strategic::apply(&deep_orig, &deep_patch, meta, root);
    let _ = strategic::apply(&deep_orig, &deep_patch, meta, "no.such.Type");
}

// ---------------------------------------------------------------------------------------------
// Server-side apply
// ---------------------------------------------------------------------------------------------

fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// A random apply configuration of a kind.
fn random_applied(meta: &SchemaMeta, r: &mut Rng, kind: (&str, &str, &str), root: &str) -> Value {
    let g = Gen {
        directives: r.one_in(10),
        chaos: r.one_in(4),
    };
    let mut v = random_of_type(meta, r, Some(root), 0, g);
    if let Value::Object(m) = &mut v {
        if !r.one_in(20) {
            m.insert("apiVersion".into(), json!(api_version(kind.0, kind.1)));
        }
        m.insert("kind".into(), json!(kind.2));
        let md = m.entry("metadata").or_insert_with(|| json!({}));
        if let Value::Object(md) = md {
            md.insert("name".into(), json!("obj"));
        }
    }
    v
}

/// Random, often broken, managedFields.
fn random_managed_fields(r: &mut Rng) -> Value {
    let entry = |r: &mut Rng| {
        let mut e = Map::new();
        if !r.one_in(6) {
            e.insert("manager".into(), json!(*r.pick(&["a", "b", "", "kubectl"])));
        }
        if !r.one_in(6) {
            e.insert("operation".into(), json!(*r.pick(&["Apply", "Update", "Bogus"])));
        }
        if !r.one_in(6) {
            e.insert("apiVersion".into(), json!(*r.pick(&["v1", "apps/v1", "", "x/y/z"])));
        }
        if !r.one_in(6) {
            e.insert("fieldsType".into(), json!(*r.pick(&["FieldsV1", "FieldsV2"])));
        }
        if !r.one_in(6) {
            e.insert("fieldsV1".into(), random_fields_v1(r, 0));
        }
        if r.one_in(4) {
            e.insert(
                "time".into(),
                json!(*r.pick(&["2024-01-01T00:00:00Z", "yesterday", ""])),
            );
        }
        if r.one_in(5) {
            e.insert("subresource".into(), json!(*r.pick(&["status", "scale", ""])));
        }
        if r.one_in(10) {
            return random_json(r, 2);
        }
        Value::Object(e)
    };
    match r.below(8) {
        0 => random_json(r, 1),
        1 => json!([]),
        _ => Value::Array((0..1 + r.below(3)).map(|_| entry(r)).collect()),
    }
}

/// Random FieldsV1 JSON: mostly valid keys, sometimes garbage.
fn random_fields_v1(r: &mut Rng, depth: usize) -> Value {
    if depth > 4 || r.one_in(4) {
        return if r.one_in(10) { random_json(r, 3) } else { json!({}) };
    }
    let mut m = Map::new();
    for _ in 0..r.below(4) {
        let k = random_fields_key(r);
        m.insert(k, random_fields_v1(r, depth + 1));
    }
    if r.one_in(3) {
        m.insert(".".into(), json!({}));
    }
    Value::Object(m)
}

fn random_fields_key(r: &mut Rng) -> String {
    match r.below(12) {
        0 => format!("k:{}", random_json(r, 3)),
        1 => r#"k:{"name":"web"}"#.to_string(),
        2 => r#"k:{"containerPort":80,"protocol":"TCP"}"#.to_string(),
        3 => format!("v:{}", random_json(r, 3)),
        4 => format!("i:{}", *r.pick(&["0", "-1", "99999999999999999999", "x", ""])),
        5 => r
            .pick(&["k:", "v:", "f:", "", "x", "k:{", "v:[", "k:[]", "k:{}", "i:"])
            .to_string(),
        6 => String::from_utf8_lossy(&r.some_bytes(6)).into_owned(),
        _ => format!(
            "f:{}",
            r.pick(&["metadata", "spec", "data", "containers", "name", "labels", "a"])
        ),
    }
}

#[test]
fn server_side_apply_never_panics() {
    quiet_panics();
    let meta = SchemaMeta::builtin();
    let managers = ["a", "b", "c", ""];
    let mut accepted = 0u32;
    let n = fuzz("FieldManager::apply", 0x5eed_0003, 1_500, Duration::from_secs(5), |r| {
        let kind = *r.pick(KINDS);
        let root = root_of(meta, kind);
        let av = api_version(kind.0, kind.1);
        let fm = FieldManager::new(meta, root, &av).with_subresource(if r.one_in(8) { Some("status") } else { None });
        let now = "2026-01-01T00:00:00Z";
        // The live object: none, a random one (maybe with broken managedFields), or what earlier
        // applies made.
        let mut live: Option<Value> = match r.below(3) {
            0 => None,
            _ => {
                let mut v = random_applied(meta, r, kind, root);
                if r.one_in(2)
                    && let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    md.insert("managedFields".into(), random_managed_fields(r));
                }
                Some(v)
            }
        };
        for step in 0..1 + r.below(4) {
            let mut applied = if r.one_in(25) {
                random_json(r, 0)
            } else {
                random_applied(meta, r, kind, root)
            };
            if r.one_in(25)
                && let Some(md) = applied.get_mut("metadata").and_then(Value::as_object_mut)
            {
                md.insert("managedFields".into(), random_managed_fields(r));
            }
            let manager = *r.pick(&managers);
            let force = r.one_in(3);
            let input = (&live, &applied, manager, force, kind);
            let got = with_input("FieldManager::apply", &input, || {
                fm.apply(live.as_ref(), &applied, manager, force, now)
            });
            if let Ok(v) = got {
                accepted += 1;
                if !v.is_object() {
                    return Some(format!("step {step}: apply produced a non-object {v}"));
                }
                // What the field manager writes it must be able to read back.
                if let Err(e) = decode_managed_fields(v.pointer("/metadata/managedFields")) {
                    return Some(format!(
                        "step {step}: managedFields written by apply do not decode: {e}\napplied: {applied}\nresult: {v}"
                    ));
                }
                live = Some(v);
            }
            // Non-apply writes record ownership too.
            if r.one_in(3) {
                let new = random_applied(meta, r, kind, root);
                let m = with_input("FieldManager::update", &(&live, &new), || {
                    fm.update(live.as_ref(), &new, "upd", now)
                });
                if let Err(e) = decode_managed_fields(Some(&m)) {
                    return Some(format!("update wrote managedFields that do not decode: {e}: {m}"));
                }
                let updated = with_input("FieldManager::update_object", &(&live, &new), || {
                    fm.update_object(live.as_ref(), &new, "upd", now)
                });
                if updated.is_object() {
                    live = Some(updated);
                }
            }
        }
        None
    });
    eprintln!("FieldManager::apply: {accepted} applies accepted in {n} runs");
    assert!(
        accepted * 5 > n,
        "only {accepted} applies (of {n} runs) succeeded: the generator is too noisy"
    );
}

#[test]
fn managed_fields_decoders_never_panic() {
    quiet_panics();
    fuzz(
        "FieldSet::from_fields_v1",
        0x5eed_0004,
        20_000,
        Duration::from_secs(2),
        |r| {
            let v = random_fields_v1(r, 0);
            if let Ok(set) = with_input("FieldSet::from_fields_v1", &v, || FieldSet::from_fields_v1(&v)) {
                // Round trip: what we encode we read back as the same set.
                let again = FieldSet::from_fields_v1(&set.to_fields_v1());
                match again {
                    Ok(s) if s == set => {}
                    other => return Some(format!("round trip of {v} gave {other:?}, was {set:?}")),
                }
            }
            let entries = random_managed_fields(r);
            let _ = with_input("decode_managed_fields", &entries, || {
                decode_managed_fields(Some(&entries))
            });
            let k = random_fields_key(r);
            if let Ok(p) = with_input("PathElement::from_fields_key", &k, || PathElement::from_fields_key(&k)) {
                let text = p.to_fields_key();
                match PathElement::from_fields_key(&text) {
                    Ok(q) if q.to_fields_key() == text => {}
                    other => return Some(format!("{k:?} → {text:?} → {other:?}")),
                }
            }
            None
        },
    );
}

// ---------------------------------------------------------------------------------------------
// JSON patch, merge patch, apply YAML
// ---------------------------------------------------------------------------------------------

fn random_pointer(r: &mut Rng) -> String {
    match r.below(6) {
        0 => String::new(),
        1 => String::from_utf8_lossy(&r.some_bytes(5)).into_owned(),
        _ => {
            let mut p = String::new();
            for _ in 0..r.below(5) {
                p.push('/');
                p.push_str(r.pick::<&str>(&[
                    "spec",
                    "a",
                    "0",
                    "1",
                    "-",
                    "~0",
                    "~1",
                    "~",
                    "~2",
                    "",
                    "99999999999999999999",
                    "x",
                ]));
            }
            p
        }
    }
}

#[test]
fn json_patch_and_merge_patch_never_panic() {
    quiet_panics();
    fuzz("json_patch", 0x5eed_0005, 20_000, Duration::from_secs(3), |r| {
        let doc = random_json(r, 0);
        let ops: Vec<Value> = (0..r.below(5))
            .map(|_| {
                let mut op = Map::new();
                op.insert(
                    "op".into(),
                    json!(*r.pick(&["add", "remove", "replace", "move", "copy", "test", "bogus"])),
                );
                if !r.one_in(10) {
                    op.insert("path".into(), json!(random_pointer(r)));
                }
                if r.one_in(2) {
                    op.insert("from".into(), json!(random_pointer(r)));
                }
                if !r.one_in(4) {
                    op.insert("value".into(), random_json(r, 2));
                }
                Value::Object(op)
            })
            .collect();
        let ops = Value::Array(ops);
        if let Ok(p) = serde_json::from_value::<json_patch::Patch>(ops.clone()) {
            let mut d = doc.clone();
            let _ = with_input("json_patch::patch", &(&doc, &ops), || json_patch::patch(&mut d, &p.0));
        }
        let merge = random_json(r, 0);
        let mut d = doc.clone();
        with_input("json_patch::merge", &(&doc, &merge), || {
            json_patch::merge(&mut d, &merge)
        });
        None
    });
}

#[test]
fn apply_yaml_reader_never_panics() {
    quiet_panics();
    const SNIPPETS: &[&str] = &[
        "apiVersion: v1\n",
        "kind: ConfigMap\n",
        "metadata:\n  name: x\n",
        "data: {a: 1, b: [1, 2]}\n",
        "- a\n- b\n",
        "&a [*a]\n",
        "a: &x {b: *x}\n",
        "? complex\n: key\n",
        "!!binary aGVsbG8=\n",
        "%YAML 1.2\n---\n",
        "---\n...\n",
        "a: 'unterminated\n",
        "\t- tab\n",
        "{{{{{{{{",
        "[[[[[[[[",
        "a: !!int x\n",
        "b: 1e999999\n",
        "c: -0x8000000000000000\n",
        "d: 0o777777777777777777777777\n",
    ];
    fuzz("yaml_to_json", 0x5eed_0006, 5_000, Duration::from_secs(2), |r| {
        let mut doc: Vec<u8> = Vec::new();
        for _ in 0..1 + r.below(5) {
            let s = r.pick(SNIPPETS).as_bytes();
            let indent = r.below(3) * 2;
            doc.extend(std::iter::repeat_n(b' ', indent));
            doc.extend_from_slice(s);
        }
        if r.one_in(3) {
            corrupt(r, &mut doc);
        }
        let _ = with_input("yaml_to_json", &String::from_utf8_lossy(&doc), || {
            apiserver::http::yaml_to_json(&doc)
        });
        None
    });
    // Alias expansion ("billion laughs") must be refused or bounded, fast.
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let start = Instant::now();
    let _ = apiserver::http::yaml_to_json(bomb.as_bytes());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "alias expansion took {:?}",
        start.elapsed()
    );
    // Deep nesting must not overflow the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let _ = apiserver::http::yaml_to_json(deep.as_bytes());
    let deep_map = "a:\n".to_string() + &(1..2000).map(|i| format!("{}a:\n", " ".repeat(i))).collect::<String>();
    let _ = apiserver::http::yaml_to_json(deep_map.as_bytes());
}
