package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCluster is an httptest bulk endpoint that stores documents by _id and
// injects the failures a real cluster produces under load. It exists only to
// inject faults; the real cluster is exercised in integration/ingest_test.go.
type fakeCluster struct {
	mu        sync.Mutex
	docs      map[string]json.RawMessage
	requests  atomic.Int64
	rng       *rand.Rand
	item429   float64 // fraction of items answered 429 es_rejected_execution_exception
	item503   float64
	whole429  float64 // fraction of requests answered 429 as a whole
	whole502  float64
	slow      float64 // fraction of requests that are applied but answered too late
	slowDelay time.Duration
	failAfter int64 // from this request on, answer 503 forever (0 = never)
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{docs: map[string]json.RawMessage{}, rng: rand.New(rand.NewPCG(1, 2))}
}

func (f *fakeCluster) chance(p float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	if f.failAfter > 0 && n >= f.failAfter {
		w.WriteHeader(503)
		return
	}
	if f.chance(f.whole429) {
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429}`)
		return
	}
	if f.chance(f.whole502) {
		w.WriteHeader(502)
		return
	}
	slow := f.chance(f.slow)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	var items []string
	errs := false
	for sc.Scan() {
		var action struct {
			Index struct {
				ID string `json:"_id"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || action.Index.ID == "" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"type":"parse_exception","reason":"bad action line %q"}}`, sc.Text())
			return
		}
		if !sc.Scan() || !json.Valid(sc.Bytes()) {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"type":"parse_exception","reason":"bad source"}}`)
			return
		}
		src := append(json.RawMessage(nil), sc.Bytes()...)
		id := action.Index.ID
		switch {
		case bytes.Contains(src, []byte(`"poison"`)):
			errs = true
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [tag]","caused_by":{"type":"illegal_argument_exception","reason":"poison"}}}}`, id))
		case f.chance(f.item429):
			errs = true
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}}`, id))
		case f.chance(f.item503):
			errs = true
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}`, id))
		default:
			f.mu.Lock()
			f.docs[id] = src
			f.mu.Unlock()
			items = append(items, fmt.Sprintf(`{"index":{"_id":%q,"status":201,"result":"created"}}`, id))
		}
	}
	if slow {
		time.Sleep(f.slowDelay)
	}
	fmt.Fprintf(w, `{"took":1,"errors":%t,"items":[%s]}`, errs, strings.Join(items, ","))
}

func (f *fakeCluster) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs)
}

// httpSink posts to the fake cluster with a client timeout, like bridge's
// sink does against the real one.
func httpSink(url string, timeout time.Duration) Sink {
	c := &http.Client{Timeout: timeout}
	return SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/idx/_bulk", bytes.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return b, resp.StatusCode, err
	})
}

func jsonlInput(n int, poison map[int]bool, malformed map[int]bool) string {
	var b strings.Builder
	for i := range n {
		switch {
		case malformed[i]:
			fmt.Fprintf(&b, "{\"id\":\"d%d\",\"vector\":[1,2\n", i)
		case poison[i]:
			fmt.Fprintf(&b, `{"id":"d%d","vector":[%d,1,2],"tag":"poison"}`+"\n", i, i)
		default:
			fmt.Fprintf(&b, `{"id":"d%d","vector":[%d,1.5,-2e-3]}`+"\n", i, i)
		}
	}
	return b.String()
}

var fastRetry = RetryPolicy{MaxAttempts: 50, Base: time.Millisecond, Max: 20 * time.Millisecond}

func TestLoadWithFaults(t *testing.T) {
	fc := newFakeCluster()
	fc.item429, fc.item503, fc.whole429, fc.whole502 = 0.2, 0.05, 0.1, 0.05
	fc.slow, fc.slowDelay = 0.05, 300*time.Millisecond
	srv := httptest.NewServer(fc)
	defer srv.Close()
	const n = 3000
	poison := map[int]bool{17: true, 1234: true, 2999: true}
	bad := map[int]bool{500: true, 501: true}
	var rejected []Rejection
	var retried atomic.Int64
	rep, err := Run(context.Background(), Config{
		Reader:       NewJSONLReader(strings.NewReader(jsonlInput(n, poison, bad)), Options{}),
		Sink:         httpSink(srv.URL, 100*time.Millisecond),
		Checks:       Checks{Dimension: 3},
		MaxBatchDocs: 50, Senders: 4, Retry: fastRetry,
		OnReject: func(r Rejection) { rejected = append(rejected, r) },
		OnRetry:  func(n int, _ string) { retried.Add(int64(n)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ck := rep.Checkpoint
	if ck.Read != n || ck.Accepted != n-5 || ck.Rejected != 5 || !ck.Done {
		t.Fatalf("accounting: %+v", ck)
	}
	if got := fc.count(); got != n-5 {
		t.Fatalf("cluster holds %d docs, want %d", got, n-5)
	}
	if retried.Load() == 0 {
		t.Fatal("no retries happened: the fault injection did not work")
	}
	// Rejections arrive in input order with ids, positions and reasons.
	want := []string{"d17 index mapper_parsing_exception", "line 501 read", "line 502 read", "d1234 index", "d2999 index"}
	if len(rejected) != len(want) {
		t.Fatalf("rejections: %+v", rejected)
	}
	for i, r := range rejected {
		s := fmt.Sprintf("%s line %d %s %s", r.ID, r.Pos.Line, r.Stage, r.Reason)
		if r.Stage == "read" {
			s = fmt.Sprintf("line %d read", r.Pos.Line)
		}
		for _, w := range strings.Fields(want[i]) {
			if !strings.Contains(s, w) {
				t.Fatalf("rejection %d = %q, want %q", i, s, want[i])
			}
		}
	}
	if !strings.Contains(rejected[0].Reason, "poison") {
		t.Fatalf("reason lacks caused_by: %q", rejected[0].Reason)
	}
}

// A 4xx item is never sent again; a 429 item is, until accepted.
func TestItemRetryClassification(t *testing.T) {
	var sent []string
	calls := 0
	sink := SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		calls++
		sent = append(sent, string(body))
		if calls == 1 {
			return []byte(`{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}},{"index":{"status":500,"error":{"type":"x","reason":"y"}}}]}`), 200, nil
		}
		return []byte(`{"errors":false,"items":[{"index":{"status":200}},{"index":{"status":201}}]}`), 200, nil
	})
	in := jsonlInput(4, nil, nil)
	rep, err := Run(context.Background(), Config{Reader: NewJSONLReader(strings.NewReader(in), Options{}), Sink: sink, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || strings.Count(sent[1], `"_id"`) != 2 || !strings.Contains(sent[1], `"d1"`) || !strings.Contains(sent[1], `"d3"`) {
		t.Fatalf("calls %d, second body %q", calls, sent[1])
	}
	if rep.Checkpoint.Accepted != 3 || rep.Checkpoint.Rejected != 1 || rep.Rejections[0].ID != "d2" {
		t.Fatalf("%+v", rep)
	}
}

func TestGiveUpAndWholeRequestErrors(t *testing.T) {
	fc := newFakeCluster()
	fc.failAfter = 3
	srv := httptest.NewServer(fc)
	defer srv.Close()
	dir := t.TempDir()
	ckPath := filepath.Join(dir, "ck.json")
	_, err := Run(context.Background(), Config{
		Reader: NewJSONLReader(strings.NewReader(jsonlInput(500, nil, nil)), Options{}),
		Sink:   httpSink(srv.URL, time.Second), MaxBatchDocs: 100, Senders: 1,
		Retry: RetryPolicy{MaxAttempts: 3, Base: time.Millisecond, Max: time.Millisecond},
		Save:  func(c Checkpoint) error { return c.Save(ckPath) },
	})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("want ErrGaveUp naming HTTP 503, got %v", err)
	}
	ck, _ := LoadCheckpoint(ckPath)
	if ck == nil || ck.Read != 200 || ck.Accepted != 200 || ck.Next.Line != 201 || ck.Done {
		t.Fatalf("checkpoint after give-up: %+v", ck)
	}
	// A refused request (missing index) is not retried.
	calls := 0
	_, err = Run(context.Background(), Config{
		Reader: NewJSONLReader(strings.NewReader(jsonlInput(5, nil, nil)), Options{}),
		Sink: SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
			calls++
			return []byte(`{"error":{"type":"index_not_found_exception"}}`), 404, nil
		}), Retry: fastRetry,
	})
	if calls != 1 || err == nil || !strings.Contains(err.Error(), "index_not_found_exception") {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

// Interrupt a load at random points, resume from the saved checkpoint each
// time: the cluster ends with every document exactly once and the counters
// add up.
func TestInterruptAndResume(t *testing.T) {
	fc := newFakeCluster()
	fc.item429 = 0.1
	srv := httptest.NewServer(fc)
	defer srv.Close()
	const n = 5000
	in := jsonlInput(n, map[int]bool{4321: true}, map[int]bool{10: true})
	ckPath := filepath.Join(t.TempDir(), "ck.json")
	src := strings.NewReader(in) // strings.Reader is an io.Seeker: resumable
	var rejected []Rejection
	for round := 0; ; round++ {
		ck, err := LoadCheckpoint(ckPath)
		if err != nil {
			t.Fatal(err)
		}
		src.Seek(0, io.SeekStart)
		ctx, cancel := context.WithCancel(context.Background())
		if round < 5 {
			// Cancel once a few more batches are acknowledged.
			go func(start int64) {
				for fc.requests.Load() < start+8 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}(fc.requests.Load())
		}
		rep, err := Run(ctx, Config{
			Reader: NewJSONLReader(src, Options{}), Sink: httpSink(srv.URL, time.Second),
			MaxBatchDocs: 37, Senders: 3, Retry: fastRetry, Start: ck, CheckpointEvery: time.Nanosecond,
			Save:     func(c Checkpoint) error { return c.Save(ckPath) },
			OnReject: func(r Rejection) { rejected = append(rejected, r) },
		})
		cancel()
		if err == nil {
			if rep.Checkpoint.Read != n || rep.Checkpoint.Accepted != n-2 || rep.Checkpoint.Rejected != 2 {
				t.Fatalf("final accounting %+v", rep.Checkpoint)
			}
			if round < 3 {
				t.Fatalf("only %d interruptions happened", round)
			}
			t.Logf("finished after %d interrupted runs, %d requests", round, fc.requests.Load())
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if round > 50 {
			t.Fatal("never finished")
		}
	}
	if fc.count() != n-2 {
		t.Fatalf("cluster has %d docs, want %d", fc.count(), n-2)
	}
	for i := range n {
		if _, ok := fc.docs[fmt.Sprintf("d%d", i)]; ok == (i == 10 || i == 4321) {
			t.Fatalf("doc d%d presence wrong", i)
		}
	}
	if len(rejected) != 2 {
		t.Fatalf("rejections reported %d times: %+v", len(rejected), rejected)
	}
}

func TestPolicyAbortAndEmbedding(t *testing.T) {
	fc := newFakeCluster()
	srv := httptest.NewServer(fc)
	defer srv.Close()
	in := `{"id":"a","vector":[1,2,3]}
{"id":"b","text":"embed me"}
{"id":"c","vector":[0,0,0]}
{"id":"d","text":"me too","vector":null}
`
	_, err := Run(context.Background(), Config{
		Reader: NewJSONLReader(strings.NewReader(in), Options{}), Sink: httpSink(srv.URL, time.Second),
		Embedder: fakeEmbedder{}, Checks: Checks{Dimension: 3, SpaceType: "cosinesimil"}, OnBad: Abort,
	})
	if err == nil || !strings.Contains(err.Error(), `"c"`) || !strings.Contains(err.Error(), "zero vector") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("abort: %v", err)
	}
	rep, err := Run(context.Background(), Config{
		Reader: NewJSONLReader(strings.NewReader(in), Options{}), Sink: httpSink(srv.URL, time.Second),
		Embedder: fakeEmbedder{}, Checks: Checks{Dimension: 3, SpaceType: "cosinesimil"},
	})
	if err != nil || rep.Checkpoint.Accepted != 3 || rep.Checkpoint.Rejected != 1 {
		t.Fatalf("%v %+v", err, rep.Checkpoint)
	}
	var d struct {
		Vector []float32 `json:"vector"`
		Text   string    `json:"text"`
	}
	json.Unmarshal(fc.docs["d"], &d)
	if len(d.Vector) != 3 || d.Vector[0] != 6 || d.Text != "me too" {
		t.Fatalf("embedded doc %s", fc.docs["d"])
	}
}

type fakeEmbedder struct{}

func (fakeEmbedder) Dimension() int { return 3 }
func (fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), 1, 0}
	}
	return out, nil
}
