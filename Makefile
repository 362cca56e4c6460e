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
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: load demo docs manifests helm-build flux-build help deps deps-apt deps-python deps-node cluster-build cluster cluster-down run test \
        test-unit test-node test-integration test-e2e lint fmt crd bench demo kind-deploy minikube-deploy clean

help:
	@echo "make run      install what is missing and run the operator on the local control plane"
	@echo "make test     install what is missing and run every test"
	@echo "make load     (while make run runs) a bounded load ramp: the app scales up and back down"
	@echo "make demo     the same, narrated, in one command"
	@echo "make cluster  start only the local control plane (foreground); make cluster-down stops a background one"
	@echo "make bench    run the benchmarks (writes bench/results/)"
	@echo "make crd      regenerate crds/ from the models"

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
	@bash tests/cluster/build.sh >/dev/null

# helm, built from its Go module (no Debian package), for the chart tests
helm-build:
	@bash scripts/build_helm.sh >/dev/null
HELM_BIN = $(shell bash scripts/build_helm.sh 2>/dev/null)

# Flux's source-controller and kustomize-controller, built from their Go modules, for the GitOps tests
flux-build:
	@bash tests/flux/build.sh >/dev/null

## ---- running --------------------------------------------------------------------------------

cluster: deps-python cluster-build
	$(CLUSTER) up

cluster-down: deps-python
	$(CLUSTER) down

run: deps cluster-build
	$(PY) scripts/run_local.py

# a bounded load ramp on the app `make run` runs (another terminal): it scales up, then back down
load: deps-python
	RAMP="$(RAMP)" $(PY) scripts/load.py

# local control plane + real Prometheus + real sample-app processes + the operator + a bounded load ramp
demo: deps cluster-build
	$(PY) scripts/demo.py

## ---- tests ----------------------------------------------------------------------------------

test: deps cluster-build helm-build lint test-unit test-node test-integration test-e2e

lint: deps-python
	$(VENV)/bin/ruff check operator tests bench scripts manifests
	$(VENV)/bin/ruff format --check operator tests bench scripts manifests
	shellcheck scripts/*.sh tests/cluster/build.sh tests/flux/build.sh
	$(VENV)/bin/lint-imports --no-cache

fmt: deps-python
	$(VENV)/bin/ruff format operator tests bench scripts manifests
	$(VENV)/bin/ruff check --fix operator tests bench scripts manifests

test-unit: deps-python helm-build
	WEBSCALE_HELM=$(HELM_BIN) $(PY) -m pytest tests/unit -q -W error

test-node: deps-node
	@if [ -f sample-app/package.json ]; then cd sample-app && npm test; fi

test-integration: deps-python cluster-build helm-build flux-build
	WEBSCALE_HELM=$(HELM_BIN) $(PY) -m pytest tests/integration -q

test-e2e: deps cluster-build
	$(PY) -m pytest tests/e2e -q

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

clean:
	rm -rf $(VENV) sample-app/node_modules .pytest_cache .ruff_cache

docs: deps-python
	$(PY) -c "from pathlib import Path; from webscale.api.reference import render_into; p = Path('README.md'); p.write_text(render_into(p.read_text()))"
