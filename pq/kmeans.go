package pq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/knnbridge/knnbridge/native"
)

// Init selects how k-means picks its starting centroids.
type Init int

const (
	// InitRandom is faiss's initialisation: the first K points of a random
	// permutation of the (sub-sampled) training set, drawn with faiss's own
	// generator so the same seed gives the same start as faiss.
	InitRandom Init = iota
	// InitPlusPlus is k-means++ (Arthur & Vassilvitskii 2007): each next
	// centroid is drawn with probability proportional to its squared distance
	// to the nearest centroid already chosen.
	InitPlusPlus
)

func (i Init) String() string {
	if i == InitPlusPlus {
		return "kmeans++"
	}
	return "random"
}

// Defaults of faiss::ClusteringParameters (faiss/Clustering.cpp).
const (
	DefaultNIter                = 25
	DefaultSeed                 = 1234
	DefaultMinPointsPerCentroid = 39 // "corresponds to 10000 / 256", faiss
	DefaultMaxPointsPerCentroid = 256
)

// ErrTooFewPoints is wrapped by the error returned when there are fewer
// training points than centroids.
var ErrTooFewPoints = errors.New("fewer training points than centroids")

// ErrNonFinite is wrapped by errors about NaN or Inf in input vectors.
var ErrNonFinite = errors.New("vector component is NaN or Inf")

// KMeansConfig configures KMeans. Zero values take faiss's defaults except
// Seed, where 0 is a valid seed: start from DefaultKMeansConfig.
type KMeansConfig struct {
	K      int
	NIter  int // Lloyd iterations per restart (0: 25)
	NRedo  int // restarts; the best objective wins (0: 1)
	Seed   int64
	Init   Init
	Metric Metric // L2 or inner product
	// Spherical renormalises centroids to unit length after every update
	// (faiss's spherical k-means; faiss turns it on for IVF with inner product).
	Spherical bool
	// MinPointsPerCentroid: below K times this many points a warning is
	// issued (0: 39). MaxPointsPerCentroid: above K times this many points the
	// training set is randomly sub-sampled down to it (0: 256, <0: never).
	MinPointsPerCentroid int
	MaxPointsPerCentroid int
	Threads              int // 0: all cores
	// Progress, when set, is called after every iteration.
	Progress func(KMeansProgress)
	// Warn, when set, receives each warning as it is issued (they are also
	// collected in KMeansResult.Warnings).
	Warn func(string)
}

// DefaultKMeansConfig returns faiss's defaults for k centroids under L2.
func DefaultKMeansConfig(k int) KMeansConfig {
	return KMeansConfig{K: k, NIter: DefaultNIter, NRedo: 1, Seed: DefaultSeed, Metric: MetricL2,
		MinPointsPerCentroid: DefaultMinPointsPerCentroid, MaxPointsPerCentroid: DefaultMaxPointsPerCentroid}
}

// KMeansProgress reports one finished Lloyd iteration.
type KMeansProgress struct {
	Redo, NRedo int
	Iter, NIter int
	// Obj is faiss's objective for this iteration's assignment: the sum of
	// squared distances (L2) or of inner products (IP) of points to their
	// assigned centroid.
	Obj       float64
	NSplit    int     // empty clusters re-seeded by splitting
	Imbalance float64 // faiss's imbalance factor (1 = perfectly balanced)
	Elapsed   time.Duration
}

// KMeansResult is the outcome of KMeans.
type KMeansResult struct {
	D, K      int
	Centroids []float32 // K × D, row-major
	// Obj is the objective of the last iteration of the kept restart.
	Obj        float64
	Iterations []KMeansProgress // of the kept restart
	NTrain     int              // training points used after sub-sampling
	Warnings   []string
}

func (c *KMeansConfig) normalize() {
	if c.NIter <= 0 {
		c.NIter = DefaultNIter
	}
	if c.NRedo <= 0 {
		c.NRedo = 1
	}
	if c.MinPointsPerCentroid == 0 {
		c.MinPointsPerCentroid = DefaultMinPointsPerCentroid
	}
	if c.MaxPointsPerCentroid == 0 {
		c.MaxPointsPerCentroid = DefaultMaxPointsPerCentroid
	}
	c.Threads = threadsOrDefault(c.Threads)
}

// checkVectors validates shape and finiteness; what names the input in errors.
func checkVectors(what string, x []float32, d int) (int, error) {
	if d <= 0 {
		return 0, fmt.Errorf("pq: %s: dimension must be positive, got %d", what, d)
	}
	if len(x)%d != 0 {
		return 0, fmt.Errorf("pq: %s: %d floats is not a whole number of %d-dimensional vectors", what, len(x), d)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("pq: %s: vector %d, component %d is %v: %w", what, i/d, i%d, v, ErrNonFinite)
		}
	}
	return len(x) / d, nil
}

// KMeans clusters the n = len(x)/d row-major vectors of x into cfg.K
// centroids following faiss::Clustering::train: optional sub-sampling to
// MaxPointsPerCentroid·K points, NRedo restarts of NIter Lloyd iterations
// each (assignment by blocked matrix products on the native kernels,
// centroid update, faiss's empty-cluster splitting), keeping the restart with
// the best final objective. Deterministic for a given seed and input,
// whatever the number of threads.
func KMeans(ctx context.Context, x []float32, d int, cfg KMeansConfig) (*KMeansResult, error) {
	cfg.normalize()
	n, err := checkVectors("k-means training set", x, d)
	if err != nil {
		return nil, err
	}
	k := cfg.K
	if k <= 0 {
		return nil, fmt.Errorf("pq: k-means: number of centroids must be positive, got %d", k)
	}
	if n < k {
		return nil, fmt.Errorf("pq: k-means: %d training points for %d centroids: %w", n, k, ErrTooFewPoints)
	}
	res := &KMeansResult{D: d, K: k}
	warn := func(s string) {
		res.Warnings = append(res.Warnings, s)
		if cfg.Warn != nil {
			cfg.Warn(s)
		}
	}
	if cfg.MaxPointsPerCentroid > 0 && n > k*cfg.MaxPointsPerCentroid {
		// faiss subsample_training_set: first K·max points of rand_perm(seed).
		perm := randPerm(n, cfg.Seed)
		nx := k * cfg.MaxPointsPerCentroid
		sub := make([]float32, nx*d)
		for i := 0; i < nx; i++ {
			copy(sub[i*d:(i+1)*d], x[perm[i]*d:(perm[i]+1)*d])
		}
		x, n = sub, nx
	} else if n < k*cfg.MinPointsPerCentroid {
		warn(fmt.Sprintf("clustering %d points to %d centroids: please provide at least %d training points (faiss recommends %d per centroid)",
			n, k, k*cfg.MinPointsPerCentroid, cfg.MinPointsPerCentroid))
	}
	res.NTrain = n
	if n == k {
		// faiss's corner case: the training set is the codebook.
		res.Centroids = append([]float32(nil), x...)
		if cfg.Spherical {
			renormRows(res.Centroids, d)
		}
		return res, nil
	}

	lowerIsBetter := cfg.Metric == MetricL2
	bestObj := math.Inf(1)
	if !lowerIsBetter {
		bestObj = math.Inf(-1)
	}
	var best []float32
	var bestIters []KMeansProgress
	start := time.Now()
	assign := make([]int64, n)
	hassign := make([]float32, k)
	for redo := 0; redo < cfg.NRedo; redo++ {
		initSeed := cfg.Seed + 1 + int64(redo)*15486557
		var cent []float32
		switch cfg.Init {
		case InitPlusPlus:
			cent = kmeansPlusPlus(x, n, d, k, initSeed, cfg.Threads)
		default:
			perm := randPerm(n, initSeed)
			cent = make([]float32, k*d)
			for i := 0; i < k; i++ {
				copy(cent[i*d:(i+1)*d], x[perm[i]*d:(perm[i]+1)*d])
			}
		}
		if cfg.Spherical {
			renormRows(cent, d)
		}
		var iters []KMeansProgress
		var obj float64
		for it := 0; it < cfg.NIter; it++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("pq: k-means stopped at restart %d iteration %d: %w", redo, it, err)
			}
			dis, ids := flatSearch(x, n, cent, k, d, 1, cfg.Metric, nil, cfg.Threads)
			copy(assign, ids)
			obj = 0
			for _, v := range dis {
				obj += float64(v)
			}
			computeCentroids(x, n, d, k, assign, cent, hassign, cfg.Threads)
			nsplit := splitClusters(d, k, n, hassign, cent)
			if cfg.Spherical {
				renormRows(cent, d)
			}
			p := KMeansProgress{Redo: redo, NRedo: cfg.NRedo, Iter: it, NIter: cfg.NIter, Obj: obj,
				NSplit: nsplit, Imbalance: imbalance(assign, k), Elapsed: time.Since(start)}
			iters = append(iters, p)
			if cfg.Progress != nil {
				cfg.Progress(p)
			}
		}
		if cfg.NRedo == 1 || (lowerIsBetter && obj < bestObj) || (!lowerIsBetter && obj > bestObj) {
			best, bestObj, bestIters = cent, obj, iters
		}
	}
	res.Centroids, res.Obj, res.Iterations = best, bestObj, bestIters
	return res, nil
}

// computeCentroids is faiss's compute_centroids: each worker owns a range of
// centroids and scans all assignments, so sums need no locks and their order
// (hence the floating-point result) does not depend on the thread count.
func computeCentroids(x []float32, n, d, k int, assign []int64, cent []float32, hassign []float32, threads int) {
	clear(hassign)
	parallelChunks(k, threads, func(_, c0, c1 int) {
		acc := make([]float64, (c1-c0)*d)
		cnt := make([]int, c1-c0)
		for i := 0; i < n; i++ {
			ci := int(assign[i])
			if ci < c0 || ci >= c1 {
				continue
			}
			a := acc[(ci-c0)*d : (ci-c0+1)*d]
			for j, v := range x[i*d : (i+1)*d] {
				a[j] += float64(v)
			}
			cnt[ci-c0]++
		}
		for c := c0; c < c1; c++ {
			hassign[c] = float32(cnt[c-c0])
			row := cent[c*d : (c+1)*d]
			if cnt[c-c0] == 0 {
				clear(row) // faiss leaves empty centroids at zero until split
				continue
			}
			inv := 1 / float64(cnt[c-c0])
			for j := range row {
				row[j] = float32(acc[(c-c0)*d+j] * inv)
			}
		}
	})
}

// splitEps is faiss's EPS: "a bit above machine epsilon for float16".
const splitEps = 1.0 / 1024

// splitClusters re-seeds empty clusters exactly as faiss's split_clusters:
// walk the clusters cyclically, pick cluster cj with probability
// (size(cj)−1)/(n−k) using RandomGenerator(1234), copy its centroid into the
// empty slot, perturb both symmetrically by ±EPS and split its count evenly.
func splitClusters(d, k, n int, hassign []float32, cent []float32) int {
	nsplit := 0
	var rng *faissRNG
	for ci := 0; ci < k; ci++ {
		if hassign[ci] != 0 {
			continue
		}
		if rng == nil {
			rng = newFaissRNG(1234)
		}
		cj := 0
		for ; ; cj = (cj + 1) % k {
			p := float32(float64(hassign[cj]-1) / float64(float32(n-k)))
			if rng.randFloat() < p {
				break
			}
		}
		copy(cent[ci*d:(ci+1)*d], cent[cj*d:(cj+1)*d])
		for j := 0; j < d; j++ {
			if j%2 == 0 {
				cent[ci*d+j] *= 1 + splitEps
				cent[cj*d+j] *= 1 - splitEps
			} else {
				cent[ci*d+j] *= 1 - splitEps
				cent[cj*d+j] *= 1 + splitEps
			}
		}
		hassign[ci] = hassign[cj] / 2
		hassign[cj] -= hassign[ci]
		nsplit++
	}
	return nsplit
}

// imbalance is faiss's imbalance_factor: k·Σ size² / n².
func imbalance(assign []int64, k int) float64 {
	hist := make([]float64, k)
	for _, a := range assign {
		hist[a]++
	}
	var tot, uf float64
	for _, h := range hist {
		tot += h
		uf += h * h
	}
	return uf * float64(k) / (tot * tot)
}

func renormRows(x []float32, d int) {
	for i := 0; i+d <= len(x); i += d {
		native.Normalize(x[i : i+d])
	}
}

// kmeansPlusPlus draws k starting centroids by D² sampling. The minimum
// distance array is updated with one-vs-many L2 kernels split over threads.
func kmeansPlusPlus(x []float32, n, d, k int, seed int64, threads int) []float32 {
	rng := newFaissRNG(seed)
	cent := make([]float32, 0, k*d)
	first := rng.randInt(n)
	cent = append(cent, x[first*d:(first+1)*d]...)
	minD := make([]float32, n)
	for i := range minD {
		minD[i] = inf32
	}
	partial := make([]float64, threadsOrDefault(threads))
	for c := 1; c < k; c++ {
		last := cent[(c-1)*d : c*d]
		clear(partial)
		parallelChunks(n, threads, func(w, lo, hi int) {
			buf := make([]float32, hi-lo)
			native.L2Batch(last, x[lo*d:hi*d], buf)
			var s float64
			for i, v := range buf {
				if v < minD[lo+i] {
					minD[lo+i] = v
				}
				s += float64(minD[lo+i])
			}
			partial[w] = s
		})
		var total float64
		for _, s := range partial {
			total += s
		}
		pick := -1
		if total > 0 {
			r := rng.randDouble() * total
			var acc float64
			for i, v := range minD {
				acc += float64(v)
				if acc >= r && v > 0 {
					pick = i
					break
				}
			}
		}
		if pick < 0 {
			// All remaining mass is zero (duplicates): take any unused point.
			pick = rng.randInt(n)
		}
		cent = append(cent, x[pick*d:(pick+1)*d]...)
	}
	return cent
}

// Assign returns, for each row of x, the index of its nearest centroid
// (largest inner product for MetricInnerProduct) and that distance.
func Assign(x, centroids []float32, d int, metric Metric, threads int) ([]int64, []float32, error) {
	n, err := checkVectors("vectors to assign", x, d)
	if err != nil {
		return nil, nil, err
	}
	if len(centroids) == 0 || len(centroids)%d != 0 {
		return nil, nil, fmt.Errorf("pq: assign: %d centroid floats is not a positive multiple of d=%d", len(centroids), d)
	}
	dis, ids := flatSearch(x, n, centroids, len(centroids)/d, d, 1, metric, nil, threads)
	return ids, dis, nil
}
