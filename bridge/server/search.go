package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/queries"
)

// SearchRequest is the body of POST /v1/indexes/{name}/search and
// POST /v1/search (which adds Indexes).
type SearchRequest struct {
	// Indexes to search together (POST /v1/search only).
	Indexes []string `json:"indexes,omitempty"`
	// Query is the text: matched with BM25, and embedded for the k-NN
	// part when no Vector is given.
	Query string `json:"query,omitempty"`
	// Vector is the query vector (skips embedding).
	Vector []float32 `json:"vector,omitempty"`
	// Mode is hybrid, knn or bm25. Default: hybrid when there is a text
	// query and a vector field, knn with only a vector, bm25 with no
	// vector field.
	Mode string `json:"mode,omitempty"`
	// K is the number of hits returned (default 10, at most 10,000).
	K int `json:"k,omitempty"`
	// Candidates is how many hits each sub-query fetches before fusion
	// and cut-offs (default max(4k, 40), at least k).
	Candidates  int      `json:"candidates,omitempty"`
	VectorField string   `json:"vector_field,omitempty"`
	TextFields  []string `json:"text_fields,omitempty"` // "title^2"; default: every top-level text field
	// Filter is a query DSL object applied to every sub-query (inside the
	// knn query: efficient filtering on lucene/faiss).
	Filter   json.RawMessage `json:"filter,omitempty"`
	EfSearch int             `json:"ef_search,omitempty"`
	Fusion   *FusionRequest  `json:"fusion,omitempty"`
	// MinSimilarity keeps hits whose k-NN similarity, in natural units
	// (cosine, inner product: ≥; l2 distance: ≤), passes; hits the k-NN
	// sub-query did not return are dropped.
	MinSimilarity *float64       `json:"min_similarity,omitempty"`
	Cutoff        *CutoffRequest `json:"cutoff,omitempty"`
	// Explain adds each sub-query's raw score, similarity, normalized
	// score and rank to every hit.
	Explain bool `json:"explain,omitempty"`
	// Source: true/false, or a list of fields to return. Default: every
	// field but the vector fields (whole vectors never travel back unless
	// named).
	Source json.RawMessage `json:"source,omitempty"`
}

// FusionRequest configures hybrid fusion (neural-search semantics).
type FusionRequest struct {
	Normalization string `json:"normalization,omitempty"` // min_max (default), l2, z_score, rrf, dbsf, none
	Combination   string `json:"combination,omitempty"`   // arithmetic_mean (default), geometric_mean, harmonic_mean, sum
	// Weights for [bm25, knn], summing to 1.
	Weights      []float64 `json:"weights,omitempty"`
	RankConstant int       `json:"rank_constant,omitempty"`
}

// CutoffRequest configures where the ranked list stops (after fusion).
type CutoffRequest struct {
	GapAbs     float64 `json:"gap_abs,omitempty"`
	GapRel     float64 `json:"gap_rel,omitempty"`
	Autocut    int     `json:"autocut,omitempty"`
	Cumulative float64 `json:"cumulative,omitempty"`
}

// SearchHit is one result.
type SearchHit struct {
	Index   string                `json:"index"`
	ID      string                `json:"id"`
	Score   float64               `json:"score"`
	Source  json.RawMessage       `json:"source,omitempty"`
	Explain map[string]SubExplain `json:"explain,omitempty"`
}

// SubExplain is one sub-query's part in a hit's score.
type SubExplain struct {
	Present    bool     `json:"present"`
	Rank       int32    `json:"rank,omitempty"`
	RawScore   float64  `json:"raw_score,omitempty"`
	Similarity *float64 `json:"similarity,omitempty"`
	Normalized float64  `json:"normalized"`
}

// SearchResponse is the answer of both search routes.
type SearchResponse struct {
	Hits       []SearchHit       `json:"hits"`
	Mode       string            `json:"mode"`
	Fusion     string            `json:"fusion,omitempty"`
	Similarity string            `json:"similarity_unit,omitempty"`
	Candidates map[string]int    `json:"candidates"`
	Cut        queries.CutReport `json:"cut"`
	Took       float64           `json:"took_ms"`
	Timings    map[string]any    `json:"timings"`
}

func (s *Server) searchIndex(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := validIndexName("name", name); err != nil {
		return err
	}
	var req SearchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Indexes) > 0 {
		return badRequest("indexes", "indexes is for POST /v1/search; this route searches %s", name)
	}
	resp, err := s.search(r.Context(), []string{name}, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) searchMulti(w http.ResponseWriter, r *http.Request) error {
	var req SearchRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Indexes) == 0 {
		return badRequest("indexes", "indexes is required: the indexes to search together")
	}
	seen := map[string]bool{}
	for i, n := range req.Indexes {
		if err := validIndexName(fieldf("indexes[%d]", i), n); err != nil {
			return err
		}
		if seen[n] {
			return badRequest(fieldf("indexes[%d]", i), "index %s is listed twice", n)
		}
		seen[n] = true
	}
	resp, err := s.search(r.Context(), req.Indexes, &req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// search runs one k-NN, BM25 or hybrid search over one or more indexes:
// both sub-queries go in one _msearch round trip against the comma-joined
// index list (OpenSearch merges the indexes' hits per sub-query, which
// is the scatter-gather step), then queries.Fuse normalizes and combines,
// and Cutoff applies the similarity threshold, cut-offs and k.
func (s *Server) search(ctx context.Context, indexes []string, req *SearchRequest) (*SearchResponse, error) {
	start := time.Now()
	timings := map[string]any{}
	if req.K == 0 {
		req.K = 10
	}
	if req.K < 1 || req.K > queries.MaxK {
		return nil, badRequest("k", "k=%d outside 1..%d", req.K, queries.MaxK)
	}
	if req.Candidates == 0 {
		req.Candidates = min(max(4*req.K, 40), queries.MaxK)
	}
	if req.Candidates < req.K || req.Candidates > queries.MaxK {
		return nil, badRequest("candidates", "candidates=%d outside k..%d (k=%d)", req.Candidates, queries.MaxK, req.K)
	}
	if req.EfSearch < 0 {
		return nil, badRequest("ef_search", "ef_search=%d must be > 0", req.EfSearch)
	}
	if len(req.Filter) > 0 && !bytes.HasPrefix(bytes.TrimSpace(req.Filter), []byte("{")) {
		return nil, badRequest("filter", "filter must be a query DSL object")
	}
	for i, x := range req.Vector {
		if x != x { // NaN cannot arrive through JSON, but keep the guard honest
			return nil, badRequest(fieldf("vector[%d]", i), "NaN")
		}
	}
	joined := strings.Join(indexes, ",")
	sc, err := s.schema(ctx, joined)
	if err != nil {
		return nil, err
	}
	mode := req.Mode
	if mode == "" {
		switch {
		case len(sc.Vectors) == 0:
			mode = "bm25"
		case req.Query != "":
			mode = "hybrid"
		default:
			mode = "knn"
		}
	}
	wantKNN, wantBM25 := mode == "knn" || mode == "hybrid", mode == "bm25" || mode == "hybrid"
	if !wantKNN && !wantBM25 {
		return nil, badRequest("mode", "mode=%q: want hybrid, knn or bm25", mode)
	}
	if wantBM25 && req.Query == "" {
		return nil, badRequest("query", "mode %s needs a text query", mode)
	}
	if mode == "bm25" && len(req.Vector) > 0 {
		return nil, badRequest("vector", "mode bm25 takes no vector")
	}
	if mode == "knn" && req.Query == "" && len(req.Vector) == 0 {
		return nil, badRequest("vector", "mode knn needs a vector or a text query to embed")
	}
	if req.MinSimilarity != nil && !wantKNN {
		return nil, badRequest("min_similarity", "min_similarity applies to the k-NN part; mode is %s", mode)
	}
	var source *queries.Source
	var vf vectorField
	if wantKNN {
		if vf, err = pickVectorField(sc, req.VectorField, "vector_field"); err != nil {
			return nil, err
		}
	}
	if source, err = parseSource(req.Source, sc); err != nil {
		return nil, err
	}

	var subs []queries.SubResult
	var bodies [][]byte
	var names []string
	var scorings []*queries.Scoring
	v, err := s.clusterVersion(ctx)
	if err != nil {
		return nil, err
	}
	qv := queriesVersion(v.Major, v.Minor, v.Patch)
	if wantBM25 {
		fields := sc.Texts
		if len(req.TextFields) > 0 {
			fields = req.TextFields
		}
		if len(fields) == 0 {
			return nil, badRequest("text_fields", "the index has no text field to match; name text_fields or use mode knn")
		}
		tfs, err := queries.ParseTextFields(strings.Join(fields, ","))
		if err != nil {
			return nil, badRequest("text_fields", "%v", err)
		}
		b, err := queries.BM25{Text: req.Query, Fields: tfs, Filter: req.Filter, Size: req.Candidates, Source: source}.Body()
		if err != nil {
			return nil, badRequest("query", "%v", err)
		}
		bodies, names, scorings = append(bodies, b), append(names, "bm25"), append(scorings, nil)
	}
	if wantKNN {
		vec := req.Vector
		if len(vec) == 0 {
			t0 := time.Now()
			vec, err = s.queries.embed(ctx, req.Query)
			if err != nil {
				return nil, err
			}
			timings["embed_ms"] = ms(time.Since(t0))
		}
		if vf.Dimension > 0 && len(vec) != vf.Dimension {
			field := "vector"
			if len(req.Vector) == 0 {
				field = "query"
			}
			return nil, badRequest(field, "the query vector has %d dimensions, field %s has %d", len(vec), vf.Path, vf.Dimension)
		}
		q := queries.KNN{Field: vf.Path, Vector: vec, K: req.Candidates, Size: req.Candidates, Filter: req.Filter,
			Engine: vf.Info.Engine, EfSearch: req.EfSearch, Nested: vf.Info.Nested, Source: source}
		if err := q.Validate(); err != nil {
			return nil, badRequest("vector", "%v", err)
		}
		b, err := q.Body()
		if err != nil {
			return nil, badRequest("vector", "%v", err)
		}
		sco := vf.Info.Scoring(qv)
		bodies, names, scorings = append(bodies, b), append(names, "knn"), append(scorings, &sco)
	}

	fusion := queries.Fusion{Normalization: queries.NormNone, Combination: queries.CombArithmetic}
	if len(bodies) == 2 {
		fusion = queries.Fusion{Normalization: queries.NormMinMax, Combination: queries.CombArithmetic}
	}
	if req.Fusion != nil {
		if len(bodies) < 2 {
			return nil, badRequest("fusion", "fusion applies to hybrid searches; mode is %s", mode)
		}
		if req.Fusion.Normalization != "" {
			fusion.Normalization = queries.Normalization(req.Fusion.Normalization)
		}
		if req.Fusion.Combination != "" {
			fusion.Combination = queries.Combination(req.Fusion.Combination)
		} else if fusion.Normalization == queries.NormRRF || fusion.Normalization == queries.NormDBSF {
			fusion.Combination = queries.CombSum
		}
		fusion.Weights, fusion.RankConstant = req.Fusion.Weights, req.Fusion.RankConstant
	}
	if err := fusion.Validate(len(bodies)); err != nil {
		return nil, badRequest(fusionField(err), "%v", err)
	}
	cut := queries.Cutoff{TopK: req.K, MinSimilarity: req.MinSimilarity, SimilaritySub: len(bodies) - 1}
	if req.Cutoff != nil {
		cut.GapAbs, cut.GapRel, cut.Autocut, cut.Cumulative = req.Cutoff.GapAbs, req.Cutoff.GapRel, req.Cutoff.Autocut, req.Cutoff.Cumulative
	}
	if err := cut.Validate(); err != nil {
		return nil, badRequest("cutoff", "%v", err)
	}

	body, err := queries.MSearchBody(indexes, bodies...)
	if err != nil {
		return nil, fmt.Errorf("building _msearch: %w", err)
	}
	t0 := time.Now()
	raw, err := s.os.Do(ctx, http.MethodPost, "/_msearch", body)
	s.m.observeOS("msearch", t0, err)
	timings["opensearch_ms"] = ms(time.Since(t0))
	if err != nil {
		return nil, err
	}
	lists, err := parseMSearch(raw, len(bodies))
	if err != nil {
		return nil, err
	}
	cands := map[string]int{}
	for i, hits := range lists {
		subs = append(subs, queries.SubResult{Name: names[i], Hits: hits, Scoring: scorings[i]})
		cands[names[i]] = len(hits)
	}
	t0 = time.Now()
	fused, err := queries.Fuse(subs, fusion)
	if err != nil {
		return nil, fmt.Errorf("fusing: %w", err)
	}
	kept, rep, err := cut.Apply(fused.Results, scorings)
	if err != nil {
		return nil, badRequest("min_similarity", "%v", err)
	}
	timings["fuse_ms"] = ms(time.Since(t0))
	resp := &SearchResponse{Hits: make([]SearchHit, 0, len(kept)), Mode: mode, Candidates: cands, Cut: rep, Timings: timings}
	if len(bodies) == 2 {
		resp.Fusion = fusion.Describe()
	}
	if wantKNN {
		resp.Similarity = vf.Info.Space.Unit()
	}
	for _, res := range kept {
		h := SearchHit{Index: res.Index, ID: res.ID, Score: res.Score, Source: res.Source}
		if req.Explain {
			h.Explain = map[string]SubExplain{}
			for i, sub := range res.Subs {
				if i >= len(names) {
					break
				}
				e := SubExplain{Present: sub.Present, Rank: sub.Rank, RawScore: sub.Raw, Normalized: sub.Normalized}
				if sub.HasSimilarity {
					sim := sub.Similarity
					e.Similarity = &sim
				}
				h.Explain[names[i]] = e
			}
		}
		resp.Hits = append(resp.Hits, h)
	}
	resp.Took = ms(time.Since(start))
	return resp, nil
}

func fusionField(err error) string {
	m := err.Error()
	switch {
	case strings.Contains(m, "weight"):
		return "fusion.weights"
	case strings.Contains(m, "rank_constant"):
		return "fusion.rank_constant"
	case strings.HasPrefix(m, "normalization"):
		return "fusion.normalization"
	}
	return "fusion.combination"
}

// parseSource reads the source member: absent (every field but the
// vectors), true, false, or a list of field names.
func parseSource(raw json.RawMessage, sc *indexSchema) (*queries.Source, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "true" {
		src := &queries.Source{}
		for _, v := range sc.Vectors {
			src.Excludes = append(src.Excludes, v.Path)
		}
		if string(raw) == "true" {
			src.Excludes = nil
		}
		return src, nil
	}
	if string(raw) == "false" {
		return &queries.Source{Disabled: true}, nil
	}
	var fields []string
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, badRequest("source", "source must be true, false or a list of field names")
	}
	return &queries.Source{Includes: fields}, nil
}

// parseMSearch reads an _msearch answer into one hit list per body; a
// failed sub-search fails the whole search with its cause (404 for a
// missing index).
func parseMSearch(raw []byte, n int) ([][]queries.Hit, error) {
	var out struct {
		Responses []struct {
			Status int `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
			Hits struct {
				Hits []struct {
					Index  string          `json:"_index"`
					ID     string          `json:"_id"`
					Score  *float64        `json:"_score"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding _msearch answer: %w", err)
	}
	if len(out.Responses) != n {
		return nil, fmt.Errorf("_msearch answered %d responses for %d searches", len(out.Responses), n)
	}
	lists := make([][]queries.Hit, n)
	for i, r := range out.Responses {
		if r.Error != nil {
			switch {
			case strings.Contains(r.Error.Type, "index_not_found"):
				return nil, notFound("index_not_found", "%s", r.Error.Reason)
			case r.Status == http.StatusBadRequest:
				return nil, &APIError{Status: http.StatusBadRequest, Code: "rejected_by_cluster", Message: fmt.Sprintf("%s: %s", r.Error.Type, r.Error.Reason)}
			case r.Status == http.StatusTooManyRequests:
				return nil, &APIError{Status: http.StatusTooManyRequests, Code: "cluster_overloaded", Message: r.Error.Reason}
			}
			return nil, &APIError{Status: http.StatusBadGateway, Code: "cluster_error", Message: fmt.Sprintf("sub-search %d: %d %s: %s", i, r.Status, r.Error.Type, r.Error.Reason)}
		}
		hits := make([]queries.Hit, 0, len(r.Hits.Hits))
		for _, h := range r.Hits.Hits {
			if h.Score == nil {
				continue
			}
			hits = append(hits, queries.Hit{Index: h.Index, ID: h.ID, Score: *h.Score, Source: h.Source})
		}
		lists[i] = hits
	}
	return lists, nil
}
