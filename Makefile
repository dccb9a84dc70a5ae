# Two entry points a new user needs: `make demo` and `make test`. Both build the environment from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_OUT ?= demo-output

.PHONY: env test test-fast lint docs demo labelstudio-start labelstudio-stop clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: an unpinned torch resolves to a multi-GB CUDA build (shared/NOTES.md).
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	touch $@

env: $(VENV)/.installed

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Lint, then the whole suite, Label Studio integration tests included: starts a local server and
# stops it after. The browser test needs the system chromium: scripts/browser.sh installs Debian's
# package when it is missing (apt-get, as root or with passwordless sudo; about 20 s).
# One native thread per test process (the process pools pin their workers the same way): with
# two OpenMP threads each, the torch tests ran 4x slower on this shared 2-core machine under load.
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	bash scripts/browser.sh
	bash scripts/labelstudio.sh start
	set -o pipefail; status=0; \
	  $(TEST_ENV) $(VENV)/bin/python -m pytest -q tests || status=$$?; \
	  bash scripts/labelstudio.sh stop; exit $$status

# The inner loop: ruff, then every test not marked slow, labelstudio or browser (markers in
# pyproject.toml): no server, no chromium, no training beyond a few steps, and still some tests of
# every area. No mypy here: a cold check alone takes about 90 s on this machine (`make lint` runs
# it, and `make test`, which CI runs, does lint + everything).
# The tests run in one process per core (pytest-xdist, `-n auto`; FAST_JOBS=1 runs them in one).
# Measured here (2 cores, the environment installed, nothing else running, 944 tests, 2026-12-06):
# 139-163 s wall in three runs (bench/RESULTS.md, "The test suite").
# PYTHONDONTWRITEBYTECODE is unset for pytest so compiled modules and rewritten tests are reused
# between runs.
FAST := not slow and not labelstudio and not browser
FAST_JOBS ?= auto
test-fast: env
	$(VENV)/bin/ruff check .
	env -u PYTHONDONTWRITEBYTECODE $(TEST_ENV) $(VENV)/bin/python -m pytest -q -n $(FAST_JOBS) -m "$(FAST)" tests

# The manual as a static site in site/ (open site/index.html): pages from docs/, settings in
# mkdocs.yml; --strict makes a broken link or anchor, a page missing from the navigation or a missing
# included file an error. `make test` builds it too (tests/test_readme.py).
docs: env
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

demo: env
	bash scripts/demo.sh $(DEMO_OUT)

labelstudio-start:
	bash scripts/labelstudio.sh start

labelstudio-stop:
	bash scripts/labelstudio.sh stop

clean:
	rm -rf $(DEMO_OUT) site .pytest_cache .mypy_cache .ruff_cache
