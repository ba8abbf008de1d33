//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/migrate"
	"github.com/knnbridge/knnbridge/native/embed"
)

// migSourceBody is a lucene l2 m16 source index.
func migSourceBody(dim, shards int, withText bool) map[string]any {
	props := map[string]any{
		"v":   map[string]any{"type": "knn_vector", "dimension": dim, "method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": "l2", "parameters": map[string]any{"m": 16, "ef_construction": 100}}},
		"rev": map[string]any{"type": "integer"},
		"grp": map[string]any{"type": "keyword"},
	}
	if withText {
		props["title"] = map[string]any{"type": "text"}
	}
	return map[string]any{
		"settings": map[string]any{"index.knn": true, "number_of_shards": shards, "number_of_replicas": 0},
		"mappings": map[string]any{"properties": props},
	}
}

// migTargetSpec is lucene cosinesimil m32 ef_construction 256.
func migTargetSpec(name string, dim int, withText bool) *mapping.IndexSpec {
	s := &mapping.IndexSpec{Name: name, Fields: map[string]*mapping.Field{
		"v": {Type: "knn_vector", Dimension: mapping.Int(dim), Method: &mapping.Method{Name: "hnsw", Engine: "lucene", SpaceType: "cosinesimil",
			Parameters: &mapping.MethodParams{M: mapping.Int(32), EfConstruction: mapping.Int(256)}}},
		"rev": {Type: "integer"},
		"grp": {Type: "keyword"},
	}}
	if withText {
		s.Fields["title"] = &mapping.Field{Type: "text"}
	}
	return s
}

func migVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = r.Float32() + 0.01 // never all-zero: cosinesimil refuses those
	}
	return v
}

var migWords = strings.Fields("vector search index shard replica graph cosine embedding model query recall cluster alias snapshot migrate lucene engine token")

func migTitle(r *rand.Rand) string {
	n := 4 + r.IntN(8)
	w := make([]string, n)
	for i := range w {
		w[i] = migWords[r.IntN(len(migWords))]
	}
	return strings.Join(w, " ")
}

// migLoad creates index with n documents d0..d{n-1} and points alias at it.
func migLoad(t *testing.T, c *Cluster, index, alias string, n, dim, shards int, withText bool, seed uint64) map[string]migDoc {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Bridge.Do(ctx, http.MethodPut, "/"+index, migSourceBody(dim, shards, withText)); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	docs := make(map[string]migDoc, n)
	var body []byte
	flush := func() {
		if len(body) == 0 {
			return
		}
		resp, err := c.Bridge.Do(ctx, http.MethodPost, "/"+index+"/_bulk?filter_path=errors", body)
		if err != nil || !bytes.Contains(resp, []byte(`"errors":false`)) {
			t.Fatalf("bulk: %v %s", err, resp)
		}
		body = body[:0]
	}
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		d := migDoc{Rev: 0, V: migVec(r, dim), Grp: fmt.Sprintf("g%d", i%7)}
		if withText {
			d.Title = migTitle(r)
		}
		docs[id] = d
		body = fmt.Appendf(body, `{"index":{"_id":%q}}`+"\n", id)
		src, _ := json.Marshal(d)
		body = append(append(body, src...), '\n')
		if (i+1)%2000 == 0 {
			flush()
		}
	}
	flush()
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/_aliases", map[string]any{"actions": []any{map[string]any{"add": map[string]any{"index": index, "alias": alias}}}}); err != nil {
		t.Fatal(err)
	}
	return docs
}

type migDoc struct {
	Rev   int       `json:"rev"`
	V     []float32 `json:"v"`
	Grp   string    `json:"grp"`
	Title string    `json:"title,omitempty"`
}

// migAll reads every document of index (scroll), failing on duplicates.
func migAll(t *testing.T, c *Cluster, index string) map[string]json.RawMessage {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		t.Fatal(err)
	}
	out := map[string]json.RawMessage{}
	var res struct {
		Scroll string `json:"_scroll_id"`
		Hits   struct {
			Hits []struct {
				Index  string          `json:"_index"`
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Bridge.DoJSON(ctx, http.MethodPost, "/"+index+"/_search?scroll=2m", map[string]any{"size": 5000, "sort": []string{"_doc"}}, &res); err != nil {
		t.Fatal(err)
	}
	for len(res.Hits.Hits) > 0 {
		for _, h := range res.Hits.Hits {
			if _, dup := out[h.ID]; dup {
				t.Fatalf("%s: document %s returned twice", index, h.ID)
			}
			out[h.ID] = h.Source
		}
		id := res.Scroll
		res.Hits.Hits = nil
		if err := c.Bridge.DoJSON(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "2m", "scroll_id": id}, &res); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = c.Bridge.Do(ctx, http.MethodDelete, "/_search/scroll", map[string]any{"scroll_id": res.Scroll})
	return out
}

func migCount(t *testing.T, c *Cluster, index string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Count int64 `json:"count"`
	}
	if err := c.Bridge.DoJSON(ctx, http.MethodGet, "/"+index+"/_count", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.Count
}

// migWriter adds, updates (full and partial) and deletes documents through
// the alias, one at a time, and records the last acknowledged state of
// every id: the truth the target must match. A write refused by the
// cutover's write block is retried, as an application would.
type migWriter struct {
	c      *Cluster
	alias  string
	mu     sync.Mutex
	docs   map[string]migDoc // live ids -> last acknowledged version
	gone   map[string]bool   // deleted ids
	ops    int
	blocks int
	r      *rand.Rand
	ids    []string
	next   int
	dim    int
}

// run writes until stop is closed. Requests are never cancelled midway: a
// write the server applied but the writer did not see acknowledged would
// make the recorded truth wrong.
func (w *migWriter) run(stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if err := w.step(context.Background()); err != nil {
			return err
		}
	}
}

func (w *migWriter) step(ctx context.Context) error {
	w.mu.Lock()
	op := w.r.IntN(10)
	var id string
	var d migDoc
	method, path := http.MethodPut, ""
	var body any
	switch {
	case op < 3 || len(w.ids) < 100: // add
		id = fmt.Sprintf("new%d", w.next)
		w.next++
		d = migDoc{Rev: 1, V: migVec(w.r, w.dim), Grp: "new"}
		path, body = "/"+w.alias+"/_doc/"+id, d
	case op < 6: // full update
		id = w.ids[w.r.IntN(len(w.ids))]
		d = w.docs[id]
		d.Rev++
		d.V = migVec(w.r, w.dim)
		path, body = "/"+w.alias+"/_doc/"+id, d
	case op < 8: // partial update
		id = w.ids[w.r.IntN(len(w.ids))]
		d = w.docs[id]
		d.Rev++
		method, path, body = http.MethodPost, "/"+w.alias+"/_update/"+id, map[string]any{"doc": map[string]any{"rev": d.Rev}}
	default: // delete
		id = w.ids[w.r.IntN(len(w.ids))]
		method, path = http.MethodDelete, "/"+w.alias+"/_doc/"+id
	}
	w.mu.Unlock()
	for {
		_, err := w.c.Bridge.Do(ctx, method, path, body)
		var e *bridge.Error
		if errors.As(err, &e) && (e.Type == "cluster_block_exception" || e.Status == 429) {
			w.mu.Lock()
			w.blocks++
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("writer %s %s: %w", method, path, err)
		}
		break
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops++
	if method == http.MethodDelete {
		delete(w.docs, id)
		w.gone[id] = true
		for i, x := range w.ids {
			if x == id {
				w.ids[i] = w.ids[len(w.ids)-1]
				w.ids = w.ids[:len(w.ids)-1]
				break
			}
		}
		return nil
	}
	if _, ok := w.docs[id]; !ok {
		w.ids = append(w.ids, id)
	}
	w.docs[id] = d
	delete(w.gone, id)
	return nil
}

func (w *migWriter) opsDone() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ops
}

// migCheckTarget checks that index holds exactly the writer's truth: every
// live id with its last acknowledged rev and vector, no deleted id, and
// nothing else (so nothing duplicated).
func migCheckTarget(t *testing.T, c *Cluster, index string, want map[string]migDoc) {
	t.Helper()
	all := migAll(t, c, index)
	if n := migCount(t, c, index); n != int64(len(want)) || len(all) != len(want) {
		t.Errorf("%s holds %d documents (%d scanned), want exactly %d", index, n, len(all), len(want))
	}
	bad := 0
	for id, d := range want {
		raw, ok := all[id]
		if !ok {
			if bad++; bad <= 5 {
				t.Errorf("document %s missing from %s", id, index)
			}
			continue
		}
		var got migDoc
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if got.Rev != d.Rev || migrate.MaxAbsDiff(got.V, d.V) != 0 || got.Grp != d.Grp || got.Title != d.Title {
			if bad++; bad <= 5 {
				t.Errorf("document %s: got rev %d, want the latest rev %d (or vector/fields differ)", id, got.Rev, d.Rev)
			}
		}
	}
	for id := range all {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("document %s in %s should not exist (deleted, or never written)", id, index)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d documents wrong", bad)
	}
}

func migResolve(t *testing.T, c *Cluster, alias string) string {
	t.Helper()
	idx, err := c.Bridge.ResolveAlias(context.Background(), alias)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// The main scenario of issue 10: lucene l2 m16 -> lucene cosinesimil m32
// ef_construction 256, 20k documents, with a writer adding, updating
// (fully and partially) and deleting through the alias during the
// backfill, the catch-up and the cutover. Afterwards every document is
// there at its latest version, deleted ones are gone, none is duplicated.
func TestMigrateWhileWriting(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	const n, dim = 20000, 8
	src := c.Index(t, "mig-live")
	tgt := c.Index(t, "mig-live-tgt")
	state := c.Index(t, "mig-state")
	alias := src + "-alias"
	docs := migLoad(t, c, src, alias, n, dim, 2, false, 1)

	w := &migWriter{c: c, alias: alias, docs: docs, gone: map[string]bool{}, r: rand.New(rand.NewPCG(7, 7)), dim: dim}
	for id := range docs {
		w.ids = append(w.ids, id)
	}
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() { werr <- w.run(stop) }()

	var backfillOps int
	m := bridge.NewMigrator(c.Bridge, bridge.MigrateOptions{StateIndex: state, PageSize: 250, Senders: 2, Log: t.Logf,
		OnSave: func(st *migrate.State) {
			if st.Phase == migrate.PhaseBackfill {
				backfillOps = w.opsDone()
			}
		}})
	p, err := m.Plan(ctx, bridge.MigrationRequest{Alias: alias, Target: migTargetSpec("", dim, false), TargetName: tgt})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan: %v", p.Summary)
	if p.Mode != migrate.ModeCopy || p.Source != src || p.Target != tgt {
		t.Fatalf("plan %+v", p)
	}
	if _, err := m.Start(ctx, p); err != nil {
		t.Fatal(err)
	}
	st, err := m.Run(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: backfilled %d in %.1fs, copied %d, newer %d, deleted %d, %d catch-up rounds; writer ops during backfill %d, total so far %d",
		st.Backfilled, st.BackfillSeconds, st.Copied, st.Newer, st.Deleted, st.CatchUpRounds, backfillOps, w.opsDone())
	if backfillOps < 20 {
		t.Fatalf("only %d writes happened during the backfill: the test does not exercise concurrency", backfillOps)
	}
	v, err := m.Verify(ctx, alias, bridge.VerifyOptions{Sample: 200, Queries: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verify (live writes): pass=%t counts %d/%d changing=%t sampled %d in-flight %d recall %.3f overlap %.3f problems %v",
		v.Pass, v.SourceCount, v.TargetCount, v.SourceChanging, v.Sampled, v.InFlight, v.Recall, v.Overlap, v.Problems)
	if !v.Pass {
		t.Fatalf("verification failed: %v", v.Problems)
	}
	st, err = m.Cutover(ctx, alias, bridge.CutoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := migResolve(t, c, alias); got != tgt {
		t.Fatalf("after cutover the alias points at %s", got)
	}
	// A few more writes, now landing in the target.
	after := w.opsDone()
	for w.opsDone() < after+30 {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	t.Logf("cutover: source writes blocked %.2fs, writer saw %d blocked attempts; writer ops total %d, %d live ids, %d deleted",
		st.WriteBlockSeconds, w.blocks, w.ops, len(w.docs), len(w.gone))
	if len(w.gone) == 0 {
		t.Fatal("the writer deleted nothing")
	}
	migCheckTarget(t, c, alias, w.docs)

	// Source frozen, target written since: verify still passes and says so.
	v, err = m.Verify(ctx, alias, bridge.VerifyOptions{Sample: 100, Queries: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Pass || !v.TargetWritten {
		t.Fatalf("verify after cutover: pass=%t target_written=%t %v", v.Pass, v.TargetWritten, v.Problems)
	}
	// The source refuses direct writes (stray writers fail loudly).
	if _, err := c.Bridge.Do(ctx, http.MethodPut, "/"+src+"/_doc/stray", map[string]any{"rev": 1}); err == nil {
		t.Fatal("source accepted a write after cutover")
	}
}

func migModelDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KNNBRIDGE_EMBED_MODEL_DIR")
	if dir == "" {
		cache := os.Getenv("KNNBRIDGE_CACHE_DIR")
		if cache == "" {
			cache = filepath.Join("..", ".cache")
		}
		dir = filepath.Join(cache, "models", "all-MiniLM-L6-v2")
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model %s missing under CI (make model fetches it): %v", dir, err)
		}
		t.Skipf("model %s missing (run `make model`): %v", dir, err)
	}
	return dir
}

// Re-embedding migration (8-d "old model" vectors -> 384-d MiniLM from the
// title): every target vector equals the embedder's output for its text.
func TestMigrateReembed(t *testing.T) {
	dir := migModelDir(t)
	c := Start(t)
	ctx := context.Background()
	emb, err := embed.NewLocal(dir, 32, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	src := c.Index(t, "mig-emb")
	tgt := c.Index(t, "mig-emb-tgt")
	state := c.Index(t, "mig-state")
	alias := src + "-alias"
	docs := migLoad(t, c, src, alias, n, 8, 1, true, 2)

	m := bridge.NewMigrator(c.Bridge, bridge.MigrateOptions{StateIndex: state, PageSize: 64, Embedder: emb, Log: t.Logf})
	p, err := m.Plan(ctx, bridge.MigrationRequest{Alias: alias, Target: migTargetSpec("", emb.Dimension(), true), TargetName: tgt, TextField: "title", Reembed: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != migrate.ModeReembed || p.Model != emb.ModelName() {
		t.Fatalf("plan mode %s model %s", p.Mode, p.Model)
	}
	if _, err := m.Start(ctx, p); err != nil {
		t.Fatal(err)
	}
	st, err := m.Run(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Verify(ctx, alias, bridge.VerifyOptions{Sample: 50, Queries: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("re-embed: %d docs in %.1fs (%.1f docs/s); verify pass=%t max diff %.2g recall %.3f overlap %.3f (old vs new model)",
		st.Backfilled, st.BackfillSeconds, bridge.MigrationRate(st), v.Pass, v.MaxVectorDiff, v.Recall, v.Overlap)
	if !v.Pass {
		t.Fatalf("verify: %v", v.Problems)
	}
	if _, err := m.Cutover(ctx, alias, bridge.CutoverOptions{}); err != nil {
		t.Fatal(err)
	}
	all := migAll(t, c, alias)
	if len(all) != n {
		t.Fatalf("target has %d documents, want %d", len(all), n)
	}
	ids := make([]string, 0, n)
	texts := make([]string, 0, n)
	for id, d := range docs {
		ids = append(ids, id)
		texts = append(texts, d.Title)
	}
	want, err := emb.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, id := range ids {
		var got migDoc
		if err := json.Unmarshal(all[id], &got); err != nil {
			t.Fatal(err)
		}
		if got.Title != docs[id].Title || got.Rev != docs[id].Rev || got.Grp != docs[id].Grp {
			t.Fatalf("document %s: other fields changed: %+v", id, got)
		}
		d := migrate.MaxAbsDiff(got.V, want[i])
		worst = max(worst, d)
		// Batches differ between the migration and this call (padding,
		// sort order), which may move the last float bits only.
		if d > 1e-5 {
			t.Fatalf("document %s: target vector differs from the embedder's output by %g", id, d)
		}
	}
	t.Logf("all %d target vectors equal the embedder's output (max |diff| %.2g)", n, worst)
}

// migCLIPath builds the knnbridge binary once.
var migCLIOnce struct {
	sync.Once
	path string
	err  error
}

func migCLI(t *testing.T) string {
	t.Helper()
	migCLIOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knnbridge-mig")
		if err != nil {
			migCLIOnce.err = err
			return
		}
		migCLIOnce.path = filepath.Join(dir, "knnbridge")
		if out, err := exec.Command("go", "build", "-o", migCLIOnce.path, "../cmd/knnbridge").CombinedOutput(); err != nil {
			migCLIOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if migCLIOnce.err != nil {
		t.Fatal(migCLIOnce.err)
	}
	return migCLIOnce.path
}

func migState(t *testing.T, c *Cluster, stateIndex, alias string) *migrate.State {
	t.Helper()
	var doc struct {
		Source migrate.State `json:"_source"`
	}
	err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/"+stateIndex+"/_doc/"+url.PathEscape(alias), nil, &doc)
	if bridge.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &doc.Source
}

// SIGKILL the CLI mid-backfill, resume, verify: the target equals the
// source exactly (same ids, byte-identical _source).
func TestMigrateKillAndResume(t *testing.T) {
	c := Start(t)
	const n, dim = 8000, 8
	src := c.Index(t, "mig-kill")
	tgt := c.Index(t, "mig-kill-tgt")
	state := c.Index(t, "mig-state")
	alias := src + "-alias"
	migLoad(t, c, src, alias, n, dim, 2, false, 3)
	specPath := filepath.Join(t.TempDir(), "target.json")
	sb, _ := json.Marshal(migTargetSpec("", dim, false))
	if err := os.WriteFile(specPath, sb, 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--opensearch-url", c.URL, "--alias", alias, "--state-index", state}
	cmd := exec.Command(migCLI(t), append([]string{"migrate", "run", "--target-spec", specPath, "--target-index", tgt, "--page-size", "100", "--senders", "1"}, common...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := migState(t, c, state, alias)
		if st != nil && st.Backfilled >= 2000 {
			if st.Phase != migrate.PhaseBackfill {
				t.Fatalf("backfill finished before the kill (phase %s); make the source larger", st.Phase)
			}
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := migState(t, c, state, alias)
	t.Logf("killed in phase %s at %d/%d backfilled (target holds %d)", killed.Phase, killed.Backfilled, killed.Total, migCount(t, c, tgt))
	if killed.Phase != migrate.PhaseBackfill {
		t.Fatalf("phase after kill %s", killed.Phase)
	}
	res, err := exec.Command(migCLI(t), append([]string{"migrate", "run", "--resume", "-o", "json"}, common...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, res)
	}
	st := migState(t, c, state, alias)
	t.Logf("resumed: phase %s, runs %d, copied %d, already-newer %d (pages re-sent after the kill)", st.Phase, st.Runs, st.Copied, st.Newer)
	if st.Phase != migrate.PhaseReady || st.Runs != 2 || st.Backfilled < n {
		t.Fatalf("state after resume: phase %s runs %d backfilled %d", st.Phase, st.Runs, st.Backfilled)
	}
	vout, err := exec.Command(migCLI(t), append([]string{"migrate", "verify", "--sample", "300", "--queries", "20"}, common...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, vout)
	}
	t.Logf("verify:\n%s", vout)
	a, b := migAll(t, c, src), migAll(t, c, tgt)
	if len(a) != n || len(b) != n {
		t.Fatalf("source %d, target %d documents, want %d each", len(a), len(b), n)
	}
	for id, s := range a {
		if !bytes.Equal(s, b[id]) {
			t.Fatalf("document %s differs:\nsource %s\ntarget %s", id, s, b[id])
		}
	}
	if st := migState(t, c, state, alias); st.Verification == nil || !st.Verification.Pass {
		t.Fatal("verification not kept with the state")
	}
	// `migrate list` (no --alias) shows it, ready, with the documents done.
	lout, err := exec.Command(migCLI(t), "migrate", "list", "-o", "json", "--opensearch-url", c.URL, "--state-index", state).CombinedOutput()
	if err != nil {
		t.Fatalf("list: %v\n%s", err, lout)
	}
	var listed struct {
		Migrations []struct {
			State    migrate.State `json:"state"`
			Progress struct {
				Done int64 `json:"done"`
			} `json:"progress"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal(lout, &listed); err != nil {
		t.Fatalf("list output: %v\n%s", err, lout)
	}
	if len(listed.Migrations) != 1 || listed.Migrations[0].State.ID != alias || listed.Migrations[0].State.Phase != migrate.PhaseReady || listed.Migrations[0].Progress.Done != int64(n) {
		t.Fatalf("migrate list: %s", lout)
	}
}

// Rollback after cutover: reads go to the source again, and writes the
// target took in between are there too.
func TestMigrateRollback(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	const n, dim = 500, 8
	src := c.Index(t, "mig-rb")
	tgt := c.Index(t, "mig-rb-tgt")
	state := c.Index(t, "mig-state")
	alias := src + "-alias"
	docs := migLoad(t, c, src, alias, n, dim, 1, false, 4)
	m := bridge.NewMigrator(c.Bridge, bridge.MigrateOptions{StateIndex: state, Log: t.Logf})
	p, err := m.Plan(ctx, bridge.MigrationRequest{Alias: alias, Target: migTargetSpec("", dim, false), TargetName: tgt})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, p); err != nil {
		t.Fatal(err)
	}
	// A second migration of the same alias is refused while this one is active.
	if _, err := m.Start(ctx, p); err == nil {
		t.Fatal("second concurrent migration of one alias accepted")
	}
	if _, err := m.Cutover(ctx, alias, bridge.CutoverOptions{Force: true}); err == nil {
		t.Fatal("cutover before run accepted")
	}
	if _, err := m.Run(ctx, alias); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Cutover(ctx, alias, bridge.CutoverOptions{}); err == nil {
		t.Fatal("cutover without verification accepted")
	}
	if v, err := m.Verify(ctx, alias, bridge.VerifyOptions{}); err != nil || !v.Pass {
		t.Fatalf("verify: %v %+v", err, v)
	}
	if _, err := m.Cutover(ctx, alias, bridge.CutoverOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := migResolve(t, c, alias); got != tgt {
		t.Fatalf("alias on %s after cutover", got)
	}
	// Writes through the alias now land in the target.
	nv := migDoc{Rev: 1, V: []float32{1, 2, 3, 4, 5, 6, 7, 8}, Grp: "after"}
	upd := docs["d1"]
	upd.Rev = 5
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "/" + alias + "/_doc/fresh", nv},
		{http.MethodPut, "/" + alias + "/_doc/d1", upd},
		{http.MethodDelete, "/" + alias + "/_doc/d2", nil},
	} {
		if _, err := c.Bridge.Do(ctx, w.method, w.path, w.body); err != nil {
			t.Fatal(err)
		}
	}
	docs["fresh"], docs["d1"] = nv, upd
	delete(docs, "d2")
	st, err := m.Rollback(ctx, alias, bridge.RollbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollback: %s", st.History[len(st.History)-1].Note)
	if got := migResolve(t, c, alias); got != src {
		t.Fatalf("alias on %s after rollback, want the source %s", got, src)
	}
	// Reads through the alias come from the source, with the target's writes.
	var res struct {
		Hits struct {
			Hits []struct {
				Index string `json:"_index"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Bridge.DoJSON(ctx, http.MethodPost, "/"+alias+"/_search", map[string]any{"size": 5, "query": map[string]any{"knn": map[string]any{"v": map[string]any{"vector": nv.V, "k": 5}}}}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hits.Hits) == 0 || res.Hits.Hits[0].Index != src {
		t.Fatalf("k-NN read through the alias: %+v, want hits from %s", res.Hits.Hits, src)
	}
	migCheckTarget(t, c, alias, docs)
	// The source takes writes again.
	if _, err := c.Bridge.Do(ctx, http.MethodPut, "/"+alias+"/_doc/again", nv); err != nil {
		t.Fatalf("source not writable after rollback: %v", err)
	}
	// cleanup deletes the unused target and only it.
	st, victim, err := m.Cleanup(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	if victim != tgt || st.Phase != migrate.PhaseCleanedUp {
		t.Fatalf("cleanup deleted %s, phase %s", victim, st.Phase)
	}
	if _, err := c.Bridge.Do(ctx, http.MethodHead, "/"+tgt, nil); !bridge.IsNotFound(err) {
		t.Fatalf("target still exists: %v", err)
	}
	if migCount(t, c, alias) != int64(len(docs)+1) {
		t.Fatal("source lost documents")
	}
}
