package pq

import (
	"fmt"
	"math"
	"sync"

	"github.com/knnbridge/knnbridge/native"
)

// Metric is the similarity of an index, numbered as faiss's MetricType so
// that it can be written to and read from faiss files unchanged.
type Metric int32

const (
	// MetricInnerProduct ranks by larger dot product (faiss METRIC_INNER_PRODUCT = 0).
	MetricInnerProduct Metric = 0
	// MetricL2 ranks by smaller squared Euclidean distance (faiss METRIC_L2 = 1).
	MetricL2 Metric = 1
)

func (m Metric) String() string {
	switch m {
	case MetricL2:
		return "l2"
	case MetricInnerProduct:
		return "ip"
	}
	return fmt.Sprintf("metric(%d)", int32(m))
}

// ParseMetric accepts "l2" and "ip" (also "inner_product", "innerproduct").
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "l2", "L2":
		return MetricL2, nil
	case "ip", "IP", "inner_product", "innerproduct", "dot":
		return MetricInnerProduct, nil
	}
	return 0, fmt.Errorf("pq: unknown metric %q (want l2 or ip)", s)
}

// Block sizes of the GEMM-based brute force: a query block times a database
// block of scores (256 x 2048 floats = 2 MiB) stays in L2/L3 cache.
const (
	// smallDim: below it, one-vs-many kernels replace the matrix product.
	smallDim       = 4
	flatQueryBlock = 1024
	flatDBBlock    = 2048
)

func rowNorms(x []float32, n, d int, threads int) []float32 {
	out := make([]float32, n)
	parallelChunks(n, threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			r := x[i*d : (i+1)*d]
			out[i] = native.Dot(r, r)
		}
	})
	return out
}

// flatSearch finds, for each of the nq rows of q, the k best of the nb rows
// of b, by blocks of matrix products: ‖x−y‖² = ‖x‖² + ‖y‖² − 2·x·y (faiss's
// knn_L2sqr BLAS path, which also clamps the rounding negatives to 0) or x·y
// for inner product. Distances come back as faiss reports them: squared L2
// ascending, inner products descending. Rows with fewer than k candidates are
// padded with id -1. bnorms may be nil (computed here when needed).
func flatSearch(q []float32, nq int, b []float32, nb, d, k int, metric Metric, bnorms []float32, threads int) ([]float32, []int64) {
	dis := make([]float32, nq*k)
	ids := make([]int64, nq*k)
	if nq == 0 {
		return dis, ids
	}
	if metric == MetricL2 && bnorms == nil && d >= smallDim {
		bnorms = rowNorms(b, nb, d, threads)
	}
	nblocks := (nq + flatQueryBlock - 1) / flatQueryBlock
	threads = threadsOrDefault(threads)
	// Few query blocks but a large database (ground truth for a handful of
	// queries): split the queries finer so every core gets work.
	qbs := flatQueryBlock
	if nblocks < threads && nq >= threads {
		qbs = (nq + threads - 1) / threads
		nblocks = (nq + qbs - 1) / qbs
	}
	parallelDynamic(nblocks, 1, threads, func(_, blo, bhi int) {
		bp := getScratch(min(qbs, nq) * min(flatDBBlock, nb))
		defer scratchPool.Put(bp)
		buf := *bp
		var heaps []*topK
		if k > 1 {
			heaps = make([]*topK, min(qbs, nq))
			for i := range heaps {
				heaps[i] = newTopK(k)
			}
		}
		best := make([]float32, min(qbs, nq))
		bestID := make([]int64, min(qbs, nq))
		for blk := blo; blk < bhi; blk++ {
			q0 := blk * qbs
			q1 := min(q0+qbs, nq)
			m := q1 - q0
			var qn []float32
			if metric == MetricL2 && d >= smallDim {
				qn = rowNorms(q[q0*d:q1*d], m, d, 1)
			}
			for i := 0; i < m; i++ {
				best[i], bestID[i] = inf32, -1
			}
			for b0 := 0; b0 < nb; b0 += flatDBBlock {
				b1 := min(b0+flatDBBlock, nb)
				n := b1 - b0
				c := buf[:m*n]
				alpha := float32(1)
				if metric == MetricL2 {
					alpha = -2
				}
				if d < smallDim {
					// Tiny vectors (PQ sub-spaces of 1-3 dimensions): a matrix
					// product with k = d this small is all overhead; one-vs-
					// many kernels per query are faster and exact.
					for i := 0; i < m; i++ {
						row := c[i*n : (i+1)*n]
						qi := q[(q0+i)*d : (q0+i+1)*d]
						if metric == MetricL2 {
							native.L2Batch(qi, b[b0*d:b1*d], row)
						} else {
							native.DotBatch(qi, b[b0*d:b1*d], row)
						}
					}
				} else {
					native.MatMulTransB(c, q[q0*d:q1*d], b[b0*d:b1*d], m, n, d, alpha, 0, 1)
				}
				for i := 0; i < m; i++ {
					row := c[i*n : (i+1)*n]
					if metric == MetricL2 && d < smallDim {
						if k == 1 {
							bs, bi := best[i], bestID[i]
							for j, v := range row {
								if v < bs {
									bs, bi = v, int64(b0+j)
								}
							}
							best[i], bestID[i] = bs, bi
						} else {
							h := heaps[i]
							for j, v := range row {
								if v < h.worst() {
									h.push(v, int64(b0+j))
								}
							}
						}
					} else if metric == MetricL2 {
						xn := qn[i]
						bn := bnorms[b0:b1]
						bn = bn[:len(row)] // one length: no bounds checks in the loops
						if k == 1 {
							// ‖x‖² is common to the row: argmin of ‖c‖² − 2x·c,
							// then add it back (the hot loop of k-means).
							bi := bestID[i]
							bj, bs := native.ArgminAdd(bn, row, best[i]-xn)
							if bj >= 0 {
								bi = int64(b0 + bj)
							}
							best[i], bestID[i] = bs+xn, bi
						} else {
							h := heaps[i]
							for j, v := range row {
								s := xn + bn[j] + v
								if s < h.worst() {
									h.push(s, int64(b0+j))
								}
							}
						}
					} else {
						if k == 1 {
							bs, bi := best[i], bestID[i]
							for j, v := range row {
								if -v < bs {
									bs, bi = -v, int64(b0+j)
								}
							}
							best[i], bestID[i] = bs, bi
						} else {
							h := heaps[i]
							for j, v := range row {
								if -v < h.worst() {
									h.push(-v, int64(b0+j))
								}
							}
						}
					}
				}
			}
			for i := 0; i < m; i++ {
				od, oi := dis[(q0+i)*k:(q0+i+1)*k], ids[(q0+i)*k:(q0+i+1)*k]
				if k == 1 {
					od[0], oi[0] = best[i], bestID[i]
				} else {
					heaps[i].drain(od, oi)
				}
				externalScores(od, oi, metric)
			}
		}
	})
	return dis, ids
}

// externalScores turns internal lower-is-better scores into faiss's
// reported distances: L2 clamped at 0, inner products negated back.
// Padding (id -1) gets faiss's heap sentinels: +FLT_MAX for L2, -FLT_MAX
// for inner product (what faiss returns for missing results).
func externalScores(s []float32, ids []int64, metric Metric) {
	for i := range s {
		if ids[i] < 0 {
			if metric == MetricL2 {
				s[i] = math.MaxFloat32
			} else {
				s[i] = -math.MaxFloat32
			}
			continue
		}
		if metric == MetricL2 {
			if s[i] < 0 {
				s[i] = 0
			}
		} else {
			s[i] = -s[i]
		}
	}
}

// scratchPool recycles the score buffers of flatSearch: k-means calls it
// once per iteration, and fresh multi-megabyte buffers cost page faults and
// zeroing that showed up as 10% of PQ training time.
var scratchPool sync.Pool

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}
