//go:build arm64 && !purego && !noasm

package native

// NEON kernels: neon_arm64.s, written by _generate. The byte kernels take a
// multiple of 16 bytes; the wrappers below finish the tail in Go, adding in
// 32 bits so the wrap-around matches the Go twin exactly.

//go:noescape
func dotNEON(a, b []float32) float32

//go:noescape
func l2NEON(a, b []float32) float32

//go:noescape
func dotI8NEON(a, b []int8) int32

//go:noescape
func l2I8NEON(a, b []int8) uint32

//go:noescape
func dotU8NEON(a, b []uint8) uint32

//go:noescape
func l2U8NEON(a, b []uint8) uint32

//go:noescape
func hammingNEON(a, b []byte) int

func dotBatchNEON(q, m, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = dotNEON(q, m[i*d:(i+1)*d])
	}
}

func l2BatchNEON(q, m, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = l2NEON(q, m[i*d:(i+1)*d])
	}
}

func dotI8Neon(a, b []int8) int32 {
	n := len(a) &^ 15
	return dotI8NEON(a[:n], b[:n]) + dotI8Generic(a[n:], b[n:len(a)])
}

func l2I8Neon(a, b []int8) uint32 {
	n := len(a) &^ 15
	return l2I8NEON(a[:n], b[:n]) + l2I8Generic(a[n:], b[n:len(a)])
}

func dotU8Neon(a, b []uint8) uint32 {
	n := len(a) &^ 15
	return dotU8NEON(a[:n], b[:n]) + dotU8Generic(a[n:], b[n:len(a)])
}

func l2U8Neon(a, b []uint8) uint32 {
	n := len(a) &^ 15
	return l2U8NEON(a[:n], b[:n]) + l2U8Generic(a[n:], b[n:len(a)])
}

func hammingNeon(a, b []byte) int {
	n := len(a) &^ 15
	return hammingNEON(a[:n], b[:n]) + hammingGeneric(a[n:], b[n:len(a)])
}

func registerAsm() {
	im := *genericImpl()
	im.level = NEON
	im.dot, im.l2 = dotNEON, l2NEON
	im.dotBatch, im.l2Batch = dotBatchNEON, l2BatchNEON
	im.dotI8, im.l2I8, im.dotU8, im.l2U8 = dotI8Neon, l2I8Neon, dotU8Neon, l2U8Neon
	im.hamming = hammingNeon
	im.gemm = gemmNEON
	impls[NEON] = &im
}

//go:noescape
func gemm8x8NEON(kc int, a, b, t []float32)

// gemm8x8Neon adapts the NEON kernel (raw tile out) to gemmKernel's contract.
func gemm8x8Neon(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var t [64]float32
	gemm8x8NEON(kc, a[:kc*8], b[:kc*8], t[:])
	for i := 0; i < 8; i++ {
		row := c[i*ldc : i*ldc+8]
		tr := t[i*8 : i*8+8]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * tr[j]
			}
		} else {
			for j := range row {
				row[j] = alpha*tr[j] + beta*row[j]
			}
		}
	}
}

// 8×8: 16 accumulators; kc=256 keeps the B sliver at 8 KiB.
var gemmNEON = gemmKernel{name: "neon-8x8", mr: 8, nr: 8, kc: 256, fn: gemm8x8Neon}

func gemmKernels() []gemmKernel { return []gemmKernel{gemmGeneric, gemmNEON} }
