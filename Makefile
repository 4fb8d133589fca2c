# FarFlow developer commands. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .farflow/tools
UV := $(TOOLS)/bin/uv
PY := .venv/bin/python
# Downloads are retried with backoff: uv's and pip's own retries here, apt's in
# tests/system-packages.sh, Go's in tests/controlplane/go-modules.sh.
export UV_HTTP_RETRIES ?= 5
export PIP_RETRIES ?= 5

.PHONY: help run test lint unit aws helm cluster e2e bench crd requirements controlplane system-packages cluster-up cluster-down clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python 3.11 --extra airflow --extra local
	touch $@

run: .venv/.synced ## run examples/airflowcluster-dev.yaml here (farflow dev up; Ctrl-C stops it)
	.venv/bin/farflow dev up

# The set-up steps side by side (downloads beside builds: a few minutes less from empty
# caches), each one's output printed whole once it is done; then every tier.
test: ## lint, type-check and run every test tier
	$(MAKE) --no-print-directory -j3 --output-sync=target lint system-packages controlplane
	$(PY) -m pytest

lint: .venv/.synced ## ruff, ruff format, mypy (strict, on the operator, tests, tasks and bench)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

unit: .venv/.synced ## the unit tier only
	$(PY) -m pytest -m unit

aws: .venv/.synced ## the aws tier only (moto's server on loopback)
	$(PY) -m pytest -m aws

helm: .venv/.synced controlplane ## the helm tier only (Helm from its Go module, checkov)
	$(PY) -m pytest -m helm

cluster: .venv/.synced controlplane ## the cluster tier only (starts its own control plane)
	$(PY) -m pytest -m cluster

e2e: .venv/.synced controlplane system-packages ## the e2e tier: real Airflow, PostgreSQL, moto, Chromium
	$(PY) -m pytest -m e2e

# QUICK=1: a small version of every row, in a few minutes; ROWS="apply scale": some rows.
bench: .venv/.synced controlplane ## the benchmarks, as markdown tables (JSON in bench/results/)
	$(PY) -m bench $(if $(QUICK),--quick) $(ROWS)

crd: .venv/.synced ## regenerate the CRD from the models (crds/ and the chart's copy)
	.venv/bin/farflow crd > crds/airflowcluster.yaml
	cp crds/airflowcluster.yaml charts/farflow-operator/crds/airflowcluster.yaml

# The Airflow image's pins, hash-locked, from uv.lock (a unit test fails when they drift).
AIRFLOW_REQUIREMENTS := export --frozen --no-dev --extra airflow --no-emit-project --prune kopf

requirements: $(UV) ## regenerate airflow/requirements.txt from uv.lock
	$(UV) $(AIRFLOW_REQUIREMENTS) > airflow/requirements.txt

controlplane: system-packages ## build etcd, kube-apiserver, -controller-manager, -scheduler, kubectl, kwok, helm
	bash tests/controlplane/build.sh
	bash tests/controlplane/helm/build.sh

system-packages: ## PostgreSQL, Chromium and patch from Debian's packages
	bash tests/system-packages.sh

cluster-up: controlplane .venv/.synced ## start the local control plane (.farflow/kubeconfig)
	$(PY) tests/controlplane/localcluster.py up

cluster-down: .venv/.synced ## stop everything cluster-up started
	$(PY) tests/controlplane/localcluster.py down

clean: cluster-down ## remove the environment and local state
	rm -rf .venv .farflow .mypy_cache .ruff_cache .pytest_cache
