#!/usr/bin/env bash
# The install manifests checked with the real tools (issue 13):
#   deploy_test.sh render   helm lint/template (default and tests' values), kubectl kustomize of each
#                           overlay, values.schema.json rejections, chart CRDs/RBAC/alerts equal to
#                           kustomize's, the Deployment's security settings and rollout strategy,
#                           namespace scoping, the Grafana dashboard ConfigMap
#   deploy_test.sh rules    promtool check/test rules; a firing and a quiet case per alert; a
#                           runbook per alert; the alerts' and the Grafana dashboard's queries use
#                           only metric names the controller registers (a real scrape of them:
#                           tests/e2e/pipeline/monitoring_e2e_test.cc)
#   deploy_test.sh apply    every object of every rendering through `kubectl apply --dry-run=server`
#                           against the local API server, then the controller run with the
#                           Deployment's args
# Tools: .tools/bin/{helm,kubectl} (scripts/setup.sh), promtool, python3 with PyYAML.
# Binaries (apply): $VMRELEASE_BIN_DIR (CTest sets it), else build/bin.
set -euo pipefail

SRC=${VMRELEASE_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
BIN=${VMRELEASE_BIN_DIR:-$SRC/build/bin}
KUBECTL=${KUBECTL:-$SRC/.tools/bin/kubectl}
HELM=${HELM:-$SRC/.tools/bin/helm}
PROMTOOL=${PROMTOOL:-promtool}
HERE=$SRC/tests/e2e/deploy
# The first Python with PyYAML: $PYTHON3, Debian's (python3-yaml; no version-manager shim to start), python3.
PYTHON=python3
for candidate in ${PYTHON3:-} /usr/bin/python3 python3; do
  if "$candidate" -c 'import yaml' 2>/dev/null; then
    PYTHON=$candidate
    break
  fi
done
MANIFESTS=("$PYTHON" "$HERE/manifests.py")
WATCHED=vm-images # the namespace of overlays/namespaced and testdata/values-custom.yaml

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
passes=0
pass() {
  passes=$((passes + 1))
  echo "PASS: $*"
}
fail() {
  failures=$((failures + 1))
  echo "FAIL: $*"
}
# check DESCRIPTION COMMAND...: runs the command, output indented, and counts it.
check() {
  local what=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    sed 's/^/    /' "$tmp/out"
    pass "$what"
  else
    sed 's/^/    /' "$tmp/out"
    fail "$what"
  fi
}

need() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "FAIL: $tool not found: run scripts/setup.sh" >&2
      exit 1
    fi
  done
  if ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
    echo "FAIL: no python3 with PyYAML (Debian: python3-yaml): run scripts/setup.sh" >&2
    exit 1
  fi
}

# Renders everything into $tmp: k-cluster, k-namespaced, k-wi (cluster + workload identity
# component), h-default, h-custom (testdata/values-custom.yaml). Helm renders include the CRDs.
render_all() {
  "$KUBECTL" kustomize "$SRC/deploy/kustomize/overlays/cluster" >"$tmp/k-cluster.yaml"
  "$KUBECTL" kustomize "$SRC/deploy/kustomize/overlays/namespaced" >"$tmp/k-namespaced.yaml"
  mkdir -p "$tmp/wi-overlay"
  cp -r "$SRC/deploy/kustomize" "$tmp/wi-overlay/kustomize"
  cat >"$tmp/wi-overlay/kustomize/overlays/cluster/kustomization.yaml.wi" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
  - clusterrolebinding.yaml
components:
  - ../../components/monitoring
  - ../../components/azure-workload-identity
YAML
  mv "$tmp/wi-overlay/kustomize/overlays/cluster/kustomization.yaml.wi" \
    "$tmp/wi-overlay/kustomize/overlays/cluster/kustomization.yaml"
  "$KUBECTL" kustomize "$tmp/wi-overlay/kustomize/overlays/cluster" >"$tmp/k-wi.yaml"
  "$HELM" template vmrelease "$SRC/helm/vmrelease" --namespace vmrelease-system --include-crds \
    >"$tmp/h-default.yaml"
  "$HELM" template vmrelease "$SRC/helm/vmrelease" --namespace vmrelease-system --include-crds \
    -f "$HERE/testdata/values-custom.yaml" >"$tmp/h-custom.yaml"
}

count_kind() { # FILE KIND
  grep -c "^kind: $2\$" "$1" || true
}

render() {
  need "$KUBECTL" "$HELM"
  check "chart and kustomize copies of crds/, deploy/prometheus/alerts.yaml and deploy/grafana/vmrelease.json are current" \
    "$SRC/scripts/sync-deploy.sh" --check
  local f name
  for f in "$SRC"/crds/*.yaml; do
    name=$(basename "$f")
    check "helm/vmrelease/crds/$name equals crds/$name" cmp "$f" "$SRC/helm/vmrelease/crds/$name"
  done
  check "helm/vmrelease/crds holds only the CRDs of crds/" \
    diff <(cd "$SRC/crds" && ls) <(cd "$SRC/helm/vmrelease/crds" && ls)

  check "helm lint --strict (default values)" "$HELM" lint --strict "$SRC/helm/vmrelease"
  check "helm lint --strict (testdata/values-custom.yaml)" \
    "$HELM" lint --strict "$SRC/helm/vmrelease" -f "$HERE/testdata/values-custom.yaml"
  check "helm template and kubectl kustomize render" render_all

  local r
  for r in k-cluster k-namespaced k-wi h-default h-custom; do
    check "$r: Deployment security settings" "${MANIFESTS[@]}" security "$tmp/$r.yaml"
  done
  # The check must be able to fail: a rendering with a writable root and a capability added.
  sed -e 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
    -e 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' "$tmp/k-cluster.yaml" \
    >"$tmp/mutated.yaml"
  if "${MANIFESTS[@]}" security "$tmp/mutated.yaml" >"$tmp/out" 2>&1 &&
    ! grep -q readOnlyRootFilesystem "$tmp/out"; then
    fail "the security check accepts a writable root filesystem"
  else
    pass "the security check rejects a writable root filesystem and privilege escalation"
  fi

  # Nor may a rollout keep an old pod available: only the leader is Ready.
  sed 's/maxUnavailable: 100%/maxUnavailable: 25%/' "$tmp/k-cluster.yaml" >"$tmp/mutated.yaml"
  if "${MANIFESTS[@]}" security "$tmp/mutated.yaml" >"$tmp/out" 2>&1 ||
    ! grep -q 'a rollout would wait forever' "$tmp/out"; then
    sed 's/^/    /' "$tmp/out"
    fail "the security check accepts a rollout strategy that waits for a standby to be Ready"
  else
    pass "the security check rejects maxUnavailable 25% (a rollout would wait for a standby)"
  fi

  check "k-cluster: cluster-wide scope" "${MANIFESTS[@]}" scope "$tmp/k-cluster.yaml"
  check "h-default: cluster-wide scope" "${MANIFESTS[@]}" scope "$tmp/h-default.yaml"
  check "k-namespaced: scope $WATCHED" "${MANIFESTS[@]}" scope "$tmp/k-namespaced.yaml" "$WATCHED"
  check "h-custom: scope $WATCHED" "${MANIFESTS[@]}" scope "$tmp/h-custom.yaml" "$WATCHED"

  check "chart RBAC equals kustomize RBAC (cluster-wide)" \
    "${MANIFESTS[@]}" rbac "$tmp/k-cluster.yaml" "$tmp/h-default.yaml"
  check "chart RBAC equals kustomize RBAC (single namespace)" \
    "${MANIFESTS[@]}" rbac "$tmp/k-namespaced.yaml" "$tmp/h-custom.yaml"

  check "k-cluster: PrometheusRule spec is deploy/prometheus/alerts.yaml" \
    "${MANIFESTS[@]}" prometheusrule "$tmp/k-cluster.yaml" "$SRC/deploy/prometheus/alerts.yaml"
  check "h-custom: PrometheusRule spec is deploy/prometheus/alerts.yaml" \
    "${MANIFESTS[@]}" prometheusrule "$tmp/h-custom.yaml" "$SRC/deploy/prometheus/alerts.yaml"
  check "k-cluster: Grafana dashboard ConfigMap holds deploy/grafana/vmrelease.json" \
    "${MANIFESTS[@]}" dashboard-configmap "$tmp/k-cluster.yaml" "$SRC/deploy/grafana/vmrelease.json"
  check "h-custom: Grafana dashboard ConfigMap holds deploy/grafana/vmrelease.json" \
    "${MANIFESTS[@]}" dashboard-configmap "$tmp/h-custom.yaml" "$SRC/deploy/grafana/vmrelease.json"
  if grep -q 'grafana_dashboard' "$tmp/h-default.yaml"; then
    fail "grafanaDashboard: on by default"
  else
    pass "grafanaDashboard: off by default, on when asked"
  fi
  if [ "$(count_kind "$tmp/h-default.yaml" ServiceMonitor)" = 0 ] &&
    [ "$(count_kind "$tmp/h-default.yaml" PrometheusRule)" = 0 ] &&
    [ "$(count_kind "$tmp/h-custom.yaml" ServiceMonitor)" = 1 ]; then
    pass "serviceMonitor/prometheusRule toggles: off by default, on when asked"
  else
    fail "serviceMonitor/prometheusRule toggles"
  fi
  for r in k-cluster h-default h-custom; do
    if [ "$(count_kind "$tmp/$r.yaml" CustomResourceDefinition)" = 2 ]; then
      pass "$r: renders the 2 CRDs"
    else
      fail "$r: renders $(count_kind "$tmp/$r.yaml" CustomResourceDefinition) CRDs, want 2"
    fi
  done
  for r in h-default k-cluster k-namespaced h-custom; do
    "${MANIFESTS[@]}" args "$tmp/$r.yaml" >"$tmp/$r.args"
  done
  if grep -q -- '^--allow-local-builds$' "$tmp/h-default.args" "$tmp/k-cluster.args" \
    "$tmp/k-namespaced.args" || ! grep -q -- '^--allow-local-builds$' "$tmp/h-custom.args"; then
    fail "--allow-local-builds: want it only where localBuilds.enabled is true"
  else
    pass "local builds off by default (no --allow-local-builds), on with localBuilds.enabled"
  fi

  check "k-wi: workload identity wired" "${MANIFESTS[@]}" workload-identity "$tmp/k-wi.yaml" yes
  check "h-custom: workload identity wired" "${MANIFESTS[@]}" workload-identity "$tmp/h-custom.yaml" yes
  check "h-default: no workload identity" "${MANIFESTS[@]}" workload-identity "$tmp/h-default.yaml" no
  check "k-cluster: no workload identity" "${MANIFESTS[@]}" workload-identity "$tmp/k-cluster.yaml" no

  # values.schema.json: each wrong value fails `helm template` with a message naming it.
  local cases=(
    "replicas=two|replicas: Invalid type. Expected: integer"
    "replicas=0|replicas: Must be greater than or equal to 1"
    "image.pullPolicy=Sometimes|image.pullPolicy must be one of the following"
    "image.repository=|image.repository: String length must be greater than or equal to 1"
    "watchNamespace=Bad_Namespace|watchNamespace: Does not match pattern"
    "logLevel=verbose|logLevel must be one of the following"
    "replica=3|Additional property replica is not allowed"
    "metrics.port=70000|metrics.port: Must be less than or equal to 65535"
    "resources.limits.memory=lots|resources.limits.memory: Does not match pattern"
    "azure.workloadIdentity.enabled=true|azure.workloadIdentity.clientId: String length must be greater than or equal to 1"
    "azure.workloadIdentity.clientId=not-a-guid|azure.workloadIdentity.clientId: Does not match pattern"
    "leaderElection.enabled=false|leaderElection.enabled does not match: true"
    "serviceMonitor.enabled=yes|serviceMonitor.enabled: Invalid type. Expected: boolean"
    "grafanaDashboard.enabled=yes|grafanaDashboard.enabled: Invalid type. Expected: boolean"
  )
  local c value want
  for c in "${cases[@]}"; do
    value=${c%%|*}
    want=${c#*|}
    if "$HELM" template vmrelease "$SRC/helm/vmrelease" --set "$value" >/dev/null 2>"$tmp/err"; then
      fail "values.schema.json accepts --set $value"
    elif grep -qF -- "$want" "$tmp/err"; then
      pass "values.schema.json rejects --set $value: $(grep -F -- "$want" "$tmp/err" | head -1 | sed 's/^- //')"
    else
      sed 's/^/    /' "$tmp/err"
      fail "values.schema.json rejects --set $value but without \"$want\""
    fi
  done
}

rules() {
  need "$PROMTOOL"
  local alerts=$SRC/deploy/prometheus/alerts.yaml
  check "promtool check rules deploy/prometheus/alerts.yaml" "$PROMTOOL" check rules "$alerts"
  check "promtool check rules helm/vmrelease/files/alerts.yaml" \
    "$PROMTOOL" check rules "$SRC/helm/vmrelease/files/alerts.yaml"
  check "promtool test rules deploy/prometheus/alerts_test.yaml" \
    "$PROMTOOL" test rules "$SRC/deploy/prometheus/alerts_test.yaml"
  check "dashboard and alert queries use only metric names controller/metrics registers" \
    "${MANIFESTS[@]}" queries \
    "registered:$SRC/controller/metrics/prometheus.cc,$SRC/controller/metrics/product_metrics.cc" \
    "$SRC/deploy/grafana/vmrelease.json" "$alerts"
  check "the dashboard is valid JSON with a datasource variable and a query per panel" \
    "$PYTHON" - "$SRC/deploy/grafana/vmrelease.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
if not any(v.get("type") == "datasource" for v in d["templating"]["list"]):
    problems.append("no datasource variable")
ids = set()
for p in d["panels"]:
    if p["id"] in ids:
        problems.append(f"panel id {p['id']} twice")
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    if not p.get("targets") or not all(t.get("expr") for t in p["targets"]):
        problems.append(f"panel {p['title']!r}: a target without a query")
    if p.get("datasource", {}).get("uid") != "${datasource}":
        problems.append(f"panel {p['title']!r}: not on the datasource variable")
titles = [p["title"] for p in d["panels"] if p["type"] != "row"]
print(f"{len(titles)} panels: " + ", ".join(titles))
for p in problems:
    print("  - " + p)
sys.exit(1 if problems else 0)
PY
  check "each alert: a firing and a quiet test case, a runbook, only exported metrics" \
    "$PYTHON" - "$alerts" "$SRC/deploy/prometheus/alerts_test.yaml" "$SRC/docs/operations.md" \
    "$SRC"/controller/metrics/*.cc <<'PY'
import re, sys, yaml
alerts_path, tests_path, runbook_path, *sources = sys.argv[1:]
rules = [r for g in yaml.safe_load(open(alerts_path))["groups"] for r in g["rules"]]
tests = yaml.safe_load(open(tests_path))["tests"]
registered = set()
for s in sources:
    registered |= set(re.findall(r'\.Name\("([a-z_:]+)"\)', open(s).read()))
runbook = open(runbook_path).read()
problems = []
for r in rules:
    name = r["alert"]
    cases = [c for t in tests for c in t.get("alert_rule_test", []) if c["alertname"] == name]
    if not any(c.get("exp_alerts") for c in cases):
        problems.append(f"{name}: no test case where it fires")
    if not any(not c.get("exp_alerts") for c in cases):
        problems.append(f"{name}: no test case where it stays quiet")
    if not re.search(rf"^#+ {name}\s*$", runbook, re.M):
        problems.append(f"{name}: no runbook heading '{name}' in docs/operations.md")
    if r["annotations"].get("runbook_url") != f"docs/operations.md#{name.lower()}":
        problems.append(f"{name}: runbook_url is not docs/operations.md#{name.lower()}")
    expr = re.sub(r'"[^"]*"', '""', r["expr"])
    for metric in set(re.findall(r"\b((?:vmrelease|controller_runtime|workqueue|leader_election)_[a-z_]+)", expr)):
        if metric not in registered:
            problems.append(f"{name}: metric {metric} is not registered in controller/metrics")
    print(f"{name}: {len(cases)} test cases")
print(f"{len(rules)} alerts; controller/metrics registers {len(registered)} metric families")
for p in problems:
    print("  - " + p)
sys.exit(1 if problems else 0)
PY
}

# Starts the local API server; sets KUBECONFIG.
start_apiserver() {
  "$BIN/vmrelease-apiserver" --listen 127.0.0.1:0 --kubeconfig-out "$tmp/kubeconfig" \
    >"$tmp/apiserver.log" 2>&1 &
  pids+=($!)

  for _ in $(seq 1 600); do
    [ -s "$tmp/kubeconfig" ] && break
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ ! -s "$tmp/kubeconfig" ]; then
    cat "$tmp/apiserver.log"
    echo "FAIL: vmrelease-apiserver did not start"
    exit 1
  fi
  export KUBECONFIG=$tmp/kubeconfig
  for _ in $(seq 1 300); do
    "$KUBECTL" get --raw /readyz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL: vmrelease-apiserver not ready"
  exit 1
}

# Every object of a rendering goes through `--dry-run=server`: the local API server serves all
# their kinds (apps/v1 Deployments and the rbac.authorization.k8s.io/v1 kinds too); a kind it
# does not serve fails the test.
dry_run() { # RENDERING
  local r=$1
  "${MANIFESTS[@]}" split "$tmp/$r.yaml" "$tmp/served.txt" "$tmp/$r.served.yaml" "$tmp/$r.unserved.txt"
  check "$r: kubectl apply --dry-run=server of $(grep -c '^kind:' "$tmp/$r.served.yaml") objects ($(
    grep '^kind:' "$tmp/$r.served.yaml" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'
  ))" "$KUBECTL" apply --dry-run=server -f "$tmp/$r.served.yaml"
  if [ -s "$tmp/$r.unserved.txt" ]; then
    sed 's/^/    /' "$tmp/$r.unserved.txt"
    fail "$r: kinds above are not served by the API server, so no server checked them"
  fi
}

# Runs vmrelease-controller with the args of RENDERING's Deployment against the API server
# until it is ready and leads (proves the flags exist and the probes answer).
run_controller() { # RENDERING
  local r=$1 args=() a log=$tmp/$1.controller.log
  while IFS= read -r a; do
    case "$a" in
      --metrics-bind-address=*) a=--metrics-bind-address=127.0.0.1:0 ;;
      --work-dir=*) a=--work-dir=$tmp/$r.work ;;
    esac
    args+=("${a//\$(POD_NAMESPACE)/vmrelease-system}")
  done < <("${MANIFESTS[@]}" args "$tmp/$r.yaml")
  "$BIN/vmrelease-controller" --kubeconfig "$KUBECONFIG" "${args[@]}" >"$log" 2>&1 &
  local pid=$! url="" ok=0
  pids+=("$pid")
  for _ in $(seq 1 600); do
    url=$(grep -o '"address":"http://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/"address":"//') || true
    if [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 &&
      curl -fsS "$url/metrics" 2>/dev/null |
      grep -q '^leader_election_master_status{name="vmrelease-controller"} 1'; then
      ok=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ok" = 1 ]; then
    curl -fsS "$url/healthz" >/dev/null
    pass "$r: vmrelease-controller with the Deployment's args (${args[*]}) is healthy, ready and leads"
  else
    sed 's/^/    /' "$log"
    fail "$r: vmrelease-controller with the Deployment's args did not become ready and lead"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

apply() {
  need "$KUBECTL" "$HELM" curl
  if [ ! -x "$BIN/vmrelease-apiserver" ] || [ ! -x "$BIN/vmrelease-controller" ]; then
    echo "FAIL: no vmrelease-apiserver / vmrelease-controller in $BIN (set VMRELEASE_BIN_DIR)"
    exit 1
  fi
  render_all
  start_apiserver
  # The Prometheus Operator's kinds, as a cluster that runs it has them.
  "$KUBECTL" apply -f "$HERE/testdata/monitoring-crds.yaml" >/dev/null
  "$KUBECTL" wait --for condition=established --timeout=60s \
    crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com >/dev/null
  # A server dry run does not create the Namespace the other objects go into.
  "$KUBECTL" create namespace vmrelease-system >/dev/null
  "$KUBECTL" create namespace "$WATCHED" >/dev/null
  "$KUBECTL" api-resources --no-headers >"$tmp/served.txt"
  local r
  for r in k-cluster k-namespaced k-wi h-default h-custom; do
    dry_run "$r"
  done
  # A wrong object must be refused: the dry run really validates.
  sed 's/^  endpoints:/  endpointz:/' "$tmp/k-cluster.served.yaml" >"$tmp/broken.yaml"
  if "$KUBECTL" apply --dry-run=server -f "$tmp/broken.yaml" >"$tmp/out" 2>&1; then
    fail "the API server accepts a ServiceMonitor with an unknown field"
  else
    pass "the API server refuses a ServiceMonitor with an unknown field: $(grep -o 'unknown field[^,]*' "$tmp/out" | head -1)"
  fi

  # And the built-in kinds too: a Deployment whose rollout could never progress, a ClusterRole
  # rule without verbs.
  "$PYTHON" - "$tmp/k-cluster.served.yaml" >"$tmp/broken.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Deployment":
        d["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
    if d["kind"] == "ClusterRole":
        del d["rules"][0]["verbs"]
print(yaml.safe_dump_all(docs))
PY
  "$KUBECTL" apply --dry-run=server -f "$tmp/broken.yaml" >"$tmp/out" 2>&1 || true
  if grep -qF 'maxUnavailable: Invalid value: 0: may not be 0 when' "$tmp/out" &&
    grep -qF 'rules[0].verbs: Required value' "$tmp/out"; then
    pass "the API server refuses a Deployment with maxSurge and maxUnavailable 0 and a rule without verbs"
  else
    sed 's/^/    /' "$tmp/out"
    fail "the API server accepts a Deployment that cannot roll out or a ClusterRole rule without verbs"
  fi

  "$KUBECTL" apply -f "$SRC/crds" >/dev/null
  "$KUBECTL" wait --for condition=established --timeout=60s \
    crd/imagereleases.vmrelease.io crd/environmentpins.vmrelease.io >/dev/null
  run_controller k-cluster
  run_controller k-namespaced
}

mode=${1:-}
case "$mode" in
  render) render ;;
  rules) rules ;;
  apply) apply ;;
  *)
    echo "usage: $0 render|rules|apply" >&2
    exit 2
    ;;
esac
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
