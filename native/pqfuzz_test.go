package native

import (
	"math"
	"testing"
)

// FuzzPQLookupSum: any M (the unrolled M = 8/16/32/64 kernels and the
// looped one), any codes, any table values including NaN/Inf: every level
// must equal the Go twin bit for bit (they add in the same order).
func FuzzPQLookupSum(f *testing.F) {
	f.Add([]byte{16, 1, 2, 3}, uint8(5), uint8(16))
	f.Add([]byte{0xff, 0x80, 0x7f, 0}, uint8(9), uint8(8))
	f.Add([]byte{1}, uint8(4), uint8(64))
	f.Fuzz(func(t *testing.T, data []byte, nv, mSel uint8) {
		M := int(mSel)%70 + 1
		n := int(nv) % 40
		tables := make([]float32, M*256)
		for i := range tables {
			// a deterministic spread of magnitudes from the fuzz bytes,
			// with NaN and ±Inf when the bytes say so
			b := byte(i)
			if len(data) > 0 {
				b = data[i%len(data)] ^ byte(i*7)
			}
			switch b {
			case 0xff:
				tables[i] = float32(math.NaN())
			case 0xfe:
				tables[i] = float32(math.Inf(1))
			case 0xfd:
				tables[i] = float32(math.Inf(-1))
			default:
				tables[i] = float32(int(b)-128) * float32(math.Ldexp(1, int(b%40)-20))
			}
		}
		codes := make([]byte, n*M)
		for i := range codes {
			if len(data) > 0 {
				codes[i] = data[(i*3+1)%len(data)] + byte(i)
			} else {
				codes[i] = byte(i * 31)
			}
		}
		want := make([]float32, n)
		pq8Lookup256(tables, M, codes, want)
		for _, l := range Supported() {
			prev, _ := Use(l)
			got := make([]float32, n)
			PQLookupSum(tables, M, 256, codes, got)
			Use(prev)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%v M=%d vector %d: %v, Go twin %v", l, M, i, got[i], want[i])
				}
			}
		}
	})
}
