# merchstore: `make run` starts the whole system, `make test` runs every check.
# Both create .venv on first use and install what they need; nothing else has to be typed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROTOS := $(wildcard protos/merchstore/protos/*.proto)
GENERATED := $(PROTOS:protos/%.proto=src/%_pb2.py)
WEB    := src/merchstore/common/web
VENDOR := $(WEB)/vendor
DOCS_ASSETS := docs/assets
DOCS_PORT ?= 8200

.PHONY: run docs docs-build docs-assets chaos go-client test test-fast fuzz typecheck suite install system-packages protos web-assets openapi bench bench-event-logger bench-pipeline bench-store bench-logging bench-scale bench-spool bench-outage bench-broker bench-brokers bench-tracing bench-security bench-profile bench-summary wrk clean

run: install
	-scripts/install-system-packages kcat
	$(BIN)/merchstore up

# The documentation site (MkDocs, Material theme): served at http://127.0.0.1:$(DOCS_PORT) and
# rebuilt on every edit; docs-build checks every link and anchor (--strict), as make test does.
docs: install docs-assets
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: install docs-assets
	$(BIN)/mkdocs build --strict --site-dir $(or $(SITE_DIR),site)

# Mermaid, which draws the site's diagrams, from the npm registry at the version
# docs/assets/package-lock.json pins: the site needs no CDN. Never committed.
docs-assets: $(DOCS_ASSETS)/javascripts/mermaid.min.js

$(DOCS_ASSETS)/javascripts/mermaid.min.js: $(DOCS_ASSETS)/package.json $(DOCS_ASSETS)/package-lock.json
	scripts/install-system-packages node npm
	npm ci --prefix $(DOCS_ASSETS) --no-audit --no-fund --loglevel=error
	npm run --prefix $(DOCS_ASSETS) --silent vendor
	touch $@

# The chaos run: up and simulate for CHAOS_MINUTES while a random service process (or, with
# CHAOS_BROKER=kafka, the Kafka node) is killed every 10 to 30 s, then verify.
CHAOS_MINUTES ?= 10
CHAOS_BROKER  ?= embedded

chaos: install
	$(BIN)/python -m merchstore.tools.chaos --minutes $(CHAOS_MINUTES) --broker $(CHAOS_BROKER)

# The Go client of db-service and logging-service (clients/go): its gRPC code generated from
# protos/ by the protoc-gen-go and protoc-gen-go-grpc that go.mod pins; needs Go 1.26 or newer.
go-client: install
	clients/go/build $(BIN)/python

# Tests mostly wait on servers they started (PostgreSQL, the broker, services), so more
# workers than cores pay off: 6 workers on 2 cores take a quarter of one worker's time.
# Work stealing keeps a worker that drew the long tests from finishing last.
TEST_WORKERS ?= 6

test: install system-packages docs-assets
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory -j2 typecheck suite

# The type check runs beside the suite (make test starts both), on the cores the suite leaves.
typecheck: install
	$(BIN)/mypy

# The Docker tests (an image build, the Compose deployment's fourteen containers) run after
# the rest, so that their health checks do not compete with the suite's servers for two cores;
# then every benchmark at its smallest setting (tests/e2e/bench), which loads the cores as it
# measures. Every part always runs; the suite fails if any does.
suite: install system-packages docs-assets
	status=0; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "not docker and not bench" || status=$$?; \
	$(BIN)/pytest -n 2 --dist worksteal -m docker || status=$$?; \
	$(BIN)/pytest -n 2 --dist worksteal -m bench || status=$$?; \
	exit $$status

# The bottom of the test pyramid only: no server, no process, no network (seconds, not minutes).
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest tests/unit

install: $(STAMP) protos web-assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,local]'
	touch $@

# Chromium, ChromeDriver, NGINX, docker-compose and Node.js from Debian, when missing.
system-packages:
	scripts/install-system-packages

# Generated from protos/ by grpcio-tools; never edited by hand, never committed.
protos: $(GENERATED)

src/%_pb2.py: protos/%.proto $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=src --grpc_python_out=src \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=src \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc --mypy_grpc_out=src $<

# The browser libraries (Chart.js and its date adapter for the dashboard, Swagger UI for every
# /docs) from the npm registry, at the versions in package-lock.json; every HTTP service
# serves them at /vendor/ (common/http/browser_assets.py); never committed.
web-assets: $(VENDOR)/.installed

$(VENDOR)/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	scripts/install-system-packages node npm
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error
	npm run --prefix $(WEB) --silent vendor
	touch $@

# Benchmarks print their figures beside their references; wrk comes from Debian's packages.
# `make bench` ends with one table of every goal and writes docs/benchmarks.md with its plots.
bench: bench-event-logger bench-pipeline bench-store bench-logging bench-spool bench-outage bench-scale bench-broker bench-brokers bench-tracing bench-security
	$(BIN)/python -m bench.summary

bench-summary: install
	$(BIN)/python -m bench.summary

bench-event-logger: install
	$(BIN)/python -m bench.event_logger

bench-pipeline: install wrk
	$(BIN)/python -m bench.pipeline

bench-store: install wrk
	$(BIN)/python -m bench.store_api

bench-logging: install wrk
	$(BIN)/python -m bench.logging_service

bench-spool: install wrk
	$(BIN)/python -m bench.log_spool

# store-api's p99 while logging-service is stopped for 120,000 requests, and every line after.
bench-outage: install wrk
	$(BIN)/python -m bench.outage

bench-scale: install wrk system-packages
	$(BIN)/python -m bench.scale

bench-broker: install
	$(BIN)/python -m bench.embedded_broker

# The same measurements on the embedded broker and on Apache Kafka, side by side.
bench-brokers: install wrk system-packages
	$(BIN)/python -m bench.brokers

# What tracing costs the receiver, GET /products and storage ingest: off, at the default 5%, at 10% and at 100%.
bench-tracing: install wrk
	$(BIN)/python -m bench.tracing

# What SASL_SSL Kafka and mutual TLS gRPC cost the receiver and GET /products, against plain.
bench-security: install wrk
	$(BIN)/python -m bench.security

# Where the time goes: a py-spy flame graph of each hot path's service under load, on both
# brokers, into docs/benchmarks/profiles/ (not part of `make bench`: it measures nothing).
bench-profile: install wrk system-packages
	$(BIN)/python -m bench.profile

wrk:
	scripts/install-system-packages wrk

# schemathesis over every HTTP service, and hypothesis over every gRPC method's messages through a
# real channel, with many more examples than the suite's, and a new seed each run (printed, so a failure can be replayed: MERCHSTORE_FUZZ_SEED=<seed> make fuzz).
FUZZ_EXAMPLES ?= 150
fuzz: install system-packages
	@seed=$${MERCHSTORE_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "schemathesis: $(FUZZ_EXAMPLES) examples per operation, seed $$seed"; \
	MERCHSTORE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) MERCHSTORE_FUZZ_SEED=$$seed \
		$(BIN)/pytest -n 3 --timeout 3600 tests/integration/test_schemathesis_all.py \
			tests/integration/test_grpc_fuzz.py

# Regenerate the committed OpenAPI documents and the AsyncAPI one (a test fails while they are stale).
openapi: install
	$(BIN)/merchstore asyncapi > docs/asyncapi.yaml
	for service in event-logger storage receiver processor store-api dashboard; do \
		$(BIN)/merchstore openapi $$service > docs/openapi/$$service.yaml; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache src/merchstore/protos/*_pb2*.py*
