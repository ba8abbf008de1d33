// Command cshared builds knnbridge's native kernels as a C shared library
// (go build -buildmode=c-shared) so that ../peer_bench.py can call them with
// ctypes in the same process as faiss and numpy, alternating ours and the
// peer's call by call on the same arrays: on a shared machine both then see
// the same load. It is a benchmark harness, not a product API.
package main

// #include <stdint.h>
import "C"

import (
	"time"
	"unsafe"

	"github.com/knnbridge/knnbridge/bench/native/membw"
	"github.com/knnbridge/knnbridge/native"
)

func main() {}

func f32(p *C.float, n C.long) []float32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), int(n))
}

//export kbUse
func kbUse(level C.int) C.int {
	if _, err := native.Use(native.Level(level)); err != nil {
		return -1
	}
	return 0
}

//export kbSupported
func kbSupported(level C.int) C.int {
	for _, l := range native.Supported() {
		if l == native.Level(level) {
			return 1
		}
	}
	return 0
}

//export kbL2Batch
func kbL2Batch(q, m *C.float, d, n C.long, out *C.float) {
	native.L2Batch(f32(q, d), f32(m, d*n), f32(out, n))
}

//export kbDotBatch
func kbDotBatch(q, m *C.float, d, n C.long, out *C.float) {
	native.DotBatch(f32(q, d), f32(m, d*n), f32(out, n))
}

var scratch []float32
var top []int

// kbKnn is one exact k-NN query the way a caller of this package runs one:
// the batch kernel over all rows, then top-k selection. ip != 0 ranks by
// inner product (largest first), else by squared L2 (smallest first).
//
//export kbKnn
func kbKnn(ip C.int, q, m *C.float, d, n, k C.long, idx *C.long) {
	if len(scratch) < int(n) {
		scratch = make([]float32, n)
	}
	if len(top) < int(k) {
		top = make([]int, k)
	}
	out := scratch[:n]
	if ip != 0 {
		native.DotBatch(f32(q, d), f32(m, d*n), out)
		top = native.SelectLargest(top, out, int(k))
	} else {
		native.L2Batch(f32(q, d), f32(m, d*n), out)
		top = native.SelectSmallest(top, out, int(k))
	}
	res := unsafe.Slice((*C.long)(unsafe.Pointer(idx)), int(k))
	for i, v := range top {
		res[i] = C.long(v)
	}
}

// kbSgemm: C = A·B (transB == 0, B is k×n) or A·Bᵀ (B is n×k).
//
//export kbSgemm
func kbSgemm(transB C.int, c, a, b *C.float, m, n, k C.long, threads C.int) {
	if transB != 0 {
		native.MatMulTransB(f32(c, m*n), f32(a, m*k), f32(b, n*k), int(m), int(n), int(k), 1, 0, int(threads))
	} else {
		native.MatMul(f32(c, m*n), f32(a, m*k), f32(b, k*n), int(m), int(n), int(k), 1, 0, int(threads))
	}
}

// kbTimeKernel times calls in-cache calls of Dot (op 0), L2Squared (op 1) or
// Cosine (op 2)
// on a and b inside Go (a ctypes call costs more than the kernel) and
// returns the seconds per call.
//
//export kbTimeKernel
func kbTimeKernel(op C.int, a, b *C.float, d C.long, calls C.long) C.double {
	x, y := f32(a, d), f32(b, d)
	f := native.Dot
	switch op {
	case 1:
		f = native.L2Squared
	case 2:
		f = native.Cosine
	}
	var sink float32
	t0 := time.Now()
	for i := 0; i < int(calls); i++ {
		sink += f(x, y)
	}
	el := time.Since(t0).Seconds()
	if sink == 1.5 { // keep the loop
		el += 0
	}
	return C.double(el / float64(calls))
}

// kbReadBandwidth streams the n bytes at p once (see ../membw) and
// returns the seconds it took.
//
//export kbReadBandwidth
func kbReadBandwidth(p *C.uint8_t, n C.long) C.double {
	buf := unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
	t0 := time.Now()
	s := membw.ReadSum(buf)
	el := time.Since(t0).Seconds()
	if s == 1 {
		el += 0
	}
	return C.double(el)
}
