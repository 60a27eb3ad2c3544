# HealthCommunity: the two commands are `make run` and `make test`; `make help` lists the rest.
# Needs only Python 3.11+ on the machine: everything else goes into .venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python 3.11+ found on PATH; override with `make run PYTHON=/path/to/python3.12`.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# Reinstall only when pyproject.toml is newer than the last install.
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install run test lint format messages worker beat clean

help: ## List the commands
	@echo "HealthCommunity. Usage: make <command>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.11 or newer is needed (none found on PATH; set PYTHON=...)" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its dev tools (only when needed)

run: $(STAMP) ## Migrate, seed the small demo if the database is empty, serve on http://127.0.0.1:8000/
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo --scale small --if-empty
	@echo ""
	@echo "HealthCommunity is starting on http://$(HOST):$(PORT)/"
	@echo "  patient pages      http://$(HOST):$(PORT)/"
	@echo "  staff admin        http://$(HOST):$(PORT)/admin/"
	@echo "  regulator boards   http://$(HOST):$(PORT)/dashboards/"
	@echo "  API docs           http://$(HOST):$(PORT)/api/docs/"
	@echo "  demo logins        the table printed by seed_demo above"
	@echo "Stop with Ctrl-C."
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

test: $(STAMP) ## Run the tests (SQLite by default; honours DATABASE_URL and REDIS_URL; PYTEST_ARGS=...)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy, lint-imports, makemigrations --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(MANAGE) makemigrations --check --dry-run

format: $(STAMP) ## Format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: $(STAMP) ## Update locale/zh_Hans and compile it (needs GNU gettext)
	$(MANAGE) makemessages -l zh_Hans --ignore=.venv --ignore=bench --ignore=tests --ignore=docs
	$(MANAGE) compilemessages -l zh_Hans --ignore=.venv

worker: $(STAMP) ## Run a Celery worker (needs REDIS_URL; without it tasks run in-process anyway)
	@if [ -z "$$REDIS_URL" ]; then echo "error: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run a worker" >&2; exit 1; fi
	$(BIN)/celery -A healthcommunity worker --loglevel INFO

beat: $(STAMP) ## Run Celery beat with the database scheduler (needs REDIS_URL)
	@if [ -z "$$REDIS_URL" ]; then echo "error: set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run beat" >&2; exit 1; fi
	$(BIN)/celery -A healthcommunity beat --loglevel INFO \
		--scheduler django_celery_beat.schedulers:DatabaseScheduler

clean: ## Remove .venv, caches and collected static files (keeps db.sqlite3)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache staticfiles *.egg-info
