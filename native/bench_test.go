package native

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// forEachLevelB runs one sub-benchmark per supported level.
func forEachLevelB(b *testing.B, name string, f func(b *testing.B)) {
	for _, l := range Supported() {
		b.Run(fmt.Sprintf("%s/impl=%s", name, l), func(b *testing.B) {
			prev, _ := Use(l)
			defer Use(prev)
			f(b)
		})
	}
}

var sinkF float32
var sinkI int64

func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []int{128, 384, 768, 1536} {
		x, y := randF32(r, d), randF32(r, d)
		forEachLevelB(b, fmt.Sprintf("dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(8 * d))
			for b.Loop() {
				sinkF += Dot(x, y)
			}
		})
	}
}

func BenchmarkL2Squared(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []int{128, 384, 768, 1536} {
		x, y := randF32(r, d), randF32(r, d)
		forEachLevelB(b, fmt.Sprintf("dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(8 * d))
			for b.Loop() {
				sinkF += L2Squared(x, y)
			}
		})
	}
}

// One query against 4096 rows: the matrix (2–12 MiB) sits in L2/L3.
func BenchmarkBatch(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const rows = 4096
	for _, d := range []int{128, 384, 768} {
		q, m, out := randF32(r, d), randF32(r, d*rows), make([]float32, rows)
		forEachLevelB(b, fmt.Sprintf("op=dot/dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(4 * d * rows))
			for b.Loop() {
				DotBatch(q, m, out)
			}
		})
		forEachLevelB(b, fmt.Sprintf("op=l2/dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(4 * d * rows))
			for b.Loop() {
				L2Batch(q, m, out)
			}
		})
	}
}

func BenchmarkInt(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []int{128, 768} {
		x, y := make([]int8, d), make([]int8, d)
		xu, yu := make([]uint8, d), make([]uint8, d)
		for i := range x {
			x[i], y[i] = int8(r.Uint32()), int8(r.Uint32())
			xu[i], yu[i] = uint8(x[i]), uint8(y[i])
		}
		forEachLevelB(b, fmt.Sprintf("op=dotInt8/dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(2 * d))
			for b.Loop() {
				sinkI += int64(DotInt8(x, y))
			}
		})
		forEachLevelB(b, fmt.Sprintf("op=l2Uint8/dim=%d", d), func(b *testing.B) {
			b.SetBytes(int64(2 * d))
			for b.Loop() {
				sinkI += int64(L2SquaredUint8(xu, yu))
			}
		})
		forEachLevelB(b, fmt.Sprintf("op=hamming/bytes=%d", d), func(b *testing.B) {
			b.SetBytes(int64(2 * d))
			for b.Loop() {
				sinkI += int64(Hamming(xu, yu))
			}
		})
	}
}

func BenchmarkPQ(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n = 10000
	for _, M := range []int{16, 64} {
		tables := randF32(r, M*256)
		codes := make([]byte, n*M)
		for i := range codes {
			codes[i] = byte(r.Uint32())
		}
		out := make([]float32, n)
		forEachLevelB(b, fmt.Sprintf("bits=8/M=%d", M), func(b *testing.B) {
			b.SetBytes(int64(len(codes)))
			for b.Loop() {
				PQLookupSum(tables, M, 256, codes, out)
			}
		})
		t4 := tables[:M*16]
		c4 := codes[:n*((M+1)/2)]
		forEachLevelB(b, fmt.Sprintf("bits=4/M=%d", M), func(b *testing.B) {
			b.SetBytes(int64(len(c4)))
			for b.Loop() {
				PQ4LookupSum(t4, M, c4, out)
			}
		})
	}
}

// The SGEMM shape: 1024×384 times 384×1536 (one BERT-base-size
// feed-forward product at sequence 1024 / hidden 384).
func BenchmarkSGEMM(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const m, n, k = 1024, 1536, 384
	a, bt, c := randF32(r, m*k), randF32(r, n*k), make([]float32, m*n)
	for _, threads := range []int{1, 2} {
		for _, trans := range []bool{true, false} {
			name := fmt.Sprintf("op=%s/m=%d/n=%d/k=%d/threads=%d", map[bool]string{true: "ABt", false: "AB"}[trans], m, n, k, threads)
			forEachLevelB(b, name, func(b *testing.B) {
				for b.Loop() {
					if trans {
						MatMulTransB(c, a, bt, m, n, k, 1, 0, threads)
					} else {
						MatMul(c, a, bt, m, n, k, 1, 0, threads)
					}
				}
				b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// One query against a block of vectors through MatMulTransB (m = 1).
func BenchmarkSGEMMOneRow(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n, k = 4096, 384
	a, bt, c := randF32(r, k), randF32(r, n*k), make([]float32, n)
	forEachLevelB(b, fmt.Sprintf("m=1/n=%d/k=%d", n, k), func(b *testing.B) {
		b.SetBytes(4 * n * k)
		for b.Loop() {
			MatMulTransB(c, a, bt, 1, n, k, 1, 0, 1)
		}
	})
}
