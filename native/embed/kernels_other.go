//go:build !amd64 || purego

package embed

const useAVX2 = false

func expShiftSumAVX2(x []float32, shift float32) float32 { panic("unreachable") }

func geluAVX2(x []float32) { panic("unreachable") }

func kern6x16AVX2(k int, a *float32, lda int, b *float32, bias *float32, c *float32, ldc int) {
	panic("unreachable")
}

func maxAVX2(x []float32) float32 { panic("unreachable") }

func scaleAVX2(x []float32, s float32) { panic("unreachable") }

func addSumAVX2(x, res []float32) float32 { panic("unreachable") }

func sqDevSumAVX2(x []float32, mean float32) float32 { panic("unreachable") }

func normAffineAVX2(x, w, b []float32, mean, inv float32) { panic("unreachable") }

func kern4x16AVX2(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("unreachable")
}

var useAVX512 = false // a var so tests can compare panel widths

func kern6x32AVX512(k int, a *float32, lda int, b *float32, bias *float32, c *float32, ldc int) {
	panic("unreachable")
}

func geluTileAVX2(c *float32, ldc int, rows int, cols int) { panic("unreachable") }

func softmaxRowsAVX2(x *float32, stride int, rows int, n int) { panic("unreachable") }
