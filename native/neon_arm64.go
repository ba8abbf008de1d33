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
	impls[NEON] = &im
}

func gemmKernels() []gemmKernel { return []gemmKernel{gemmGeneric} }
