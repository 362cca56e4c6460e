#!/usr/bin/env bash
# Build (or reuse) helm from its Go module, for the chart tests; prints the binary's path.
# Debian has no helm package and nothing may be downloaded except through the registries.
set -euo pipefail
HELM_VERSION=v3.22.0
out="${WEBSCALE_CACHE:-$HOME/.cache/webscale}/tools/helm-$HELM_VERSION"
if [ ! -x "$out/helm" ]; then
  command -v go >/dev/null 2>&1 || { echo "build_helm: no Go toolchain on PATH (Go >= 1.24 needed)" >&2; exit 1; }
  echo "build_helm: building helm $HELM_VERSION into $out" >&2
  mkdir -p "$out"
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS='' GOBIN="$out" \
    go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2 \
    || { echo "build_helm: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed (see above)" >&2; exit 1; }
fi
echo "$out/helm"
