package queries

import (
	"fmt"
	"math/rand/v2"
	"os"
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

// A hybrid search's client work on a real answer: an _msearch response of
// two 50-hit sub-queries with _source (vectors excluded), as the dev
// cluster returned it (testdata/msearch_hybrid_50x2.json, 23 KB), parsed,
// then fused and cut to a page of 10.
func BenchmarkHybridClientWork(b *testing.B) {
	raw, err := os.ReadFile("testdata/msearch_hybrid_50x2.json")
	if err != nil {
		b.Fatal(err)
	}
	sc := &Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: Version{2, 19, 1}}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := ParseMSearchResponse(raw, 2); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same answer through encoding/json, as session 1 parsed it.
	b.Run("parse_encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		defer reportCPU(b)()
		for b.Loop() {
			rs, err := slowMSearch(raw)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range rs {
				if _, err := r.convert("x"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parse+fuse+cut", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			rs, err := ParseMSearchResponse(raw, 2)
			if err != nil {
				b.Fatal(err)
			}
			subs := []SubResult{{Name: "bm25", Hits: rs[0].Hits}, {Name: "knn", Hits: rs[1].Hits, Scoring: sc}}
			if _, _, err := FuseCut(subs, Fusion{}, Cutoff{}, []*Scoring{nil, sc}, PageSpec{Size: 10}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Building a hybrid request's bodies (BM25, k-NN with the vector, the
// _msearch NDJSON): client work before the round trip.
func BenchmarkHybridBodies(b *testing.B) {
	fields, _ := ParseTextFields("title^2,body")
	src := &Source{Excludes: []string{"v"}}
	for _, dim := range []int{64, 384} {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(i%17) / 17
		}
		b.Run(fmt.Sprintf("dim%d", dim), func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				bm, err := BM25{Text: "solar panel storage", Fields: fields, Size: 50, Source: src, NoTotal: true}.Body()
				if err != nil {
					b.Fatal(err)
				}
				kn, err := KNN{Field: "v", Vector: v, K: 50, Engine: EngineLucene, Source: src, NoTotal: true}.Body()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := MSearchBody([]string{"docs"}, bm, kn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
