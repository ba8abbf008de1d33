//go:build arm64 && !purego && !noasm

package native

//go:noescape
func dotNEON(a, b []float32) float32

//go:noescape
func l2NEON(a, b []float32) float32

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

func registerAsm() {
	im := *genericImpl()
	im.level = NEON
	im.dot, im.l2 = dotNEON, l2NEON
	im.dotBatch, im.l2Batch = dotBatchNEON, l2BatchNEON
	impls[NEON] = &im
}

func gemmKernels() []gemmKernel { return []gemmKernel{gemmGeneric} }
