# Mailroom. `make dev` and `make test` are the two commands the README promises; both set up
# everything they need first, idempotently.
SHELL := /bin/bash
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
PYTHON ?= python3
# uv comes from PyPI into the user's Python if it is not on PATH already.
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: setup browser dev screenshots test test-unit test-integration test-infra test-e2e synth deploy bench lint templates clean

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || command -v uv >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests drive Debian's chromium through Playwright (whose own browser download
# needs an internet connection). As root with apt, a missing chromium is installed; otherwise
# the browser tests are skipped with a loud message (MAILROOM_REQUIRE_BROWSER=1 fails them).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing chromium for the browser tests (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "*** No $(CHROMIUM): the browser tests will be skipped. Install it with: sudo apt-get install chromium ***"; \
		fi; \
	fi

## The local stack: API on 127.0.0.1:3000, AWS emulator on 127.0.0.1:4566. Ctrl-C stops it.
dev: setup
	$(VENV)/bin/python -m mailroom_dev.local

## The README's pictures (docs/*.png), taken with the headless chromium the browser tests use.
screenshots: setup browser
	$(VENV)/bin/python -m mailroom_dev.local.console_screenshot --output docs/console.png
	PYTHONPATH=functions:. $(VENV)/bin/python -m mailroom_dev.report_screenshot docs/report.png

## The whole test suite: unit, integration (moto), infra (CDK + cdk-nag), e2e (local stack).
test: setup browser
	$(VENV)/bin/pytest

test-unit: setup
	$(VENV)/bin/pytest tests/unit

test-integration: setup
	$(VENV)/bin/pytest tests/integration

test-infra: setup
	$(VENV)/bin/pytest tests/infra

test-e2e: setup browser
	$(VENV)/bin/pytest tests/e2e

## Synthesize the CloudFormation template into cdk.out/ (offline, no AWS credentials).
synth: setup
	npx cdk synth --quiet

## Deploy to the AWS account in your environment. Pass context, e.g.
##   make deploy CONTEXT="-c sender_domain=mail.example.com -c hosted_zone_id=Z123 -c hosted_zone_name=example.com"
deploy: setup
	npx cdk deploy $(CONTEXT)

## The figures in bench/ (code and results together): one table, bench/results.json.
bench: setup
	PYTHONPATH=functions:. $(VENV)/bin/python -m bench

## ruff, mypy (with the pydantic plugin) on functions/, infra/ and mailroom_dev/, and the
## compiled templates up to date.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m mailroom_dev.templates_build --check

## Rebuild functions/mailroom/compiled_templates.json from templates/.
templates: setup
	$(VENV)/bin/python -m mailroom_dev.templates_build

clean:
	rm -rf $(VENV) node_modules cdk.out .mailroom .pytest_cache .ruff_cache .mypy_cache
