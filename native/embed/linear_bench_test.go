package embed

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine wall
// time mostly measures the other tenants.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLinear reports the dense layers' GFLOP/s on MiniLM shapes
// (384 tokens = 32 short inputs; 4096 = 32 long ones).
func BenchmarkLinear(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	for _, s := range [][3]int{{384, 1152, 384}, {384, 1536, 384}, {384, 384, 1536}, {12, 1536, 384}} {
		m, n, k := s[0], s[1], s[2]
		w := make([]float32, n*k)
		a := make([]float32, m*k)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		c := make([]float32, m*n)
		for _, v := range []struct {
			name   string
			avx512 bool
		}{{"avx2", false}, {"avx512", true}} {
			if v.avx512 && !useAVX512 {
				continue
			}
			save := useAVX512
			useAVX512 = v.avx512
			l := newLinear(append([]float32(nil), w...), make([]float32, n), n, k)
			useAVX512 = save
			b.Run(fmt.Sprintf("m%d_n%d_k%d/%s", m, n, k, v.name), func(b *testing.B) {
				t0 := cpuTime()
				for b.Loop() {
					l.apply(c, a, m, 1)
				}
				b.ReportMetric(float64(b.N)*2*float64(m*n*k)/(cpuTime()-t0).Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// BenchmarkKernelL1 is the micro-kernel's ceiling: A and the panel in L1.
func BenchmarkKernelL1(b *testing.B) {
	if !useAVX2 {
		b.Skip("no AVX2")
	}
	const k = 256
	a := make([]float32, 6*k)
	p := make([]float32, 16*k)
	bias := make([]float32, 16)
	c := make([]float32, 6*16)
	t0 := cpuTime()
	for b.Loop() {
		kern6x16AVX2(k, &a[0], k, &p[0], &bias[0], &c[0], 16)
	}
	b.ReportMetric(float64(b.N)*2*6*16*k/(cpuTime()-t0).Seconds()/1e9, "GFLOP/cpu-s")
}

func BenchmarkKernel512L1(b *testing.B) {
	const k = 256
	a := make([]float32, 6*k)
	p := make([]float32, 32*k)
	bias := make([]float32, 32)
	c := make([]float32, 6*32)
	t0 := cpuTime()
	for b.Loop() {
		kern6x32AVX512(k, &a[0], k, &p[0], &bias[0], &c[0], 32)
	}
	b.ReportMetric(float64(b.N)*2*6*32*k/(cpuTime()-t0).Seconds()/1e9, "GFLOP/cpu-s")
}
