package native

import "math"

// FirstNonFinite returns the index of the first NaN or ±Inf in a, or -1 when
// every element is finite. Ingest uses it to reject a vector with the offset
// of the bad value; it reads the exponent bits only, so it is exact.
func FirstNonFinite(a []float32) int {
	i := 0
	// Eight at a time with one branch: an all-ones exponent marks NaN/Inf.
	for ; i+8 <= len(a); i += 8 {
		s := a[i : i+8 : i+8]
		var bad uint32
		for _, v := range s {
			e := math.Float32bits(v) & 0x7f800000
			bad |= (e + 0x00800000) & 0x80000000 // carries into bit 31 only for 0x7f800000
		}
		if bad != 0 {
			break
		}
	}
	for ; i < len(a); i++ {
		if math.Float32bits(a[i])&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}
