//go:build amd64 && !purego && !noasm

package native

import (
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
