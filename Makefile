# make repro: set up .venv and run the whole pipeline (dvc repro).
# make test:  set up .venv and run the test suite.
# make benchmark: set up .venv and time a full default run in a temporary clone.
# make browser-deps: fetch Vega for the headless-Chromium plots test (needs npm; the
#   test also needs Debian's chromium and chromium-driver, and skips without them).
# Offline machines: MNIST_MIRROR=/path/to/mnist make repro

PYTHON ?= python3
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

# The versions `dvc plots show` pages load from a CDN (dvc_render's VegaRenderer.SCRIPTS).
VEGA_PACKAGES := vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2
VEGA_DIR := $(VENV)/share/vega

.PHONY: setup repro test benchmark browser-deps

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

repro: setup
	dvc repro

test: setup
	pytest

benchmark: setup
	python benchmark.py

browser-deps: setup $(VEGA_DIR)/.installed

$(VEGA_DIR)/.installed:
	mkdir -p $(VEGA_DIR)
	cd $(VEGA_DIR) && npm pack --silent $(VEGA_PACKAGES) >/dev/null && \
	  for package in *.tgz; do tar xzf $$package --wildcards --strip-components=2 'package/build/*.min.js'; done && \
	  rm *.tgz
	touch $@
