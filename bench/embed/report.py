#!/usr/bin/env python3
"""Print bench/embed results as a table with ratios knnbridge / peer."""
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda r: (r["threads"], r["input"], r["batch"])
# Best round per engine and setting (max throughput, min latency, max RSS).
by = {}
for r in rows:
    cur = by.setdefault(key(r), {}).get(r["engine"])
    if cur is None:
        by[key(r)][r["engine"]] = dict(r, rounds=1)
        continue
    cur["rounds"] += 1
    for f in ("sentences_per_s", "sentences_per_cpu_s", "peak_rss_mb"):
        cur[f] = max(cur[f], r[f])
    for f in ("p50_ms", "p99_ms"):
        cur[f] = min(cur[f], r[f])
print(f"{'threads':>7} {'input':>5} {'tok':>4} {'batch':>5} | {'ours s/s':>9} {'ort s/s':>8} {'st s/s':>8} | {'÷ort':>5} {'÷st':>5} | "
      f"{'÷ort cpu':>8} | {'ours p50 ms':>11} {'ort p50':>8} | {'RSS MB ours/ort/st':>18}"
      + (f" | {'base s/s':>8} {'÷base':>5} {'base÷ort':>8} {'base cpu÷ort':>12}" if any("knnbridge-base" in e for e in by.values()) else ""))
for k in sorted(by):
    e = by[k]
    o, st, base = e.get("knnbridge"), e.get("sentence-transformers"), e.get("knnbridge-base")
    # The peer is onnxruntime in its faster configuration for this setting
    # (default spinning thread pool, or allow_spinning=0).
    orts = [r for r in (e.get("onnxruntime"), e.get("onnxruntime-nospin")) if r]
    ort = max(orts, key=lambda r: r["sentences_per_s"]) if orts else None
    f = lambda r, f2="sentences_per_s": f"{r[f2]:.1f}" if r else "-"
    ratio = lambda a, b, f2="sentences_per_s": f"{a[f2] / b[f2]:.2f}" if a and b else "-"
    rss = "/".join(f"{r['peak_rss_mb']:.0f}" if r else "-" for r in (o, ort, st))
    tok = (o or ort or st)["avg_tokens"]
    print(f"{k[0]:>7} {k[1]:>5} {tok:>4.0f} {k[2]:>5} | {f(o):>9} {f(ort):>8} {f(st):>8} | {ratio(o, ort):>5} {ratio(o, st):>5} | "
          f"{ratio(o, ort, 'sentences_per_cpu_s'):>8} | {o['p50_ms'] if o else 0:>11.2f} {ort['p50_ms'] if ort else 0:>8.2f} | {rss:>18}"
          + (f" | {f(base):>8} {ratio(o, base):>5} {ratio(base, ort):>8} {ratio(base, ort, 'sentences_per_cpu_s'):>12}" if base else "")
          + (" ort=nospin" if ort and ort['engine'].endswith('nospin') else ""))
n = max((e.get("rounds", 1) for v in by.values() for e in v.values()), default=1)
print(f"best of {n} round(s) per engine and setting. s/s = sentences per wall-clock second; ÷ort / ÷st = ours / peer;")
print("÷ort cpu = ratio of sentences per CPU-second of the whole process (steadier on a loaded machine, but it")
print("counts onnxruntime's spinning worker threads against it at 2 threads). p50 = median latency of one batch.")
print("ort = onnxruntime in its faster configuration per setting: default, or allow_spinning=0 (marked ort=nospin).")
if any("knnbridge-base" in e for e in by.values()):
    print("base = knnbridge built from BASE_REF, timed in the same rounds; ÷base = ours / base.")
