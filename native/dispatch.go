package native

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Level names one implementation of the kernels. Every Level computes the
// same functions; they differ in speed and, for float32 sums, in rounding
// (see the package documentation for the tolerance).
type Level int

const (
	// Generic is the pure-Go twin. It is the only level with the build tags
	// purego or noasm, on architectures without assembly kernels, and on
	// CPUs that lack the features of the faster levels.
	Generic Level = iota
	// AVX2 needs AVX2, FMA and POPCNT (x86-64 v3: Intel Haswell, AMD Zen and
	// later).
	AVX2
	// AVX512 needs AVX-512 F, BW, DQ and VL (Intel Skylake-SP, AMD Zen 4 and
	// later). Hamming additionally uses VPOPCNTDQ when present.
	AVX512
	// NEON is arm64's Advanced SIMD (every arm64 CPU has it): Dot,
	// L2Squared, their batch forms, the byte kernels, Hamming and SGEMM; the
	// other kernels run the Go twin.
	NEON
)

func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	case NEON:
		return "neon"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel maps "generic" (also "purego", "go"), "avx2", "avx512" and "neon" to a Level.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "purego", "go":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx-512":
		return AVX512, nil
	case "neon":
		return NEON, nil
	}
	return Generic, fmt.Errorf("native: unknown kernel level %q (want generic, avx2, avx512 or neon)", s)
}

// gemmKernel computes one MR×NR tile of C from packed panels:
// C[i*ldc+j] = alpha*Σp a[p*MR+i]*b[p*NR+j] + beta*C[i*ldc+j]; when beta is 0,
// C is written without being read (it may hold NaN garbage).
type gemmKernel struct {
	name   string
	mr, nr int
	kc     int // k-block: kc×nr×4 bytes of B should stay in L1D with room for A
	fn     func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
}

// impl is one complete set of kernels. The public functions check lengths
// and then call through the active impl, so the kernels may assume valid input.
type impl struct {
	level     Level
	dot       func(a, b []float32) float32
	l2        func(a, b []float32) float32
	cos       func(a, b []float32) (dot, aa, bb float32)
	dotBatch  func(q, m, out []float32)
	l2Batch   func(q, m, out []float32)
	scale     func(a []float32, s float32)
	dotI8     func(a, b []int8) int32
	l2I8      func(a, b []int8) uint32
	dotU8     func(a, b []uint8) uint32
	l2U8      func(a, b []uint8) uint32
	hamming   func(a, b []byte) int
	pq4       func(tables []float32, M int, codes []byte, out []float32)
	pq8       func(tables []float32, M int, codes []byte, out []float32) // ksub = 256
	madd      func(dst, a []float32, s float32, b []float32)
	argminAdd func(a, b []float32, below float32) (int, float32)
	gemm      gemmKernel
}

var (
	impls [NEON + 1]*impl // nil where the CPU or build lacks the level
	cur   atomic.Pointer[impl]
)

func init() {
	impls[Generic] = genericImpl()
	registerAsm() // fills impls[AVX2], impls[AVX512] when built with assembly and the CPU has the features
	best := Generic
	for l := NEON; l > Generic; l-- {
		if impls[l] != nil {
			best = l
			break
		}
	}
	// KNNBRIDGE_NATIVE lets an operator (or a benchmark) cap the level, e.g.
	// to compare paths or to work around a suspected CPU-specific problem.
	if env := os.Getenv("KNNBRIDGE_NATIVE"); env != "" {
		if l, err := ParseLevel(env); err == nil && l < best && impls[l] != nil {
			best = l
		}
	}
	cur.Store(impls[best])
}

// Supported lists the levels usable in this process, slowest first. Generic is
// always present.
func Supported() []Level {
	var out []Level
	for l, im := range impls {
		if im != nil {
			out = append(out, Level(l))
		}
	}
	return out
}

// Active returns the level the kernels currently run on.
func Active() Level { return cur.Load().level }

// Use switches every kernel to level l and returns the previous level. It
// fails when l is not in Supported(). Switching is safe at any time (calls
// already running finish on the old level) but is meant for tests,
// benchmarks and start-up configuration.
func Use(l Level) (Level, error) {
	if l < 0 || int(l) >= len(impls) || impls[l] == nil {
		return Active(), fmt.Errorf("native: level %v not supported on this CPU/build (supported: %v)", l, Supported())
	}
	return cur.Swap(impls[l]).level, nil
}

// Describe says which kernels run, for diagnostics (`knnbridge version`,
// logs): the active level, the SGEMM micro-kernel and the levels available.
func Describe() string {
	im := cur.Load()
	return fmt.Sprintf("native kernels: %v (sgemm %s; supported %v)", im.level, im.gemm.name, Supported())
}
