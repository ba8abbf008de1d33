package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/knnbridge/knnbridge/queries"
)

// fakeShortCluster stands in for an nmslib index on 2.18, whose filtered
// k-NN search post-filters and so comes back short (KNN #1043): the fault
// "k k-NN hits asked, fewer returned" is injected here because the lucene
// engine of the CI cluster does not produce it. knnFor maps the k of a knn
// query to the number of hits it returns.
func fakeShortCluster(t *testing.T, knnFor map[int]int, bodies *[]string) *httptest.Server {
	var mu sync.Mutex
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		*bodies = append(*bodies, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, `{"version":{"number":"2.18.0"}}`)
		case strings.HasSuffix(r.URL.Path, "/_mapping"):
			fmt.Fprint(w, `{"idx":{"mappings":{"properties":{"v":{"type":"knn_vector","dimension":2,"method":{"name":"hnsw","engine":"nmslib","space_type":"cosinesimil"}}}}}}`)
		case strings.HasSuffix(r.URL.Path, "/_count"):
			fmt.Fprint(w, `{"count":50}`)
		case strings.HasSuffix(r.URL.Path, "/_search"):
			var req struct {
				Size  int             `json:"size"`
				Query json.RawMessage `json:"query"`
			}
			_ = json.Unmarshal(body, &req)
			n := req.Size
			if !strings.Contains(string(req.Query), "script_score") {
				var k struct {
					Bool struct {
						Must []struct {
							KNN map[string]struct {
								K int `json:"k"`
							} `json:"knn"`
						} `json:"must"`
					} `json:"bool"`
				}
				_ = json.Unmarshal(req.Query, &k)
				n = min(knnFor[k.Bool.Must[0].KNN["v"].K], req.Size)
			}
			var hits []string
			for i := range n {
				// Scores on 2.18 nmslib ANN: 1/(2−cos); script: 1+cos. Both
				// decrease with i.
				hits = append(hits, fmt.Sprintf(`{"_index":"idx","_id":"d%d","_score":%g}`, i, 0.9-float64(i)*0.01))
			}
			fmt.Fprintf(w, `{"took":1,"hits":{"total":{"value":%d,"relation":"eq"},"hits":[%s]}}`, n, strings.Join(hits, ","))
		default:
			http.Error(w, `{"error":{"type":"x","reason":"unexpected `+r.URL.Path+`"}}`, 400)
		}
	}))
}

func TestKNNWidensThenFallsBackToExact(t *testing.T) {
	var bodies []string
	srv := fakeShortCluster(t, map[int]int{5: 2, 20: 3, 80: 4}, &bodies)
	defer srv.Close()
	c, err := NewClient(Config{URLs: []string{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewSearcher(c).Search(context.Background(), SearchRequest{Indices: []string{"idx"}, Mode: ModeKNN,
		VectorField: "v", Vector: []float32{1, 0}, K: 5, Filter: json.RawMessage(`{"term":{"t":1}}`)})
	if err != nil {
		t.Fatal(err)
	}
	k := res.KNN
	if k.Strategy != queries.KExact || fmt.Sprint(k.Attempts) != "[5 20 80]" || k.Matching != 50 || len(res.Results) != 5 {
		t.Fatalf("report %+v, %d results", k, len(res.Results))
	}
	// search, count, two widenings, exact.
	if res.RoundTrips != 5 {
		t.Errorf("%d round trips, want 5", res.RoundTrips)
	}
	// The exact answer is read on the pre-2.19 script scale (1 + cos).
	if sim := res.Results[0].Subs[0].Similarity; !strings.Contains(k.Scoring, "knn_score script") || sim < -0.1-1e-9 || sim > -0.1+1e-9 {
		t.Errorf("scoring %s, top similarity %v", k.Scoring, res.Results[0].Subs[0].Similarity)
	}
	var knnBodies int
	for _, b := range bodies {
		if strings.Contains(b, `"knn":{`) {
			knnBodies++
			// nmslib: the filter is a bool post-filter, size stays k.
			if !strings.Contains(b, `"bool":{"filter":[{"term":{"t":1}}]`) || !strings.Contains(b, `"size":5`) {
				t.Errorf("knn body %s", b)
			}
		}
	}
	if knnBodies != 3 {
		t.Errorf("%d knn bodies, want 3: %v", knnBodies, bodies)
	}
}

func TestKNNWidenSucceeds(t *testing.T) {
	var bodies []string
	srv := fakeShortCluster(t, map[int]int{5: 2, 20: 9}, &bodies)
	defer srv.Close()
	c, _ := NewClient(Config{URLs: []string{srv.URL}})
	res, err := NewSearcher(c).Search(context.Background(), SearchRequest{Indices: []string{"idx"}, Mode: ModeKNN,
		VectorField: "v", Vector: []float32{1, 0}, K: 5, Filter: json.RawMessage(`{"term":{"t":1}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.KNN.Strategy != queries.KWidened || len(res.Results) != 5 || fmt.Sprint(res.KNN.Attempts) != "[5 20]" {
		t.Fatalf("%+v, %d results", res.KNN, len(res.Results))
	}
	// nmslib 2.18 ANN cosine: score .9 → cos 2 − 1/.9.
	if got, want := res.Results[0].Subs[0].Similarity, 2-1/0.9; got-want > 1e-9 || want-got > 1e-9 {
		t.Errorf("similarity %v, want %v", got, want)
	}
}

func TestSearchRequestValidation(t *testing.T) {
	s := NewSearcher(nil)
	for _, r := range []SearchRequest{
		{Mode: ModeKNN, VectorField: "v", Vector: []float32{1}},
		{Indices: []string{"i"}, Mode: "vector"},
		{Indices: []string{"i"}, Mode: ModeKNN},
		{Indices: []string{"i"}, Mode: ModeHybrid, VectorField: "v", Vector: []float32{1}},
		{Indices: []string{"i"}, Mode: ModeBM25, Text: "x", TextFields: []queries.TextField{{Name: "b"}}, MinSimilarity: new(float64)},
		{Indices: []string{"i"}, Mode: ModeKNN, VectorField: "v", Vector: []float32{1}, K: 10001},
	} {
		if _, err := s.Search(context.Background(), r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

// Without a _source selection, searches leave the queried vector out; an
// explicit selection, even an empty one, is kept.
func TestSearchDefaultsExcludeVector(t *testing.T) {
	r := SearchRequest{Mode: ModeHybrid, VectorField: "emb"}
	r.defaults()
	if r.Source == nil || len(r.Source.Excludes) != 1 || r.Source.Excludes[0] != "emb" || r.Source.Disabled {
		t.Fatalf("default source %+v", r.Source)
	}
	all := &queries.Source{}
	r = SearchRequest{Mode: ModeKNN, VectorField: "emb", Source: all}
	r.defaults()
	if r.Source != all {
		t.Fatalf("explicit source replaced: %+v", r.Source)
	}
	r = SearchRequest{Mode: ModeBM25}
	r.defaults()
	if r.Source != nil {
		t.Fatalf("bm25 without a vector field: %+v", r.Source)
	}
}
