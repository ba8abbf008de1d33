#!/usr/bin/env python3
"""Search-only peer for bench/pq/main.go -index: faiss searches the very
index file knnbridge wrote (same codebooks, same lists), so QPS differences
are the scanners' alone. Prints one JSON object like main.go's "search".
CPU time per query is load-robust only with OMP_WAIT_POLICY=PASSIVE (else
OpenMP's spinning workers count)."""
import json
import sys
import time

import faiss
import numpy as np


def main():
    path, queries = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    faiss.omp_set_num_threads(threads)
    ix = faiss.read_index(path)
    q = np.load(queries)
    res = {}
    for nprobe in (8, 16, 64):
        ix.nprobe = nprobe
        ix.search(q, 10)  # warm-up
        best, best_cpu = 0.0, float("inf")
        for _ in range(reps):
            t0, c0 = time.time(), time.process_time()
            ix.search(q, 10)
            best = max(best, q.shape[0] / (time.time() - t0))
            best_cpu = min(best_cpu, (time.process_time() - c0) / q.shape[0] * 1e6)
        res[str(nprobe)] = {"qps": best, "cpu_us_per_query": best_cpu}
    print(json.dumps({"faiss_version": faiss.__version__, "search": res}))


if __name__ == "__main__":
    main()
