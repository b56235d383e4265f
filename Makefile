# Two commands on a fresh machine (Python 3.11 + pip, nothing else):
#   make lab    create .venv if missing, install everything, open the course in JupyterLab
#   make test   create or update the same .venv and run the whole test suite
# Both are idempotent: once installed they skip straight to the work.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.qlab-installed
PORT   ?= 8888
# JupyterLab refuses to start as root unless told it is fine (containers, classroom VMs).
ROOT_FLAG = $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: install lab test lint bench compare notebooks execute-notebooks

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check qlab tests bench tools
	$(VENV)/bin/ruff format --check qlab tests bench tools

bench: $(STAMP)
	$(PY) bench/bench_cpu.py

compare: $(STAMP)
	$(PY) -m qlab compare

# Build both languages from notebooks/src and run them top to bottom, storing outputs (deterministic).
notebooks: $(STAMP)
	$(PY) tools/build_notebooks.py

execute-notebooks: notebooks
