package native

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refTopK sorts all indices by the documented order.
func refTopK(scores []float32, k int, largest bool) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	rank := func(v float32) (bool, float64) { // (isNaN, comparable value)
		if v != v {
			return true, 0
		}
		if largest {
			return false, -float64(v)
		}
		return false, float64(v)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		na, va := rank(scores[a])
		nb, vb := rank(scores[b])
		switch {
		case na && nb:
			return 0
		case na:
			return 1
		case nb:
			return -1
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return 0
	})
	return idx[:min(k, len(idx))]
}

func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for trial := 0; trial < 300; trial++ {
		n := r.IntN(200)
		s := make([]float32, n)
		for i := range s {
			switch r.IntN(10) {
			case 0:
				s[i] = nan
			case 1:
				s[i] = inf
			case 2:
				s[i] = -inf
			case 3:
				s[i] = float32(r.IntN(3)) // many ties, including 0
			case 4:
				s[i] = float32(math.Copysign(0, -1))
			default:
				s[i] = float32(r.NormFloat64())
			}
		}
		for _, k := range []int{0, 1, 5, n / 2, n, n + 3} {
			if got, want := TopKSmallest(s, k), refTopK(s, k, false); !slices.Equal(got, want) {
				t.Fatalf("TopKSmallest(%v, %d) = %v want %v", s, k, got, want)
			}
			if got, want := TopKLargest(s, k), refTopK(s, k, true); !slices.Equal(got, want) {
				t.Fatalf("TopKLargest(%v, %d) = %v want %v", s, k, got, want)
			}
		}
	}
	buf := make([]int, 0, 10)
	got := SelectSmallest(buf, []float32{3, 1, 2}, 2)
	if !slices.Equal(got, []int{1, 2}) || &got[0] != &buf[:1][0] {
		t.Fatalf("SelectSmallest into buffer: %v", got)
	}
}

func BenchmarkTopK(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	s := randF32(r, 100000)
	dst := make([]int, 100)
	for _, k := range []int{10, 100} {
		b.Run("n=100000/k="+map[int]string{10: "10", 100: "100"}[k], func(b *testing.B) {
			for b.Loop() {
				SelectSmallest(dst, s, k)
			}
		})
	}
}
