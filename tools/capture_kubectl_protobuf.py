#!/usr/bin/env python3
"""Captures the protobuf request bodies kubectl sends, as fixtures for apiserver/src/protobuf.rs.

For each command below it runs kubectl against a throw-away plain-HTTP listener on 127.0.0.1 that
records the first POST body and answers 409, then runs the same command with
`--dry-run=client -o json` to get the JSON kubectl's own encoder makes of that object. It writes
NAME.pb (the body) and NAME.json (the JSON the decoder must produce) into
apiserver/tests/fixtures/protobuf/. Commands without a client dry run (`auth can-i`,
`auth whoami`) take their JSON from EXPECTED below, written from the Go types.

    python3 tools/capture_kubectl_protobuf.py [--kubectl kubectl]
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

COMMANDS = {
    'namespace': ['create', 'namespace', 'foo'],
    'configmap': ['create', 'configmap', 'x', '--from-literal=a=b', '--from-literal=empty='],
    'secret_generic': ['create', 'secret', 'generic', 's', '--from-literal=k=v', '--type=Opaque'],
    'secret_tls_like': ['create', 'secret', 'generic', 'bin', '--from-file=blob=BLOB'],
    'deployment': ['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '--port=80'],
    'deployment_zero': ['create', 'deployment', 'zero', '--image=busybox', '--replicas=0', '--', 'sleep', '1'],
    'service_clusterip': ['create', 'service', 'clusterip', 'svc', '--tcp=80:8080', '--tcp=443:https'],
    'service_nodeport': ['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080'],
    'job': ['create', 'job', 'j', '--image=busybox', '--', 'echo', 'hi'],
    'cronjob': ['create', 'cronjob', 'cj', '--image=busybox', '--schedule=*/5 * * * *', '--restart=OnFailure'],
    # (`create role` needs discovery to resolve --resource, which this listener does not serve.)
    'rolebinding': ['create', 'rolebinding', 'rb', '--role=r', '--user=alice', '--serviceaccount=default:sa'],
    'clusterrole': ['create', 'clusterrole', 'cr', '--verb=get', '--non-resource-url=/healthz'],
    'clusterrole_aggregated': ['create', 'clusterrole', 'agg', '--aggregation-rule=rbac.example.com/agg=true'],
    'clusterrolebinding': ['create', 'clusterrolebinding', 'crb', '--clusterrole=cr', '--group=devs'],
    'serviceaccount': ['create', 'serviceaccount', 'sa'],
    'priorityclass': ['create', 'priorityclass', 'pc', '--value=0', '--description=zero',
                      '--preemption-policy=Never'],
    'quota': ['create', 'quota', 'q', '--hard=cpu=1,memory=1Gi,pods=10', '--scopes=BestEffort'],
    'pdb': ['create', 'pdb', 'pdb', '--selector=app=web', '--min-available=0'],
    'pdb_percent': ['create', 'pdb', 'pdb2', '--selector=app=web', '--max-unavailable=50%'],
    'ingress': ['create', 'ingress', 'ing', '--class=nginx', '--rule=foo.com/bar*=svc:80,tls=sec',
                '--annotation=a=b'],
    'can_i': ['auth', 'can-i', 'get', 'pods'],
    'can_i_subresource': ['auth', 'can-i', 'update', 'deployments/web', '--subresource=scale', '-n', 'kube-system'],
    'whoami': ['auth', 'whoami'],
}

EXPECTED = {
    'can_i': {
        'kind': 'SelfSubjectAccessReview', 'apiVersion': 'authorization.k8s.io/v1',
        'metadata': {'creationTimestamp': None},
        'spec': {'resourceAttributes': {'namespace': 'default', 'verb': 'get', 'resource': 'pods'}},
        'status': {'allowed': False},
    },
    'can_i_subresource': {
        'kind': 'SelfSubjectAccessReview', 'apiVersion': 'authorization.k8s.io/v1',
        'metadata': {'creationTimestamp': None},
        # Without discovery kubectl leaves the group empty.
        'spec': {'resourceAttributes': {'namespace': 'kube-system', 'verb': 'update', 'resource': 'deployments',
                                        'subresource': 'scale', 'name': 'web'}},
        'status': {'allowed': False},
    },
    'whoami': {
        'kind': 'SelfSubjectReview', 'apiVersion': 'authentication.k8s.io/v1',
        'metadata': {'creationTimestamp': None}, 'status': {'userInfo': {}},
    },
}


class Handler(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        Handler.bodies.append((self.path, self.headers.get('Content-Type'), self.rfile.read(n)))
        self.reply(409, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'reason': 'AlreadyExists',
                         'message': 'captured', 'code': 409})

    def do_GET(self):
        self.reply(404, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'reason': 'NotFound',
                         'code': 404})

    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *a):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kubectl', default='kubectl')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'apiserver', 'tests',
                                                  'fixtures', 'protobuf'))
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    server = f'http://127.0.0.1:{srv.server_address[1]}'
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = os.path.join(tmp, 'config')
        open(kubeconfig, 'w').write(
            'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "%s"}}]\n'
            'contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\n'
            'current-context: c\nusers: [{name: u, user: {token: t}}]\n' % server)
        blob = os.path.join(tmp, 'blob')
        open(blob, 'wb').write(bytes(range(256)))
        env = dict(os.environ, KUBECONFIG=kubeconfig)
        for name, cmd in COMMANDS.items():
            cmd = [blob if c == 'BLOB' else c.replace('=BLOB', '=' + blob) for c in cmd]
            Handler.bodies.clear()
            subprocess.run([args.kubectl] + cmd, env=env, capture_output=True, timeout=60)
            posts = [b for b in Handler.bodies if b[1] and 'protobuf' in b[1]]
            if not posts:
                print(f'{name}: no protobuf POST (got {[(p, t) for p, t, _ in Handler.bodies]})', file=sys.stderr)
                continue
            path, ctype, body = posts[0]
            if name in EXPECTED:
                want = EXPECTED[name]
            else:
                # `--` must stay last: put the dry-run flags before it.
                i = cmd.index('--') if '--' in cmd else len(cmd)
                dry = cmd[:i] + ['--dry-run=client', '-o', 'json'] + cmd[i:]
                r = subprocess.run([args.kubectl] + dry, env=env, capture_output=True, timeout=60, check=True)
                want = json.loads(r.stdout)
            open(os.path.join(args.out, name + '.pb'), 'wb').write(body)
            open(os.path.join(args.out, name + '.json'), 'w').write(json.dumps(want, indent=2) + '\n')
            print(f'{name}: POST {path} {ctype} {len(body)} bytes', file=sys.stderr)
    srv.shutdown()


if __name__ == '__main__':
    main()
