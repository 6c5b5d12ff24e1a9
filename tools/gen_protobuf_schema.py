#!/usr/bin/env python3
"""Generates apiserver/src/protobuf_schema.json: the table `apiserver/src/protobuf.rs` decodes
Kubernetes protobuf request bodies with.

Three inputs, each a plain local file tree, combined per message:

* the `k8s-pb` crate's prost-generated sources (`--k8s-pb`): every message of k8s.io/api,
  apimachinery and apiextensions-apiserver with its field numbers, protobuf scalar types,
  repeated/map-ness and nested message types (`#[prost(string, optional, tag = "1")]`);
* the `k8s-openapi` crate's sources (`--k8s-openapi`, e.g. `.../k8s-openapi-0.29.0/src/v1_33`):
  which `apiVersion`/`kind` names which definition, and JSON names as a fallback;
* Go binaries (`--go-binary`, e.g. gcloud's `kubectl.1.33`, and `anthoscli` for apiextensions): Go keeps the reflection data of
  every struct it JSON-encodes, so the binary holds, for each k8s.io/api struct field, its Go
  tag (`json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`) and its Go kind
  (pointer or not). That is what tells how the client's *JSON* encoder would have rendered a
  field: protobuf always carries non-pointer scalars (even "" and 0), JSON drops them under
  `omitempty`; a pointer (`*int32 replicas`) keeps an explicit 0; a non-omitempty nil slice,
  map or pointer is `null`; `json:",inline"` merges a nested struct into its parent.

The crates come from `cargo fetch` of any crate depending on `k8s-pb = "0.9"` and
`k8s-openapi = "0.29"` (see ~/.cargo/registry/src/*/). Usage:

    python3 tools/gen_protobuf_schema.py --k8s-pb DIR --k8s-openapi DIR/src/v1_33 \\
        --go-binary /usr/lib/google-cloud-sdk/bin/kubectl.1.33 \\
        --go-binary /usr/lib/google-cloud-sdk/bin/anthoscli > apiserver/src/protobuf_schema.json

Output: {"kinds": {"apps/v1/Deployment": "apps/v1.Deployment", ...},
         "messages": {"apps/v1.Deployment": {"special": "...",   # optional, see protobuf.rs
                                             "fields": [[num, jsonName, type, flags], ...]}}}
type: string|bytes|bool|int32|int64|double|float, "m:KEY" (message) or "map:VALUETYPE";
flags: r = repeated, o = omit when zero (non-pointer omitempty scalar), n = null when absent,
i = inline (merge the nested object's keys into the parent).
"""

import argparse
import json
import os
import re
import struct
import sys
from array import array

# ---------------------------------------------------------------------------------------------
# Go reflection data in a kubectl binary
# ---------------------------------------------------------------------------------------------

GO_MAP, GO_PTR, GO_SLICE, GO_STRUCT = 21, 22, 23, 25  # reflect.Kind


def go_structs(path):
    """{(pkgpath, TypeName): [(goName, tag, kind)]} for every struct with protobuf-tagged fields."""
    d = open(path, 'rb').read()
    if d[:4] != b'\x7fELF' or d[4] != 2:
        sys.exit('not a 64-bit ELF binary: ' + path)
    phoff, = struct.unpack_from('<Q', d, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', d, 0x36)
    segs = []
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from('<IIQQQQQQ', d, phoff + i * phentsize)
        if p_type == 1:
            segs.append((p_vaddr, p_offset, p_filesz))

    def off2va(o):
        for va, fo, sz in segs:
            if fo <= o < fo + sz:
                return va + (o - fo)
        return None

    def va2off(v):
        for va, fo, sz in segs:
            if va <= v < va + sz:
                return fo + (v - va)
        return None

    shoff, = struct.unpack_from('<Q', d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3a)
    sh = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
    stro = sh[shstrndx][4]
    secs = {d[stro + s[0]: d.index(b'\0', stro + s[0])].decode(): s[3] for s in sh}
    types_base = secs['.rodata']  # runtime.types: type-name offsets are relative to it

    def readname(va):
        o = va2off(va)
        if o is None:
            return None
        n = d[o + 1]
        p = o + 2
        if n & 0x80:
            n = (n & 0x7f) | (d[p] << 7)
            p += 1
        return d[p:p + n].decode('latin1')

    # abi.Name records (flag byte, varint len, name, varint len, tag) whose tag has protobuf:"...
    names = {}
    for m in re.finditer(rb'protobuf:"', d):
        o = m.start()
        for s in range(o - 1, max(o - 600, 0), -1):
            flag = d[s]
            if not (flag & 2) or flag >= 16:
                continue
            n = d[s + 1]
            if n == 0 or n >= 128:
                continue
            nm = d[s + 2:s + 2 + n]
            if not re.fullmatch(rb'[A-Za-z_][A-Za-z0-9_]*', nm):
                continue
            p = s + 2 + n
            tl = d[p]
            p += 1
            if tl & 0x80:
                tl = (tl & 0x7f) | (d[p] << 7)
                p += 1
            if not (p <= o < p + tl):
                continue
            tag = d[p:p + tl]
            if not all(32 <= c < 127 for c in tag):
                continue
            names[off2va(s)] = (nm.decode(), tag.decode())
            break

    def words(fo, sz):
        start = fo + ((-fo) % 8)
        arr = array('Q')
        arr.frombytes(d[start:start + ((fo + sz - start) // 8) * 8])
        return start, arr

    # abi.StructField {Name *byte; Typ *Type; Offset uintptr} entries naming those records.
    fields = []
    for va, fo, sz in segs:
        start, arr = words(fo, sz)
        for k, v in enumerate(arr):
            if v in names and k + 2 < len(arr):
                to = va2off(arr[k + 1])
                if to is None:
                    continue
                fields.append((start + 8 * k, names[v], d[to + 23] & 0x1f, arr[k + 2]))
    fields.sort()
    groups = []
    for f in fields:
        if groups and f[0] - groups[-1][-1][0] == 24 and f[3] > groups[-1][-1][3]:
            groups[-1].append(f)
        else:
            groups.append([f])
    # abi.StructType {Type (48 bytes); PkgPath; Fields []StructField} + uncommonType {PkgPath nameOff}:
    # find the Fields slice header pointing at each group (or a few untagged fields before it).
    want = {}
    for gi, g in enumerate(groups):
        gs = off2va(g[0][0])
        for j in range(4):
            want.setdefault(gs - 24 * j, (gi, j))
    out = {}
    for va, fo, sz in segs:
        start, arr = words(fo, sz)
        for k, v in enumerate(arr):
            if v not in want or k + 2 >= len(arr) or arr[k + 1] != arr[k + 2]:
                continue
            gi, j = want[v]
            n = arr[k + 1]
            if n < len(groups[gi]) + j or n > 500:
                continue
            so = va2off(off2va(start + 8 * k) - 56)
            if so is None or d[so + 23] & 0x1f != GO_STRUCT or not d[so + 20] & 1:
                continue
            tflag = d[so + 20]
            stroff, pkoff = struct.unpack_from('<i', d, so + 40)[0], struct.unpack_from('<i', d, so + 80)[0]
            tname, pkg = readname(types_base + stroff), readname(types_base + pkoff)
            if not tname or not pkg:
                continue
            if tflag & 2:
                tname = tname[1:]
            tname = tname.rsplit('.', 1)[-1]
            out[(pkg, tname)] = [(f[1][0], f[1][1], f[2]) for f in groups[gi]]
    return out


def parse_tag(tag):
    return dict(re.findall(r'(\w+):"([^"]*)"', tag))


# ---------------------------------------------------------------------------------------------
# k8s-pb (prost) sources
# ---------------------------------------------------------------------------------------------


def go_pkg_of_module(mod):
    """["api", "apps", "v1"] -> k8s.io/api/apps/v1"""
    first = {'apiextensions_apiserver': 'apiextensions-apiserver', 'kube_aggregator': 'kube-aggregator'}
    return 'k8s.io/' + '/'.join([first.get(mod[0], mod[0])] + mod[1:])


def read_type(body, i):
    """Reads a Rust type up to the ',' that ends the field; returns (type, next index)."""
    depth = 0
    j = i
    while j < len(body):
        c = body[j]
        if c == '<':
            depth += 1
        elif c == '>':
            depth -= 1
        elif c == ',' and depth == 0:
            break
        j += 1
    return re.sub(r'\s+', '', body[i:j]).replace(',>', '>'), j + 1


def resolve(mod, path):
    parts = path.split('::')
    base = list(mod)
    while parts and parts[0] == 'super':
        base.pop()
        parts.pop(0)
    return go_pkg_of_module(base + parts[:-1]) if (base + parts[:-1]) else None, parts[-1]


def strip_wrappers(t):
    for w in ('::core::option::Option<', '::prost::alloc::vec::Vec<', '::prost::alloc::boxed::Box<'):
        while t.startswith(w):
            t = t[len(w):-1]
    return t


def pb_messages(root):
    """{(gopkg, RustName): [(num, rustField, protoType, repeated, map(valueType)|None, msgRef|None)]}"""
    msgs = {}
    for dirpath, _, files in os.walk(os.path.join(root, 'src')):
        if 'mod.rs' not in files:
            continue
        mod = os.path.relpath(dirpath, os.path.join(root, 'src')).split(os.sep)
        if mod == ['.']:
            continue
        src = open(os.path.join(dirpath, 'mod.rs')).read()
        if '::prost::Message' not in src:
            continue
        pkg = go_pkg_of_module(mod)
        for m in re.finditer(r'pub struct (\w+) \{(\}|.*?\n\})', src, re.S):
            name, body = m.group(1), m.group(2)
            fields = []
            for a in re.finditer(r'#\[prost\((.*?)\)\]\s*pub (?:r#)?(\w+):', body, re.S):
                attr, fname = a.group(1), a.group(2)
                ty, _ = read_type(body, a.end())
                num = int(re.search(r'tag = "(\d+)"', attr).group(1))
                mm = re.match(r'btree_map = "string, (\w+)"', attr)
                if mm:
                    vt = mm.group(1)
                    ref = None
                    if vt == 'message':
                        ref = resolve(mod, inner_value(ty))
                    fields.append((num, fname, vt, False, True, ref))
                    continue
                kind = attr.split(',')[0].strip()
                if kind.startswith('bytes'):
                    kind = 'bytes'
                repeated = ', repeated' in attr
                ref = resolve(mod, strip_wrappers(ty)) if kind == 'message' else None
                fields.append((num, fname, kind, repeated, False, ref))
            msgs[(pkg, name)] = fields
    return msgs


def inner_value(ty):
    """BTreeMap<K,V> -> V"""
    inner = ty[ty.index('<') + 1:-1]
    depth = 0
    for i, c in enumerate(inner):
        if c == '<':
            depth += 1
        elif c == '>':
            depth -= 1
        elif c == ',' and depth == 0:
            return inner[i + 1:].rstrip(',')
    raise ValueError(ty)


# ---------------------------------------------------------------------------------------------
# k8s-openapi sources
# ---------------------------------------------------------------------------------------------


def openapi_defs(root):
    """(kinds {apiVersion/kind: (gopkg, Name)}, json names {(gopkg, name): {normalized: json}})"""
    kinds, jsonnames = {}, {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith('.rs'):
                continue
            src = open(os.path.join(dirpath, f)).read()
            m = re.match(r'// Generated from definition io\.k8s\.(\S+)', src)
            if not m:
                continue
            parts = m.group(1).split('.')
            key = ('k8s.io/' + '/'.join(parts[:-1]), parts[-1])
            jsonnames[key] = {
                norm(r): j for j, r in re.findall(r'"([^"]+)" => Field::Key_(\w+),', src)
            }
            av = re.search(r'const API_VERSION: &\'static str = "([^"]+)";', src)
            kd = re.search(r'const KIND: &\'static str = "([^"]+)";', src)
            if av and kd:
                kinds[av.group(1) + '/' + kd.group(1)] = key
    return kinds, jsonnames


def norm(s):
    return s.replace('_', '').lower()


# ---------------------------------------------------------------------------------------------

SPECIAL = {
    ('k8s.io/apimachinery/pkg/apis/meta/v1', 'Time'): 'time',
    ('k8s.io/apimachinery/pkg/apis/meta/v1', 'MicroTime'): 'microtime',
    ('k8s.io/apimachinery/pkg/apis/meta/v1', 'Duration'): 'duration',
    ('k8s.io/apimachinery/pkg/apis/meta/v1', 'FieldsV1'): 'rawjson',
    ('k8s.io/apimachinery/pkg/runtime', 'RawExtension'): 'rawjson',
    ('k8s.io/apimachinery/pkg/util/intstr', 'IntOrString'): 'intorstring',
    ('k8s.io/apimachinery/pkg/api/resource', 'Quantity'): 'quantity',
}
for v in ('v1', 'v1beta1'):
    p = 'k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/' + v
    SPECIAL[(p, 'Json')] = 'rawjson'
    SPECIAL[(p, 'JsonSchemaPropsOrArray')] = 'schema_or_array'
    SPECIAL[(p, 'JsonSchemaPropsOrBool')] = 'schema_or_bool'
    SPECIAL[(p, 'JsonSchemaPropsOrStringArray')] = 'schema_or_strings'

# Proto field names that are not the JSON name (JSONSchemaProps, when no Go binary knows it).
RENAMES = {'ref': '$ref', 'schema': '$schema'}

# Kinds sent as request bodies under any group version (client-go encodes them with the
# client's group version).
META_KINDS = ['DeleteOptions', 'CreateOptions', 'UpdateOptions', 'PatchOptions', 'Status']


def short(pkg, name):
    for pre in ('k8s.io/api/', 'k8s.io/apimachinery/pkg/apis/', 'k8s.io/apimachinery/pkg/',
                'k8s.io/apiextensions-apiserver/pkg/apis/', 'k8s.io/'):
        if pkg.startswith(pre):
            return pkg[len(pre):] + '.' + name
    return pkg + '.' + name


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--k8s-pb', required=True)
    ap.add_argument('--k8s-openapi', required=True)
    ap.add_argument('--go-binary', action='append', required=True,
                    help='a Go binary linking the API types (repeatable; the first one knowing a struct wins)')
    ap.add_argument('--all-versions', action='store_true', help='also alpha/beta kinds')
    args = ap.parse_args()

    msgs = pb_messages(args.k8s_pb)
    kinds, jsonnames = openapi_defs(args.k8s_openapi)
    gos = {}
    for b in reversed(args.go_binary):
        gos.update(go_structs(b))
    gos_ci = {(p, n.lower()): v for (p, n), v in gos.items()}
    msgs_ci = {(p, n.lower()): (p, n) for (p, n) in msgs}
    jsonnames_ci = {(p, n.lower()): v for (p, n), v in jsonnames.items()}

    roots = {}
    for k, (pkg, name) in kinds.items():
        if not args.all_versions and re.search(r'v\d+(alpha|beta)\d+', k):
            continue
        key = msgs_ci.get((pkg, name.lower()))
        if key:
            roots[k] = key
    for mk in META_KINDS:
        roots['meta.k8s.io/v1/' + mk] = ('k8s.io/apimachinery/pkg/apis/meta/v1', mk)

    out_msgs = {}
    stats = {'fields': 0, 'from_go': 0}
    unmatched = []

    def emit(key):
        sk = short(*key)
        if sk in out_msgs:
            return sk
        out_msgs[sk] = None  # cycle guard
        fields = msgs[key]
        go = gos_ci.get((key[0], key[1].lower()))
        go_by_num = {}
        go_order = {}
        for idx, (gname, tag, kind) in enumerate(go or []):
            t = parse_tag(tag)
            pb = t.get('protobuf', '').split(',')
            if len(pb) > 1 and pb[1].isdigit():
                go_by_num[int(pb[1])] = (gname, t, kind)
                go_order[int(pb[1])] = idx
        entry = {}
        special = SPECIAL.get(key)
        if special is None and len(fields) == 1 and fields[0][1] == 'items' and fields[0][3] and go is None:
            special = 'items'  # a named Go slice type (`type ExtraValue []string`)
        if special:
            entry['special'] = special
        rows = []
        for num, fname, ptype, repeated, is_map, ref in fields:
            stats['fields'] += 1
            if ref is not None:
                rk = msgs_ci.get((ref[0], ref[1].lower()))
                if rk is None:
                    sys.exit(f'unresolved message {ref} in {key}')
                tname = 'm:' + emit(rk)
            else:
                tname = ptype
            if is_map:
                tname = 'map:' + tname
            flags = 'r' if repeated else ''
            g = go_by_num.get(num)
            if g is not None:
                stats['from_go'] += 1
                _, t, kind = g
                jt = t.get('json', '').split(',')
                jname, opts = jt[0], jt[1:]
                if jname == '-' and special is None:
                    continue
                if 'inline' in opts and jname == '':
                    flags += 'i'
                omitempty = 'omitempty' in opts
                if omitempty and kind not in (GO_PTR, GO_SLICE, GO_MAP, GO_STRUCT) and not repeated and not is_map:
                    flags += 'o'
                if not omitempty and kind in (GO_PTR, GO_SLICE, GO_MAP) and 'i' not in flags:
                    flags += 'n'
            else:
                jname = RENAMES.get(fname) or jsonnames_ci.get((key[0], key[1].lower()), {}).get(norm(fname))
                if jname is None:
                    jname = re.sub(r'_([a-z0-9])', lambda m: m.group(1).upper(), fname)
                if ref is None and not repeated and not is_map:
                    flags += 'o'
                if special is None:
                    unmatched.append(f'{sk}.{jname}')
            rows.append((go_order.get(num, 1000 + num), [num, jname, tname, flags]))
        rows.sort(key=lambda r: r[0])
        entry['fields'] = [r[1] for r in rows]
        out_msgs[sk] = entry
        return sk

    out_kinds = {}
    for k in sorted(roots):
        out_kinds[k] = emit(roots[k])
    print(f'{len(out_kinds)} kinds, {len(out_msgs)} messages, {stats["fields"]} fields, '
          f'{stats["from_go"]} with Go tags; without: {unmatched}', file=sys.stderr)
    doc = {'kinds': out_kinds, 'messages': dict(sorted(out_msgs.items()))}
    # One message per line: diffable and compact.
    lines = ['{"kinds": ' + json.dumps(out_kinds, separators=(',', ':')) + ',', ' "messages": {']
    items = list(doc['messages'].items())
    for i, (k, v) in enumerate(items):
        lines.append('  ' + json.dumps(k) + ': ' + json.dumps(v, separators=(',', ':')) + (',' if i + 1 < len(items) else ''))
    lines.append(' }}')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
