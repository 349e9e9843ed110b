# The one entry point for people and CI. `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install lock test unit e2e e2e-scale golden bench bench-many-runs validate lint typecheck crds k8s-schema tools reference clean image image-test image-lock

$(BIN)/orch: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(BIN)/orch  ## venv with orch and the test tools, pinned by constraints.txt

lock: install  ## re-resolve the newest versions pyproject.toml allows; rewrite constraints.txt and image/constraints.txt
	$(PY) -m pip install --quiet --upgrade -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	$(PY) -m image lock

tools:  ## build (or reuse) kube-apiserver, etcd, kwok, Argo, helm into ~/.cache/orch-tools
	tools/build.sh

# The reference system the tests compare against (tests/support/reference.py), a
# bare clone cached outside the repo and keyed by its commit; without it those
# tests skip with the reason. REFERENCE_URL may name a local mirror.
REFERENCE_COMMIT := 6b69af37f6
REFERENCE_URL ?= https://github.com/proompteng/lab.git
REFERENCE_DIR := $(HOME)/.cache/orch-reference/proompteng+lab-$(REFERENCE_COMMIT)
reference:  ## clone proompteng/lab (the reference system) into ~/.cache/orch-reference, once
	@if git -C $(REFERENCE_DIR) cat-file -e $(REFERENCE_COMMIT)^{commit} 2>/dev/null; then \
	  echo "reference: $(REFERENCE_DIR) holds $(REFERENCE_COMMIT)"; \
	else \
	  rm -rf $(REFERENCE_DIR).tmp && \
	  timeout 600 git clone --quiet --bare $(REFERENCE_URL) $(REFERENCE_DIR).tmp && \
	  git -C $(REFERENCE_DIR).tmp cat-file -e $(REFERENCE_COMMIT)^{commit} && \
	  mv $(REFERENCE_DIR).tmp $(REFERENCE_DIR); \
	fi

test: install tools lint  ## everything: lint, types, unit, golden, property, e2e
	$(PY) -m pytest -q

unit: install  ## everything that needs neither the cluster nor the built Go tools
	$(PY) -m pytest -q -m "not e2e and not gotools"

e2e: install tools  ## the real-cluster suite alone
	$(PY) -m pytest -q -m e2e

e2e-scale: install tools  ## the 10,000-step split run on the real cluster (docs/scale.md)
	$(PY) -m pytest -q -s -m scale tests/e2e/test_split_runs.py

golden: install  ## regenerate golden/ expected outputs (then read `git diff golden/`)
	$(PY) -m tests.golden

crds: install  ## regenerate the chart's CRDs from the models
	$(BIN)/orch crds --output-dir charts/orch/crds

k8s-schema: install  ## regenerate the Kubernetes container schema from the kubernetes client
	$(PY) -m tests.support.k8s_schema

bench: install  ## benchmarks; results are written into the README by hand
	$(PY) -m benchmarks.run

RUNS ?= 200
ARGO ?= default
bench-many-runs: install tools  ## N runs through orch vs the same N Workflows straight in Argo, one cluster, argo,orch,orch,argo (RUNS=200 ARGO=default|fast; docs/throughput.md)
	$(PY) -m benchmarks.many_runs --runs $(RUNS) --argo $(ARGO) --order argo,orch,orch,argo

IMAGE_BASE ?= debian
image: install  ## build/image/orch-<version>.oci.tar with buildah (IMAGE_BASE=debian or an image, e.g. python:3.11-slim)
	$(PY) -m image build --base $(IMAGE_BASE)

image-test: install tools  ## build the image and run its tests (contents, reproducibility, the controller on the cluster)
	$(PY) -m pytest -q -m image

image-lock: install  ## re-pin image/constraints.txt from the dev venv
	$(PY) -m image lock

validate: install tools  ## chart, CRDs, examples
	scripts/validate

lint: install  ## ruff, mypy --strict, import layering
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
