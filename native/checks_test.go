package native

import (
	"math"
	"testing"
)

func TestFirstNonFinite(t *testing.T) {
	for n := 0; n < 40; n++ {
		for bad := -1; bad < n; bad++ {
			for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				a := make([]float32, n)
				for i := range a {
					a[i] = float32(i) * -1e30 // huge but finite, negative: sign bit set
				}
				if n > 0 {
					a[n/2] = math.MaxFloat32
				}
				if bad >= 0 {
					a[bad] = v
					if bad+1 < n {
						a[bad+1] = v
					}
				}
				if got := FirstNonFinite(a); got != bad {
					t.Fatalf("n=%d bad=%d v=%v: got %d", n, bad, v, got)
				}
			}
		}
	}
	if FirstNonFinite([]float32{1e-45, -0, 0}) != -1 {
		t.Fatal("denormals and zeros are finite")
	}
}
