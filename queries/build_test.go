package queries

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKNNBody(t *testing.T) {
	ef := 5.0
	q := KNN{
		Field: "v", Vector: []float32{1, 0.5}, K: 3,
		Filter: json.RawMessage(`{"term":{"tag":"x"}}`), Engine: EngineLucene,
		EfSearch: 64, NProbes: 8, OversampleFactor: &ef,
		Source: &Source{Includes: []string{"title"}},
	}
	b, err := q.Body()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_source":{"includes":["title"]},"query":{"knn":{"v":{"filter":{"term":{"tag":"x"}},"k":3,"method_parameters":{"ef_search":64,"nprobes":8},"rescore":{"oversample_factor":5},"vector":[1,0.5]}}},"size":3}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	// nmslib has no efficient filter: a bool post-filter.
	q = KNN{Field: "v", Vector: []float32{1}, K: 2, Filter: json.RawMessage(`{"term":{"t":1}}`), Engine: EngineNmslib, Source: &Source{Disabled: true}}
	b, _ = q.Body()
	want = `{"_source":false,"query":{"bool":{"filter":[{"term":{"t":1}}],"must":[{"knn":{"v":{"k":2,"vector":[1]}}}]}},"size":2}`
	if string(b) != want {
		t.Fatalf("nmslib: %s", b)
	}
	// Radial: min_score, size defaults to MaxK; nested wrapping.
	ms := 0.9
	q = KNN{Field: "p.v", Vector: []float32{1}, MinScore: &ms, Nested: "p", ExpandNestedDocs: true}
	b, _ = q.Body()
	want = `{"query":{"nested":{"path":"p","query":{"knn":{"p.v":{"expand_nested_docs":true,"min_score":0.9,"vector":[1]}}},"score_mode":"max"}},"size":10000}`
	if string(b) != want {
		t.Fatalf("radial nested: %s", b)
	}
	md := 2.5
	b, _ = KNN{Field: "v", Vector: []float32{1}, MaxDistance: &md, Size: 50}.Body()
	if !strings.Contains(string(b), `"max_distance":2.5`) || !strings.Contains(string(b), `"size":50`) {
		t.Fatalf("max_distance: %s", b)
	}
	bad := []KNN{
		{Vector: []float32{1}, K: 1},
		{Field: "v", K: 1},
		{Field: "v", Vector: []float32{1}},
		{Field: "v", Vector: []float32{1}, K: 1, MinScore: &ms},
		{Field: "v", Vector: []float32{1}, K: 10001},
		{Field: "v", Vector: []float32{1}, K: 1, Filter: json.RawMessage(`[1]`)},
		{Field: "v", Vector: []float32{float32(ef) / 0 * 0}, K: 1},
	}
	for i, q := range bad {
		if _, err := q.Body(); err == nil {
			t.Errorf("bad[%d] accepted", i)
		}
	}
}

func TestExactBody(t *testing.T) {
	ms := 1.8
	b, err := Exact{Field: "v", Vector: []float32{1, 2}, Space: SpaceCosine, Size: 5, MinScore: &ms, Filter: json.RawMessage(`{"term":{"t":1}}`)}.Body()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"min_score":1.8,"query":{"script_score":{"query":{"bool":{"filter":[{"term":{"t":1}}]}},"script":{"lang":"knn","params":{"field":"v","query_value":[1,2],"space_type":"cosinesimil"},"source":"knn_score"}}},"size":5}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = Exact{Field: "v", Vector: []float32{1}, Space: SpaceL2, Size: 1}.Body()
	if !strings.Contains(string(b), `"match_all":{}`) {
		t.Fatalf("no filter: %s", b)
	}
	if _, err := (Exact{Field: "v", Vector: []float32{1}, Space: "dot", Size: 1}).Body(); err == nil {
		t.Error("bad space accepted")
	}
	if _, err := (Exact{Field: "v", Vector: []float32{1}, Space: SpaceL2}).Body(); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestBM25Body(t *testing.T) {
	b, err := BM25{Text: "red fox", Fields: []TextField{{Name: "title", Boost: 2}}, Operator: "AND", Fuzziness: "AUTO", Size: 20}.Body()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"query":{"match":{"title":{"boost":2,"fuzziness":"AUTO","operator":"and","query":"red fox"}}},"size":20}`
	if string(b) != want {
		t.Fatalf("match: %s", b)
	}
	fields, err := ParseTextFields("title^2, body")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = BM25{Text: "red fox", Fields: fields, MinimumShouldMatch: "75%", Filter: json.RawMessage(`{"term":{"t":1}}`)}.Body()
	want = `{"query":{"bool":{"filter":[{"term":{"t":1}}],"must":[{"multi_match":{"fields":["title^2","body"],"minimum_should_match":"75%","query":"red fox"}}]}},"size":10}`
	if string(b) != want {
		t.Fatalf("multi_match: %s", b)
	}
	for _, s := range []string{"", "title^x", "^2", "a^-1"} {
		if _, err := ParseTextFields(s); err == nil {
			t.Errorf("fields %q accepted", s)
		}
	}
	for _, q := range []BM25{{Fields: fields}, {Text: "x"}, {Text: "x", Fields: fields, Operator: "xor"}} {
		if _, err := q.Body(); err == nil {
			t.Errorf("%+v accepted", q)
		}
	}
}

func TestMSearchBody(t *testing.T) {
	b, err := MSearchBody([]string{"a", "b"}, []byte(`{"size":1}`), []byte(`{"size":2}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"index\":\"a,b\"}\n{\"size\":1}\n{\"index\":\"a,b\"}\n{\"size\":2}\n"
	if string(b) != want {
		t.Fatalf("%q", b)
	}
	if _, err := MSearchBody(nil, []byte(`{}`)); err == nil {
		t.Error("no index accepted")
	}
	if _, err := MSearchBody([]string{"a"}, []byte("{\n}")); err == nil {
		t.Error("newline accepted")
	}
}

// NoTotal asks the node not to count hits (track_total_hits false).
func TestBodiesNoTotal(t *testing.T) {
	bm, err := BM25{Text: "x", Fields: []TextField{{Name: "body"}}, NoTotal: true}.Body()
	if err != nil {
		t.Fatal(err)
	}
	kn, err := KNN{Field: "v", Vector: []float32{1}, K: 3, NoTotal: true}.Body()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := Exact{Field: "v", Vector: []float32{1}, Space: SpaceL2, Size: 3, NoTotal: true}.Body()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{bm, kn, ex} {
		if !strings.Contains(string(b), `"track_total_hits":false`) {
			t.Errorf("no track_total_hits: %s", b)
		}
	}
	plain, _ := BM25{Text: "x", Fields: []TextField{{Name: "body"}}}.Body()
	if strings.Contains(string(plain), "track_total_hits") {
		t.Errorf("track_total_hits without NoTotal: %s", plain)
	}
}
