# ingest: the 429 integration test (integration/ingest_test.go) needs a node
# whose write thread pool queue is small, so that many concurrent tiny bulk
# requests are really rejected. The Makefile's integration-test target
# passes it to compose/local.sh only for the node it provisions for the test
# run (never for `make demo` or `make opensearch-up`); an already running
# node keeps its own value (the test then skips outside CI and fails under
# CI=true). Override on the command line if needed.
TEST_WRITE_QUEUE ?= 8

.PHONY: bench-ingest
# Side-by-side load benchmark: knnbridge vs opensearch-py parallel_bulk vs a
# minimal opensearch-go loop (needs a cluster: OPENSEARCH_URL).
bench-ingest:
	bench/ingest/run.sh
