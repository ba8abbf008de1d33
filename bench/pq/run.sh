#!/usr/bin/env bash
# Side-by-side benchmark of pq/ against faiss-cpu (PyPI) on the same data in
# the same run: k-means k=1024 (20 iterations), IVF1024,PQ16x8 training,
# recall@10 and QPS at nprobe 8/16/64, 2 threads each. Prints ratios.
#
#   bench/pq/run.sh [n=200000] [d=128]          (synthetic clustered data)
#   BASE_NPY=b.npy QUERIES_NPY=q.npy bench/pq/run.sh   (any float32 pair)
#
# faiss-cpu is installed into a venv under the cache dir on first use.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for the faiss run only (they
# slow current OpenBLAS builds; see the machine notes). faiss runs with
# OMP_WAIT_POLICY=PASSIVE so that its CPU times count work, not OpenMP workers
# spinning at barriers (on a loaded machine spinning also steals the cores).
# CPU time (user+system, lower is better) is printed beside wall time and
# QPS: on a shared machine it moves far less between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
D=${2:-128}
THREADS=${THREADS:-2}
CACHE=${KNNBRIDGE_CACHE_DIR:-$PWD/.cache}/pq-bench
mkdir -p "$CACHE"
VENV=$CACHE/venv
if ! "$VENV/bin/python" -c 'import faiss, numpy' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q faiss-cpu numpy
fi
# BASE_NPY / QUERIES_NPY: run on your own float32 .npy pair instead (e.g. the
# real-embeddings case (b) once its cached embeddings exist).
BASE=${BASE_NPY:-$CACHE/base_${N}x${D}.npy}
Q=${QUERIES_NPY:-$CACHE/queries_${D}.npy}
if [ -z "${BASE_NPY:-}" ] && { [ ! -s "$BASE" ] || [ ! -s "$Q" ]; }; then
  "$VENV/bin/python" bench/pq/gen_data.py "$N" "$D" 1000 1000 "$BASE" "$Q"
fi
go build -o "$CACHE/pq-bench" ./bench/pq
echo "machine: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg) (shared with other jobs)"
# The machine is shared: run the two sides alternately REPEAT times and keep
# each side's best time / best QPS, so that a burst of load on one run does
# not decide the ratio.
REPEAT=${REPEAT:-2}
ours=()
theirs=()
for ((r = 0; r < REPEAT; r++)); do
  ours+=("$("$CACHE/pq-bench" -base "$BASE" -queries "$Q" -threads "$THREADS")")
  theirs+=("$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE \
    "$VENV/bin/python" bench/pq/faiss_bench.py "$BASE" "$Q" "$THREADS")")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$(printf '%s\n' "${ours[@]}")" "$(printf '%s\n' "${theirs[@]}")" <<'PY'
import json, sys
def best(lines):
    runs = [json.loads(l) for l in lines.splitlines() if l.strip()]
    b = dict(runs[0])
    for k in ("kmeans_seconds", "ivfpq_train_seconds", "ivfpq_add_seconds", "kmeans_cpu_seconds", "ivfpq_train_cpu_seconds"):
        b[k] = min(r[k] for r in runs)
    for np_ in b["search"]:
        b["search"][np_] = dict(b["search"][np_], qps=max(r["search"][np_]["qps"] for r in runs),
                                cpu_us_per_query=min(r["search"][np_]["cpu_us_per_query"] for r in runs))
    b["runs"] = len(runs)
    return b
o, t = best(sys.argv[1]), best(sys.argv[2])
print(f"best of {o['runs']} alternating runs per side")
print(f"data: {o['n']} x {o['d']}, {o['nq']} queries, threads={o['threads']}, faiss-cpu {t['faiss_version']}")
print(f"{'metric':32} {'knnbridge':>12} {'faiss':>12} {'ratio':>8}")
def row(name, a, b, fmt="{:.3f}"):
    print(f"{name:32} {fmt.format(a):>12} {fmt.format(b):>12} {a / b if b else float('nan'):>8.3f}")
row("k-means k=1024 20 it (s)", o["kmeans_seconds"], t["kmeans_seconds"])
row("  k-means CPU time (s)", o["kmeans_cpu_seconds"], t["kmeans_cpu_seconds"])
row("k-means objective", o["kmeans_obj"], t["kmeans_obj"], "{:.6g}")
print(f"{'  objective diff':32} {100 * (o['kmeans_obj'] - t['kmeans_obj']) / t['kmeans_obj']:>+11.3f}%")
row("IVF1024,PQ16x8 train (s)", o["ivfpq_train_seconds"], t["ivfpq_train_seconds"])
row("  IVF-PQ train CPU time (s)", o["ivfpq_train_cpu_seconds"], t["ivfpq_train_cpu_seconds"])
row("IVF1024,PQ16x8 add (s)", o["ivfpq_add_seconds"], t["ivfpq_add_seconds"])
for np_ in ("8", "16", "64"):
    a, b = o["search"][np_], t["search"][np_]
    print(f"{'nprobe=' + np_ + ' recall@10':32} {a['recall_at_10']:>12.4f} {b['recall_at_10']:>12.4f} {a['recall_at_10'] - b['recall_at_10']:>+8.4f}")
    row(f"nprobe={np_} QPS", a["qps"], b["qps"], "{:.0f}")
    row(f"  CPU us/query (lower is better)", a["cpu_us_per_query"], b["cpu_us_per_query"], "{:.1f}")
PY
