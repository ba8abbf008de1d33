package embed

import (
	"math"
	"math/rand"
	"testing"
)

// linear.apply (packed AVX2 panels, or native.MatMulTransB) against a plain
// float64 reference, over shapes that hit partial row blocks and panels.
func TestLinearMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, s := range [][3]int{{1, 16, 8}, {5, 24, 7}, {6, 16, 384}, {6, 32, 20}, {12, 1152, 384}, {13, 40, 33}, {200, 50, 300}, {7, 3, 5}, {19, 70, 64}} {
		m, n, k := s[0], s[1], s[2]
		w := make([]float32, n*k)
		b := make([]float32, n)
		a := make([]float32, m*k)
		for _, v := range [][]float32{w, b, a} {
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
		}
		want := make([]float64, m*n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				acc := float64(b[j])
				for p := 0; p < k; p++ {
					acc += float64(a[i*k+p]) * float64(w[j*k+p])
				}
				want[i*n+j] = acc
			}
		}
		for _, wide := range []bool{false, true} {
			if wide && !useAVX512 {
				continue
			}
			save := useAVX512
			useAVX512 = wide
			l := newLinear(append([]float32(nil), w...), b, n, k)
			useAVX512 = save
			for _, threads := range []int{1, 2, 3} {
				c := make([]float32, m*n)
				for i := range c {
					c[i] = float32(math.NaN()) // every element must be written
				}
				l.apply(c, a, m, threads)
				for i := range c {
					if d := math.Abs(float64(c[i]) - want[i]); !(d <= 1e-4*math.Sqrt(float64(k))) {
						t.Fatalf("m=%d n=%d k=%d threads=%d avx512=%v: c[%d]=%v want %v", m, n, k, threads, wide, i, c[i], want[i])
					}
				}
			}
		}
	}
}

// The GELU fused into the packed kernel's tiles equals the layer followed
// by exact GELU, on full and edge tiles.
func TestLinearFusedGELU(t *testing.T) {
	if !useAVX2 {
		t.Skip("fusion needs the packed AVX2 kernels")
	}
	rng := rand.New(rand.NewSource(4))
	for _, s := range [][3]int{{6, 32, 16}, {13, 40, 33}, {200, 96, 64}, {12, 1536, 384}} {
		m, n, k := s[0], s[1], s[2]
		w, b, a := make([]float32, n*k), make([]float32, n), make([]float32, m*k)
		for _, v := range [][]float32{w, b, a} {
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
		for _, wide := range []bool{false, true} {
			if wide && !useAVX512 {
				continue
			}
			save := useAVX512
			useAVX512 = wide
			l := newLinear(append([]float32(nil), w...), b, n, k)
			useAVX512 = save
			want := make([]float32, m*n)
			l.apply(want, a, m, 1)
			for i, v := range want {
				want[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
			}
			l.gelu = true
			for _, threads := range []int{1, 2} {
				c := make([]float32, m*n)
				l.apply(c, a, m, threads)
				for i := range c {
					if d := math.Abs(float64(c[i] - want[i])); !(d <= 1e-6+1e-6*math.Abs(float64(want[i]))) {
						t.Fatalf("m=%d n=%d k=%d avx512=%v threads=%d: c[%d]=%v want %v", m, n, k, wide, threads, i, c[i], want[i])
					}
				}
			}
		}
	}
}
