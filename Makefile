# The verbs a newcomer guesses. `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
LOAD_VENV := .venv-load
PY := $(VENV)/bin/python
# One venv, two layers: `make run` installs the run set only; `make test` adds the dev tools on top.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-dev
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# What the SAM transform makes of template.yaml (tests/template/sam_transform.py), scanned by checkov too.
TRANSFORMED := .aws-sam/transformed-template.json
GLOBAL_TEMPLATE := $(dir $(TRANSFORMED))template-global.yaml
GLOBAL_LAYOUT := TableReplication=MRSC TableNamePrefix=payments ReplicaRegion=us-east-2 WitnessRegion=us-west-2
LOAD_STAMP := $(LOAD_VENV)/.installed
PORT ?= 3000
DYNAMODB_PORT ?= 8000
STRIPE_DOUBLE_PORT ?= 12111
CONCURRENCY ?= 4
STATE ?=
EVENT ?= events/create_payment.json
# `make enqueue`: empty means local.enqueue's defaults (the banner's body, a new key, the local merchant).
BODY ?=
KEY ?=
MERCHANT ?=
COUNT ?= 1
AWS_REGION ?= us-east-1
BUILD_DIR := .aws-sam/build
# Set-up lines and pip go to stderr, so `make invoke | jq` sees the function's JSON alone.
STEP = @echo "setup: $(1)" >&2
# pip on these machines warns about configured local mirrors it cannot find; keep the log readable.
QUIET_PIP := { grep -v '^WARNING: Location' || true; } >&2
PIP = --quiet --disable-pip-version-check

.PHONY: demo-timeout sam
.PHONY: help run enqueue demo invoke load dynamodb stripe-double test lint lint-code lint-template build check-build \
	test-python bench bench-smoke openapi deploy clean

help:  ## list the targets
	@echo "make TARGET [VAR=value]   (README.md: Running locally, Testing)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
		awk -F'\t' '{ printf "  make %-13s %s\n", $$1, $$2 }'

# A venv is usable once its pip runs: one cut short (Ctrl-C during `python -m venv`) is made again, never kept.
# $(call MAKE_VENV,dir), first in each stamp's recipe (the stamp is touched last): idempotent and self-healing.
MAKE_VENV = $(1)/bin/python -m pip --version >/dev/null 2>&1 || { echo "setup: creating $(1) with $$($(PYTHON) --version 2>&1)" >&2; \
	rm -rf $(1) && $(PYTHON) -m venv $(1); }

# --no-compile: Python compiles what it imports on first use, instead of pip compiling all of botocore and moto.
$(RUN_STAMP): requirements/run.txt src/requirements.txt pyproject.toml client/pyproject.toml
	@$(call MAKE_VENV,$(VENV))
	$(call STEP,installing the run set: function runtime + local tools (requirements/run.txt))
	@$(VENV)/bin/pip install $(PIP) --no-compile -r requirements/run.txt 2>&1 | $(QUIET_PIP)
	$(call STEP,installing this project and its client (editable: payments_service, local, tools, payments_client))
	@$(VENV)/bin/pip install $(PIP) --no-deps -e . -e ./client 2>&1 | $(QUIET_PIP)
	@touch $@

$(STAMP): $(RUN_STAMP) requirements/dev.txt src/requirements-tracing.txt
	$(call STEP,installing the dev tools: pytest ruff mypy schemathesis matplotlib (requirements/dev.txt))
	@$(VENV)/bin/pip install $(PIP) -r requirements/dev.txt 2>&1 | $(QUIET_PIP)
	@touch $@

# The SAM CLI pins pydantic; it gets its own venv so the app's dependencies stay free.
$(SAM_STAMP): requirements/sam.txt
	$(call STEP,creating $(SAM_VENV) with the SAM CLI and cfn-lint (requirements/sam.txt))
	@$(call MAKE_VENV,$(SAM_VENV))
	@$(SAM_VENV)/bin/pip install $(PIP) -r requirements/sam.txt 2>&1 | $(QUIET_PIP)
	@touch $@

$(CHECKOV_STAMP): requirements/checkov.txt
	$(call STEP,creating $(CHECKOV_VENV) with checkov (requirements/checkov.txt))
	@$(call MAKE_VENV,$(CHECKOV_VENV))
	@$(CHECKOV_VENV)/bin/pip install $(PIP) -r requirements/checkov.txt 2>&1 | $(QUIET_PIP)
	@touch $@

$(LOAD_STAMP): requirements/load.txt
	$(call STEP,creating $(LOAD_VENV) with locust (requirements/load.txt))
	@$(call MAKE_VENV,$(LOAD_VENV))
	@$(LOAD_VENV)/bin/pip install $(PIP) -r requirements/load.txt 2>&1 | $(QUIET_PIP)
	@touch $@

run: $(RUN_STAMP)  ## the API on 127.0.0.1 and the payment-request queue [PORT=3000] [CONCURRENCY=4] [STATE=file to keep data across restarts]
	@$(PY) -m local.server --port $(PORT) --concurrency $(CONCURRENCY) $(if $(STATE),--state $(STATE))

enqueue: $(RUN_STAMP)  ## send a payment request to the running `make run`'s queue [PORT] [BODY=json] [KEY] [MERCHANT] [COUNT=1]
	@$(PY) -m local.enqueue --port $(PORT) --count $(COUNT) $(if $(BODY),--body '$(BODY)') \
		$(if $(KEY),--key '$(KEY)') $(if $(MERCHANT),--merchant '$(MERCHANT)')

stripe-double: $(STAMP)  ## the Stripe test double, for `make run PAYMENT_PROCESSOR=stripe` (it prints how)
	$(PY) -m tests.stripe_double --port $(STRIPE_DOUBLE_PORT)

invoke: $(RUN_STAMP)  ## `sam local invoke -e` without Docker, API or SQS events [EVENT="a.json b.json"]: only the function's JSON on stdout
	@$(PY) -m local.invoke $(EVENT)

demo-timeout: $(RUN_STAMP)  ## the timeout scenario: a proxy drops the answer, the client retries with the same key, one charge
	@$(PY) -m local.demo_timeout

# The SAM CLI lives in .venv-sam (kept apart: it pins pydantic), not on PATH: `make sam ARGS="local invoke ..."`.
sam: $(SAM_STAMP)  ## the SAM CLI from .venv-sam [ARGS="build" | ARGS="local invoke PaymentsFunction -e events/create_payment.json"]
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam $(ARGS)

demo: $(RUN_STAMP)  ## the events in order on one embedded DynamoDB: create, replay, 422, GET, decline
	@$(PY) -m local.demo

load: $(RUN_STAMP) $(LOAD_STAMP)  ## locust, headless, on a fresh local server: req/s, p50, p99, errors, latency as data grows [LOAD_ARGS=--help]
	@$(LOAD_VENV)/bin/python -m local.load --server-python $(PY) $(LOAD_ARGS)

dynamodb: $(RUN_STAMP)  ## only the embedded DynamoDB (with tables), for `sam local ... --env-vars env.json`
	@$(PY) -m local.embedded_dynamodb --port $(DYNAMODB_PORT) --create-tables

test: lint check-build bench-smoke test-python  ## everything CI runs (pytest last: its summary closes the log)

lint: lint-code lint-template  ## ruff, ruff format, mypy --strict, sam validate --lint, cfn-lint

lint-code: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# checkov runs offline (--skip-download: no Prisma Cloud guidelines); the suppressions are in template.yaml,
# each with its reason, and carried onto what the SAM transform generates.
lint-template: $(SAM_STAMP) $(CHECKOV_STAMP)
	AWS_DEFAULT_REGION=$(AWS_REGION) SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	AWS_DEFAULT_REGION=$(AWS_REGION) $(SAM_VENV)/bin/cfn-lint template.yaml
	mkdir -p $(dir $(TRANSFORMED))
	AWS_DEFAULT_REGION=$(AWS_REGION) $(SAM_VENV)/bin/python tests/template/sam_transform.py --checkov template.yaml > $(TRANSFORMED)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f template.yaml -f $(TRANSFORMED)
	# and the global tables' layout (MRSC with a witness), which the defaults leave out
	$(SAM_VENV)/bin/python tests/template/with_defaults.py template.yaml $(GLOBAL_LAYOUT) > $(GLOBAL_TEMPLATE)
	AWS_DEFAULT_REGION=$(AWS_REGION) $(SAM_VENV)/bin/cfn-lint $(GLOBAL_TEMPLATE)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		-f $(GLOBAL_TEMPLATE)

build: $(SAM_STAMP)  ## sam build, no Docker: wheels are picked for the Lambda runtime (see src/Makefile)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --template template.yaml --build-dir $(BUILD_DIR)

check-build: build $(STAMP)  ## the artifacts hold pydantic_core for the runtime's Python and architecture
	$(PY) -m tools.check_artifact $(BUILD_DIR)/PaymentsFunction
	$(PY) -m tools.check_artifact $(BUILD_DIR)/ReconcilerFunction
	$(PY) -m tools.check_artifact $(BUILD_DIR)/StripeWebhookFunction
	$(PY) -m tools.check_artifact $(BUILD_DIR)/PaymentQueueFunction

# Branch coverage of src/ as the in-process tests run it (pyproject.toml [tool.coverage]): 95.2% when the floor
# was set; the floor leaves room for the randomized suites' variation and catches untested code landing.
COVERAGE_FLOOR := 92

test-python: $(STAMP) $(SAM_STAMP)  ## the pytest suite alone, with branch coverage and its floor (tests/template runs the SAM transform from .venv-sam)
	$(PY) -m pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

openapi: $(STAMP)  ## regenerate the committed OpenAPI document from the code
	$(PY) -m tools.openapi > openapi.json

bench: $(STAMP)  ## ours vs Powertools, side by side (about 3 minutes)
	$(PY) -m bench

bench-smoke: $(STAMP)
	$(PY) -m bench --smoke

deploy: build  ## sam deploy with samconfig.toml (needs AWS credentials)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam deploy

clean:  ## remove build and tool caches (not the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
