#!/usr/bin/env bash
# Build (or reuse) a real node's binaries, all from source:
#   bin/webscale-node  kubelet + kube-proxy, from the same pinned k8s.io/kubernetes module as the
#                      control plane (tests/cluster/go.mod), built in a copy of that module so its
#                      go.mod (and the control plane's cache key) stay as they are;
#   bin/coredns        CoreDNS from its Go module (pinned below);
#   pause.tar          the pod sandbox image: pause.c compiled static, packed as a docker archive.
# Output lives outside the repo, keyed by the hash of the inputs and the Go toolchain.
# Prints the output directory on stdout; everything else goes to stderr.
set -euo pipefail

COREDNS_VERSION=v1.14.7
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../cluster"
cd "$here"

fail() { echo "node build: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || fail "no Go toolchain on PATH (Go >= 1.24 needed; see tests/cluster/build.sh)"
command -v cc >/dev/null 2>&1 || fail "no C compiler for the pause image (apt-get install -y gcc libc6-dev)"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

k8s_version=$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$cluster/go.mod")
key=$( { cat "$cluster/go.sum" "$cluster/go.mod" ./*.go ./pause.c ./image_archive.py; echo "$COREDNS_VERSION"; go env GOVERSION; } | sha256sum | cut -c1-16)
cache=${WEBSCALE_CACHE:-$HOME/.cache/webscale}
out="$cache/node-$key"

if [ -x "$out/bin/webscale-node" ] && [ -x "$out/bin/coredns" ] && [ -s "$out/pause.tar" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out/bin" "$out/src"
echo "node build: building kubelet and kube-proxy $k8s_version, CoreDNS $COREDNS_VERSION and the pause image into $out" >&2
start=$(date +%s)

minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# a copy of the control plane's module with this main package: -mod=mod may add the node's
# extra requirements (cadvisor, runc's libcontainer, ...) to the copy only
cp "$cluster/go.mod" "$cluster/go.sum" main.go "$out/src/"
(cd "$out/src" && go build -trimpath -ldflags "$ldflags" -o "$out/bin/webscale-node.tmp" .) >&2 \
  || fail "go build of kubelet and kube-proxy failed (see above)"
mv "$out/bin/webscale-node.tmp" "$out/bin/webscale-node"

GOFLAGS='' GOBIN="$out/bin" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" >&2 \
  || fail "go install github.com/coredns/coredns@$COREDNS_VERSION failed (see above)"

mkdir -p "$out/pause-root"
cc -static -Os -s -o "$out/pause-root/pause" pause.c || fail "compiling pause.c failed (a static libc is needed: apt-get install -y libc6-dev)"
python3 image_archive.py --dir "$out/pause-root" --tag registry.k8s.io/pause:3.10 --entrypoint /pause \
  --out "$out/pause.tar.tmp" >&2 || fail "packing the pause image failed"
mv "$out/pause.tar.tmp" "$out/pause.tar"

echo "node build: done in $(( $(date +%s) - start ))s" >&2
echo "$(( $(date +%s) - start ))" > "$out/build-seconds"
echo "$out"
