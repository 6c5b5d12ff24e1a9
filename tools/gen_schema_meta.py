#!/usr/bin/env python3
"""Generates apiserver/src/patch/schema_meta.json from kube-apiserver's OpenAPI v3 documents.

The table holds, per built-in schema, only what merge logic needs: which properties lead
to other schemas (directly, as list items or as map values) and the list/map semantics
Kubernetes publishes for them (x-kubernetes-patch-strategy, -patch-merge-key, -list-type,
-list-map-keys, -map-type), plus the schema of every root kind (group/version/Kind).

Usage: tools/gen_schema_meta.py DIR_WITH_OPENAPI_V3_JSON > apiserver/src/patch/schema_meta.json
"""
import json
import os
import sys


def ref_name(s):
    if not isinstance(s, dict):
        return None
    r = s.get("$ref")
    if r:
        return r.rsplit("/", 1)[-1]
    for k in ("allOf", "oneOf", "anyOf"):
        for sub in s.get(k, []) or []:
            n = ref_name(sub)
            if n:
                return n
    return None


def prop_meta(p):
    m = {}
    r = ref_name(p)
    if r:
        m["ref"] = r
    if p.get("type") == "array":
        m["list"] = True
        it = ref_name(p.get("items", {}))
        if it:
            m["ref"] = it
    ap = p.get("additionalProperties")
    if isinstance(ap, dict):
        m["map"] = True
        it = ref_name(ap)
        if it:
            m["ref"] = it
        if ap.get("type") == "array":
            m["mapOfLists"] = True
    for src, dst in (("x-kubernetes-patch-strategy", "strategy"), ("x-kubernetes-patch-merge-key", "key"),
                     ("x-kubernetes-list-type", "listType"), ("x-kubernetes-list-map-keys", "mapKeys"),
                     ("x-kubernetes-map-type", "mapType")):
        if src in p:
            m[dst] = p[src]
    return m


def main(d):
    types, roots = {}, {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        doc = json.load(open(os.path.join(d, f)))
        for name, s in doc.get("components", {}).get("schemas", {}).items():
            if not name.startswith("io.k8s."):
                continue
            props = {}
            for pn, p in (s.get("properties") or {}).items():
                m = prop_meta(p)
                if m:
                    props[pn] = m
            entry = {"p": props}
            if "x-kubernetes-map-type" in s:
                entry["mapType"] = s["x-kubernetes-map-type"]
            types[name] = entry
            for gvk in s.get("x-kubernetes-group-version-kind", []) or []:
                g = gvk.get("group", "")
                key = f"{g}/{gvk['version']}/{gvk['kind']}"
                roots.setdefault(key, name)
    json.dump({"types": types, "roots": roots}, sys.stdout, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
