#!/usr/bin/env bash
# native/: qemu-user lets `make test` run the arm64 (NEON) kernel tests on
# an x86-64 CI machine (see mk/native.mk). Idempotent.
set -euo pipefail
if command -v qemu-aarch64 >/dev/null 2>&1; then
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null
command -v qemu-aarch64
