# Everything starts from python3 alone: the first target that needs the
# virtual environment creates it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test check lint format typecheck pytest bench bench-peers bench-compare clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(VENV)/.base
	$(PY) examples/demo.py

lint: $(VENV)/.dev
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(VENV)/.dev
	$(PY) -m mypy

check: lint typecheck

pytest: $(VENV)/.dev
	$(PY) -m pytest

test: check pytest

bench: $(VENV)/.dev
	$(PY) -m anycrew bench --backend all

# The peers anycrew is compared with live in a virtual environment of their own:
# CrewAI is large and never a dependency of anycrew.
PEERS := .venv-peers

$(PEERS)/.crewai:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(PEERS)/bin/python -m pip install -q --disable-pip-version-check crewai
	touch $@

bench-peers: $(PEERS)/.crewai

bench-compare: $(VENV)/.dev $(PEERS)/.crewai
	$(PY) -m anycrew bench --backend all --compare crewai

clean:
	rm -rf $(VENV) $(PEERS) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
