package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
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
	// Exact runs exact (brute-force) k-NN with the knn_score script.
	Exact bool `json:"exact,omitempty"`
	// From skips that many results (pages stay consistent at a constant
	// candidates depth).
	From int `json:"from,omitempty"`
	// Operator for the BM25 match: or (default) or and.
	Operator string         `json:"operator,omitempty"`
	Fusion   *FusionRequest `json:"fusion,omitempty"`
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
	Hits       []SearchHit `json:"hits"`
	Mode       string      `json:"mode"`
	Fusion     string      `json:"fusion,omitempty"`
	Similarity string      `json:"similarity_unit,omitempty"`
	// Candidates is the depth each sub-query fetched.
	Candidates int               `json:"candidates"`
	Cut        queries.CutReport `json:"cut"`
	// Total is the number of results after cut-offs, before paging.
	Total   int               `json:"total"`
	KNN     *bridge.KNNReport `json:"knn,omitempty"`
	Took    float64           `json:"took_ms"`
	Timings map[string]any    `json:"timings"`
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

	sreq := bridge.SearchRequest{Indices: indexes, Mode: mode, K: req.K, Depth: req.Candidates, Filter: req.Filter,
		Source: source, From: req.From, Size: req.K, EfSearch: req.EfSearch, Exact: req.Exact, MinSimilarity: req.MinSimilarity}
	nsubs := 0
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
		switch req.Operator {
		case "", "or", "and":
		default:
			return nil, badRequest("operator", "operator %q: want or, and", req.Operator)
		}
		sreq.Text, sreq.TextFields, sreq.Operator = req.Query, tfs, req.Operator
		nsubs++
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
		if err := (queries.KNN{Field: vf.Path, Vector: vec, K: req.Candidates}).Validate(); err != nil {
			return nil, badRequest("vector", "%v", err)
		}
		sreq.VectorField, sreq.Vector = vf.Path, vec
		nsubs++
	}

	fusion := queries.Fusion{Normalization: queries.NormMinMax, Combination: queries.CombArithmetic}
	if req.Fusion != nil {
		if nsubs < 2 {
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
	if nsubs == 2 {
		if err := fusion.Validate(nsubs); err != nil {
			return nil, badRequest(fusionField(err), "%v", err)
		}
		sreq.Fusion = fusion
	}
	cut := queries.Cutoff{TopK: req.K, MinSimilarity: req.MinSimilarity, SimilaritySub: nsubs - 1}
	if req.Cutoff != nil {
		cut.GapAbs, cut.GapRel, cut.Autocut, cut.Cumulative = req.Cutoff.GapAbs, req.Cutoff.GapRel, req.Cutoff.Autocut, req.Cutoff.Cumulative
	}
	if err := cut.Validate(); err != nil {
		return nil, badRequest("cutoff", "%v", err)
	}
	// The searcher enforces the threshold on the k-NN side (radial, exact
	// or client-side, see queries.PlanThreshold); the cut-off's own
	// MinSimilarity also drops hybrid hits the k-NN side did not return.
	sreq.Cutoff = cut

	t0 := time.Now()
	res, err := s.searcher.Search(ctx, sreq)
	s.m.observeOS("search", t0, err)
	timings["search_ms"] = ms(time.Since(t0))
	if err != nil {
		return nil, searchError(err)
	}
	timings["round_trips"] = res.RoundTrips
	resp := &SearchResponse{Hits: make([]SearchHit, 0, len(res.Results)), Mode: mode, Candidates: req.Candidates, Cut: res.Cut,
		Timings: timings, Total: res.Total, KNN: res.KNN}
	if nsubs == 2 {
		resp.Fusion = res.Method
	}
	if wantKNN {
		resp.Similarity = vf.Info.Space.Unit()
	}
	for _, r := range res.Results {
		h := SearchHit{Index: r.Index, ID: r.ID, Score: r.Score, Source: r.Source}
		if req.Explain {
			h.Explain = map[string]SubExplain{}
			for i, sub := range r.Subs {
				if i >= len(res.SubNames) {
					break
				}
				e := SubExplain{Present: sub.Present, Rank: sub.Rank, RawScore: sub.Raw, Normalized: sub.Normalized}
				if sub.HasSimilarity {
					sim := sub.Similarity
					e.Similarity = &sim
				}
				h.Explain[res.SubNames[i]] = e
			}
		}
		resp.Hits = append(resp.Hits, h)
	}
	resp.Took = ms(time.Since(start))
	return resp, nil
}

var msearchStatus = regexp.MustCompile(`status (\d{3}): ([^:]*): (.*)$`)

// searchError classifies what the searcher returns: cluster errors keep
// their class (bridge.Error, network); a failed _msearch item carries its
// status in the message; the rest is a failure of the cluster exchange.
func searchError(err error) error {
	if ae := toAPIError(err); ae.Status != http.StatusInternalServerError {
		return err
	}
	if m := msearchStatus.FindStringSubmatch(err.Error()); m != nil {
		switch m[1] {
		case "400":
			return &APIError{Status: http.StatusBadRequest, Code: "rejected_by_cluster", Message: err.Error()}
		case "404":
			return notFound("index_not_found", "%s", err.Error())
		case "429":
			return &APIError{Status: http.StatusTooManyRequests, Code: "cluster_overloaded", Message: err.Error()}
		}
	}
	return &APIError{Status: http.StatusBadGateway, Code: "cluster_error", Message: err.Error()}
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
