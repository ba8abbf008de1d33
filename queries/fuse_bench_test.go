package queries

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// benchLists returns two 1,000-hit lists that overlap by half, scored like
// BM25 (0–20) and cosine k-NN (0.5–1).
func benchLists() []SubResult {
	r := rand.New(rand.NewPCG(7, 8))
	bm := make([]Hit, 1000)
	kn := make([]Hit, 1000)
	for i := range 1000 {
		bm[i] = Hit{Index: "docs", ID: fmt.Sprintf("doc-%05d", i), Score: 20 - float64(i)*0.02 + r.Float64()*0.001}
		kn[i] = Hit{Index: "docs", ID: fmt.Sprintf("doc-%05d", i+500), Score: 1 - float64(i)*0.0005}
	}
	sc := &Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: Version{2, 19, 1}}
	return []SubResult{{Name: "bm25", Hits: bm}, {Name: "knn", Hits: kn, Scoring: sc}}
}

// Target (issue 8): fusing two lists of 1,000 hits in under 200 µs.
func BenchmarkFuse1000x2(b *testing.B) {
	subs := benchLists()
	for _, f := range []Fusion{
		{},
		{Weights: []float64{.3, .7}, Combination: CombGeometric},
		{Normalization: NormZScore},
		{Normalization: NormRRF},
		{Normalization: NormDBSF},
	} {
		b.Run(f.Describe(), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := Fuse(subs, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Fusion plus the cut-offs, as a hybrid search runs them.
func BenchmarkFuseAndCut1000x2(b *testing.B) {
	subs := benchLists()
	ms := 0.5
	c := Cutoff{TopK: 100, MinSimilarity: &ms, GapRel: 0.5, Cumulative: 0.95}
	scorings := []*Scoring{nil, subs[1].Scoring}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		f, err := Fuse(subs, Fusion{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Apply(f.Results, scorings); err != nil {
			b.Fatal(err)
		}
	}
}

// A machine-load reference for the figures above: sorting 1,500 float64
// takes about 25–40 µs on an idle modern core. On a loaded machine, read
// the fusion figures relative to this one.
func BenchmarkReferenceSortFloat64x1500(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 9))
	src := make([]float64, 1500)
	for i := range src {
		src[i] = r.Float64()
	}
	buf := make([]float64, len(src))
	defer reportCPU(b)()
	for b.Loop() {
		copy(buf, src)
		slices.Sort(buf)
	}
}

// FuseTop ranks only the page a search shows (k = 10 or 100 of ~1,500
// fused documents): the path a hybrid search takes when its cut-offs are
// top-k only.
func BenchmarkFuseTop1000x2(b *testing.B) {
	subs := benchLists()
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("min_max_arithmetic_top%d", n), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := FuseTop(subs, Fusion{}, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU adds a cpu-µs/op metric: CPU time used per operation, which
// waiting for a busy core does not inflate (see cpuTime). Call as
// defer reportCPU(b)() before the loop.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e3, "cpu-µs/op")
		}
	}
}
