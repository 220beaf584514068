# Everything goes through .venv, (re)built from pyproject.toml when missing or stale.
# Usage: make help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= auto
export ASSETS_MIRROR

.DEFAULT_GOAL := help
.PHONY: help venv data weights test unit notebooks regress report lab sweep bench lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: ASSETS_MIRROR=DIR_OR_URL (a copy of the originals laid out by URL path, for offline machines), PROFILE=smoke|quick|full|auto, SWEEP=FILE SWEEP_ARGS='--workers 2'"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,sweep]'
	@touch $(STAMP)

venv: $(STAMP) ## create or refresh .venv (automatic for the other targets)

data: $(STAMP) ## fetch and verify the sample images (from ASSETS_MIRROR or the URLs)
	$(PY) -m helpers assets

weights: $(STAMP) ## fetch, verify and cache the VGG-19 Caffe weights
	$(PY) -m helpers weights

unit: data weights ## unit tests only
	$(PY) -m pytest -q tests

# nbval runs papermill-parameterised copies (smoke profile) so each notebook executes once.
# It compares no cell output (the committed notebooks carry none): a notebook passes when every
# cell, closing asserts included, runs. The regression check (--check) then compares their
# results (metrics, result images, figures) with tests/reference/smoke.
NBVAL_DIR := outputs/nbval
NBVAL     := --nbval-lax --nbval-current-env --nbval-cell-timeout 300 --nbval-sanitize-with tests/nbval_sanitize.cfg
REFERENCE := tests/reference/smoke

test: data weights ## unit tests, the notebooks at smoke scale (nbval), the regression check
	$(PY) -m pytest -q tests
	@$(MAKE) --no-print-directory notebooks
	$(PY) -m helpers report --profile smoke --no-run --check $(REFERENCE)

notebooks: data weights ## the notebooks at smoke scale under pytest --nbval-lax
	$(PY) -m helpers report --profile smoke --prepare $(NBVAL_DIR)
	$(PY) -m pytest -q -p no:cacheprovider $(NBVAL) $(NBVAL_DIR)

regress: data weights ## smoke run (papermill + HTML) compared with the stored reference
	$(PY) -m helpers report --profile smoke --check $(REFERENCE)

report: data weights ## run notebooks 01-08 with papermill and render outputs/report/index.html
	$(PY) -m helpers report --profile $(PROFILE)

# JupyterLab from .venv: its `python3` kernel is .venv's Python; LAB_ARGS adds options
# (e.g. LAB_ARGS=--port=8899).  Running as root needs --allow-root, added automatically.
LAB_ARGS ?=
lab: data weights ## JupyterLab on notebooks/ with the project's kernel (panels: INTERACTIVE = True)
	$(PY) -m jupyterlab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

SWEEP ?= sweeps/smoke.yaml
sweep: data weights ## run a parameter sweep on Dask (extra .[sweep]; SWEEP=sweeps/smoke.yaml; README "Sweeps")
	$(PY) -m helpers sweep $(SWEEP) $(SWEEP_ARGS)

bench: data weights ## benchmarks (~8 min): a table, benchmarks/results/*.json, benchmarks/RESULTS.md
	$(PY) -m benchmarks --markdown benchmarks/RESULTS.md

lint: $(STAMP) ## the .pre-commit-config.yaml hooks on every file: ruff, notebooks carry no outputs
	$(PY) -m pre_commit run --all-files --show-diff-on-failure

clean: ## empty outputs/ but its README (keeps .venv and data/)
	rm -rf $(filter-out outputs/README.md,$(wildcard outputs/* outputs/.[!.]*))
