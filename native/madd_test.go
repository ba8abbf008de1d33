package native

import (
	"math"
	"math/rand/v2"
	"testing"
)

// maddTol: the exact a + s·b rounded once (FMA) or twice (s·b first), i.e.
// within two roundings of the magnitudes involved.
func maddTol(a, sb float64) float64 {
	return 2*eps32*(math.Abs(a)+math.Abs(sb)) + math.SmallestNonzeroFloat32
}

func TestMadd(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for n := 0; n <= maxLen; n++ {
			a := unaligned(randF32(r, n), n%16)
			b := unaligned(randF32(r, n), (n+5)%16)
			dst := unaligned(make([]float32, n), (n+9)%16)
			for i := range dst {
				dst[i] = float32(math.NaN()) // must be overwritten, never read
			}
			const s = -2
			Madd(dst, a, s, b)
			for i := range dst {
				want := float64(a[i]) + s*float64(b[i])
				if math.Abs(float64(dst[i])-want) > maddTol(float64(a[i]), s*float64(b[i])) {
					t.Fatalf("Madd n=%d i=%d: %v want %v", n, i, dst[i], want)
				}
			}
			if dst[:n+1][n] == dst[:n+1][n] {
				t.Fatalf("Madd n=%d wrote past the end", n)
			}
			// In place (dst = a), the way a caller accumulates.
			want := append([]float32(nil), dst...)
			Madd(a, a, s, b)
			for i := range a {
				if math.Abs(float64(a[i])-float64(want[i])) > 2*eps32*math.Abs(float64(want[i]))+math.SmallestNonzeroFloat32 {
					t.Fatalf("Madd in place n=%d i=%d: %v want %v", n, i, a[i], want[i])
				}
			}
		}
	})
}

func FuzzMadd(f *testing.F) {
	addFloatSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		v := floatsFromBytes(data)
		if len(v) == 0 {
			return
		}
		s := v[0]
		v = v[1:]
		n := len(v) / 2
		o := int(off) % 16
		a := unaligned(v[:n], o)
		b := unaligned(v[n:2*n], (o+3)%16)
		for _, l := range Supported() {
			prev, _ := Use(l)
			dst := make([]float32, n)
			Madd(dst, a, s, b)
			Use(prev)
			for i := range dst {
				x, sb := float64(a[i]), float64(s)*float64(b[i])
				want := x + sb
				got := float64(dst[i])
				switch {
				case math.IsNaN(want):
					if !math.IsNaN(got) {
						t.Fatalf("%v Madd(%v + %v*%v) = %v, want NaN", l, a[i], s, b[i], got)
					}
				case math.Abs(sb) > math.MaxFloat32:
					// s·b overflows float32: an FMA may still return a
					// finite sum where two roundings give ±Inf (doc.go).
				case math.IsInf(want, 0) || math.Abs(want) > math.MaxFloat32*(1-eps32):
					if !math.IsInf(got, 0) && math.Abs(got) < math.MaxFloat32*(1-4*eps32) {
						t.Fatalf("%v Madd(%v + %v*%v) = %v, want ±Inf", l, a[i], s, b[i], got)
					}
				default:
					if !(math.Abs(got-want) <= maddTol(x, sb)) {
						t.Fatalf("%v Madd(%v + %v*%v) = %v, want %v", l, a[i], s, b[i], got, want)
					}
				}
			}
		}
	})
}
