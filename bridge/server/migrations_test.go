package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
)

// Every migration route refuses bad input with a 400 naming the member,
// before touching the cluster; with valid input and the cluster down it
// answers 503, never 500 or a hang. Each answer matches openapi.yaml.
func TestMigrationRequestValidation(t *testing.T) {
	router := openAPIRouter(t)
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	const spec = `{"fields": {"v": {"type": "knn_vector", "dimension": 4, "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}}}}`
	cases := []struct {
		method, path, body string
		status             int
		code, field        string
	}{
		{"POST", "/v1/migrations/Docs/plan", `{"target": ` + spec + `}`, 400, "bad_request", "name"},
		{"POST", "/v1/migrations/_docs", `{"target": ` + spec + `}`, 400, "bad_request", "name"},
		{"POST", "/v1/migrations/docs/plan", ``, 400, "bad_request", "body"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec, 400, "bad_request", "body"},
		{"POST", "/v1/migrations/docs/plan", `{}`, 400, "bad_request", "target"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "bogus": 1}`, 400, "bad_request", "bogus"},
		{"POST", "/v1/migrations/docs/plan", `{"target": "nonsense"}`, 400, "bad_request", "target"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "target_index": "Docs-V2"}`, 400, "bad_request", "target_index"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "target_index": "docs"}`, 400, "bad_request", "target_index"},
		{"POST", "/v1/migrations/docs/plan", `{"target": {"name": "a", "fields": {}}, "target_index": "b"}`, 400, "bad_request", "target_index"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "reembed": true}`, 400, "bad_request", "text_field"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "text_field": "body"}`, 400, "bad_request", "text_field"},
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "include_requests": "yes"}`, 400, "bad_request", "include_requests"},
		{"POST", "/v1/migrations/docs", `{"target": ` + spec + `, "page_size": 20000}`, 400, "bad_request", "page_size"},
		{"POST", "/v1/migrations/docs", `{"target": ` + spec + `, "page_size": "x"}`, 400, "bad_request", "page_size"},
		{"POST", "/v1/migrations/docs", `{"target": ` + spec + `, "senders": -1}`, 400, "bad_request", "senders"},
		{"POST", "/v1/migrations/docs", `{"target": ` + spec + `, "include_requests": true}`, 400, "bad_request", "include_requests"},
		{"POST", "/v1/migrations/docs/resume", `{"senders": 99}`, 400, "bad_request", "senders"},
		{"POST", "/v1/migrations/docs/resume", `{"bogus": true}`, 400, "bad_request", "bogus"},
		{"POST", "/v1/migrations/docs/verify", `{"min_recall": 1.5}`, 400, "bad_request", "min_recall"},
		{"POST", "/v1/migrations/docs/verify", `{"sample": -1}`, 400, "bad_request", "sample"},
		{"POST", "/v1/migrations/docs/verify", `{"queries": 5000}`, 400, "bad_request", "queries"},
		{"POST", "/v1/migrations/docs/cutover", `{"force": "yes"}`, 400, "bad_request", "force"},
		{"POST", "/v1/migrations/docs/rollback", `{"discard": true}`, 400, "bad_request", "discard"},
		{"POST", "/v1/migrations/docs/cleanup", `{"index": "docs-v1"}`, 400, "bad_request", "index"},
		// Valid requests with the cluster down: 503, quickly.
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `}`, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs", `{"target": ` + spec + `, "page_size": 100}`, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/resume", ``, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/cancel", ``, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/verify", `{}`, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/cutover", ``, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/rollback", ``, 503, "cluster_unavailable", ""},
		{"POST", "/v1/migrations/docs/cleanup", ``, 503, "cluster_unavailable", ""},
		{"GET", "/v1/migrations/docs", ``, 503, "cluster_unavailable", ""},
		{"GET", "/v1/migrations", ``, 503, "cluster_unavailable", ""},
		// No embedder configured in this server: re-embedding is refused.
		{"POST", "/v1/migrations/docs/plan", `{"target": ` + spec + `, "reembed": true, "text_field": "body"}`, 503, "embedder_unavailable", ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			start := time.Now()
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+testToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			e := mustError(t, rec.Body.Bytes())
			if e.Error.Code != c.code || e.Error.Field != c.field {
				t.Errorf("code %q field %q, want %q %q: %s", e.Error.Code, e.Error.Field, c.code, c.field, e.Error.Message)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			if err := ValidateAgainstOpenAPI(router, req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
				t.Errorf("answer does not match openapi.yaml: %v", err)
			}
		})
	}
	// Without the token: 401 on every migration route.
	for _, p := range []string{"/v1/migrations", "/v1/migrations/docs"} {
		res, b := do(t, h, "GET", p, "", "")
		if res.StatusCode != 401 || mustError(t, b).Error.Code != "unauthorized" {
			t.Errorf("GET %s without token: %d %s", p, res.StatusCode, b)
		}
	}
	res, b := do(t, h, "POST", "/v1/migrations/docs/cancel", "", "")
	if res.StatusCode != 401 {
		t.Errorf("cancel without token: %d %s", res.StatusCode, b)
	}
}

// One operation per migration per sidecar: a second runner, or a step
// while a run is going, is a 409 before any cluster call.
func TestMigrationSecondRunnerRefused(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	h := s.Handler()
	release, err := s.mig.reserve("docs", "run")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/migrations/docs/resume", "/v1/migrations/docs/verify", "/v1/migrations/docs/cutover", "/v1/migrations/docs/rollback", "/v1/migrations/docs/cleanup"} {
		res, b := do(t, h, "POST", p, testToken, "")
		if res.StatusCode != 409 || mustError(t, b).Error.Code != "migration_running" {
			t.Errorf("%s while running: %d %s", p, res.StatusCode, b)
		}
	}
	// Another alias is independent (and reaches the cluster: down).
	if res, b := do(t, h, "POST", "/v1/migrations/other/resume", testToken, ""); res.StatusCode != 503 {
		t.Errorf("other alias: %d %s", res.StatusCode, b)
	}
	release()
	release() // idempotent
	r2, err := s.mig.reserve("docs", "cutover")
	if err != nil {
		t.Fatalf("alias not released: %v", err)
	}
	defer r2()
	if _, err := s.mig.reserve("docs", "run"); err == nil || toAPIError(err).Code != "operation_in_progress" || toAPIError(err).Status != 409 {
		t.Errorf("run during cutover: %v", err)
	}
}

// StopMigrations cancels every run and waits for it to finish saving;
// afterwards no new work is accepted.
func TestStopMigrationsWaitsForRuns(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	g := s.mig
	saved := make(chan struct{})
	ctx, cancel := context.WithCancel(g.ctx)
	r := &migrationRun{cancel: cancel, done: make(chan struct{}), started: time.Now(), outcome: "running"}
	g.mu.Lock()
	g.runs["docs"] = r
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // the checkpoint save
		close(saved)
	}()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.StopMigrations(sctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-saved:
	default:
		t.Fatal("StopMigrations returned before the run saved its checkpoint")
	}
	if r.reason != "sidecar shutdown" {
		t.Errorf("reason %q", r.reason)
	}
	if _, err := g.reserve("x", "run"); err == nil || toAPIError(err).Code != "shutting_down" {
		t.Errorf("work accepted after shutdown: %v", err)
	}
	// A run that does not stop in time is reported, not waited for forever.
	s2, _ := newTestServer(t, testConfig(), downCluster(t))
	s2.mig.wg.Add(1)
	defer s2.mig.wg.Done()
	short, c2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer c2()
	if err := s2.StopMigrations(short); err == nil {
		t.Error("StopMigrations did not report the run still stopping")
	}
}

func TestMigrationAPIError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{wrap(bridge.ErrNoMigration), 404, "migration_not_found"},
		{wrap(bridge.ErrMigrationBusy), 409, "migration_busy"},
		{wrap(bridge.ErrMigrationActive), 409, "migration_exists"},
		{wrap(bridge.ErrMigrationConflict), 409, "migration_conflict"},
		{wrap(bridge.ErrStateConflict), 409, "state_conflict"},
		{wrap(bridge.ErrMigrationInvalid), 400, "invalid_migration"},
		{&bridge.Error{Status: 503, Type: "x"}, 503, "cluster_unavailable"},
		{errors.New("something else"), 500, "internal"},
	} {
		ae := toAPIError(migrationAPIError(c.err))
		if ae.Status != c.status || ae.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, ae.Status, ae.Code, c.status, c.code)
		}
	}
	for msg, want := range map[string]string{
		"plan: re-embedding needs the text field the vectors are computed from (--text-field)": "text_field",
		"plan: docs-v1 has 2 knn_vector fields [a b]: name one with --vector-field":            "vector_field",
		"docs is an index, not an alias: point an alias at it":                                 "name",
		"plan: field v changes dimension 8 -> 16: copied vectors cannot fit":                   "target",
		"plan: target index \"docs\" has the alias's name":                                     "target_index",
	} {
		if got := invalidMigrationField(msg); got != want {
			t.Errorf("%q -> %q, want %q", msg, got, want)
		}
	}
}

// The metrics exist from the start (zero), with no alias label.
func TestMigrationMetricsRegistered(t *testing.T) {
	s, _ := newTestServer(t, testConfig(), downCluster(t))
	s.m.migDocs.WithLabelValues("copied").Add(0)
	s.m.migRuns.WithLabelValues("ready").Add(0)
	res, b := do(t, s.Handler(), "GET", "/metrics", "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metrics %d", res.StatusCode)
	}
	for _, name := range []string{"knnbridge_migrations_running 0", "knnbridge_migration_documents_total{result=\"copied\"}", "knnbridge_migration_runs_total{outcome=\"ready\"}"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}
