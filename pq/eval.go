package pq

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// Recall returns recall@k of res against exact ground truth gt: the mean
// over queries of |top-k(res) ∩ top-k(gt)| / k, the k-NN recall that
// ann-benchmarks and OpenSearch's k-NN benchmarks report. gt needs at
// least k columns; res may have more (only its first k count).
func Recall(res, gt *SearchResult, k int) (float64, error) {
	if res.NQ != gt.NQ {
		return 0, fmt.Errorf("pq: recall: %d results for %d ground-truth queries", res.NQ, gt.NQ)
	}
	if k <= 0 || k > res.K || k > gt.K {
		return 0, fmt.Errorf("pq: recall@%d needs k columns (results have %d, ground truth %d)", k, res.K, gt.K)
	}
	if res.NQ == 0 {
		return 0, nil
	}
	hits := 0
	set := make(map[int64]struct{}, k)
	for q := 0; q < res.NQ; q++ {
		clear(set)
		for _, id := range gt.IDs[q*gt.K : q*gt.K+k] {
			set[id] = struct{}{}
		}
		for _, id := range res.IDs[q*res.K : q*res.K+k] {
			if _, ok := set[id]; ok && id >= 0 {
				hits++
			}
		}
	}
	return float64(hits) / float64(res.NQ*k), nil
}

// MSE is the mean squared reconstruction error per vector, Σ‖x−x̂‖²/n.
func MSE(x, xhat []float32, d int) float64 {
	n := len(x) / d
	if n == 0 {
		return 0
	}
	var s float64
	for i := range x {
		e := float64(x[i] - xhat[i])
		s += e * e
	}
	return s / float64(n)
}

// SweepConfig lists the settings to evaluate; every combination of Nlists,
// Ms and NBits is trained (the coarse quantizer once per nlist), and every
// nprobe is searched. An M of 0 means IVF-Flat (no compression).
type SweepConfig struct {
	Nlists       []int
	Ms           []int
	NBits        []int
	Nprobes      []int
	Metric       Metric
	TargetRecall float64 // recall@RecallAt the recommendation must reach
	RecallAt     int     // 1, 10 or 100 (default 10)
	Train        IVFTrainConfig
	Threads      int
	Progress     func(msg string)
}

// EvalPoint is one evaluated (nlist, M, nbits, nprobe).
type EvalPoint struct {
	Index     string  `json:"index"` // e.g. IVF1024,PQ16x8
	Nlist     int     `json:"nlist"`
	M         int     `json:"m"`     // 0 for IVF-Flat
	NBits     int     `json:"nbits"` // 0 for IVF-Flat
	Nprobe    int     `json:"nprobe"`
	Recall1   float64 `json:"recall_at_1"`
	Recall10  float64 `json:"recall_at_10"`
	Recall100 float64 `json:"recall_at_100"`
	MSE       float64 `json:"mse"`
	// CodeBytes is what each vector costs in the lists (code + int64 id);
	// BytesPerVector adds the fixed tables (coarse centroids, PQ codebooks)
	// spread over the base vectors; TotalBytes is the whole index.
	CodeBytes      int     `json:"code_bytes"`
	BytesPerVector float64 `json:"bytes_per_vector"`
	TotalBytes     int64   `json:"total_bytes"`
	QPS            float64 `json:"qps"`
	TrainSeconds   float64 `json:"train_seconds"`
}

// Report is the outcome of Sweep.
type Report struct {
	N            int          `json:"n"`
	D            int          `json:"d"`
	NQ           int          `json:"nq"`
	Metric       string       `json:"metric"`
	TargetRecall float64      `json:"target_recall"`
	RecallAt     int          `json:"recall_at"`
	Points       []EvalPoint  `json:"points"`
	Recommended  *EvalPoint   `json:"recommended,omitempty"`
	Reason       string       `json:"reason"`
	Warnings     []string     `json:"warnings,omitempty"`
	Indexes      map[int]*IVF `json:"-"` // trained, empty index per point (by position), for writing
}

func indexName(nlist, m, nbits int) string {
	if m == 0 {
		return fmt.Sprintf("IVF%d,Flat", nlist)
	}
	return fmt.Sprintf("IVF%d,PQ%dx%d", nlist, m, nbits)
}

// Sweep trains and evaluates each configuration on base (indexed) with
// queries (held out), against exact ground truth, and recommends the
// configuration with the least memory whose recall@RecallAt reaches the
// target (ties broken by smaller nprobe, i.e. faster search).
func Sweep(ctx context.Context, train, base, queries []float32, d int, cfg SweepConfig) (*Report, error) {
	nb, err := checkVectors("base vectors", base, d)
	if err != nil {
		return nil, err
	}
	nq, err := checkVectors("queries", queries, d)
	if err != nil {
		return nil, err
	}
	if nq == 0 {
		return nil, fmt.Errorf("pq: sweep needs at least one query")
	}
	if cfg.RecallAt == 0 {
		cfg.RecallAt = 10
	}
	if cfg.RecallAt != 1 && cfg.RecallAt != 10 && cfg.RecallAt != 100 {
		return nil, fmt.Errorf("pq: recall_at must be 1, 10 or 100, got %d", cfg.RecallAt)
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	kmax := min(100, nb)
	say("ground truth: %d queries x %d base vectors", nq, nb)
	gt, err := FlatSearch(queries, base, d, kmax, cfg.Metric, cfg.Threads)
	if err != nil {
		return nil, err
	}
	rep := &Report{N: nb, D: d, NQ: nq, Metric: cfg.Metric.String(), TargetRecall: cfg.TargetRecall, RecallAt: cfg.RecallAt, Indexes: map[int]*IVF{}}
	msample := queries // quantization error measured on the held-out queries
	for _, nlist := range cfg.Nlists {
		var coarse []float32
		for _, m := range cfg.Ms {
			nbitsList := cfg.NBits
			if m == 0 {
				nbitsList = []int{0}
			}
			for _, nbits := range nbitsList {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				var ix *IVF
				if m == 0 {
					ix, err = NewIVFFlat(d, nlist, cfg.Metric)
				} else {
					ix, err = NewIVFPQ(d, nlist, m, nbits, cfg.Metric)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %w", indexName(nlist, m, nbits), err)
				}
				if coarse != nil {
					ix.Centroids = coarse
				}
				say("training %s", indexName(nlist, m, nbits))
				t0 := time.Now()
				w, err := ix.Train(ctx, train, cfg.Train)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", indexName(nlist, m, nbits), err)
				}
				trainSec := time.Since(t0).Seconds()
				for _, s := range w {
					rep.Warnings = append(rep.Warnings, indexName(nlist, m, nbits)+": "+s)
				}
				coarse = ix.Centroids
				if err := ix.Add(base, nil, cfg.Threads); err != nil {
					return nil, err
				}
				rec, err := ix.Reconstruct(msample, cfg.Threads)
				if err != nil {
					return nil, err
				}
				mse := MSE(msample, rec, d)
				fixed := int64(nlist*d*4) + int64(8*nlist) // centroids + list headers
				if m > 0 {
					fixed += int64(len(ix.PQ.Centroids) * 4)
				}
				code := ix.CodeSize() + 8
				total := fixed + int64(code)*int64(nb)
				trained := ix.WithoutVectors()
				for _, np := range cfg.Nprobes {
					if np > nlist {
						continue
					}
					t1 := time.Now()
					res, err := ix.Search(queries, kmax, np, cfg.Threads)
					if err != nil {
						return nil, err
					}
					qps := float64(nq) / time.Since(t1).Seconds()
					pt := EvalPoint{Index: indexName(nlist, m, nbits), Nlist: nlist, M: m, NBits: nbits, Nprobe: np,
						MSE: mse, CodeBytes: code, BytesPerVector: float64(total) / float64(nb), TotalBytes: total,
						QPS: qps, TrainSeconds: trainSec}
					pt.Recall1, _ = Recall(res, gt, 1)
					if kmax >= 10 {
						pt.Recall10, _ = Recall(res, gt, 10)
					}
					if kmax >= 100 {
						pt.Recall100, _ = Recall(res, gt, 100)
					}
					// Keep the trained quantizers only: the lists of every
					// evaluated index would add up to many copies of the data.
					rep.Indexes[len(rep.Points)] = trained
					rep.Points = append(rep.Points, pt)
					say("%s nprobe=%d recall@10=%.3f", pt.Index, np, pt.Recall10)
				}
			}
		}
	}
	rep.recommend()
	return rep, nil
}

func (p EvalPoint) recallAt(k int) float64 {
	switch k {
	case 1:
		return p.Recall1
	case 100:
		return p.Recall100
	}
	return p.Recall10
}

func (r *Report) recommend() {
	idx := make([]int, 0, len(r.Points))
	for i, p := range r.Points {
		if p.recallAt(r.RecallAt) >= r.TargetRecall {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		best, bestR := -1, math.Inf(-1)
		for i, p := range r.Points {
			if rr := p.recallAt(r.RecallAt); rr > bestR {
				best, bestR = i, rr
			}
		}
		if best >= 0 {
			p := r.Points[best]
			r.Reason = fmt.Sprintf("no evaluated setting reaches recall@%d >= %.3f; the best was %s nprobe=%d with %.3f: try more nlist/nprobe or larger M",
				r.RecallAt, r.TargetRecall, p.Index, p.Nprobe, bestR)
		}
		return
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := r.Points[idx[a]], r.Points[idx[b]]
		if pa.TotalBytes != pb.TotalBytes {
			return pa.TotalBytes < pb.TotalBytes
		}
		return pa.Nprobe < pb.Nprobe
	})
	p := r.Points[idx[0]]
	r.Recommended = &p
	r.Reason = fmt.Sprintf("least memory (%.1f bytes/vector) among %d settings with recall@%d >= %.3f", p.BytesPerVector, len(idx), r.RecallAt, r.TargetRecall)
}

// RecommendedIndex returns the trained (empty) index of the recommendation;
// Add the vectors to it to get the evaluated index back.
func (r *Report) RecommendedIndex() *IVF {
	if r.Recommended == nil {
		return nil
	}
	for i, p := range r.Points {
		if p == *r.Recommended {
			return r.Indexes[i]
		}
	}
	return nil
}
