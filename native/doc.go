// Package native holds the vector kernels every hot loop of knnbridge runs on:
// float32 dot products and distances, one-vs-many batches, SGEMM, int8 and bit
// kernels, and the PQ lookup-sum. Each kernel has a pure-Go twin; SIMD paths
// are chosen at run time (see dispatch files) and never change results beyond
// the documented floating-point tolerance.
//
// Length contract: kernels taking two vectors require equal lengths and panic
// with a message naming the kernel and both lengths when they differ, the way
// the standard library panics on an out-of-range index: a programming error is
// never turned into a silently wrong number.
package native
