package pq

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestPQShapeErrors(t *testing.T) {
	if _, err := NewProductQuantizer(10, 3, 8); err == nil || !strings.Contains(err.Error(), "not a multiple of M=3") {
		t.Fatalf("want d %% M error, got %v", err)
	}
	for _, nb := range []int{0, 3, 9, 16} {
		if _, err := NewProductQuantizer(8, 2, nb); err == nil || !strings.Contains(err.Error(), "between 4 and 8") {
			t.Fatalf("nbits=%d: want range error, got %v", nb, err)
		}
	}
}

func TestPackMatchesFaissBitOrder(t *testing.T) {
	// faiss PQEncoderGeneric writes codes LSB first: 4-bit codes 1,2,3 are
	// bytes 0x21, 0x03; 5-bit codes 31,1 are 0b00111111, 0b00000000.
	p, _ := NewProductQuantizer(3, 3, 4)
	code := make([]byte, p.CodeSize())
	p.pack([]byte{1, 2, 3}, code)
	if !slices.Equal(code, []byte{0x21, 0x03}) {
		t.Fatalf("4-bit packing %x", code)
	}
	p5, _ := NewProductQuantizer(2, 2, 5)
	code = make([]byte, p5.CodeSize())
	p5.pack([]byte{31, 1}, code)
	if !slices.Equal(code, []byte{0x3f, 0x00}) {
		t.Fatalf("5-bit packing %08b", code)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for nbits := 4; nbits <= 8; nbits++ {
		p, _ := NewProductQuantizer(14, 7, nbits)
		idx, back := make([]byte, 7), make([]byte, 7)
		code := make([]byte, p.CodeSize())
		for it := 0; it < 200; it++ {
			for i := range idx {
				idx[i] = byte(r.IntN(p.Ksub))
			}
			p.pack(idx, code)
			p.unpack(code, back)
			if !slices.Equal(idx, back) {
				t.Fatalf("nbits=%d: %v -> %x -> %v", nbits, idx, code, back)
			}
		}
	}
}

func TestPQLossless(t *testing.T) {
	// M = d (one dimension per sub-quantizer), 256 centroids, 256 distinct
	// points: each sub-space has at most 256 distinct values, so faiss's
	// n == k corner case copies them and coding is exact.
	const d = 8
	x := gaussian(256, d, 9)
	p, err := NewProductQuantizer(d, d, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Train(context.Background(), x, DefaultPQTrainConfig()); err != nil {
		t.Fatal(err)
	}
	codes := make([]byte, 256*p.CodeSize())
	if err := p.Encode(x, codes, 2); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(x))
	if err := p.Decode(codes, out); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x, out) {
		t.Fatal("PQ with M=d, ksub=256 on 256 points is not lossless")
	}
}

func TestPQEncodeIsNearestAndADCIsExact(t *testing.T) {
	x := gaussian(3000, 16, 10)
	for _, nbits := range []int{4, 6, 8} {
		ix, err := NewIndexPQ(16, 4, nbits, MetricL2)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultPQTrainConfig()
		cfg.NIter = 5
		if _, err := ix.Train(context.Background(), x, cfg); err != nil {
			t.Fatal(err)
		}
		if err := ix.Add(x[:500*16], 2); err != nil {
			t.Fatal(err)
		}
		p := ix.PQ
		// each sub-code is the nearest sub-centroid
		idx := make([]byte, p.M)
		for i := 0; i < 50; i++ {
			p.unpack(ix.Codes[i*p.CodeSize():(i+1)*p.CodeSize()], idx)
			for m := 0; m < p.M; m++ {
				xs := x[i*16+m*p.Dsub : i*16+(m+1)*p.Dsub]
				got := l2(xs, p.Centroids[(m*p.Ksub+int(idx[m]))*p.Dsub:(m*p.Ksub+int(idx[m])+1)*p.Dsub])
				for j := 0; j < p.Ksub; j++ {
					if v := l2(xs, p.Centroids[(m*p.Ksub+j)*p.Dsub:(m*p.Ksub+j+1)*p.Dsub]); v < got-1e-5 {
						t.Fatalf("nbits=%d vec %d sub %d: code %d at %f, centroid %d closer at %f", nbits, i, m, idx[m], got, j, v)
					}
				}
			}
		}
		// ADC distance == exact distance to the decoded vector
		q := gaussian(5, 16, 11)
		res, err := ix.Search(q, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		dec := make([]float32, 500*16)
		if err := p.Decode(ix.Codes, dec); err != nil {
			t.Fatal(err)
		}
		gt, _ := FlatSearch(q, dec, 16, 10, MetricL2, 1)
		checkSameNeighbours(t, res, gt, 1e-3)
	}
}

// checkSameNeighbours requires equal ids at equal distances (within tol,
// relative) rank by rank, except where two different ids tie within tol.
func checkSameNeighbours(t *testing.T, a, b *SearchResult, tol float64) {
	t.Helper()
	bad := 0
	for i := range a.IDs {
		da, db := float64(a.Distances[i]), float64(b.Distances[i])
		if a.IDs[i] == b.IDs[i] {
			if diff := da - db; diff > tol*(1+abs(db)) || -diff > tol*(1+abs(db)) {
				t.Fatalf("query %d rank %d: id %d at distance %.6g vs %.6g", i/a.K, i%a.K, a.IDs[i], da, db)
			}
			continue
		}
		if diff := da - db; diff > tol*(1+abs(db)) || -diff > tol*(1+abs(db)) {
			bad++
			if bad < 5 {
				t.Errorf("query %d rank %d: id %d (%.6g) vs %d (%.6g)", i/a.K, i%a.K, a.IDs[i], da, b.IDs[i], db)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d results differ beyond ties", bad, len(a.IDs))
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestSDC(t *testing.T) {
	x := gaussian(600, 8, 12)
	p, _ := NewProductQuantizer(8, 2, 4)
	cfg := DefaultPQTrainConfig()
	cfg.NIter = 4
	if _, err := p.Train(context.Background(), x, cfg); err != nil {
		t.Fatal(err)
	}
	codes := make([]byte, 2*p.CodeSize())
	_ = p.Encode(x[:16], codes, 1)
	dec := make([]float32, 16)
	_ = p.Decode(codes, dec)
	got := p.SymmetricDistance(p.SDCTable(), codes[:p.CodeSize()], codes[p.CodeSize():])
	if want := l2(dec[:8], dec[8:]); abs(float64(got)-want) > 1e-4*(1+want) {
		t.Fatalf("SDC %f, want %f", got, want)
	}
}
