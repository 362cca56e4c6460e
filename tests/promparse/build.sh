#!/usr/bin/env bash
# Build (or reuse) promparse: Prometheus's own PromQL parser from the pinned
# github.com/prometheus/prometheus module (this directory's go.mod), for the
# differential test of the namespace confiner (tests/unit/test_promql_differential.py).
# Output lives outside the repo, keyed by the hash of go.sum, go.mod, the Go
# sources and the Go toolchain, so a warm machine rebuilds nothing.
# Prints the binary's path on stdout; everything else goes to stderr.
# With --cached it only prints the path of a binary already built (else fails).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

fail() { echo "promparse build: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "no Go toolchain on PATH. Install Go >= 1.24 and run again."
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 24 ] 2>/dev/null || fail "Go $(go env GOVERSION) is too old; go.mod needs Go >= 1.24."

prom_version=$(awk '$1=="require" && $2=="github.com/prometheus/prometheus"{print $3; exit}' go.mod)
key=$( { cat go.sum go.mod ./*.go; go env GOVERSION; } | sha256sum | cut -c1-16)
cache=${WEBSCALE_CACHE:-$HOME/.cache/webscale}
out="$cache/promparse-$key"

if [ -x "$out/promparse" ]; then
  echo "$out/promparse"
  exit 0
fi
[ "${1:-}" = "--cached" ] && fail "not built yet: run make promparse-build"

mkdir -p "$out"
echo "promparse build: building the PromQL parser of github.com/prometheus/prometheus $prom_version into $out" >&2
go mod download >&2 || fail "downloading Go modules failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
go build -trimpath -ldflags "-s -w" -o "$out/promparse.tmp" . >&2 || fail "go build of promparse failed (see above)"
mv "$out/promparse.tmp" "$out/promparse"
echo "$out/promparse"
