//go:build amd64 && !purego && !noasm

package native

import (
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// Every assembly integer kernel, including variants dispatch did not pick on
// this CPU, must equal the Go twin exactly.
func TestAsmIntVariantsExact(t *testing.T) {
	type v8 struct {
		name string
		ok   bool
		i8   func(a, b []int8) int32
		u8   func(a, b []uint8) uint32
	}
	vs := []v8{
		{"avx2", hasAVX2(), dotI8AVX2, dotU8AVX2},
		{"avx512", hasAVX512(), dotI8AVX512, dotU8AVX512},
		{"vnni", hasAVX512() && cpu.X86.HasAVX512VNNI, dotI8VNNI, dotU8VNNI},
	}
	r := rand.New(rand.NewPCG(41, 42))
	for _, v := range vs {
		if !v.ok {
			t.Logf("%s: not supported by this CPU, skipped", v.name)
			continue
		}
		for n := 0; n <= maxLen; n++ {
			off := n % 64
			ab, bb := make([]byte, n+off), make([]byte, n+off+1)
			for i := range ab {
				ab[i] = byte(r.Uint32())
			}
			for i := range bb {
				bb[i] = byte(r.Uint32())
			}
			if n%3 == 0 {
				for i := range ab {
					ab[i], bb[i] = 0x80, byte(0x80+i%2*0x7f)
				}
			}
			au, bu := ab[off:], bb[off+1:off+1+n]
			ai, bi := make([]int8, n), make([]int8, n)
			for i := range au {
				ai[i], bi[i] = int8(au[i]), int8(bu[i])
			}
			if got, want := v.i8(ai, bi), dotI8Generic(ai, bi); got != want {
				t.Fatalf("%s dotI8 n=%d: %d want %d", v.name, n, got, want)
			}
			if got, want := v.u8(au, bu), dotU8Generic(au, bu); got != want {
				t.Fatalf("%s dotU8 n=%d: %d want %d", v.name, n, got, want)
			}
		}
		// wrap-around modulo 2^32
		big := make([]uint8, 70000)
		for i := range big {
			big[i] = 255
		}
		if got, want := v.u8(big, big), dotU8Generic(big, big); got != want {
			t.Fatalf("%s dotU8 wrap: %d want %d", v.name, got, want)
		}
		bi := make([]int8, 140000)
		for i := range bi {
			bi[i] = -128
		}
		if got, want := v.i8(bi, bi), dotI8Generic(bi, bi); got != want {
			t.Fatalf("%s dotI8 wrap: %d want %d", v.name, got, want)
		}
	}
	for n := 0; n <= 300 && hasAVX2(); n++ {
		a, b := make([]byte, n), make([]byte, n+1)
		for i := range a {
			a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		if got, want := hammingAVX2(a, b[1:]), hammingGeneric(a, b[1:]); got != want {
			t.Fatalf("hammingAVX2 n=%d: %d want %d", n, got, want)
		}
	}
	if hasAVX512() && cpu.X86.HasAVX512VPOPCNTDQ {
		for n := 0; n <= 300; n++ {
			a, b := make([]byte, n), make([]byte, n)
			for i := range a {
				a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
			}
			if got, want := hammingAVX512(a, b), hammingGeneric(a, b); got != want {
				t.Fatalf("hammingAVX512 n=%d: %d want %d", n, got, want)
			}
		}
	}
}

// The float kernels of both instruction sets, including those dispatch did
// not pick on this CPU (Zen 4 runs the ymm ones on the AVX512 level).
func TestAsmFloatVariants(t *testing.T) {
	type fv struct {
		name      string
		ok        bool
		dot, l2   func(a, b []float32) float32
		cos       func(a, b []float32) (float32, float32, float32)
		dotB, l2B func(q, m, out []float32)
		scale     func(a []float32, s float32)
	}
	vs := []fv{
		{"avx2", hasAVX2(), dotAVX2, l2AVX2, cosAVX2, dotBatchAVX2, l2BatchAVX2, scaleAVX2},
		{"avx512", hasAVX512(), dotAVX512, l2AVX512, cosAVX512, dotBatchAVX512, l2BatchAVX512, scaleAVX512},
	}
	r := rand.New(rand.NewPCG(43, 44))
	for _, v := range vs {
		if !v.ok {
			t.Logf("%s: not supported by this CPU, skipped", v.name)
			continue
		}
		for n := 0; n <= maxLen; n++ {
			a := unaligned(randF32(r, n), n%16)
			b := unaligned(randF32(r, n), (n+7)%16)
			want, abs := refDot(a, b)
			wl2, _ := refL2(a, b)
			wa, _ := refDot(a, a)
			wb, _ := refDot(b, b)
			if got := v.dot(a, b); math.Abs(float64(got)-want) > tolSum(n, abs) {
				t.Fatalf("%s dot n=%d: %v want %v", v.name, n, got, want)
			}
			if got := v.l2(a, b); math.Abs(float64(got)-wl2) > 3*tolSum(n, wl2) {
				t.Fatalf("%s l2 n=%d: %v want %v", v.name, n, got, wl2)
			}
			d, aa, bb := v.cos(a, b)
			if math.Abs(float64(d)-want) > tolSum(n, abs) || math.Abs(float64(aa)-wa) > tolSum(n, wa) || math.Abs(float64(bb)-wb) > tolSum(n, wb) {
				t.Fatalf("%s cos n=%d: (%v %v %v) want (%v %v %v)", v.name, n, d, aa, bb, want, wa, wb)
			}
			if n%7 == 0 {
				rows := n%5 + 1
				m := unaligned(randF32(r, n*rows), 3)
				out := make([]float32, rows)
				v.dotB(a, m, out)
				for i := range out {
					w, ab := refDot(a, m[i*n:(i+1)*n])
					if math.Abs(float64(out[i])-w) > tolSum(n, ab) {
						t.Fatalf("%s dotBatch n=%d row %d: %v want %v", v.name, n, i, out[i], w)
					}
				}
				v.l2B(a, m, out)
				for i := range out {
					w, _ := refL2(a, m[i*n:(i+1)*n])
					if math.Abs(float64(out[i])-w) > 3*tolSum(n, w) {
						t.Fatalf("%s l2Batch n=%d row %d: %v want %v", v.name, n, i, out[i], w)
					}
				}
			}
			c := append([]float32(nil), a...)
			v.scale(c, -0.25)
			for i := range c {
				if c[i] != a[i]*-0.25 {
					t.Fatalf("%s scale n=%d i=%d", v.name, n, i)
				}
			}
		}
	}
}
