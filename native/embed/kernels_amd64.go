//go:build amd64 && !purego

package embed

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAVX2 selects the assembly element-wise kernels (kernels_amd64.s).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expShiftSumAVX2(x []float32, shift float32) float32

//go:noescape
func geluAVX2(x []float32)

//go:noescape
func kern6x16AVX2(k int, a *float32, lda int, b *float32, bias *float32, c *float32, ldc int)

//go:noescape
func maxAVX2(x []float32) float32

//go:noescape
func scaleAVX2(x []float32, s float32)

//go:noescape
func addSumAVX2(x, res []float32) float32

//go:noescape
func sqDevSumAVX2(x []float32, mean float32) float32

//go:noescape
func normAffineAVX2(x, w, b []float32, mean, inv float32)

//go:noescape
func kern4x16AVX2(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

//go:noescape
func kern6x32AVX512(k int, a *float32, lda int, b *float32, bias *float32, c *float32, ldc int)

// useAVX512 selects 32-wide weight panels and kern6x32AVX512: the same
// FLOP peak as AVX2 on Zen 4 (512-bit ops are double-pumped) but half the
// instructions and half the A broadcasts per FLOP.
var useAVX512 = useAVX2 && cpu.X86.HasAVX512F && os.Getenv("KNNBRIDGE_EMBED_NOAVX512") == ""

//go:noescape
func geluTileAVX2(c *float32, ldc int, rows int, cols int)

//go:noescape
func softmaxRowsAVX2(x *float32, stride int, rows int, n int)
