#!/usr/bin/env python3
"""Static checks of the Docker stack and its monitoring, run by infra/compose/check.sh (make compose-check).

No Docker engine is needed: it reads the compose model resolved by compose-go (or docker-compose v1),
the Dockerfile and .dockerignore, the Prometheus config and rules, and the Grafana provisioning, and
checks them against each other and against the repository (files, ports, metric names in the code).

  check.py --resolved resolved.json --metrics metrics.json

Prints one line per check; exit 1 when any fails. Python 3 + PyYAML (both come with Debian's
docker-compose package, which check.sh installs).
"""
import argparse
import fnmatch
import glob
import json
import os
import re
import sys
from urllib.parse import urlparse

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
failures = []
warnings = []


_mark = [0]


def ok(msg):
    """Prints msg as passed, unless a failure was reported since the previous ok()."""
    if len(failures) == _mark[0]:
        print(f'    ok    {msg}')
    _mark[0] = len(failures)


def fail(msg):
    failures.append(msg)
    print(f'    FAIL  {msg}')


def warn(msg):
    warnings.append(msg)
    print(f'    warn  {msg}')


def section(title):
    print(f'\n--- {title}')


def rel(path):
    return os.path.relpath(path, ROOT)


def read_env_file(path):
    values = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith('#') and '=' in line:
            k, v = line.split('=', 1)
            values[k] = v
    return values


# ---------------------------------------------------------------------------------------------- compose
def check_compose(model):
    section('docker-compose.yml: policy')
    services = model['services']
    versions = read_env_file(os.path.join(ROOT, 'infra/versions.env'))

    # Pinned images, matching infra/versions.env where the project pins the same thing.
    for name, svc in sorted(services.items()):
        image = svc.get('image', '')
        if 'build' in svc:
            continue
        tag = image.rsplit(':', 1)[1] if ':' in image.split('/')[-1] else ''
        if not tag or tag == 'latest' or not re.search(r'\d', tag):
            fail(f'{name}: image {image!r} is not pinned to a version tag')
    ok('every pulled image has a version tag (no latest)')
    expect = {
        'kafka': ('apache/kafka', versions.get('KAFKA_VERSION')),
        'k6': ('grafana/k6', (versions.get('K6_VERSION') or '').lstrip('v')),
    }
    for name, (repo, version) in expect.items():
        image = services.get(name, {}).get('image', '')
        if image != f'{repo}:{version}':
            fail(f'{name}: image {image!r} does not match infra/versions.env ({repo}:{version})')
        else:
            ok(f'{name} image {image} matches infra/versions.env')

    # Ports: loopback only.
    for name, svc in sorted(services.items()):
        for port in svc.get('ports') or []:
            if port.get('host_ip') != '127.0.0.1':
                fail(f'{name}: port {port.get("published")}->{port.get("target")} is not bound to 127.0.0.1')
    ok('every published port binds 127.0.0.1')
    published = {}
    for name, svc in services.items():
        for port in svc.get('ports') or []:
            p = str(port.get('published'))
            if p in published:
                fail(f'host port {p} published by both {published[p]} and {name}')
            published[p] = name
    ok(f'{len(published)} host ports, no two services share one')

    # Healthchecks and dependency conditions.
    one_shot = {n for n, s in services.items() if s.get('restart') in ('no', None) and 'healthcheck' not in s and n != 'k6'}
    for name, svc in sorted(services.items()):
        hc = svc.get('healthcheck')
        long_running = svc.get('restart') not in ('no', None) or name.startswith('pg-') or name in ('redis', 'kafka')
        if long_running and (not hc or hc.get('disable')):
            fail(f'{name}: a long-running service without a healthcheck')
        for dep, cond in (svc.get('depends_on') or {}).items():
            if dep not in services:
                fail(f'{name}: depends_on {dep}, which is not a service')
                continue
            condition = cond.get('condition')
            if 'healthcheck' in services[dep]:
                if condition != 'service_healthy':
                    fail(f'{name}: depends_on {dep} (has a healthcheck) with {condition}, not service_healthy')
            elif dep in one_shot:
                if condition != 'service_completed_successfully':
                    fail(f'{name}: depends_on the one-shot job {dep} with {condition}, not service_completed_successfully')
            else:
                fail(f'{name}: depends_on {dep}, which has no healthcheck')
    ok('long-running services have healthchecks; depends_on uses service_healthy / service_completed_successfully')
    # `docker compose up --wait` treats a one-shot container that exited as a failure unless a service started
    # with it waits for it with service_completed_successfully (docker/compose#9572).
    for job in sorted(one_shot):
        adopters = [n for n, s in services.items() if not s.get('profiles') and (s.get('depends_on') or {}).get(job, {}).get('condition') == 'service_completed_successfully']
        if not adopters:
            fail(f'one-shot job {job}: no service waits for it with service_completed_successfully, so `up --wait` would fail')
    ok(f'one-shot jobs ({", ".join(sorted(one_shot))}) are awaited with service_completed_successfully: `up --wait` can exit 0')

    # Node processes: the entry file exists, the healthcheck probes the port the process listens on,
    # env files come from the keys job, URLs of other instances name real services and ports.
    keys_script = open(os.path.join(ROOT, 'infra/docker/keys.sh')).read()
    listen = {}
    for name, svc in services.items():
        cmd = svc.get('command') or []
        if cmd[:1] != ['node']:
            continue
        env = svc.get('environment') or {}
        entry = next((a for a in cmd[1:] if not a.startswith('-')), None)
        if not entry or not os.path.isfile(os.path.join(ROOT, entry)):
            fail(f'{name}: entry {entry!r} does not exist in the repository')
        for a in cmd:
            m = re.match(r'--env-file(?:-if-exists)?=/keys/(.+)$', a)
            if m and f'$KEYS/{m.group(1)}' not in keys_script:
                fail(f'{name}: reads /keys/{m.group(1)}, which infra/docker/keys.sh does not write')
        # The port the process listens on: the API's PORT, the worker's WORKER_PORT, the projector's PROJECTOR_PORT.
        port_var = 'WORKER_PORT' if (entry or '').endswith('worker.ts') else 'PROJECTOR_PORT' if (entry or '').endswith('projector.ts') else 'PORT'
        port = env.get(port_var)
        hc = (svc.get('healthcheck') or {}).get('test') or []
        if port is not None:
            listen[name] = str(port)
            if hc and str(port) not in hc:
                fail(f'{name}: listens on {port} but its healthcheck probes {hc}')
        if entry and entry.startswith('services/') and svc.get('restart') != 'no':
            if not hc or 'infra/docker/healthcheck.ts' not in hc:
                fail(f'{name}: no /health/ready healthcheck')
    ok(f'{len(listen)} Node processes: entry files exist, healthchecks probe their own port, /keys files are written by keys.sh')

    for name, svc in sorted(services.items()):
        env = svc.get('environment') or {}
        for var, value in env.items():
            if not var.endswith('_URLS') or var.startswith('PG_') or not value:
                continue
            for url in value.split(','):
                u = urlparse(url)
                if u.hostname not in services:
                    fail(f'{name}: {var} names {u.hostname}, which is not a service')
                elif listen.get(u.hostname) != str(u.port):
                    fail(f'{name}: {var} has {url}, but {u.hostname} listens on {listen.get(u.hostname)}')
    ok('every *_URLS entry names a service of this file on the port it listens on')

    gw = services.get('gateway', {}).get('environment') or {}
    for var in ('ORDER_URLS', 'CATALOG_URLS'):
        n = len([u for u in (gw.get(var) or '').split(',') if u])
        if n < 2:
            fail(f'gateway: {var} lists {n} instance(s); the stack runs two')
        else:
            ok(f'gateway {var}: {n} instances')
    if gw.get('DEMO_TOKENS_ENABLED') != 'true':
        fail('gateway: DEMO_TOKENS_ENABLED is not true (k6 needs demo tokens)')
    gw_cmd = ' '.join(services.get('gateway', {}).get('command') or [])
    if '/keys/gateway.env' not in gw_cmd:
        fail('gateway: does not read /keys/gateway.env (AUTH_JWT_PRIVATE_JWK)')
    for name in ('order-1', 'order-2', 'order-worker'):
        if '/keys/service-token.env' not in ' '.join(services.get(name, {}).get('command') or []):
            fail(f'{name}: does not read /keys/service-token.env (INVENTORY_SERVICE_TOKEN)')
    ok('gateway has the private key and demo tokens; order API and worker get INVENTORY_SERVICE_TOKEN')

    # Bind mounts: what a container reads must exist; an output folder (writable) Docker creates if missing.
    for name, svc in sorted(services.items()):
        for vol in svc.get('volumes') or []:
            if vol.get('type') == 'bind' and not os.path.exists(vol['source']):
                if vol.get('read_only'):
                    fail(f'{name}: read-only bind mount {rel(vol["source"])} does not exist')
                else:
                    warn(f'{name}: writable bind mount {rel(vol["source"])} does not exist yet (Docker creates it)')
    ok('every read-only bind-mounted host path exists')

    k6 = services.get('k6')
    if not k6:
        fail('no k6 service')
    else:
        if 'load' not in (k6.get('profiles') or []):
            fail('k6: not under the load profile')
        scenario = (k6.get('environment') or {}).get('K6_SCENARIO', 'flash-sale')
        path = os.path.join(ROOT, 'k6/scenarios', f'{scenario}.js')
        if os.path.isfile(path):
            ok(f'k6 (profile load) runs k6/scenarios/{scenario}.js, which exists')
        else:
            warn(f'k6 runs k6/scenarios/{scenario}.js, which does not exist yet')
    return services, listen


# ---------------------------------------------------------------------------------------------- Dockerfile
def dockerignore_patterns():
    pats = []
    for line in open(os.path.join(ROOT, '.dockerignore')):
        line = line.strip()
        if line and not line.startswith('#'):
            pats.append(line)
    return pats


def in_context(path, pats):
    """Docker's .dockerignore semantics, simplified: last matching pattern wins, ! re-includes;
    a directory pattern covers everything under it."""
    included = True
    parts = path.split('/')
    for pat in pats:
        neg = pat.startswith('!')
        p = pat[1:] if neg else pat
        p = p.rstrip('/')
        matched = False
        for i in range(1, len(parts) + 1):
            prefix = '/'.join(parts[:i])
            if fnmatch.fnmatchcase(prefix, p) or (p.startswith('**/') and any(fnmatch.fnmatchcase('/'.join(parts[j:i]), p[3:]) for j in range(i))):
                matched = True
                break
        if matched:
            included = neg
    return included


def check_dockerfile(services):
    section('Dockerfile and .dockerignore')
    text = open(os.path.join(ROOT, 'Dockerfile')).read()
    versions = read_env_file(os.path.join(ROOT, 'infra/versions.env'))
    froms = re.findall(r'^FROM\s+(\S+)', text, re.M)
    want = f'node:{versions["NODE_VERSION"]}-bookworm-slim'
    if not froms or any(f != want for f in froms):
        fail(f'Dockerfile FROM {froms} should all be {want} (infra/versions.env NODE_VERSION)')
    else:
        ok(f'FROM {want} (infra/versions.env NODE_VERSION)')
    if 'npm ci --omit=dev' not in text:
        fail('Dockerfile does not install with npm ci --omit=dev')
    pats = dockerignore_patterns()
    needed = ['package.json', 'package-lock.json']
    for svc in services.values():
        for a in svc.get('command') or []:
            if re.match(r'^(services|packages|infra|tools)/.+\.(ts|mjs|sh)$', a):
                needed.append(a)
    for svc in services.values():
        for a in (svc.get('healthcheck') or {}).get('test') or []:
            if a.startswith('infra/docker/'):
                needed.append(a)
    needed.append('infra/docker/keys.sh')
    # What keys.sh runs inside the image.
    for m in re.findall(r'(packages/\S+\.ts)', open(os.path.join(ROOT, 'infra/docker/keys.sh')).read()):
        needed.append(m)
    ws = json.load(open(os.path.join(ROOT, 'package.json'))).get('workspaces', [])
    manifests = sorted({m for w in ws for m in glob.glob(os.path.join(ROOT, w, 'package.json'))})
    needed += [rel(m) for m in manifests]
    for path in sorted(set(needed)):
        if not os.path.exists(os.path.join(ROOT, path)):
            fail(f'the image needs {path}, which does not exist')
        elif not in_context(path, pats):
            fail(f'the image needs {path}, but .dockerignore keeps it out of the build context')
    ok(f'{len(set(needed))} files the image needs exist and are in the build context (entries, scripts, {len(manifests)} workspace manifests)')
    # Runtime-only sources: tests and host node_modules stay out.
    for path in ('services/order/test/helpers.ts', 'node_modules/.package-lock.json', 'k6/README.md', 'docs', '.local/auth.env', '.env'):
        if in_context(path, pats):
            fail(f'.dockerignore lets {path} into the build context')
    ok('.dockerignore keeps tests, node_modules, docs, k6, .local and .env out')
    # Every workspace dependency of a service is a runtime dependency (npm ci --omit=dev drops devDependencies).
    for m in manifests:
        pkg = json.load(open(m))
        dev = set(pkg.get('devDependencies') or {})
        src_dir = os.path.join(os.path.dirname(m), 'src')
        if not os.path.isdir(src_dir):
            continue
        for f in glob.glob(os.path.join(src_dir, '**', '*.ts'), recursive=True):
            for spec in re.findall(r"^\s*(?:import|export)\s(?!type\s)[^'\"]*?from\s+'([^'.][^']*)'|^\s*import\s+'([^'.][^']*)'", open(f).read(), re.M):
                spec = spec[0] or spec[1]
                if spec.startswith('node:'):
                    continue
                name = '/'.join(spec.split('/')[:2]) if spec.startswith('@') else spec.split('/')[0]
                if name in dev and name not in (pkg.get('dependencies') or {}):
                    fail(f'{rel(f)} imports {name}, a devDependency of {pkg["name"]}: missing from the image')
    ok('no runtime source imports a package that npm ci --omit=dev leaves out')


# ---------------------------------------------------------------------------------------------- Prometheus
def check_prometheus(services, listen):
    section('Prometheus: scrape targets')
    for cfg, host_of in (('infra/prometheus/prometheus.yml', lambda n, p: f'{n}:{p}'),):
        conf = yaml.safe_load(open(os.path.join(ROOT, cfg)))
        targets = {t for job in conf['scrape_configs'] for sc in job.get('static_configs', []) for t in sc['targets']}
        jobs = {job['job_name'] for job in conf['scrape_configs']}
        for name, port in sorted(listen.items()):
            if host_of(name, port) not in targets:
                fail(f'{cfg}: no scrape target for {name} ({host_of(name, port)})')
        for t in sorted(targets):
            host = t.split(':')[0]
            if host not in services and host != '127.0.0.1':
                fail(f'{cfg}: target {t} is not a compose service')
        ok(f'{cfg}: every Node process of the compose file is scraped ({len(listen)} targets, jobs {", ".join(sorted(jobs))})')
    native = yaml.safe_load(open(os.path.join(ROOT, 'infra/prometheus/prometheus-native.yml')))
    compose = yaml.safe_load(open(os.path.join(ROOT, 'infra/prometheus/prometheus.yml')))
    # ops: the ops page (tools/ops), native only: it exports the roles of pg_auto_failover and Sentinel, which
    # the compose stack does not run; there Grafana draws the same panels (infra/grafana/dashboards).
    nj = {j['job_name'] for j in native['scrape_configs']} - {'ops'}
    cj = {j['job_name'] for j in compose['scrape_configs']} - {'prometheus'}
    if nj != cj:
        fail(f'prometheus-native.yml jobs {sorted(nj)} differ from prometheus.yml {sorted(cj)}')
    else:
        ok('prometheus-native.yml has the same jobs as prometheus.yml')


# PromQL: everything that is not a metric name.
PROMQL_WORDS = {
    'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
    'inf', 'nan', 'le', 'vector', 'scalar', 'time',
}


def metric_names_in(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # string literals
    e = re.sub(r'\{[^}]*\}', '', e)                         # label matchers
    e = re.sub(r'\[[^\]]*\]', '', e)                        # ranges and subqueries
    e = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', ' ', e)
    names = set()
    for m in re.finditer(r'(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?', e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        if re.fullmatch(r'\d+[smhdwy]', word):
            continue
        names.add(word)
    return names


def known_metric(name, known, recorded):
    # up, and the series Prometheus itself makes for every alerting rule.
    if name in known or name in recorded or name in ('up', 'ALERTS', 'ALERTS_FOR_STATE'):
        return True
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and known.get(name[: -len(suffix)]) in ('histogram', 'summary'):
            return True
    return False


def check_monitoring(known):
    section('Alert rules and dashboards: metric names exist in the code, runbooks exist')
    recorded, exprs = set(), []
    rule_files = sorted(glob.glob(os.path.join(ROOT, 'infra/prometheus/rules/*.yml')))
    alerts = 0
    for f in rule_files:
        for group in yaml.safe_load(open(f))['groups']:
            for rule in group['rules']:
                if 'record' in rule:
                    recorded.add(rule['record'])
                exprs.append((f'{rel(f)} {rule.get("alert") or rule.get("record")}', rule['expr']))
                if 'alert' in rule:
                    alerts += 1
                    url = (rule.get('annotations') or {}).get('runbook_url', '')
                    if not url:
                        fail(f'{rel(f)} {rule["alert"]}: no runbook_url')
                    elif not os.path.isfile(os.path.join(ROOT, url)):
                        fail(f'{rel(f)} {rule["alert"]}: runbook_url {url} does not exist')
                    if (rule.get('labels') or {}).get('severity') not in ('page', 'warning', 'info'):
                        fail(f'{rel(f)} {rule["alert"]}: severity must be page, warning or info')
    ok(f'{alerts} alerts in {len(rule_files)} file(s): each has a severity and a runbook_url to an existing file')

    dashboards = sorted(glob.glob(os.path.join(ROOT, 'infra/grafana/dashboards/*.json')))
    ds_uids = set()
    for f in glob.glob(os.path.join(ROOT, 'infra/grafana/provisioning/datasources/*.yml')):
        for ds in yaml.safe_load(open(f)).get('datasources', []):
            ds_uids.add(ds.get('uid'))
    dash_uids = {}
    for f in dashboards:
        try:
            dash = json.load(open(f))
        except ValueError as err:
            fail(f'{rel(f)}: not valid JSON ({err})')
            continue
        uid = dash.get('uid')
        if not uid or uid in dash_uids:
            fail(f'{rel(f)}: dashboard uid {uid!r} missing or not unique')
        dash_uids[uid] = f
        ids = set()
        panels = [p for p in dash.get('panels', [])]
        panels += [q for p in panels if p.get('type') == 'row' for q in p.get('panels', [])]
        n = 0
        for p in panels:
            if p.get('id') in ids:
                fail(f'{rel(f)}: panel id {p.get("id")} is not unique')
            ids.add(p.get('id'))
            if p.get('type') == 'row':
                continue
            n += 1
            title = p.get('title', '?')
            if (p.get('datasource') or {}).get('uid') not in ds_uids:
                fail(f'{rel(f)} panel {title!r}: datasource {p.get("datasource")} is not a provisioned one {sorted(ds_uids)}')
            targets = p.get('targets') or []
            if not targets:
                fail(f'{rel(f)} panel {title!r}: no targets')
            refs = [t.get('refId') for t in targets]
            if len(set(refs)) != len(refs):
                fail(f'{rel(f)} panel {title!r}: refIds not unique')
            for t in targets:
                if not t.get('expr'):
                    fail(f'{rel(f)} panel {title!r}: a target without expr')
                else:
                    exprs.append((f'{rel(f)} panel {title!r}', t['expr']))
            gp = p.get('gridPos') or {}
            if not all(k in gp for k in ('h', 'w', 'x', 'y')) or gp['x'] + gp['w'] > 24:
                fail(f'{rel(f)} panel {title!r}: bad gridPos {gp}')
        ok(f'{rel(f)}: valid JSON, uid {uid}, {n} panels, each with a provisioned datasource and targets with expr, unique ids')

    prov = [yaml.safe_load(open(f)) for f in glob.glob(os.path.join(ROOT, 'infra/grafana/provisioning/dashboards/*.yml'))]
    paths = [p['options']['path'] for doc in prov for p in doc.get('providers', [])]
    if '/var/lib/grafana/dashboards' not in paths:
        fail('grafana dashboard provider does not load /var/lib/grafana/dashboards (the compose mount)')
    else:
        ok('grafana provisioning: Prometheus datasource and a dashboard provider for the mounted folder')

    unknown = {}
    used = set()
    for where, expr in exprs:
        for name in metric_names_in(expr):
            used.add(name)
            if not known_metric(name, known, recorded):
                unknown.setdefault(name, []).append(where)
    for name, wheres in sorted(unknown.items()):
        fail(f'metric {name} is not exported by the code (used in {wheres[0]}{" and more" if len(wheres) > 1 else ""})')
    ok(f'{len(exprs)} expressions use {len(used)} metric names; all exported by the code ({len(known)} known), recorded, or `up`')


def context_files():
    """The files `docker build .` sends (the .dockerignore applied), relative to the repository."""
    pats = dockerignore_patterns()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in ('.git', 'node_modules')]
        for f in filenames:
            path = rel(os.path.join(dirpath, f))
            if in_context(path, pats):
                print(path)


def kafka_properties(resolved, log_dir):
    """server.properties as the apache/kafka image renders it from the kafka service's KAFKA_* variables
    (KAFKA_FOO_BAR → foo.bar; `__` → `_`, `___` → `-`), with log.dirs moved to log_dir."""
    model = yaml.safe_load(open(resolved))
    env = model['services']['kafka']['environment']
    for k, v in sorted(env.items()):
        if k.startswith('KAFKA_') and k != 'KAFKA_LOG_DIRS':
            key = k[6:].lower().replace('___', '-').replace('__', '\0').replace('_', '.').replace('\0', '_')
            print(f'{key}={v}')
    print(f'log.dirs={log_dir}')
    cid = env.get('CLUSTER_ID', '')
    print(f'# cluster.id={cid}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--resolved', help='compose model as JSON (compose-go) or YAML (docker-compose v1 config)')
    ap.add_argument('--metrics', help='output of infra/compose/metric-names.ts')
    ap.add_argument('--context-files', action='store_true', help='print the files of the docker build context and exit')
    ap.add_argument('--kafka-properties', metavar='LOG_DIR', help='print the kafka service as server.properties and exit')
    args = ap.parse_args()
    if args.context_files:
        return context_files()
    if args.kafka_properties:
        return kafka_properties(args.resolved, args.kafka_properties)
    if not args.resolved or not args.metrics:
        ap.error('--resolved and --metrics are required')
    model = yaml.safe_load(open(args.resolved))  # JSON is YAML
    # docker-compose v1 prints depends_on as a mapping too; ports as long syntax with host_ip. Normalise both.
    for svc in model['services'].values():
        for port in svc.get('ports') or []:
            port.setdefault('host_ip', port.get('host_ip'))
        for vol in svc.get('volumes') or []:
            if isinstance(vol, dict) and vol.get('type') == 'bind':
                vol['source'] = os.path.join(ROOT, vol['source']) if not os.path.isabs(vol['source']) else vol['source']
    known = json.load(open(args.metrics))
    services, listen = check_compose(model)
    check_dockerfile(services)
    check_prometheus(services, listen)
    check_monitoring(known)
    print()
    if failures:
        print(f'{len(failures)} check(s) FAILED, {len(warnings)} warning(s)')
        sys.exit(1)
    print(f'all checks passed, {len(warnings)} warning(s)')


if __name__ == '__main__':
    main()
