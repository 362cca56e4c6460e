#!/usr/bin/env bash
# Build the images a real node runs, as a user would, with no registry:
#   1. a base root filesystem from Debian packages (debootstrap of Debian 13 "trixie": the first with
#      Node.js 20, which the sample app needs; Python 3.13, HAProxy 3.0, Prometheus 2.53), cached under
#      ~/.cache/webscale/ keyed by its package list;
#   2. the project's Dockerfile and sample-app/Dockerfile built FROM it with buildah (the base image is
#      a build arg; the Dockerfiles' defaults stay the public images);
#   3. docker-archive tars that `ctr -n k8s.io images import` reads.
# Prints the directory holding the tars on stdout; everything else goes to stderr.
# Needs root (debootstrap, buildah) and the network to Debian, PyPI and npm (the builds' own RUN steps).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "images: $*" >&2; exit 1; }
for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (make deps-realnode installs it)"
done

SUITE=trixie
MIRROR=${WEBSCALE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# debootstrap resolves only simple dependencies: it installs the base, apt (in the new root) the rest
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
PACKAGES="nodejs npm haproxy prometheus procps"

cache=${WEBSCALE_CACHE:-$HOME/.cache/webscale}
base_key=$(echo "$SUITE $MIRROR $BASE_PACKAGES $PACKAGES" | sha256sum | cut -c1-16)
base="$cache/base-$base_key"
# the machine's own extra certificate authorities (e.g. a proxy's), so the builds' pip and npm trust
# what the machine trusts; part of the base image's tag
extra_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_cas[0]}" ] || extra_cas=()
ca_key=$(cat /dev/null "${extra_cas[@]}" | sha256sum | cut -c1-8)
base_tag="localhost/webscale-base:$base_key-$ca_key"
B=(buildah --root "$cache/buildah/root" --runroot "$cache/buildah/run" --storage-driver vfs)

# --- 1. the base root filesystem --------------------------------------------------------------
if [ ! -f "$base/done" ]; then
  rm -rf "$base"; mkdir -p "$base"
  echo "images: debootstrap $SUITE with $BASE_PACKAGES, then $PACKAGES, from $MIRROR into $base (a few minutes, once)" >&2
  mkdir -p "$cache/debootstrap-debs"
  debootstrap --variant=minbase --cache-dir="$cache/debootstrap-debs" --include="$BASE_PACKAGES" "$SUITE" "$base/rootfs" "$MIRROR" >&2 \
    || fail "debootstrap failed (is $MIRROR reachable? see $base/rootfs/debootstrap/debootstrap.log)"
  cp /etc/resolv.conf "$base/rootfs/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' > "$base/rootfs/usr/sbin/policy-rc.d"  # packages start no services
  chmod +x "$base/rootfs/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2086  # a list of package names
  chroot "$base/rootfs" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES" >&2 \
    || fail "apt-get install $PACKAGES in the new root failed (see above)"
  chroot "$base/rootfs" apt-get clean
  : > "$base/rootfs/etc/resolv.conf"
  rm -f "$base/rootfs/usr/sbin/policy-rc.d"
  rm -rf "$base/rootfs/var/lib/apt/lists/"*
  touch "$base/done"
fi
if ! "${B[@]}" inspect --type image "$base_tag" >/dev/null 2>&1; then
  c=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$c")
  cp -a "$base/rootfs/." "$mnt/"
  if [ "${#extra_cas[@]}" -gt 0 ]; then
    cp "${extra_cas[@]}" "$mnt/usr/local/share/ca-certificates/"
    chroot "$mnt" update-ca-certificates >&2 || fail "update-ca-certificates in the base failed"
  fi
  "${B[@]}" umount "$c" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash \
    --env PIP_CERT=/etc/ssl/certs/ca-certificates.crt --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$c"
  "${B[@]}" commit --quiet "$c" "$base_tag" >&2
  "${B[@]}" rm "$c" >/dev/null
fi

# --- 2. the project's images, FROM the base ---------------------------------------------------
out="$cache/images"
mkdir -p "$out"
build() {  # name context build-arg [containerfile]
  local name=$1 context=$2 arg=$3 file=${4:-Dockerfile}
  local key
  key=$( { echo "$base_tag"; cd "$context" && find . -path "*/node_modules" -prune -o -path "*/__pycache__" -prune -o -path "*/.venv" -prune \
           -o -path ./tests -prune -o -path ./test -prune -o -path ./bench -prune \
           -o -type f \( -name Dockerfile -o -name Containerfile -o -name .dockerignore -o -name '*.py' -o -name '*.js' -o -name '*.json' -o -name '*.toml' \) -print \
           | sort | xargs -r sha256sum; } | sha256sum | cut -c1-16)
  local tag="localhost/webscale-$name:dev"
  if [ -s "$out/$name-$key.tar" ]; then ln -sf "$name-$key.tar" "$out/$name.tar"; return; fi
  echo "images: building $tag from $context FROM $base_tag" >&2
  "${B[@]}" bud --quiet --format docker --isolation chroot --layers=false --build-arg "$arg=$base_tag" \
    -f "$context/$file" -t "$tag" "$context" >&2 || fail "buildah bud of $context failed (see above)"
  rm -f "$out/$name"-*.tar
  "${B[@]}" push --quiet "$tag" "docker-archive:$out/$name-$key.tar:$tag" >&2 || fail "exporting $tag failed"
  ln -sf "$name-$key.tar" "$out/$name.tar"
}
build operator "$repo" PYTHON_IMAGE
build sample-app "$repo/sample-app" NODE_IMAGE
build prometheus "$here/prometheus" BASE_IMAGE Containerfile
build haproxy "$here/haproxy" BASE_IMAGE Containerfile
echo "$out"
