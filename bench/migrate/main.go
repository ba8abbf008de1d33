// Command migrate-bench measures the backfill rate of `knnbridge migrate`
// (documents/s) on 20k 384-d documents, with copy and with re-embedding,
// next to its peers on the same data in the same run:
//
//   - copy: OpenSearch's own server-side _reindex into an identical target;
//   - re-embed: the embedder alone on the same texts (no cluster), the
//     ceiling a re-embedding migration can reach.
//
// Usage (a running cluster; the model from `make model`):
//
//	go run ./bench/migrate -url http://127.0.0.1:9200 -docs 20000 -dim 384
//
// It prints the machine's load average with the figures: on a shared
// machine, they move with whatever else runs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/ingest"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/native/embed"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:9200", "OpenSearch URL")
	docs := flag.Int("docs", 20000, "documents")
	dim := flag.Int("dim", 384, "vector dimension")
	page := flag.Int("page", 500, "page size")
	senders := flag.Int("senders", 2, "concurrent bulk requests")
	modelDir := flag.String("model", embed.DefaultModelDir(), "MiniLM model directory (re-embedding)")
	embedSample := flag.Int("embed-sample", 2000, "texts for the embedder-only peer")
	skipReembed := flag.Bool("skip-reembed", false, "copy only")
	flag.Parse()
	ctx := context.Background()
	c, err := bridge.NewClient(bridge.Config{URLs: []string{*url}, Timeout: 120 * time.Second, MaxRetries: 3})
	if err != nil {
		fatal(err)
	}
	prefix := fmt.Sprintf("migbench-%d", time.Now().Unix())
	src, alias, state := prefix+"-v1", prefix, prefix+"-state"
	cleanup = func() {
		for _, ix := range []string{src, prefix + "-copy", prefix + "-reindex", prefix + "-emb", state} {
			_, _ = c.Do(ctx, http.MethodDelete, "/"+ix+"?ignore_unavailable=true", nil)
		}
	}
	defer cleanup()
	fmt.Printf("machine: %s (load average at start)\n", loadavg())
	texts := load(ctx, c, src, alias, *docs, *dim)

	target := &mapping.IndexSpec{Fields: map[string]*mapping.Field{
		"v": {Type: "knn_vector", Dimension: mapping.Int(*dim), Method: &mapping.Method{Name: "hnsw", Engine: "lucene", SpaceType: "cosinesimil",
			Parameters: &mapping.MethodParams{M: mapping.Int(32), EfConstruction: mapping.Int(256)}}},
		"title": {Type: "text"},
		"n":     {Type: "integer"},
	}}

	// copy
	m := bridge.NewMigrator(c, bridge.MigrateOptions{StateIndex: state, PageSize: *page, Senders: *senders})
	copyRate, copyWall := run(ctx, m, bridge.MigrationRequest{Alias: alias, Target: target, TargetName: prefix + "-copy"})
	cleanupState(ctx, c, state, alias, prefix+"-copy")
	fmt.Printf("knnbridge migrate, copy: %.0f docs/s (wall incl. catch-up %.1fs)\n", copyRate, copyWall)

	// peer: _reindex into an identical target with the same load settings
	p, err := m.Plan(ctx, bridge.MigrationRequest{Alias: alias, Target: target, TargetName: prefix + "-reindex"})
	if err != nil {
		fatal(err)
	}
	body, _ := p.CreateBody()
	if _, err := c.Do(ctx, http.MethodPut, "/"+prefix+"-reindex", body); err != nil {
		fatal(err)
	}
	t0 := time.Now()
	peer := "peer: _reindex (server side)"
	err = reindex(ctx, c, src, prefix+"-reindex", *page)
	var oe *bridge.Error
	if errors.As(err, &oe) && (oe.Status == http.StatusMethodNotAllowed || oe.Status == http.StatusNotFound) {
		// The Maven Central integ-test distribution has no reindex module:
		// compare with what teams write by hand instead.
		peer = "peer: scroll+bulk script"
		t0 = time.Now()
		err = scrollCopy(ctx, c, src, prefix+"-reindex", *page)
	}
	if err != nil {
		fatal(err)
	}
	reindexRate := float64(*docs) / time.Since(t0).Seconds()
	_, _ = c.Do(ctx, http.MethodDelete, "/"+prefix+"-reindex", nil)

	// second peer: the hand-written script (when _reindex ran above)
	scriptRate := 0.0
	if peer != "peer: scroll+bulk script" {
		if _, err := c.Do(ctx, http.MethodPut, "/"+prefix+"-reindex", body); err != nil {
			fatal(err)
		}
		t0 = time.Now()
		if err := scrollCopy(ctx, c, src, prefix+"-reindex", *page); err != nil {
			fatal(err)
		}
		scriptRate = float64(*docs) / time.Since(t0).Seconds()
		_, _ = c.Do(ctx, http.MethodDelete, "/"+prefix+"-reindex", nil)
	}

	fmt.Printf("\n%-34s %10s %10s\n", "backfill, 20k docs", "docs/s", "vs peer")
	fmt.Printf("%-34s %10.0f %9.2fx   (wall incl. catch-up %.1fs)\n", "knnbridge migrate, copy", copyRate, copyRate/reindexRate, copyWall)
	fmt.Printf("%-34s %10.0f %9.2fx\n", peer, reindexRate, 1.0)
	if scriptRate > 0 {
		fmt.Printf("%-34s %10.0f %9.2fx\n", "peer: scroll+bulk script", scriptRate, scriptRate/reindexRate)
	}

	if !*skipReembed {
		emb, err := embed.NewLocal(*modelDir, 32, 0)
		if err != nil {
			fatalf("re-embedding needs the model (make model): %v", err)
		}
		if emb.Dimension() != *dim {
			fatalf("model dimension %d != -dim %d", emb.Dimension(), *dim)
		}
		sample := texts[:min(*embedSample, len(texts))]
		t0 := time.Now()
		for i := 0; i < len(sample); i += *page {
			if _, err := emb.Embed(ctx, sample[i:min(i+*page, len(sample))]); err != nil {
				fatal(err)
			}
		}
		embedRate := float64(len(sample)) / time.Since(t0).Seconds()
		fmt.Printf("embedder alone: %.1f texts/s\n", embedRate)
		me := bridge.NewMigrator(c, bridge.MigrateOptions{StateIndex: state, PageSize: *page, Senders: *senders, Embedder: emb})
		rate, wall := run(ctx, me, bridge.MigrationRequest{Alias: alias, Target: target, TargetName: prefix + "-emb", TextField: "title", Reembed: true})
		fmt.Printf("%-34s %10.1f %9.2fx   (wall incl. catch-up %.1fs)\n", "knnbridge migrate, re-embed", rate, rate/embedRate, wall)
		fmt.Printf("%-34s %10.1f %9.2fx   (%d texts, no cluster)\n", "peer: embedder alone (MiniLM)", embedRate, 1.0, len(sample))
	}
	fmt.Printf("\nmachine: %s (load average at end; shared with other work)\n", loadavg())
}

// run plans, starts and runs a migration to ready; it returns the backfill
// rate and the wall time of Run.
func run(ctx context.Context, m *bridge.Migrator, req bridge.MigrationRequest) (float64, float64) {
	p, err := m.Plan(ctx, req)
	if err != nil {
		fatal(err)
	}
	if _, err := m.Start(ctx, p); err != nil {
		fatal(err)
	}
	t0 := time.Now()
	st, err := m.Run(ctx, req.Alias)
	if err != nil {
		fatal(err)
	}
	if st.Backfilled != p.Docs {
		fatalf("backfilled %d of %d", st.Backfilled, p.Docs)
	}
	return bridge.MigrationRate(st), time.Since(t0).Seconds()
}

// reindex runs _reindex as a task and polls it: a synchronous call would
// outlast the client's timeout, and a retried one would start a second copy.
func reindex(ctx context.Context, c *bridge.Client, src, dst string, size int) error {
	var task struct {
		Task string `json:"task"`
	}
	if err := c.DoJSON(ctx, http.MethodPost, "/_reindex?wait_for_completion=false", map[string]any{
		"source": map[string]any{"index": src, "size": size}, "dest": map[string]any{"index": dst}}, &task); err != nil {
		return err
	}
	for {
		var st struct {
			Completed bool            `json:"completed"`
			Error     json.RawMessage `json:"error"`
			Response  struct {
				Failures []json.RawMessage `json:"failures"`
			} `json:"response"`
		}
		if err := c.DoJSON(ctx, http.MethodGet, "/_tasks/"+task.Task, nil, &st); err != nil {
			return err
		}
		if st.Completed {
			if len(st.Error) > 0 || len(st.Response.Failures) > 0 {
				return fmt.Errorf("reindex failed: %s %s", st.Error, st.Response.Failures)
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrollCopy is the hand-written reindex script a team would write: scroll
// the source, bulk-index every page into the target, one request at a
// time, no versions, no resume.
func scrollCopy(ctx context.Context, c *bridge.Client, src, dst string, size int) error {
	var res struct {
		Scroll string `json:"_scroll_id"`
		Hits   struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.DoJSON(ctx, http.MethodPost, "/"+src+"/_search?scroll=5m", map[string]any{"size": size, "sort": []string{"_doc"}}, &res); err != nil {
		return err
	}
	for len(res.Hits.Hits) > 0 {
		var b []byte
		for _, h := range res.Hits.Hits {
			b = fmt.Appendf(b, `{"index":{"_id":%q}}`+"\n", h.ID)
			b = append(append(b, h.Source...), '\n')
		}
		resp, err := c.Do(ctx, http.MethodPost, "/"+dst+"/_bulk?filter_path=errors", b)
		if err != nil || !bytes.Contains(resp, []byte(`"errors":false`)) {
			return fmt.Errorf("scroll copy: %v %s", err, resp)
		}
		id := res.Scroll
		res.Hits.Hits = nil
		if err := c.DoJSON(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "5m", "scroll_id": id}, &res); err != nil {
			return err
		}
	}
	return nil
}

// cleanupState ends a benchmark migration without cutover: the state is
// deleted and the target dropped, so the next one can start.
func cleanupState(ctx context.Context, c *bridge.Client, state, alias, target string) {
	_, _ = c.Do(ctx, http.MethodDelete, "/"+state+"/_doc/"+alias+"?refresh=true", nil)
	_, _ = c.Do(ctx, http.MethodDelete, "/"+target, nil)
}

var words = strings.Fields("vector search index shard replica graph cosine embedding model query recall cluster alias snapshot migrate lucene engine token passage answer document retrieval ranking")

func load(ctx context.Context, c *bridge.Client, index, alias string, n, dim int) []string {
	body := fmt.Sprintf(`{"settings":{"index.knn":true,"number_of_shards":2,"number_of_replicas":0,"refresh_interval":"-1"},
	"mappings":{"properties":{"v":{"type":"knn_vector","dimension":%d,"method":{"name":"hnsw","engine":"lucene","space_type":"l2","parameters":{"m":16,"ef_construction":100}}},
	"title":{"type":"text"},"n":{"type":"integer"}}}}`, dim)
	if _, err := c.Do(ctx, http.MethodPut, "/"+index, body); err != nil {
		fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, n)
	var b []byte
	v := make([]float32, dim)
	t0 := time.Now()
	for i := range n {
		w := make([]string, 6+r.IntN(14))
		for j := range w {
			w[j] = words[r.IntN(len(words))]
		}
		texts[i] = strings.Join(w, " ")
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		b = fmt.Appendf(b, `{"index":{"_id":"d%d"}}`+"\n"+`{"title":%q,"n":%d,"v":`, i, texts[i], i)
		b = ingest.AppendVector(b, v)
		b = append(b, "}\n"...)
		if (i+1)%1000 == 0 || i == n-1 {
			resp, err := c.Do(ctx, http.MethodPost, "/"+index+"/_bulk?filter_path=errors", b)
			if err != nil || !bytes.Contains(resp, []byte(`"errors":false`)) {
				fatalf("loading source: %v %s", err, resp)
			}
			b = b[:0]
		}
	}
	for _, req := range []struct{ m, p, b string }{
		{http.MethodPut, "/" + index + "/_settings", `{"index.refresh_interval":null}`},
		{http.MethodPost, "/" + index + "/_refresh", ""},
		{http.MethodPost, "/_aliases", fmt.Sprintf(`{"actions":[{"add":{"index":%q,"alias":%q}}]}`, index, alias)},
	} {
		var body any
		if req.b != "" {
			body = req.b
		}
		if _, err := c.Do(ctx, req.m, req.p, body); err != nil {
			fatal(err)
		}
	}
	fmt.Printf("source: %d docs, %d-d, loaded in %.1fs\n", n, dim, time.Since(t0).Seconds())
	return texts
}

// cleanup deletes the benchmark's indexes, also on a fatal error.
var cleanup = func() {}

func fatal(v ...any) {
	cleanup()
	log.Fatal(v...)
}

func fatalf(format string, v ...any) {
	cleanup()
	log.Fatalf(format, v...)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	return fmt.Sprintf("%d CPUs, load %s %s %s", runtime.NumCPU(), f[0], f[1], f[2])
}
