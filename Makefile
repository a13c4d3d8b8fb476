# es-autoscaler: two commands for a new user.
#   make demo   -- the main job: the real service scales a simulated cluster up and down (~1 min)
#   make test   -- the whole test command: ruff, mypy --strict, import-linter, pytest
# Both create .venv from the hash-locked requirements on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck imports pytest bench lock clean venv

venv: $(STAMP)

# Reproducible: only hash-locked packages and the project itself are installed, with the pip
# that `venv` brings (23.x for Python 3.11; it installs requirements/dev.lock as it is) — no
# `pip install --upgrade pip`, which would fetch whatever pip is newest on the day.
$(STAMP): requirements/dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  v=$$($(PYTHON) --version 2>&1) || v='not found'; \
	  echo "es-autoscaler needs Python >= 3.11; '$(PYTHON)' is: $$v" >&2; \
	  echo "Point make at a newer one, e.g.: make demo PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# DEMO_ARGS: e.g. make demo DEMO_ARGS="--plain --speed 600" or DEMO_ARGS="--policy my.yaml"
DEMO_ARGS ?=

demo: $(STAMP)
	$(BIN)/es-autoscaler demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint --failure-threshold warning Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck imports pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Regenerate the hash-locked requirements (needs network to PyPI).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements/dev.lock
	$(PYTHON) -m uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements/runtime.lock
	$(PYTHON) -m uv pip compile pyproject.toml --extra ansible --generate-hashes --python-version 3.11 -o requirements/ansible.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
