# ReadyFloor — two commands: `make run` and `make test`.
PYTHON ?= python3
# Test processes (pytest-xdist): each has its own test database, Celery queue and worker.
TEST_WORKERS ?= 2
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test install lint bench bench-ingest bench-agent bench-evaluate bench-capacity bench-faults bench-reconnect bench-reports bench-dashboards clean-data

# Two stamps: `make run` installs only what runs the product (requirements.txt); `make test` and
# the other developer targets add the test tools (requirements-dev.txt) on top.
$(RUN_STAMP): requirements.txt agent/pyproject.toml
	@# Report PDFs (WeasyPrint) need Debian's pango and a font; installed here if missing (needs root).
	@ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' && fc-list 2>/dev/null | grep -qi 'DejaVu Sans' || \
		(echo "installing Debian's pango and DejaVu fonts for the report PDFs"; \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		   libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core) >/dev/null)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Run the product with a demo floor (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set).
run: $(RUN_STAMP)
	$(PY) manage.py serve --demo $(if $(FIX_AFTER),--fix-after $(FIX_AFTER))

## The whole test suite (needs Debian's chromium for the browser tests; installed here if missing).
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		(echo "installing Debian's chromium for the browser tests"; \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null)
	@command -v tc >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || \
		(echo "installing iproute2 (ip netns, tc) for bench/faults"; \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2) >/dev/null)
	CELERY_QUEUE=$${CELERY_QUEUE:-readyfloor-test-$$$$} $(PY) -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: bench-ingest bench-agent bench-evaluate bench-reconnect

bench-ingest: $(STAMP)
	$(PY) bench/ingest

bench-agent: $(STAMP)
	$(PY) bench/agent

## The largest floor this machine holds (goals 50k seats at 60 s, 100k at 5 min); long: tens of minutes.
bench-capacity: $(STAMP)
	$(PY) bench/capacity

bench-reconnect: $(STAMP)
	$(PY) bench/reconnect

## Server time of the floor map, shift board (500 seats) and fleet overview (100k seats, 90 days).
bench-dashboards: $(STAMP)
	$(PY) bench/dashboards

## Kills and network cuts on a reporting floor: 0 lost, 0 duplicated, all evaluated (needs root for ip netns/tc).
bench-faults: $(STAMP)
	@command -v tc >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2) >/dev/null
	$(PY) bench/faults
	$(PY) bench/faults --broker rabbitmq

bench-evaluate: $(STAMP)
	$(PY) bench/evaluate

clean-data:
	rm -rf var

## A 10k-seat floor's report, CSV and PDF, timed part by part (goal 20 s); a few minutes.
bench-reports: $(STAMP)
	$(PY) bench/reports
