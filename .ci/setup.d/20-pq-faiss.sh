#!/usr/bin/env bash
# pq/: the faiss interop test (pq/faiss_interop_test.go) round-trips index
# files through Debian's python3-faiss; under CI=true it fails rather than
# skips when faiss cannot be imported. Idempotent.
set -euo pipefail
if /usr/bin/python3 -c 'import faiss, numpy' >/dev/null 2>&1; then
  echo "pq: python3-faiss already importable"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-faiss python3-numpy libopenblas0-pthread >/dev/null
/usr/bin/python3 -c 'import faiss; print("pq: faiss", faiss.__version__)'
