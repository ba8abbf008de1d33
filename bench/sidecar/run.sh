#!/usr/bin/env bash
# Sidecar overhead: the same k-NN searches straight to OpenSearch (the
# peer) and through the sidecar, same clients, same run; prints ratios.
# Needs a cluster: OPENSEARCH_URL (default http://127.0.0.1:9200).
set -euo pipefail
cd "$(dirname "$0")/../.."
export OPENSEARCH_URL=${OPENSEARCH_URL:-http://127.0.0.1:9200}
exec go run ./bench/sidecar "$@"
