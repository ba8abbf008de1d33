//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/queries"
)

// qDoc is a test document for the query tests.
type qDoc struct {
	ID   string    `json:"-"`
	Body string    `json:"body,omitempty"`
	Tag  string    `json:"tag"`
	V    []float32 `json:"v"`
}

// qIndex creates a lucene k-NN index with a text field, a keyword tag and a
// vector field v in the given space, loads docs in several refreshes (so
// there are several segments) and returns its name.
func qIndex(t *testing.T, c *Cluster, prefix, space string, dim int, docs []qDoc) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := c.Index(t, prefix)
	mapping := map[string]any{
		"settings": map[string]any{"index": map[string]any{"knn": true, "number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": map[string]any{"properties": map[string]any{
			"body": map[string]any{"type": "text"},
			"tag":  map[string]any{"type": "keyword"},
			"v": map[string]any{"type": "knn_vector", "dimension": dim,
				"method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": space}},
		}},
	}
	if _, err := c.Bridge.Do(ctx, http.MethodPut, "/"+name, mapping); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	const batches = 3
	for b := range batches {
		var sb strings.Builder
		for i := b; i < len(docs); i += batches {
			hdr, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": name, "_id": docs[i].ID}})
			src, _ := json.Marshal(docs[i])
			sb.Write(hdr)
			sb.WriteByte('\n')
			sb.Write(src)
			sb.WriteByte('\n')
		}
		raw, err := c.Bridge.Do(ctx, http.MethodPost, "/_bulk?refresh=true", sb.String())
		if err != nil {
			t.Fatalf("bulk into %s: %v", name, err)
		}
		var res struct {
			Errors bool `json:"errors"`
		}
		if err := json.Unmarshal(raw, &res); err != nil || res.Errors {
			t.Fatalf("bulk into %s had errors: %.500s", name, raw)
		}
	}
	return name
}

func randomDocs(r *rand.Rand, n, dim int) []qDoc {
	docs := make([]qDoc, n)
	for i := range docs {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		tag := "odd"
		if i%2 == 0 {
			tag = "even"
		}
		docs[i] = qDoc{ID: fmt.Sprintf("d%03d", i), Tag: tag, V: v}
	}
	return docs
}

func natural(space string, q, v []float32) float64 {
	var dot, nq, nv, l2 float64
	for i := range q {
		a, b := float64(q[i]), float64(v[i])
		dot += a * b
		nq += a * a
		nv += b * b
		l2 += (a - b) * (a - b)
	}
	switch space {
	case "cosinesimil":
		return dot / math.Sqrt(nq*nv)
	case "innerproduct":
		return dot
	default:
		return math.Sqrt(l2)
	}
}

func resultIDs(rs []queries.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// Radial search returns exactly the documents within the threshold,
// checked against brute force, for every lucene space, with and without a
// filter.
func TestQueriesRadialMatchesBruteForce(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	s := bridge.NewSearcher(c.Bridge)
	const dim, n = 8, 400
	r := rand.New(rand.NewPCG(11, 12))
	docs := randomDocs(r, n, dim)
	q := make([]float32, dim)
	for j := range q {
		q[j] = float32(r.NormFloat64())
	}
	cases := []struct {
		space string
		t     float64
	}{{"cosinesimil", 0.3}, {"l2", 2.8}, {"innerproduct", 1.5}}
	for _, cs := range cases {
		t.Run(cs.space, func(t *testing.T) {
			idx := qIndex(t, c, "q-radial-"+cs.space, cs.space, dim, docs)
			for _, filter := range []string{"", `{"term":{"tag":"even"}}`} {
				th := cs.t
				req := bridge.SearchRequest{Indices: []string{idx}, Mode: bridge.ModeKNN, VectorField: "v", Vector: q,
					MinSimilarity: &th, Source: &queries.Source{Includes: []string{"tag"}}}
				if filter != "" {
					req.Filter = json.RawMessage(filter)
				}
				res, err := s.Search(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.KNN.Threshold == nil || res.KNN.Threshold.Mode != queries.ThresholdRadial {
					t.Fatalf("lucene %s on %s should use radial search: %+v", cs.space, c.Version, res.KNN.Threshold)
				}
				got := map[string]bool{}
				for _, h := range res.Results {
					got[h.ID] = true
				}
				want, boundary := 0, 0
				sc := res.KNN.Threshold.Scoring
				for _, d := range docs {
					if filter != "" && d.Tag != "even" {
						if got[d.ID] {
							t.Errorf("filtered-out %s returned", d.ID)
						}
						continue
					}
					v := natural(cs.space, q, d.V)
					// Scores are float32 on the server: skip documents within
					// rounding of the threshold.
					if math.Abs(v-th) < 1e-4*math.Max(1, math.Abs(th)) {
						boundary++
						continue
					}
					in := sc.Passes(v, th)
					if in {
						want++
					}
					if in != got[d.ID] {
						t.Errorf("%s: %s %.6f vs threshold %g: returned %v", d.ID, cs.space, v, th, got[d.ID])
					}
				}
				if want < 5 || want > n/2+5 {
					t.Fatalf("threshold %g selects %d docs: pick a more telling one", th, want)
				}
				// Every returned hit's similarity, recovered from its _score,
				// passes the threshold.
				for _, h := range res.Results {
					sim := h.Subs[0].Similarity
					if !h.Subs[0].HasSimilarity || !sc.Passes(sim, th) && math.Abs(sim-th) > 1e-4*math.Max(1, math.Abs(th)) {
						t.Errorf("%s: similarity %v fails %g", h.ID, sim, th)
					}
				}
				t.Logf("%s filter=%q: %d within threshold (brute force), %d returned, %d on the boundary", cs.space, filter, want, len(res.Results), boundary)
			}
		})
	}
}

// The hand-built corpus: BM25 ranks a first, k-NN ranks d first, hybrid
// ranks b first (second in both lists).
func hybridCorpus() []qDoc {
	return []qDoc{
		{ID: "a", Body: "solar panel efficiency guide", Tag: "keep", V: []float32{0, 0, 1, 0}},
		{ID: "b", Body: "solar panel guide", Tag: "keep", V: []float32{0.95, 0.31, 0, 0}},
		{ID: "c", Body: "efficiency guide", Tag: "keep", V: []float32{0, 0, 0, 1}},
		{ID: "d", Body: "photovoltaic module output", Tag: "drop", V: []float32{0.99, 0.14, 0, 0}},
		{ID: "x", Body: "cooking recipes", Tag: "keep", V: []float32{0.2, 0.98, 0, 0}},
		{ID: "y", Body: "garden tools", Tag: "drop", V: []float32{-1, 0, 0, 0}},
	}
}

func TestQueriesHybridRanksCompromiseFirst(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	s := bridge.NewSearcher(c.Bridge)
	idx := qIndex(t, c, "q-hybrid", "cosinesimil", 4, hybridCorpus())
	fields, _ := queries.ParseTextFields("body")
	base := bridge.SearchRequest{Indices: []string{idx}, VectorField: "v", Vector: []float32{1, 0, 0, 0},
		Text: "solar panel efficiency", TextFields: fields, K: 3}

	bm := base
	bm.Mode = bridge.ModeBM25
	rb, err := s.Search(ctx, bm)
	if err != nil {
		t.Fatal(err)
	}
	kn := base
	kn.Mode = bridge.ModeKNN
	rk, err := s.Search(ctx, kn)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultIDs(rb.Results); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("bm25 ranking %v, want a b c", got)
	}
	if got := resultIDs(rk.Results); !slices.Equal(got, []string{"d", "b", "x"}) {
		t.Fatalf("knn ranking %v, want d b x", got)
	}
	// (Geometric and harmonic means skip a sub-query that did not return a
	// document, so a and d keep their 1.0 there and tie with b's mean:
	// that is neural-search's semantics, not a compromise ranking.)
	for _, fu := range []queries.Fusion{
		{},
		{Weights: []float64{0.4, 0.6}},
		{Normalization: queries.NormL2},
		{Normalization: queries.NormRRF},
		{Normalization: queries.NormDBSF},
	} {
		for _, parallel := range []bool{false, true} {
			hy := base
			hy.Mode = bridge.ModeHybrid
			hy.Fusion = fu
			hy.Parallel = parallel
			rh, err := s.Search(ctx, hy)
			if err != nil {
				t.Fatal(err)
			}
			if len(rh.Results) == 0 || rh.Results[0].ID != "b" {
				t.Fatalf("%s (parallel %v): hybrid ranking %v, want b first", fu.Describe(), parallel, resultIDs(rh.Results))
			}
			wantTrips := 1
			if parallel {
				wantTrips = 2
			}
			if rh.RoundTrips != wantTrips {
				t.Errorf("%s: %d round trips, want %d", fu.Describe(), rh.RoundTrips, wantTrips)
			}
			top := rh.Results[0]
			if !top.Subs[0].Present || !top.Subs[1].Present || top.Subs[0].Rank != 2 || top.Subs[1].Rank != 2 || !top.Subs[1].HasSimilarity {
				t.Fatalf("explanation of b: %+v", top.Subs)
			}
			// cos(q, b) = 0.95 / |b|.
			if want := 0.95 / math.Hypot(0.95, 0.31); math.Abs(top.Subs[1].Similarity-want) > 1e-5 {
				t.Errorf("b similarity %v, want %v", top.Subs[1].Similarity, want)
			}
		}
	}
}

func TestQueriesFilterBothSidesAndKThatMeansK(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	s := bridge.NewSearcher(c.Bridge)
	idx := qIndex(t, c, "q-filter", "cosinesimil", 4, hybridCorpus())
	fields, _ := queries.ParseTextFields("body")
	filter := json.RawMessage(`{"term":{"tag":"keep"}}`)
	req := bridge.SearchRequest{Indices: []string{idx}, Mode: bridge.ModeHybrid, VectorField: "v", Vector: []float32{1, 0, 0, 0},
		Text: "solar panel efficiency photovoltaic garden", TextFields: fields, K: 10, Filter: filter,
		Source: &queries.Source{Includes: []string{"tag"}}}
	res, err := s.Search(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 4 {
		t.Fatalf("hybrid with filter: %v, want the 4 keep docs", resultIDs(res.Results))
	}
	for _, r := range res.Results {
		var src struct{ Tag string }
		_ = json.Unmarshal(r.Source, &src)
		if src.Tag != "keep" {
			t.Errorf("%s has tag %q", r.ID, src.Tag)
		}
		// d and y match the text but not the filter; the k-NN side must not
		// have returned them either.
		if r.ID == "d" || r.ID == "y" {
			t.Errorf("filtered document %s returned", r.ID)
		}
	}
	// k = 10 over 4 matching documents: the k-NN side says the filter is
	// exhausted rather than widening forever.
	if res.KNN.Strategy != queries.KExhausted || res.KNN.Matching != 4 {
		t.Errorf("knn report %+v, want exhausted with 4 matches", res.KNN)
	}

	// k that means k: 3 of 6 → exactly 3, direct.
	k := bridge.SearchRequest{Indices: []string{idx}, Mode: bridge.ModeKNN, VectorField: "v", Vector: []float32{1, 0, 0, 0}, K: 3}
	rk, err := s.Search(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(rk.Results) != 3 || rk.KNN.Strategy != queries.KDirect {
		t.Fatalf("k=3: %v %s", resultIDs(rk.Results), rk.KNN.Strategy)
	}
	// Exact search agrees with the approximate one, and the script's scores
	// convert to the same cosine (the script scale is version-dependent).
	k.Exact = true
	re, err := s.Search(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resultIDs(re.Results), resultIDs(rk.Results)) || !re.KNN.Field.Space.HigherIsBetter() {
		t.Fatalf("exact %v vs approximate %v", resultIDs(re.Results), resultIDs(rk.Results))
	}
	if d := re.Results[0].Subs[0].Similarity - rk.Results[0].Subs[0].Similarity; math.Abs(d) > 1e-5 {
		t.Errorf("exact and approximate similarity of %s differ by %g", re.Results[0].ID, d)
	}
}

// Exact search over a random corpus is the brute-force top-k, and a
// two-index search merges as one (and dedupes by id when asked).
func TestQueriesExactAndScatterGather(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	const dim = 8
	r := rand.New(rand.NewPCG(21, 22))
	docs := randomDocs(r, 200, dim)
	i1 := qIndex(t, c, "q-sg1", "l2", dim, docs[:100])
	i2 := qIndex(t, c, "q-sg2", "l2", dim, docs[100:])
	q := docs[7].V
	type scored struct {
		id string
		d  float64
	}
	var all []scored
	for _, d := range docs {
		all = append(all, scored{d.ID, natural("l2", q, d.V)})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	var want []string
	for _, s := range all[:10] {
		want = append(want, s.id)
	}
	s := bridge.NewSearcher(c.Bridge)
	res, err := s.Search(ctx, bridge.SearchRequest{Indices: []string{i1, i2}, Mode: bridge.ModeKNN, VectorField: "v", Vector: q, K: 10, Exact: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := resultIDs(res.Results); !slices.Equal(got, want) {
		t.Fatalf("exact over two indices %v, brute force %v", got, want)
	}
	// Two "clusters" (the same cluster under two labels, both indices):
	// deduplicated by id, the merged answer is the single-cluster one.
	s1, s2 := bridge.NewSearcher(c.Bridge), bridge.NewSearcher(c.Bridge)
	s1.Cluster, s2.Cluster = "east", "west"
	mr, err := bridge.SearchClusters(ctx, []*bridge.Searcher{s1, s2}, bridge.SearchRequest{Indices: []string{i1, i2}, Mode: bridge.ModeKNN,
		VectorField: "v", Vector: q, K: 10, Exact: true, DedupeByID: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := resultIDs(mr.Results); !slices.Equal(got, want) {
		t.Fatalf("scatter-gather %v, want %v", got, want)
	}
	// Without dedupe each document appears once per cluster, ties broken
	// by cluster name: east before west.
	mr, err = bridge.SearchClusters(ctx, []*bridge.Searcher{s1, s2}, bridge.SearchRequest{Indices: []string{i1, i2}, Mode: bridge.ModeKNN,
		VectorField: "v", Vector: q, K: 10, Exact: true, Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(mr.Results) != 4 || mr.Results[0].ID != want[0] || mr.Results[0].Cluster != "east" || mr.Results[1].Cluster != "west" || mr.Results[1].ID != want[0] {
		t.Fatalf("no dedupe: %+v", mr.Results)
	}
}

// A threshold on a nested lucene field: radial search does not support
// nested fields there, so knnbridge runs exact search with a top-level
// min_score instead, and the answer is still exactly the parents with a
// passage within the threshold (brute force). The client-side fallback
// returns the same set when k covers it.
func TestQueriesNestedThresholdFallsBackToExact(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const dim, parents, per = 6, 60, 3
	r := rand.New(rand.NewPCG(31, 32))
	name := c.Index(t, "q-nested")
	mapping := map[string]any{
		"settings": map[string]any{"index": map[string]any{"knn": true, "number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": map[string]any{"properties": map[string]any{
			"passages": map[string]any{"type": "nested", "properties": map[string]any{
				"vec": map[string]any{"type": "knn_vector", "dimension": dim,
					"method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"}},
			}},
		}},
	}
	if _, err := c.Bridge.Do(ctx, http.MethodPut, "/"+name, mapping); err != nil {
		t.Fatal(err)
	}
	q := vec32(r, dim)
	best := map[string]float64{}
	var sb strings.Builder
	for p := range parents {
		id := fmt.Sprintf("p%02d", p)
		var ps []map[string]any
		best[id] = -2
		for range per {
			v := vec32(r, dim)
			ps = append(ps, map[string]any{"vec": v})
			best[id] = math.Max(best[id], natural("cosinesimil", q, v))
		}
		hdr, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": name, "_id": id}})
		src, _ := json.Marshal(map[string]any{"passages": ps})
		sb.Write(hdr)
		sb.WriteByte('\n')
		sb.Write(src)
		sb.WriteByte('\n')
	}
	if _, err := c.Bridge.Do(ctx, http.MethodPost, "/_bulk?refresh=true", sb.String()); err != nil {
		t.Fatal(err)
	}
	const th = 0.5
	var want []string
	for id, b := range best {
		if math.Abs(b-th) < 1e-4 {
			t.Fatalf("%s is on the boundary; change the seed", id)
		}
		if b >= th {
			want = append(want, id)
		}
	}
	slices.Sort(want)
	if len(want) < 5 || len(want) > parents-5 {
		t.Fatalf("threshold selects %d parents", len(want))
	}
	s := bridge.NewSearcher(c.Bridge)
	for _, fb := range []queries.ThresholdMode{queries.ThresholdExact, queries.ThresholdClient} {
		ms := th
		res, err := s.Search(ctx, bridge.SearchRequest{Indices: []string{name}, Mode: bridge.ModeKNN, VectorField: "passages.vec",
			Vector: q, K: parents, MinSimilarity: &ms, ThresholdFallback: fb, Source: &queries.Source{Disabled: true}})
		if err != nil {
			t.Fatalf("%s: %v", fb, err)
		}
		if res.KNN.Threshold.Mode != fb || res.KNN.Field.Nested != "passages" || !strings.Contains(res.KNN.Threshold.Reason, "nested") {
			t.Fatalf("%s: plan %+v field %+v", fb, res.KNN.Threshold, res.KNN.Field)
		}
		got := resultIDs(res.Results)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: got %v\nwant %v", fb, got, want)
		}
		// The parent's similarity is its best passage's.
		for _, h := range res.Results {
			if math.Abs(h.Subs[0].Similarity-best[h.ID]) > 1e-5 {
				t.Errorf("%s: %s similarity %v, best passage %v", fb, h.ID, h.Subs[0].Similarity, best[h.ID])
			}
		}
	}
}

func vec32(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// Pages of a hybrid search, fetched one request each with the same depth,
// add up to the single-request list: no document twice, none skipped —
// also with the search_after cursor.
func TestQueriesHybridPaginationIsConsistent(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	const dim = 8
	r := rand.New(rand.NewPCG(41, 42))
	words := strings.Fields("solar panel battery grid wind power storage cell roof cost heat pump garden kitchen")
	docs := randomDocs(r, 120, dim)
	for i := range docs {
		var w []string
		for range 3 + r.IntN(5) {
			w = append(w, words[r.IntN(len(words))])
		}
		docs[i].Body = strings.Join(w, " ")
	}
	idx := qIndex(t, c, "q-pages", "cosinesimil", dim, docs)
	s := bridge.NewSearcher(c.Bridge)
	fields, _ := queries.ParseTextFields("body")
	base := bridge.SearchRequest{Indices: []string{idx}, Mode: bridge.ModeHybrid, VectorField: "v", Vector: vec32(r, dim),
		Text: "solar battery storage", TextFields: fields, K: 10, Depth: 40, Source: &queries.Source{Disabled: true}}
	all := base
	all.Size = 80
	full, err := s.Search(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if full.Total < 30 {
		t.Fatalf("only %d fused results", full.Total)
	}
	// No _source selection: the hits carry the document without the
	// queried vector.
	plain := base
	plain.Source = nil
	withSrc, err := s.Search(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range withSrc.Results {
		var doc map[string]any
		if err := json.Unmarshal(r.Source, &doc); err != nil {
			t.Fatalf("hit %s source %q: %v", r.ID, r.Source, err)
		}
		if _, ok := doc["v"]; ok || doc["body"] == nil {
			t.Fatalf("hit %s: default source %v should have body and no vector", r.ID, doc)
		}
	}
	var paged []string
	for from := 0; from < full.Total; from += 7 {
		p := base
		p.From, p.Size = from, 7
		res, err := s.Search(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, resultIDs(res.Results)...)
	}
	if want := resultIDs(full.Results); !slices.Equal(paged, want) {
		t.Fatalf("pages %v\nfull  %v", paged, want)
	}
	// The cursor walks the same list.
	var walked []string
	page, _ := queries.Page(full.Results, 0, 9)
	for len(page) > 0 {
		walked = append(walked, resultIDs(page)...)
		page = queries.After(full.Results, queries.CursorOf(page[len(page)-1]), 9)
	}
	if !slices.Equal(walked, paged) {
		t.Fatalf("cursor walk differs: %v", walked)
	}
	// The same walk through the cluster: each request fuses the same depth
	// and returns the page after the previous page's Next cursor.
	var viaSearch []string
	next := ""
	for trip := 0; ; trip++ {
		if trip > full.Total {
			t.Fatalf("cursor walk does not end: %d pages", trip)
		}
		p := base
		p.Size = 9
		if next != "" {
			cur, err := queries.DecodeCursor(next)
			if err != nil {
				t.Fatal(err)
			}
			p.After = &cur
		}
		res, err := s.Search(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		viaSearch = append(viaSearch, resultIDs(res.Results)...)
		if res.Next == "" {
			if len(res.Results) == 9 {
				t.Fatalf("a full page without a next cursor")
			}
			break
		}
		next = res.Next
	}
	if !slices.Equal(viaSearch, paged) {
		t.Fatalf("SearchRequest.After walk differs:\n%v\nwant %v", viaSearch, paged)
	}
}
