#!/usr/bin/env bash
# Load benchmark (issue 7): knnbridge vs opensearch-py parallel_bulk vs a
# minimal opensearch-go loop, on the cluster at OPENSEARCH_URL, same data,
# same run. Extra arguments go to bench.py (e.g. --n 20000 --dims 128).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${KNNBRIDGE_CACHE_DIR:-$root/.cache}
work=$cache/bench-ingest
mkdir -p "$work/bin"
cd "$root"
go build -o "$work/bin/knnbridge" ./cmd/knnbridge
go build -o "$work/bin/minimal" ./bench/ingest/minimal
go build -o "$work/bin/gen" ./bench/ingest/gen
go build -o "$work/bin/stub" ./bench/ingest/stub
venv=$cache/bench-ingest-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q opensearch-py
fi
"$venv/bin/python" -c 'import opensearchpy; print("opensearch-py", opensearchpy.__version__)'
exec python3 bench/ingest/bench.py --url "${OPENSEARCH_URL:-http://127.0.0.1:9200}" --bin "$work/bin" \
  --python "$venv/bin/python" --work "$work" "$@"
