# ReadyFloor — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench bench-ingest bench-agent bench-evaluate clean-data

$(STAMP): requirements.txt requirements-dev.txt agent/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Run the product with a demo floor (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set).
run: $(STAMP)
	$(PY) manage.py serve --demo $(if $(FIX_AFTER),--fix-after $(FIX_AFTER))

## The whole test suite (needs Debian's chromium for the browser tests; installed here if missing).
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		(echo "installing Debian's chromium for the browser tests"; \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: bench-ingest bench-agent bench-evaluate

bench-ingest: $(STAMP)
	$(PY) bench/ingest

bench-agent: $(STAMP)
	$(PY) bench/agent

bench-evaluate: $(STAMP)
	$(PY) bench/evaluate

clean-data:
	rm -rf var
