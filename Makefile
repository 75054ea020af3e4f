# make repro: set up .venv and run the whole pipeline (dvc repro).
# make test:  set up .venv and run the test suite.
# make benchmark: set up .venv and time a full default run in a temporary clone.
# Offline machines: MNIST_MIRROR=/path/to/mnist make repro

PYTHON ?= python3
VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup repro test benchmark

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
