// Command gobench times knnbridge's local embedder on a file of texts, for
// bench/embed/run.sh (which runs onnxruntime and sentence-transformers on
// the same file in the same run). It prints one JSON object per setting.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knnbridge/knnbridge/native/embed"
)

func main() {
	modelDir := flag.String("model", "", "model directory")
	input := flag.String("input", "", "texts, one per line")
	label := flag.String("label", "", "input label (short/long)")
	threads := flag.Int("threads", 1, "threads")
	batches := flag.String("batch", "1,32", "batch sizes")
	minTime := flag.Duration("min-time", 3*time.Second, "minimum timed duration per setting")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)

	texts, err := readLines(*input)
	if err != nil {
		fail(err)
	}
	l, err := embed.NewLocal(*modelDir, 32, *threads)
	if err != nil {
		fail(err)
	}
	ntok := 0
	for _, t := range texts {
		ntok += len(l.Tokenize(t))
	}
	ctx := context.Background()
	for _, bs := range strings.Split(*batches, ",") {
		b, _ := strconv.Atoi(bs)
		l.BatchSize = b
		// Warm-up pass.
		if _, err := l.Embed(ctx, texts[:min(b, len(texts))]); err != nil {
			fail(err)
		}
		var lat []float64
		n := 0
		cpu0 := cpuSeconds()
		start := time.Now()
		for i := 0; time.Since(start) < *minTime || n < 2*b; i = (i + b) % len(texts) {
			chunk := texts[i:min(i+b, len(texts))]
			t0 := time.Now()
			if _, err := l.Embed(ctx, chunk); err != nil {
				fail(err)
			}
			lat = append(lat, time.Since(t0).Seconds())
			n += len(chunk)
		}
		el := time.Since(start).Seconds()
		cpu := cpuSeconds() - cpu0
		sort.Float64s(lat)
		out := map[string]any{
			"engine": "knnbridge", "input": *label, "threads": *threads, "batch": b,
			"sentences_per_s": float64(n) / el, "sentences": n,
			"sentences_per_cpu_s": float64(n) / cpu, "cpu_s": cpu, "wall_s": el,
			"avg_tokens": float64(ntok) / float64(len(texts)),
			"p50_ms":     1000 * lat[len(lat)/2], "p99_ms": 1000 * lat[min(len(lat)-1, len(lat)*99/100)],
			"peak_rss_mb": peakRSSMB(),
		}
		json.NewEncoder(os.Stdout).Encode(out)
	}
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// peakRSSMB is VmHWM from /proc/self/status (Linux).
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds is this process's user+system CPU time (all threads): on a
// shared, loaded machine it is steadier than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gobench:", err)
	os.Exit(1)
}
