#!/usr/bin/env python3
"""Keeps a view of the ConfigMaps in one namespace with the official `kubernetes`
client (list, then `watch.Watch().stream` from the list's resourceVersion) and
checks that the view ends up equal to an expected state.

Used by tests/clients.rs. Protocol:
  argv: KUBECONFIG NAMESPACE [DEADLINE_SECONDS]
  stdout line 1: "READY <rv>" once the first list is done and the watch loop runs.
  stdin: one JSON line {name: {"rv": "...", "data": {...}}}, the server's final state.
  last stdout line: a JSON summary; exit status 0 only when the view matched.

The watch loop does what a careful client-go style informer does: a dropped
connection (e.g. the server was killed) re-watches from the last resourceVersion
seen; a 410 Gone relists and watches from the list's resourceVersion.
"""

import json
import sys
import threading
import time

try:
    from kubernetes import client, config, watch
    from kubernetes.client.rest import ApiException
except ImportError as e:  # Report clearly; the Rust test fails on this line.
    print(f"IMPORT-ERROR {e}: run `python3 -m pip install kubernetes`", flush=True)
    sys.exit(3)


class View:
    def __init__(self):
        self.lock = threading.Lock()
        self.objects = {}  # name -> {"rv": str, "data": dict}
        self.rv = None  # last resourceVersion seen (list, event or bookmark)
        self.events = 0  # ADDED/MODIFIED/DELETED events applied
        self.bookmarks = 0
        self.relists = 0  # lists after the first one (410 Gone)
        self.rewatches = 0  # watch requests after the first one
        self.errors = []  # short descriptions of errors the loop recovered from
        self.rv_regressions = []  # events whose rv was not above the previous one

    def snapshot(self):
        with self.lock:
            return {k: dict(v) for k, v in self.objects.items()}


def entry(obj):
    meta = obj.get("metadata") or {}
    return meta.get("name"), {"rv": meta.get("resourceVersion"), "data": obj.get("data") or {}}


def relist(v1, ns, view, first):
    lst = v1.list_namespaced_config_map(ns)
    objects = {}
    for item in lst.items:
        objects[item.metadata.name] = {"rv": item.metadata.resource_version, "data": item.data or {}}
    with view.lock:
        view.objects = objects
        view.rv = lst.metadata.resource_version
        if not first:
            view.relists += 1
    return lst.metadata.resource_version


def watch_loop(v1, ns, view, stop):
    first_watch = True
    while not stop.is_set():
        with view.lock:
            rv = view.rv
        try:
            if rv is None:
                rv = relist(v1, ns, view, first=False)
            if not first_watch:
                with view.lock:
                    view.rewatches += 1
            first_watch = False
            w = watch.Watch()
            # timeout_seconds makes the stream end now and then (and disables the
            # library's own single 410 retry, so this loop handles 410 itself).
            for ev in w.stream(
                v1.list_namespaced_config_map,
                ns,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=20,
                _request_timeout=(5, 40),
            ):
                typ = ev["type"]
                raw = ev["raw_object"]
                with view.lock:
                    if typ == "BOOKMARK":
                        view.bookmarks += 1
                        new_rv = (raw.get("metadata") or {}).get("resourceVersion")
                        if new_rv:
                            view.rv = new_rv
                        continue
                    name, e = entry(raw)
                    prev = view.rv
                    try:
                        if prev is not None and int(e["rv"]) <= int(prev):
                            view.rv_regressions.append(f"{typ} {name} rv {e['rv']} after {prev}")
                    except (TypeError, ValueError):
                        pass
                    if typ in ("ADDED", "MODIFIED"):
                        view.objects[name] = e
                    elif typ == "DELETED":
                        view.objects.pop(name, None)
                    else:
                        view.errors.append(f"unexpected event type {typ}")
                        continue
                    view.events += 1
                    view.rv = e["rv"]
                if stop.is_set():
                    w.stop()
                    break
        except ApiException as e:
            with view.lock:
                view.errors.append(f"ApiException {e.status}: {str(e.reason)[:120]}")
                if e.status == 410:
                    view.rv = None  # too old: relist
            time.sleep(0.2)
        except Exception as e:  # connection refused/reset while the server restarts
            with view.lock:
                view.errors.append(f"{type(e).__name__}: {str(e)[:120]}")
            time.sleep(0.2)


def main():
    kubeconfig, ns = sys.argv[1], sys.argv[2]
    deadline_s = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()
    view = View()
    rv = relist(v1, ns, view, first=True)
    stop = threading.Event()
    t = threading.Thread(target=watch_loop, args=(v1, ns, view, stop), daemon=True)
    t.start()
    print(f"READY {rv}", flush=True)

    line = sys.stdin.readline()
    if not line.strip():
        print(json.dumps({"ok": False, "reason": "no expected state on stdin"}), flush=True)
        sys.exit(2)
    expected = json.loads(line)
    deadline = time.monotonic() + deadline_s
    started = time.monotonic()
    ok = False
    while True:
        got = view.snapshot()
        if got == expected:
            ok = True
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    stop.set()
    got = view.snapshot()
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differing = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    with view.lock:
        summary = {
            "ok": ok,
            "converge_seconds": round(time.monotonic() - started, 3),
            "objects": len(got),
            "expected_objects": len(expected),
            "events": view.events,
            "bookmarks": view.bookmarks,
            "relists": view.relists,
            "rewatches": view.rewatches,
            "last_rv": view.rv,
            "errors": view.errors[:20],
            "error_count": len(view.errors),
            "rv_regressions": view.rv_regressions[:20],
            "missing": missing[:20],
            "extra": extra[:20],
            "differing": [{"name": k, "got": got[k], "want": expected[k]} for k in differing[:5]],
        }
    print(json.dumps(summary), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
