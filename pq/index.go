package pq

import (
	"context"
	"fmt"
)

// SearchResult holds the k nearest neighbours of each of NQ queries, best
// first: Distances[i*K+j] and IDs[i*K+j]. Distances are faiss's: squared L2
// (ascending) or inner product (descending); missing results have id -1.
type SearchResult struct {
	NQ, K     int
	Distances []float32
	IDs       []int64
}

// Row returns the ids of query i.
func (r *SearchResult) Row(i int) []int64 { return r.IDs[i*r.K : (i+1)*r.K] }

// FlatSearch is exact brute-force k-NN of queries against base (both
// row-major, d columns) on the native kernels: the ground truth that the
// approximate indexes are measured against.
func FlatSearch(queries, base []float32, d, k int, metric Metric, threads int) (*SearchResult, error) {
	nq, err := checkVectors("queries", queries, d)
	if err != nil {
		return nil, err
	}
	nb, err := checkVectors("base vectors", base, d)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, fmt.Errorf("pq: k must be positive, got %d", k)
	}
	dis, ids := flatSearch(queries, nq, base, nb, d, k, metric, nil, threads)
	return &SearchResult{NQ: nq, K: k, Distances: dis, IDs: ids}, nil
}

// IndexPQ is faiss's IndexPQ: every vector PQ-coded, searched exhaustively
// with asymmetric distance tables. Ids are the insertion order, as in faiss.
type IndexPQ struct {
	PQ     *ProductQuantizer
	Metric Metric
	Codes  []byte
	NTotal int64
}

// NewIndexPQ makes an untrained IndexPQ.
func NewIndexPQ(d, m, nbits int, metric Metric) (*IndexPQ, error) {
	p, err := NewProductQuantizer(d, m, nbits)
	if err != nil {
		return nil, err
	}
	if metric != MetricL2 && metric != MetricInnerProduct {
		return nil, fmt.Errorf("pq: unsupported metric %v", metric)
	}
	return &IndexPQ{PQ: p, Metric: metric}, nil
}

// Train learns the product quantizer; it returns faiss-style warnings.
func (ix *IndexPQ) Train(ctx context.Context, x []float32, cfg PQTrainConfig) ([]string, error) {
	return ix.PQ.Train(ctx, x, cfg)
}

// Add encodes and appends vectors; their ids continue from NTotal.
func (ix *IndexPQ) Add(x []float32, threads int) error {
	n, err := checkVectors("vectors to add", x, ix.PQ.D)
	if err != nil {
		return err
	}
	if !ix.PQ.trained() {
		return fmt.Errorf("pq: IndexPQ.Add: index is not trained")
	}
	codes := make([]byte, n*ix.PQ.CodeSize())
	ix.PQ.encodeTrusted(x, n, codes, threads)
	ix.Codes = append(ix.Codes, codes...)
	ix.NTotal += int64(n)
	return nil
}

const scanChunk = 1024

// Search returns the k nearest stored vectors of each query by ADC.
func (ix *IndexPQ) Search(queries []float32, k, threads int) (*SearchResult, error) {
	p := ix.PQ
	nq, err := checkVectors("queries", queries, p.D)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, fmt.Errorf("pq: k must be positive, got %d", k)
	}
	if !p.trained() {
		return nil, fmt.Errorf("pq: IndexPQ.Search: index is not trained")
	}
	res := &SearchResult{NQ: nq, K: k, Distances: make([]float32, nq*k), IDs: make([]int64, nq*k)}
	cs := p.CodeSize()
	n := int(ix.NTotal)
	parallelDynamic(nq, 4, threads, func(_, lo, hi int) {
		tab := make([]float32, p.M*p.Ksub)
		out := make([]float32, scanChunk)
		ubuf := make([]byte, scanChunk*p.M)
		h := newTopK(k)
		for qi := lo; qi < hi; qi++ {
			p.distanceTable(queries[qi*p.D:(qi+1)*p.D], ix.Metric, tab)
			for i0 := 0; i0 < n; i0 += scanChunk {
				i1 := min(i0+scanChunk, n)
				o := out[:i1-i0]
				p.lookup(tab, ix.Codes[i0*cs:i1*cs], ubuf, o)
				pushScores(h, o, nil, int64(i0), 0, ix.Metric)
			}
			h.drain(res.Distances[qi*k:(qi+1)*k], res.IDs[qi*k:(qi+1)*k])
			externalScores(res.Distances[qi*k:(qi+1)*k], res.IDs[qi*k:(qi+1)*k], ix.Metric)
		}
	})
	return res, nil
}

// pushScores offers base+v for each v of vals to the heap under the
// metric's lower-is-better internal score; ids come from ids[i] when ids is
// not nil, else firstID+i.
func pushScores(h *topK, vals []float32, ids []int64, firstID int64, base float32, metric Metric) {
	if metric == MetricL2 {
		for i, v := range vals {
			s := base + v
			if s < h.worst() {
				if ids != nil {
					h.push(s, ids[i])
				} else {
					h.push(s, firstID+int64(i))
				}
			}
		}
		return
	}
	for i, v := range vals {
		s := -(base + v)
		if s < h.worst() {
			if ids != nil {
				h.push(s, ids[i])
			} else {
				h.push(s, firstID+int64(i))
			}
		}
	}
}
