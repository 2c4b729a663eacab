# Skyreel. `make dev` runs the whole platform locally; `make test` runs every check. Both set up
# everything they need on a fresh machine (uv + the locked Python environment, and npm for the CDK CLI).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON) -m uv
PYTEST_WORKERS ?= 2

export UV_PYTHON_DOWNLOADS := never
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# This machine has Node 20, past its end of life; jsii still runs on it. Node 22+ silences this by itself.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test setup lint complexity typecheck logic unit integration infra synth invoke reindex bench coverage clean openapi fuzz demo replay-analytics
.PHONY: deploy destroy smoke localstack-deploy localstack-smoke

## The locked Python environment (runtime, local cloud, CDK and dev tools).
$(VENV)/.synced: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@

## The CDK CLI, pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.synced node_modules/.installed

## The dashboard (web/, docs/dashboard.md): its npm packages, then the Vite build into web/dist, which the
## local cloud serves at / and the CDK app ships to the web bucket. Both steps are skipped when up to date.
.PHONY: web chromium e2e
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build
	@touch $@

web: web/dist/index.html

## Debian's Chromium for the browser tests (tests/e2e): installed with apt where it is missing (needs root).
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] || { echo "the browser tests need Debian's chromium: apt-get install chromium"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

e2e: $(VENV)/.synced web chromium  ## the browser tests alone: sign up, upload, play, search, keys in Chromium
	$(VENV)/bin/pytest tests/e2e -q

dev: $(VENV)/.synced web  ## the platform on http://127.0.0.1:8000 (PORT=... to change; ARGS=--no-state etc. passed on); Ctrl-C to stop
	$(PY) -m infra.local $(ARGS)

lint: $(VENV)/.synced complexity
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Cyclomatic complexity (radon ranks): no block worse than C (<= 20 paths), no module worse than B on
## average, the whole code A on average. The cookbook gates at B/A/A; C admits the few protocol parsers
## (the policy builder, the local gateway's request translation) that read best as one function.
complexity: $(VENV)/.synced
	$(VENV)/bin/xenon --max-absolute C --max-modules B --max-average A functions infra bench cli

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy functions infra bench cli

logic: $(VENV)/.synced  ## the use cases on in-memory fakes with the network off, and the fake-vs-adapter contracts: seconds
	$(VENV)/bin/pytest tests/logic tests/contract -n $(PYTEST_WORKERS) -q

unit: $(VENV)/.synced
	$(VENV)/bin/pytest tests/unit -n $(PYTEST_WORKERS) -q

integration: $(VENV)/.synced web
	$(VENV)/bin/pytest tests/integration -n $(PYTEST_WORKERS) -q

infra: setup
	$(VENV)/bin/pytest tests/infra -n $(PYTEST_WORKERS) -q

## The integration, CLI and smoke suites each start a local cloud inside the test process, and moto's
## state belongs to the process: another cloud, or a unit test's `mock_aws` (which resets moto's backends),
## in the same xdist worker would wipe its tables and streams. So each runs in a pytest run of its own
## (the browser tests' cloud is a process of its own: they go with the integration suite).
CLOUD_SUITES := tests/integration tests/cli tests/smoke
test: setup lint typecheck web chromium  ## lint, types, then unit + integration + infra tests in parallel
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q $(addprefix --ignore=,$(CLOUD_SUITES))
	$(VENV)/bin/pytest tests/integration -n $(PYTEST_WORKERS) -q
	$(VENV)/bin/pytest tests/cli -n $(PYTEST_WORKERS) -q
	$(VENV)/bin/pytest tests/smoke -n $(PYTEST_WORKERS) -q

openapi: $(VENV)/.synced  ## docs/openapi.json from the handlers (commit it: tests/unit/test_openapi.py checks it is current)
	$(PY) -m infra.openapi

FUZZ_SECONDS ?= 75
fuzz: $(VENV)/.synced  ## schemathesis against a local cloud, anonymous then signed in, FUZZ_SECONDS each (issue 15)
	$(PY) -m tests.fuzz.run --max-time $(FUZZ_SECONDS)

SYNTH_OUT ?= cdk.out
synth: setup  ## the CloudFormation templates into cdk.out/, offline (the layer build: npx cdk synth)
	npx cdk synth -q -c skyreel:bundling=false -o $(SYNTH_OUT)

## --- AWS (docs/deploy.md) ---------------------------------------------------------------------------
# STAGE=dev (the default here) deletes its data with the stack; STAGE=prod retains it.
STAGE ?= dev
# The layer is built by local bundling with the project's own uv (infra/aws/layer.py reads SKYREEL_UV).
CDK_ENV := SKYREEL_UV="$(UV)"
CDK_CONTEXT = -c stage=$(STAGE) $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL))
deploy: setup  ## deploy to the current AWS account/region: make deploy STAGE=dev|prod [ALARM_EMAIL=you@example.com]
	$(PY) -m infra.aws.preflight --stage $(STAGE)
	@if grep -qE '^web:' Makefile; then $(MAKE) web; else echo "no 'make web' here: the dashboard is deployed from web/dist if it is built"; fi
	$(CDK_ENV) npx cdk deploy Skyreel-$(STAGE) $(CDK_CONTEXT) --require-approval $(if $(filter prod,$(STAGE)),broadening,never) \
		--outputs-file cdk.out/outputs-$(STAGE).json
	@echo "smoke test it: make smoke URL=$$($(PY) -c 'import json,sys; print(json.load(open(sys.argv[1]))["Skyreel-$(STAGE)"]["CdnUrl"])' cdk.out/outputs-$(STAGE).json)"

destroy: setup  ## delete the stack: make destroy STAGE=dev (dev deletes its data; prod keeps and lists it)
	$(CDK_ENV) npx cdk destroy Skyreel-$(STAGE) $(CDK_CONTEXT) -c skyreel:bundling=false --force
	$(PY) -m infra.aws.teardown --stage $(STAGE)

smoke: $(VENV)/.synced  ## the golden path against a deployed platform: make smoke URL=https://<CdnUrl> (without URL: a local cloud)
	SMOKE_URL="$(URL)" $(VENV)/bin/pytest tests/smoke -q

LOCALSTACK_ENDPOINT ?= http://localhost:4566
localstack-deploy: setup  ## deploy to a running LocalStack with cdklocal, dependencies folded into each zip (no layers there)
	$(CDK_ENV) AWS_ENDPOINT_URL=$(LOCALSTACK_ENDPOINT) npx cdklocal bootstrap -c stage=local -c skyreel:packaging=bundled
	$(CDK_ENV) AWS_ENDPOINT_URL=$(LOCALSTACK_ENDPOINT) npx cdklocal deploy Skyreel-local -c stage=local \
		-c skyreel:packaging=bundled --require-approval never

localstack-smoke: $(VENV)/.synced  ## the smoke suite against the stack `make localstack-deploy` made
	LOCALSTACK_ENDPOINT=$(LOCALSTACK_ENDPOINT) $(VENV)/bin/pytest tests/smoke -q -m localstack

invoke: $(VENV)/.synced  ## make invoke FN=platform EVENT=events/apigw-rest-get-health.json
	$(PY) -m infra.local.invoke $(FN) $(EVENT)

reindex: $(VENV)/.synced  ## rebuild the search index from the videos table: make reindex ENDPOINT=<the AWS endpoint `make dev` printed>
	@test -n "$(ENDPOINT)" || { echo "give ENDPOINT=<the AWS endpoint make dev printed>; in AWS: aws lambda invoke --function-name <search indexer> --invocation-type Event --payload file://events/search-reindex.json"; exit 2; }
	$(PY) -m infra.local.invoke search_indexer events/search-reindex.json --endpoint $(ENDPOINT)

replay-analytics: $(VENV)/.synced  ## rebuild the viewer-analytics read models from the view event store: make replay-analytics ENDPOINT=<the AWS endpoint `make dev` printed>
	@test -n "$(ENDPOINT)" || { echo "give ENDPOINT=<the AWS endpoint make dev printed>; in AWS: aws lambda invoke --function-name <analytics projector> --payload file://events/analytics-replay.json out.json"; exit 2; }
	$(PY) -m infra.local.invoke analytics_projector events/analytics-replay.json --endpoint $(ENDPOINT)

bench: $(VENV)/.synced  ## the benchmarks, each printing ratios against a baseline from the same run
	$(PY) -m bench.run

coverage: $(VENV)/.synced  ## line and branch coverage of functions/ and infra/ over the whole suite
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q --cov=functions --cov=infra --cov-branch --cov-report=term:skip-covered

## The CLI (`.venv/bin/skyreel`, cli/) is installed by the environment's sync; docs/cli.md.
DEMO_API ?= http://127.0.0.1:$(or $(PORT),8000)
demo: $(VENV)/.synced  ## with `make dev` running: a demo account, a generated clip uploaded and played, the links
	$(PY) -m cli.demo --api-url $(DEMO_API)

clean:
	rm -rf $(VENV) node_modules cdk.out .mypy_cache .ruff_cache .pytest_cache
