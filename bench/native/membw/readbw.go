// Package membw measures how fast one core reads memory: the bound for
// kernels that stream a matrix too large for the caches.
package membw

import "encoding/binary"

func readSumGo(p []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for i := 0; i+32 <= len(p); i += 32 {
		s0 += binary.LittleEndian.Uint64(p[i:])
		s1 += binary.LittleEndian.Uint64(p[i+8:])
		s2 += binary.LittleEndian.Uint64(p[i+16:])
		s3 += binary.LittleEndian.Uint64(p[i+24:])
	}
	return s0 + s1 + s2 + s3
}
