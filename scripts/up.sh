#!/usr/bin/env bash
# Runs vmrelease locally: sets up (if needed), builds, starts the local API server, the job runner (it runs
# Jobs as local processes), Azurite and the fake Azure Resource Manager, applies crds/ and deploy/examples/,
# then runs the controller in the foreground until Ctrl-C. Everything listens on 127.0.0.1 only; state lives in .run/ and is thrown away on exit.
#
# Usage: ./scripts/up.sh                 (interactive, until Ctrl-C)
#        UP_EXIT_AFTER=30 ./scripts/up.sh (stop by itself after 30 s; used by the smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN="$ROOT/.run"
JOBS=${JOBS:-2}

./scripts/setup.sh >/dev/null

echo "up: building (Debug, build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMRELEASE_BUILD_BENCH=ON >/dev/null
ninja -C build -j"$JOBS" vmrelease-apiserver vmrelease-controller vmrelease-fake-arm \
  vmrelease-job-runner >/dev/null

rm -rf "$RUN" && mkdir -p "$RUN/azurite"
pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "up: stopping"
  # Newest first, each waited for: the controller stops while its API server
  # is still there to answer.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  # Job containers outlive the job runner by design (a restarted runner adopts
  # them); the demo leaves none behind.
  for f in "$RUN"/job-runner/pods/*/*/pid; do
    if [ -f "$f" ]; then kill -KILL -- "-$(cut -d' ' -f1 "$f")" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT INT TERM

wait_for_file() {  # path, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "up: timed out waiting for $1" >&2; return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "up: starting the local API server"
build/bin/vmrelease-apiserver --listen 127.0.0.1:0 --kubeconfig-out "$RUN/kubeconfig" \
  >"$RUN/apiserver.log" 2>&1 &
pids+=($!)
wait_for_file "$RUN/kubeconfig" 30
export KUBECONFIG="$RUN/kubeconfig"
KUBECTL="$ROOT/.tools/bin/kubectl"

echo "up: starting the job runner (Jobs run as local processes; docs/job-runner.md)"
build/bin/vmrelease-job-runner --kubeconfig "$RUN/kubeconfig" --work-dir "$RUN/job-runner" \
  --log-format text >"$RUN/job-runner.log" 2>&1 &
pids+=($!)

AZURITE_PORT=$(free_port)
echo "up: starting Azurite (blob) on 127.0.0.1:$AZURITE_PORT"
"$ROOT/.tools/bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
  --location "$RUN/azurite" --silent --skipApiVersionCheck >"$RUN/azurite.log" 2>&1 &
pids+=($!)

echo "up: starting the fake Azure Resource Manager"
build/bin/vmrelease-fake-arm --listen 127.0.0.1:0 --port-file "$RUN/fake-arm.port" \
  >"$RUN/fake-arm.log" 2>&1 &
pids+=($!)
wait_for_file "$RUN/fake-arm.port" 30

echo "up: applying crds/ and deploy/examples/"
"$KUBECTL" apply -f crds/
"$KUBECTL" wait --for=condition=Established crd --all --timeout=30s >/dev/null
"$KUBECTL" apply -f deploy/examples/

cat <<MSG

up: ready. In another terminal:
  export KUBECONFIG=$RUN/kubeconfig
  $KUBECTL get imagereleases,environmentpins        # or: kubectl get vmrelease
  $KUBECTL get ir -w
  $KUBECTL explain imagerelease.spec
  $KUBECTL create job hello --image=busybox -- sh -c 'echo hello'   # run by the job runner
  $KUBECTL logs job/hello
Azurite blob endpoint: http://127.0.0.1:$AZURITE_PORT/devstoreaccount1
Fake ARM endpoint:     http://127.0.0.1:$(cat "$RUN/fake-arm.port")
Logs: $RUN/*.log. The controller runs below (LOG_FORMAT=json for JSON lines); Ctrl-C stops everything.

MSG

ctl=(build/bin/vmrelease-controller --kubeconfig "$RUN/kubeconfig" --log-format "${LOG_FORMAT:-text}"
     --metrics-bind-address 127.0.0.1:0)
if [ -n "${UP_EXIT_AFTER:-}" ]; then
  "${ctl[@]}" &
  pids+=($!)
  sleep "$UP_EXIT_AFTER"
else
  "${ctl[@]}"
fi
