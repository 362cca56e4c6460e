#!/usr/bin/env bash
# Deploy webscale on a running minikube (`make minikube-deploy`): the same steps as kind_deploy.sh,
# with `minikube image load` for the images and the profile's kubectl context.
#   MINIKUBE_PROFILE  profile to use (default: minikube; start it with `minikube start`)
# See scripts/kind_deploy.sh for every other setting. Safe to run again: every step is an apply.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kind_deploy.sh" minikube "$@"
