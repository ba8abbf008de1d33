#!/usr/bin/env bash
# Side-by-side embedding benchmark: knnbridge's Go encoder vs onnxruntime vs
# sentence-transformers (PyTorch CPU) on the same texts, same thread counts,
# in the same run. Prints a table with ratios (ours / peer).
#
#   bench/embed/run.sh                   # threads 1 and 2, batch 1 and 32, short and long
#   THREADS=1 MIN_TIME=2 ROUNDS=1 bench/embed/run.sh
#
# Needs: the model (make model), and a Python with torch, transformers,
# sentence-transformers, onnxruntime, onnx (PY=/path/to/python; default: a
# venv at $KNNBRIDGE_CACHE_DIR/bench-embed/venv, created on first use).
# The ONNX export is made once into $KNNBRIDGE_CACHE_DIR/bench-embed/.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${KNNBRIDGE_CACHE_DIR:-$PWD/.cache}"
export KNNBRIDGE_CACHE_DIR="$cache"
model=$(scripts/embed-fetch-model.sh)
work="$cache/bench-embed"
mkdir -p "$work"
threads="${THREADS:-1 2}"
min_time="${MIN_TIME:-3}"
rounds="${ROUNDS:-3}"
engines="${ENGINES:-knnbridge onnxruntime onnxruntime-nospin sentence-transformers}"
# BASE_REF=<git ref>: also time knnbridge as of that commit (engine
# knnbridge-base, built from a temporary worktree), to show before/after
# in the same run.
if [ -n "${BASE_REF:-}" ]; then
  basedir=$(mktemp -d)
  git worktree add -q --detach "$basedir/src" "$BASE_REF"
  (cd "$basedir/src" && go build -o "$work/gobench-base" ./bench/embed/gobench)
  git worktree remove --force "$basedir/src"
  rm -rf "$basedir"
  engines="knnbridge-base $engines"
fi

PY="${PY:-}"
if [ -z "$PY" ]; then
  if [ ! -x "$work/venv/bin/python" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q torch transformers sentence-transformers onnxruntime onnx numpy
  fi
  PY="$work/venv/bin/python"
fi
onnx="$work/model.onnx"
[ -s "$onnx" ] || "$PY" bench/embed/export_onnx.py "$model" "$onnx" >&2
python3 bench/embed/make_inputs.py "$work"
go build -o "$work/gobench" ./bench/embed/gobench

out="$work/results.jsonl"
: > "$out"
# Rounds interleave the engines in time, and the report keeps each one's
# best round: on a shared machine the load changes from minute to minute.
for round in $(seq "$rounds"); do
for t in $threads; do
  for input in short long; do
    for e in $engines; do
      echo "== round $round: $e threads=$t input=$input (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      case $e in
        knnbridge) GOMAXPROCS=$t "$work/gobench" -model "$model" -input "$work/$input.txt" -label $input -threads $t -min-time ${min_time}s >> "$out" ;;
        knnbridge-base) GOMAXPROCS=$t "$work/gobench-base" -model "$model" -input "$work/$input.txt" -label $input -threads $t -min-time ${min_time}s | sed 's/"engine":"knnbridge"/"engine":"knnbridge-base"/' >> "$out" ;;
        onnxruntime*) OMP_NUM_THREADS=$t "$PY" bench/embed/bench_py.py --engine $e --model "$model" --onnx "$onnx" --input "$work/$input.txt" --label $input --threads $t --min-time $min_time >> "$out" ;;
        sentence-transformers) OMP_NUM_THREADS=$t "$PY" bench/embed/bench_py.py --engine sentence-transformers --model "$model" --input "$work/$input.txt" --label $input --threads $t --min-time $min_time >> "$out" ;;
      esac
    done
  done
done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
python3 bench/embed/report.py "$out"
