package embed

import (
	"math"
	"testing"
)

func TestErffMatchesErf(t *testing.T) {
	var worst float64
	for x := -6.0; x <= 6.0; x += 0.001 {
		d := math.Abs(float64(erff(float32(x))) - math.Erf(x))
		worst = max(worst, d)
	}
	if worst > 5e-7 { // A&S bound 1.5e-7 plus float32 rounding
		t.Fatalf("erff max abs error %g", worst)
	}
}

func TestExpfMatchesExp(t *testing.T) {
	var worst float64
	for x := -100.0; x <= 80.0; x += 0.01 {
		want := math.Exp(float64(float32(x))) // the input's own rounding is not expf's error
		got := float64(expf(float32(x)))
		rel := math.Abs(got-want) / want
		if want < 1e-37 { // subnormal range: absolute error
			rel = math.Abs(got - want)
		}
		worst = max(worst, rel)
	}
	if worst > 5e-7 {
		t.Fatalf("expf max relative error %g", worst)
	}
	if expf(-200) != 0 || !math.IsInf(float64(expf(100)), 1) {
		t.Fatal("expf range ends")
	}
}

func TestActivationsKnownValues(t *testing.T) {
	cases := []struct {
		name string
		x    float32
		want float64
	}{
		{"gelu", 1, 0.8413447460685429},
		{"gelu", -1, -0.15865525393145707},
		{"gelu_new", 1, 0.8411919906082768},
		{"relu", -2, 0},
		{"silu", 1, 0.7310585786300049},
		{"quick_gelu", 1, 1 / (1 + math.Exp(-1.702))},
	}
	for _, c := range cases {
		v := []float32{c.x}
		activations[c.name](v)
		if math.Abs(float64(v[0])-c.want) > 1e-6 {
			t.Errorf("%s(%v) = %v, want %v", c.name, c.x, v[0], c.want)
		}
	}
}

func TestAVX2KernelsMatchScalar(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2+FMA on this CPU (or purego build): scalar kernels only")
	}
	// exp over softmax's range (x - max <= 0) and a little above.
	var xs []float32
	for x := float32(-100); x <= 10; x += 0.0137 {
		xs = append(xs, x)
	}
	xs = xs[:len(xs)&^7]
	got := append([]float32(nil), xs...)
	sum := expShiftSumAVX2(got, 1.5)
	var want float64
	for i, x := range xs {
		e := math.Exp(float64(x - 1.5)) // float32 subtraction, as the kernel does
		want += e
		if e > 1e-37 && math.Abs(float64(got[i])-e)/e > 5e-7 {
			t.Fatalf("exp(%v-1.5): %v, want %v", x, got[i], e)
		}
	}
	if math.Abs(float64(sum)-want)/want > 1e-5 {
		t.Errorf("sum %v, want %v", sum, want)
	}
	var g []float32
	for x := float32(-12); x <= 12; x += 0.00173 {
		g = append(g, x)
	}
	g = append(g, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 100, -100, 1e30, -1e30)
	g = g[:len(g)&^7]
	in := append([]float32(nil), g...)
	geluAVX2(g)
	for i, x := range in {
		want := 0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2))
		if d := math.Abs(float64(g[i]) - want); d > 1e-6*max(1, math.Abs(want)) {
			t.Fatalf("gelu(%v) = %v, want %v", x, g[i], want)
		}
	}
}

func TestSoftmaxMatchesReference(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 16, 23, 128, 257} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i*7+n))) * 9
		}
		x[n/2] = 30 // the max somewhere in the middle
		var mx float64 = -1e9
		for _, v := range x {
			mx = max(mx, float64(v))
		}
		want := make([]float64, n)
		var sum float64
		for i, v := range x {
			want[i] = math.Exp(float64(v) - mx)
			sum += want[i]
		}
		softmax(x)
		for i := range x {
			if d := math.Abs(float64(x[i]) - want[i]/sum); d > 1e-6 {
				t.Fatalf("n=%d i=%d: %v, want %v", n, i, x[i], want[i]/sum)
			}
		}
	}
}

func TestLayerNormMatchesReference(t *testing.T) {
	for _, H := range []int{8, 12, 384} {
		rows := 5
		x := make([]float32, rows*H)
		res := make([]float32, rows*H)
		w := make([]float32, H)
		b := make([]float32, H)
		for i := range x {
			x[i] = float32(math.Sin(float64(i))*3 + 10) // large mean: tests the two-pass variance
			res[i] = float32(math.Cos(float64(i * 3)))
		}
		for j := range w {
			w[j], b[j] = float32(1+0.01*float64(j)), float32(0.1*float64(j%5))
		}
		want := make([]float64, len(x))
		for r := 0; r < rows; r++ {
			var mean, vr float64
			for j := 0; j < H; j++ {
				mean += float64(x[r*H+j] + res[r*H+j])
			}
			mean /= float64(H)
			for j := 0; j < H; j++ {
				d := float64(x[r*H+j]+res[r*H+j]) - mean
				vr += d * d
			}
			vr /= float64(H)
			for j := 0; j < H; j++ {
				want[r*H+j] = (float64(x[r*H+j]+res[r*H+j])-mean)/math.Sqrt(vr+1e-12)*float64(w[j]) + float64(b[j])
			}
		}
		layerNormRows(x, res, w, b, H, 1e-12, 2)
		for i := range x {
			if d := math.Abs(float64(x[i]) - want[i]); d > 2e-5 {
				t.Fatalf("H=%d i=%d: %v, want %v", H, i, x[i], want[i])
			}
		}
	}
}
