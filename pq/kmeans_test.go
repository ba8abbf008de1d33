package pq

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestMT19937MatchesStdlib(t *testing.T) {
	// C++ [rand.predef]: the 10000th output of a default-constructed
	// std::mt19937 (seed 5489) is 4123659995.
	m := newMT19937(5489)
	var v uint32
	for i := 0; i < 10000; i++ {
		v = m.next()
	}
	if v != 4123659995 {
		t.Fatalf("10000th mt19937 output = %d, want 4123659995", v)
	}
	if got := newMT19937(5489).next(); got != 3499211612 {
		t.Fatalf("first output = %d, want 3499211612", got)
	}
}

func TestRandPermIsPermutation(t *testing.T) {
	p := randPerm(1000, 1234)
	s := slices.Clone(p)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("not a permutation at %d: %d", i, v)
		}
	}
	if slices.Equal(p, randPerm(1000, 1235)) {
		t.Fatal("different seeds gave the same permutation")
	}
}

// recovered checks that every true center has exactly one centroid within
// tol and returns the worst distance.
func recovered(t *testing.T, cent, centers []float32, d int, tol float64) {
	t.Helper()
	k := len(centers) / d
	used := map[int]bool{}
	for c := 0; c < k; c++ {
		best, bi := math.Inf(1), -1
		for j := 0; j < len(cent)/d; j++ {
			if v := l2(centers[c*d:(c+1)*d], cent[j*d:(j+1)*d]); v < best {
				best, bi = v, j
			}
		}
		if best > tol {
			t.Fatalf("true center %d: nearest centroid %d at squared distance %.4f > %.4f", c, bi, best, tol)
		}
		if used[bi] {
			t.Fatalf("centroid %d is nearest to two true centers", bi)
		}
		used[bi] = true
	}
}

func TestKMeansRecoversSeparatedClusters(t *testing.T) {
	const d = 16
	for _, tc := range []struct {
		name  string
		init  Init
		k     int
		nredo int
	}{
		{"kmeans++", InitPlusPlus, 10, 1},
		// faiss's random start often puts two centroids in one of several
		// well-separated clusters; restarts keeping the best objective fix it.
		{"random-redo", InitRandom, 3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.k
			x, centers, _ := clustered(400*k, d, k, 10, 0.3, 1)
			cfg := DefaultKMeansConfig(k)
			cfg.Init, cfg.NRedo, cfg.NIter = tc.init, tc.nredo, 20
			res, err := KMeans(context.Background(), x, d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// the mean of 400 N(0, 0.3²) points is within ~0.015 per coordinate
			recovered(t, res.Centroids, centers, d, 0.05)
			// 400 points per cluster > 256: sub-sampled to 256·k, as faiss.
			if res.NTrain != 256*k {
				t.Fatalf("NTrain %d, want %d", res.NTrain, 256*k)
			}
			wantObj := float64(res.NTrain*d) * 0.09
			if res.Obj > 1.2*float64(wantObj) || res.Obj < 0.8*float64(wantObj) {
				t.Fatalf("objective %.1f, want about %.1f (n·d·σ²)", res.Obj, wantObj)
			}
		})
	}
}

func TestKMeansDeterministicAcrossThreads(t *testing.T) {
	x, _, _ := clustered(3000, 8, 20, 3, 1, 2)
	var prev []float32
	for _, th := range []int{1, 2, 3} {
		cfg := DefaultKMeansConfig(32)
		cfg.Threads = th
		cfg.NIter = 8
		res, err := KMeans(context.Background(), x, 8, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && !slices.Equal(prev, res.Centroids) {
			t.Fatalf("threads=%d gave different centroids", th)
		}
		prev = res.Centroids
	}
}

func TestKMeansRandomInitIsFaissPermutation(t *testing.T) {
	// With 0 iterations faiss's centroids are x[perm[i]] for
	// perm = rand_perm(n, seed+1); check our start equals it via NIter=1 on
	// k = n-1 points... simpler: the first progress objective of a run with
	// the initial centroids equal to those rows must be reproducible.
	x := gaussian(500, 4, 3)
	cfg := DefaultKMeansConfig(5)
	cfg.NIter = 1
	var objs []float64
	cfg.Progress = func(p KMeansProgress) { objs = append(objs, p.Obj) }
	if _, err := KMeans(context.Background(), x, 4, cfg); err != nil {
		t.Fatal(err)
	}
	perm := randPerm(500, DefaultSeed+1)
	init := make([]float32, 0, 20)
	for i := 0; i < 5; i++ {
		init = append(init, x[perm[i]*4:(perm[i]+1)*4]...)
	}
	dis, _ := flatSearch(x, 500, init, 5, 4, 1, MetricL2, nil, 1)
	var want float64
	for _, v := range dis {
		want += float64(v)
	}
	if math.Abs(objs[0]-want) > 1e-3*want {
		t.Fatalf("first objective %.4f, want %.4f from faiss's rand_perm(seed+1) start", objs[0], want)
	}
}

func TestKMeansSplitsEmptyClusters(t *testing.T) {
	// 300 points on only 3 distinct locations and k=6: random starts pick
	// duplicates, whose clusters come out empty and must be split, never
	// left as NaN or zero centroids.
	const d = 4
	x := make([]float32, 300*d)
	for i := 0; i < 300; i++ {
		for j := 0; j < d; j++ {
			x[i*d+j] = float32((i%3)*10 + j + 1)
		}
	}
	cfg := DefaultKMeansConfig(6)
	cfg.NIter = 3
	splits := 0
	cfg.Progress = func(p KMeansProgress) { splits += p.NSplit }
	res, err := KMeans(context.Background(), x, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if splits == 0 {
		t.Fatal("expected empty clusters to be split")
	}
	if !finite(res.Centroids) {
		t.Fatal("non-finite centroid")
	}
	for c := 0; c < 6; c++ {
		if l2(res.Centroids[c*d:(c+1)*d], make([]float32, d)) < 1 {
			t.Fatalf("centroid %d left at zero", c)
		}
	}
	if res.Obj > 1 {
		t.Fatalf("objective %.3f: the 3 locations should be covered exactly", res.Obj)
	}
}

func TestKMeansSpherical(t *testing.T) {
	x, _, _ := clustered(2000, 8, 8, 5, 0.5, 4)
	renormRows(x, 8)
	cfg := DefaultKMeansConfig(8)
	cfg.Metric, cfg.Spherical, cfg.NIter = MetricInnerProduct, true, 10
	res, err := KMeans(context.Background(), x, 8, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 8; c++ {
		var s float64
		for _, v := range res.Centroids[c*8 : (c+1)*8] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-4 {
			t.Fatalf("centroid %d has squared norm %f, want 1", c, s)
		}
	}
	// IP objective = sum of cosines, at most n and well above 0 here.
	if res.Obj <= 0 || res.Obj > 2000 {
		t.Fatalf("objective %f out of (0, n]", res.Obj)
	}
	if it := res.Iterations; it[len(it)-1].Obj < it[0].Obj {
		t.Fatalf("IP objective decreased: %f -> %f", it[0].Obj, it[len(it)-1].Obj)
	}
}

func TestKMeansBadInput(t *testing.T) {
	ctx := context.Background()
	x := gaussian(100, 4, 5)
	if _, err := KMeans(ctx, x, 4, DefaultKMeansConfig(101)); !errors.Is(err, ErrTooFewPoints) {
		t.Fatalf("want ErrTooFewPoints, got %v", err)
	}
	bad := slices.Clone(x)
	bad[4*7+2] = float32(math.NaN())
	_, err := KMeans(ctx, bad, 4, DefaultKMeansConfig(3))
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "vector 7, component 2") {
		t.Fatalf("want NaN error naming vector 7 component 2, got %v", err)
	}
	bad[4*7+2] = float32(math.Inf(-1))
	if _, err := KMeans(ctx, bad, 4, DefaultKMeansConfig(3)); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want Inf error, got %v", err)
	}
	if _, err := KMeans(ctx, x[:10], 4, DefaultKMeansConfig(1)); err == nil || !strings.Contains(err.Error(), "not a whole number") {
		t.Fatalf("want dimension mismatch error, got %v", err)
	}
	var warned []string
	cfg := DefaultKMeansConfig(10)
	cfg.NIter = 2
	cfg.Warn = func(s string) { warned = append(warned, s) }
	res, err := KMeans(ctx, x, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || len(res.Warnings) != 1 || !strings.Contains(warned[0], "at least 390 training points") {
		t.Fatalf("want one faiss-style warning for 100 points / 10 centroids, got %q", warned)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := KMeans(cctx, x, 4, DefaultKMeansConfig(3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestKMeansSubsamples(t *testing.T) {
	x := gaussian(3000, 4, 6)
	cfg := DefaultKMeansConfig(4)
	cfg.MaxPointsPerCentroid = 100
	cfg.NIter = 2
	res, err := KMeans(context.Background(), x, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.NTrain != 400 {
		t.Fatalf("trained on %d points, want 4·100", res.NTrain)
	}
}
