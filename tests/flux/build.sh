#!/usr/bin/env bash
# Build (or reuse) Flux's source-controller and kustomize-controller from their Go modules (this
# directory's go.mod) for the GitOps tests, the way tests/cluster/build.sh builds Kubernetes.
# Output lives outside the repo, keyed by the hash of go.mod, go.sum and the Go toolchain; a warm
# machine rebuilds nothing. Also copies the controllers' CRDs from the module cache.
# Prints the output directory on stdout; everything else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

fail() { echo "flux build: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "no Go toolchain on PATH. Install Go >= 1.26 and run again."
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 26 ] 2>/dev/null || fail "Go $(go env GOVERSION) is too old; Flux's controllers (go.mod: $(awk '$1=="go"{print $2; exit}' go.mod)) need Go >= 1.26."
key=$( { cat go.sum go.mod; go env GOVERSION; } | sha256sum | cut -c1-16)
cache=${WEBSCALE_CACHE:-$HOME/.cache/webscale}
out="$cache/flux-$key"

if [ -x "$out/bin/source-controller" ] && [ -x "$out/bin/kustomize-controller" ] && [ -d "$out/crds" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out/bin" "$out/crds"
echo "flux build: building source-controller and kustomize-controller into $out (cold: tens of minutes on 2 cores)" >&2
start=$(date +%s)
go mod download >&2 || fail "downloading Go modules failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
for tool in source-controller kustomize-controller; do
  go build -trimpath -ldflags "-s -w" -o "$out/bin/$tool.tmp" "github.com/fluxcd/$tool" >&2 \
    || fail "go build of $tool failed (see above)"
  mv "$out/bin/$tool.tmp" "$out/bin/$tool"
done
for tool in source-controller kustomize-controller; do
  dir=$(go list -m -f '{{.Dir}}' "github.com/fluxcd/$tool")
  [ -d "$dir/config/crd/bases" ] || fail "no CRDs under $dir/config/crd/bases"
  cp "$dir"/config/crd/bases/*.yaml "$out/crds/"
done
echo "flux build: done in $(( $(date +%s) - start ))s" >&2
echo "$(( $(date +%s) - start ))" > "$out/build-seconds"
echo "$out"
