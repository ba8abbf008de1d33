# knnbridge — build, test and run everything from here.
#
# Issue-specific prerequisites live in mk/*.mk: each appends to
# TEST_PREREQS (things `make test` needs before running, such as the
# embedding model) so that packages can grow without editing this file.

SHELL := /bin/bash
GO ?= go
CACHE_DIR ?= $(CURDIR)/.cache
export KNNBRIDGE_CACHE_DIR := $(CACHE_DIR)

TEST_PREREQS :=
-include mk/*.mk

.PHONY: build test unit-test exhaustive-test integration-test integration-test-3x opensearch-up opensearch-down opensearch-status demo bench lint

build:
	$(GO) build -o bin/knnbridge ./cmd/knnbridge

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...
	$(GO) vet -tags exhaustive ./ingest/

unit-test: $(TEST_PREREQS)
	$(GO) test ./...
	$(GO) test -tags purego ./native/...

# Integration tests run against OPENSEARCH_URL when it is set; otherwise a
# local OpenSearch (with the k-NN plugin) is provisioned for the run and
# stopped afterwards.
integration-test: $(TEST_PREREQS)
	@if [ -n "$$OPENSEARCH_URL" ]; then \
	  echo "integration tests against OPENSEARCH_URL=$$OPENSEARCH_URL"; \
	  $(GO) test -tags integration -count=1 -timeout 20m ./integration/...; \
	elif url=$$(compose/local.sh status 2>/dev/null); then \
	  echo "integration tests against the running local node $$url"; \
	  OPENSEARCH_URL=$$url $(GO) test -tags integration -count=1 -timeout 20m ./integration/...; \
	else \
	  url=$$(KNNBRIDGE_OPENSEARCH_WRITE_QUEUE=$(TEST_WRITE_QUEUE) compose/local.sh up) || exit 1; \
	  trap 'compose/local.sh down' EXIT; \
	  echo "integration tests against a node provisioned for this run: $$url"; \
	  OPENSEARCH_URL=$$url $(GO) test -tags integration -count=1 -timeout 20m ./integration/...; \
	fi

# The newest OpenSearch line runs the tests whose outcome depends on the
# version (cluster info, mapping rules, score conversions, queries) on a
# second node provisioned for the run. Skipped when OPENSEARCH_URL names the
# cluster to test.
OPENSEARCH_3X_VERSION ?= 3.5.0
INTEGRATION_3X_TESTS ?= TestClusterInfo|TestLuceneHNSWRecall|TestBM25Match|TestMapping|TestIndexPlanApply|TestQueries
integration-test-3x: $(TEST_PREREQS)
	@if [ -n "$$OPENSEARCH_URL" ]; then \
	  echo "integration-test-3x: skipped, OPENSEARCH_URL is set"; exit 0; \
	fi; \
	export KNNBRIDGE_OPENSEARCH_VERSION=$(OPENSEARCH_3X_VERSION); \
	if url=$$(compose/local.sh status 2>/dev/null); then \
	  echo "$(OPENSEARCH_3X_VERSION) tests against the running local node $$url"; \
	else \
	  url=$$(compose/local.sh up) || exit 1; \
	  trap 'compose/local.sh down' EXIT; \
	  echo "$(OPENSEARCH_3X_VERSION) tests against a node provisioned for this run: $$url"; \
	fi; \
	OPENSEARCH_URL=$$url $(GO) test -tags integration -count=1 -timeout 20m -run '^($(INTEGRATION_3X_TESTS))' ./integration/...

# Every positive finite float32 through the loader's float formatter
# against strconv (about 2 minutes on 2 cores).
exhaustive-test:
	$(GO) test -tags exhaustive -count=1 -timeout 30m -run Exhaustive ./ingest/

test: lint unit-test exhaustive-test integration-test integration-test-3x

opensearch-up:
	@compose/local.sh up

opensearch-down:
	@compose/local.sh down

opensearch-status:
	@compose/local.sh status

demo: build
	@url=$${OPENSEARCH_URL:-$$(compose/local.sh up)} && OPENSEARCH_URL=$$url ./bin/knnbridge demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
