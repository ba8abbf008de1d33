"""Writes the reader fixtures in ingest/testdata with the reference
implementations (numpy's .npy writer, pyarrow's Parquet writer), so the Go
readers are tested on files real tools produce. Run:
    python3 ingest/testdata/gen_fixtures.py   (needs numpy, pyarrow)
expected.json holds what each reader must return."""
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
exp = {}

base = rng.standard_normal((5, 4)).astype(np.float32)
np.save(os.path.join(here, "f4.npy"), base)
exp["f4.npy"] = base.tolist()
f2 = base.astype(np.float16)
np.save(os.path.join(here, "f2.npy"), f2)
exp["f2.npy"] = f2.astype(np.float32).tolist()
u1 = rng.integers(0, 256, (5, 4), dtype=np.uint8)
np.save(os.path.join(here, "u1.npy"), u1)
exp["u1.npy"] = u1.astype(np.float32).tolist()
i1 = rng.integers(-128, 128, (5, 4), dtype=np.int8)
np.save(os.path.join(here, "i1.npy"), i1)
exp["i1.npy"] = i1.astype(np.float32).tolist()
np.save(os.path.join(here, "fortran.npy"), np.asfortranarray(base))

ids = ["a", "b", "c", "d", "e"]
vecs = [base[i].tolist() for i in range(5)]
vecs[2] = None  # text-only row
texts = ["alpha", "beta", "gamma", None, "epsilon"]
years = [2001, 2002, None, 2004, 2005]
tags = [["x"], [], ["y", "z"], None, ["w"]]
t = pa.table({
    "id": pa.array(ids),
    "vector": pa.array(vecs, type=pa.list_(pa.float32())),
    "text": pa.array(texts),
    "year": pa.array(years, type=pa.int64()),
    "tags": pa.array(tags, type=pa.list_(pa.string())),
})
pq.write_table(t, os.path.join(here, "list.parquet"), row_group_size=2)
t2 = pa.table({
    "id": pa.array([1, 2, 3, 4, 5], type=pa.int64()),
    "vector": pa.array([base[i].tolist() for i in range(5)], type=pa.list_(pa.float32(), 4)),
    "score": pa.array([0.5, 1.5, 2.5, 3.5, 4.5], type=pa.float64()),
})
pq.write_table(t2, os.path.join(here, "fixed.parquet"))
exp["list.parquet"] = {"ids": ids, "vectors": [v if v is not None else None for v in vecs], "texts": texts,
                       "years": years, "tags": tags}
exp["fixed.parquet"] = {"ids": ["1", "2", "3", "4", "5"], "vectors": base.tolist(), "scores": [0.5, 1.5, 2.5, 3.5, 4.5]}
with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(exp, f, indent=1)
print("wrote fixtures to", here)
