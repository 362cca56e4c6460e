# webscale-operator — two commands do everything on a fresh machine:
#   make run    install what is missing, start the local control plane, run the operator
#   make test   install what is missing and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
PIP       := $(VENV)/bin/pip
CLUSTER   := $(PY) -m webscale_local.launcher
APT_PKGS  := prometheus haproxy redis-server wrk shellcheck openssl dnsmasq-base lua5.4 lua5.1 git
# binaries that tell whether the Debian packages above are installed
APT_BINS  := prometheus haproxy redis-server wrk shellcheck openssl dnsmasq lua5.4 lua5.1 git
# a real node (make node, make test-node-real): container runtime, CNI plugins, image builders
NODE_APT_PKGS := containerd runc containernetworking-plugins iptables debootstrap buildah gcc libc6-dev
NODE_APT_BINS := containerd runc iptables debootstrap buildah gcc
# a timestamp before each step of `make test`, so a log says which part costs what
STAMP     = @echo "== $$(date +%T) $@"
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: load demo docs manifests helm-build flux-build promparse-build monitoring-crds help deps deps-apt deps-python deps-node cluster-build cluster cluster-down run test test-suites \
        test-unit test-node test-integration test-e2e deps-realnode node-build node-images node node-down test-node-real lint fmt crd bench bench-node bench-node-base bench-node-zero demo kind-deploy minikube-deploy clean

help:
	@echo "make run      install what is missing and run the operator on the local control plane"
	@echo "make test     install what is missing and run every test"
	@echo "make load     (while make run runs) a bounded load ramp: the app scales up and back down"
	@echo "make demo     the same, narrated, in one command"
	@echo "make cluster  start only the local control plane (foreground); make cluster-down stops a background one"
	@echo "make bench    run the benchmarks (writes bench/results/)"
	@echo "make bench-node  the real-node benchmarks (pod start, scale-up to serving, Service latency; cold starts from zero) -> bench/results/node.md"
	@echo "make crd      regenerate crds/ from the models"
	@echo "make node     a real node (containerd, kubelet, kube-proxy, CoreDNS) with the control plane, in the background"
	@echo "              in its own network namespace; make node-down stops it (first time: ~15 min of builds)"

## ---- installation ---------------------------------------------------------------------------

deps: deps-apt deps-python deps-node

deps-apt:
	@missing=""; for b in $(APT_BINS); do command -v $$b >/dev/null 2>&1 || [ -x /usr/sbin/$$b ] || [ -x /usr/bin/$$b ] || missing="$$missing $$b"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: missing$$missing; installing Debian packages: $(APT_PKGS)"; \
	  command -v apt-get >/dev/null || { echo "deps: no apt-get; install $(APT_PKGS) with your package manager"; exit 1; }; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PKGS); \
	fi
	@# the packages start system services; our tests start their own on loopback
	@for s in prometheus haproxy redis-server dnsmasq; do $(SUDO) systemctl disable --now $$s >/dev/null 2>&1 || $(SUDO) service $$s stop >/dev/null 2>&1 || true; done

$(VENV)/.installed: pyproject.toml
	@command -v python3 >/dev/null || { echo "deps: python3 (>= 3.11) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@touch $@

deps-python: $(VENV)/.installed

sample-app/node_modules/.installed: sample-app/package-lock.json
	@command -v npm >/dev/null || { echo "deps: Node 20 and npm are required (apt-get install -y nodejs npm)"; exit 1; }
	cd sample-app && npm ci --no-audit --no-fund
	@touch $@

deps-node: $(if $(wildcard sample-app/package-lock.json),sample-app/node_modules/.installed)

cluster-build:
	$(STAMP)
	@bash tests/cluster/build.sh >/dev/null

# helm, built from its Go module (no Debian package), for the chart tests
helm-build:
	$(STAMP)
	@bash scripts/build_helm.sh >/dev/null
HELM_BIN = $(shell bash scripts/build_helm.sh 2>/dev/null)

# Prometheus's own PromQL parser, built from its Go module, for the confiner's differential test
promparse-build:
	$(STAMP)
	@bash tests/promparse/build.sh >/dev/null
PROMPARSE_BIN = $(shell bash tests/promparse/build.sh 2>/dev/null)

# the Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule) from its Go module, pinned,
# for the test that applies the chart's monitors and rules to the local API server
monitoring-crds:
	$(STAMP)
	@bash scripts/prometheus_operator_crds.sh >/dev/null

# Flux's source-controller and kustomize-controller, built from their Go modules, for the GitOps tests
flux-build:
	$(STAMP)
	@bash tests/flux/build.sh >/dev/null

# a real node: kubelet + kube-proxy (same k8s module as the control plane), CoreDNS, the pause image
deps-realnode:
	@missing=""; for b in $(NODE_APT_BINS); do command -v $$b >/dev/null 2>&1 || [ -x /usr/sbin/$$b ] || missing="$$missing $$b"; done; \
	[ -d /usr/lib/cni ] || missing="$$missing cni-plugins"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: missing$$missing; installing Debian packages: $(NODE_APT_PKGS)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(NODE_APT_PKGS); \
	fi

node-build: deps-realnode cluster-build
	$(STAMP)
	@bash tests/node/build.sh >/dev/null

# the base root filesystem (debootstrap) and the project's two images FROM it (buildah), on the host:
# their RUN steps reach Debian, PyPI and npm
node-images: deps-realnode
	$(STAMP)
	@bash tests/node/images.sh >/dev/null

## ---- running --------------------------------------------------------------------------------

cluster: deps-python cluster-build
	$(CLUSTER) up

cluster-down: deps-python
	$(CLUSTER) down

node: deps-python node-build node-images
	$(PY) -m webscale_local.node_cli up

node-down: deps-python
	$(PY) -m webscale_local.node_cli down

run: deps cluster-build
	$(PY) scripts/run_local.py

# a bounded load ramp on the app `make run` runs (another terminal): it scales up, then back down
load: deps-python
	RAMP="$(RAMP)" $(PY) scripts/load.py

# local control plane + real Prometheus + real sample-app processes + the operator + a bounded load ramp
demo: deps cluster-build
	$(PY) scripts/demo.py

## ---- tests ----------------------------------------------------------------------------------

test: deps cluster-build helm-build promparse-build flux-build monitoring-crds lint test-unit test-node test-suites test-node-real
	$(STAMP) done

# the integration and e2e suites at the same time: each starts its own control plane and waits on it
# far more than it computes (together they keep about half of two cores busy); each takes its free
# loopback ports from its own range (tests/support/webscale_local/ports.py), and each suite's output
# is printed whole when it ends
test-suites:
	$(STAMP) integration and e2e at once
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-integration test-e2e

lint: deps-apt deps-python
	$(STAMP)
	$(VENV)/bin/ruff check operator tests bench scripts manifests
	$(VENV)/bin/ruff format --check operator tests bench scripts manifests
	shellcheck scripts/*.sh tests/cluster/build.sh tests/flux/build.sh tests/promparse/build.sh tests/node/*.sh
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

fmt: deps-python
	$(VENV)/bin/ruff format operator tests bench scripts manifests
	$(VENV)/bin/ruff check --fix operator tests bench scripts manifests

test-unit: deps-python helm-build promparse-build
	$(STAMP)
	WEBSCALE_HELM=$(HELM_BIN) WEBSCALE_PROMPARSE=$(PROMPARSE_BIN) $(PY) -m pytest tests/unit -q -W error

test-node: deps-node
	$(STAMP)
	@if [ -f sample-app/package.json ]; then cd sample-app && npm test; fi

test-integration: deps-python cluster-build helm-build flux-build monitoring-crds
	$(STAMP)
	WEBSCALE_TEST_PORTS=20000-26383 WEBSCALE_HELM=$(HELM_BIN) $(PY) -m pytest tests/integration -q --durations=12

# the tests on a real node (marker node), inside a fresh network namespace with no default route: the
# control plane, containerd, kubelet, kube-proxy and CoreDNS start there, the images built on the host
test-node-real: deps node-build node-images helm-build
	$(STAMP)
	WEBSCALE_HELM=$(HELM_BIN) $(PY) -m webscale_local.netns run webscale-test-$$$$ -- $(PY) -m pytest tests/realnode -q -m node --durations=12

test-e2e: deps cluster-build
	$(STAMP)
	WEBSCALE_TEST_PORTS=26384-32767 $(PY) -m pytest tests/e2e -q --durations=12

crd: deps-python
	$(PY) -m webscale.cli crd > crds/scaledwebapps.webscale.dev.yaml
	$(PY) manifests/generate.py

# the CRD copies under manifests/ and prometheus-kind's scrape job, from the code
manifests: deps-python
	$(PY) manifests/generate.py

# on a machine with docker and kind or minikube: images, operator, Prometheus, the example
kind-deploy:
	bash scripts/kind_deploy.sh kind

minikube-deploy:
	bash scripts/minikube_deploy.sh

## ---- benchmarks -----------------------------------------------------------------------------

bench: deps cluster-build
	$(PY) bench/run.py

# on a real node, inside a fresh network namespace with no default route, as test-node-real; each bench
# on a fresh node (node_zero: cold starts from zero, ~20 min); each rewrites only its own section of
# bench/results/node.md
bench-node: bench-node-base bench-node-zero

bench-node-base: deps node-build node-images helm-build
	WEBSCALE_HELM=$(HELM_BIN) $(PY) -m webscale_local.netns run webscale-bench-$$$$ -- $(PY) bench/node_bench.py

bench-node-zero: deps node-build node-images helm-build
	WEBSCALE_HELM=$(HELM_BIN) $(PY) -m webscale_local.netns run webscale-bench-$$$$ -- $(PY) bench/node_zero.py

clean:
	rm -rf $(VENV) sample-app/node_modules .pytest_cache .ruff_cache

docs: deps-python
	$(PY) -c "from pathlib import Path; from webscale.api.reference import render_into; p = Path('README.md'); p.write_text(render_into(p.read_text()))"
