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
func cosAVX2(a, b []float32) (dot, aa, bb float32)

//go:noescape
func cosAVX512(a, b []float32) (dot, aa, bb float32)

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
func pq4AVX2(tables []float32, M int, codes []byte, out []float32, idx *[16]int32)

// pq4AVX2Blocks: as pq4AVX512Blocks, eight vectors per block.
func pq4AVX2Blocks(tables []float32, M int, codes []byte, out []float32) {
	cb := (M + 1) / 2
	nb := len(out) &^ 7
	if cb < 4 || nb == 0 {
		pq4Generic(tables, M, codes, out)
		return
	}
	var idx [16]int32
	for v := range idx {
		idx[v] = int32(v * cb)
	}
	pq4AVX2(tables, M, codes[:nb*cb], out[:nb], &idx)
	if nb < len(out) {
		pq4Generic(tables, M, codes[nb*cb:], out[nb:])
	}
}

//go:noescape
func hammingAVX2(a, b []byte) int

//go:noescape
func pq8Scalar(tables []float32, M int, codes []byte, out []float32)

//go:noescape
func pq8M8(tables []float32, codes []byte, out []float32)

//go:noescape
func pq8M16(tables []float32, codes []byte, out []float32)

//go:noescape
func pq8M32(tables []float32, codes []byte, out []float32)

//go:noescape
func pq8M64(tables []float32, codes []byte, out []float32)

//go:noescape
func argminAddAVX2(a, b []float32, below float32) (idx int, val float32)

// argminAddAsm runs the assembly on whole blocks of 8 and the Go twin on the
// rest, continuing from the assembly's minimum (later indices only win when
// strictly smaller, so ties still go to the first).
func argminAddAsm(a, b []float32, below float32) (int, float32) {
	n8 := len(a) &^ 7
	idx := -1
	if n8 > 0 {
		if below != below { // NaN: nothing compares below it
			return -1, below
		}
		if idx, below = argminAddAVX2(a[:n8], b[:n8], below); idx >= 0 {
			below = a[idx] + b[idx] // the sum's own sign of zero, as in Go
		}
	}
	if n8 < len(a) {
		if j, v := argminAddGeneric(a[n8:], b[n8:len(a)], below); j >= 0 {
			idx, below = n8+j, v
		}
	}
	return idx, below
}

//go:noescape
func maddAVX2(dst, a []float32, s float32, b []float32)

// pq8Asm runs the assembly on whole groups of four vectors, Go on the rest:
// the unrolled kernel for M = 8, 16, 32, 64, the looped one otherwise.
func pq8Asm(tables []float32, M int, codes []byte, out []float32) {
	n4 := len(out) &^ 3
	if n4 > 0 {
		c, o := codes[:n4*M], out[:n4]
		switch M {
		case 8:
			pq8M8(tables, c, o)
		case 16:
			pq8M16(tables, c, o)
		case 32:
			pq8M32(tables, c, o)
		case 64:
			pq8M64(tables, c, o)
		default:
			pq8Scalar(tables, M, c, o)
		}
	}
	if n4 < len(out) {
		pq8Lookup256(tables, M, codes[n4*M:], out[n4:])
	}
}

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
func dotI8VNNI(a, b []int8) int32

//go:noescape
func dotU8VNNI(a, b []uint8) uint32

//go:noescape
func hammingAVX512(a, b []byte) int

//go:noescape
func gemm12x32AVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32)

//go:noescape
func cpuidVendorFamily() (ebx, ecx, edx, eax1 uint32)

var (
	// 6×16 on ymm: 12 accumulators, kc=384 (B sliver 24 KiB).
	gemmAVX2 = gemmKernel{name: "avx2-6x16", mr: 6, nr: 16, kc: 384, fn: gemm6x16AVX2}
	// 12×32 on zmm: 24 accumulators, kc=256 (B sliver 32 KiB).
	gemmAVX512 = gemmKernel{name: "avx512-12x32", mr: 12, nr: 32, kc: 256, fn: gemm12x32AVX512}
)

// splitAVX512 reports whether the CPU executes 512-bit float operations as
// two 256-bit halves: AMD family 19h (Zen 4). There the 6×16 ymm SGEMM
// micro-kernel measured faster than the 12×32 zmm one (≈90–99 vs ≈72–82
// GFLOP/s single-threaded for 1024×1536×384); see registerAsm.
func splitAVX512() bool {
	ebx, ecx, edx, eax1 := cpuidVendorFamily()
	amd := ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163 // "AuthenticAMD"
	family := (eax1>>8)&0xf + (eax1>>20)&0xff
	return amd && family == 0x19
}

func hasAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasPOPCNT }

func hasAVX512() bool {
	return hasAVX2() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
}

func registerAsm() {
	if !hasAVX2() {
		return
	}
	impls[AVX2] = &impl{
		level:     AVX2,
		dot:       dotAVX2,
		l2:        l2AVX2,
		cos:       cosAVX2,
		dotBatch:  dotBatchAVX2,
		l2Batch:   l2BatchAVX2,
		scale:     scaleAVX2,
		dotI8:     dotI8AVX2,
		l2I8:      l2I8AVX2,
		dotU8:     dotU8AVX2,
		l2U8:      l2U8AVX2,
		hamming:   hammingAVX2,
		pq4:       pq4AVX2Blocks,
		pq8:       pq8Asm,
		madd:      maddAVX2,
		argminAdd: argminAddAsm,
		gemm:      gemmAVX2,
	}
	if !hasAVX512() {
		return
	}
	hamming := hammingAVX2
	if cpu.X86.HasAVX512VPOPCNTDQ {
		hamming = hammingAVX512
	}
	dotI8, dotU8 := dotI8AVX512, dotU8AVX512
	if cpu.X86.HasAVX512VNNI {
		dotI8, dotU8 = dotI8VNNI, dotU8VNNI
	}
	im := &impl{
		level:     AVX512,
		dot:       dotAVX512,
		l2:        l2AVX512,
		cos:       cosAVX512,
		dotBatch:  dotBatchAVX512,
		l2Batch:   l2BatchAVX512,
		scale:     scaleAVX512,
		dotI8:     dotI8,
		l2I8:      l2I8AVX512,
		dotU8:     dotU8,
		l2U8:      l2U8AVX512,
		hamming:   hamming,
		pq4:       pq4AVX512Blocks,
		pq8:       pq8Asm,
		madd:      maddAVX2,
		argminAdd: argminAddAsm,
		gemm:      gemmAVX512,
	}
	if splitAVX512() {
		// Zen 4 runs 512-bit float arithmetic as two 256-bit halves: the zmm
		// float kernels gain nothing in cache (Dot at d=768: 31.0 vs 30.8 ns)
		// and streamed a 100k×768 matrix slower than the ymm ones (14 vs
		// 19 GB/s, interleaved A/B runs); the 12×32 SGEMM kernel also lost to
		// 6×16. The AVX512 level keeps zmm where it adds instructions the
		// AVX2 level lacks: VNNI, VPOPCNTQ, 16-lane VPERMPS, opmask tails.
		im.dot, im.l2, im.cos = dotAVX2, l2AVX2, cosAVX2
		im.dotBatch, im.l2Batch, im.scale = dotBatchAVX2, l2BatchAVX2, scaleAVX2
		im.gemm = gemmAVX2
	}
	impls[AVX512] = im
}

//go:noescape
func pq4AVX512(tables []float32, M int, codes []byte, out []float32, idx *[16]int32)

// pq4AVX512Blocks runs the assembly on whole blocks of 16 vectors and the Go
// twin on the rest (and on codes shorter than the 4 bytes one gather reads).
func pq4AVX512Blocks(tables []float32, M int, codes []byte, out []float32) {
	cb := (M + 1) / 2
	nb := len(out) &^ 15
	if cb < 4 || nb == 0 {
		pq4Generic(tables, M, codes, out)
		return
	}
	var idx [16]int32
	for v := range idx {
		idx[v] = int32(v * cb)
	}
	pq4AVX512(tables, M, codes[:nb*cb], out[:nb], &idx)
	if nb < len(out) {
		pq4Generic(tables, M, codes[nb*cb:], out[nb:])
	}
}

// gemmKernels lists every micro-kernel this CPU can run, so tests cover the
// ones dispatch did not pick.
func gemmKernels() []gemmKernel {
	ks := []gemmKernel{gemmGeneric}
	if hasAVX2() {
		ks = append(ks, gemmAVX2)
	}
	if hasAVX512() {
		ks = append(ks, gemmAVX512)
	}
	return ks
}
