#!/usr/bin/env python3
"""Side-by-side benchmark of knnbridge's native kernels against faiss and
numpy/OpenBLAS, on the same arrays, in the same process, in the same run.

Our kernels are built as a C shared library (./cshared, go build
-buildmode=c-shared) and called through ctypes; each repetition calls the
peer and every one of our kernel levels in turn (rotating the order), and
each side keeps its fastest time. On a machine shared with other jobs both
sides therefore sample the same load. Ratios are peer time / our time:
>= 1.0 means ours is at least as fast.

  one query vs 100k vectors, d = 128, 384, 768, single thread:
    faiss fvec_L2sqr_ny / fvec_inner_products_ny (the raw kernels) and
    IndexFlatL2 / IndexFlatIP .search(k=10)
    vs native.L2Batch / DotBatch (+ SelectSmallest / SelectLargest, k=10)
  SGEMM 1024x384 . 384x1536 (A.B and A.B^T), 1 and 2 threads:
    numpy matmul (OpenBLAS) vs native.MatMul / MatMulTransB
  the memory bound: a pure streaming read of the same matrix (../membw),
    raced with the kernels, is the least time a kernel that must read the
    out-of-cache matrix once can take.

Needs: pip install faiss-cpu numpy threadpoolctl, a Go toolchain and a C
compiler (cgo). Run from the repo root: `make bench-native` (which unsets
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command only).
"""
import ctypes as C
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    import faiss
except ImportError:
    sys.exit("peer_bench: faiss is not installed (pip install faiss-cpu)")
from threadpoolctl import threadpool_info, threadpool_limits

N = 100_000
DIMS = (128, 384, 768)
M, NN, K = 1024, 1536, 384
REPS = int(os.environ.get("BENCH_REPS", "9"))
LEVELS = {0: "generic", 1: "avx2", 2: "avx512", 3: "neon"}
FP = C.POINTER(C.c_float)


def fp(a):
    return a.ctypes.data_as(FP)


def load_lib(cache):
    so = os.path.join(cache, "libknnbridge_native.so")
    subprocess.run(["go", "build", "-buildmode=c-shared", "-o", so, "./bench/native/cshared"], check=True)
    lib = C.CDLL(so)
    L = C.c_long
    lib.kbUse.argtypes = [C.c_int]
    lib.kbSupported.argtypes = [C.c_int]
    lib.kbL2Batch.argtypes = [FP, FP, L, L, FP]
    lib.kbDotBatch.argtypes = [FP, FP, L, L, FP]
    lib.kbKnn.argtypes = [C.c_int, FP, FP, L, L, L, C.POINTER(L)]
    lib.kbSgemm.argtypes = [C.c_int, FP, FP, FP, L, L, L, C.c_int]
    lib.kbTimeKernel.argtypes = [C.c_int, FP, FP, L, L]
    lib.kbTimeKernel.restype = C.c_double
    lib.kbReadBandwidth.argtypes = [C.POINTER(C.c_uint8), L]
    lib.kbReadBandwidth.restype = C.c_double
    return lib


def race(lib, cands, reps=REPS):
    """cands: name -> (level or None, fn, reps or None). Fastest time each,
    interleaved call by call, order rotated every repetition."""
    names = list(cands)
    best = {n: float("inf") for n in names}
    for n in names:  # warm-up
        lvl, fn, _ = cands[n]
        if lvl is not None:
            lib.kbUse(lvl)
        fn()
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            lvl, fn, nrep = cands[n]
            if nrep is not None and r >= nrep:
                continue
            if lvl is not None:
                lib.kbUse(lvl)
            t0 = time.perf_counter()
            fn()
            best[n] = min(best[n], time.perf_counter() - t0)
    return best


def cpu_info():
    model, flags, fam, mod = "?", set(), "?", "?"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and model == "?":
                model = v
            elif k == "cpu family" and fam == "?":
                fam = v
            elif k == "model" and mod == "?":
                mod = v
            elif k == "flags" and not flags:
                flags = set(v.split())
    keep = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "avx512_vpopcntdq"]
    return f"{model} (family {fam} model {mod})", " ".join(f for f in keep if f in flags)


def main():
    root = os.getcwd()
    cache = os.path.join(os.environ.get("KNNBRIDGE_CACHE_DIR", os.path.join(root, ".cache")), "bench-native")
    os.makedirs(cache, exist_ok=True)
    lib = load_lib(cache)
    levels = [l for l in LEVELS if lib.kbSupported(l)]
    best_level = LEVELS[max(levels)]
    cpu, flags = cpu_info()
    load0 = os.getloadavg()
    rng = np.random.default_rng(20261127)
    faiss.omp_set_num_threads(1)
    res = {}

    same_topk = {}
    for d in DIMS:
        x = rng.standard_normal((N, d), dtype=np.float32)
        q = rng.standard_normal(d, dtype=np.float32)
        out = np.empty(N, dtype=np.float32)
        idx = np.empty(10, dtype=np.int64)
        px, pq, po = faiss.swig_ptr(x), faiss.swig_ptr(q), faiss.swig_ptr(out)
        for kind, peer_fn, our_fn in (
            ("l2", lambda: faiss.fvec_L2sqr_ny(po, pq, px, d, N), lambda: lib.kbL2Batch(fp(q), fp(x), d, N, fp(out))),
            ("ip", lambda: faiss.fvec_inner_products_ny(po, pq, px, d, N), lambda: lib.kbDotBatch(fp(q), fp(x), d, N, fp(out))),
        ):
            c = {"peer": (None, peer_fn, None)}
            for l in levels:
                c[LEVELS[l]] = (l, our_fn, REPS if l else 3)
            # The memory bound: a pure streaming read of the same matrix,
            # raced in the same loop so it sees the same machine.
            c["read"] = (None, lambda: lib.kbReadBandwidth(x.ctypes.data_as(C.POINTER(C.c_uint8)), x.nbytes), None)
            for name, t in race(lib, c).items():
                res[f"{kind}_d{d}_{name}"] = t
            res[f"bound_d{d}"] = min(res.get(f"bound_d{d}", 1e9), res[f"{kind}_d{d}_read"])
        for kind, cls, ip in (("l2knn", faiss.IndexFlatL2, 0), ("ipknn", faiss.IndexFlatIP, 1)):
            index = cls(d)
            index.add(x)
            qq = q.reshape(1, d)
            pidx = C.cast(idx.ctypes.data, C.POINTER(C.c_long))
            c = {"peer": (None, lambda: index.search(qq, 10), None)}
            for l in levels:
                c[LEVELS[l]] = (l, lambda: lib.kbKnn(ip, fp(q), fp(x), d, N, 10, pidx), REPS if l else 3)
            for name, t in race(lib, c).items():
                res[f"{kind}_d{d}_{name}"] = t
            lib.kbUse(max(levels))
            lib.kbKnn(ip, fp(q), fp(x), d, N, 10, pidx)
            _, fi = index.search(qq, 10)
            same_topk[f"{kind} d={d}"] = list(fi[0]) == list(idx)
            del index
        if d == 768:
            a, b = x[0].copy(), x[1].copy()
            for l in levels:
                lib.kbUse(l)
                for op, name in ((0, "dot"), (1, "l2"), (2, "cos")):
                    res[f"{name}768_ns_{LEVELS[l]}"] = 1e9 * min(lib.kbTimeKernel(op, fp(a), fp(b), d, 20000) for _ in range(5))
        del x

    ga = rng.standard_normal((M, K), dtype=np.float32)
    gb = rng.standard_normal((K, NN), dtype=np.float32)
    gbt = np.ascontiguousarray(gb.T)
    gc = np.empty((M, NN), dtype=np.float32)
    for th in (1, 2):
        with threadpool_limits(limits=th, user_api="blas"):
            for key, peer_fn, tb, bmat in (("sgemm", lambda: ga @ gb, 0, gb), ("sgemmT", lambda: ga @ gbt.T, 1, gbt)):
                c = {"peer": (None, peer_fn, None)}
                for l in levels:
                    c[LEVELS[l]] = (l, (lambda tb=tb, bmat=bmat: lib.kbSgemm(tb, fp(gc), fp(ga), fp(bmat), M, NN, K, th)), REPS if l else 2)
                for name, t in race(lib, c).items():
                    res[f"{key}_t{th}_{name}"] = t
                lib.kbUse(max(levels))
                lib.kbSgemm(tb, fp(gc), fp(ga), fp(bmat), M, NN, K, th)
                res[f"{key}_maxrelerr"] = float(np.max(np.abs(gc - peer_fn())) / np.max(np.abs(peer_fn())))
    load1 = os.getloadavg()

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    names = [LEVELS[l] for l in sorted(levels, reverse=True)]
    print(f"CPU: {cpu}; flags used: {flags}")
    print(f"knnbridge levels: {names}, default={best_level}")
    sets = sorted(faiss.supported_instruction_sets()) if hasattr(faiss, "supported_instruction_sets") else "?"
    print(f"faiss {faiss.__version__} (CPU features it sees include AVX512: {'AVX512F' in sets}), numpy {np.__version__}, "
          "BLAS: " + ", ".join(f"{b.get('internal_api')} {b.get('version')} kernel={b.get('architecture')}" for b in blas))
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"load average before/after: {load0[0]:.1f} / {load1[0]:.1f} on {os.cpu_count()} CPUs "
          f"(machine shared with other jobs; fastest of {REPS} interleaved calls per side)")
    print("memory bound: the fastest pure streaming read of the same matrix (membw, AVX2 loads only), raced with the kernels: "
          + ", ".join(f"d={d} {4*N*d/res[f'bound_d{d}']/1e9:.1f} GB/s" for d in DIMS))
    print()
    print("one query vs 100k vectors, single thread, ms (ratio = faiss/ours; %bound = bound/ours)")
    print(f"{'kernel':8} {'d':>4} {'faiss':>8} " + " ".join(f"{n:>8}" for n in names) + f" {'ratio':>6} {'bound':>7} {'%bound':>7}")
    for kind, label in (("l2", "L2 ny"), ("ip", "IP ny"), ("l2knn", "L2 k=10"), ("ipknn", "IP k=10")):
        for d in DIMS:
            p = res[f"{kind}_d{d}_peer"]
            o = {n: res[f"{kind}_d{d}_{n}"] for n in names}
            bound = res[f"bound_d{d}"]
            print(f"{label:8} {d:4} {p*1e3:8.2f} " + " ".join(f"{o[n]*1e3:8.2f}" for n in names)
                  + f" {p/o[best_level]:6.2f} {bound*1e3:7.2f} {100*bound/o[best_level]:6.0f}%")
    print("same top-10 ids as faiss: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same_topk.items()))
    print()
    print("in-cache single-vector kernels at d=768, ns/call (speed-up over the Go twin)")
    for op in ("dot", "l2", "cos"):
        g = res[f"{op}768_ns_generic"]
        print(f"  {op:4} " + "  ".join(f"{n}={res[f'{op}768_ns_{n}']:.1f}" for n in names)
              + f"  {best_level}/generic = {g/res[f'{op}768_ns_{best_level}']:.1f}x")
    print()
    fl = 2 * M * NN * K
    print(f"SGEMM {M}x{K} . {K}x{NN}, ms (GFLOP/s); ratio = OpenBLAS time / ours")
    for key, label in (("sgemm", "A.B "), ("sgemmT", "A.Bt")):
        for th in (1, 2):
            p = res[f"{key}_t{th}_peer"]
            print(f"  {label} threads={th}: numpy {p*1e3:7.2f} ({fl/p/1e9:5.1f})  "
                  + "  ".join(f"{n} {res[f'{key}_t{th}_{n}']*1e3:7.2f} ({fl/res[f'{key}_t{th}_{n}']/1e9:5.1f})" for n in names)
                  + f"  ratio {p/res[f'{key}_t{th}_{best_level}']:.2f}")
        print(f"  {label} max |ours - numpy| / max |C| = {res[f'{key}_maxrelerr']:.1e}")
    print()
    print("raw:", json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
