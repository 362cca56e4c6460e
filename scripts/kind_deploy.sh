#!/usr/bin/env bash
# Deploy webscale on a local kind or minikube cluster (`make kind-deploy`):
#   1. build the operator image (Dockerfile) and the sample-app image (sample-app/Dockerfile);
#   2. load both into the cluster (kind load docker-image | minikube image load);
#   3. kubectl apply -k manifests/base            (namespace, RBAC, CRD, operator)
#      kubectl apply -k manifests/prometheus-kind (Prometheus at prometheus.monitoring:9090)
#   4. apply examples/shop.yaml with its image set to the sample-app image, and wait for it.
#
# Usage: scripts/kind_deploy.sh [kind|minikube]     (default: whichever is installed; kind first)
# Environment:
#   KIND_CLUSTER_NAME  kind cluster to use (default: kind; create it with `kind create cluster`)
#   MINIKUBE_PROFILE   minikube profile to use (default: minikube; start it with `minikube start`)
#   SAMPLE_APP_IMAGE   tag for the sample-app image (default below)
#   KUBECTL            kubectl to run (default: kubectl; with minikube, `minikube kubectl --` if absent)
#   WAIT_TIMEOUT       how long to wait for each rollout (default: 180s)
# Needs docker, and kind or minikube with a running cluster. kubectl talks to that
# cluster's own context (kind-<name> / <profile>), never to whatever is current.
set -euo pipefail

# Must match the image in manifests/base/deployment.yaml (tests/unit/test_manifests_base.py checks).
OPERATOR_IMAGE=ghcr.io/webscale-dev/webscale-operator:0.1.0
SAMPLE_APP_IMAGE=${SAMPLE_APP_IMAGE:-ghcr.io/webscale-dev/webscale-sample-app:0.1.0}
KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME:-kind}
MINIKUBE_PROFILE=${MINIKUBE_PROFILE:-minikube}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-180s}
CRD=scaledwebapps.webscale.dev

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { echo "kind-deploy: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# ---- which cluster --------------------------------------------------------------------------
target=${1:-}
case "$target" in
  "" )
    if have kind; then
      target=kind
    elif have minikube; then
      target=minikube
    else
      die "neither kind nor minikube is installed. Install one (https://kind.sigs.k8s.io/docs/user/quick-start/ or https://minikube.sigs.k8s.io/docs/start/), create a cluster (kind create cluster | minikube start) and run this again."
    fi
    ;;
  kind | minikube)
    have "$target" || die "$target is not installed (or not on PATH). Install it, create a cluster, and run this again."
    ;;
  -h | --help)
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    die "unknown cluster type '$target': use kind or minikube"
    ;;
esac

# ---- the tools ------------------------------------------------------------------------------
have docker || die "docker is not installed (or not on PATH); it builds the images. Install Docker (https://docs.docker.com/engine/install/) and run this again."
docker info >/dev/null 2>&1 || die "docker is installed but its daemon is not reachable (is it running, and may this user use it?). Check with: docker info"

kubectl_cmd=()
if [ -n "${KUBECTL:-}" ]; then
  read -r -a kubectl_cmd <<<"$KUBECTL"
elif have kubectl; then
  kubectl_cmd=(kubectl)
elif [ "$target" = minikube ]; then
  kubectl_cmd=(minikube kubectl --)
else
  die "kubectl is not installed (or not on PATH). Install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL."
fi

# ---- the cluster ----------------------------------------------------------------------------
if [ "$target" = kind ]; then
  kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME" \
    || die "no kind cluster named '$KIND_CLUSTER_NAME'. Create it with: kind create cluster --name $KIND_CLUSTER_NAME (or set KIND_CLUSTER_NAME)"
  context=kind-$KIND_CLUSTER_NAME
else
  minikube status -p "$MINIKUBE_PROFILE" >/dev/null 2>&1 \
    || die "minikube profile '$MINIKUBE_PROFILE' is not running. Start it with: minikube start -p $MINIKUBE_PROFILE (or set MINIKUBE_PROFILE)"
  context=$MINIKUBE_PROFILE
fi
k() { "${kubectl_cmd[@]}" --context "$context" "$@"; }
k get --raw /readyz >/dev/null || die "the API server of context '$context' does not answer (see the error above)"
say "deploying to $target cluster (kubectl context $context)"

# ---- images ---------------------------------------------------------------------------------
say "building $OPERATOR_IMAGE"
docker build -t "$OPERATOR_IMAGE" "$root"
say "building $SAMPLE_APP_IMAGE"
docker build -t "$SAMPLE_APP_IMAGE" "$root/sample-app"

say "loading the images into $target"
if [ "$target" = kind ]; then
  kind load docker-image --name "$KIND_CLUSTER_NAME" "$OPERATOR_IMAGE" "$SAMPLE_APP_IMAGE"
else
  minikube -p "$MINIKUBE_PROFILE" image load "$OPERATOR_IMAGE"
  minikube -p "$MINIKUBE_PROFILE" image load "$SAMPLE_APP_IMAGE"
fi

# ---- manifests ------------------------------------------------------------------------------
say "applying manifests/base"
k apply -k "$root/manifests/base"
# right after the apply the CRD may have no conditions yet, which `kubectl wait` fails on at once
# (".status.conditions accessor error: <nil>") instead of waiting: try again, a few times
for try in 1 2 3 4 5; do
  k wait --for=condition=Established "crd/$CRD" --timeout=60s && break
  [ "$try" = 5 ] && die "the CRD $CRD was not established"
  sleep 1
done
say "applying manifests/prometheus-kind"
k apply -k "$root/manifests/prometheus-kind"

say "applying examples/shop.yaml with image $SAMPLE_APP_IMAGE"
example=$(sed -E "s|^(  image:).*$|\\1 ${SAMPLE_APP_IMAGE}|" "$root/examples/shop.yaml")
grep -qxF "  image: $SAMPLE_APP_IMAGE" <<<"$example" \
  || die "could not set the image in examples/shop.yaml (expected a top-level 'image:' under spec)"
k apply -f - <<<"$example"

# ---- wait -----------------------------------------------------------------------------------
say "waiting for the operator and Prometheus (up to $WAIT_TIMEOUT each)"
k -n webscale-system rollout status deployment/webscale-operator --timeout="$WAIT_TIMEOUT"
k -n monitoring rollout status deployment/prometheus --timeout="$WAIT_TIMEOUT"
if ! k -n default wait --for=condition=Ready scaledwebapp/shop --timeout="$WAIT_TIMEOUT"; then
  say "shop is not Ready yet; what there is:"
  k -n default describe scaledwebapp shop || true
  k -n webscale-system logs deployment/webscale-operator --tail=50 || true
  exit 1
fi

cat >&2 <<EOF
kind-deploy: done. Try:
  kubectl --context $context get swa                      # replicas, workers, rps, desired
  kubectl --context $context describe swa shop            # conditions, last scaling decision
  kubectl --context $context -n webscale-system logs deploy/webscale-operator -f
  kubectl --context $context -n monitoring port-forward svc/prometheus 9090   # Prometheus UI
  kubectl --context $context port-forward svc/shop 8080:80                    # the app
EOF
