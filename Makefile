# Kairos: the two commands of the quick start are `make run` and `make test`.
# Everything goes into a local virtual environment (.venv); nothing is installed system-wide.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ADDR ?= 127.0.0.1:8000
# pytest-xdist workers for `make test` (a number, or auto: one per core)
TEST_WORKERS ?= auto

.PHONY: run test lint format benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## run: install, migrate, load the demo data, then run the web server and the worker (Ctrl-C stops both)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runkairos --addr $(ADDR)

## test: install, lint, and run the whole test suite (SQLite, or DATABASE_URL when it is set)
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## benchmark: every suite on SQLite, then delivery, chaos, crisis and api on a throwaway PostgreSQL + Redis;
## the figures are printed as JSON and saved in benchmarks/results/
benchmark: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,production]'  # the api suite serves with gunicorn
	$(BIN)/python -m benchmarks --save
	bash .ci/services.sh sh -c '$(BIN)/python -m benchmarks delivery chaos crisis api --save \
	  --label postgresql-redis --database-url "$$KAIROS_SERVICES_DATABASE_URL" \
	  --redis-url "$$KAIROS_SERVICES_REDIS_URL"'

clean:
	rm -rf $(VENV) var staticfiles
