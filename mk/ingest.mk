# ingest: the 429 integration test (integration/ingest_test.go) needs a node
# whose write thread pool queue is small, so that many concurrent tiny bulk
# requests are really rejected. compose/local.sh reads this when `make test`
# provisions the node; an already running node keeps its own value (the
# test then skips and says so). Override on the command line if needed.
export KNNBRIDGE_OPENSEARCH_WRITE_QUEUE ?= 8

.PHONY: bench-ingest
# Side-by-side load benchmark: knnbridge vs opensearch-py parallel_bulk vs a
# minimal opensearch-go loop (needs a cluster: OPENSEARCH_URL).
bench-ingest:
	bench/ingest/run.sh
