// Command pq-bench is knnbridge's side of bench/pq/run.sh: on the same
// .npy files as bench/pq/faiss_bench.py it times k-means and IVF-PQ training
// and measures IVF-PQ recall@10 and search QPS, printing one JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/knnbridge/knnbridge/pq"
)

func main() {
	base := flag.String("base", "", "base vectors (.npy float32)")
	queries := flag.String("queries", "", "query vectors (.npy float32)")
	k := flag.Int("k", 1024, "k-means centroids")
	niter := flag.Int("niter", 20, "k-means iterations")
	threads := flag.Int("threads", 2, "threads")
	nlist := flag.Int("nlist", 1024, "IVF lists")
	m := flag.Int("m", 16, "PQ M")
	nbits := flag.Int("nbits", 8, "PQ nbits")
	nprobes := flag.String("nprobe", "8,16,64", "nprobe values")
	flag.StringVar(&indexPath, "index", "", "search-only mode: load this faiss IVF-PQ file, or build and write it first when absent (skips k-means timing)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the search phase to this file")
	flag.StringVar(&trainProfile, "trainprofile", "", "write a CPU profile of IVF-PQ training to this file")
	flag.BoolVar(&onlyKMeans, "only-kmeans", false, "time k-means only (with -cpuprofile: profile it)")
	flag.IntVar(&searchReps, "reps", 3, "timed searches per nprobe (best kept)")
	flag.Parse()
	if err := run(*base, *queries, *k, *niter, *threads, *nlist, *m, *nbits, *nprobes); err != nil {
		fmt.Fprintln(os.Stderr, "pq-bench:", err)
		os.Exit(1)
	}
}

var (
	indexPath, cpuProfile, trainProfile string
	searchReps                          int
	onlyKMeans                          bool
)

func run(basePath, qPath string, k, niter, threads, nlist, m, nbits int, nprobes string) error {
	ctx := context.Background()
	x, d, err := pq.ReadVectorsFile(basePath, 0)
	if err != nil {
		return err
	}
	q, qd, err := pq.ReadVectorsFile(qPath, 0)
	if err != nil {
		return err
	}
	if qd != d {
		return fmt.Errorf("query dimension %d != base %d", qd, d)
	}
	out := map[string]any{"n": len(x) / d, "d": d, "nq": len(q) / d, "threads": threads}

	if onlyKMeans {
		if cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		cfg := pq.DefaultKMeansConfig(k)
		cfg.NIter, cfg.Threads = niter, threads
		t0, c0 := time.Now(), cpuSeconds()
		km, err := pq.KMeans(ctx, x, d, cfg)
		if err != nil {
			return err
		}
		out["kmeans_seconds"] = time.Since(t0).Seconds()
		out["kmeans_cpu_seconds"] = cpuSeconds() - c0
		out["kmeans_obj"] = km.Obj
		return json.NewEncoder(os.Stdout).Encode(out)
	}
	var ix *pq.IVF
	if indexPath != "" {
		if r, err := pq.ReadIndexFile(indexPath); err == nil {
			var ok bool
			if ix, ok = r.(*pq.IVF); !ok {
				return fmt.Errorf("%s: not an IVF index", indexPath)
			}
		}
	}
	if ix == nil {
		var err error
		if ix, err = build(ctx, x, d, k, niter, threads, nlist, m, nbits, out); err != nil {
			return err
		}
		if indexPath != "" {
			if err := pq.WriteIndexFile(indexPath, ix); err != nil {
				return err
			}
		}
	}
	return search(ix, x, q, d, threads, nprobes, out)
}

func build(ctx context.Context, x []float32, d, k, niter, threads, nlist, m, nbits int, out map[string]any) (*pq.IVF, error) {
	cfg := pq.DefaultKMeansConfig(k)
	cfg.NIter, cfg.Threads = niter, threads
	t0, c0 := time.Now(), cpuSeconds()
	km, err := pq.KMeans(ctx, x, d, cfg)
	if err != nil {
		return nil, err
	}
	out["kmeans_seconds"] = time.Since(t0).Seconds()
	out["kmeans_cpu_seconds"] = cpuSeconds() - c0
	out["kmeans_obj"] = km.Obj
	out["kmeans_ntrain"] = km.NTrain

	ix, err := pq.NewIVFPQ(d, nlist, m, nbits, pq.MetricL2)
	if err != nil {
		return nil, err
	}
	tc := pq.DefaultIVFTrainConfig()
	tc.Threads = threads
	if trainProfile != "" {
		f, err := os.Create(trainProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	t0, c0 = time.Now(), cpuSeconds()
	if _, err := ix.Train(ctx, x, tc); err != nil {
		return nil, err
	}
	if trainProfile != "" {
		pprof.StopCPUProfile()
	}
	out["ivfpq_train_seconds"] = time.Since(t0).Seconds()
	out["ivfpq_train_cpu_seconds"] = cpuSeconds() - c0
	t0 = time.Now()
	if err := ix.Add(x, nil, threads); err != nil {
		return nil, err
	}
	out["ivfpq_add_seconds"] = time.Since(t0).Seconds()
	return ix, nil
}

func search(ix *pq.IVF, x, q []float32, d, threads int, nprobes string, out map[string]any) error {
	gt, err := pq.FlatSearch(q, x, d, 10, pq.MetricL2, threads)
	if err != nil {
		return err
	}
	res := map[string]any{}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, s := range strings.Split(nprobes, ",") {
		np, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		ix.Search(q, 10, np, threads) // warm-up
		best, bestCPU := 0.0, math.Inf(1)
		var r *pq.SearchResult
		for rep := 0; rep < searchReps; rep++ {
			t0, c0 := time.Now(), cpuSeconds()
			r, err = ix.Search(q, 10, np, threads)
			if err != nil {
				return err
			}
			if qps := float64(r.NQ) / time.Since(t0).Seconds(); qps > best {
				best = qps
			}
			bestCPU = min(bestCPU, (cpuSeconds()-c0)/float64(r.NQ)*1e6)
		}
		rec, err := pq.Recall(r, gt, 10)
		if err != nil {
			return err
		}
		res[s] = map[string]float64{"recall_at_10": rec, "qps": best, "cpu_us_per_query": bestCPU}
	}
	out["search"] = res
	return json.NewEncoder(os.Stdout).Encode(out)
}

// cpuSeconds is the process's user+system CPU time: on a shared, loaded
// machine it moves far less than wall time between runs (both sides report
// it; the wall-time ratio stays the headline figure).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
