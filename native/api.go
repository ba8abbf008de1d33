package native

import (
	"fmt"
	"math"
)

func mustSameLen(kernel string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("native.%s: length mismatch %d != %d", kernel, a, b))
	}
}

// Dot returns the inner product of a and b.
func Dot(a, b []float32) float32 {
	mustSameLen("Dot", len(a), len(b))
	return cur.Load().dot(a, b)
}

// L2Squared returns the squared Euclidean distance of a and b.
func L2Squared(a, b []float32) float32 {
	mustSameLen("L2Squared", len(a), len(b))
	return cur.Load().l2(a, b)
}

// Norm returns the Euclidean norm of a.
func Norm(a []float32) float32 {
	return float32(math.Sqrt(float64(cur.Load().dot(a, a))))
}

// Normalize scales a in place to unit length and returns its former norm.
// A zero vector is left unchanged and 0 is returned; a vector whose norm is
// NaN or +Inf is left unchanged and that norm is returned, so callers can
// reject it.
func Normalize(a []float32) float32 {
	im := cur.Load()
	n := float32(math.Sqrt(float64(im.dot(a, a))))
	if n == 0 || math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return n
	}
	im.scale(a, 1/n)
	return n
}

// Cosine returns the cosine similarity of a and b; 0 when either is zero.
func Cosine(a, b []float32) float32 {
	mustSameLen("Cosine", len(a), len(b))
	// One pass computes a·b, a·a and b·b together.
	dot, na, nb := cur.Load().cos(a, b)
	if na == 0 || nb == 0 {
		return 0
	}
	// The product of the squared norms is taken in float64: in float32 it
	// overflows for norms above ~1.8e19 although the cosine is well defined.
	return float32(float64(dot) / math.Sqrt(float64(na)*float64(nb)))
}

func checkBatch(kernel string, q, m, out []float32) {
	if len(m) != len(q)*len(out) {
		panic(fmt.Sprintf("native.%s: matrix has %d floats, want %d rows x %d", kernel, len(m), len(out), len(q)))
	}
}

// batchChunkFloats bounds the matrix floats one assembly call walks
// (256 KiB, some 20–50 µs): assembly is not preemptible, and a 300 MB matrix
// in one call would stall the scheduler and GC for tens of milliseconds.
const batchChunkFloats = 1 << 16

func runBatch(kernel func(q, m, out []float32), q, m, out []float32) {
	d := len(q)
	rows := max(1, batchChunkFloats/max(d, 1))
	for i := 0; i < len(out); i += rows {
		j := min(i+rows, len(out))
		kernel(q, m[i*d:j*d], out[i:j])
	}
}

// DotBatch writes into out[i] the dot product of q with row i of the
// row-major matrix m (len(m) = len(out)*len(q)).
func DotBatch(q, m []float32, out []float32) {
	checkBatch("DotBatch", q, m, out)
	runBatch(cur.Load().dotBatch, q, m, out)
}

// L2Batch writes into out[i] the squared L2 distance of q to row i of m.
func L2Batch(q, m []float32, out []float32) {
	checkBatch("L2Batch", q, m, out)
	runBatch(cur.Load().l2Batch, q, m, out)
}

// Scale multiplies every element of a by s in place.
func Scale(a []float32, s float32) { cur.Load().scale(a, s) }

// DotInt8 returns the inner product of two int8 vectors (OpenSearch `byte`
// vectors). Exact for len ≤ 2^31/2^14 = 131072; longer inputs wrap modulo
// 2^32 identically on every level.
func DotInt8(a, b []int8) int32 {
	mustSameLen("DotInt8", len(a), len(b))
	return cur.Load().dotI8(a, b)
}

// L2SquaredInt8 returns the squared Euclidean distance of two int8 vectors.
// Exact for len ≤ 66052 (each term is at most 255²); longer inputs wrap
// modulo 2^32 identically on every level.
func L2SquaredInt8(a, b []int8) uint32 {
	mustSameLen("L2SquaredInt8", len(a), len(b))
	return cur.Load().l2I8(a, b)
}

// DotUint8 returns the inner product of two uint8 vectors (scalar-quantized
// codes). Exact for len ≤ 66052; longer inputs wrap modulo 2^32 identically
// on every level.
func DotUint8(a, b []uint8) uint32 {
	mustSameLen("DotUint8", len(a), len(b))
	return cur.Load().dotU8(a, b)
}

// L2SquaredUint8 returns the squared Euclidean distance of two uint8 vectors
// (scalar-quantized codes). Exact for len ≤ 66052; longer inputs wrap modulo
// 2^32 identically on every level.
func L2SquaredUint8(a, b []uint8) uint32 {
	mustSameLen("L2SquaredUint8", len(a), len(b))
	return cur.Load().l2U8(a, b)
}

// Hamming returns the number of differing bits of two packed bit vectors.
func Hamming(a, b []byte) int {
	mustSameLen("Hamming", len(a), len(b))
	return cur.Load().hamming(a, b)
}
