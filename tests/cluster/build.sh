#!/usr/bin/env bash
# Build (or reuse) the local control plane: one multi-call binary from the
# pinned k8s.io/kubernetes module (this directory's go.mod) plus kwok.
# Output lives outside the repo, keyed by the hash of go.sum, the Go sources,
# the kwok version and the Go toolchain, so a warm machine rebuilds nothing.
# Prints the output directory on stdout; everything else goes to stderr.
set -euo pipefail

KWOK_VERSION=v0.8.0
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

fail() { echo "cluster build: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "no Go toolchain on PATH. Install Go >= 1.24 (Debian's golang-go is 1.19, too old: use the Go project's release) and run again."
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 24 ] 2>/dev/null || fail "Go $(go env GOVERSION) is too old; k8s.io/kubernetes $(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod) needs Go >= 1.24."

k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod)
key=$( { cat go.sum go.mod ./*.go; echo "$KWOK_VERSION"; go env GOVERSION; } | sha256sum | cut -c1-16)
cache=${WEBSCALE_CACHE:-$HOME/.cache/webscale}
out="$cache/cluster-$key"

if [ -x "$out/bin/webscale-k8s" ] && [ -x "$out/bin/kwok" ] && [ -s "$out/kwok-stages.yaml" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out/bin"
echo "cluster build: building Kubernetes $k8s_version and kwok $KWOK_VERSION into $out (a cold build takes 10-25 minutes on 2 cores)" >&2
start=$(date +%s)

minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

go mod download >&2 || fail "downloading Go modules failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
go build -trimpath -ldflags "$ldflags" -o "$out/bin/webscale-k8s.tmp" . >&2 || fail "go build of the control plane failed (see above)"
mv "$out/bin/webscale-k8s.tmp" "$out/bin/webscale-k8s"

GOBIN="$out/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2 \
  || fail "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION failed (see above)"

# kwok >= 0.8 ships no built-in stages: assemble node and pod stages from its module.
stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
[ -d "$stages" ] || GOFLAGS='' go mod download "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null 2>&1 || true
[ -d "$stages" ] || fail "kwok stage files not found under $stages"
{
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$stages/$f" ] || fail "missing kwok stage $stages/$f"
    echo "---"
    cat "$stages/$f"
  done
} > "$out/kwok-stages.yaml.tmp"
mv "$out/kwok-stages.yaml.tmp" "$out/kwok-stages.yaml"

echo "cluster build: done in $(( $(date +%s) - start ))s" >&2
echo "$(( $(date +%s) - start ))" > "$out/build-seconds"
echo "$out"
