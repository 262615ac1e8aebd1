# notoneless — two commands: `make run` and `make test`. Only python3 and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

.PHONY: run test lint openapi check-openapi bench rebuild-stats clean install

install: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q "uv==$(UV_VERSION)"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet
	@touch $(STAMP)

## Everything up on the embedded default (PostgreSQL + NATS from wheels), demo data, logins printed.
run: $(STAMP)
	$(PY) -m deploy.stack run

## The whole suite against real PostgreSQL, NATS and HTTP (embedded unless NOL_* URLs are set).
test: $(STAMP)
	$(PY) -m pytest -q --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Regenerate openapi/ (one file per service, the gateway's merged file, asyncapi.yaml).
openapi: $(STAMP)
	$(PY) -m deploy.openapi_dump openapi

check-openapi: $(STAMP)
	$(PY) -m deploy.openapi_dump --check openapi

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
