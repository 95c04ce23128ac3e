# ContextForge: the two commands (make run, make test) and the rest of the workflow.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 4444
WORKERS ?= 2
# ASGI server of `make serve`: uvicorn, granian or daphne (chosen by measurement: `make bench`).
SERVER ?= uvicorn
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
	@if [ -z "$(REDIS_URL)" ] && [ "$(WORKERS)" != "1" ]; then echo "make serve: REDIS_URL is not set, so sessions and \
	streams cannot be shared between processes: serving with 1 worker (set REDIS_URL to run $(WORKERS))"; fi
	exec $(SERVE_$(SERVER))

# Without Redis, sessions and server→client streams live in one process: one worker only.
SERVE_WORKERS = $(if $(REDIS_URL),$(WORKERS),1)
SERVE_uvicorn = $(VENV)/bin/uvicorn contextforge.asgi:application --host $(HOST) --port $(PORT) --workers $(SERVE_WORKERS) \
	--lifespan on --no-access-log --timeout-graceful-shutdown 25
SERVE_granian = $(VENV)/bin/granian contextforge.asgi:application --interface asgi --host $(HOST) --port $(PORT) \
	--workers $(SERVE_WORKERS) --loop uvloop --no-access-log --log-level warning --workers-kill-timeout 25
SERVE_daphne = $(PY) -m bench.daphne_workers contextforge.asgi:application --host $(HOST) --port $(PORT) --workers $(SERVE_WORKERS)
ifeq ($(SERVE_$(SERVER)),)
$(error SERVER must be uvicorn, granian or daphne, not '$(SERVER)')
endif

worker: $(VENV)/.base
	exec $(VENV)/bin/celery -A contextforge worker --loglevel=INFO

beat: $(VENV)/.base
	exec $(VENV)/bin/celery -A contextforge beat --loglevel=INFO

## The benchmark (bench/README.md): gateway vs direct vs the ContextForge peer; BENCH_ARGS="--quick" for a short run.
bench: $(VENV)/.dev
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
