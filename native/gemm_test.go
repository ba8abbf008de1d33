package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm returns float64 C = alpha*A·op(B) + beta*C0 and, per element, the
// bound of the float32 computation: (k+4)·u·(|alpha|·Σ|a·b| + |beta·c0|).
func refGemm(c0, a, b []float32, m, n, k int, alpha, beta float32, transB bool) (want, tol []float64) {
	want = make([]float64, m*n)
	tol = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for p := 0; p < k; p++ {
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				x := float64(a[i*k+p]) * float64(bv)
				s += x
				abs += math.Abs(x)
			}
			v := float64(alpha) * s
			t := math.Abs(float64(alpha)) * abs
			if beta != 0 {
				v += float64(beta) * float64(c0[i*n+j])
				t += math.Abs(float64(beta) * float64(c0[i*n+j]))
			}
			want[i*n+j] = v
			tol[i*n+j] = float64(k+4)*eps32*t + math.SmallestNonzeroFloat32
		}
	}
	return
}

func checkGemm(t *testing.T, m, n, k int, alpha, beta float32, threads int, transB bool, r *rand.Rand) {
	t.Helper()
	a := unaligned(randF32(r, m*k), 1)
	b := unaligned(randF32(r, n*k), 3)
	c0 := randF32(r, m*n)
	c := unaligned(c0, 2)
	if beta == 0 {
		for i := range c { // beta = 0 must not read C
			c[i] = float32(math.NaN())
		}
	}
	want, tol := refGemm(c0, a, b, m, n, k, alpha, beta, transB)
	if transB {
		MatMulTransB(c, a, b, m, n, k, alpha, beta, threads)
	} else {
		MatMul(c, a, b, m, n, k, alpha, beta, threads)
	}
	for i := range c {
		if !(math.Abs(float64(c[i])-want[i]) <= tol[i]) {
			t.Fatalf("transB=%v m=%d n=%d k=%d alpha=%v beta=%v threads=%d: C[%d,%d]=%v want %v (tol %g)",
				transB, m, n, k, alpha, beta, threads, i/n, i%n, c[i], want[i], tol[i])
		}
	}
	if g := c[:len(c)+1][len(c)]; g == g {
		t.Fatalf("m=%d n=%d k=%d: wrote past C", m, n, k)
	}
}

// forEachGemmKernel runs f with every SGEMM micro-kernel the CPU can run,
// including those dispatch did not pick for any level.
func forEachGemmKernel(t *testing.T, f func(t *testing.T)) {
	for _, k := range gemmKernels() {
		t.Run(k.name, func(t *testing.T) {
			im := *cur.Load()
			im.gemm = k
			prev := cur.Swap(&im)
			defer cur.Store(prev)
			f(t)
		})
	}
}

func TestGemmShapes(t *testing.T) {
	forEachGemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		dims := []int{1, 2, 5, 6, 7, 11, 12, 13, 16, 17, 24, 31, 32, 33, 47}
		for _, transB := range []bool{true, false} {
			for _, m := range dims {
				for _, n := range dims {
					k := dims[(m*7+n*3)%len(dims)]
					checkGemm(t, m, n, k, 1, 0, 1, transB, r)
				}
			}
			// Across the k blocking (kc = 256/384) and the n blocking (4096),
			// with alpha/beta and several goroutine counts.
			for _, s := range []struct {
				m, n, k, threads int
				alpha, beta      float32
			}{
				{37, 45, 300, 2, 1, 1},
				{25, 19, 777, 3, 0.5, -2},
				{50, 70, 513, 4, 1, 0},
				{3, 4100, 5, 2, 2, 0.25},
				{64, 64, 64, 0, 1, 1},
				{13, 1, 1000, 2, 1, 0},
				{1, 130, 385, 2, -1, 1},
				{5, 200, 64, 3, 1, 0.5}, // few rows: columns split over goroutines
			} {
				checkGemm(t, s.m, s.n, s.k, s.alpha, s.beta, s.threads, transB, r)
			}
		}
	})
}

func TestGemmDegenerate(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		// k = 0 and alpha = 0: C = beta*C without reading A or B.
		c := []float32{1, 2, 3, 4}
		MatMulTransB(c, nil, nil, 2, 2, 0, 1, 2, 1)
		if c[0] != 2 || c[3] != 8 {
			t.Fatalf("k=0: %v", c)
		}
		a := []float32{float32(math.NaN()), 1, 1, 1}
		MatMul(c, a, a, 2, 2, 2, 0, 0.5, 1)
		if c[0] != 1 || c[3] != 4 {
			t.Fatalf("alpha=0: %v", c)
		}
		MatMul(c, a, a, 2, 2, 2, 0, 0, 1)
		if c[0] != 0 || c[3] != 0 {
			t.Fatalf("alpha=0 beta=0: %v", c)
		}
		MatMul(nil, nil, make([]float32, 6), 0, 3, 2, 1, 0, 2)
	})
}

// The encoder's shapes: sequence × hidden against weight matrices.
func TestGemmEncoderShape(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	forEachGemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		checkGemm(t, 40, 200, 384, 1, 1, 2, true, r)
		checkGemm(t, 40, 200, 384, 1, 0, 2, false, r)
	})
}

// The documented promise: the result does not depend on threads, because
// every split follows the micro-kernel's tile grid.
func TestGemmThreadsBitIdentical(t *testing.T) {
	forEachGemmKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(25, 26))
		for _, s := range [][3]int{{61, 77, 300}, {5, 300, 40}, {200, 33, 17}} {
			m, n, k := s[0], s[1], s[2]
			a, b, c0 := randF32(r, m*k), randF32(r, n*k), randF32(r, m*n)
			var first []float32
			for _, th := range []int{1, 2, 3, 7} {
				c := append([]float32(nil), c0...)
				MatMulTransB(c, a, b, m, n, k, 0.7, 0.3, th)
				if first == nil {
					first = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
						t.Fatalf("m=%d n=%d k=%d threads=%d: C[%d]=%v, threads=1 gave %v", m, n, k, th, i, c[i], first[i])
					}
				}
			}
		}
	})
}
