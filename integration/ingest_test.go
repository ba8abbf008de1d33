//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/ingest"
)

// Small dimensions keep the cluster's HNSW work (and so the test time on a
// 2-core machine) low; the loader's paths do not depend on the dimension.
const ingestDim = 8

func ingestCreateIndex(t *testing.T, c *Cluster, name string, extraSettings map[string]any, extraProps map[string]any) {
	t.Helper()
	settings := map[string]any{"index.knn": true, "number_of_shards": 1, "number_of_replicas": 0}
	for k, v := range extraSettings {
		settings[k] = v
	}
	props := map[string]any{"vector": map[string]any{"type": "knn_vector", "dimension": ingestDim,
		"method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": "l2"}}}
	for k, v := range extraProps {
		props[k] = v
	}
	body := map[string]any{"settings": settings, "mappings": map[string]any{"properties": props}}
	if _, err := c.Bridge.Do(context.Background(), http.MethodPut, "/"+name, body); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func ingestWriteFvecs(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(seed, 1))
	var b [4]byte
	for range n {
		binary.LittleEndian.PutUint32(b[:], ingestDim)
		w.Write(b[:])
		for range ingestDim {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(rng.NormFloat64())))
			w.Write(b[:])
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func ingestCount(t *testing.T, c *Cluster, index string) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/"+index+"/_refresh", nil); err != nil {
		t.Fatal(err)
	}
	var r struct{ Count int64 }
	if err := c.Bridge.DoJSON(ctx, http.MethodGet, "/"+index+"/_count", nil, &r); err != nil {
		t.Fatal(err)
	}
	return r.Count
}

func ingestSettings(t *testing.T, c *Cluster, index string) map[string]string {
	t.Helper()
	s, err := c.Bridge.LoadSettings(context.Background(), index)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// 50k vectors loaded with the defaults, counted exactly, settings restored,
// and vectors stored bit-exactly.
func TestIngestLoad50k(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "ingest-50k")
	ingestCreateIndex(t, c, idx, map[string]any{"number_of_replicas": 1, "refresh_interval": "7s"}, nil)
	path := filepath.Join(t.TempDir(), "v.fvecs")
	const n = 50000
	ingestWriteFvecs(t, path, n, 1)
	rep, err := c.Bridge.Load(context.Background(), bridge.LoadOptions{Input: path, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("50k: %.0f docs/s, %d senders, %d retried", rep.DocsPerSec, rep.Senders, rep.Retried)
	if rep.Read != n || rep.Accepted != n || rep.Rejected != 0 || rep.IndexCount != n {
		t.Fatalf("report %+v", rep)
	}
	if got := ingestCount(t, c, idx); got != n {
		t.Fatalf("index count %d, want %d", got, n)
	}
	// The index was empty, so auto tuning applied (replicas 0 for lucene) and was undone.
	if !rep.Tuned || !rep.Restored {
		t.Fatalf("tuned %t restored %t", rep.Tuned, rep.Restored)
	}
	s := ingestSettings(t, c, idx)
	if s["index.refresh_interval"] != "7s" || s["index.number_of_replicas"] != "1" {
		t.Fatalf("settings not restored: %v", s)
	}
	// Bit-exact storage: fetch a document by its content id and compare.
	r, _ := ingest.Open(path, "", ingest.Options{})
	defer r.Close()
	var rec ingest.Record
	for range 1234 {
		rec, _ = r.Next()
	}
	var doc struct {
		Source struct {
			Vector []float64 `json:"vector"`
		} `json:"_source"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/"+idx+"/_doc/"+ingest.DocID(&rec), nil, &doc); err != nil {
		t.Fatal(err)
	}
	for i, x := range rec.Vector {
		if float32(doc.Source.Vector[i]) != x {
			t.Fatalf("component %d stored as %v, input %v", i, doc.Source.Vector[i], x)
		}
	}
}

func ingestWriteQueue(t *testing.T, c *Cluster) int {
	var r map[string]any
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/_cluster/settings?include_defaults=true&flat_settings=true", nil, &r); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"persistent", "transient", "defaults"} {
		if m, ok := r[part].(map[string]any); ok {
			if v, ok := m["thread_pool.write.queue_size"]; ok {
				n, _ := strconv.Atoi(fmt.Sprint(v))
				return n
			}
		}
	}
	t.Fatal("no thread_pool.write.queue_size in cluster settings")
	return 0
}

func ingestWriteRejected(t *testing.T, c *Cluster) int64 {
	var r struct {
		Nodes map[string]struct {
			ThreadPool map[string]struct {
				Rejected int64 `json:"rejected"`
			} `json:"thread_pool"`
		} `json:"nodes"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/_nodes/stats/thread_pool", nil, &r); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, node := range r.Nodes {
		n += node.ThreadPool["write"].Rejected
	}
	return n
}

// Many concurrent senders with tiny batches overflow a small write queue:
// the cluster really answers 429 (its rejected counter moves), the loader
// retries, and not one document is lost.
func TestIngest429sLoseNothing(t *testing.T) {
	c := Start(t)
	if q := ingestWriteQueue(t, c); q > 64 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("thread_pool.write.queue_size is %d: under CI the node must be provisioned with a small write queue "+
				"(the Makefile passes KNNBRIDGE_OPENSEARCH_WRITE_QUEUE=$(TEST_WRITE_QUEUE) to compose/local.sh)", q)
		}
		t.Skipf("thread_pool.write.queue_size is %d: this test needs a small write queue to provoke 429s "+
			"(start the node with KNNBRIDGE_OPENSEARCH_WRITE_QUEUE=8; `make test` does when it provisions the node)", q)
	}
	idx := c.Index(t, "ingest-429")
	ingestCreateIndex(t, c, idx, nil, nil)
	path := filepath.Join(t.TempDir(), "v.fvecs")
	const n = 5000
	ingestWriteFvecs(t, path, n, 2)
	before := ingestWriteRejected(t, c)
	var mu sync.Mutex
	whys := map[string]int{}
	rep, err := c.Bridge.Load(context.Background(), bridge.LoadOptions{
		Input: path, Index: idx, Senders: 32, MaxBatchDocs: 4,
		Retry: ingest.RetryPolicy{MaxAttempts: 100, Base: 20 * time.Millisecond, Max: time.Second},
		OnRetry: func(n int, why string) {
			mu.Lock()
			whys[strings.SplitN(why, ":", 3)[1]]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	after := ingestWriteRejected(t, c)
	t.Logf("write pool rejections %d, items retried %d, retry reasons %v", after-before, rep.Retried, whys)
	if after == before || rep.Retried == 0 {
		t.Fatalf("no 429s happened (node rejections %d, retried %d): the test did not test anything", after-before, rep.Retried)
	}
	if rep.Accepted != n || rep.IndexCount != n || ingestCount(t, c, idx) != n {
		t.Fatalf("lost documents: %+v", rep)
	}
}

// buildCLI builds the knnbridge binary once per test binary.
var cliOnce struct {
	sync.Once
	path string
	err  error
}

func ingestCLI(t *testing.T) string {
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knnbridge-cli")
		if err != nil {
			cliOnce.err = err
			return
		}
		cliOnce.path = filepath.Join(dir, "knnbridge")
		out, err := exec.Command("go", "build", "-o", cliOnce.path, "../cmd/knnbridge").CombinedOutput()
		if err != nil {
			cliOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cliOnce.err != nil {
		t.Fatal(cliOnce.err)
	}
	return cliOnce.path
}

// startLoad runs `knnbridge load` and returns once the checkpoint shows at
// least minAccepted documents acknowledged.
func ingestStartLoad(t *testing.T, c *Cluster, args []string, ckPath string, minAccepted int64) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(ingestCLI(t), append([]string{"load", "--opensearch-url", c.URL, "--progress", "off"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ck, _ := ingest.LoadCheckpoint(ckPath); ck != nil && ck.Accepted >= minAccepted {
			if ck.Done {
				t.Fatalf("load finished before it could be interrupted (accepted %d); make the input larger", ck.Accepted)
			}
			return cmd, &out
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no progress: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGKILL mid-load, then --resume: exact count, no duplicates, settings
// restored by the resumed run (the killed one could not).
func TestIngestKillAndResume(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "ingest-kill")
	ingestCreateIndex(t, c, idx, map[string]any{"refresh_interval": "3s"}, nil)
	dir := t.TempDir()
	path, ckPath := filepath.Join(dir, "v.fvecs"), filepath.Join(dir, "ck.json")
	const n = 12000
	ingestWriteFvecs(t, path, n, 3)
	args := []string{path, "--index", idx, "--checkpoint", ckPath, "--senders", "2", "--batch-docs", "500", "--tune", "on"}
	cmd, out := ingestStartLoad(t, c, args, ckPath, 3000)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	ck, _ := ingest.LoadCheckpoint(ckPath)
	t.Logf("killed at checkpoint %s, accepted %d", ck.Next, ck.Accepted)
	if s := ingestSettings(t, c, idx); s["index.refresh_interval"] != "-1" {
		t.Fatalf("killed load should have left refresh -1 (got %v); log:\n%s", s, out)
	}
	res := exec.Command(ingestCLI(t), append([]string{"load", "--opensearch-url", c.URL, "--progress", "off", "--resume", "-o", "json"}, args...)...)
	b, err := res.CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	if got := ingestCount(t, c, idx); got != n {
		t.Fatalf("after resume the index holds %d documents, want exactly %d\n%s", got, n, b)
	}
	ck, _ = ingest.LoadCheckpoint(ckPath)
	if !ck.Done || ck.Read != n || ck.Accepted != n || ck.Settings != nil {
		t.Fatalf("final checkpoint %+v", ck)
	}
	if s := ingestSettings(t, c, idx); s["index.refresh_interval"] != "3s" || s["index.number_of_replicas"] != "0" {
		t.Fatalf("settings after resume: %v", s)
	}
}

// Ctrl-C (SIGINT) mid-load: the process restores the original settings
// before it exits, and says how to resume.
func TestIngestInterruptRestoresSettings(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "ingest-int")
	ingestCreateIndex(t, c, idx, map[string]any{"refresh_interval": "2s", "number_of_replicas": 1}, nil)
	dir := t.TempDir()
	path, ckPath := filepath.Join(dir, "v.fvecs"), filepath.Join(dir, "ck.json")
	ingestWriteFvecs(t, path, 30000, 4)
	cmd, out := ingestStartLoad(t, c, []string{path, "--index", idx, "--checkpoint", ckPath, "--senders", "1", "--batch-docs", "300", "--tune", "on"}, ckPath, 600)
	if s := ingestSettings(t, c, idx); s["index.refresh_interval"] != "-1" || s["index.number_of_replicas"] != "0" {
		t.Fatalf("not tuned during the load: %v", s)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "--resume") {
		t.Fatalf("interrupted load: err %v, output:\n%s", err, out)
	}
	if s := ingestSettings(t, c, idx); s["index.refresh_interval"] != "2s" || s["index.number_of_replicas"] != "1" {
		t.Fatalf("settings not restored after interrupt: %v\n%s", s, out)
	}
}

// Malformed records in the middle of a JSONL file are reported with their
// line and byte offset, a document the cluster refuses (mapping error) with
// its id and reason, and every other record is indexed.
func TestIngestMalformedRecords(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "ingest-bad")
	ingestCreateIndex(t, c, idx, nil, map[string]any{"n": map[string]any{"type": "integer"}})
	var b bytes.Buffer
	const n = 2000
	lineOff := map[int]int{}
	for i := range n {
		lineOff[i+1] = b.Len()
		switch i {
		case 500:
			b.WriteString(`{"id":"d500","vector":[1,2,3` + "\n") // truncated JSON
		case 900:
			b.WriteString(`{"id":"d900","vector":[1,2,3]}` + "\n") // wrong dimension
		case 1300:
			b.WriteString(`{"id":"d1300","vector":[0,0,0,0,0,0,0,0],"n":"not a number"}` + "\n") // mapping error
		default:
			v := make([]float32, ingestDim)
			for j := range v {
				v[j] = float32(i) + float32(j)/10
			}
			fmt.Fprintf(&b, `{"id":"d%d","vector":%s,"n":%d,"text":"doc %d"}`+"\n", i, ingest.AppendVector(nil, v), i, i)
		}
	}
	path := filepath.Join(t.TempDir(), "docs.jsonl")
	os.WriteFile(path, b.Bytes(), 0o644)
	var rejs []ingest.Rejection
	rep, err := c.Bridge.Load(context.Background(), bridge.LoadOptions{Input: path, Index: idx,
		OnReject: func(r ingest.Rejection) { rejs = append(rejs, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != n || rep.Accepted != n-3 || rep.Rejected != 3 || ingestCount(t, c, idx) != n-3 {
		t.Fatalf("report %+v", rep)
	}
	want := []struct {
		line  int
		stage string
		id    string
		text  string
	}{{501, "read", "", "unexpected end of JSON input"}, {901, "check", "d900", "dimension 3, index expects 8"}, {1301, "index", "d1300", "mapper_parsing_exception"}}
	if len(rejs) != len(want) {
		t.Fatalf("rejections %+v", rejs)
	}
	for i, w := range want {
		r := rejs[i]
		if r.Pos.Line != int64(w.line) || r.Pos.Offset != int64(lineOff[w.line]) || r.Pos.Record != int64(w.line-1) ||
			r.Stage != w.stage || r.ID != w.id || !strings.Contains(r.Reason, w.text) {
			t.Errorf("rejection %d = %+v, want line %d offset %d stage %s id %q reason ~ %q", i, r, w.line, lineOff[w.line], w.stage, w.id, w.text)
		}
	}
	// Loading the same file again overwrites (same ids): no duplicates, and
	// the count check still holds.
	rep2, err := c.Bridge.Load(context.Background(), bridge.LoadOptions{Input: path, Index: idx})
	if err != nil || rep2.Accepted != n-3 || rep2.IndexCount != n-3 {
		t.Fatalf("reload: %v %+v", err, rep2)
	}
	var doc struct {
		Source map[string]any `json:"_source"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/"+idx+"/_doc/d1999", nil, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Source["text"] != "doc 1999" || doc.Source["n"] != 1999.0 {
		t.Fatalf("doc d1999: %v", doc.Source)
	}
	_ = json.Valid
}

func ingestSegments(t *testing.T, c *Cluster, index string) int64 {
	t.Helper()
	var st struct {
		All struct {
			Primaries struct {
				Segments struct{ Count int64 } `json:"segments"`
			} `json:"primaries"`
		} `json:"_all"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/"+index+"/_stats/segments", nil, &st); err != nil {
		t.Fatal(err)
	}
	return st.All.Primaries.Segments.Count
}

// --force-merge and --warmup at the end of a load, lucene engine (the only
// one whose fields may hold documents on this cluster): the merge really
// leaves one segment, every document is still there and searchable, and the
// warm-up answers for every shard (lucene has no native graphs to load, so
// the k-NN plugin reports success without caching anything).
func TestIngestForceMergeAndWarmup(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "ingest-merge")
	ingestCreateIndex(t, c, idx, nil, nil)
	dir := t.TempDir()
	ctx := context.Background()
	const n = 2000
	var total int64
	for i, name := range []string{"a.fvecs", "b.fvecs"} {
		path := filepath.Join(dir, name)
		ingestWriteFvecs(t, path, n, uint64(10+i))
		rep, err := c.Bridge.Load(ctx, bridge.LoadOptions{Input: path, Index: idx, MaxBatchDocs: 100})
		if err != nil {
			t.Fatal(err)
		}
		total += rep.Accepted
		if rep.Segments != 0 || rep.WarmedShards != 0 {
			t.Fatalf("no merge or warm-up asked for, report says segments %d warmed %d", rep.Segments, rep.WarmedShards)
		}
	}
	// Two loads, each ending with a refresh: at least two segments, which
	// the tiered merge policy leaves alone (it waits for ten per tier).
	if s := ingestSegments(t, c, idx); s < 2 {
		t.Fatalf("precondition: %d segment(s) before the force-merge, want several", s)
	}
	path := filepath.Join(dir, "c.fvecs")
	ingestWriteFvecs(t, path, n, 12)
	rep, err := c.Bridge.Load(ctx, bridge.LoadOptions{Input: path, Index: idx, MaxBatchDocs: 100, ForceMerge: 1, Warmup: true})
	if err != nil {
		t.Fatal(err)
	}
	total += rep.Accepted
	if rep.Segments != 1 {
		t.Fatalf("report: %d segments after force-merge to 1", rep.Segments)
	}
	if s := ingestSegments(t, c, idx); s != 1 {
		t.Fatalf("index has %d segments after force-merge to 1", s)
	}
	if rep.WarmedShards != 1 {
		t.Fatalf("warm-up: %d shards warmed, want 1 (one primary, no replicas)", rep.WarmedShards)
	}
	if got := ingestCount(t, c, idx); got != 3*n || total != 3*n {
		t.Fatalf("count %d, accepted %d, want %d", got, total, 3*n)
	}
	// Still searchable after the merge: the nearest neighbour of a stored
	// vector is itself.
	r, err := ingest.Open(path, "", ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"size": 1, "query": map[string]any{"knn": map[string]any{"vector": map[string]any{"vector": rec.Vector, "k": 1}}}}
	var res struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Bridge.DoJSON(ctx, http.MethodPost, "/"+idx+"/_search", q, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != ingest.DocID(&rec) {
		t.Fatalf("nearest neighbour of record 0 of c.fvecs: %+v, want %s", res.Hits.Hits, ingest.DocID(&rec))
	}
}
