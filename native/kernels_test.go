package native

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachLevel runs f once per level this CPU/build supports, with every
// kernel forced onto that level.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range Supported() {
		t.Run(l.String(), func(t *testing.T) {
			prev, err := Use(l)
			if err != nil {
				t.Fatal(err)
			}
			defer Use(prev)
			f(t)
		})
	}
}

const eps32 = 1.0 / (1 << 24) // unit roundoff of float32

// tolSum is the tolerance for a float32 sum of n terms whose absolute values
// add up to absSum: the classic worst-case bound n·u·Σ|t| for any summation
// order (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), plus
// one rounding of the result. Dropping or doubling any one term of a random
// vector exceeds it by orders of magnitude.
func tolSum(n int, absSum float64) float64 {
	return (float64(n)+2)*eps32*absSum + math.SmallestNonzeroFloat32
}

// maxLen is the longest length the table tests run: it covers every tail
// size of every unrolled loop (64 floats, 128 bytes) several times over.
const maxLen = 1030

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func refDot(a, b []float32) (dot, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		dot += p
		abs += math.Abs(p)
	}
	return
}

func refL2(a, b []float32) (l2, abs float64) {
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		l2 += d * d
	}
	// The float32 subtraction rounds each difference once (relative u), so
	// the bound on the sum of squares is the same form with Σd².
	return l2, l2
}

// unaligned returns a copy of v starting off floats past a 64-byte boundary,
// with a guard element after it that must never be touched.
func unaligned(v []float32, off int) []float32 {
	buf := make([]float32, len(v)+off+16+1)
	s := buf[off : off+len(v)] // cap reaches the guard, so tests can check it
	copy(s, v)
	buf[off+len(v)] = float32(math.NaN())
	return s
}

func TestFloatKernelsAgainstFloat64(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n <= maxLen; n++ {
			off := n % 16
			a := unaligned(randF32(r, n), off)
			b := unaligned(randF32(r, n), (off+5)%16)
			want, abs := refDot(a, b)
			if got := Dot(a, b); math.Abs(float64(got)-want) > tolSum(n, abs) {
				t.Fatalf("Dot n=%d: got %v want %v (tol %g)", n, got, want, tolSum(n, abs))
			}
			{
				d, aa, bb := cur.Load().cos(a, b)
				wa, _ := refDot(a, a)
				wb, _ := refDot(b, b)
				if math.Abs(float64(d)-want) > tolSum(n, abs) || math.Abs(float64(aa)-wa) > tolSum(n, wa) || math.Abs(float64(bb)-wb) > tolSum(n, wb) {
					t.Fatalf("cos kernel n=%d: (%v %v %v) want (%v %v %v)", n, d, aa, bb, want, wa, wb)
				}
			}
			wl2, abs2 := refL2(a, b)
			if got := L2Squared(a, b); math.Abs(float64(got)-wl2) > tolSum(n, abs2)*3 {
				t.Fatalf("L2Squared n=%d: got %v want %v", n, got, wl2)
			}
			wn, absn := refDot(a, a)
			if got := Norm(a); math.Abs(float64(got)-math.Sqrt(wn)) > tolSum(n, absn)/(2*math.Sqrt(wn)+1e-30)+4*eps32*math.Sqrt(wn) {
				t.Fatalf("Norm n=%d: got %v want %v", n, got, math.Sqrt(wn))
			}
			if n > 0 {
				_, nb := refDot(b, b)
				wc := want / math.Sqrt(wn*nb)
				if got := Cosine(a, b); math.Abs(float64(got)-wc) > 1e-6+tolSum(n, abs)/math.Sqrt(wn*nb)*3 {
					t.Fatalf("Cosine n=%d: got %v want %v", n, got, wc)
				}
			}
		}
	})
}

func TestScaleAndNormalize(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= maxLen; n++ {
			a := unaligned(randF32(r, n), n%16)
			orig := append([]float32(nil), a...)
			Scale(a, 0.5)
			for i := range a {
				if a[i] != orig[i]*0.5 {
					t.Fatalf("Scale n=%d i=%d: %v != %v", n, i, a[i], orig[i]*0.5)
				}
			}
			if a[:n+1][n] == a[:n+1][n] {
				t.Fatalf("Scale n=%d wrote past the end", n)
			}
			copy(a, orig)
			old := Normalize(a)
			wn, _ := refDot(orig, orig)
			if n == 0 {
				if old != 0 {
					t.Fatalf("Normalize of empty returned %v", old)
				}
				continue
			}
			if math.Abs(float64(old)-math.Sqrt(wn)) > 1e-5*math.Sqrt(wn) {
				t.Fatalf("Normalize n=%d returned %v want %v", n, old, math.Sqrt(wn))
			}
			nn, _ := refDot(a, a)
			if math.Abs(nn-1) > 1e-5 {
				t.Fatalf("Normalize n=%d: squared norm after = %v", n, nn)
			}
		}
	})
	z := make([]float32, 7)
	if Normalize(z) != 0 || Dot(z, z) != 0 {
		t.Fatal("Normalize of zero vector must leave it and return 0")
	}
}

func TestBatchKernels(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, d := range []int{0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 128, 129, 384, 767, 768, 1030} {
			for _, rows := range []int{0, 1, 2, 5, 17} {
				q := unaligned(randF32(r, d), d%7)
				m := unaligned(randF32(r, d*rows), (d+3)%16)
				out := make([]float32, rows+1)
				out[rows] = 42
				DotBatch(q, m, out[:rows])
				for i := 0; i < rows; i++ {
					want, abs := refDot(q, m[i*d:(i+1)*d])
					if math.Abs(float64(out[i])-want) > tolSum(d, abs) {
						t.Fatalf("DotBatch d=%d rows=%d row %d: got %v want %v", d, rows, i, out[i], want)
					}
				}
				L2Batch(q, m, out[:rows])
				for i := 0; i < rows; i++ {
					want, abs := refL2(q, m[i*d:(i+1)*d])
					if math.Abs(float64(out[i])-want) > 3*tolSum(d, abs) {
						t.Fatalf("L2Batch d=%d rows=%d row %d: got %v want %v", d, rows, i, out[i], want)
					}
				}
				if out[rows] != 42 {
					t.Fatalf("batch d=%d rows=%d wrote past out", d, rows)
				}
			}
		}
		// More rows than one assembly call takes (batchChunkFloats).
		d, rows := 3, 3*batchChunkFloats/3/2+7
		q, m := randF32(r, d), randF32(r, d*rows)
		out := make([]float32, rows)
		L2Batch(q, m, out)
		for i := range out {
			want, abs := refL2(q, m[i*d:(i+1)*d])
			if math.Abs(float64(out[i])-want) > 3*tolSum(d, abs) {
				t.Fatalf("L2Batch chunked row %d: got %v want %v", i, out[i], want)
			}
		}
	})
}

func TestIntKernelsExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for n := 0; n <= maxLen; n++ {
			off := n % 64
			ab := make([]byte, n+off+1)
			bb := make([]byte, n+off+3)
			for i := range ab {
				ab[i] = byte(r.Uint32())
			}
			for i := range bb {
				bb[i] = byte(r.Uint32())
			}
			if n%5 == 0 { // extremes, where overflow of narrower lanes would show
				for i := range ab {
					ab[i], bb[i] = 0x80, 0x7f
					if i%2 == 0 {
						ab[i], bb[i] = 0xff, 0x00
					}
				}
			}
			au, bu := ab[off:off+n], bb[off+1:off+1+n]
			ai, bi := make([]int8, n), make([]int8, n)
			var di, li, du, lu int64
			var ham int
			for i := range au {
				ai[i], bi[i] = int8(au[i]), int8(bu[i])
				di += int64(ai[i]) * int64(bi[i])
				li += (int64(ai[i]) - int64(bi[i])) * (int64(ai[i]) - int64(bi[i]))
				du += int64(au[i]) * int64(bu[i])
				lu += (int64(au[i]) - int64(bu[i])) * (int64(au[i]) - int64(bu[i]))
				x := au[i] ^ bu[i]
				for ; x != 0; x &= x - 1 {
					ham++
				}
			}
			if got := DotInt8(ai, bi); int64(got) != di {
				t.Fatalf("DotInt8 n=%d: %d want %d", n, got, di)
			}
			if got := L2SquaredInt8(ai, bi); int64(got) != li {
				t.Fatalf("L2SquaredInt8 n=%d: %d want %d", n, got, li)
			}
			if got := DotUint8(au, bu); int64(got) != du {
				t.Fatalf("DotUint8 n=%d: %d want %d", n, got, du)
			}
			if got := L2SquaredUint8(au, bu); int64(got) != lu {
				t.Fatalf("L2SquaredUint8 n=%d: %d want %d", n, got, lu)
			}
			if got := Hamming(au, bu); got != ham {
				t.Fatalf("Hamming n=%d: %d want %d", n, got, ham)
			}
		}
	})
}

// Integer sums wrap modulo 2^32 identically on every level.
func TestIntKernelsWrapIdentically(t *testing.T) {
	n := 70000 // 70000·255² > 2^32
	a, b := make([]uint8, n), make([]uint8, n)
	for i := range a {
		a[i] = 255
	}
	var want uint32
	for range n {
		want += 255 * 255
	}
	forEachLevel(t, func(t *testing.T) {
		if got := L2SquaredUint8(a, b); got != want {
			t.Fatalf("L2SquaredUint8 wrap: %d want %d", got, want)
		}
		if got := DotUint8(a, a); got != want {
			t.Fatalf("DotUint8 wrap: %d want %d", got, want)
		}
		// Long bit vectors: kernels that count in narrow lanes must flush.
		r := rand.New(rand.NewPCG(13, 14))
		x, y := make([]byte, 100003), make([]byte, 100003)
		for i := range x {
			x[i], y[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		if got, want := Hamming(x, y), hammingGeneric(x, y); got != want {
			t.Fatalf("Hamming of 100003 bytes: %d want %d", got, want)
		}
		xi, yi := make([]int8, 140001), make([]int8, 140001)
		for i := range xi {
			xi[i], yi[i] = -128, -128
		}
		if got, want := DotInt8(xi, yi), dotI8Generic(xi, yi); got != want {
			t.Fatalf("DotInt8 wrap: %d want %d", got, want)
		}
		if got, want := L2SquaredInt8(xi[:70001], make([]int8, 70001)), l2I8Generic(xi[:70001], make([]int8, 70001)); got != want {
			t.Fatalf("L2SquaredInt8 wrap: %d want %d", got, want)
		}
	})
}

func TestLengthMismatchPanics(t *testing.T) {
	cases := map[string]func(){
		"Dot":            func() { Dot(make([]float32, 3), make([]float32, 4)) },
		"L2Squared":      func() { L2Squared(make([]float32, 3), make([]float32, 4)) },
		"Cosine":         func() { Cosine(make([]float32, 3), make([]float32, 4)) },
		"DotBatch":       func() { DotBatch(make([]float32, 3), make([]float32, 7), make([]float32, 2)) },
		"L2Batch":        func() { L2Batch(make([]float32, 3), make([]float32, 7), make([]float32, 2)) },
		"DotInt8":        func() { DotInt8(make([]int8, 3), make([]int8, 4)) },
		"L2SquaredInt8":  func() { L2SquaredInt8(make([]int8, 3), make([]int8, 4)) },
		"DotUint8":       func() { DotUint8(make([]uint8, 3), make([]uint8, 4)) },
		"L2SquaredUint8": func() { L2SquaredUint8(make([]uint8, 3), make([]uint8, 4)) },
		"Hamming":        func() { Hamming(make([]byte, 3), make([]byte, 4)) },
		"Madd":           func() { Madd(make([]float32, 3), make([]float32, 3), 1, make([]float32, 4)) },
		"PQLookupSum":    func() { PQLookupSum(make([]float32, 16), 2, 8, make([]byte, 3), make([]float32, 2)) },
		"PQ4LookupSum":   func() { PQ4LookupSum(make([]float32, 32), 2, make([]byte, 3), make([]float32, 2)) },
		"MatMulTransB":   func() { MatMulTransB(make([]float32, 4), make([]float32, 4), make([]float32, 3), 2, 2, 2, 1, 0, 1) },
		"MatMul":         func() { MatMul(make([]float32, 4), make([]float32, 5), make([]float32, 4), 2, 2, 2, 1, 0, 1) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if msg := fmt.Sprint(r); !contains(msg, "native."+name+":") {
					t.Fatalf("panic message %q does not name the kernel", msg)
				}
			}()
			f()
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestPQLookupSum(t *testing.T) {
	forEachLevel(t, testPQLookupSum)
}

func testPQLookupSum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, ksub := range []int{16, 100, 256} {
		for _, M := range []int{0, 1, 2, 3, 5, 8, 16, 24, 32, 64} {
			n := 37 + M%5
			tables := randF32(r, M*ksub)
			codes := make([]byte, n*M)
			for i := range codes {
				codes[i] = byte(r.IntN(ksub))
			}
			out := make([]float32, n)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			PQLookupSum(tables, M, ksub, codes, out)
			if ksub == 256 {
				twin := make([]float32, n)
				pq8Lookup256(tables, M, codes, twin)
				for i := range out {
					if math.Float32bits(out[i]) != math.Float32bits(twin[i]) {
						t.Fatalf("PQLookupSum M=%d i=%d: %v differs from the Go twin's %v (must be bit-identical)", M, i, out[i], twin[i])
					}
				}
			}
			for i := range out {
				var want, abs float64
				for m := 0; m < M; m++ {
					v := float64(tables[m*ksub+int(codes[i*M+m])])
					want += v
					abs += math.Abs(v)
				}
				if math.Abs(float64(out[i])-want) > tolSum(M, abs) {
					t.Fatalf("PQLookupSum ksub=%d M=%d i=%d: %v want %v", ksub, M, i, out[i], want)
				}
			}
		}
	}
}

func TestPQ4LookupSum(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, M := range []int{1, 2, 3, 7, 8, 9, 10, 11, 13, 15, 16, 17, 23, 31, 32, 64} {
			for _, n := range []int{1, 5, 16, 33, 100} {
				cb := (M + 1) / 2
				tables := randF32(r, M*16)
				codes := make([]byte, n*cb)
				for i := range codes {
					codes[i] = byte(r.Uint32())
				}
				out := make([]float32, n)
				PQ4LookupSum(tables, M, codes, out)
				twin := make([]float32, n)
				pq4Generic(tables, M, codes, twin)
				for i := range out {
					if math.Float32bits(out[i]) != math.Float32bits(twin[i]) {
						t.Fatalf("PQ4LookupSum M=%d n=%d i=%d: %v differs from the Go twin's %v (must be bit-identical)", M, n, i, out[i], twin[i])
					}
					var want, abs float64
					for m := 0; m < M; m++ {
						c := codes[i*cb+m/2]
						if m%2 == 0 {
							c &= 15
						} else {
							c >>= 4
						}
						v := float64(tables[m*16+int(c)])
						want += v
						abs += math.Abs(v)
					}
					if math.Abs(float64(out[i])-want) > tolSum(M, abs) {
						t.Fatalf("PQ4LookupSum M=%d n=%d i=%d: %v want %v", M, n, i, out[i], want)
					}
				}
			}
		}
	})
}

func TestUseRejectsUnsupported(t *testing.T) {
	if _, err := Use(Level(99)); err == nil {
		t.Fatal("Use(99) succeeded")
	}
	if Supported()[0] != Generic {
		t.Fatal("Generic must always be supported")
	}
}

func TestDescribe(t *testing.T) {
	d := Describe()
	if !contains(d, Active().String()) || !contains(d, "sgemm") {
		t.Fatalf("Describe() = %q", d)
	}
	t.Log(d)
}
