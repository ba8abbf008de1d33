package bridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/mapping"
)

// fakeCluster answers just the calls the reindex path makes, to inject the
// faults a real cluster cannot be made to produce on demand (a cluster
// without the reindex module; a bulk item failure). The happy paths run
// against the real cluster in integration/mapping_test.go.
type fakeCluster struct {
	mu        sync.Mutex
	calls     []string
	bulk      []string
	bulkError bool
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/dst/_mapping":
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"type":"index_not_found_exception","reason":"no such index [dst]"},"status":404}`)
	case r.Method == http.MethodPut && r.URL.Path == "/dst":
		_, _ = io.WriteString(w, `{"acknowledged":true}`)
	case r.URL.Path == "/_reindex":
		// What a node without the reindex module answers.
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = io.WriteString(w, `{"error":"Incorrect HTTP method for uri [/_reindex] and method [POST], allowed: [PUT, GET, DELETE, HEAD]","status":405}`)
	case r.URL.Path == "/src/_search":
		_, _ = io.WriteString(w, `{"_scroll_id":"s1","hits":{"hits":[{"_id":"a","_source":{"v":[1,2]}},{"_id":"b","_routing":"r","_source":{"v":[3,4]}}]}}`)
	case r.URL.Path == "/_search/scroll" && r.Method == http.MethodPost:
		_, _ = io.WriteString(w, `{"_scroll_id":"s1","hits":{"hits":[]}}`)
	case r.URL.Path == "/_search/scroll" && r.Method == http.MethodDelete:
		_, _ = io.WriteString(w, `{"succeeded":true}`)
	case r.URL.Path == "/_bulk":
		f.mu.Lock()
		f.bulk = append(f.bulk, string(body))
		f.mu.Unlock()
		if f.bulkError {
			_, _ = io.WriteString(w, `{"errors":true,"items":[{"index":{"_id":"a","status":201}},{"index":{"_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad vector"}}}]}`)
			return
		}
		_, _ = io.WriteString(w, `{"errors":false,"items":[{"index":{"_id":"a"}},{"index":{"_id":"b"}}]}`)
	case r.URL.Path == "/dst/_refresh":
		_, _ = io.WriteString(w, `{}`)
	default:
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"type":"test","reason":"unexpected `+r.Method+" "+r.URL.Path+`"}}`)
	}
}

func reindexPlan(t *testing.T) *IndexPlan {
	t.Helper()
	spec := &mapping.IndexSpec{Name: "src", Fields: map[string]*mapping.Field{
		"v": {Type: mapping.TypeKNNVector, Dimension: mapping.Int(2), Method: &mapping.Method{Name: "hnsw", Engine: "lucene"}}}}
	norm, _, err := spec.Normalize(mapping.V2_19)
	if err != nil {
		t.Fatal(err)
	}
	return &IndexPlan{Desired: norm, Version: mapping.V2_19, Plan: &mapping.Plan{Index: "src",
		Changes: []mapping.Change{{Path: "fields.v.dimension", Kind: mapping.Reindex}}}}
}

func fakeClient(t *testing.T, f *fakeCluster) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReindexFallsBackToScrollCopy(t *testing.T) {
	f := &fakeCluster{}
	c := fakeClient(t, f)
	res, err := c.ApplyIndex(context.Background(), reindexPlan(t), ApplyOptions{ReindexTo: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Reindexed != 2 || res.ReindexedTo != "dst" {
		t.Fatalf("result %+v", res)
	}
	if len(f.bulk) != 1 {
		t.Fatalf("want one bulk request, got %d", len(f.bulk))
	}
	want := `{"index":{"_id":"a","_index":"dst"}}` + "\n" + `{"v":[1,2]}` + "\n" +
		`{"index":{"_id":"b","_index":"dst","routing":"r"}}` + "\n" + `{"v":[3,4]}` + "\n"
	if f.bulk[0] != want {
		t.Fatalf("bulk body:\n%s\nwant:\n%s", f.bulk[0], want)
	}
	if joined := strings.Join(f.calls, ","); !strings.Contains(joined, "DELETE /_search/scroll") || !strings.Contains(joined, "POST /dst/_refresh") {
		t.Fatalf("scroll not cleared or target not refreshed: %s", joined)
	}
}

func TestReindexCopyNamesFailedDocument(t *testing.T) {
	f := &fakeCluster{bulkError: true}
	c := fakeClient(t, f)
	_, err := c.ApplyIndex(context.Background(), reindexPlan(t), ApplyOptions{ReindexTo: "dst"})
	if err == nil || !strings.Contains(err.Error(), "document b") || !strings.Contains(err.Error(), "bad vector") {
		t.Fatalf("want an error naming document b and the cause, got %v", err)
	}
}

func TestApplyRefusesReindexWithoutTarget(t *testing.T) {
	f := &fakeCluster{}
	c := fakeClient(t, f)
	_, err := c.ApplyIndex(context.Background(), reindexPlan(t), ApplyOptions{})
	if !errors.Is(err, ErrNeedsReindex) {
		t.Fatalf("want ErrNeedsReindex, got %v", err)
	}
	if len(f.calls) != 0 {
		t.Fatalf("nothing may be sent, got %v", f.calls)
	}
}

func TestReadIndexMissingIsNil(t *testing.T) {
	c := fakeClient(t, &fakeCluster{})
	live, err := c.ReadIndex(context.Background(), "dst", mapping.V2_19)
	if err != nil || live != nil {
		t.Fatalf("want nil, nil for a missing index, got %v %v", live, err)
	}
}

// modelServer reports the given states in turn, then the last one forever.
func modelServer(t *testing.T, states ...string) *Client {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_plugins/_knn/models/m1") || r.URL.Query().Get("filter_path") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		st := states[min(n, len(states)-1)]
		n++
		mu.Unlock()
		_, _ = io.WriteString(w, `{"model_id":"m1","state":"`+st+`","error":"`+map[bool]string{true: "not enough points", false: ""}[st == "failed"]+`","dimension":8}`)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWaitForModel(t *testing.T) {
	ctx := context.Background()
	st, err := modelServer(t, "training", "training", "created").WaitForModel(ctx, "m1", time.Millisecond)
	if err != nil || st.State != mapping.ModelCreated || st.Dimension != 8 {
		t.Fatalf("created: %+v %v", st, err)
	}
	_, err = modelServer(t, "training", "failed").WaitForModel(ctx, "m1", time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "not enough points") {
		t.Fatalf("failed: want the model's error, got %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	st, err = modelServer(t, "training").WaitForModel(tctx, "m1", 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || st.State != mapping.ModelTraining {
		t.Fatalf("timeout: want DeadlineExceeded in state training, got %+v %v", st, err)
	}
}
