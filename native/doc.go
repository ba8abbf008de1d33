// Package native holds the vector kernels every hot loop of knnbridge runs on:
// float32 dot products and distances, one-vs-many batches, top-k selection,
// SGEMM, int8/uint8 and bit kernels, the PQ lookup-sum, Madd (a + s·b) and
// ArgminAdd (the argmin of a + b, the assignment step of k-means).
//
// # Dispatch
//
// Every kernel has a pure-Go twin (level Generic). On amd64 there is AVX2+FMA
// and AVX-512 assembly for the float, integer, bit, PQ and SGEMM kernels
// (levels AVX2 and AVX512; the AVX512 level also uses VNNI and VPOPCNTDQ when
// present, and on AMD Zen 4 keeps the 256-bit float and SGEMM kernels, which
// measured faster there); top-k selection and FirstNonFinite are Go on every
// level. On arm64 there is NEON assembly for Dot, L2Squared, their batch
// forms, the int8/uint8 kernels, Hamming and an 8×8 SGEMM micro-kernel (level
// NEON; Cosine, Scale and PQ run the Go twin there). The fastest level the CPU supports
// is chosen at start-up with golang.org/x/sys/cpu; the environment variable
// KNNBRIDGE_NATIVE=generic|avx2|avx512|neon lowers it, and Use switches it at
// run time (tests and benchmarks force every level that way). The build tags
// purego or noasm leave only the Go twin, as does any other architecture.
// All assembly but cpuid_amd64.s is written by native/_generate
// (go generate ./native); a test checks the committed files against it.
//
// Every function is safe for concurrent use; MatMul and MatMulTransB start
// their own goroutines (the threads argument) and return when they are done.
//
// # Length contract
//
// Kernels taking two vectors require equal lengths; batch, PQ and matrix
// kernels require the exact slice lengths their documentation gives. A
// mismatch panics with a message naming the kernel and the lengths
// ("native.Dot: length mismatch 3 != 4"), the way the standard library
// panics on an out-of-range index: a programming error is never turned into a
// silently wrong number, and no kernel reads or writes outside its slices.
//
// # Accuracy
//
// float32 kernels accumulate in float32 with fused multiply-adds in several
// partial sums, so the order of additions (and hence the last bits) differs
// between levels. Each result r of a sum of n terms t_i satisfies
// |r − Σt_i| ≤ (n+2)·2⁻²⁴·Σ|t_i| against the exact sum (for SGEMM per
// element, with n = k+4 and the |beta·C| term added); the tests check this
// bound against a float64 reference on every level for all lengths 0..1030
// at unaligned starts. Integer kernels (DotInt8, L2SquaredInt8, DotUint8,
// L2SquaredUint8, Hamming) are exact and bit-identical on every level,
// including wrap-around modulo 2³² beyond the lengths their documentation
// gives. PQLookupSum is bit-identical on every level (the assembly adds in
// the Go twin's order), and so is ArgminAdd (index and value). Madd rounds
// once with FMA in assembly and may round twice in Go.
//
// # NaN, ±Inf, denormals
//
// Inputs are never checked; IEEE 754 arithmetic decides, identically on every
// level as far as these rules go:
//   - a NaN anywhere in the inputs of a sum makes that result NaN;
//   - ±Inf inputs give ±Inf, or NaN where IEEE says so (Inf·0, Inf−Inf);
//   - denormal inputs and results are kept (no flush-to-zero on any level);
//   - when every input is finite but a partial sum exceeds the float32 range
//     (|Σ|t_i|| > ~3.4e38), the result may be ±Inf on one level and finite on
//     another, because levels add in different orders.
//
// Cosine returns 0 when either vector is all zeros. Normalize leaves a zero
// vector, or one whose norm is NaN or +Inf, unchanged and returns that norm.
// ArgminAdd never picks a NaN sum (NaN does not compare below anything).
// Top-k selection ranks NaN scores after every number, so they are returned
// only when k exceeds the count of non-NaN scores.
package native

//go:generate sh -c "cd _generate && go run . -out .."
