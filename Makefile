# The verbs a newcomer guesses. `make run` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
PORT ?= 3000
DYNAMODB_PORT ?= 8000
EVENT ?= events/create_payment.json
AWS_REGION ?= us-east-1
BUILD_DIR := .aws-sam/build
# pip on these machines warns about configured local mirrors it cannot find; keep the log readable.
QUIET_PIP := { grep -v '^WARNING: Location' || true; }

.PHONY: run test invoke dynamodb lint lint-code lint-template build check-build test-python bench bench-smoke openapi deploy clean

$(STAMP): requirements/dev.txt src/requirements.txt src/requirements-tracing.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt 2>&1 | $(QUIET_PIP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	touch $@

# The SAM CLI pins pydantic; it gets its own venv so the app's dependencies stay free.
$(SAM_STAMP): requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt 2>&1 | $(QUIET_PIP)
	touch $@

run: $(STAMP)  ## serve the API on http://127.0.0.1:$(PORT) with an embedded DynamoDB
	$(PY) -m local.server --port $(PORT)

invoke: $(STAMP)  ## `sam local invoke -e $(EVENT)` without Docker
	$(PY) -m local.invoke $(EVENT)

dynamodb: $(STAMP)  ## only the embedded DynamoDB (with tables), for `sam local ... --env-vars env.json`
	$(PY) -m local.embedded_dynamodb --port $(DYNAMODB_PORT) --create-tables

test: lint check-build bench-smoke test-python  ## everything CI runs (pytest last: its summary closes the log)

lint: lint-code lint-template

lint-code: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lint-template: $(SAM_STAMP)
	AWS_DEFAULT_REGION=$(AWS_REGION) SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	AWS_DEFAULT_REGION=$(AWS_REGION) $(SAM_VENV)/bin/cfn-lint template.yaml

build: $(SAM_STAMP)  ## sam build, no Docker: wheels are picked for the Lambda runtime (see src/Makefile)
	SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --template template.yaml --build-dir $(BUILD_DIR)

check-build: build $(STAMP)  ## the artifacts hold pydantic_core for the runtime's Python and architecture
	$(PY) -m tools.check_artifact $(BUILD_DIR)/PaymentsFunction
	$(PY) -m tools.check_artifact $(BUILD_DIR)/ReconcilerFunction

test-python: $(STAMP)
	$(PY) -m pytest

openapi: $(STAMP)  ## regenerate the committed OpenAPI document from the code
	$(PY) -m tools.openapi > openapi.json

bench: $(STAMP)
	$(PY) -m bench

bench-smoke: $(STAMP)
	$(PY) -m bench --smoke

deploy: build
	$(SAM_VENV)/bin/sam deploy

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
