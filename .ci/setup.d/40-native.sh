#!/usr/bin/env bash
# native/: qemu-user lets `make test` run the arm64 (NEON) kernel tests on
# an x86-64 CI machine (mk/native.mk, target native-arm64). Idempotent. If
# the install fails, say so and go on: native-arm64 then skips with a
# message instead of failing the whole run on a mirror hiccup.
set -uo pipefail
if command -v qemu-aarch64 >/dev/null 2>&1; then
  exit 0
fi
if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null; then
  command -v qemu-aarch64
else
  echo "40-native: could not install qemu-user; arm64 kernel tests will be skipped" >&2
fi
exit 0
