// Command queries benchmarks knnbridge's hybrid search against a real
// cluster: for each query it times the two raw sub-queries (a plain BM25
// _search and a plain k-NN _search, response read, nothing else; each sent
// as the hybrid sends it: the same body, track_total_hits false, an
// uncompressed answer) and the full hybrid search (one _msearch, parsing,
// min_max fusion, cut-offs), and prints p50/p99 of each and of "hybrid −
// slower sub-query", the latency knnbridge adds (issue 8 target: ≤ 2 ms at
// p50). For an A/B in the same run it also times the _msearch as session
// 1 sent it (gzip-compressed answer, hits counted) and session 1's whole
// hybrid path (that request, encoding/json decoding, full fusion).
//
//	OPENSEARCH_URL=http://127.0.0.1:9200 go run ./bench/queries -queries 1000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/queries"
)

func main() {
	var (
		nDocs    = flag.Int("docs", 5000, "documents to index")
		dim      = flag.Int("dim", 64, "vector dimension")
		nQueries = flag.Int("queries", 1000, "measured queries")
		k        = flag.Int("k", 10, "k / page size")
		depth    = flag.Int("depth", 50, "hybrid candidates per sub-query")
		keep     = flag.Bool("keep", false, "keep the index afterwards")
	)
	flag.Parse()
	if err := run(*nDocs, *dim, *nQueries, *k, *depth, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/queries:", err)
		os.Exit(1)
	}
}

var vocab = strings.Fields(`solar panel energy battery grid wind turbine power storage inverter
cell module efficiency voltage current charge home roof install cost price
water heat pump thermal insulation window door wall floor garden tool kitchen
recipe cooking bread pasta sauce tomato garlic onion pepper salt oil butter
travel train flight hotel city museum beach mountain river lake forest trail`)

func words(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		// Zipf-ish: low indices more often.
		j := int(float64(len(vocab)) * r.Float64() * r.Float64())
		w[i] = vocab[j]
	}
	return strings.Join(w, " ")
}

func vec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func run(nDocs, dim, nQueries, k, depth int, keep bool) error {
	ctx := context.Background()
	cfg, err := bridge.ConfigFromEnv()
	if err != nil {
		return err
	}
	c, err := bridge.NewClient(cfg)
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	index := fmt.Sprintf("bench-queries-%d", time.Now().UnixNano())
	mapping := map[string]any{
		"settings": map[string]any{"index": map[string]any{"knn": true, "number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": map[string]any{"properties": map[string]any{
			"body": map[string]any{"type": "text"},
			"v": map[string]any{"type": "knn_vector", "dimension": dim,
				"method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
		}},
	}
	if _, err := c.Do(ctx, http.MethodPut, "/"+index, mapping); err != nil {
		return err
	}
	if !keep {
		defer c.Do(context.Background(), http.MethodDelete, "/"+index, nil) //nolint:errcheck // best effort
	}
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Printf("loading %d docs (dim %d) into %s on OpenSearch %s ...\n", nDocs, dim, index, info.Version)
	for start := 0; start < nDocs; start += 1000 {
		var sb strings.Builder
		for i := start; i < min(start+1000, nDocs); i++ {
			src, _ := json.Marshal(map[string]any{"body": words(r, 8+r.IntN(24)), "v": vec(r, dim)})
			fmt.Fprintf(&sb, "{\"index\":{\"_index\":%q,\"_id\":\"%d\"}}\n%s\n", index, i, src)
		}
		raw, err := c.Do(ctx, http.MethodPost, "/_bulk", sb.String())
		if err != nil {
			return err
		}
		if strings.Contains(string(raw[:min(len(raw), 200)]), `"errors":true`) {
			return fmt.Errorf("bulk errors: %.300s", raw)
		}
	}
	if _, err := c.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPost, "/"+index+"/_forcemerge?max_num_segments=1", nil); err != nil {
		return err
	}

	s := bridge.NewSearcher(c)
	version, err := s.Version(ctx)
	if err != nil {
		return err
	}
	fields, _ := queries.ParseTextFields("body")
	type sample struct{ bm25, knn, hybrid, parallel, msearch, client, oldMsearch, oldHybrid time.Duration }
	var samples []sample
	total := nQueries + 50 // the first 50 warm up caches and are dropped
	for i := range total {
		text := words(r, 2+r.IntN(2))
		q := vec(r, dim)
		// Vectors stay out of _source, as an application would ask.
		src := &queries.Source{Excludes: []string{"v"}}
		// The same bodies the hybrid search sends (track_total_hits false).
		bm25Body, err := queries.BM25{Text: text, Fields: fields, Size: depth, Source: src, NoTotal: true}.Body()
		if err != nil {
			return err
		}
		knnBody, err := queries.KNN{Field: "v", Vector: q, K: depth, Engine: queries.EngineLucene, Source: src, NoTotal: true}.Body()
		if err != nil {
			return err
		}
		oldBM25, _ := queries.BM25{Text: text, Fields: fields, Size: depth, Source: src}.Body()
		oldKNN, _ := queries.KNN{Field: "v", Vector: q, K: depth, Engine: queries.EngineLucene, Source: src}.Body()
		req := bridge.SearchRequest{Indices: []string{index}, Mode: bridge.ModeHybrid, VectorField: "v", Vector: q,
			Text: text, TextFields: fields, K: k, Depth: depth, Source: src}
		var sm sample
		timeIt := func(f func() error) (time.Duration, error) {
			t0 := time.Now()
			err := f()
			return time.Since(t0), err
		}
		// Rotate the order so that no request always runs on a warm cache.
		steps := []func() error{
			func() (err error) {
				sm.bm25, err = timeIt(func() error { _, err := post(ctx, c, "/"+index+"/_search", bm25Body); return err })
				return err
			},
			func() (err error) {
				sm.knn, err = timeIt(func() error { _, err := post(ctx, c, "/"+index+"/_search", knnBody); return err })
				return err
			},
			func() (err error) {
				sm.hybrid, err = timeIt(func() error { _, err := s.Search(ctx, req); return err })
				return err
			},
			func() (err error) {
				// The same two bodies as one raw _msearch, then knnbridge's
				// client-side work on its answer (parse, fuse, cut) timed
				// alone: the two parts of what hybrid adds.
				ms, err := queries.MSearchBody([]string{index}, bm25Body, knnBody)
				if err != nil {
					return err
				}
				var raw []byte
				sm.msearch, err = timeIt(func() (err error) { raw, err = post(ctx, c, "/_msearch", ms); return err })
				if err != nil {
					return err
				}
				sm.client, err = timeIt(func() error {
					rs, err := queries.ParseMSearchResponse(raw, 2)
					if err != nil {
						return err
					}
					sc := queries.Scoring{Space: queries.SpaceCosine, Engine: queries.EngineLucene, Version: version}
					subs := []queries.SubResult{{Name: "bm25", Hits: rs[0].Hits}, {Name: "knn", Hits: rs[1].Hits, Scoring: &sc}}
					_, _, err = queries.FuseCut(subs, queries.Fusion{}, queries.Cutoff{}, []*queries.Scoring{nil, &sc}, queries.PageSpec{Size: k})
					return err
				})
				return err
			},
			func() (err error) {
				ms, err := queries.MSearchBody([]string{index}, oldBM25, oldKNN)
				if err != nil {
					return err
				}
				sm.oldMsearch, err = timeIt(func() error { _, err := c.Do(ctx, http.MethodPost, "/_msearch", ms); return err })
				return err
			},
			func() (err error) {
				// The whole hybrid as session 1 ran it, for an A/B in one run.
				sm.oldHybrid, err = timeIt(func() error { return session1Hybrid(ctx, c, index, oldBM25, oldKNN, version, k) })
				return err
			},
			func() (err error) {
				p := req
				p.Parallel = true
				sm.parallel, err = timeIt(func() error { _, err := s.Search(ctx, p); return err })
				return err
			},
		}
		for j := range steps {
			if err := steps[(i+j)%len(steps)](); err != nil {
				return err
			}
		}
		if i >= 50 {
			samples = append(samples, sm)
		}
	}

	pick := func(f func(sample) time.Duration) (p50, p99 time.Duration) {
		d := make([]time.Duration, len(samples))
		for i, s := range samples {
			d[i] = f(s)
		}
		slices.Sort(d)
		return d[len(d)/2], d[min(len(d)-1, len(d)*99/100)]
	}
	row := func(name string, f func(sample) time.Duration) {
		p50, p99 := pick(f)
		fmt.Printf("%-48s p50 %8.3f ms   p99 %8.3f ms\n", name, ms(p50), ms(p99))
	}
	fmt.Printf("\n%d queries, k=%d, depth=%d, %d docs, dim %d, lucene cosine, OpenSearch %s\n", len(samples), k, depth, nDocs, dim, info.Version)
	row("raw BM25 _search", func(s sample) time.Duration { return s.bm25 })
	row("raw k-NN _search", func(s sample) time.Duration { return s.knn })
	row("slower of the two (per query)", func(s sample) time.Duration { return max(s.bm25, s.knn) })
	row("raw _msearch of both (no client work)", func(s sample) time.Duration { return s.msearch })
	row("raw _msearch as session 1 sent it (gzip, totals)", func(s sample) time.Duration { return s.oldMsearch })
	row("client work: parse + fuse + cut", func(s sample) time.Duration { return s.client })
	row("hybrid, one _msearch + fusion", func(s sample) time.Duration { return s.hybrid })
	row("hybrid, two parallel requests + fusion", func(s sample) time.Duration { return s.parallel })
	row("added: msearch hybrid − slower", func(s sample) time.Duration { return s.hybrid - max(s.bm25, s.knn) })
	row("added: parallel hybrid − slower", func(s sample) time.Duration { return s.parallel - max(s.bm25, s.knn) })
	row("session 1's hybrid path (A/B, same run)", func(s sample) time.Duration { return s.oldHybrid })
	row("added: session 1's hybrid path − slower", func(s sample) time.Duration { return s.oldHybrid - max(s.bm25, s.knn) })
	row("added by the cluster: raw _msearch − slower", func(s sample) time.Duration { return s.msearch - max(s.bm25, s.knn) })
	h50, _ := pick(func(s sample) time.Duration { return s.hybrid })
	m50, _ := pick(func(s sample) time.Duration { return max(s.bm25, s.knn) })
	fmt.Printf("ratio hybrid p50 / slower-sub-query p50: %.2f\n", float64(h50)/float64(m50))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// post sends a raw search the way bridge.Searcher sends its own: an
// uncompressed answer (Accept-Encoding: identity) read whole, once.
func post(ctx context.Context, c *bridge.Client, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.API.Client.Stream(req)
	if resp == nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var out []byte
	if n := resp.ContentLength; n > 0 {
		out = make([]byte, n)
		_, err = io.ReadFull(resp.Body, out)
	} else {
		out, err = io.ReadAll(resp.Body)
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("POST %s: status %d: %.300s", path, resp.StatusCode, out)
	}
	return out, nil
}

// session1Hybrid replays what a hybrid search cost in session 1: bodies
// that count hits, a gzip-compressed answer, encoding/json decoding, and
// a full fusion (every document ranked and explained) before the cut.
// Fuse itself is today's: on 2 × 50 hits the two differ by microseconds.
func session1Hybrid(ctx context.Context, c *bridge.Client, index string, bm25Body, knnBody []byte, v queries.Version, k int) error {
	ms, err := queries.MSearchBody([]string{index}, bm25Body, knnBody)
	if err != nil {
		return err
	}
	raw, err := c.Do(ctx, http.MethodPost, "/_msearch", ms)
	if err != nil {
		return err
	}
	var r struct {
		Responses []struct {
			Took int `json:"took"`
			Hits struct {
				Hits []struct {
					Index  string          `json:"_index"`
					ID     string          `json:"_id"`
					Score  *float64        `json:"_score"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	if len(r.Responses) != 2 {
		return fmt.Errorf("%d responses", len(r.Responses))
	}
	var lists [2][]queries.Hit
	for i, resp := range r.Responses {
		for _, h := range resp.Hits.Hits {
			if h.Score == nil {
				return fmt.Errorf("no score")
			}
			lists[i] = append(lists[i], queries.Hit{Index: h.Index, ID: h.ID, Score: *h.Score, Source: h.Source})
		}
	}
	sc := queries.Scoring{Space: queries.SpaceCosine, Engine: queries.EngineLucene, Version: v}
	f, err := queries.Fuse([]queries.SubResult{{Name: "bm25", Hits: lists[0]}, {Name: "knn", Hits: lists[1], Scoring: &sc}}, queries.Fusion{})
	if err != nil {
		return err
	}
	kept, _, err := queries.Cutoff{}.Apply(f.Results, []*queries.Scoring{nil, &sc})
	if err != nil {
		return err
	}
	_, err = queries.Page(kept, 0, k)
	return err
}
