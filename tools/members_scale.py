#!/usr/bin/env python3
"""Member clusters at scale (issue 4), for docs/performance.md.

Starts `ubernetes member --virtual N` and a federation (`ubernetes serve`, default probe
interval 10 s and threshold 3), writes a Secret `ubernetes-system/cluster-<name>` and a Cluster
per virtual member through the federation's API (16 threads), waits until every Cluster is
Ready, then stays idle and samples the federation's memory (VmRSS, RssAnon, RssFile), CPU, the
size of its store file and its write rate.

    cargo build --release
    python3 tools/members_scale.py [--members 1000] [--idle 300] [--bin target/release/ubernetes]

The same measurement as `cargo test --release --test members -- --ignored --nocapture thousand`,
with more detail on where the memory goes.
"""
import argparse, base64, http.client, json, os, re, shutil, ssl, subprocess, sys, tempfile, threading, time


def proc_status(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0])
    return out


def sockets(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def cpu_seconds(pid):
    stat = open(f"/proc/{pid}/stat").read()
    f = stat[stat.rfind(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def start(args, log):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True,
                         env={**os.environ, "RUST_LOG": "warn"})
    lines = []
    for line in p.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("ubernetes serving"):
            break
    else:
        sys.exit(f"{args} exited: see {log}")
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, lines


class Api:
    def __init__(self, kubeconfig):
        text = open(kubeconfig).read()
        server = re.search(r"server: https://([^\s/]+)", text).group(1)
        self.host, self.port = server.rsplit(":", 1)
        self.token = re.search(r"token: (\S+)", text).group(1)
        ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)).decode()
        self.ctx = ssl.create_default_context(cadata=ca)
        self.local = threading.local()

    def call(self, method, path, body=None):
        if not hasattr(self.local, "c"):
            self.local.c = http.client.HTTPSConnection(self.host, int(self.port), context=self.ctx)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.local.c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = self.local.c.getresponse()
        return r.status, json.loads(r.read() or b"{}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=300, help="seconds to watch after all are Ready")
    ap.add_argument("--bin", default="target/release/ubernetes")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="members-scale-")
    t0 = time.time()
    virt, lines = start([a.bin, "member", "--virtual", str(a.members), "--data-dir", f"{d}/virtual",
                         "--secure-port", "0", "--name", "v"], f"{d}/virtual.log")
    members = [l.split()[1:3] for l in lines if l.startswith("member ")]
    members = [(n, kc.split("=", 1)[1]) for n, kc in members]
    print(f"{len(members)} virtual members serving after {time.time() - t0:.1f}s")
    fed, lines = start([a.bin, "serve", "--data-dir", f"{d}/federation", "--secure-port", "0"], f"{d}/federation.log")
    pid = fed.pid
    api = Api(lines[-1].split("kubeconfig=")[1])
    try:
        api.call("POST", "/api/v1/namespaces", {"metadata": {"name": "ubernetes-system"}})
        time.sleep(3)
        before = proc_status(pid)
        print(f"federation before joining: {before}")
        t_join = time.time()
        todo = list(members)
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    name, kcp = todo.pop()
                kc = open(kcp).read()
                server = re.search(r"server: (\S+)", kc).group(1)
                s, r = api.call("POST", "/api/v1/namespaces/ubernetes-system/secrets", {
                    "metadata": {"name": f"cluster-{name}", "namespace": "ubernetes-system"}, "type": "Opaque",
                    "data": {"kubeconfig": base64.b64encode(kc.encode()).decode()}})
                assert s == 201, r
                s, r = api.call("POST", "/apis/cluster.ubernetes.io/v1alpha1/clusters", {
                    "apiVersion": "cluster.ubernetes.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
                    "spec": {"apiEndpoint": server,
                             "secretRef": {"namespace": "ubernetes-system", "name": f"cluster-{name}"}}})
                assert s == 201, r

        threads = [threading.Thread(target=worker) for _ in range(16)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        created = time.time() - t_join

        def ready():
            s, lst = api.call("GET", "/apis/cluster.ubernetes.io/v1alpha1/clusters")
            n = sum(1 for c in lst["items"] for k in c.get("status", {}).get("conditions", [])
                    if k["type"] == "Ready" and k["status"] == "True")
            return n, int(lst["metadata"]["resourceVersion"]), lst["items"]

        while ready()[0] < len(members):
            if time.time() - t_join > 600:
                sys.exit(f"not all Ready after 600 s: {ready()[0]}")
            time.sleep(1)
        all_ready = time.time() - t_join
        at_ready = proc_status(pid)
        print(f"created in {created:.1f}s, all {len(members)} Ready {all_ready:.1f}s after the first create")
        print(f"federation when all Ready: {at_ready}, sockets {sockets(pid)}")
        _, rv0, items = ready()
        size = sum(len(json.dumps(c)) for c in items) // len(items)
        c0, i0 = cpu_seconds(pid), time.time()
        store = f"{d}/federation/store.redb"
        while time.time() - i0 < a.idle:
            time.sleep(30)
            el = time.time() - i0
            print(f"idle {el:4.0f}s: {proc_status(pid)} store.redb {os.path.getsize(store) >> 20} MiB "
                  f"cpu {100 * (cpu_seconds(pid) - c0) / el:.0f}% sockets {sockets(pid)}", flush=True)
        n, rv1, _ = ready()
        el = time.time() - i0
        idle = proc_status(pid)
        print(f"idle: {(rv1 - rv0) / el:.1f} writes/s; a Cluster is {size} bytes of JSON; {n} Ready")
        print(f"per joined cluster: {(at_ready['VmRSS'] - before['VmRSS']) / len(members):.0f} KiB when Ready, "
              f"{(idle['VmRSS'] - before['VmRSS']) / len(members):.0f} KiB after {el:.0f}s idle; "
              f"virtual members process {proc_status(virt.pid)['VmRSS'] >> 10} MiB")
    finally:
        fed.kill()
        virt.kill()
        fed.wait()
        virt.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
