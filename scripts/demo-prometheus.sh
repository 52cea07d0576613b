# A real Prometheus (Debian's `prometheus`) scraping the demo's controller, for scripts/up.sh
# (sourced; needs its $RUN, $ROOT, `groups`, `free_port`, `wait_for_file` and `say`).
#
#   demo_prometheus_start 127.0.0.1:METRICS_PORT   config and TSDB in $RUN/prometheus, on a free
#                                                  port of 127.0.0.1, scraping every 2 s; sets
#                                                  PROMETHEUS_URL
#   demo_prometheus_check 127.0.0.1:METRICS_PORT   (UP_DEMO_CHECK) `promtool check metrics` on a
#                                                  scrape is clean, and every metric name in the
#                                                  Grafana dashboard and the alerts has a series in
#                                                  that Prometheus, with every label they match,
#                                                  group or join on (tests/e2e/deploy/manifests.py
#                                                  queries prometheus:URL; a renamed label must be
#                                                  caught); prints the problems and returns 1
#                                                  otherwise

demo_prometheus_start() {
  local target=$1 port
  port=$(free_port)
  PROMETHEUS_URL="http://127.0.0.1:$port"
  mkdir -p "$RUN/prometheus/data"
  cat >"$RUN/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - $ROOT/deploy/prometheus/alerts.yaml
scrape_configs:
  - job_name: vmrelease-controller
    static_configs:
      - targets: ["$target"]
EOF
  setsid prometheus --config.file="$RUN/prometheus/prometheus.yml" \
    --storage.tsdb.path="$RUN/prometheus/data" --web.listen-address="127.0.0.1:$port" \
    >"$RUN/prometheus.log" 2>&1 </dev/null &
  groups+=($!)
  for _ in $(seq 1 300); do
    curl -fsS "$PROMETHEUS_URL/-/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$PROMETHEUS_URL/-/ready" >/dev/null 2>&1 ||
    { echo "up: Prometheus did not start (see $RUN/prometheus.log)" >&2; return 1; }
  say "Prometheus scrapes the controller every 2s: $PROMETHEUS_URL (alerts: $PROMETHEUS_URL/alerts)"
}

demo_prometheus_check() {
  local target=$1 python=python3 out lint bad
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import yaml' 2>/dev/null; then python=$candidate; break; fi
  done
  curl -fsS "http://$target/metrics" >"$RUN/prometheus/scrape.txt" ||
    { echo "up: cannot scrape http://$target/metrics" >&2; return 1; }
  if ! lint=$(promtool check metrics <"$RUN/prometheus/scrape.txt" 2>&1) || [ -n "$lint" ]; then
    echo "up: promtool check metrics found problems in the controller's scrape:" >&2
    echo "$lint" >&2
    return 1
  fi
  # The pins' series appear with the reconcile that wrote their status, and Prometheus holds
  # them one scrape (2 s) later: retry for a while before calling a name missing.
  for _ in $(seq 1 30); do
    if out=$("$python" "$ROOT/tests/e2e/deploy/manifests.py" queries "prometheus:$PROMETHEUS_URL" \
        "$ROOT/deploy/grafana/vmrelease.json" "$ROOT/deploy/prometheus/alerts.yaml" 2>&1); then
      # The check must be able to fail: an alert matching on a label its metric lacks.
      sed 's/phase=~/stage=~/' "$ROOT/deploy/prometheus/alerts.yaml" >"$RUN/prometheus/renamed.yaml"
      if bad=$("$python" "$ROOT/tests/e2e/deploy/manifests.py" queries "prometheus:$PROMETHEUS_URL" \
          "$RUN/prometheus/renamed.yaml" 2>&1) || [[ $bad != *"has no label 'stage'"* ]]; then
        echo "up: the query check did not notice a label renamed in an alert:" >&2
        echo "$bad" >&2
        return 1
      fi
      say "promtool check metrics: clean; every dashboard and alert query's metrics and labels" \
        "have series in Prometheus"
      return 0
    fi
    sleep 2
  done
  echo "up: metric names of the dashboard or the alerts without a series in $PROMETHEUS_URL:" >&2
  echo "$out" >&2
  return 1
}
