#!/usr/bin/env bash
# Runs vmrelease locally and shows what it is for, as it happens: two versions of a demo VM image
# are built on this machine, booted in a QEMU test VM where a checklist runs, published to Azure
# stand-ins (Azurite for Blob Storage, the fake ARM for the Compute Gallery), and two environments
# follow them through EnvironmentPins (dev tracks 1.x, production waits for dev's soak time).
#
# Sets up (if needed), builds, starts the local API server, Azurite, the fake Azure Resource Manager,
# the job runner, the controller and a Prometheus scraping it (scripts/demo-prometheus.sh) —
# everything on 127.0.0.1, state in .run/, thrown away on exit.
#
# Usage: ./scripts/up.sh                 (the demo, then keeps running until Ctrl-C)
#        UP_DEMO_CHECK=1 ./scripts/up.sh (the demo, then checks its outcome and exits 0/1; CI)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN="$ROOT/.run"
JOBS=${JOBS:-2}
SUBSCRIPTION=00000000-0000-0000-0000-00000000d3e0
START=$(date +%s)

./scripts/setup.sh >/dev/null

say() { printf 'up: %s\n' "$*"; }
say "building (Debug, build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMRELEASE_BUILD_BENCH=ON >/dev/null
ninja -C build -j"$JOBS" vmrelease-apiserver vmrelease-controller vmrelease-fake-arm \
  vmrelease-job-runner vmrelease-vm-validate kubectl-vmrelease >/dev/null

rm -rf "$RUN" && mkdir -p "$RUN/azurite"
# Every background service runs in its own process group (setsid), so stopping it
# also stops whatever it started (Azurite's node, kubectl's helpers), and nothing
# is left holding this script's terminal or pipes after it exits.
groups=()       # process group ids, in start order
watch_loop=""   # the loop that prints Events (a plain child of this shell)
stop_group() {  # pgid: SIGTERM, up to 10 s to go, then SIGKILL
  kill -TERM -- "-$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 -- "-$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  echo
  say "stopping"
  if [ -n "$watch_loop" ]; then
    kill "$watch_loop" 2>/dev/null || true
    wait "$watch_loop" 2>/dev/null || true
  fi
  # Newest first: the controller stops while its API server is still there to answer.
  for ((i = ${#groups[@]} - 1; i >= 0; i--)); do stop_group "${groups[i]}"; done
  # Job containers outlive the job runner by design (a restarted runner adopts
  # them); the demo leaves none behind.
  for f in "$RUN"/job-runner/pods/*/*/pid; do
    if [ -f "$f" ]; then kill -KILL -- "-$(cut -d' ' -f1 "$f")" 2>/dev/null || true; fi
  done
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for_file() {  # path, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "up: timed out waiting for $1" >&2; return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A real Prometheus scraping the controller: demo_prometheus_start, demo_prometheus_check.
source "$ROOT/scripts/demo-prometheus.sh"

say "starting the local API server, Azurite, the fake Azure Resource Manager and the job runner"
setsid build/bin/vmrelease-apiserver --listen 127.0.0.1:0 --kubeconfig-out "$RUN/kubeconfig" \
  >"$RUN/apiserver.log" 2>&1 </dev/null &
groups+=($!)
wait_for_file "$RUN/kubeconfig" 30
export KUBECONFIG="$RUN/kubeconfig"
KUBECTL="$ROOT/.tools/bin/kubectl"

setsid build/bin/vmrelease-job-runner --kubeconfig "$RUN/kubeconfig" --work-dir "$RUN/job-runner" \
  --log-format text >"$RUN/job-runner.log" 2>&1 </dev/null &
groups+=($!)

AZURITE_PORT=$(free_port)
AZURITE_URL="http://127.0.0.1:$AZURITE_PORT/devstoreaccount1"
setsid "$ROOT/.tools/bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
  --location "$RUN/azurite" --silent --skipApiVersionCheck >"$RUN/azurite.log" 2>&1 </dev/null &
groups+=($!)
# Azurite's well-known development account key (public, documented by Microsoft).
echo "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==" \
  >"$RUN/azurite.key"

# A service principal the fake Entra ID knows, a gallery with the image definition "demo".
DEMO_SECRET="demo-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
setsid build/bin/vmrelease-fake-arm --listen 127.0.0.1:0 --port-file "$RUN/fake-arm.port" \
  --app "demo-tenant:demo-client:$DEMO_SECRET" --retry-after 1 --lro-polls 2 \
  --gallery "$SUBSCRIPTION/images/releases/westeurope" \
  --image-definition "$SUBSCRIPTION/images/releases/demo/Linux" \
  >"$RUN/fake-arm.log" 2>&1 </dev/null &
groups+=($!)
wait_for_file "$RUN/fake-arm.port" 30
ARM_URL="http://127.0.0.1:$(cat "$RUN/fake-arm.port")"

"$KUBECTL" apply -f crds/ >/dev/null
"$KUBECTL" wait --for=condition=Established crd --all --timeout=30s >/dev/null

say "starting vmrelease-controller (log: .run/controller.log)"
# A known metrics port, for Prometheus. --leader-elect as in the Deployment (and its metric).
METRICS="127.0.0.1:$(free_port)"
PATH="$ROOT/build/bin:$ROOT/images:$PATH" \
AZURE_TENANT_ID=demo-tenant AZURE_CLIENT_ID=demo-client AZURE_CLIENT_SECRET="$DEMO_SECRET" \
  setsid build/bin/vmrelease-controller --kubeconfig "$RUN/kubeconfig" --log-format "${LOG_FORMAT:-text}" \
  --metrics-bind-address "$METRICS" --leader-elect --allow-local-builds --work-dir "$RUN/work" \
  --staging-account-url "$AZURITE_URL" --storage-key-file "devstoreaccount1=$RUN/azurite.key" \
  --staging-storage-account-id "/subscriptions/$SUBSCRIPTION/resourceGroups/images/providers/Microsoft.Storage/storageAccounts/devstoreaccount1" \
  --azure-arm-endpoint "$ARM_URL" --azure-authority-host "$ARM_URL/" --azure-imds-endpoint "$ARM_URL" \
  --azure-poll-interval 1s --local-poll-interval 500ms >"$RUN/controller.log" 2>&1 </dev/null &
groups+=($!)
demo_prometheus_start "$METRICS"

# Everything the controller reports, as it happens: one line per Event.
elapsed() { local s=$(( $(date +%s) - START )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
# kubectl writes into a FIFO from its own process group; the loop reads it. Both
# are stopped by name of their pid in cleanup (a pipeline's $! would be only the loop).
mkfifo "$RUN/events.fifo"
setsid "$KUBECTL" get events.events.k8s.io --watch-only --no-headers \
  -o 'custom-columns=KIND:.regarding.kind,NAME:.regarding.name,TYPE:.type,REASON:.reason,NOTE:.note' \
  >"$RUN/events.fifo" 2>/dev/null </dev/null &
groups+=($!)
while read -r kind name type reason note; do
  kind=${kind/ImageRelease/release}; kind=${kind/EnvironmentPin/pin}
  mark=" "; [ "$type" = Warning ] && mark="!"
  printf '  %6s %s %-8s %-16s %-20s %s\n' "$(elapsed)" "$mark" "$kind" "$name" "$reason" "${note:0:150}"
done <"$RUN/events.fifo" &
watch_loop=$!

render() { sed -e "s|\${AZURITE_URL}|$AZURITE_URL|g" -e "s|\${SUBSCRIPTION}|$SUBSCRIPTION|g" "$1"; }
wait_phase() {  # release, phase, seconds
  "$KUBECTL" wait --for=jsonpath='{.status.phase}'="$2" "ir/$1" --timeout="$3s" >/dev/null
}

echo
say "the demo: image 'demo' 1.0.0, then 1.1.0, each built by images/build-demo-image, booted in a"
say "QEMU VM for each of its 3 checks (TCG, no KVM needed), published to Azurite and the fake gallery;"
say "pins: dev tracks >=1.0.0 <2.0.0, production wants 1.0.0 after 30s in dev (deploy/demo/);"
say "Warnings are marked '!' (e.g. PromotionBlocked while production's gate is closed)."
echo
render deploy/demo/pins.yaml | "$KUBECTL" apply -f - >/dev/null
render deploy/demo/release-1.0.0.yaml | "$KUBECTL" apply -f - >/dev/null
pin_version() { "$KUBECTL" get pin "$1" -o jsonpath='{.status.resolved.version}' 2>/dev/null || true; }
wait_pin() {  # pin, version, seconds
  for _ in $(seq 1 "$3"); do [ "$(pin_version "$1")" = "$2" ] && return 0; sleep 1; done
  return 1
}
ok=true
wait_phase demo-1.0.0 Released 300 || ok=false
if $ok; then
  echo
  say "demo-1.0.0 is Released: dev follows at once; production waits until dev has run it for 30s."
  echo
  wait_pin demo-production 1.0.0 90 || ok=false
fi
if $ok; then
  echo
  say "production runs 1.0.0. Now 1.1.0 (a new feature): dev will follow it, production stays on 1.0.0."
  echo
  render deploy/demo/release-1.1.0.yaml | "$KUBECTL" apply -f - >/dev/null
  wait_phase demo-1.1.0 Released 300 || ok=false
fi
wait_pin demo-dev 1.1.0 30 || true
dev=$(pin_version demo-dev)
prod=$(pin_version demo-production)
sleep 1
# The kubectl plugin (build/bin/kubectl-vmrelease) answers the questions platform teams ask.
PLUGIN_PATH="$ROOT/build/bin:$ROOT/.tools/bin:$PATH"
vmrelease() { PATH="$PLUGIN_PATH" "$KUBECTL" vmrelease "$@"; }
echo
say "where things are ($(elapsed) since start): kubectl vmrelease status"
vmrelease status || true
echo
"$KUBECTL" get imagereleases
echo
say "what dev runs, as consumers read it (ConfigMap demo-dev-image):"
"$KUBECTL" get configmap demo-dev-image -o jsonpath='{.data.version}{"  "}{.data.vhdUri}{"\n"}' 2>/dev/null \
  || echo "  (not exported yet)"
echo
say "what changed between production and dev: kubectl vmrelease diff production dev"
diff_out=$(vmrelease diff production dev 2>&1) || true
printf '%s\n' "$diff_out"
echo
say "why production is where it is: kubectl vmrelease why production"
vmrelease why production || true

if [ -n "${UP_DEMO_CHECK:-}" ]; then
  # CI: the demo must have done what it shows.
  fail() { echo "up: demo check failed: $*" >&2; exit 1; }
  $ok || fail "a release did not reach Released (see .run/controller.log)"
  [ "$dev" = 1.1.0 ] || fail "the dev pin resolves to '$dev', not 1.1.0"
  [ "$prod" = 1.0.0 ] || fail "the production pin resolves to '$prod', not 1.0.0"
  blocked=$("$KUBECTL" get events.events.k8s.io \
    -o jsonpath='{range .items[?(@.regarding.name=="demo-production")]}{.reason}{"\n"}{end}' |
    grep -c '^PromotionBlocked$' || true)
  [ "$blocked" -ge 1 ] || fail "production was never held by its promotion gate (no PromotionBlocked Event)"
  [ "$("$KUBECTL" get configmap demo-production-image -o jsonpath='{.data.version}')" = 1.0.0 ] ||
    fail "the ConfigMap demo-production-image does not hold 1.0.0"
  [ "$("$KUBECTL" get ir demo-1.0.0 -o jsonpath='{.status.pinnedBy[*].environment}')" = production ] ||
    fail "demo-1.0.0 does not list production in status.pinnedBy"
  case "$diff_out" in
    *"tracing feature"*) ;;
    *) fail "kubectl vmrelease diff production dev does not list 1.1.0's changelog" ;;
  esac
  for r in demo-1.0.0 demo-1.1.0; do
    n=$("$KUBECTL" get ir "$r" -o jsonpath='{range .status.validation.results[?(@.passed==true)]}x{end}')
    [ "$n" = xxx ] || fail "$r: not all 3 checks passed in the VM"
    # What the guest printed: this release's file, and the guest's own PID 1 (busybox init).
    out=$("$KUBECTL" get ir "$r" -o jsonpath='{.status.validation.results[?(@.name=="release-file")].outputTail}')
    v=${r#demo-}
    case "$out" in
      *"VERSION=$v"*init*) ;;
      *) fail "$r: the release-file check's output is not the guest's ($out)" ;;
    esac
  done
  demo_prometheus_check "$METRICS" || fail "the Prometheus checks (above)"
  echo "up: demo check passed in $(elapsed)"
  exit 0
fi

cat <<MSG

up: the demo is done; everything keeps running until Ctrl-C. In another terminal:
  export KUBECONFIG=$RUN/kubeconfig PATH=$ROOT/build/bin:$ROOT/.tools/bin:\$PATH
  kubectl vmrelease status                      # images x environments
  kubectl vmrelease promote --from dev --to production   # 1.1.0 to production (gate: 30s in dev)
  kubectl vmrelease history production          # every move, with reasons and durations
  kubectl vmrelease rollback production         # back to the previous version
  kubectl get ir,pin -o wide                    # or: kubectl get vmrelease
  kubectl describe ir demo-1.1.0                # status, conditions and Events of a release
  kubectl explain imagerelease.spec
Azurite blob endpoint: $AZURITE_URL   Fake ARM: $ARM_URL
Logs: $RUN/*.log
Prometheus (scrapes the controller every 2s; the alerts of deploy/prometheus): $PROMETHEUS_URL
MSG
wait
