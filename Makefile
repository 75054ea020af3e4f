# make repro:     set up .venv and run the whole pipeline (dvc repro).
# make test:      set up .venv and run the whole test suite (what CI runs).
# make test-fast: the tests that train no pipeline, for the edit-run loop.
# make lint:      ruff's checks and formatting check (settings in pyproject.toml);
#   `ruff format . && ruff check --fix .` mends most of what it finds.
# make benchmark: set up .venv and time a full default run in a temporary clone.
# make browser-deps: fetch Vega for the headless-Chromium plots test (needs npm; the
#   test also needs Debian's chromium and chromium-driver, and skips without them).
# GPU=1 (e.g. make setup GPU=1) installs TensorFlow's CUDA build instead of the CPU
#   build; .venv keeps the build it has until GPU=1 or GPU=0 says otherwise.
# Offline machines: DATASET_MIRROR=/path/to/files make repro (our development machines
#   have MNIST's files in ../shared/mnist, which is then the default).

PYTHON ?= python3
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export DATASET_MIRROR ?= $(wildcard $(CURDIR)/../shared/mnist)

ifeq ($(GPU),)
TF_BUILD := $(if $(wildcard $(VENV)/.installed-gpu),gpu,cpu)
else
TF_BUILD := $(if $(filter 0,$(GPU)),cpu,gpu)
endif
OTHER_BUILD := $(if $(filter gpu,$(TF_BUILD)),cpu,gpu)
REQUIREMENTS := $(if $(filter gpu,$(TF_BUILD)),requirements-gpu.txt,requirements.txt)

# The versions `dvc plots show` pages load from a CDN (dvc_render's VegaRenderer.SCRIPTS).
VEGA_PACKAGES := vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2
VEGA_DIR := $(VENV)/share/vega

.PHONY: setup repro test test-fast lint benchmark browser-deps pr-report

setup: $(VENV)/.installed-$(TF_BUILD)

# Switching builds uninstalls the other one first: both provide the `tensorflow` module.
$(VENV)/.installed-$(TF_BUILD): requirements-common.txt $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	if [ -e $(VENV)/.installed-$(OTHER_BUILD) ]; then \
	  $(VENV)/bin/pip uninstall --quiet --yes tensorflow tensorflow-cpu && rm $(VENV)/.installed-$(OTHER_BUILD); fi
	$(VENV)/bin/pip install --quiet -r $(REQUIREMENTS)
	touch $@

repro: setup
	dvc repro

test: setup
	pytest

test-fast: setup
	pytest -m "not slow"

lint: setup
	ruff check .
	ruff format --check .

# What this workspace changes against BASE (metrics, params, decisions, the blessing, the
# training curves): pr-report/report.md, for a pull request (.github/workflows/pr-report.yml).
BASE ?= main
pr-report: setup
	python -m stages.pr_report --base $(BASE)

benchmark: setup
	python benchmarks/benchmark.py

browser-deps: setup $(VEGA_DIR)/.installed

$(VEGA_DIR)/.installed:
	mkdir -p $(VEGA_DIR)
	cd $(VEGA_DIR) && npm pack --silent $(VEGA_PACKAGES) >/dev/null && \
	  for package in *.tgz; do tar xzf $$package --wildcards --strip-components=2 'package/build/*.min.js'; done && \
	  rm *.tgz
	touch $@
