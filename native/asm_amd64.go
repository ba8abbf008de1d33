//go:build amd64 && !purego && !noasm

package native

import "golang.org/x/sys/cpu"

// Assembly kernels: avx2_amd64.s and avx512_amd64.s. They assume the
// lengths were checked by the public wrappers (len(b) ≥ len(a), batch
// matrices of len(out)*len(q) floats).

//go:noescape
func dotAVX2(a, b []float32) float32

//go:noescape
func l2AVX2(a, b []float32) float32

//go:noescape
func dotBatchAVX2(q, m, out []float32)

//go:noescape
func l2BatchAVX2(q, m, out []float32)

//go:noescape
func scaleAVX2(a []float32, s float32)

//go:noescape
func dotI8AVX2(a, b []int8) int32

//go:noescape
func l2I8AVX2(a, b []int8) uint32

//go:noescape
func dotU8AVX2(a, b []uint8) uint32

//go:noescape
func l2U8AVX2(a, b []uint8) uint32

//go:noescape
func gemm6x16AVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32)

//go:noescape
func dotAVX512(a, b []float32) float32

//go:noescape
func l2AVX512(a, b []float32) float32

//go:noescape
func dotBatchAVX512(q, m, out []float32)

//go:noescape
func l2BatchAVX512(q, m, out []float32)

//go:noescape
func scaleAVX512(a []float32, s float32)

//go:noescape
func dotI8AVX512(a, b []int8) int32

//go:noescape
func l2I8AVX512(a, b []int8) uint32

//go:noescape
func dotU8AVX512(a, b []uint8) uint32

//go:noescape
func l2U8AVX512(a, b []uint8) uint32

//go:noescape
func hammingAVX512(a, b []byte) int

//go:noescape
func gemm12x32AVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32)

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

func hasAVX512() bool {
	return hasAVX2() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
}

func registerAsm() {
	if !hasAVX2() {
		return
	}
	impls[AVX2] = &impl{
		level:    AVX2,
		dot:      dotAVX2,
		l2:       l2AVX2,
		dotBatch: dotBatchAVX2,
		l2Batch:  l2BatchAVX2,
		scale:    scaleAVX2,
		dotI8:    dotI8AVX2,
		l2I8:     l2I8AVX2,
		dotU8:    dotU8AVX2,
		l2U8:     l2U8AVX2,
		hamming:  hammingGeneric, // Go's bits.OnesCount64 is already the POPCNT instruction here
		pq4:      pq4Generic,
		gemm:     gemmKernel{mr: 6, nr: 16, fn: gemm6x16AVX2},
	}
	if !hasAVX512() {
		return
	}
	hamming := hammingGeneric
	if cpu.X86.HasAVX512VPOPCNTDQ {
		hamming = hammingAVX512
	}
	impls[AVX512] = &impl{
		level:    AVX512,
		dot:      dotAVX512,
		l2:       l2AVX512,
		dotBatch: dotBatchAVX512,
		l2Batch:  l2BatchAVX512,
		scale:    scaleAVX512,
		dotI8:    dotI8AVX512,
		l2I8:     l2I8AVX512,
		dotU8:    dotU8AVX512,
		l2U8:     l2U8AVX512,
		hamming:  hamming,
		pq4:      pq4Generic,
		gemm:     gemmKernel{mr: 12, nr: 32, fn: gemm12x32AVX512},
	}
}
