# native/: SIMD kernels.
#
# native-arm64 runs the package's tests for GOARCH=arm64 (the NEON kernels
# and the Go twin) under qemu-aarch64 before `make test`; CI installs
# qemu-user in .ci/setup.d/40-native.sh. Without qemu it says so and skips.
#
# bench-native is the side-by-side benchmark against faiss and numpy/OpenBLAS
# (needs `pip install faiss-cpu numpy threadpoolctl`). OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for that command only: they slow a current
# numpy and would misstate the peer.
.PHONY: native-arm64 bench-native

TEST_PREREQS += native-arm64

native-arm64:
	@if command -v qemu-aarch64 >/dev/null 2>&1; then \
	  mkdir -p $(CACHE_DIR) && \
	  GOARCH=arm64 $(GO) test -c -o $(CACHE_DIR)/native-arm64.test ./native && \
	  echo "native: arm64 tests under qemu-aarch64" && \
	  (cd native && qemu-aarch64 $(CACHE_DIR)/native-arm64.test -test.short); \
	else \
	  echo "native-arm64: skipped, qemu-aarch64 not installed (apt-get install qemu-user)"; \
	fi

bench-native:
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/native/peer_bench.py
