# ContextForge: the two commands (make run, make test) and the rest of the workflow.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 4444
WORKERS ?= 2
export HOST PORT

.PHONY: run test lint format serve worker beat bench migrate clean venv

$(VENV)/.base: requirements/base.txt requirements/prod.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/base.txt -r requirements/prod.txt
	touch $@

$(VENV)/.dev: $(VENV)/.base requirements/dev.txt
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@

venv: $(VENV)/.base

## Serve the embedded default on http://$(HOST):$(PORT) (SQLite, in-memory layers, eager Celery).
run: $(VENV)/.base
	@mkdir -p data
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_admin
	exec $(VENV)/bin/uvicorn contextforge.asgi:application --host $(HOST) --port $(PORT) --lifespan on --timeout-graceful-shutdown 25

## Run the whole test suite (embedded; or PostgreSQL + Redis when DATABASE_URL/REDIS_URL are set).
test: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(VENV)/.base
	@mkdir -p data
	$(PY) manage.py migrate --noinput

## Production-style ASGI server: several worker processes.
serve: $(VENV)/.base
	@mkdir -p data
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	exec $(VENV)/bin/uvicorn contextforge.asgi:application --host $(HOST) --port $(PORT) --workers $(WORKERS) \
		--lifespan on --no-access-log --timeout-graceful-shutdown 25

worker: $(VENV)/.base
	exec $(VENV)/bin/celery -A contextforge worker --loglevel=INFO

beat: $(VENV)/.base
	exec $(VENV)/bin/celery -A contextforge beat --loglevel=INFO

bench: $(VENV)/.dev
	@echo "the benchmark is not written yet (see bench/)"; exit 1

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
