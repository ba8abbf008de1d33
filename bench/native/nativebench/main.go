// Command nativebench times knnbridge's native kernels on data files written
// by ../peer_bench.py, so that ours and the peers (faiss, numpy/OpenBLAS)
// run on identical inputs in the same run. It prints one JSON object.
//
//	go run ./bench/native/nativebench -dir .cache/bench-native
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/knnbridge/knnbridge/native"
)

// readF32 reads the first n little-endian float32 of path.
func readF32(path string, n int) []float32 {
	f, err := os.Open(path)
	if err != nil {
		log.Fatalf("nativebench: %v", err)
	}
	defer f.Close()
	raw := make([]byte, 4*n)
	if _, err := io.ReadFull(f, raw); err != nil {
		log.Fatalf("nativebench: %s: want %d float32: %v", path, n, err)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// timeit returns the fastest of reps timings of f, after one warm-up call.
// The minimum, not the median: on a shared machine the other jobs only ever
// add time, and the peer script measures the same way.
func timeit(reps int, f func()) float64 {
	f()
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		f()
		ts[i] = time.Since(t0).Seconds()
	}
	slices.Sort(ts)
	return ts[0]
}

func main() {
	dir := flag.String("dir", ".cache/bench-native", "directory with the data files")
	n := flag.Int("n", 100000, "database vectors")
	reps := flag.Int("reps", 7, "timed repetitions (fastest reported)")
	flag.Parse()

	res := map[string]any{
		"cpu_levels": fmt.Sprint(native.Supported()),
		"gomaxprocs": runtime.GOMAXPROCS(0),
	}
	set := func(k string, v float64) { res[k] = v }

	// Single-thread read bandwidth: a streaming read of a buffer far larger
	// than L3 (readbw_amd64.s: one 32-byte load per add, four adders) is
	// what one core can pull from memory; the batch kernels cannot beat
	// size/bandwidth once the matrix is out of cache.
	big := make([]byte, 512<<20)
	for i := range big {
		big[i] = byte(i)
	}
	var sum uint64
	bw := float64(len(big)) / timeit(*reps, func() { sum += readSum(big) })
	res["read_checksum"] = sum
	set("read_bw_GBps", bw/1e9)
	big = nil
	runtime.GC()

	for _, d := range []int{128, 384, 768} {
		x := readF32(filepath.Join(*dir, fmt.Sprintf("x%d.f32", d)), *n*d)
		q := readF32(filepath.Join(*dir, fmt.Sprintf("q%d.f32", d)), d)
		out := make([]float32, *n)
		top := make([]int, 10)
		set(fmt.Sprintf("bound_d%d", d), float64(4*d**n)/bw)
		for _, l := range native.Supported() {
			if _, err := native.Use(l); err != nil {
				log.Fatal(err)
			}
			set(fmt.Sprintf("l2_d%d_%s", d, l), timeit(*reps, func() { native.L2Batch(q, x, out) }))
			set(fmt.Sprintf("ip_d%d_%s", d, l), timeit(*reps, func() { native.DotBatch(q, x, out) }))
			set(fmt.Sprintf("l2knn_d%d_%s", d, l), timeit(*reps, func() {
				native.L2Batch(q, x, out)
				native.SelectSmallest(top, out, 10)
			}))
			set(fmt.Sprintf("ipknn_d%d_%s", d, l), timeit(*reps, func() {
				native.DotBatch(q, x, out)
				native.SelectLargest(top, out, 10)
			}))
		}
	}

	// In-cache kernel speed at d = 768 (the SIMD ≥ 8× Go twin target).
	x768 := readF32(filepath.Join(*dir, "x768.f32"), 2*768)
	for _, l := range native.Supported() {
		native.Use(l)
		var sink float32
		const calls = 20000
		for _, op := range []string{"dot", "l2"} {
			f := native.Dot
			if op == "l2" {
				f = native.L2Squared
			}
			t := timeit(*reps, func() {
				for i := 0; i < calls; i++ {
					sink += f(x768[:768], x768[768:])
				}
			})
			set(fmt.Sprintf("%s768_ns_%s", op, l), t/calls*1e9)
		}
		if sink == 42 {
			fmt.Fprint(os.Stderr, "")
		}
	}

	const m, nn, k = 1024, 1536, 384
	a := readF32(filepath.Join(*dir, "gemm_a.f32"), m*k)
	b := readF32(filepath.Join(*dir, "gemm_b.f32"), k*nn)   // k×n for A·B
	bt := readF32(filepath.Join(*dir, "gemm_bt.f32"), nn*k) // n×k for A·Bᵀ
	c := make([]float32, m*nn)
	for _, l := range native.Supported() {
		native.Use(l)
		for _, th := range []int{1, 2} {
			r := *reps
			if l == native.Generic {
				r = 1 // seconds per call: one is enough to show the gap
			}
			set(fmt.Sprintf("sgemm_t%d_%s", th, l), timeit(r, func() { native.MatMul(c, a, b, m, nn, k, 1, 0, th) }))
			set(fmt.Sprintf("sgemmT_t%d_%s", th, l), timeit(r, func() { native.MatMulTransB(c, a, bt, m, nn, k, 1, 0, th) }))
		}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		log.Fatal(err)
	}
}
