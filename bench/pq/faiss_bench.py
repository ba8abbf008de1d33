#!/usr/bin/env python3
"""faiss side of bench/pq/run.sh: the same tasks as bench/pq/main.go on the
same .npy files, printing one JSON object. Run with faiss-cpu from PyPI."""
import json
import sys
import time

import faiss
import numpy as np


def main():
    base, queries = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    k, niter, nlist, M, nbits = 1024, 20, 1024, 16, 8
    faiss.omp_set_num_threads(threads)
    x = np.load(base)
    q = np.load(queries)
    n, d = x.shape
    out = {"n": n, "d": d, "nq": q.shape[0], "threads": threads, "faiss_version": faiss.__version__}

    km = faiss.Kmeans(d, k, niter=niter, seed=1234)  # faiss defaults: random init, 256 pts/centroid
    t0, c0 = time.time(), time.process_time()
    km.train(x)
    out["kmeans_seconds"] = time.time() - t0
    out["kmeans_cpu_seconds"] = time.process_time() - c0
    out["kmeans_obj"] = float(km.obj[-1])

    # IndexIVFPQ as constructed directly: by_residual, no polysemous training
    # (the factory string "IVF1024,PQ16" would add polysemous re-ordering).
    ix = faiss.IndexIVFPQ(faiss.IndexFlatL2(d), d, nlist, M, nbits)
    t0, c0 = time.time(), time.process_time()
    ix.train(x)
    out["ivfpq_train_seconds"] = time.time() - t0
    out["ivfpq_train_cpu_seconds"] = time.process_time() - c0
    t0 = time.time()
    ix.add(x)
    out["ivfpq_add_seconds"] = time.time() - t0

    flat = faiss.IndexFlatL2(d)
    flat.add(x)
    _, gt = flat.search(q, 10)
    res = {}
    for nprobe in (8, 16, 64):
        ix.nprobe = nprobe
        ix.search(q, 10)  # warm-up
        best, best_cpu = 0.0, float("inf")
        for _ in range(3):
            t0, c0 = time.time(), time.process_time()
            _, I = ix.search(q, 10)
            best = max(best, q.shape[0] / (time.time() - t0))
            best_cpu = min(best_cpu, (time.process_time() - c0) / q.shape[0] * 1e6)
        rec = np.mean([len(set(I[i]) & set(gt[i])) / 10.0 for i in range(q.shape[0])])
        res[str(nprobe)] = {"recall_at_10": float(rec), "qps": best, "cpu_us_per_query": best_cpu}
    out["search"] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
