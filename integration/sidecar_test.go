//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"sigs.k8s.io/yaml"

	"github.com/knnbridge/knnbridge/bridge/server"
)

// The sidecar tests run the real binary (built once per test run) against
// the real cluster, over HTTP on loopback.

var (
	scBuildOnce sync.Once
	scBinPath   string
	scBuildErr  error
)

func scRepoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func scKnnbridgeBinary(t testing.TB) string {
	t.Helper()
	scBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "knnbridge-sidecar-test")
		if err != nil {
			scBuildErr = err
			return
		}
		scBinPath = filepath.Join(dir, "knnbridge")
		cmd := exec.Command("go", "build", "-o", scBinPath, "./cmd/knnbridge")
		cmd.Dir = scRepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			scBuildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if scBuildErr != nil {
		t.Fatal(scBuildErr)
	}
	return scBinPath
}

// scModelDir is the embedding model `make model` fetches; "" if absent.
func scModelDir(t testing.TB) string {
	if d := os.Getenv("KNNBRIDGE_EMBED_MODEL_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("KNNBRIDGE_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(scRepoRoot(t), ".cache")
	}
	d := filepath.Join(cache, "models", "all-MiniLM-L6-v2")
	if _, err := os.Stat(filepath.Join(d, "config.json")); err != nil {
		return ""
	}
	return d
}

type sidecar struct {
	URL    string
	Token  string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

const scSidecarToken = "integration-token-0123456789abcdef"

// startSidecar runs `knnbridge serve` on a free loopback port. env adds
// or overrides variables (KNNBRIDGE_OPENSEARCH_URLS, ...).
func startSidecar(t testing.TB, c *Cluster, env ...string) *sidecar {
	t.Helper()
	bin := scKnnbridgeBinary(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"KNNBRIDGE_OPENSEARCH_URLS="+c.URL,
		"KNNBRIDGE_API_TOKEN="+scSidecarToken,
		"KNNBRIDGE_LOG_LEVEL=info",
		"KNNBRIDGE_TRAIN_DIR="+t.TempDir(),
	)
	if md := scModelDir(t); md != "" {
		cmd.Env = append(cmd.Env, "KNNBRIDGE_EMBED_MODEL_DIR="+md)
	}
	cmd.Env = append(cmd.Env, env...)
	var buf bytes.Buffer
	mu := &sync.Mutex{}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sidecar{Token: scSidecarToken, cmd: cmd, stderr: &buf, mu: mu, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			buf.WriteString(line + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); s.done <- err }()
	select {
	case s.URL = <-addrc:
	case err := <-s.done:
		t.Fatalf("sidecar exited at start: %v\n%s", err, s.log())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("sidecar did not start in 60s\n%s", s.log())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("sidecar log:\n%s", s.log())
		}
	})
	return s
}

func (s *sidecar) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitReady polls /readyz (the model loads in the background).
func (s *sidecar) waitReady(t testing.TB, needModel bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 || (!needModel && strings.Contains(string(b), `"cluster":{"ok":true}`)) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("sidecar not ready in 2 minutes\n%s", s.log())
}

type scAnswer struct {
	Status int
	Body   []byte
	Route  string
}

func (a scAnswer) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("decoding %s scAnswer %d: %v: %s", a.Route, a.Status, err, a.Body)
	}
}

func (a scAnswer) errorField(t testing.TB) (code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string } `json:"error"`
	}
	a.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("%s: %d without a JSON error: %s", a.Route, a.Status, a.Body)
	}
	return e.Error.Code, e.Error.Field
}

// scObserved records every (route, status) the tests saw, for the OpenAPI
// check.
var scObserved = struct {
	sync.Mutex
	m map[string]map[int]bool
}{m: map[string]map[int]bool{}}

func (s *sidecar) call(t testing.TB, method, route, path, contentType string, body any, token string) scAnswer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get(server.RequestIDHeader) == "" {
		t.Errorf("%s %s: no %s header", method, path, server.RequestIDHeader)
	}
	if resp.StatusCode == 500 || bytes.Contains(b, []byte("goroutine ")) {
		t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if route != "" && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := scValidate(t, req, resp.StatusCode, resp.Header, b); err != nil {
			t.Errorf("%s %s -> %d does not match openapi.yaml: %v\n%s", method, path, resp.StatusCode, err, b)
		}
	}
	key := method + " " + route
	scObserved.Lock()
	if scObserved.m[key] == nil {
		scObserved.m[key] = map[int]bool{}
	}
	scObserved.m[key][resp.StatusCode] = true
	scObserved.Unlock()
	return scAnswer{Status: resp.StatusCode, Body: b, Route: key}
}

func (s *sidecar) api(t testing.TB, method, route, path string, body any) scAnswer {
	t.Helper()
	return s.call(t, method, route, path, "", body, s.Token)
}

func scExpect(t testing.TB, a scAnswer, status int) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", a.Route, a.Status, status, a.Body)
	}
}

func scUnitVector(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

const scSidecarDim = 8

func scSidecarSpec(dim int) string {
	return fmt.Sprintf(`
settings: {shards: 1, replicas: 0}
fields:
  text: {type: text}
  title: {type: text}
  tag: {type: keyword}
  embedding:
    type: knn_vector
    dimension: %d
    space_type: cosinesimil
    method: {name: hnsw, engine: lucene, parameters: {m: 16, ef_construction: 64}}
`, dim)
}

func TestSidecarRoutes(t *testing.T) {
	c := Start(t)
	s := startSidecar(t, c)
	s.waitReady(t, false)
	idx := c.Index(t, "sidecar")
	idx2 := c.Index(t, "sidecar2")
	const R = "/v1/indexes/{name}"

	t.Run("auth", func(t *testing.T) {
		for _, tok := range []string{"", "not-the-token-0123456789"} {
			a := s.call(t, "GET", R, "/v1/indexes/"+idx, "", nil, tok)
			scExpect(t, a, 401)
			if code, _ := a.errorField(t); code != "unauthorized" {
				t.Errorf("code %s", code)
			}
		}
		a := s.call(t, "GET", "/healthz", "/healthz", "", nil, "")
		scExpect(t, a, 200)
		a = s.call(t, "GET", "/metrics", "/metrics", "", nil, "")
		scExpect(t, a, 200)
		a = s.call(t, "GET", "/openapi.yaml", "/openapi.yaml", "", nil, "")
		scExpect(t, a, 200)
	})

	t.Run("index apply, plan, get", func(t *testing.T) {
		a := s.api(t, "GET", R, "/v1/indexes/"+idx, nil)
		scExpect(t, a, 404)
		if code, _ := a.errorField(t); code != "index_not_found" {
			t.Errorf("code %s", code)
		}
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx+"?dry_run=true", scSidecarSpec(scSidecarDim))
		scExpect(t, a, 200)
		var put struct {
			DryRun bool                    `json:"dry_run"`
			Plan   struct{ Create bool }   `json:"plan"`
			Result *struct{ Created bool } `json:"result"`
		}
		a.json(t, &put)
		if !put.DryRun || !put.Plan.Create || put.Result != nil {
			t.Fatalf("dry run: %s", a.Body)
		}
		a = s.api(t, "GET", R, "/v1/indexes/"+idx, nil)
		scExpect(t, a, 404) // a dry run creates nothing
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx, scSidecarSpec(scSidecarDim))
		scExpect(t, a, 200)
		a.json(t, &put)
		if put.Result == nil || !put.Result.Created {
			t.Fatalf("apply: %s", a.Body)
		}
		// Idempotent: the second apply plans nothing.
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx, scSidecarSpec(scSidecarDim))
		scExpect(t, a, 200)
		var again struct {
			Plan struct {
				Create  bool
				Changes []json.RawMessage
			} `json:"plan"`
		}
		a.json(t, &again)
		if again.Plan.Create || len(again.Plan.Changes) != 0 {
			t.Errorf("second apply plans changes: %s", a.Body)
		}
		// A dimension change needs a new index: 409 with the plan.
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx, scSidecarSpec(scSidecarDim*2))
		scExpect(t, a, 409)
		if code, field := a.errorField(t); code != "needs_reindex" || field != "?reindex_to" {
			t.Errorf("409: %s %s", code, field)
		}
		// Invalid spec: 400 naming the spec path.
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx2, `fields: {v: {type: knn_vector, dimension: 8, method: {name: hnsw, engine: lucene, parameters: {m: 1000}}}}`)
		scExpect(t, a, 400)
		if _, field := a.errorField(t); !strings.HasPrefix(field, "spec.fields.v") {
			t.Errorf("invalid spec field %q: %s", field, a.Body)
		}
		a = s.api(t, "PUT", R, "/v1/indexes/"+idx2, scSidecarSpec(scSidecarDim))
		scExpect(t, a, 200)
		a = s.api(t, "GET", R, "/v1/indexes/"+idx, nil)
		scExpect(t, a, 200)
		var got struct {
			Spec        struct{ Fields map[string]json.RawMessage } `json:"spec"`
			AppliedSpec *json.RawMessage                            `json:"applied_spec"`
			Plan        *struct {
				Changes []json.RawMessage
			} `json:"plan"`
			Memory struct{ Fields []json.RawMessage } `json:"memory"`
		}
		a.json(t, &got)
		if len(got.Spec.Fields) != 4 || got.AppliedSpec == nil || got.Plan == nil || len(got.Plan.Changes) != 0 || len(got.Memory.Fields) != 1 {
			t.Errorf("GET index: %s", a.Body)
		}
	})

	r := rand.New(rand.NewPCG(1, 2))
	vecs := make([][]float32, 50)
	for i := range vecs {
		vecs[i] = scUnitVector(r, scSidecarDim)
	}
	const D = "/v1/indexes/{name}/documents"
	t.Run("documents", func(t *testing.T) {
		var docs []map[string]any
		for i, v := range vecs {
			docs = append(docs, map[string]any{"id": fmt.Sprintf("d%02d", i), "embedding": v, "text": fmt.Sprintf("document number %d about topic%d", i, i%5), "tag": fmt.Sprintf("t%d", i%3)})
		}
		a := s.api(t, "POST", D, "/v1/indexes/"+idx+"/documents?refresh=wait_for", docs)
		scExpect(t, a, 200)
		var res struct {
			Indexed, Rejected int
			Items             []struct{ ID, Status string }
		}
		a.json(t, &res)
		if res.Indexed != 50 || res.Rejected != 0 || len(res.Items) != 50 || res.Items[7].ID != "d07" || res.Items[7].Status != "indexed" {
			t.Fatalf("documents: %s", a.Body)
		}
		// NDJSON with one bad document: the others go in, 207 names it.
		nd := fmt.Sprintf("{\"id\":\"n1\",\"embedding\":%s,\"text\":\"ndjson one\"}\n{\"id\":\"n2\",\"embedding\":[1,2]}\nnot json\n{\"id\":\"n3\",\"embedding\":%s}\n",
			scMustJSON(vecs[0]), scMustJSON(vecs[1]))
		a = s.call(t, "POST", D, "/v1/indexes/"+idx2+"/documents?refresh=true", "application/x-ndjson", nd, s.Token)
		scExpect(t, a, 207)
		var res2 struct {
			Indexed, Rejected int
			Items             []struct {
				Position                  int
				ID, Status, Stage, Reason string
			}
		}
		a.json(t, &res2)
		if res2.Indexed != 2 || res2.Rejected != 2 || res2.Items[1].Status != "rejected" || res2.Items[1].Stage != "check" ||
			res2.Items[2].Stage != "read" || res2.Items[3].Status != "indexed" {
			t.Fatalf("ndjson: %s", a.Body)
		}
		a = s.api(t, "POST", D, "/v1/indexes/"+idx+"/documents", `[{"id": 1, "embedding": "x"}`)
		scExpect(t, a, 400)
		a = s.api(t, "POST", D, "/v1/indexes/nope-"+idx+"/documents", `[]`)
		scExpect(t, a, 404)
		a = s.api(t, "POST", D, "/v1/indexes/"+idx+"/documents?vector_field=nope", `[{"text":"x"}]`)
		scExpect(t, a, 400)
		if _, f := a.errorField(t); f != "?vector_field" {
			t.Errorf("field %q", f)
		}
		if scModelDir(t) != "" {
			s.waitReady(t, true)
			a = s.api(t, "POST", D, "/v1/indexes/"+idx2+"/documents?refresh=true", `{"documents": [{"id": "txt", "text": "a text with no vector"}]}`)
			// The model gives 384 dimensions, the field has 8: 400 naming it.
			scExpect(t, a, 400)
			if _, f := a.errorField(t); f != "?vector_field" {
				t.Errorf("dimension mismatch field %q: %s", f, a.Body)
			}
		}
	})

	const S = "/v1/indexes/{name}/search"
	t.Run("search", func(t *testing.T) {
		a := s.api(t, "POST", S, "/v1/indexes/"+idx+"/search", map[string]any{"vector": vecs[3], "k": 5, "explain": true})
		scExpect(t, a, 200)
		var sr server.SearchResponse
		a.json(t, &sr)
		if sr.Mode != "knn" || len(sr.Hits) != 5 || sr.Hits[0].ID != "d03" {
			t.Fatalf("knn: %s", a.Body)
		}
		if sim := sr.Hits[0].Explain["knn"].Similarity; sim == nil || math.Abs(*sim-1) > 1e-4 {
			t.Errorf("self similarity %v", sim)
		}
		if bytes.Contains(sr.Hits[0].Source, []byte("embedding")) {
			t.Error("vectors returned in _source by default")
		}
		a = s.api(t, "POST", S, "/v1/indexes/"+idx+"/search", map[string]any{"query": "topic2", "mode": "bm25", "k": 100})
		scExpect(t, a, 200)
		a.json(t, &sr)
		if len(sr.Hits) != 10 {
			t.Errorf("bm25 topic2: %d hits, want 10", len(sr.Hits))
		}
		// Hybrid with a vector and a text, filter, threshold in cosine units.
		a = s.api(t, "POST", S, "/v1/indexes/"+idx+"/search", map[string]any{"query": "topic2", "vector": vecs[7], "k": 5,
			"filter": map[string]any{"term": map[string]any{"tag": "t1"}}, "min_similarity": 0.5, "explain": true,
			"fusion": map[string]any{"weights": []float64{0.5, 0.5}}})
		scExpect(t, a, 200)
		a.json(t, &sr)
		if sr.Mode != "hybrid" || len(sr.Hits) == 0 || sr.Hits[0].ID != "d07" {
			t.Fatalf("hybrid: %s", a.Body)
		}
		for _, h := range sr.Hits {
			if sim := h.Explain["knn"].Similarity; sim == nil || *sim < 0.5 {
				t.Errorf("hit %s below min_similarity: %v", h.ID, sim)
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(h.ID, "d"))
			if n%3 != 1 {
				t.Errorf("hit %s outside the filter", h.ID)
			}
		}
		// Multi-index: the same vector is d00 in idx and n1 in idx2.
		a = s.api(t, "POST", "/v1/search", "/v1/search", map[string]any{"indexes": []string{idx, idx2}, "vector": vecs[0], "k": 3})
		scExpect(t, a, 200)
		a.json(t, &sr)
		seen := map[string]bool{}
		for _, h := range sr.Hits[:2] {
			seen[h.Index+"/"+h.ID] = true
		}
		if !seen[idx+"/d00"] || !seen[idx2+"/n1"] {
			t.Errorf("multi-index: %s", a.Body)
		}
		// Errors.
		for _, c := range []struct {
			body  any
			field string
		}{
			{map[string]any{"vector": vecs[0][:3]}, "vector"},
			{map[string]any{"vector": vecs[0], "k": -1}, "k"},
			{map[string]any{"query": "x", "mode": "fuzzy"}, "mode"},
			{map[string]any{"query": "x", "vector": vecs[0], "fusion": map[string]any{"weights": []float64{0.9, 0.9}}}, "fusion.weights"},
			{`{"query": "x", "kk": 3}`, "kk"},
		} {
			a = s.api(t, "POST", S, "/v1/indexes/"+idx+"/search", c.body)
			scExpect(t, a, 400)
			if _, f := a.errorField(t); f != c.field {
				t.Errorf("%v: field %q, want %q (%s)", c.body, f, c.field, a.Body)
			}
		}
		a = s.api(t, "POST", S, "/v1/indexes/nope-"+idx+"/search", map[string]any{"vector": vecs[0]})
		scExpect(t, a, 404)
		a = s.api(t, "POST", "/v1/search", "/v1/search", map[string]any{"indexes": []string{idx, "nope-" + idx}, "vector": vecs[0]})
		scExpect(t, a, 404)
	})

	t.Run("embed", func(t *testing.T) {
		a := s.api(t, "POST", "/v1/embed", "/v1/embed", `{"texts": []}`)
		scExpect(t, a, 400)
		if scModelDir(t) == "" {
			t.Skip("no embedding model (make model): the embed happy path is not run")
		}
		s.waitReady(t, true)
		a = s.api(t, "POST", "/v1/embed", "/v1/embed", map[string]any{"texts": []string{"a cat", "a dog"}})
		scExpect(t, a, 200)
		var er struct {
			Dimension int
			Vectors   [][]float32
		}
		a.json(t, &er)
		if er.Dimension != 384 || len(er.Vectors) != 2 || len(er.Vectors[1]) != 384 {
			t.Errorf("embed: dim %d, %d vectors", er.Dimension, len(er.Vectors))
		}
	})

	t.Run("train", func(t *testing.T) {
		a := s.api(t, "POST", "/v1/train", "/v1/train", map[string]any{"name": "sc", "source": map[string]any{"index": idx}, "nlist": []int{4}, "queries": 10, "target_recall": 0.5})
		scExpect(t, a, 200)
		var tr struct {
			Codebook string
			Vectors  int
			Report   struct{ Points []json.RawMessage }
		}
		a.json(t, &tr)
		if tr.Vectors != 50 || len(tr.Report.Points) == 0 {
			t.Fatalf("train: %s", a.Body)
		}
		if tr.Codebook != "" {
			if st, err := os.Stat(tr.Codebook); err != nil || st.Size() == 0 {
				t.Errorf("codebook %s: %v", tr.Codebook, err)
			}
		}
		a = s.api(t, "POST", "/v1/train", "/v1/train", map[string]any{"name": "sc", "source": map[string]any{"file": "x.fvecs"}, "nlist": []int{4}})
		scExpect(t, a, 403)
		a = s.api(t, "POST", "/v1/train", "/v1/train", map[string]any{"name": "sc", "source": map[string]any{"index": "nope-" + idx}, "nlist": []int{4}})
		scExpect(t, a, 404)
	})

	t.Run("readyz", func(t *testing.T) {
		a := s.call(t, "GET", "/readyz", "/readyz", "", nil, "")
		if a.Status != 200 && a.Status != 503 {
			t.Errorf("readyz %d", a.Status)
		}
	})

	t.Run("openapi", func(t *testing.T) { checkObservedAgainstOpenAPI(t) })
}

func scMustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// openAPIOperations reads openapi.yaml's paths: path -> method -> operation.
func openAPIOperations() (map[string]map[string]json.RawMessage, error) {
	js, err := yaml.YAMLToJSON(server.OpenAPI)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	return doc.Paths, nil
}

// checkObservedAgainstOpenAPI: every route the real server was called on
// is documented, with every status it answered. (That every documented
// route was called is checked once all tests ran: uncalledOpenAPIRoutes.)
func checkObservedAgainstOpenAPI(t *testing.T) {
	paths, err := openAPIOperations()
	if err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Responses map[string]json.RawMessage `json:"responses"`
	}
	scObserved.Lock()
	defer scObserved.Unlock()
	var keys []string
	for k := range scObserved.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		raw, ok := paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s was called but is not documented", k)
			continue
		}
		var op operation
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for st := range scObserved.m[k] {
			if _, ok := op.Responses[strconv.Itoa(st)]; !ok {
				t.Errorf("%s answered %d, which openapi.yaml does not document", k, st)
			}
		}
	}
}

// uncalledOpenAPIRoutes lists the documented routes no test called.
func uncalledOpenAPIRoutes() ([]string, error) {
	paths, err := openAPIOperations()
	if err != nil {
		return nil, err
	}
	scObserved.Lock()
	defer scObserved.Unlock()
	var missing []string
	for path, item := range paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			if _, ok := scObserved.m[strings.ToUpper(method)+" "+path]; !ok {
				missing = append(missing, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// TestSidecarClusterDown: a sidecar whose cluster is unreachable answers
// 503 quickly (never a hang, never a 500) and is not ready.
func TestSidecarClusterDown(t *testing.T) {
	c := Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	s := startSidecar(t, c, "KNNBRIDGE_OPENSEARCH_URLS="+dead, "KNNBRIDGE_OPENSEARCH_MAX_RETRIES=1")
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/indexes/x", nil},
		{"POST", "/v1/indexes/x/search", map[string]any{"vector": []float32{1, 2}}},
		{"POST", "/v1/indexes/x/documents", `[{"vector":[1,2]}]`},
		{"POST", "/v1/search", map[string]any{"indexes": []string{"x"}, "query": "y"}},
	} {
		start := time.Now()
		a := s.api(t, tc.method, "", tc.path, tc.body)
		if a.Status != 503 {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, a.Status, a.Body)
		} else if code, _ := a.errorField(t); code != "cluster_unavailable" {
			t.Errorf("%s %s: code %s", tc.method, tc.path, code)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s %s took %s with the cluster down", tc.method, tc.path, d)
		}
	}
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("readyz with the cluster down: %d", resp.StatusCode)
	}
}

// TestSidecarGracefulShutdown: requests in flight when SIGTERM arrives
// complete with their normal scAnswer, the process exits 0, and new
// connections are refused.
func TestSidecarGracefulShutdown(t *testing.T) {
	c := Start(t)
	s := startSidecar(t, c, "KNNBRIDGE_SHUTDOWN_TIMEOUT=60s")
	s.waitReady(t, false)
	idx := c.Index(t, "sidecar-shutdown")
	scExpect(t, s.api(t, "PUT", "", "/v1/indexes/"+idx, scSidecarSpec(32)), 200)
	// A training request over 2,000 vectors with several settings runs
	// long enough (seconds) to be in flight when the signal comes.
	r := rand.New(rand.NewPCG(3, 4))
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sb, "{\"embedding\":%s}\n", scMustJSON(scUnitVector(r, 32)))
	}
	a := s.call(t, "POST", "", "/v1/indexes/"+idx+"/documents?refresh=true", "application/x-ndjson", sb.String(), s.Token)
	scExpect(t, a, 200)

	// The training requests run in goroutines, so they must not use the
	// t.Fatal helpers: a Goexit there would leave the result unsent and the
	// test waiting forever (this hung CI for an hour).
	const inflight = 3
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, inflight)
	for i := 0; i < inflight; i++ {
		body := scMustJSON(map[string]any{"name": fmt.Sprintf("shutdown%d", i), "source": map[string]any{"index": idx, "sample": 2000},
			"nlist": []int{16, 32}, "m": []int{0, 8}, "nprobe": []int{1, 4}, "queries": 50, "target_recall": 0.99})
		go func() {
			req, _ := http.NewRequest("POST", s.URL+"/v1/train", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+s.Token)
			resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{status: resp.StatusCode, body: string(b)}
		}()
	}
	// Wait until all three training requests are being served: the gauge
	// counts the /metrics request too. A request still being dialled when
	// the signal comes would rightly be refused, so the signal waits for
	// all of them (or for one to finish early, which ends the wait too).
	deadline := time.Now().Add(60 * time.Second)
	finished := 0
	var early []result
wait:
	for {
		select {
		case r := <-results:
			finished++
			early = append(early, r)
			break wait
		default:
		}
		if n := scInFlight(t, s); n >= inflight+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the training requests never got in flight together")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < inflight; i++ {
		var r result
		if i < finished {
			r = early[i]
		} else {
			select {
			case r = <-results:
			case <-time.After(6 * time.Minute):
				t.Fatalf("in-flight request %d never answered after SIGTERM", i)
			}
		}
		if r.err != nil {
			t.Errorf("in-flight request %d failed: %v", i, r.err)
		} else if r.status != 200 {
			t.Errorf("in-flight request %d answered %d: %s", i, r.status, r.body)
		}
	}
	t.Logf("in-flight requests finished %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("sidecar exit: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("sidecar did not exit after SIGTERM")
	}
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Error("the stopped sidecar still accepts connections")
	}
	if !strings.Contains(s.log(), "shutting down") || !strings.Contains(s.log(), `"msg":"stopped"`) {
		t.Errorf("shutdown not logged:\n%s", s.log())
	}
}

var scInFlightRe = regexp.MustCompile(`(?m)^knnbridge_http_in_flight_requests (\d+)`)

func scInFlight(t testing.TB, s *sidecar) int {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := scInFlightRe.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestSidecarLoad: 32 concurrent clients searching for
// KNNBRIDGE_SIDECAR_LOADTEST_DURATION (default 60s) on loopback; zero
// errors; prints p50/p99. Runs only with KNNBRIDGE_SIDECAR_LOADTEST=1
// (`make demo-sidecar-load`) so that CI stays short.
func TestSidecarLoad(t *testing.T) {
	if os.Getenv("KNNBRIDGE_SIDECAR_LOADTEST") != "1" {
		t.Skip("set KNNBRIDGE_SIDECAR_LOADTEST=1 (make demo-sidecar-load) to run the 60-second load test")
	}
	dur := 60 * time.Second
	if v := os.Getenv("KNNBRIDGE_SIDECAR_LOADTEST_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	c := Start(t)
	useText := scModelDir(t) != ""
	s := startSidecar(t, c, "KNNBRIDGE_LOG_LEVEL=warn")
	s.waitReady(t, useText)
	dim := 384
	idx := c.Index(t, "sidecar-load")
	scExpect(t, s.api(t, "PUT", "", "/v1/indexes/"+idx, scSidecarSpec(dim)), 200)
	r := rand.New(rand.NewPCG(5, 6))
	words := strings.Fields("ocean river mountain forest city music science history animal plant machine language game food weather travel health money art sport")
	var sb strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, "{\"id\":\"%d\",\"embedding\":%s,\"text\":\"%s %s %s\"}\n", i, scMustJSON(scUnitVector(r, dim)), words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	scExpect(t, s.call(t, "POST", "", "/v1/indexes/"+idx+"/documents?refresh=true", "application/x-ndjson", sb.String(), s.Token), 200)

	const clients = 32
	var mu sync.Mutex
	var lat []time.Duration
	errs := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rr := rand.New(rand.NewPCG(uint64(w), 7))
			for ctx.Err() == nil {
				body := map[string]any{"k": 10, "query": words[rr.IntN(len(words))] + " " + words[rr.IntN(len(words))]}
				if !useText {
					body["vector"] = scUnitVector(rr, dim)
				}
				js, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", s.URL+"/v1/indexes/"+idx+"/search", bytes.NewReader(js))
				req.Header.Set("Authorization", "Bearer "+s.Token)
				t0 := time.Now()
				resp, err := hc.Do(req)
				d := time.Since(t0)
				key := ""
				if err != nil {
					key = err.Error()
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						key = strconv.Itoa(resp.StatusCode)
					}
				}
				mu.Lock()
				if key != "" {
					errs[key]++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	mode := "hybrid (text embedded per query)"
	if !useText {
		mode = "hybrid with vectors (no model)"
	}
	t.Logf("LOAD %d clients, %s, %s: %d searches (%.0f/s), p50 %s, p90 %s, p99 %s, max %s, errors %v",
		clients, el.Round(time.Second), mode, len(lat), float64(len(lat))/el.Seconds(),
		pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond), errs)
	scLogMeans(t, s)
	if len(errs) > 0 {
		t.Errorf("errors under load: %v", errs)
	}
	if len(lat) == 0 {
		t.Fatal("no search succeeded")
	}
}

// scLogMeans logs where the time went, from the sidecar's own histograms:
// mean search latency (the searcher's OpenSearch round trips), mean embedding call latency and mean
// texts per embedding call.
func scLogMeans(t *testing.T, s *sidecar) {
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Log(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	val := func(prefix string) float64 {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, prefix) {
				f := strings.Fields(line)
				x, _ := strconv.ParseFloat(f[len(f)-1], 64)
				return x
			}
		}
		return math.NaN()
	}
	ms := val(`knnbridge_opensearch_request_duration_seconds_sum{op="search",outcome="ok"}`) / val(`knnbridge_opensearch_request_duration_seconds_count{op="search",outcome="ok"}`)
	es := val(`knnbridge_embed_duration_seconds_sum`) / val(`knnbridge_embed_duration_seconds_count`)
	bs := val(`knnbridge_embed_batch_size_sum`) / val(`knnbridge_embed_batch_size_count`)
	t.Logf("LOAD sidecar means: search (OpenSearch) %.0f ms, embedding call %.0f ms, %.1f texts per embedding call", ms*1000, es*1000, bs)
}

var (
	scRouterOnce sync.Once
	scRouter     routers.Router
	scRouterErr  error
)

// scValidate checks one answer of the real server against the documented
// response: status, content type and JSON schema (kin-openapi).
func scValidate(t testing.TB, req *http.Request, status int, header http.Header, body []byte) error {
	scRouterOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(server.OpenAPI)
		if err != nil {
			scRouterErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://sidecar.test"}}
		scRouter, scRouterErr = gorillamux.NewRouter(doc)
	})
	if scRouterErr != nil {
		return scRouterErr
	}
	r := req.Clone(context.Background())
	r.URL.Host, r.Host = "sidecar.test", "sidecar.test" // every test's sidecar has its own port
	route, params, err := scRouter.FindRoute(r)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// TestBenchCommand runs `knnbridge bench` against a real index: recall
// against exact ground truth per ef_search, JSON output and the PNG plot.
func TestBenchCommand(t *testing.T) {
	c := Start(t)
	s := startSidecar(t, c)
	s.waitReady(t, false)
	idx := c.Index(t, "bench")
	scExpect(t, s.api(t, "PUT", "", "/v1/indexes/"+idx, scSidecarSpec(16)), 200)
	r := rand.New(rand.NewPCG(7, 8))
	var sb strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&sb, "{\"id\":\"b%d\",\"embedding\":%s}\n", i, scMustJSON(scUnitVector(r, 16)))
	}
	scExpect(t, s.call(t, "POST", "", "/v1/indexes/"+idx+"/documents?refresh=true", "application/x-ndjson", sb.String(), s.Token), 200)
	png := filepath.Join(t.TempDir(), "bench.png")
	cmd := exec.Command(scKnnbridgeBinary(t), "bench", "--index", idx, "--queries", "20", "--ef", "10,100", "--png", png, "-o", "json")
	cmd.Env = append(os.Environ(), "KNNBRIDGE_OPENSEARCH_URLS="+c.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Docs   int64 `json:"documents"`
		Points []struct {
			EfSearch int     `json:"ef_search"`
			Recall   float64 `json:"recall_at_k"`
			P50      float64 `json:"p50_ms"`
		} `json:"points"`
		PNG string `json:"png"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench -o json: %v: %s", err, out)
	}
	if rep.Docs != 300 || len(rep.Points) != 2 || rep.PNG != png {
		t.Fatalf("bench report: %s", out)
	}
	for _, p := range rep.Points {
		if p.Recall < 0 || p.Recall > 1 || p.P50 <= 0 {
			t.Errorf("point %+v", p)
		}
	}
	// 300 vectors and ef_search 100: HNSW should find (nearly) the exact
	// neighbours.
	if rep.Points[1].Recall < 0.9 {
		t.Errorf("recall@10 at ef_search=100 on 300 docs: %.3f", rep.Points[1].Recall)
	}
	if b, err := os.ReadFile(png); err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Errorf("plot: %v", err)
	}
}
