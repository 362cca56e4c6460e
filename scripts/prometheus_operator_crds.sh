#!/usr/bin/env bash
# The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule), pinned, from its published
# Go module (the module ships them in example/prometheus-operator-crd/), copied into the cache; prints the
# directory. tests/integration/test_monitoring_crds.py applies them to the local API server so the
# chart's monitors and rules are checked by the real schema. Not committed: fetched through the Go
# module proxy (checksum-verified by go.sum's database) like the other tools.
set -euo pipefail
VERSION=v0.85.0
MODULE=github.com/prometheus-operator/prometheus-operator
out="${WEBSCALE_CACHE:-$HOME/.cache/webscale}/prometheus-operator-crds-$VERSION"
crds=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_podmonitors.yaml monitoring.coreos.com_prometheusrules.yaml)
if [ ! -f "$out/.complete" ]; then
  command -v go >/dev/null 2>&1 || { echo "prometheus_operator_crds: no Go toolchain on PATH" >&2; exit 1; }
  json=$(cd /tmp && GOFLAGS='' go mod download -json "$MODULE@$VERSION") \
    || { echo "prometheus_operator_crds: go mod download $MODULE@$VERSION failed: $json" >&2; exit 1; }
  dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir/example/prometheus-operator-crd" ] \
    || { echo "prometheus_operator_crds: no example/prometheus-operator-crd in $dir" >&2; exit 1; }
  mkdir -p "$out"
  for crd in "${crds[@]}"; do
    cp "$dir/example/prometheus-operator-crd/$crd" "$out/$crd"
    chmod 0644 "$out/$crd"
  done
  touch "$out/.complete"
fi
echo "$out"
