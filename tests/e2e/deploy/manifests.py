#!/usr/bin/env python3
"""Checks on rendered install manifests (helm template / kubectl kustomize output),
for deploy_test.sh. Each subcommand prints what it checked and exits non-zero with
one line per problem.

  manifests.py security RENDER.yaml              the Deployment's security settings
  manifests.py scope RENDER.yaml [NAMESPACE]     cluster-wide or single-namespace wiring
  manifests.py rbac A.yaml B.yaml                ClusterRole and leader Role rules equal
  manifests.py split RENDER.yaml SERVED.txt OUT_SERVED.yaml OUT_UNSERVED.txt
  manifests.py prometheusrule RENDER.yaml ALERTS.yaml   PrometheusRule spec == alerts file
  manifests.py workload-identity RENDER.yaml yes|no     Azure workload identity wiring
  manifests.py args RENDER.yaml                  the controller's args, one per line
  manifests.py queries NAMES FILE...             every metric name in the PromQL of FILEs
                                                 (Grafana dashboard .json, Prometheus rule
                                                 .yaml) is one NAMES knows; NAMES is a
                                                 /metrics scrape (the series it holds) or
                                                 "registered:SOURCE.cc,..." (the families
                                                 the sources register, with _bucket/_count/
                                                 _sum for histograms) or "prometheus:URL" (the
                                                 names a Prometheus server has series of);
                                                 with a scrape or a server, the labels each
                                                 query matches, groups or joins on too
  manifests.py dashboard-configmap RENDER.yaml DASHBOARD.json   the Grafana ConfigMap holds it
  manifests.py rbac-audit RENDER.yaml LOG API_URL [--allow GROUP/RESOURCE:VERB ...]
                                                 every API request in the controller's debug
                                                 log (logger "http", msg "request", url under
                                                 API_URL) is granted to its ServiceAccount by
                                                 the rendering's roles and bindings, and every
                                                 granted (resource, verb) was sent at least once
                                                 or is in --allow
"""
import json
import re
import sys

import yaml

# libyaml's loader when present: the renderings hold the CRDs, 1,400 lines.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

CONTROLLER = "vmrelease-controller"
LEADER_ROLE = "vmrelease-leader-election"


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=Loader) if d]


def find(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs, kind, name, problems, where):
    found = find(docs, kind, name)
    if len(found) != 1:
        problems.append(f"{where}: want exactly one {kind}/{name}, found {len(found)}")
        return None
    return found[0]


def flag_values(args, flag):
    return [a.split("=", 1)[1] if "=" in a else "" for a in args if a == flag or a.startswith(flag + "=")]


def check_security(path):
    docs = load(path)
    problems = []
    dep = one(docs, "Deployment", CONTROLLER, problems, path)
    if dep is None:
        return problems
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        problems.append("pod securityContext.runAsNonRoot is not true")
    if not isinstance(psc.get("runAsUser"), int) or psc["runAsUser"] == 0:
        problems.append("pod securityContext.runAsUser is not a non-zero uid")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("pod securityContext.seccompProfile.type is not RuntimeDefault")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"pod uses {key}")
    if pod.get("serviceAccountName") != CONTROLLER:
        problems.append(f"serviceAccountName is {pod.get('serviceAccountName')!r}, want {CONTROLLER}")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for v in volumes.values():
        if "hostPath" in v:
            problems.append(f"volume {v['name']} is a hostPath")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        problems.append(f"want one container, found {len(containers)}")
    for c in containers:
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: readOnlyRootFilesystem is not true")
        if sc.get("privileged"):
            problems.append(f"container {name}: privileged")
        caps = sc.get("capabilities") or {}
        if caps.get("drop") != ["ALL"]:
            problems.append(f"container {name}: capabilities.drop is {caps.get('drop')!r}, want [ALL]")
        if caps.get("add"):
            problems.append(f"container {name}: adds capabilities {caps['add']!r}")
        if sc.get("runAsNonRoot") is False or (sc.get("runAsNonRoot") is None and psc.get("runAsNonRoot") is not True):
            problems.append(f"container {name}: may run as root")
        if (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault") != "RuntimeDefault":
            problems.append(f"container {name}: seccompProfile is not RuntimeDefault")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(kind) or {}):
                    problems.append(f"container {name}: no resources.{kind}.{r}")
        args = c.get("args") or []
        # Probes on the metrics port, which must listen beyond loopback.
        bind = flag_values(args, "--metrics-bind-address")
        if len(bind) != 1 or bind[0].startswith("127.") or bind[0] in ("0", ""):
            problems.append(f"container {name}: --metrics-bind-address {bind!r} is not reachable by probes")
            port = None
        else:
            port = int(bind[0].rsplit(":", 1)[1])
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        if port is not None and ports.get("metrics") != port:
            problems.append(f"container {name}: port 'metrics' is {ports.get('metrics')}, the server listens on {port}")
        for probe, url in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            if get.get("path") != url or get.get("port") not in ("metrics", port):
                problems.append(f"container {name}: {probe} is not GET {url} on the metrics port")
        # A read-only root filesystem needs a writable --work-dir.
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        work = flag_values(args, "--work-dir")
        if len(work) != 1:
            problems.append(f"container {name}: no --work-dir")
        else:
            mounted = [p for p in mounts if work[0] == p or work[0].startswith(p.rstrip("/") + "/")]
            if not mounted or "emptyDir" not in volumes.get(mounts[mounted[0]], {}):
                problems.append(f"container {name}: --work-dir {work[0]} is not on an emptyDir mount")
        replicas = spec.get("replicas", 1)
        if replicas > 1 and "--leader-elect" not in args:
            problems.append(f"{replicas} replicas without --leader-elect")
        if replicas > 1:
            ns_flag = flag_values(args, "--leader-elect-namespace")
            env = {e["name"]: e for e in c.get("env") or []}
            if ns_flag != ["$(POD_NAMESPACE)"] or "POD_NAMESPACE" not in env:
                problems.append("the leader Lease's namespace is not the pod's (--leader-elect-namespace=$(POD_NAMESPACE))")
    # Only the leader is Ready (/readyz), so a rollout must not wait for an old pod to stay
    # available: it would wait forever for a standby to become Ready.
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type") != "Recreate" and rolling.get("maxUnavailable") != "100%":
        problems.append(f"strategy {strategy!r}: a rollout would wait forever for a standby to be Ready"
                        " (want Recreate or maxUnavailable: 100%)")
    # The standby is not Ready yet must be scraped: the metrics Service publishes it.
    svc = one(docs, "Service", CONTROLLER + "-metrics", problems, path)
    if svc is not None and svc["spec"].get("publishNotReadyAddresses") is not True:
        problems.append("Service vmrelease-controller-metrics: publishNotReadyAddresses is not true"
                        " (the standby would not be scraped)")
    print(f"security: {path}: {'ok' if not problems else 'FAILED'}"
          f" (replicas {spec.get('replicas')}, non-root, read-only root, no escalation, drop ALL,"
          " RuntimeDefault, requests/limits, probes, rollout strategy)")
    return problems


def check_scope(path, namespace):
    docs = load(path)
    problems = []
    dep = one(docs, "Deployment", CONTROLLER, problems, path)
    if dep is None:
        return problems
    dep_ns = dep["metadata"].get("namespace")
    args = dep["spec"]["template"]["spec"]["containers"][0].get("args") or []
    flag = flag_values(args, "--namespace")
    crbs = find(docs, "ClusterRoleBinding", CONTROLLER)
    rbs = find(docs, "RoleBinding", CONTROLLER)
    if namespace:
        if flag != [namespace]:
            problems.append(f"--namespace is {flag!r}, want [{namespace!r}]")
        if crbs:
            problems.append("a single-namespace install has a ClusterRoleBinding")
        if len(rbs) != 1 or rbs[0]["metadata"].get("namespace") != namespace:
            problems.append(f"want one RoleBinding {CONTROLLER} in {namespace}")
        bindings = rbs
    else:
        if flag:
            problems.append(f"a cluster-wide install passes --namespace {flag!r}")
        if rbs:
            problems.append("a cluster-wide install has a RoleBinding for the controller's ClusterRole")
        if len(crbs) != 1:
            problems.append(f"want one ClusterRoleBinding {CONTROLLER}")
        bindings = crbs
    for b in bindings:
        if b["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CONTROLLER}:
            problems.append(f"{b['kind']} {CONTROLLER} refers to {b['roleRef']!r}")
        if b.get("subjects") != [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": dep_ns}]:
            problems.append(f"{b['kind']} {CONTROLLER} subjects {b.get('subjects')!r} are not the controller's ServiceAccount in {dep_ns}")
    leader = find(docs, "RoleBinding", LEADER_ROLE)
    if len(leader) != 1 or leader[0]["metadata"].get("namespace") != dep_ns:
        problems.append(f"want the RoleBinding {LEADER_ROLE} in the controller's namespace {dep_ns}")
    if not find(docs, "ServiceAccount", CONTROLLER):
        problems.append("no ServiceAccount")
    print(f"scope: {path}: {'namespace ' + namespace if namespace else 'cluster-wide'}: {'ok' if not problems else 'FAILED'}")
    return problems


def rules_of(docs, kind, name, where, problems):
    obj = one(docs, kind, name, problems, where)
    if obj is None:
        return None
    return sorted((tuple(r.get("apiGroups", [])), tuple(r.get("resources", [])),
                   tuple(r.get("resourceNames", [])), tuple(sorted(r.get("verbs", []))))
                  for r in obj.get("rules") or [])


def check_rbac(a, b):
    problems = []
    da, db = load(a), load(b)
    for kind, name in (("ClusterRole", CONTROLLER), ("Role", LEADER_ROLE)):
        ra = rules_of(da, kind, name, a, problems)
        rb = rules_of(db, kind, name, b, problems)
        if ra is None or rb is None:
            continue
        if ra != rb:
            only_a = [r for r in ra if r not in rb]
            only_b = [r for r in rb if r not in ra]
            problems.append(f"{kind} {name} differs: only in {a}: {only_a}; only in {b}: {only_b}")
        for groups, resources, _, verbs in ra:
            if "*" in groups or "*" in resources or "*" in verbs:
                problems.append(f"{kind} {name}: a wildcard in {groups}/{resources}/{verbs}")
            if "secrets" in resources and ({"list", "watch"} & set(verbs)):
                problems.append(f"{kind} {name}: list/watch on secrets")
    print(f"rbac: {a} == {b}: {'ok' if not problems else 'FAILED'}")
    return problems


def split(path, served_file, out_served, out_unserved):
    served = set()
    with open(served_file, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                served.add((fields[-3], fields[-1]))  # APIVERSION ... KIND
    ok, missing = [], []
    for d in load(path):
        if (d["apiVersion"], d["kind"]) in served:
            ok.append(d)
        else:
            missing.append(f"{d['apiVersion']} {d['kind']} {d['metadata'].get('namespace', '-')} {d['metadata']['name']}")
    with open(out_served, "w", encoding="utf-8") as f:
        yaml.dump_all(ok, f, Dumper=Dumper, sort_keys=False)
    with open(out_unserved, "w", encoding="utf-8") as f:
        f.write("".join(m + "\n" for m in missing))
    return []


def check_prometheusrule(path, alerts):
    problems = []
    rule = one(load(path), "PrometheusRule", CONTROLLER, problems, path)
    with open(alerts, encoding="utf-8") as f:
        want = yaml.load(f, Loader=Loader)
    if rule is not None and rule.get("spec") != want:
        problems.append(f"PrometheusRule {CONTROLLER} in {path}: spec differs from {alerts}")
    print(f"prometheusrule: {path}: {'ok' if not problems else 'FAILED'}")
    return problems


def check_workload_identity(path, want):
    docs = load(path)
    problems = []
    sa = one(docs, "ServiceAccount", CONTROLLER, problems, path)
    dep = one(docs, "Deployment", CONTROLLER, problems, path)
    if sa is None or dep is None:
        return problems
    client_id = (sa["metadata"].get("annotations") or {}).get("azure.workload.identity/client-id")
    use = (dep["spec"]["template"]["metadata"].get("labels") or {}).get("azure.workload.identity/use")
    if want == "yes":
        if not client_id:
            problems.append("ServiceAccount has no azure.workload.identity/client-id annotation")
        if use != "true":
            problems.append("pod template has no label azure.workload.identity/use: \"true\"")
    else:
        if client_id is not None or use is not None:
            problems.append("workload identity is wired although it was not asked for")
    print(f"workload-identity: {path}: {want}: {'ok' if not problems else 'FAILED'}")
    return problems


def print_args(path):
    problems = []
    dep = one(load(path), "Deployment", CONTROLLER, problems, path)
    if dep is not None:
        for a in dep["spec"]["template"]["spec"]["containers"][0].get("args") or []:
            print(a)
    return problems

# PromQL words that look like metric names but are not.
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "bool", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression selects (functions, labels and keywords removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)   # string literals (label values, regexes)
    e = re.sub(r"\{[^}]*\}", " ", e)                # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)               # range selectors, $__rate_interval
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        word = m.group(0)
        before = e[m.start() - 1] if m.start() > 0 else " "
        if before.isdigit() or before == "." or before == "$":  # 1e3, Grafana variables
            continue
        if e[m.end():].lstrip().startswith("(") or word in PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def query_exprs(path):
    """(where, PromQL) of every query in a Grafana dashboard or a Prometheus rule file."""
    out = []
    if path.endswith(".json"):
        def walk(node, where):
            if isinstance(node, dict):
                title = node.get("title") or node.get("name") or where
                if isinstance(node.get("expr"), str):
                    out.append((f"{path}: {title}", node["expr"]))
                q = node.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                if isinstance(q, str) and "label_values(" in q:
                    # Grafana's label_values(METRIC, LABEL): only METRIC is PromQL.
                    for metric in re.findall(r"label_values\(\s*([^,)]+)", q):
                        out.append((f"{path}: variable {title}", metric))
                for v in node.values():
                    walk(v, title)
            elif isinstance(node, list):
                for v in node:
                    walk(v, where)
        with open(path, encoding="utf-8") as f:
            walk(json.load(f), path)
    else:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=Loader)
        for g in doc["groups"]:
            for r in g["rules"]:
                out.append((f"{path}: {r.get('alert') or r.get('record')}", r["expr"]))
    return out


def known_names(spec):
    """Metric names in a scrape, those the given sources register (.Name("...")), or those
    a Prometheus server (prometheus:URL) holds at least one series of."""
    names = set()
    if spec.startswith("prometheus:"):
        from urllib.request import urlopen
        url = spec[len("prometheus:"):].rstrip("/") + "/api/v1/label/__name__/values"
        with urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{url}: {body}")
        return set(body["data"])
    if spec.startswith("registered:"):
        for src in spec[len("registered:"):].split(","):
            with open(src, encoding="utf-8") as f:
                text = f.read()
            for m in re.finditer(r'Build(\w+)\(\)\s*\.Name\("([a-z_:]+)"\)', text):
                kind, name = m.groups()
                names.add(name)
                if kind in ("Histogram", "Summary"):
                    names |= {name + "_bucket", name + "_count", name + "_sum"}
        return names
    with open(spec, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def label_uses(expr, names):
    """(metric, label) of every label matcher on a selected metric, and the labels the
    expression groups or matches by (by/without/on/ignoring/group_*), with those label_replace
    creates. Grafana's variables are left alone: they are label values."""
    literal = r'"(?:[^"\\]|\\.)*"'
    created = set()
    for m in re.finditer(r"\blabel_replace\s*\(", expr):
        # label_replace(v, "dst", "replacement", "src", "regex"): dst is the second argument.
        args, depth, i, start = [], 0, m.end(), m.end()
        while i < len(expr) and depth >= 0:
            c = expr[i]
            if c == '"':
                i = re.compile(literal).match(expr, i).end()
                continue
            if c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
            if (c == "," and depth == 0) or depth < 0:
                args.append(expr[start:i].strip())
                start = i + 1
            i += 1
        if len(args) > 1 and re.fullmatch(literal, args[1]):
            created.add(args[1][1:-1])
    e = re.sub(literal, '""', expr)
    matched = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", e):
        if m.group(1) in names:
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(2)):
                matched.append((m.group(1), label))
    grouped = set()
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", e):
        grouped |= {l.strip() for l in m.group(2).split(",") if l.strip()}
    return matched, grouped, created


def metric_labels(spec, names):
    """{metric: label names its series carry} from a scrape or a Prometheus server; None when
    the spec cannot say (registered: sources declare label names only where they add series)."""
    if spec.startswith("registered:"):
        return None
    labels = {n: set() for n in names}
    if spec.startswith("prometheus:"):
        from urllib.parse import urlencode
        from urllib.request import urlopen
        base = spec[len("prometheus:"):].rstrip("/")
        for n in names:
            url = f"{base}/api/v1/series?" + urlencode({"match[]": n})
            with urlopen(url, timeout=10) as r:
                body = json.load(r)
            if body.get("status") != "success":
                raise RuntimeError(f"{url}: {body}")
            for series in body["data"]:
                labels[n] |= set(series) - {"__name__"}
        return labels
    for n in names:
        labels[n] |= {"instance", "job"}  # the target's, added by the scraping Prometheus
    with open(spec, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s", line)
            if m and m.group(1) in labels and m.group(2):
                labels[m.group(1)] |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2)))
    return labels


def check_queries(spec, *files):
    """Every metric a query selects is known; and where the spec has series (a scrape, a
    Prometheus server), every label a query matches on is one that metric's series carry and
    every label it groups or joins by is carried by one of its metrics: a renamed label would
    otherwise leave a panel silently empty or an alert silently quiet."""
    known = known_names(spec)
    queries = [(where, expr) for path in files for where, expr in query_exprs(path)]
    problems, used, label_checks = [], set(), 0
    for where, expr in queries:
        names = metric_names(expr)
        if not names:
            problems.append(f"{where}: no metric name found in {expr!r}")
        for n in sorted(names):
            used.add(n)
            if n not in known:
                problems.append(f"{where}: metric {n} is not in {spec}")
    carried = metric_labels(spec, sorted(used & known))
    if carried is not None:
        for where, expr in queries:
            names = metric_names(expr) & known
            matched, grouped, created = label_uses(expr, names)
            for metric, label in matched:
                label_checks += 1
                if label not in carried[metric]:
                    problems.append(f"{where}: {metric} has no label {label!r} (its series carry: "
                                    f"{', '.join(sorted(carried[metric])) or 'none'})")
            everywhere = set().union(created, *(carried[n] for n in names))
            for label in sorted(grouped):
                label_checks += 1
                if label not in everywhere:
                    problems.append(f"{where}: groups or joins by {label!r}, which none of "
                                    f"{', '.join(sorted(names))} carries")
    print(f"queries: {len(queries)} queries in {', '.join(files)} use {len(used)} metric names: "
          f"{', '.join(sorted(used))}; {spec}: {len(known)} names"
          + (f"; {label_checks} label uses checked against their series" if carried else ""))
    return problems


def check_dashboard_configmap(path, dashboard):
    docs = load(path)
    problems = []
    cms = [d for d in find(docs, "ConfigMap")
           if (d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    if len(cms) != 1:
        return [f"want one ConfigMap labelled grafana_dashboard=1, found {len(cms)}"]
    with open(dashboard, encoding="utf-8") as f:
        want = json.load(f)
    data = cms[0].get("data") or {}
    if list(data) != ["vmrelease.json"]:
        problems.append(f"ConfigMap {cms[0]['metadata']['name']}: keys {list(data)}, want [vmrelease.json]")
    elif json.loads(data["vmrelease.json"]) != want:
        problems.append(f"ConfigMap {cms[0]['metadata']['name']}: vmrelease.json differs from {dashboard}")
    print(f"dashboard: {path}: ConfigMap {cms[0]['metadata']['name']} holds {dashboard}: "
          f"{'ok' if not problems else 'FAILED'}")
    return problems


SERVICE_ACCOUNT = ("vmrelease-system", CONTROLLER)
# Paths every authenticated user may read (the default ClusterRole system:discovery).
DISCOVERY = re.compile(r"^/(version|healthz|readyz|livez|api|apis)(/[^/]+(/v[^/]+)?)?/?$")


def api_request(method, url, api_url):
    """(group, resource, verb, namespace) of one request to the API server, or None for a
    discovery path. resource is "name" or "name/subresource"; namespace "" when cluster-scoped."""
    from urllib.parse import parse_qs, urlsplit
    u = urlsplit(url)
    path, query = u.path.rstrip("/"), parse_qs(u.query)
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        rest = None
    if not rest:
        if DISCOVERY.match(path or "/"):
            return None
        raise ValueError(f"not a Kubernetes API path: {method} {url}")
    ns = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else ""
    if resource == "namespaces" and len(rest) == 1 and ns:
        resource, name, ns = "namespaces", ns, ""   # GET /api/v1/namespaces/NS itself
    watch = query.get("watch", ["false"])[0] in ("true", "1")
    verb = {"GET": "watch" if watch else ("get" if name else "list"),
            "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}.get(method)
    if verb is None:
        raise ValueError(f"no RBAC verb for {method} {url}")
    return group, resource + ("/" + sub if sub else ""), verb, ns


def grants_of(docs):
    """[(namespace or None for every namespace, rule)] the ServiceAccount is bound to."""
    sa_ns, sa_name = SERVICE_ACCOUNT
    roles = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d.get("rules") or []
             for d in docs if d.get("kind") in ("ClusterRole", "Role")}
    out = []
    for b in docs:
        if b.get("kind") not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa_name
                   and s.get("namespace") == sa_ns for s in b.get("subjects") or []):
            continue
        bns = b["metadata"].get("namespace", "") if b["kind"] == "RoleBinding" else None
        ref = b["roleRef"]
        key = (ref["kind"], (bns or "") if ref["kind"] == "Role" else "", ref["name"])
        for rule in roles.get(key, []):
            out.append((bns, rule))
    return out


def allowed(grants, group, resource, verb, ns):
    for gns, rule in grants:
        if gns is not None and gns != ns:
            continue
        if (group in rule.get("apiGroups", []) and resource in rule.get("resources", [])
                and verb in rule.get("verbs", []) and not rule.get("resourceNames")):
            return True
    return False


def check_rbac_audit(render, log, api_url, *rest):
    allow = set()
    it = iter(rest)
    for a in it:
        if a != "--allow":
            return [f"unknown argument {a}"]
        allow.add(next(it))
    docs = load(render)
    grants = grants_of(docs)
    problems = []
    if not grants:
        problems.append(f"{render}: no role bound to ServiceAccount {'/'.join(SERVICE_ACCOUNT)}")
    sent, discovery, lines = {}, set(), 0
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not isinstance(e, dict) or e.get("msg") != "request" or "method" not in e:
                continue
            url = e.get("url", "")
            if not url.startswith(api_url.rstrip("/") + "/"):
                continue   # Azure, Azurite, IMDS
            lines += 1
            try:
                r = api_request(e["method"], url, api_url)
            except ValueError as err:
                problems.append(str(err))
                continue
            if r is None:
                discovery.add(f"{e['method']} {url[len(api_url.rstrip('/')):].split('?')[0]}")
                continue
            sent.setdefault(r, 0)
            sent[r] += 1
    if lines == 0:
        problems.append(f"{log}: no request to {api_url} (was the controller's --log-level debug?)")
    for (group, resource, verb, ns), n in sorted(sent.items()):
        ok = allowed(grants, group, resource, verb, ns)
        print(f"  {'granted' if ok else 'DENIED '} {verb:16} {group or 'core'}/{resource}"
              f"{' in ' + ns if ns else ' (cluster)'} x{n}")
        if not ok:
            problems.append(f"sent {verb} {group or 'core'}/{resource} in namespace "
                            f"{ns or '(cluster)'} ({n}x): not granted by {render}")
    used = {(g, r, v) for (g, r, v, _) in sent}
    granted = set()
    for _, rule in grants:
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    granted.add((g, r, v))
    for g, r, v in sorted(granted - used):
        key = f"{g or 'core'}/{r}:{v}"
        if key in allow:
            print(f"  unused, allowed: {v:10} {g or 'core'}/{r}")
        else:
            problems.append(f"granted but never sent: {v} {g or 'core'}/{r} "
                            f"(drop it from the role, exercise it, or --allow {key})")
    for key in sorted(allow):
        g, _, rv = key.partition("/")
        r, _, v = rv.partition(":")
        g = "" if g == "core" else g
        if (g, r, v) not in granted:
            problems.append(f"--allow {key}: not granted, remove it from the allow-list")
        # Sent anyway is fine: an allow-listed verb is one whose use depends on timing
        # (a Pod not yet deleting when listed, a retry), not one that must stay unused.
    print(f"rbac-audit: {lines} requests to the API server, {len(sent)} distinct "
          f"(resource, verb, namespace), {len(granted)} granted (resource, verb); discovery: "
          f"{', '.join(sorted(discovery)) or 'none'}: {'ok' if not problems else 'FAILED'}")
    return problems


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "security":
        problems = check_security(*args)
    elif cmd == "scope":
        problems = check_scope(args[0], args[1] if len(args) > 1 else "")
    elif cmd == "rbac":
        problems = check_rbac(*args)
    elif cmd == "split":
        problems = split(*args)
    elif cmd == "prometheusrule":
        problems = check_prometheusrule(*args)
    elif cmd == "workload-identity":
        problems = check_workload_identity(*args)
    elif cmd == "args":
        problems = print_args(*args)
    elif cmd == "queries":
        problems = check_queries(*args)
    elif cmd == "dashboard-configmap":
        problems = check_dashboard_configmap(*args)
    elif cmd == "rbac-audit":
        problems = check_rbac_audit(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(f"  - {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
