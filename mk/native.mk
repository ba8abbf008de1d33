# native/: SIMD kernels. Nothing is needed before `make test`; this adds the
# side-by-side benchmark against faiss and numpy/OpenBLAS (needs
# `pip install faiss-cpu numpy threadpoolctl`). OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset for this command only: they slow a current
# numpy and would misstate the peer (see the issue note).
.PHONY: bench-native

bench-native:
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/native/peer_bench.py
