// Command sidecar-bench measures what the sidecar costs on top of
// OpenSearch: the same k-NN searches (same vectors, same k, same index),
// sent by the same number of concurrent clients, once straight to
// OpenSearch's _search and once through the sidecar's
// POST /v1/indexes/{name}/search (in process, over loopback HTTP). It
// prints throughput and latency percentiles of both and their ratios.
//
//	OPENSEARCH_URL=http://127.0.0.1:9200 go run ./bench/sidecar -clients 32 -duration 20s
//
// The peer ("direct") is the floor: a sidecar can only add time. Both
// runs share the machine, so run it on an otherwise idle box for figures
// to quote.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/bridge/server"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/queries"
)

func main() {
	clients := flag.Int("clients", 32, "concurrent clients")
	dur := flag.Duration("duration", 20*time.Second, "duration of each run")
	docs := flag.Int("docs", 5000, "documents in the bench index")
	dim := flag.Int("dim", 384, "vector dimension")
	k := flag.Int("k", 10, "k")
	flag.Parse()
	if err := run(*clients, *dur, *docs, *dim, *k); err != nil {
		fmt.Fprintln(os.Stderr, "sidecar-bench:", err)
		os.Exit(1)
	}
}

func unit(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i], n = float32(x), n+x*x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func run(clients int, dur time.Duration, docs, dim, k int) error {
	ctx := context.Background()
	cfg, err := bridge.ConfigFromEnv()
	if err != nil {
		return err
	}
	c, err := bridge.NewClient(cfg)
	if err != nil {
		return err
	}
	index := fmt.Sprintf("knnbridge-sidecar-bench-%d", time.Now().UnixNano())
	spec := &mapping.IndexSpec{Name: index, Settings: mapping.Settings{Shards: mapping.Int(1), Replicas: mapping.Int(0)},
		Fields: map[string]*mapping.Field{"v": {Type: "knn_vector", Dimension: mapping.Int(dim), SpaceType: mapping.SpaceCosine,
			Method: &mapping.Method{Name: mapping.MethodHNSW, Engine: mapping.EngineLucene}}}}
	ip, err := c.PlanIndex(ctx, spec)
	if err != nil {
		return err
	}
	if _, err := c.ApplyIndex(ctx, ip, bridge.ApplyOptions{}); err != nil {
		return err
	}
	defer func() { _, _ = c.Do(context.Background(), http.MethodDelete, "/"+index, nil) }()
	r := rand.New(rand.NewPCG(1, 2))
	var body bytes.Buffer
	for i := 0; i < docs; i++ {
		vj, _ := json.Marshal(unit(r, dim))
		fmt.Fprintf(&body, "{\"index\":{\"_id\":\"%d\"}}\n{\"v\":%s}\n", i, vj)
		if body.Len() > 4<<20 || i == docs-1 {
			if _, err := c.Do(ctx, http.MethodPost, "/"+index+"/_bulk", body.Bytes()); err != nil {
				return err
			}
			body.Reset()
		}
	}
	if _, err := c.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		return err
	}

	token := "bench-token-0123456789abcdef"
	scfg, err := server.ConfigFromEnv()
	if err != nil {
		return err
	}
	scfg.ListenAddr, scfg.APIToken, scfg.AuthDisabled = "127.0.0.1:0", token, false
	srv, err := server.New(scfg, server.Deps{Cluster: c, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	addrc := make(chan string, 1)
	go func() { _ = srv.Run(sctx, func(a string) { addrc <- a }) }()
	addr := <-addrc

	osURL := strings.TrimRight(cfg.URLs[0], "/")
	direct := func(v []float32) (*http.Request, error) {
		b, err := queries.KNN{Field: "v", Vector: v, K: k, Size: k, Engine: queries.EngineLucene, Source: &queries.Source{Disabled: true}}.Body()
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodPost, osURL+"/"+index+"/_search", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			if cfg.Username != "" {
				req.SetBasicAuth(cfg.Username, cfg.Password)
			}
		}
		return req, err
	}
	sidecar := func(v []float32) (*http.Request, error) {
		b, _ := json.Marshal(map[string]any{"vector": v, "k": k, "candidates": k, "source": false})
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/indexes/"+index+"/search", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return req, err
	}
	fmt.Printf("sidecar-bench: %d docs x %d dims (lucene HNSW cosine), k=%d, %d clients, %s per run\n", docs, dim, k, clients, dur)
	// Warm the index (graph loading, caches) first, then alternate the two
	// so that neither profits from going second.
	if _, err := load("warm-up (not counted)", direct, clients, dur/2, dim); err != nil {
		return err
	}
	var a, b result
	for round := 0; round < 2; round++ {
		ra, err := load("direct OpenSearch _search", direct, clients, dur/2, dim)
		if err != nil {
			return err
		}
		rb, err := load("through the sidecar", sidecar, clients, dur/2, dim)
		if err != nil {
			return err
		}
		a, b = a.add(ra), b.add(rb)
	}
	fmt.Printf("mean of 2 rounds: direct %.1f/s p50 %.1f ms p99 %.1f ms; sidecar %.1f/s p50 %.1f ms p99 %.1f ms\n", a.qps/2, a.p50/2, a.p99/2, b.qps/2, b.p50/2, b.p99/2)
	fmt.Printf("ratio sidecar/direct: throughput %.2f, p50 %.2f, p99 %.2f\n", b.qps/a.qps, b.p50/a.p50, b.p99/a.p99)
	return nil
}

type result struct{ qps, p50, p99 float64 }

func (r result) add(o result) result { return result{r.qps + o.qps, r.p50 + o.p50, r.p99 + o.p99} }

func load(name string, mk func([]float32) (*http.Request, error), clients int, dur time.Duration, dim int) (result, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for ctx.Err() == nil {
				req, err := mk(unit(r, dim))
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				d := time.Since(t0)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s: HTTP %d", name, resp.StatusCode)
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					lat = append(lat, float64(d.Microseconds())/1000)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if firstErr != nil {
		return result{}, firstErr
	}
	sort.Float64s(lat)
	p := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	res := result{qps: float64(len(lat)) / el, p50: p(0.5), p99: p(0.99)}
	fmt.Printf("%-28s %6d searches  %7.1f/s  p50 %7.1f ms  p99 %7.1f ms\n", name, len(lat), res.qps, res.p50, res.p99)
	return res, nil
}
