package native

import (
	"encoding/binary"
	"math"
	"testing"
)

// Fuzz targets: `go test -fuzz=FuzzFloatKernels ./native` (one target per
// run). Inputs are raw float32 bit patterns, so NaN, ±Inf, denormals and
// huge magnitudes all occur; every supported level is checked against the
// rules in doc.go.

func floatsFromBytes(data []byte) []float32 {
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

func addFloatSeeds(f *testing.F) {
	le := func(vs ...float32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	f.Add(le(1, 2, 3, 4, 5, 6), uint8(0))
	f.Add(le(inf, 1, 2, 3), uint8(1))
	f.Add(le(inf, 0, 1, 1), uint8(2))
	f.Add(le(nan, 1, 2, 3, 4, 5, 6, 7, 8, 9), uint8(3))
	f.Add(le(3e38, 3e38, 3e38, 1, 1, -1), uint8(4))
	f.Add(le(1e-45, 1e-40, 1e-44, 1e-39), uint8(5))
	long := make([]float32, 2*133)
	for i := range long {
		long[i] = float32(i%17) - 8
	}
	f.Add(le(long...), uint8(6))
}

type class int

const (
	finite class = iota
	posInf
	negInf
	isNaN
)

func classOf(x float64) class {
	switch {
	case math.IsNaN(x):
		return isNaN
	case math.IsInf(x, 1):
		return posInf
	case math.IsInf(x, -1):
		return negInf
	}
	return finite
}

// checkSum applies doc.go's rules to one float32 result got of a sum of
// terms whose float64 values are terms (nil entries impossible).
func checkSum(t *testing.T, what string, got float32, ref, abs float64, finiteAbs float64, n int, tolMul float64) {
	t.Helper()
	const safe = math.MaxFloat32 / 4
	if math.IsNaN(ref) && finiteAbs <= safe {
		if got == got {
			t.Fatalf("%s: got %v, want NaN", what, got)
		}
		return
	}
	if finiteAbs > safe {
		return // float32 partial sums may overflow: any result is allowed
	}
	if c := classOf(ref); c != finite {
		if classOf(float64(got)) != c {
			t.Fatalf("%s: got %v, want %v", what, got, ref)
		}
		return
	}
	tol := tolMul*tolSum(n, abs) + float64(n)*math.SmallestNonzeroFloat32
	if !(math.Abs(float64(got)-ref) <= tol) {
		t.Fatalf("%s: got %v, want %v (tol %g)", what, got, ref, tol)
	}
}

func FuzzFloatKernels(f *testing.F) {
	addFloatSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		v := floatsFromBytes(data)
		n := len(v) / 2
		o := int(off) % 16
		a := unaligned(v[:n], o)
		b := unaligned(v[n:2*n], (o+3)%16)
		var dot, dabs, dfin, l2, lfin float64
		anyNaN, aNaN := false, false
		for i := range a {
			x, y := float64(a[i]), float64(b[i])
			if x != x || y != y {
				anyNaN = true
			}
			if x != x {
				aNaN = true
			}
			p := x * y
			dot += p
			dabs += math.Abs(p)
			if !math.IsInf(x, 0) && !math.IsInf(y, 0) {
				dfin += math.Abs(p)
			}
			d := x - y
			l2 += d * d
			if !math.IsInf(d, 0) {
				lfin += d * d
			}
		}
		if anyNaN {
			dot, l2 = math.NaN(), math.NaN()
		}
		for _, l := range Supported() {
			prev, _ := Use(l)
			checkSum(t, l.String()+" Dot", Dot(a, b), dot, dabs, dfin, n, 1)
			checkSum(t, l.String()+" L2Squared", L2Squared(a, b), l2, l2, lfin, n, 3)
			cd, _, _ := cur.Load().cos(a, b)
			checkSum(t, l.String()+" cosine's dot", cd, dot, dabs, dfin, n, 1)
			out := make([]float32, 2)
			m := append(append([]float32(nil), b...), a...)
			DotBatch(a, m, out)
			checkSum(t, l.String()+" DotBatch", out[0], dot, dabs, dfin, n, 1)
			L2Batch(a, m, out)
			checkSum(t, l.String()+" L2Batch", out[0], l2, l2, lfin, n, 3)
			if aNaN && out[1] == out[1] {
				t.Fatalf("%v L2Batch of a NaN vector with itself: %v", l, out[1])
			}
			Use(prev)
		}
	})
}

func FuzzIntKernels(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6}, uint8(0))
	f.Add(make([]byte, 300), uint8(7))
	f.Add([]byte{0x80, 0x80, 0x7f, 0xff, 0x80, 0x7f, 0x00, 0xff}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		n := len(data) / 2
		au, bu := data[:n], data[n:2*n]
		o := int(off) % 64
		ap := make([]byte, n+o)
		copy(ap[o:], au)
		au = ap[o:]
		ai := make([]int8, n)
		bi := make([]int8, n)
		var di int32
		var li, du, lu uint32
		var ham int
		for i := range au {
			ai[i], bi[i] = int8(au[i]), int8(bu[i])
			di += int32(ai[i]) * int32(bi[i])
			d := int32(ai[i]) - int32(bi[i])
			li += uint32(d * d)
			du += uint32(au[i]) * uint32(bu[i])
			e := int32(au[i]) - int32(bu[i])
			lu += uint32(e * e)
			for x := au[i] ^ bu[i]; x != 0; x &= x - 1 {
				ham++
			}
		}
		for _, l := range Supported() {
			prev, _ := Use(l)
			if got := DotInt8(ai, bi); got != di {
				t.Fatalf("%v DotInt8 n=%d: %d want %d", l, n, got, di)
			}
			if got := L2SquaredInt8(ai, bi); got != li {
				t.Fatalf("%v L2SquaredInt8 n=%d: %d want %d", l, n, got, li)
			}
			if got := DotUint8(au, bu); got != du {
				t.Fatalf("%v DotUint8 n=%d: %d want %d", l, n, got, du)
			}
			if got := L2SquaredUint8(au, bu); got != lu {
				t.Fatalf("%v L2SquaredUint8 n=%d: %d want %d", l, n, got, lu)
			}
			if got := Hamming(au, bu); got != ham {
				t.Fatalf("%v Hamming n=%d: %d want %d", l, n, got, ham)
			}
			Use(prev)
		}
	})
}

// FuzzGemm checks small products of finite values against float64 on every
// level, with sizes chosen by the fuzzer so tile edges are explored.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(13), uint8(33), uint8(7), []byte{1, 2, 3}, true)
	f.Add(uint8(1), uint8(1), uint8(0), []byte{}, false)
	f.Fuzz(func(t *testing.T, m8, n8, k8 uint8, seed []byte, transB bool) {
		m, n, k := int(m8%40), int(n8%70), int(k8%50)
		a := make([]float32, m*k)
		b := make([]float32, n*k)
		fill := func(v []float32, salt int) {
			for i := range v {
				x := 0
				if len(seed) > 0 {
					x = int(seed[(i+salt)%len(seed)])
				}
				v[i] = float32((x+i*7+salt)%19) - 9
			}
		}
		fill(a, 1)
		fill(b, 2)
		for _, l := range Supported() {
			prev, _ := Use(l)
			c := make([]float32, m*n)
			want, tol := refGemm(c, a, b, m, n, k, 1, 0, transB)
			if transB {
				MatMulTransB(c, a, b, m, n, k, 1, 0, 2)
			} else {
				MatMul(c, a, b, m, n, k, 1, 0, 2)
			}
			for i := range c {
				if math.Abs(float64(c[i])-want[i]) > tol[i] {
					t.Fatalf("%v m=%d n=%d k=%d transB=%v: C[%d]=%v want %v", l, m, n, k, transB, i, c[i], want[i])
				}
			}
			Use(prev)
		}
	})
}

// FuzzTopK checks selection against a full stable sort, NaN/±Inf/±0 included.
func FuzzTopK(f *testing.F) {
	addFloatSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, k8 uint8) {
		s := floatsFromBytes(data)
		k := int(k8) % (len(s) + 2)
		for _, largest := range []bool{false, true} {
			want := refTopK(s, k, largest)
			got := TopKSmallest(s, k)
			if largest {
				got = TopKLargest(s, k)
			}
			if len(got) != len(want) {
				t.Fatalf("largest=%v k=%d: %d results, want %d", largest, k, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("largest=%v k=%d of %v: got %v want %v", largest, k, s, got, want)
				}
			}
		}
	})
}
