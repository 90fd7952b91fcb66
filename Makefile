# One way to do each thing. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
STAMP  := $(VENV)/.installed
DEMO   := build/demo/demo.labeler

.PHONY: run test lint format bench demo bundle bundle-test constraints clean datumaro-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	# Ultralytics' dataset checks for the real-loader tests, beside our torch and headless
	# OpenCV: without its dependencies (pyproject's dev extra lists the one it needs).
	$(PIP) --no-deps ultralytics
	touch $(STAMP)

$(VENV)/.bench: $(STAMP)
	$(PIP) -e '.[dev,bench]'
	touch $@

## run: set up, build the demo project, open the GUI on it
run: $(STAMP) demo
	$(VENV)/bin/labeler gui $(DEMO)

## demo: a project with the bundled photos and a long-tailed CIFAR-10 slice
demo: $(STAMP)
	@mkdir -p $(dir $(DEMO))
	@test -f $(DEMO) || $(VENV)/bin/labeler init $(DEMO)
	$(VENV)/bin/labeler import $(DEMO) resources/cifar10-lt-mini --labels-from-folders
	$(VENV)/bin/labeler import $(DEMO) resources/demo-photos

## test: set up, lint, run the whole suite
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: every benchmark, each printing its ratio against a peer or a limit
bench: $(VENV)/.bench
	@for b in benchmarks/*/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## datumaro-check: our exports read by datumaro's importers, in its own environment (pins Pillow 12)
datumaro-check: $(STAMP)
	test -x .venv-datumaro/bin/python || $(PYTHON) -m venv .venv-datumaro
	.venv-datumaro/bin/python -m pip install --disable-pip-version-check -q datumaro==1.13.12
	$(PY) benchmarks/interop/check_datumaro.py --datumaro-python .venv-datumaro/bin/python

## bundle: a one-folder PyInstaller bundle and its .tar.gz in dist/, from a clean venv (docs/packaging.md)
bundle:
	$(PYTHON) packaging/build.py

## bundle-test: run the built bundle as a user would, offline (docs/packaging.md)
bundle-test:
	$(PYTHON) packaging/smoke_test.py

## constraints: re-pin the tested set from the current venv
constraints: $(VENV)/.bench
	{ echo "# The tested set: make installs with 'pip install -c constraints.txt'. Regenerate with 'make constraints'."; \
	  $(PY) -m pip freeze --exclude-editable | sort -f; } > constraints.txt

clean:
	rm -rf $(VENV) .venv-datumaro build dist .pytest_cache .ruff_cache
