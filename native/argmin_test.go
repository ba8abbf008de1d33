package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// argminRef is the specification: first index of the smallest a[j]+b[j]
// strictly below `below` (float32 sums, NaN never below).
func argminRef(a, b []float32, below float32) (int, float32) {
	idx := -1
	for j := range a {
		if s := a[j] + b[j]; s < below {
			below, idx = s, j
		}
	}
	return idx, below
}

func checkArgmin(t *testing.T, what string, a, b []float32, below float32) {
	t.Helper()
	wi, wv := argminRef(a, b, below)
	gi, gv := ArgminAdd(a, b, below)
	if gi != wi || math.Float32bits(gv) != math.Float32bits(wv) {
		t.Fatalf("%s: ArgminAdd(n=%d, below=%v) = (%d, %v), want (%d, %v)", what, len(a), below, gi, gv, wi, wv)
	}
}

func TestArgminAdd(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		inf := float32(math.Inf(1))
		for n := 0; n <= 300; n++ {
			a := unaligned(randF32(r, n), n%16)
			b := unaligned(randF32(r, n), (n+7)%16)
			checkArgmin(t, "random", a, b, inf)
			checkArgmin(t, "random below 0", a, b, 0)
			checkArgmin(t, "random below -1", a, b, -1)
			// Many ties: small integers, so equal minima sit in several
			// lanes and both lane sets; the first index must win.
			for i := range a {
				a[i], b[i] = float32(r.IntN(5)), float32(r.IntN(5))
			}
			checkArgmin(t, "ties", a, b, inf)
			if n > 0 {
				// NaN, ±Inf and signed zeros.
				for _, v := range []float32{float32(math.NaN()), inf, -inf, float32(math.Copysign(0, -1))} {
					a[r.IntN(n)] = v
					checkArgmin(t, "special", a, b, inf)
				}
				for i := range a {
					a[i], b[i] = float32(math.NaN()), 1
				}
				checkArgmin(t, "all NaN", a, b, inf)
				checkArgmin(t, "NaN below", a, b, float32(math.NaN()))
				for i := range a {
					a[i], b[i] = float32(math.Copysign(0, float64(r.IntN(2)*2-1))), 0
				}
				checkArgmin(t, "signed zeros", a, b, inf)
			}
		}
	})
}

func FuzzArgminAdd(f *testing.F) {
	addFloatSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		v := floatsFromBytes(data)
		below := float32(math.Inf(1))
		if len(v)%2 == 1 {
			below = v[len(v)-1]
		}
		n := len(v) / 2
		o := int(off) % 16
		a := unaligned(v[:n], o)
		b := unaligned(v[n:2*n], (o+3)%16)
		for _, l := range Supported() {
			prev, _ := Use(l)
			checkArgmin(t, l.String(), a, b, below)
			Use(prev)
		}
	})
}
