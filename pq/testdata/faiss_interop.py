#!/usr/bin/env python3
"""Round-trip helper for pq's faiss interop test (pq/faiss_interop_test.go).

Reads manifest.json in the work directory given as argv[1]:
- "ours": index files written by knnbridge: load each with faiss.read_index,
  search the queries and save the results (<file>.D.f32, <file>.I.i64);
- "theirs": faiss index_factory strings: train in faiss on train.f32, add
  base.f32 with the given int64 ids, write the index file and its search
  results, for knnbridge to read and compare.
Raw little-endian arrays only, so that the Go side needs no .npy code.
"""
import json
import os
import sys

import faiss
import numpy as np


def load(path, dtype, d):
    return np.fromfile(path, dtype=dtype).reshape(-1, d)


def main():
    work = sys.argv[1]
    with open(os.path.join(work, "manifest.json")) as f:
        m = json.load(f)
    d, k = m["d"], m["k"]
    xq = load(os.path.join(work, "queries.f32"), "<f4", d)
    report = {"faiss_version": faiss.__version__, "ours": [], "theirs": []}
    for e in m["ours"]:
        path = os.path.join(work, e["file"])
        index = faiss.read_index(path)
        if "nprobe" in e:
            faiss.extract_index_ivf(index).nprobe = e["nprobe"]
        D, I = index.search(xq, k)
        D.astype("<f4").tofile(path + ".D.f32")
        I.astype("<i8").tofile(path + ".I.i64")
        report["ours"].append({"file": e["file"], "type": type(index).__name__, "ntotal": int(index.ntotal),
                               "d": int(index.d), "metric": int(index.metric_type)})
    if m.get("theirs"):
        xt = load(os.path.join(work, "train.f32"), "<f4", d)
        xb = load(os.path.join(work, "base.f32"), "<f4", d)
        ids = np.fromfile(os.path.join(work, "base_ids.i64"), dtype="<i8")
        for e in m["theirs"]:
            metric = faiss.METRIC_INNER_PRODUCT if e["metric"] == "ip" else faiss.METRIC_L2
            index = faiss.index_factory(d, e["factory"], metric)
            index.train(xt)
            if e.get("idmap"):
                # as the k-NN plugin's faiss engine: IndexIDMap around the index
                index = faiss.IndexIDMap(index)
                index.add_with_ids(xb, ids)
            elif e.get("ids"):
                index.add_with_ids(xb, ids)
            else:
                index.add(xb)
            if "nprobe" in e:
                faiss.extract_index_ivf(index).nprobe = e["nprobe"]
            path = os.path.join(work, e["file"])
            faiss.write_index(index, path)
            D, I = index.search(xq, k)
            D.astype("<f4").tofile(path + ".D.f32")
            I.astype("<i8").tofile(path + ".I.i64")
            report["theirs"].append({"file": e["file"], "type": type(index).__name__})
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
