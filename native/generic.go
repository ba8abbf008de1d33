package native

import (
	"encoding/binary"
	"math/bits"
)

// The pure-Go twin of every kernel. The float32 loops keep four independent
// partial sums, like the SIMD lanes do, so that the twin is not needlessly
// slow where it is the only path (purego builds, arm64, old CPUs).

func genericImpl() *impl {
	return &impl{
		level:     Generic,
		dot:       dotGeneric,
		l2:        l2Generic,
		cos:       cosGeneric,
		dotBatch:  dotBatchGeneric,
		l2Batch:   l2BatchGeneric,
		scale:     scaleGeneric,
		dotI8:     dotI8Generic,
		l2I8:      l2I8Generic,
		dotU8:     dotU8Generic,
		l2U8:      l2U8Generic,
		hamming:   hammingGeneric,
		pq4:       pq4Generic,
		pq8:       pq8Lookup256,
		madd:      maddGeneric,
		argminAdd: argminAddGeneric,
		gemm:      gemmGeneric,
	}
}

var gemmGeneric = gemmKernel{name: "generic4x4", mr: 4, nr: 4, kc: 256, fn: gemm4x4Generic}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// cosGeneric returns a·b, a·a and b·b in one pass.
func cosGeneric(a, b []float32) (dot, aa, bb float32) {
	b = b[:len(a)]
	var d0, d1, a0, a1, b0, b1 float32
	i := 0
	for ; i+2 <= len(a); i += 2 {
		x0, y0, x1, y1 := a[i], b[i], a[i+1], b[i+1]
		d0 += x0 * y0
		a0 += x0 * x0
		b0 += y0 * y0
		d1 += x1 * y1
		a1 += x1 * x1
		b1 += y1 * y1
	}
	if i < len(a) {
		x, y := a[i], b[i]
		d0 += x * y
		a0 += x * x
		b0 += y * y
	}
	return d0 + d1, a0 + a1, b0 + b1
}

func l2Generic(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBatchGeneric(q, m, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = dotGeneric(q, m[i*d:(i+1)*d])
	}
}

func l2BatchGeneric(q, m, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = l2Generic(q, m[i*d:(i+1)*d])
	}
}

func scaleGeneric(a []float32, s float32) {
	for i := range a {
		a[i] *= s
	}
}

// Integer kernels accumulate in 32 bits exactly like the SIMD lanes do, so
// every level returns the same bits, including wrap-around modulo 2^32 for
// vectors too long for the result type (see doc.go).

func dotI8Generic(a, b []int8) int32 {
	b = b[:len(a)]
	var s int32
	for i := range a {
		s += int32(a[i]) * int32(b[i])
	}
	return s
}

func l2I8Generic(a, b []int8) uint32 {
	b = b[:len(a)]
	var s uint32
	for i := range a {
		d := int32(a[i]) - int32(b[i])
		s += uint32(d * d)
	}
	return s
}

func dotU8Generic(a, b []uint8) uint32 {
	b = b[:len(a)]
	var s uint32
	for i := range a {
		s += uint32(a[i]) * uint32(b[i])
	}
	return s
}

func l2U8Generic(a, b []uint8) uint32 {
	b = b[:len(a)]
	var s uint32
	for i := range a {
		d := int32(a[i]) - int32(b[i])
		s += uint32(d * d)
	}
	return s
}

func hammingGeneric(a, b []byte) int {
	b = b[:len(a)]
	n, i := 0, 0
	for ; i+8 <= len(a); i += 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < len(a); i++ {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// pq4Generic: codes hold ceil(M/2) bytes per vector, sub-quantizer 2j in the
// low nibble of byte j and 2j+1 in the high nibble.
func pq4Generic(tables []float32, M int, codes []byte, out []float32) {
	cb := (M + 1) / 2
	for i := range out {
		c := codes[i*cb : (i+1)*cb]
		var s0, s1 float32
		m := 0
		for j := 0; m+1 < M; j, m = j+1, m+2 {
			s0 += tables[m*16+int(c[j]&15)]
			s1 += tables[(m+1)*16+int(c[j]>>4)]
		}
		if m < M {
			s0 += tables[m*16+int(c[len(c)-1]&15)]
		}
		out[i] = s0 + s1
	}
}

// gemm4x4Generic is the pure-Go SGEMM micro-kernel (see gemmKernel).
func gemm4x4Generic(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	a = a[:kc*4]
	b = b[:kc*4]
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		ap := a[p*4 : p*4+4 : p*4+4]
		bp := b[p*4 : p*4+4 : p*4+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	for i := range acc {
		row := c[i*ldc : i*ldc+4]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i][j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}
