package native

import (
	"fmt"
	"math"
	"math/bits"
)

func mustSameLen(kernel string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("native.%s: length mismatch %d != %d", kernel, a, b))
	}
}

// Dot returns the inner product of a and b.
func Dot(a, b []float32) float32 {
	mustSameLen("Dot", len(a), len(b))
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// L2Squared returns the squared Euclidean distance of a and b.
func L2Squared(a, b []float32) float32 {
	mustSameLen("L2Squared", len(a), len(b))
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// Norm returns the Euclidean norm of a.
func Norm(a []float32) float32 { return float32(math.Sqrt(float64(Dot(a, a)))) }

// Normalize scales a in place to unit length and returns its former norm.
// A zero vector is left unchanged and 0 is returned.
func Normalize(a []float32) float32 {
	n := Norm(a)
	if n == 0 {
		return 0
	}
	inv := 1 / n
	for i := range a {
		a[i] *= inv
	}
	return n
}

// Cosine returns the cosine similarity of a and b; 0 when either is zero.
func Cosine(a, b []float32) float32 {
	mustSameLen("Cosine", len(a), len(b))
	na, nb := Dot(a, a), Dot(b, b)
	if na == 0 || nb == 0 {
		return 0
	}
	return Dot(a, b) / float32(math.Sqrt(float64(na)*float64(nb)))
}

// DotBatch writes into out[i] the dot product of q with row i of the
// row-major matrix m (len(m) = len(out)*len(q)).
func DotBatch(q, m []float32, out []float32) {
	d := len(q)
	if len(m) != d*len(out) {
		panic(fmt.Sprintf("native.DotBatch: matrix has %d floats, want %d rows x %d", len(m), len(out), d))
	}
	for i := range out {
		out[i] = Dot(q, m[i*d:(i+1)*d])
	}
}

// L2Batch writes into out[i] the squared L2 distance of q to row i of m.
func L2Batch(q, m []float32, out []float32) {
	d := len(q)
	if len(m) != d*len(out) {
		panic(fmt.Sprintf("native.L2Batch: matrix has %d floats, want %d rows x %d", len(m), len(out), d))
	}
	for i := range out {
		out[i] = L2Squared(q, m[i*d:(i+1)*d])
	}
}

// DotInt8 returns the inner product of two int8 vectors.
func DotInt8(a, b []int8) int32 {
	mustSameLen("DotInt8", len(a), len(b))
	var s int32
	for i := range a {
		s += int32(a[i]) * int32(b[i])
	}
	return s
}

// Hamming returns the number of differing bits of two packed bit vectors.
func Hamming(a, b []byte) int {
	mustSameLen("Hamming", len(a), len(b))
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// PQLookupSum computes asymmetric PQ distances: for each of the n codes
// (M bytes each, codes[i*M:(i+1)*M]) it sums tables[m*ksub+code[m]] over the
// M sub-quantizers and writes the result to out[i].
func PQLookupSum(tables []float32, M, ksub int, codes []byte, out []float32) {
	if len(tables) != M*ksub || len(codes) != M*len(out) {
		panic(fmt.Sprintf("native.PQLookupSum: tables %d (want %d), codes %d (want %d)", len(tables), M*ksub, len(codes), M*len(out)))
	}
	for i := range out {
		c := codes[i*M : (i+1)*M]
		var s float32
		for m, code := range c {
			s += tables[m*ksub+int(code)]
		}
		out[i] = s
	}
}

// MatMulTransB computes C = alpha*A·Bᵀ + beta*C for row-major A (m×k),
// B (n×k) and C (m×n), using up to threads goroutines over rows of C.
func MatMulTransB(c, a, b []float32, m, n, k int, alpha, beta float32, threads int) {
	if len(a) != m*k || len(b) != n*k || len(c) != m*n {
		panic(fmt.Sprintf("native.MatMulTransB: len(a)=%d len(b)=%d len(c)=%d for m=%d n=%d k=%d", len(a), len(b), len(c), m, n, k))
	}
	for i := 0; i < m; i++ {
		ar := a[i*k : (i+1)*k]
		for j := 0; j < n; j++ {
			v := alpha * Dot(ar, b[j*k:(j+1)*k])
			if beta != 0 {
				v += beta * c[i*n+j]
			}
			c[i*n+j] = v
		}
	}
}

// MatMul computes C = alpha*A·B + beta*C for row-major A (m×k), B (k×n) and
// C (m×n), using up to threads goroutines over rows of C.
func MatMul(c, a, b []float32, m, n, k int, alpha, beta float32, threads int) {
	if len(a) != m*k || len(b) != k*n || len(c) != m*n {
		panic(fmt.Sprintf("native.MatMul: len(a)=%d len(b)=%d len(c)=%d for m=%d n=%d k=%d", len(a), len(b), len(c), m, n, k))
	}
	for i := 0; i < m; i++ {
		row := c[i*n : (i+1)*n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			av := alpha * a[i*k+p]
			br := b[p*n : (p+1)*n]
			for j := range row {
				row[j] += av * br[j]
			}
		}
	}
}
