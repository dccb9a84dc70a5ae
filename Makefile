# Two entry points a new user needs: `make demo` and `make test`. Both build the environment from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_OUT ?= demo-output

.PHONY: env test lint demo labelstudio-start labelstudio-stop clean

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
test: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	bash scripts/browser.sh
	bash scripts/labelstudio.sh start
	set -o pipefail; status=0; \
	  $(VENV)/bin/python -m pytest -q tests || status=$$?; \
	  bash scripts/labelstudio.sh stop; exit $$status

demo: env
	bash scripts/demo.sh $(DEMO_OUT)

labelstudio-start:
	bash scripts/labelstudio.sh start

labelstudio-stop:
	bash scripts/labelstudio.sh stop

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
