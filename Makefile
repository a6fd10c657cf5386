# The two commands of the README, and the steps they are made of.
#   make example   install, then audit the shipped example offline (pytest --sandbox)
#   make test      install, then lint, type-check and run our tests (what CI runs)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test install lint typecheck unit bench

example: install
	$(BIN)/pytest --sandbox; status=$$?; \
	  echo "(pytest exit $$status: the example pipeline has deliberate defects, so NO-GO is expected)"

test: install lint typecheck unit

install: $(VENV)/.installed
	bash sandbox/install_emulators.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy checks reporting readiness
	$(BIN)/mypy --strict sandbox

unit:
	$(BIN)/pytest -c tests/pytest.ini tests -n 2 --dist loadfile --durations=20

bench: install
	$(BIN)/python -m bench
