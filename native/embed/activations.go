package embed

import "math"

// activations maps config.json hidden_act to an in-place function,
// following transformers' ACT2FN (activations.py): "gelu" is the exact erf
// form; "gelu_new" / "gelu_pytorch_tanh" the tanh approximation;
// "gelu_fast" its other spelling; "quick_gelu" x*sigmoid(1.702x).
var activations = map[string]func([]float32){
	"gelu":              geluErf,
	"gelu_new":          geluTanh,
	"gelu_pytorch_tanh": geluTanh,
	"gelu_fast":         geluTanh,
	"quick_gelu":        quickGelu,
	"relu":              relu,
	"silu":              silu,
	"swish":             silu,
}

func geluErf(x []float32) {
	if useAVX2 && len(x) >= 8 {
		n := len(x) &^ 7
		geluAVX2(x[:n])
		x = x[n:]
	}
	for i, v := range x {
		x[i] = 0.5 * v * (1 + erff(v*0.70710678118654752))
	}
}

func geluTanh(x []float32) {
	for i, v := range x {
		u := 0.7978845608028654 * (v + 0.044715*v*v*v)
		x[i] = 0.5 * v * (1 + float32(math.Tanh(float64(u))))
	}
}

func quickGelu(x []float32) {
	for i, v := range x {
		x[i] = v / (1 + expf(-1.702*v))
	}
}

func relu(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

func silu(x []float32) {
	for i, v := range x {
		x[i] = v / (1 + expf(-v))
	}
}

// erff is a float32 erf after Abramowitz & Stegun 7.1.26 (max abs error
// 1.5e-7), with expf for the Gaussian factor; GELU only needs abs accuracy.
func erff(x float32) float32 {
	sign := float32(1)
	if x < 0 {
		sign, x = -1, -x
	}
	if x > 9 {
		return sign
	}
	t := 1 / (1 + 0.3275911*x)
	y := ((((1.061405429*t-1.453152027)*t+1.421413741)*t-0.284496736)*t + 0.254829592) * t
	return sign * (1 - y*expf(-x*x))
}

// expf is a float32 exp (Cephes expf: range reduction by ln 2 in two parts,
// degree-5 polynomial, relative error ~1e-7). Used by softmax, where exact
// float64 exp would cost more than the attention products themselves.
func expf(x float32) float32 {
	if x > 88.37626 {
		return float32(math.Inf(1))
	}
	if x < -103.9721 {
		return 0
	}
	// n = round(x / ln2)
	fx := x*1.44269504088896341 + 0.5
	n := float32(math.Floor(float64(fx)))
	x -= n * 0.693359375
	x -= n * -2.12194440e-4
	z := x * x
	y := ((((1.9875691500e-4*x+1.3981999507e-3)*x+8.3334519073e-3)*x+4.1665795894e-2)*x+1.6666665459e-1)*x + 5.0000001201e-1
	y = y*z + x + 1
	ni := int32(n)
	if ni < -126 {
		// Subnormal result: scale in two steps.
		return y * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(uint32(-126+127)<<23)
	}
	return y * math.Float32frombits(uint32(ni+127)<<23)
}
