# Twostep: `make serve` runs the portal, `make test` runs every check. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/twostep

.PHONY: serve test lint typecheck migrations-check unit e2e system-deps services install clean

# The install also compiles the translations (locale/*.po -> .mo, not committed) with GNU
# gettext's msgfmt, installed first when missing.
PO_FILES := $(wildcard src/twostep/locale/*/LC_MESSAGES/django.po)

$(STAMP): pyproject.toml $(PO_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@command -v msgfmt >/dev/null 2>&1 || $(MAKE) --no-print-directory system-deps SYSTEM_TOOLS=msgfmt:gettext
	cd src/twostep/locale && $(CURDIR)/$(BIN)/python -m twostep compilemessages  # only LOCALE_PATHS
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m twostep migrate --noinput
	$(BIN)/python -m twostep ensure_demo --url http://127.0.0.1:$(PORT)
	mkdir -p var
	$(BIN)/gunicorn twostep.wsgi:application --bind 127.0.0.1:$(PORT) --workers 2 \
		--control-socket $(CURDIR)/var/gunicorn-$(PORT).ctl \
		--forwarded-allow-ips ''

# Debian packages for the end-to-end tests: a real browser, TOTP generator and QR decoder;
# and msgfmt (gettext), which compiles the translations. command:package pairs.
SYSTEM_TOOLS ?= chromium:chromium oathtool:oathtool zbarimg:zbar-tools nginx:nginx msgfmt:gettext
system-deps:
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
		cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis on 127.0.0.1:6379, started when down.
services:
	@if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
		echo "Starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start; \
		for i in $$(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done; \
	fi
	@pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
		echo "Starting Redis"; mkdir -p /var/lib/redis /var/log/redis; \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			--dir /var/lib/redis --logfile /var/log/redis/ci.log; \
		for i in $$(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done; \
	fi
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

migrations-check: $(STAMP)
	TWOSTEP_DATA_DIR=$$(mktemp -d) $(BIN)/python -m twostep makemigrations --check --dry-run

unit: $(STAMP)
	$(BIN)/pytest -m "not e2e"

e2e: $(STAMP) system-deps services node-deps
	$(BIN)/pytest -m e2e

# Everything on SQLite (end-to-end included), then every database test again on PostgreSQL.
test: $(STAMP) system-deps services node-deps lint typecheck migrations-check
	$(BIN)/pytest $(PYTEST_ARGS)
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -m "not e2e" -p no:cacheprovider -q

clean:
	rm -rf $(VENV) var

# Several instances: nginx on 127.0.0.1:$(CLUSTER_PORT) in front of 3 gunicorn instances
# (127.0.0.1:8101-8103, 2 workers each) on one PostgreSQL database and one Redis; runs in the
# background. Stop: deploy/cluster.sh stop; state: deploy/cluster.sh status (docs/deployment.md).
CLUSTER_PORT ?= 8080
.PHONY: cluster
cluster: $(STAMP) system-deps services
	CLUSTER_PORT=$(CLUSTER_PORT) deploy/cluster.sh start

# axe-core for the accessibility tests (tests/e2e/package.json, pinned by package-lock.json),
# installed from the npm registry when tests/e2e/node_modules is missing.
.PHONY: node-deps
node-deps:
	@test -f tests/e2e/node_modules/axe-core/axe.min.js || npm ci --prefix tests/e2e
