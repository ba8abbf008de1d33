#!/usr/bin/env python3
"""Synthetic clustered vectors for bench/pq: n x d float32 drawn around
nc Gaussian centers (seeded), plus nq queries from the same distribution."""
import sys

import numpy as np

n, d, nc, nq, out_base, out_q = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
rs = np.random.RandomState(1234)
centers = rs.randn(nc, d).astype("float32") * 2.0
def draw(m):
    return (centers[rs.randint(0, nc, m)] + rs.randn(m, d).astype("float32")).astype("float32")
np.save(out_base, draw(n))
np.save(out_q, draw(nq))
