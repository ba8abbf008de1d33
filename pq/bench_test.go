package pq

import (
	"context"
	"testing"
)

// Micro-benchmarks on small synthetic data; the side-by-side comparison
// with faiss is bench/pq/run.sh.

func BenchmarkKMeans20kx64k256(b *testing.B) {
	x, _, _ := clustered(20000, 64, 100, 2, 1, 51)
	cfg := DefaultKMeansConfig(256)
	cfg.NIter = 5
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := KMeans(context.Background(), x, 64, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPQEncode(b *testing.B) {
	x, _, _ := clustered(20000, 64, 100, 2, 1, 52)
	p, _ := NewProductQuantizer(64, 16, 8)
	cfg := DefaultPQTrainConfig()
	cfg.NIter = 2
	if _, err := p.Train(context.Background(), x, cfg); err != nil {
		b.Fatal(err)
	}
	codes := make([]byte, 20000*p.CodeSize())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = p.Encode(x, codes, 0)
	}
}

func BenchmarkIVFPQSearch(b *testing.B) {
	x, _, _ := clustered(20000, 64, 100, 2, 1, 53)
	ix, _ := NewIVFPQ(64, 128, 16, 8, MetricL2)
	cfg := DefaultIVFTrainConfig()
	cfg.PQIter, cfg.CoarseIter = 3, 3
	if _, err := ix.Train(context.Background(), x, cfg); err != nil {
		b.Fatal(err)
	}
	_ = ix.Add(x, nil, 0)
	q := x[:100*64]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _ = ix.Search(q, 10, 8, 0)
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "queries/s")
}
