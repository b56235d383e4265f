# Two commands on a fresh machine (Python 3.11 + pip, nothing else):
#   make lab    create .venv if missing, install everything, open the course in JupyterLab
#               (English menus; `make lab-tr` or `make lab LAB_LANG=tr` opens JupyterLab's own
#               menus in Turkish, e.g. Çalıştır ▸ Tüm Hücreleri Çalıştır, in the Turkish lessons)
#   make test   create or update the same .venv, build the website and run the whole test suite
#   make site   the course as a static website in both languages (build/site/index.html)
# Both are idempotent: once installed they skip straight to the work.

PYTHON ?= python3
# PyTorch's CPU threads sleep instead of spinning while they wait: on shared or small machines spinning
# threads make 2-thread forward passes several times slower (see qlab/__init__.py). Kernels inherit it.
export OMP_WAIT_POLICY ?= PASSIVE
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.qlab-installed
PORT   ?= 8888
# Language of JupyterLab's own interface: en (default) or tr. Not called LANG: that is the locale
# variable of the shell and the kernel.
LAB_LANG ?= en
# Turkish: the language pack (requirements.txt) plus a default-settings override for this launch only
# (tools/jupyterlab-tr/labconfig/default_setting_overrides.json sets the translation setting's locale
# to tr_TR); a language chosen in Settings ▸ Language still wins.
LAB_ENV_en =
LAB_ENV_tr = JUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyterlab-tr$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}"
ifeq ($(filter $(LAB_LANG),en tr),)
$(error LAB_LANG must be en or tr, not '$(LAB_LANG)')
endif
# JupyterLab refuses to start as root unless told it is fine (containers, classroom VMs).
ROOT_FLAG = $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: install lab lab-tr test portable lint bench compare notebooks execute-notebooks site llama-cpp openvino

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

lab: $(STAMP)
	$(LAB_ENV_$(LAB_LANG)) $(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

lab-tr:
	@$(MAKE) --no-print-directory lab LAB_LANG=tr

SITE_STAMP = $(VENV)/.qlab-site-installed

# The website's tools (Sphinx, myst-nb, sphinx-book-theme, sphinx-copybutton, MathJax from
# sphinx-mathjax-offline), added to the same .venv; no pinned version changes.
$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-site.txt
	@touch $@

# The course as a static website in both languages, from the stored outputs (no re-execution, no
# network): build/site/index.html, build/site/en/, build/site/tr/.
site: $(SITE_STAMP)
	$(PY) tools/build_site.py

COMPARE_STAMP = $(VENV)/.qlab-compare-installed

# Test-only: llmcompressor's GPTQ (tests/test_gptq_llmcompressor.py compares qlab with it), installed without
# its declared dependencies, which would downgrade transformers; no installed version changes (~20 s).
$(COMPARE_STAMP): $(STAMP) requirements-compare.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-compare.txt
	@touch $@

# The site is built first: tests/test_site.py checks it (and skips where it was not built).
test: $(STAMP) $(COMPARE_STAMP) site
	$(PY) -m pytest tests notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# The lessons again under other kernels' summation order (what another CPU does to float32 sums; see
# docs/CONVENTIONS.md): `make portable NB="notebooks/en/08_gptq_awq.ipynb"` must pass like `make test`.
NB ?= notebooks/en
portable: $(STAMP)
	MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell \
	  $(PY) -m pytest $(NB) --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check qlab tests bench tools site
	$(VENV)/bin/ruff format --check qlab tests bench tools site

bench: $(STAMP)
	$(PY) bench/bench_cpu.py

compare: $(STAMP)
	$(PY) -m qlab compare

# Build both languages from notebooks/src and run them top to bottom, storing outputs (deterministic).
notebooks: $(STAMP)
	$(PY) tools/build_notebooks.py

execute-notebooks: notebooks

# Optional, not part of `make lab` or `make test`: llama.cpp's Python binding, compiled from source
# (about 19 minutes on 2 cores). GGML_NATIVE=OFF: a native build detects AMX on some cloud VMs and then
# dies with "illegal instruction" in its matmul (measured on these machines). Lesson 09 runs its GGUF
# files with it where it is installed; without it those cells say how to install it and skip.
llama-cpp: $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install --disable-pip-version-check llama-cpp-python==0.3.36

# Optional extra (lesson 10): OpenVINO + NNCF weight compression on CPU, ~250 MB, about 10 s from a
# local index. Lesson 10's OpenVINO cell runs where it is installed and skips elsewhere.
openvino: $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -r requirements-openvino.txt
