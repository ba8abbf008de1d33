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
