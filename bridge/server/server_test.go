package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"sigs.k8s.io/yaml"

	"github.com/knnbridge/knnbridge/bridge"
)

const testToken = "test-token-0123456789abcdef"

func testConfig() Config {
	return Config{ListenAddr: "127.0.0.1:0", APIToken: testToken, MaxBodyBytes: 1 << 20,
		ReadHeaderTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Second,
		RequestTimeout: 5 * time.Second, LongRequestTimeout: 10 * time.Second, ShutdownTimeout: 5 * time.Second, ReadyTimeout: time.Second,
		LogLevel: "debug", TrainDir: "", EmbedConcurrency: 1}
}

// downCluster returns a client for an address where nothing listens: a
// real refused connection, the "cluster down" case.
func downCluster(t *testing.T) *bridge.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := bridge.NewClient(bridge.Config{URLs: []string{"http://" + addr}, Timeout: 2 * time.Second, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestServer(t *testing.T, cfg Config, c *bridge.Client) (*Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s, err := New(cfg, Deps{Cluster: c, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	s.StartBackground()
	return s, logs
}

func do(t *testing.T, h http.Handler, method, path, token string, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

type errBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func mustError(t *testing.T, b []byte) errBody {
	t.Helper()
	var e errBody
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error body: %s", b)
	}
	if strings.Contains(string(b), "goroutine ") || strings.Contains(string(b), ".go:") {
		t.Fatalf("error body leaks a stack trace: %s", b)
	}
	return e
}

func TestConfigValidate(t *testing.T) {
	ok := testConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	cases := map[string]func(*Config){
		"KNNBRIDGE_API_TOKEN is required":           func(c *Config) { c.APIToken = "" },
		"at least 16":                               func(c *Config) { c.APIToken = "short" },
		"needs a loopback KNNBRIDGE_LISTEN_ADDR":    func(c *Config) { c.APIToken = ""; c.AuthDisabled = true; c.ListenAddr = "0.0.0.0:8080" },
		"KNNBRIDGE_LOG_LEVEL":                       func(c *Config) { c.LogLevel = "loud" },
		"KNNBRIDGE_MAX_BODY_BYTES":                  func(c *Config) { c.MaxBodyBytes = 0 },
		"must be below KNNBRIDGE_WRITE_TIMEOUT":     func(c *Config) { c.LongRequestTimeout = time.Hour },
		"KNNBRIDGE_LISTEN_ADDR \"nonsense\"":        func(c *Config) { c.ListenAddr = "nonsense" },
		"needs a loopback KNNBRIDGE_LISTEN_ADDR (1": func(c *Config) { c.AuthDisabled = true; c.ListenAddr = ":8080" },
	}
	for want, mut := range cases {
		c := testConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	for _, host := range []string{"127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"} {
		if !IsLoopback(host) {
			t.Errorf("IsLoopback(%q) = false", host)
		}
	}
	for _, host := range []string{"", "0.0.0.0", "10.0.0.1", "example.com", "::"} {
		if IsLoopback(host) {
			t.Errorf("IsLoopback(%q) = true", host)
		}
	}
	c := testConfig()
	c.AuthDisabled, c.APIToken = true, ""
	if err := c.Validate(); err != nil {
		t.Errorf("auth disabled on loopback refused: %v", err)
	}
	if s := testConfig().String(); strings.Contains(s, testToken) || !strings.Contains(s, "token=***") {
		t.Errorf("config string shows the token: %s", s)
	}
}

func TestAuth(t *testing.T) {
	s, logs := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	for _, tok := range []string{"", "wrong-token-0123456789abcdef", testToken + "x", testToken[:len(testToken)-1]} {
		res, b := do(t, h, "POST", "/v1/embed", tok, `{"texts":["a"]}`)
		if res.StatusCode != 401 {
			t.Fatalf("token %q: status %d, want 401", tok, res.StatusCode)
		}
		if e := mustError(t, b); e.Error.Code != "unauthorized" {
			t.Errorf("code %q", e.Error.Code)
		}
		if res.Header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate header on 401")
		}
	}
	// Health routes need no token; the API does.
	for _, p := range []string{"/healthz", "/metrics", "/openapi.yaml"} {
		if res, _ := do(t, h, "GET", p, "", ""); res.StatusCode != 200 {
			t.Errorf("%s without token: %d", p, res.StatusCode)
		}
	}
	// The right token passes auth (the embedder is missing: 503, not 401).
	res, b := do(t, h, "POST", "/v1/embed", testToken, `{"texts":["a"]}`)
	if res.StatusCode != 503 || mustError(t, b).Error.Code != "embedder_unavailable" {
		t.Fatalf("with token: %d %s", res.StatusCode, b)
	}
	// Lower-case scheme is accepted (RFC 7235: the scheme is case-insensitive).
	req := httptest.NewRequest("POST", "/v1/embed", strings.NewReader(`{"texts":["a"]}`))
	req.Header.Set("Authorization", "bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == 401 {
		t.Error("lower-case bearer scheme refused")
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, testToken) {
				t.Fatalf("log line %q holds the token", e.Message)
			}
		}
	}
	// Metrics behind the token when asked.
	cfg := testConfig()
	cfg.MetricsAuth = true
	s2, _ := newTestServer(t, cfg, downCluster(t))
	if res, _ := do(t, s2.Handler(), "GET", "/metrics", "", ""); res.StatusCode != 401 {
		t.Errorf("metrics with METRICS_AUTH and no token: %d", res.StatusCode)
	}
	// Auth disabled on loopback: no token needed.
	cfg = testConfig()
	cfg.AuthDisabled, cfg.APIToken = true, ""
	s3, _ := newTestServer(t, cfg, downCluster(t))
	if res, _ := do(t, s3.Handler(), "POST", "/v1/embed", "", `{"texts":["a"]}`); res.StatusCode == 401 {
		t.Error("auth disabled but 401")
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	cases := []struct {
		method, path, body, field string
	}{
		{"POST", "/v1/embed", `{"texts": "one"}`, "texts"},
		{"POST", "/v1/embed", `{"texts": []}`, "texts"},
		{"POST", "/v1/embed", `{"texts": ["a", ""]}`, "texts[1]"},
		{"POST", "/v1/embed", `{"txts": ["a"]}`, "txts"},
		{"POST", "/v1/embed", `{"texts": ["a"]`, "body"},
		{"POST", "/v1/embed", ``, "body"},
		{"POST", "/v1/indexes/docs/search", `{"k": "ten"}`, "k"},
		{"POST", "/v1/indexes/docs/search", `{"query": "x", "k": 0, "fusion": {"weights": "x"}}`, "fusion.weights"},
		{"POST", "/v1/indexes/docs/search", `{"query": "x", "k": 20000}`, "k"},
		{"POST", "/v1/indexes/Docs/search", `{"query": "x"}`, "name"},
		{"POST", "/v1/search", `{"query": "x"}`, "indexes"},
		{"POST", "/v1/search", `{"query": "x", "indexes": ["a", "a"]}`, "indexes[1]"},
		{"POST", "/v1/search", `{"query": "x", "indexes": ["a", "b*"]}`, "indexes[1]"},
		{"PUT", "/v1/indexes/docs", `fields: {v: {type: knn_vector, dimension: 3, bogus: 1}}`, "spec.bogus"},
		{"PUT", "/v1/indexes/docs?dry_run=maybe", `fields: {}`, "?dry_run"},
		{"PUT", "/v1/indexes/docs", `{"name": "other", "fields": {}}`, "name"},
		{"POST", "/v1/indexes/docs/documents?refresh=soon", `[]`, "?refresh"},
		{"POST", "/v1/train", `{"name": "../x", "source": {"index": "a"}, "nlist": [4]}`, "name"},
		{"POST", "/v1/train", `{"name": "cb", "nlist": [4]}`, "source"},
		{"POST", "/v1/train", `{"name": "cb", "source": {"index": "a", "file": "b"}, "nlist": [4]}`, "source"},
		{"POST", "/v1/train", `{"name": "cb", "source": {"index": "a"}, "nlist": [0]}`, "nlist[0]"},
	}
	for _, c := range cases {
		res, b := do(t, h, c.method, c.path, testToken, c.body)
		if res.StatusCode != 400 {
			t.Errorf("%s %s %s: status %d (%s), want 400", c.method, c.path, c.body, res.StatusCode, b)
			continue
		}
		if e := mustError(t, b); e.Error.Field != c.field {
			t.Errorf("%s %s %s: field %q, want %q (%s)", c.method, c.path, c.body, e.Error.Field, c.field, e.Error.Message)
		}
	}
}

// With the cluster down every cluster-backed route answers 503 quickly,
// never a hang or a 500.
func TestClusterDown(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/indexes/docs", ""},
		{"PUT", "/v1/indexes/docs", `fields: {title: {type: text}}`},
		{"POST", "/v1/indexes/docs/search", `{"query": "x"}`},
		{"POST", "/v1/search", `{"query": "x", "indexes": ["a", "b"]}`},
		{"POST", "/v1/indexes/docs/documents", `[{"text": "x"}]`},
		{"POST", "/v1/train", `{"name": "cb", "source": {"index": "a"}, "nlist": [4]}`},
	} {
		res, b := do(t, h, c.method, c.path, testToken, c.body)
		if res.StatusCode != 503 {
			t.Errorf("%s %s: %d %s, want 503", c.method, c.path, res.StatusCode, b)
			continue
		}
		if e := mustError(t, b); e.Error.Code != "cluster_unavailable" {
			t.Errorf("%s %s: code %q", c.method, c.path, e.Error.Code)
		}
	}
	res, b := do(t, h, "GET", "/readyz", "", "")
	if res.StatusCode != 503 || !strings.Contains(string(b), `"ready":false`) {
		t.Errorf("readyz with the cluster down: %d %s", res.StatusCode, b)
	}
}

func TestBodyLimitRequestIDAndUnknownRoutes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 100
	s, _ := newTestServer(t, cfg, downCluster(t))
	h := s.Handler()
	big := `{"texts": ["` + strings.Repeat("a", 200) + `"]}`
	res, b := do(t, h, "POST", "/v1/embed", testToken, big)
	if res.StatusCode != 413 || mustError(t, b).Error.Code != "body_too_large" {
		t.Fatalf("oversized body: %d %s", res.StatusCode, b)
	}
	if id := res.Header.Get(RequestIDHeader); len(id) != 24 {
		t.Errorf("generated request id %q", id)
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set(RequestIDHeader, "caller-id-42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get(RequestIDHeader); got != "caller-id-42" {
		t.Errorf("caller's request id not kept: %q", got)
	}
	req.Header.Set(RequestIDHeader, "bad id\nwith newline")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get(RequestIDHeader); strings.ContainsAny(got, " \n") {
		t.Errorf("unsafe caller id echoed: %q", got)
	}
	res, b = do(t, h, "GET", "/v2/nothing", testToken, "")
	if res.StatusCode != 404 || mustError(t, b).Error.Code != "no_route" {
		t.Errorf("unknown route: %d %s", res.StatusCode, b)
	}
}

func TestPanicIsA500WithoutStack(t *testing.T) {
	s, logs := newTestServer(t, testConfig(), downCluster(t))
	h := s.wrap(false, false, func(http.ResponseWriter, *http.Request) error { panic("boom") })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	e := mustError(t, rec.Body.Bytes())
	if strings.Contains(e.Error.Message, "boom") {
		t.Errorf("panic value leaked to the client: %s", rec.Body)
	}
	if logs.FilterMessage("panic in handler").Len() != 1 {
		t.Error("panic not logged")
	}
}

func TestMetricsExposeRoutesNotNames(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	do(t, h, "POST", "/v1/indexes/secret-index-name/search", testToken, `{"query":"x"}`)
	_, b := do(t, h, "GET", "/metrics", "", "")
	m := string(b)
	for _, want := range []string{
		`knnbridge_http_request_duration_seconds_bucket{method="POST",route="POST /v1/indexes/{name}/search",status="503"`,
		`knnbridge_opensearch_request_duration_seconds_bucket{op="info",outcome="unavailable"`,
		"knnbridge_http_in_flight_requests", "go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "secret-index-name") {
		t.Error("an index name leaked into the metrics")
	}
}

// openAPIOps lists (method, path) of every documented operation with its
// documented statuses.
func openAPIOps(t *testing.T) map[string]map[int]bool {
	t.Helper()
	js, err := yaml.YAMLToJSON(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	ops := map[string]map[int]bool{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			st := map[int]bool{}
			for code := range op.Responses {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Fatalf("%s %s: response %q is not a status code", method, path, code)
				}
				st[n] = true
			}
			ops[strings.ToUpper(method)+" "+path] = st
		}
	}
	return ops
}

// TestOpenAPIMatchesRoutes: every documented operation is served (not the
// catch-all 404), every served API route is documented, and the answers
// without a cluster (401, 400, 503) are among the documented statuses.
// The integration test repeats the status check against a real cluster.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ops := openAPIOps(t)
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	var keys []string
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		concrete := strings.ReplaceAll(path, "{name}", "docs")
		for _, body := range []string{"", "{}", `{"query":"x","indexes":["docs"],"texts":["a"],"name":"cb","source":{"index":"docs"},"nlist":[2]}`} {
			for _, tok := range []string{"", testToken} {
				res, b := do(t, h, method, concrete, tok, body)
				if res.StatusCode == 404 && strings.Contains(string(b), "no_route") {
					t.Fatalf("%s is documented but not served", k)
				}
				if !ops[k][res.StatusCode] {
					t.Errorf("%s (body %q, token %t) answered %d, not documented (%v): %s", k, body, tok != "", res.StatusCode, ops[k], b)
				}
				if res.StatusCode >= 400 && path != "/readyz" {
					mustError(t, b)
				}
			}
		}
	}
	// Every route the server registers is documented.
	served := []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.yaml",
		"PUT /v1/indexes/{name}", "GET /v1/indexes/{name}", "POST /v1/indexes/{name}/documents",
		"POST /v1/indexes/{name}/search", "POST /v1/search", "POST /v1/embed", "POST /v1/train",
		"GET /v1/migrations", "POST /v1/migrations/{name}/plan", "POST /v1/migrations/{name}", "GET /v1/migrations/{name}",
		"POST /v1/migrations/{name}/resume", "POST /v1/migrations/{name}/cancel", "POST /v1/migrations/{name}/verify",
		"POST /v1/migrations/{name}/cutover", "POST /v1/migrations/{name}/rollback", "POST /v1/migrations/{name}/cleanup"}
	for _, r := range served {
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	if len(ops) != len(served) {
		t.Errorf("openapi.yaml documents %d operations, the server has %d", len(ops), len(served))
	}
}

func TestToNDJSON(t *testing.T) {
	for _, c := range []struct{ ct, body, want string }{
		{"application/json", `[{"a":1}, {"b": [1, 2]}]`, "{\"a\":1}\n{\"b\":[1,2]}\n"},
		{"application/json", `{"documents": [{"a":1}]}`, "{\"a\":1}\n"},
		{"application/x-ndjson", "{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}\n{\"b\":2}\n"},
		{"", "{\"a\":1}\n{\"b\":2}", "{\"a\":1}\n{\"b\":2}"},
	} {
		got, err := toNDJSON(c.ct, []byte(c.body))
		if err != nil || !bytes.Equal(got, []byte(c.want)) {
			t.Errorf("%q: %q %v, want %q", c.body, got, err, c.want)
		}
	}
	if _, err := toNDJSON("application/json", []byte(`{"docs": []}`)); err == nil || toAPIError(err).Field != "docs" {
		t.Errorf("unknown wrapper member: %v", err)
	}
}

func TestCountLines(t *testing.T) {
	for body, want := range map[string]int64{"": 0, "{}": 1, "{}\n": 1, "{}\n\n  \n{}": 2, "\n{}\r\n{}\n": 2} {
		if got := countLines([]byte(body)); got != want {
			t.Errorf("countLines(%q) = %d, want %d", body, got, want)
		}
	}
}

func TestConfinedPath(t *testing.T) {
	root := t.TempDir()
	for _, bad := range []string{"/etc/passwd", "../x", "a/../../x", ""} {
		if _, err := confinedPath(root, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
