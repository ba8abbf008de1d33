package ingest

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func checkF32(t *testing.T, f float32) {
	t.Helper()
	want := strconv.AppendFloat(nil, float64(f), 'g', -1, 32)
	got := appendFloat32(nil, f)
	if string(got) == string(want) {
		return
	}
	// The only allowed difference: when the exact value lies halfway
	// between two shortest candidates, Ryu rounds the last digit to even
	// and strconv up (e.g. 2^-12 = 0.000244140625: 0.00024414062 vs
	// ...063). Both parse back to f and have the same length.
	back, err := strconv.ParseFloat(string(got), 32)
	if err != nil || math.Float32bits(float32(back)) != math.Float32bits(f) || len(got) != len(want) {
		t.Fatalf("appendFloat32(%08x) = %s, strconv gives %s", math.Float32bits(f), got, want)
	}
	ties++
}

var ties int

// appendFloat32 writes what strconv writes (the shortest exact
// representation, TestAppendVectorExact), up to ties: every power of two and its
// neighbours, the subnormal range's edges, the extremes, a stride through
// all 2^32 bit patterns and random values.
func TestAppendFloat32MatchesStrconv(t *testing.T) {
	for _, f := range []float32{1, -1, 0.1, 0.2, 0.3, 1.5, 3.4028235e38, -3.4028235e38, 1.1754944e-38, 1e-45, 1.4e-45,
		123456.7, 1234567, 12345678, 0.0001, 0.00001, 999999.94, 1e6, 1e-5, 9.999999e-5, 2.5, 0.5, 1e10, 16777216, 33554432} {
		checkF32(t, f)
		checkF32(t, -f)
	}
	for e := uint32(0); e < 255; e++ {
		for _, m := range []uint32{0, 1, 2, 3, 1<<23 - 1, 1<<23 - 2, 1 << 22, 1<<22 + 1, 1<<22 - 1} {
			u := e<<23 | m
			if u == 0 {
				continue
			}
			checkF32(t, math.Float32frombits(u))
			checkF32(t, math.Float32frombits(u|1<<31))
		}
	}
	stride := uint32(7919)
	if testing.Short() {
		stride = 104729
	}
	for u := uint64(1); u < 0x7f800000; u += uint64(stride) {
		checkF32(t, math.Float32frombits(uint32(u)))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		checkF32(t, rng.Float32()*2-1)
		checkF32(t, float32(rng.NormFloat64()))
		u := rng.Uint32()
		if u&0x7f800000 != 0x7f800000 {
			checkF32(t, math.Float32frombits(u))
		}
	}
	t.Logf("%d exact ties rounded to even", ties)
}

func BenchmarkAppendFloat32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, 4096)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	buf := make([]byte, 0, 64)
	b.Run("ryu", func(b *testing.B) {
		for i := range b.N {
			buf = appendFloat32(buf[:0], v[i%len(v)])
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for i := range b.N {
			buf = strconv.AppendFloat(buf[:0], float64(v[i%len(v)]), 'g', -1, 32)
		}
	})
}

// appendVectorStrconv is AppendVector before appendFloat32, the baseline of
// BenchmarkAppendVector.
func appendVectorStrconv(b []byte, v []float32) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if x > -1e7 && x < 1e7 && x == float32(int32(x)) && math.Float32bits(x) != 1<<31 {
			b = strconv.AppendInt(b, int64(x), 10)
			continue
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']')
}

func BenchmarkAppendVector(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, 384)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	buf := make([]byte, 0, 8192)
	for range 3 { // alternate, the machine is shared
		b.Run("ryu", func(b *testing.B) {
			for range b.N {
				buf = AppendVector(buf[:0], v)
			}
		})
		b.Run("strconv", func(b *testing.B) {
			for range b.N {
				buf = appendVectorStrconv(buf[:0], v)
			}
		})
	}
}
