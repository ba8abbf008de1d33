#!/usr/bin/env python3
"""Time onnxruntime or sentence-transformers (PyTorch CPU) on the same texts
and settings as gobench; one JSON object per setting, same fields."""
import argparse, json, os, resource, sys, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--engine", choices=["onnxruntime", "onnxruntime-nospin", "sentence-transformers"], required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--onnx")
ap.add_argument("--input", required=True)
ap.add_argument("--label", required=True)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--batch", default="1,32")
ap.add_argument("--min-time", type=float, default=3.0)
a = ap.parse_args()

import torch
torch.set_num_threads(a.threads)
from transformers import AutoTokenizer
texts = [l.rstrip("\n") for l in open(a.input, encoding="utf-8")]

if a.engine.startswith("onnxruntime"):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if a.engine == "onnxruntime-nospin":
        # Idle worker threads block instead of spinning: ORT's better
        # setting when the cores are shared with other processes.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
    tok = AutoTokenizer.from_pretrained(a.model)

    def embed(batch):
        enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="np")
        feeds = {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64),
                 "token_type_ids": enc["token_type_ids"].astype(np.int64)}
        h = sess.run(None, feeds)[0]
        m = enc["attention_mask"][..., None].astype(np.float32)
        v = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
else:
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(a.model, device="cpu")
    tok = st.tokenizer

    def embed(batch):
        return st.encode(batch, batch_size=len(batch), convert_to_numpy=True, show_progress_bar=False)

ntok = sum(len(tok(t, truncation=True, max_length=256)["input_ids"]) for t in texts)
for b in [int(x) for x in a.batch.split(",")]:
    embed(texts[:b])
    lat, n, i = [], 0, 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < a.min_time or n < 2 * b:
        chunk = texts[i:i + b]
        t0 = time.perf_counter()
        embed(chunk)
        lat.append(time.perf_counter() - t0)
        n += len(chunk)
        i = (i + b) % len(texts)
    el = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    lat.sort()
    print(json.dumps({"engine": a.engine, "input": a.label, "threads": a.threads, "batch": b,
                      "sentences_per_s": n / el, "sentences": n,
                      "sentences_per_cpu_s": n / cpu, "cpu_s": cpu, "wall_s": el, "avg_tokens": ntok / len(texts),
                      "p50_ms": 1000 * lat[len(lat) // 2], "p99_ms": 1000 * lat[min(len(lat) - 1, len(lat) * 99 // 100)],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
