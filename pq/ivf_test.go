package pq

import (
	"context"
	"math"
	"testing"
)

func trainedIVF(t *testing.T, kind IVFKind, metric Metric, nbits int, byResidual bool, x []float32, d, nlist int) *IVF {
	t.Helper()
	var ix *IVF
	var err error
	if kind == IVFFlat {
		ix, err = NewIVFFlat(d, nlist, metric)
	} else {
		ix, err = NewIVFPQ(d, nlist, d/4, nbits, metric)
		ix.ByResidual = byResidual
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultIVFTrainConfig()
	cfg.PQIter = 6
	if _, err := ix.Train(context.Background(), x, cfg); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(x)/d)
	for i := range ids {
		ids[i] = int64(i)*7 + 1<<40 // int64 ids beyond 32 bits
	}
	if err := ix.Add(x, ids, 2); err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestIVFFlatFullProbeIsExact(t *testing.T) {
	x, _, _ := clustered(3000, 16, 30, 4, 1, 13)
	q := gaussian(40, 16, 14)
	for _, metric := range []Metric{MetricL2, MetricInnerProduct} {
		ix := trainedIVF(t, IVFFlat, metric, 0, false, x, 16, 32)
		res, err := ix.Search(q, 10, 32, 2)
		if err != nil {
			t.Fatal(err)
		}
		gt, _ := FlatSearch(q, x, 16, 10, metric, 2)
		for i := range gt.IDs {
			gt.IDs[i] = gt.IDs[i]*7 + 1<<40
		}
		checkSameNeighbours(t, res, gt, 1e-4)
		// fewer probes can only lose recall, never return junk
		r1, _ := ix.Search(q, 10, 1, 2)
		rec, _ := Recall(r1, gt, 10)
		if rec <= 0.2 || rec >= 1.0001 {
			t.Fatalf("%v nprobe=1 recall %.3f implausible", metric, rec)
		}
	}
}

// TestIVFPQDistancesAreExactOnReconstructions checks the search formulas
// (precomputed tables, per-list tables, inner product, no residual): with
// every list probed, IVF-PQ must return the exact neighbours among the
// reconstructed vectors, at their exact distances.
func TestIVFPQDistancesAreExactOnReconstructions(t *testing.T) {
	x, _, _ := clustered(4000, 16, 20, 4, 1, 15)
	q := gaussian(30, 16, 16)
	cases := []struct {
		name    string
		metric  Metric
		nbits   int
		resid   bool
		noTable bool
		split   bool // no cached term 2: sum it from the table per list
	}{
		{"l2-resid-precomputed", MetricL2, 8, true, false, false},
		{"l2-resid-precomputed-uncached", MetricL2, 8, true, false, true},
		{"l2-resid-no-table", MetricL2, 8, true, true, false},
		{"l2-resid-4bit", MetricL2, 4, true, false, false},
		{"l2-direct", MetricL2, 6, false, false, false},
		{"ip-resid", MetricInnerProduct, 8, true, false, false},
		{"ip-direct-5bit", MetricInnerProduct, 5, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ix := trainedIVF(t, IVFPQ, tc.metric, tc.nbits, tc.resid, x, 16, 16)
			if tc.noTable {
				ix.precomputed = nil
				ix.precomputedOff = true
			}
			if tc.split {
				ix.term2 = nil
			}
			res, err := ix.Search(q, 20, 16, 2)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ix.Reconstruct(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			gt, _ := FlatSearch(q, rec, 16, 20, tc.metric, 2)
			for i := range gt.IDs {
				gt.IDs[i] = gt.IDs[i]*7 + 1<<40
			}
			checkSameNeighbours(t, res, gt, 1e-3)
			mse := MSE(x, rec, 16)
			if mse <= 0 || mse > 16 {
				t.Fatalf("MSE %f implausible for unit-variance data", mse)
			}
		})
	}
}

func TestIVFPQRecallOnClusteredData(t *testing.T) {
	x, _, _ := clustered(6000, 32, 50, 3, 1, 17)
	q := x[:100*32]
	ix := trainedIVF(t, IVFPQ, MetricL2, 8, true, x, 32, 32)
	gt, _ := FlatSearch(q, x, 32, 10, MetricL2, 2)
	for i := range gt.IDs {
		gt.IDs[i] = gt.IDs[i]*7 + 1<<40
	}
	prev := 0.0
	for _, np := range []int{1, 4, 32} {
		res, _ := ix.Search(q, 10, np, 2)
		r, _ := Recall(res, gt, 10)
		if r+1e-9 < prev {
			t.Fatalf("recall fell from %.3f to %.3f at nprobe=%d", prev, r, np)
		}
		prev = r
	}
	if prev < 0.5 {
		t.Fatalf("IVF32,PQ8x8 recall@10 with all lists %.3f, want >= 0.5", prev)
	}
}

func TestIVFBadInput(t *testing.T) {
	if _, err := NewIVFPQ(10, 4, 3, 8, MetricL2); err == nil {
		t.Fatal("want d % M error")
	}
	if _, err := NewIVFFlat(8, 0, MetricL2); err == nil {
		t.Fatal("want nlist error")
	}
	ix, _ := NewIVFFlat(4, 8, MetricL2)
	if err := ix.Add(gaussian(10, 4, 1), nil, 1); err == nil {
		t.Fatal("add before train must fail")
	}
	if _, err := ix.Train(context.Background(), gaussian(5, 4, 1), DefaultIVFTrainConfig()); err == nil {
		t.Fatal("5 points for 8 lists must fail")
	}
	if _, err := ix.Train(context.Background(), gaussian(100, 4, 1), DefaultIVFTrainConfig()); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(gaussian(10, 4, 1), make([]int64, 3), 1); err == nil {
		t.Fatal("want ids/vectors count error")
	}
	if _, err := ix.Search(gaussian(1, 5, 1), 3, 1, 1); err == nil {
		t.Fatal("want dimension error for a 5-float query at d=4")
	}
}

// The cached per-code term 2 must follow incremental Adds and give exactly
// the distances of summing it from the precomputed table during the scan.
func TestIVFPQTerm2CacheFollowsAdds(t *testing.T) {
	x, _, _ := clustered(3000, 16, 20, 4, 1, 21)
	q := gaussian(25, 16, 22)
	ix, err := NewIVFPQ(16, 8, 4, 8, MetricL2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultIVFTrainConfig()
	cfg.PQIter = 4
	if _, err := ix.Train(context.Background(), x, cfg); err != nil {
		t.Fatal(err)
	}
	for _, part := range [][2]int{{0, 1000}, {1000, 1001}, {1001, 3000}} {
		if err := ix.Add(x[part[0]*16:part[1]*16], nil, 2); err != nil {
			t.Fatal(err)
		}
	}
	for l := range ix.Lists {
		if len(ix.term2[l]) != len(ix.Lists[l].IDs) {
			t.Fatalf("list %d: %d cached sums for %d codes", l, len(ix.term2[l]), len(ix.Lists[l].IDs))
		}
	}
	got, err := ix.Search(q, 15, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	ix.term2 = nil
	want, err := ix.Search(q, 15, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.IDs {
		if got.IDs[i] != want.IDs[i] || math.Float32bits(got.Distances[i]) != math.Float32bits(want.Distances[i]) {
			t.Fatalf("result %d: cached (%d, %v) != summed from the table (%d, %v)", i, got.IDs[i], got.Distances[i], want.IDs[i], want.Distances[i])
		}
	}
}

// Adding to the empty copy WithoutVectors returns must not touch the
// original's cached sums (they would share memory if the cache were copied).
func TestIVFPQWithoutVectorsKeepsOriginalCache(t *testing.T) {
	x, _, _ := clustered(2000, 16, 20, 4, 1, 23)
	q := gaussian(10, 16, 24)
	ix := trainedIVF(t, IVFPQ, MetricL2, 8, true, x, 16, 4)
	before, err := ix.Search(q, 10, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	empty := ix.WithoutVectors()
	if err := empty.Add(x[:500*16], nil, 1); err != nil {
		t.Fatal(err)
	}
	after, err := ix.Search(q, 10, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before.IDs {
		if before.IDs[i] != after.IDs[i] || before.Distances[i] != after.Distances[i] {
			t.Fatalf("result %d changed after adding to the copy: (%d, %v) -> (%d, %v)", i, before.IDs[i], before.Distances[i], after.IDs[i], after.Distances[i])
		}
	}
}
