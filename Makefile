# Twostep: `make serve` runs the portal, `make test` runs every check. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: serve test lint typecheck migrations-check unit e2e system-deps install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/python -m twostep migrate --noinput
	$(BIN)/python -m twostep ensure_demo
	$(BIN)/gunicorn twostep.wsgi:application --bind 127.0.0.1:$(PORT) --workers 2 \
		--access-logfile - --forwarded-allow-ips '' 

# Debian packages for the end-to-end tests: a real browser, TOTP generator and QR decoder.
system-deps:
	@missing=""; \
	for pair in chromium:chromium oathtool:oathtool zbarimg:zbar-tools; do \
		cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

migrations-check: $(STAMP)
	TWOSTEP_DATA_DIR=$$(mktemp -d) $(BIN)/python -m twostep makemigrations --check --dry-run

unit: $(STAMP)
	$(BIN)/pytest -m "not e2e"

e2e: $(STAMP) system-deps
	$(BIN)/pytest -m e2e

test: $(STAMP) system-deps lint typecheck migrations-check
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
