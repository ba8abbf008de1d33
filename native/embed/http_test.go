package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeService answers /v1/embeddings with vector [len(text), index, 1] for
// each input (in reverse order, to check index handling), after failing the
// first `fail` calls with status `failStatus`.
func fakeService(t *testing.T, fail int, failStatus int, hdr http.Header) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var calls atomic.Int32
	var lastAuth atomic.Value
	lastAuth.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		lastAuth.Store(r.Header.Get("Authorization"))
		if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost {
			http.Error(w, `{"error":{"message":"not found"}}`, 404)
			return
		}
		if int(n) <= fail {
			for k, v := range hdr {
				w.Header()[k] = v
			}
			w.WriteHeader(failStatus)
			fmt.Fprintf(w, `{"error":{"message":"induced failure %d","type":"server_error"}}`, n)
			return
		}
		var req embeddingsRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		}
		var data []item
		for i := len(req.Input) - 1; i >= 0; i-- {
			data = append(data, item{i, []float64{float64(len(req.Input[i])), float64(i), 1}})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &lastAuth
}

func TestHTTPEmbedBatchesAndOrder(t *testing.T) {
	srv, calls, auth := fakeService(t, 0, 0, nil)
	h, err := NewHTTP(srv.URL, "sk-secret", "m1", 0)
	if err != nil {
		t.Fatal(err)
	}
	h.BatchSize = 2
	texts := []string{"a", "bb", "ccc", "dddd", "eeeee"}
	got, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d requests for 5 texts at batch 2, want 3", calls.Load())
	}
	for i, v := range got {
		if int(v[0]) != len(texts[i]) || int(v[1]) != i%2 {
			t.Errorf("text %d: vector %v (out of order?)", i, v)
		}
	}
	if h.Dimension() != 3 || h.ModelName() != "m1" {
		t.Errorf("dimension %d model %q", h.Dimension(), h.ModelName())
	}
	if auth.Load() != "Bearer sk-secret" {
		t.Errorf("Authorization %q", auth.Load())
	}
	if strings.Contains(h.String(), "sk-secret") {
		t.Error("String() leaks the API key")
	}
}

func TestHTTPRetriesTransientFailures(t *testing.T) {
	for _, status := range []int{503, 429, 500} {
		srv, calls, _ := fakeService(t, 2, status, http.Header{"Retry-After": {"0"}})
		h, _ := NewHTTP(srv.URL+"/v1", "", "m", 0)
		h.Backoff = time.Millisecond
		if _, err := h.Embed(context.Background(), []string{"x"}); err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if calls.Load() != 3 {
			t.Errorf("status %d: %d calls, want 3", status, calls.Load())
		}
	}
}

func TestHTTPGivesUpWithClearError(t *testing.T) {
	srv, calls, _ := fakeService(t, 100, 503, nil)
	h, _ := NewHTTP(srv.URL+"/v1/embeddings", "sk-topsecret", "m", 0)
	h.Backoff = time.Millisecond
	h.MaxRetries = 2
	_, err := h.Embed(context.Background(), []string{"x"})
	if err == nil {
		t.Fatal("no error")
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("error %v does not carry the 503", err)
	}
	for _, want := range []string{"gave up after 3 attempts", "induced failure 3", "server_error", srv.URL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "sk-topsecret") {
		t.Error("error leaks the API key")
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
}

func TestHTTPClientErrorsAreNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 404} {
		srv, calls, _ := fakeService(t, 100, status, nil)
		h, _ := NewHTTP(srv.URL, "k", "m", 0)
		h.Backoff = time.Millisecond
		_, err := h.Embed(context.Background(), []string{"x"})
		if err == nil || calls.Load() != 1 {
			t.Fatalf("status %d: err %v after %d calls", status, err, calls.Load())
		}
		if status == 401 && !strings.Contains(err.Error(), "KNNBRIDGE_EMBED_API_KEY") {
			t.Errorf("401 error does not point at the key setting: %v", err)
		}
	}
}

func TestHTTPTimeoutIsRetriedThenReported(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()
	h, _ := NewHTTP(srv.URL, "", "m", 0)
	h.Timeout = 50 * time.Millisecond
	h.Backoff = time.Millisecond
	h.MaxRetries = 1
	_, err := h.Embed(context.Background(), []string{"x"})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || calls.Load() != 2 {
		t.Fatalf("err %v after %d calls; want a deadline error after 2", err, calls.Load())
	}
}

func TestHTTPContextCancelStopsRetrying(t *testing.T) {
	srv, _, _ := fakeService(t, 100, 503, http.Header{"Retry-After": {"30"}})
	h, _ := NewHTTP(srv.URL, "", "m", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Embed(ctx, []string{"x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("did not stop waiting for Retry-After on cancel")
	}
}

func TestHTTPBadResponses(t *testing.T) {
	cases := map[string]string{
		"not json":     `<html>oops</html>`,
		"wrong count":  `{"data":[]}`,
		"bad index":    `{"data":[{"index":5,"embedding":[1,2]}]}`,
		"empty vector": `{"data":[{"index":0,"embedding":[]}]}`,
		"not float32":  `{"data":[{"index":0,"embedding":[1e300]}]}`,
		"dim mismatch": `{"data":[{"index":0,"embedding":[1,2]}]}`,
		"repeat index": `{"data":[{"index":0,"embedding":[1,2,3]},{"index":0,"embedding":[1,2,3]}]}`,
	}
	for name, body := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
		dim := 0
		if name == "dim mismatch" {
			dim = 3
		}
		h, _ := NewHTTP(srv.URL, "", "m", dim)
		texts := []string{"x"}
		if name == "repeat index" {
			texts = []string{"x", "y"}
		}
		if _, err := h.Embed(context.Background(), texts); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
		srv.Close()
	}
}

func TestNewHTTPValidates(t *testing.T) {
	if _, err := NewHTTP("", "", "m", 0); err == nil {
		t.Error("empty URL accepted")
	}
	if _, err := NewHTTP("ftp://x", "", "m", 0); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := NewHTTP("http://x", "", "", 0); err == nil {
		t.Error("empty model accepted")
	}
	for in, want := range map[string]string{
		"http://h:1":               "http://h:1/v1/embeddings",
		"http://h:1/":              "http://h:1/v1/embeddings",
		"http://h:1/v1":            "http://h:1/v1/embeddings",
		"https://h/api/embeddings": "https://h/api/embeddings",
	} {
		if got := endpointURL(in); got != want {
			t.Errorf("endpointURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigFromEnvHTTP(t *testing.T) {
	srv, _, auth := fakeService(t, 0, 0, nil)
	t.Setenv("KNNBRIDGE_EMBED_BACKEND", "http")
	t.Setenv("KNNBRIDGE_EMBED_URL", srv.URL)
	t.Setenv("KNNBRIDGE_EMBED_API_KEY", "sk-env")
	t.Setenv("KNNBRIDGE_EMBED_MODEL", "remote-model")
	t.Setenv("KNNBRIDGE_EMBED_BATCH_SIZE", "7")
	t.Setenv("KNNBRIDGE_EMBED_TIMEOUT", "5s")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), "sk-env") {
		t.Error("Config.String leaks the API key")
	}
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	h := e.(*HTTP)
	if h.BatchSize != 7 || h.Timeout != 5*time.Second || h.MaxRetries != 3 || h.ModelName() != "remote-model" {
		t.Errorf("config not applied: %+v", h)
	}
	if _, err := e.Embed(context.Background(), []string{"hi"}); err != nil {
		t.Fatal(err)
	}
	if auth.Load() != "Bearer sk-env" {
		t.Errorf("Authorization %q", auth.Load())
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{Backend: "grpc"}); err == nil || !strings.Contains(err.Error(), "KNNBRIDGE_EMBED_BACKEND") {
		t.Errorf("unknown backend: %v", err)
	}
	if _, err := New(Config{Backend: "http", Model: "m"}); err == nil || !strings.Contains(err.Error(), "KNNBRIDGE_EMBED_URL") {
		t.Errorf("missing URL: %v", err)
	}
	if _, err := New(Config{Backend: "local", ModelDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty model dir: %v", err)
	}
	t.Setenv("KNNBRIDGE_EMBED_BATCH_SIZE", "many")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "BATCH_SIZE") {
		t.Errorf("bad batch size: %v", err)
	}
}
