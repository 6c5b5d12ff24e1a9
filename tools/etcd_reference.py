"""Store-level reference for docs/performance.md: etcd (Debian's etcd-server) alone.

Starts etcd on 127.0.0.1:23790 with a temporary data directory, puts 10,000 values
of 576 bytes (the size of a ConfigMap as ubernetes serves it) through etcd's v3 JSON
gateway with 64 threads, then gets and ranges them, and reports etcd's resident
memory before and after the puts. The Python client saturates at ~1.5k requests/s on
two cores, so the throughput lines are lower bounds; the memory line is the point.

    apt-get install etcd-server && python3 tools/etcd_reference.py
"""
import base64, http.client, json, os, subprocess, sys, tempfile, threading, time

N, GETS, C, LISTS = 10000, 20000, 64, 20
VAL = b"x" * 576  # the size of a ConfigMap as ubernetes serves it

def b64(b): return base64.b64encode(b).decode()

def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])

def pct(v, p):
    v = sorted(v); return v[max(0, min(len(v) - 1, int(-(-p * len(v) // 1)) - 1))]

def run(n, conc, fn):
    lat, idx, lock = [], [0], threading.Lock()
    def worker():
        c = http.client.HTTPConnection("127.0.0.1", 23790, timeout=60)
        mine = []
        while True:
            with lock:
                i = idx[0]; idx[0] += 1
            if i >= n: break
            t = time.perf_counter(); fn(c, i); mine.append(time.perf_counter() - t)
        with lock: lat.extend(mine)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    [t.start() for t in ts]; [t.join() for t in ts]
    wall = time.perf_counter() - t0
    return n / wall, pct(lat, .5) * 1000, pct(lat, .99) * 1000

def post(c, path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read()
    if r.status != 200: raise SystemExit(f"{path}: {r.status} {data[:200]}")
    return data

d = tempfile.mkdtemp(prefix="etcd-bench-")
p = subprocess.Popen(["etcd", "--data-dir", d, "--listen-client-urls", "http://127.0.0.1:23790",
                      "--advertise-client-urls", "http://127.0.0.1:23790",
                      "--listen-peer-urls", "http://127.0.0.1:23800", "--log-level", "error"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", 23790, timeout=5); post(c, "/v3/kv/range", {"key": b64(b"x")}); break
        except Exception: time.sleep(0.1)
    time.sleep(0.5); base = rss(p.pid)
    key = lambda i: f"/registry/configmaps/bench/bench-{i:06d}".encode()
    put = run(N, C, lambda c, i: post(c, "/v3/kv/put", {"key": b64(key(i)), "value": b64(VAL)}))
    time.sleep(0.5); after = rss(p.pid)
    get = run(GETS, C, lambda c, i: post(c, "/v3/kv/range", {"key": b64(key((i * 7919) % N))}))
    pre = b"/registry/configmaps/bench/"
    end = pre[:-1] + bytes([pre[-1] + 1])
    lst = run(LISTS, 1, lambda c, i: post(c, "/v3/kv/range", {"key": b64(pre), "range_end": b64(end)}))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
    print(f"etcd {subprocess.run(['etcd','--version'],capture_output=True,text=True).stdout.split()[2]}, Python http.client, {C} threads")
    print(f"put   {N}: {put[0]:.0f}/s p50 {put[1]:.2f} ms p99 {put[2]:.2f} ms")
    print(f"get   {GETS}: {get[0]:.0f}/s p50 {get[1]:.2f} ms p99 {get[2]:.2f} ms")
    print(f"range {N} keys x{LISTS} (1 in flight): {lst[0]:.1f}/s p50 {lst[1]:.2f} ms p99 {lst[2]:.2f} ms")
    print(f"RSS start {base/1024:.1f} MiB, after {N} puts {after/1024:.1f} MiB, growth {(after-base)/1024:.1f} MiB; data dir {size/2**20:.1f} MiB")
finally:
    p.kill(); p.wait()
    subprocess.run(["rm", "-rf", d])
