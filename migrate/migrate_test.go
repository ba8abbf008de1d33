package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/ingest"
	"github.com/knnbridge/knnbridge/mapping"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test ./migrate -update)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./migrate -update to accept):\n--- got\n%s", name, got)
	}
}

func indentJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nmslibPlan plans the nmslib -> lucene migration of the fixture: the
// GET _mapping / _settings answers of a 2.19 nmslib index, which cannot
// be created on a cluster without the k-NN natives.
func nmslibPlan(t *testing.T, in PlanInput) *Plan {
	t.Helper()
	live, err := mapping.ParseLive("products-v1", readFile(t, "nmslib_mapping.json"), readFile(t, "nmslib_settings.json"), mapping.V2_19)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := mapping.Load(readFile(t, "lucene_target.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	in.Alias, in.Source, in.Target, in.Version = "products", live, spec, mapping.V2_19
	if in.Docs == 0 {
		in.Docs, in.Shards = 1_000_000, 3
	}
	p, err := BuildPlan(in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNmslibToLucenePlanGolden(t *testing.T) {
	p := nmslibPlan(t, PlanInput{})
	if p.Target != "products-v2" || p.Mode != ModeCopy || p.VectorField != "embedding" {
		t.Fatalf("target %s mode %s field %s", p.Target, p.Mode, p.VectorField)
	}
	if p.SourceVector.Engine != "nmslib" || p.TargetVector.Engine != "lucene" {
		t.Fatalf("engines %s -> %s", p.SourceVector.Engine, p.TargetVector.Engine)
	}
	want := []string{"engine: nmslib -> lucene", "m: 16 -> 32", "ef_construction: 512 -> 256", "vectors: copied unchanged"}
	for _, w := range want {
		if !strings.Contains(strings.Join(p.Summary, "\n"), w) {
			t.Errorf("summary lacks %q: %v", w, p.Summary)
		}
	}
	if *p.TargetSpec.Settings.Shards != 3 || *p.TargetSpec.Settings.Replicas != 1 {
		t.Errorf("shards/replicas not carried from the source: %+v", p.TargetSpec.Settings)
	}
	golden(t, "nmslib_to_lucene.plan.json", indentJSON(t, p))
}

func TestNmslibToLuceneRequestsGolden(t *testing.T) {
	p := nmslibPlan(t, PlanInput{})
	r, err := p.Requests()
	if err != nil {
		t.Fatal(err)
	}
	// The create body must carry the load-time settings and the lucene
	// method exactly as the plugin takes it.
	var create struct {
		Settings struct {
			Index map[string]any `json:"index"`
		} `json:"settings"`
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(r.CreateTarget, &create); err != nil {
		t.Fatal(err)
	}
	if create.Settings.Index["refresh_interval"] != "-1" || create.Settings.Index["number_of_replicas"] != float64(0) {
		t.Errorf("load settings missing: %v", create.Settings.Index)
	}
	if !bytes.Contains(create.Mappings.Properties["embedding"], []byte(`"engine":"lucene"`)) {
		t.Errorf("embedding mapping: %s", create.Mappings.Properties["embedding"])
	}
	golden(t, "nmslib_to_lucene.requests.json", indentJSON(t, r))
}

type fakeEmbedder struct{ dim int }

func (f fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v := make([]float32, f.dim)
		for j := range v {
			v[j] = float32(len(s)+j) / 7
		}
		out[i] = v
	}
	return out, nil
}
func (f fakeEmbedder) Dimension() int    { return f.dim }
func (f fakeEmbedder) ModelName() string { return "fake" }

func TestPlanReembedAndErrors(t *testing.T) {
	p := nmslibPlan(t, PlanInput{Model: "fake", ModelDimension: 384, TextField: "title"})
	if p.Mode != ModeReembed || p.EstimatedSeconds != 1e6/DefaultReembedRate {
		t.Fatalf("mode %s est %v", p.Mode, p.EstimatedSeconds)
	}
	live, _ := mapping.ParseLive("products-v1", readFile(t, "nmslib_mapping.json"), readFile(t, "nmslib_settings.json"), mapping.V2_19)
	spec, _ := mapping.Load(readFile(t, "lucene_target.yaml"))
	base := PlanInput{Alias: "products", Source: live, Target: spec, Version: mapping.V2_19}
	cases := map[string]func(in *PlanInput){
		"no alias":        func(in *PlanInput) { in.Alias = "" },
		"no text field":   func(in *PlanInput) { in.Model, in.ModelDimension = "fake", 384 },
		"unknown text":    func(in *PlanInput) { in.Model, in.ModelDimension, in.TextField = "fake", 384, "body" },
		"model dimension": func(in *PlanInput) { in.Model, in.ModelDimension, in.TextField = "fake", 768, "title" },
		"copy dimension": func(in *PlanInput) {
			s := spec.Clone()
			s.Fields["embedding"].Dimension = mapping.Int(768)
			in.Target = s
		},
		"unknown vector": func(in *PlanInput) { in.VectorField = "nope" },
	}
	for name, mod := range cases {
		in := base
		mod(&in)
		if _, err := BuildPlan(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestNextName(t *testing.T) {
	for in, want := range map[string]string{"docs-v3": "docs-v4", "docs": "docs-v2", "a-v": "a-v-v2", "x-v09": "x-v10"} {
		if got := NextName(in); got != want {
			t.Errorf("NextName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExternalVersionOrdersWrites(t *testing.T) {
	a, _ := ExternalVersion(1, 1<<39)
	b, _ := ExternalVersion(2, 0) // after a fail-over, a smaller seq_no
	c, _ := ExternalVersion(2, 1)
	if !(a < b && b < c) {
		t.Fatalf("versions not ordered: %d %d %d", a, b, c)
	}
	if _, err := ExternalVersion(0, 1); err == nil {
		t.Error("term 0 accepted")
	}
	if _, err := ExternalVersion(1, 1<<40); err == nil {
		t.Error("seq_no 2^40 accepted")
	}
	if _, err := ExternalVersion(1<<23, 1); err == nil {
		t.Error("term 2^23 accepted")
	}
	if v, err := ExternalVersion(1<<23-1, 1<<40-1); err != nil || v <= 0 {
		t.Errorf("max version %d %v", v, err)
	}
}

func TestTransformReembed(t *testing.T) {
	docs := []Doc{
		{ID: "a", Source: json.RawMessage(`{"title":"hello","embedding":[1,2],"n":1.50}`)},
		{ID: "b", Source: json.RawMessage(`{"meta":{"t":"x"},"title":"hi"}`)},
	}
	tr := &Transformer{Mode: ModeReembed, VectorField: "embedding", TextField: "title", Embedder: fakeEmbedder{3}, Dimension: 3}
	if err := tr.Apply(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	v, ok, err := GetVector(docs[0].Source, "embedding")
	want, _ := fakeEmbedder{3}.Embed(context.Background(), []string{"hello"})
	if err != nil || !ok || MaxAbsDiff(v, want[0]) != 0 {
		t.Fatalf("vector %v %v %v want %v", v, ok, err, want[0])
	}
	if !bytes.Contains(docs[0].Source, []byte(`"n":1.50`)) {
		t.Errorf("other fields must keep their JSON text: %s", docs[0].Source)
	}
	if _, ok, _ := GetVector(docs[1].Source, "embedding"); !ok {
		t.Errorf("vector not added: %s", docs[1].Source)
	}
	// A document without its text is an error naming it.
	bad := []Doc{{ID: "z", Source: json.RawMessage(`{"embedding":[1]}`)}}
	if err := tr.Apply(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `"z"`) {
		t.Errorf("missing text: %v", err)
	}
	// Copy mode leaves the source bytes alone.
	cp := []Doc{{ID: "a", Source: json.RawMessage(`{"x" : 1}`)}}
	if err := (&Transformer{Mode: ModeCopy}).Apply(context.Background(), cp); err != nil || string(cp[0].Source) != `{"x" : 1}` {
		t.Errorf("copy changed the source: %s %v", cp[0].Source, err)
	}
}

func TestNewTransformerChecksEmbedder(t *testing.T) {
	p := &Plan{Mode: ModeReembed, Model: "fake", TextField: "t", VectorField: "v", TargetVector: mapping.VectorField{Dimension: 4}}
	if _, err := NewTransformer(p, nil); err == nil {
		t.Error("nil embedder accepted")
	}
	if _, err := NewTransformer(p, fakeEmbedder{3}); err == nil {
		t.Error("dimension mismatch accepted")
	}
	if _, err := NewTransformer(p, fakeEmbedder{4}); err != nil {
		t.Error(err)
	}
}

func TestPaths(t *testing.T) {
	src := json.RawMessage(`{"a":{"b":"x","n":null},"c.d":"flat","e":null}`)
	for path, want := range map[string]string{"a.b": "x", "c.d": "flat"} {
		if s, ok, err := GetString(src, path); err != nil || !ok || s != want {
			t.Errorf("%s: %q %v %v", path, s, ok, err)
		}
	}
	for _, path := range []string{"a.n", "e", "zz", "e.f"} {
		if _, ok, err := GetString(src, path); ok || err != nil {
			t.Errorf("%s: ok %v err %v", path, ok, err)
		}
	}
	if _, _, err := GetString(json.RawMessage(`{"a":1}`), "a"); err == nil {
		t.Error("number read as string")
	}
	out, err := SetPath(src, "a.v", json.RawMessage(`[1,2]`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := GetVector(out, "a.v"); !ok || len(v) != 2 {
		t.Errorf("SetPath: %s", out)
	}
	if s, _, _ := GetString(out, "a.b"); s != "x" {
		t.Errorf("SetPath lost a sibling: %s", out)
	}
}

func TestBulkEncoding(t *testing.T) {
	b, err := AppendIndex(nil, &Doc{ID: `q"1`, Routing: "r", Version: 7, Source: json.RawMessage("{\n  \"a\": 1\n}")})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":{"_id":"q\"1","routing":"r","version":7,"version_type":"external"}}` + "\n" + `{"a":1}` + "\n"
	if string(b) != want {
		t.Errorf("got %q want %q", b, want)
	}
	if _, err := AppendIndex(nil, &Doc{ID: "x", Source: json.RawMessage(`{"a":`)}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad source: %v", err)
	}
	d := AppendDelete(nil, "i", "", 9)
	if string(d) != `{"delete":{"_id":"i","version":9,"version_type":"external"}}`+"\n" {
		t.Errorf("delete %q", d)
	}
	for _, c := range []struct {
		it   ingest.ItemResult
		want Outcome
	}{
		{ingest.ItemResult{Status: 201}, Written},
		{ingest.ItemResult{Status: 409, Type: "version_conflict_engine_exception"}, Newer},
		{ingest.ItemResult{Status: 429}, Retry},
		{ingest.ItemResult{Status: 400, Type: "mapper_parsing_exception"}, Rejected},
	} {
		if got := Classify(c.it); got != c.want {
			t.Errorf("%+v: %v want %v", c.it, got, c.want)
		}
	}
}

func TestScanPageBodies(t *testing.T) {
	after, above, upto := int64(5), int64(1), int64(9)
	b, err := ScanPage{PIT: "p", KeepAlive: "1m", Shard: 1, Shards: 2, After: &after, Size: 10, IDsOnly: true}.Body()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"slice":{"id":1,"max":2}`, `"search_after":[5]`, `"_source":false`, `"version":true`, `"pit":{"id":"p","keep_alive":"1m"}`} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("%s lacks %s", b, w)
		}
	}
	b, _ = ScanPage{PIT: "p", Shard: 0, Shards: 1, Size: 10}.Body()
	if bytes.Contains(b, []byte("slice")) {
		t.Errorf("one shard needs no slice (max must be > 1): %s", b)
	}
	b, _ = ScanPage{Above: &above, UpTo: &upto, Size: 10}.Body()
	if !bytes.Contains(b, []byte(`"range":{"_seq_no":{"gt":1,"lte":9}}`)) || bytes.Contains(b, []byte("pit")) {
		t.Errorf("catch-up body %s", b)
	}
	if _, err := (ScanPage{PIT: "p", Shard: 2, Shards: 2, Size: 1}).Body(); err == nil {
		t.Error("shard out of range accepted")
	}
}

func TestStateMachine(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewState(&Plan{Alias: "a", Source: "a-v1", Target: "a-v2", Mode: ModeCopy}, now)
	if err := s.Advance(PhaseCutOver, "", now); err == nil {
		t.Fatal("cutover from planned accepted")
	}
	for _, p := range []Phase{PhaseBackfill, PhaseCatchUp, PhaseReady, PhaseCatchUp, PhaseReady, PhaseCutOver, PhaseRolledBack, PhaseCatchUp, PhaseReady, PhaseCutOver, PhaseCleanedUp} {
		if err := s.Advance(p, "", now); err != nil {
			t.Fatal(err)
		}
	}
	if s.Phase.Active() {
		t.Error("cleaned up is not active")
	}
	if err := s.Advance(PhaseRolledBack, "", now); err == nil {
		t.Error("rollback after cleanup accepted")
	}
	s2 := &State{Phase: PhaseBackfill, Total: 1000, Backfilled: 400, RunStartBackfilled: 100, RunStartedAt: now, UpdatedAt: now.Add(3 * time.Second)}
	s2.InitShards(2)
	s2.Shards[0].Done = true
	p := s2.Progress()
	if p.Rate != 100 || p.ETASeconds != 6 || p.Percent != 40 || p.ShardsDone != 1 {
		t.Errorf("progress %+v", p)
	}
}

func TestCompareDocs(t *testing.T) {
	src := json.RawMessage(`{"t":"x","n":1.50,"o":{"a":[1,2]},"v":[0.1,0.2]}`)
	same := json.RawMessage(`{"v":[0.1,0.2000001],"o":{"a":[1,2]},"n":1.5,"t":"x"}`)
	m, d, err := CompareDocs("d", src, same, CompareOptions{VectorField: "v", Tol: 1e-6})
	if err != nil || len(m) != 0 || d == 0 || d > 1e-6 {
		t.Fatalf("equal docs: %v %g %v", m, d, err)
	}
	diff := json.RawMessage(`{"t":"y","n":1.5,"o":{"a":[1,3]},"v":[0.1,0.3],"extra":true}`)
	m, _, _ = CompareDocs("d", src, diff, CompareOptions{VectorField: "v", Tol: 1e-6})
	fields := map[string]bool{}
	for _, x := range m {
		fields[x.Field] = true
	}
	for _, f := range []string{"t", "o.a", "v", "extra"} {
		if !fields[f] {
			t.Errorf("mismatch on %s not reported: %+v", f, m)
		}
	}
	m, _, _ = CompareDocs("d", src, diff, CompareOptions{VectorField: "v", SkipVector: true})
	for _, x := range m {
		if x.Field == "v" {
			t.Error("SkipVector compared the vector")
		}
	}
	if _, _, err := CompareDocs("d", json.RawMessage(`{`), src, CompareOptions{}); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestRecallOverlapJudge(t *testing.T) {
	truth := []string{"a", "b", "c", "d"}
	if r := RecallAtK([]string{"a", "x", "c", "d"}, truth, 4); r != 0.75 {
		t.Errorf("recall %v", r)
	}
	if r := RecallAtK([]string{"a", "a"}, []string{"a", "b"}, 2); r != 0.5 {
		t.Errorf("duplicates counted twice: %v", r)
	}
	if r := RecallAtK(nil, nil, 10); r != 1 {
		t.Errorf("empty truth %v", r)
	}
	if o := OverlapAtK([]string{"a", "b"}, []string{"b", "c"}, 2); o != 0.5 {
		t.Errorf("overlap %v", o)
	}
	v := &Verification{SourceCount: 10, TargetCount: 10, Queries: 5, K: 10, Recall: 0.95, RecallThreshold: 0.9, Overlap: 0.1}
	v.Judge()
	if !v.Pass {
		t.Errorf("should pass (overlap is not judged): %v", v.Problems)
	}
	v.TargetCount = 11
	v.Judge()
	if v.Pass {
		t.Error("count mismatch passed")
	}
	v.SourceChanging = true
	v.Judge()
	if !v.Pass {
		t.Error("count mismatch while the source is written must not fail")
	}
	v.Recall = 0.5
	v.Judge()
	if v.Pass || !strings.Contains(strings.Join(v.Problems, ";"), "recall") {
		t.Errorf("low recall: %v", v.Problems)
	}
	if !math.IsInf(MaxAbsDiff([]float32{1}, []float32{1, 2}), 1) {
		t.Error("length mismatch")
	}
}
