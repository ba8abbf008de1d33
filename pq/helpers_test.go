package pq

import (
	"math"
	"math/rand/v2"
)

// clustered returns n points around nc centers in d dims: centers uniform in
// [-spread, spread], points Gaussian with stddev sigma, plus each point's
// true cluster.
func clustered(n, d, nc int, spread, sigma float64, seed uint64) (x []float32, centers []float32, label []int) {
	r := rand.New(rand.NewPCG(seed, 7))
	centers = make([]float32, nc*d)
	for i := range centers {
		centers[i] = float32((r.Float64()*2 - 1) * spread)
	}
	x = make([]float32, n*d)
	label = make([]int, n)
	for i := 0; i < n; i++ {
		c := i % nc
		label[i] = c
		for j := 0; j < d; j++ {
			x[i*d+j] = centers[c*d+j] + float32(r.NormFloat64()*sigma)
		}
	}
	return x, centers, label
}

func gaussian(n, d int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		e := float64(a[i] - b[i])
		s += e * e
	}
	return s
}

func finite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
