package queries

import (
	"encoding/json"
	"fmt"
	"math"
)

// MaxK is the largest k the knn query accepts (DW knn query: k 1–10,000).
const MaxK = 10000

// Source selects what _source the hits carry.
type Source struct {
	Disabled bool     // "_source": false
	Includes []string // "_source": {"includes": [...]}
	Excludes []string
}

func (s *Source) value() any {
	if s == nil {
		return nil
	}
	if s.Disabled {
		return false
	}
	if len(s.Includes) == 0 && len(s.Excludes) == 0 {
		return nil
	}
	m := map[string]any{}
	if len(s.Includes) > 0 {
		m["includes"] = s.Includes
	}
	if len(s.Excludes) > 0 {
		m["excludes"] = s.Excludes
	}
	return m
}

// KNN builds a knn query body (DW knn query; KNN KNNQueryBuilder.java).
type KNN struct {
	Field  string
	Vector []float32
	// Exactly one of K, MinScore, MaxDistance (radial search) must be set.
	K           int
	MinScore    *float64
	MaxDistance *float64
	// Size is the number of hits returned. 0 means K for top-k queries, and
	// MaxK for radial queries (which otherwise stop at the default 10).
	Size int
	// Filter is a query DSL object. With Engine lucene or faiss it goes
	// inside the knn query (efficient filtering, 2.4+/2.9+); with nmslib,
	// which has none, it becomes a bool post-filter, which can return fewer
	// than k hits (KNN #1043; see Widen).
	Filter json.RawMessage
	Engine Engine
	// EfSearch and NProbes go to method_parameters (2.16+); 0 omits them.
	EfSearch int
	NProbes  int
	// Rescore: nil omits; otherwise {"oversample_factor": x} (2.17+).
	OversampleFactor *float64
	// Nested wraps the query in a nested query on this path.
	Nested           string
	ExpandNestedDocs bool // 2.19+
	Source           *Source
	// NoTotal sends "track_total_hits": false: the hit count is not
	// computed, which lets Lucene skip documents that cannot make the top
	// (for the knn query the count is k per segment anyway). Set it when hits.total is not read.
	NoTotal bool
}

// Validate checks the query before it is rendered.
func (q KNN) Validate() error {
	if q.Field == "" {
		return fmt.Errorf("knn: field is empty")
	}
	if len(q.Vector) == 0 {
		return fmt.Errorf("knn %s: vector is empty", q.Field)
	}
	for i, x := range q.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("knn %s: vector[%d] is %v", q.Field, i, x)
		}
	}
	n := 0
	if q.K != 0 {
		n++
		if q.K < 1 || q.K > MaxK {
			return fmt.Errorf("knn %s: k %d outside 1..%d", q.Field, q.K, MaxK)
		}
	}
	if q.MinScore != nil {
		n++
	}
	if q.MaxDistance != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("knn %s: set exactly one of k, min_score, max_distance (got %d)", q.Field, n)
	}
	if q.Size < 0 || q.Size > MaxK {
		return fmt.Errorf("knn %s: size %d outside 0..%d", q.Field, q.Size, MaxK)
	}
	if len(q.Filter) > 0 && !isJSONObject(q.Filter) {
		return fmt.Errorf("knn %s: filter is not a JSON object", q.Field)
	}
	if q.OversampleFactor != nil && (*q.OversampleFactor < 1 || *q.OversampleFactor > 100) {
		return fmt.Errorf("knn %s: oversample_factor %g outside [1, 100]", q.Field, *q.OversampleFactor)
	}
	if q.EfSearch < 0 || q.NProbes < 0 {
		return fmt.Errorf("knn %s: ef_search and nprobes must be positive", q.Field)
	}
	return nil
}

// Query returns the query clause (without size/_source).
func (q KNN) Query() (map[string]any, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	inner := map[string]any{"vector": q.Vector}
	switch {
	case q.K != 0:
		inner["k"] = q.K
	case q.MinScore != nil:
		inner["min_score"] = *q.MinScore
	default:
		inner["max_distance"] = *q.MaxDistance
	}
	postFilter := len(q.Filter) > 0 && q.Engine == EngineNmslib
	if len(q.Filter) > 0 && !postFilter {
		inner["filter"] = q.Filter
	}
	mp := map[string]any{}
	if q.EfSearch > 0 {
		mp["ef_search"] = q.EfSearch
	}
	if q.NProbes > 0 {
		mp["nprobes"] = q.NProbes
	}
	if len(mp) > 0 {
		inner["method_parameters"] = mp
	}
	if q.OversampleFactor != nil {
		inner["rescore"] = map[string]any{"oversample_factor": *q.OversampleFactor}
	}
	if q.ExpandNestedDocs {
		inner["expand_nested_docs"] = true
	}
	var clause map[string]any = map[string]any{"knn": map[string]any{q.Field: inner}}
	if q.Nested != "" {
		clause = map[string]any{"nested": map[string]any{"path": q.Nested, "query": clause, "score_mode": "max"}}
	}
	if postFilter {
		clause = map[string]any{"bool": map[string]any{"must": []any{clause}, "filter": []any{q.Filter}}}
	}
	return clause, nil
}

// EffectiveSize is the size the body asks for.
func (q KNN) EffectiveSize() int {
	switch {
	case q.Size > 0:
		return q.Size
	case q.K > 0:
		return q.K
	default:
		return MaxK
	}
}

// Body renders the full search body. size defaults to k: native engines
// return k hits per segment per shard, so without size a k=10 query can
// return more than 10 (KNN #2572, #682), and radial queries would stop at
// the default size of 10.
func (q KNN) Body() ([]byte, error) {
	clause, err := q.Query()
	if err != nil {
		return nil, err
	}
	body := map[string]any{"size": q.EffectiveSize(), "query": clause}
	if v := q.Source.value(); v != nil {
		body["_source"] = v
	}
	if q.NoTotal {
		body["track_total_hits"] = false
	}
	return json.Marshal(body)
}

// Exact builds an exact (brute-force) k-NN search with the knn_score script
// (DW knn-score-script.md): the ground truth for recall checks, the fallback
// for filtered searches that come back short, and the way to enforce a
// threshold where radial search is unavailable (top-level min_score).
type Exact struct {
	Field  string
	Vector []float32
	Space  Space // passed as space_type to the script
	Size   int
	// MinScore is a top-level min_score on the script's scale (see
	// FieldInfo.ScriptScoring). nil omits it.
	MinScore *float64
	Filter   json.RawMessage
	Nested   string
	Source   *Source
	// NoTotal sends "track_total_hits": false: hits.total is not
	// computed. The script scores every candidate anyway, so this only
	// saves the counting. Set it when hits.total is not read.
	NoTotal bool
}

// Body renders the exact search body.
func (e Exact) Body() ([]byte, error) {
	if e.Field == "" || len(e.Vector) == 0 {
		return nil, fmt.Errorf("exact knn: field and vector are required")
	}
	if _, err := ParseSpace(string(e.Space)); err != nil {
		return nil, fmt.Errorf("exact knn %s: %w", e.Field, err)
	}
	if e.Size < 1 || e.Size > MaxK {
		return nil, fmt.Errorf("exact knn %s: size %d outside 1..%d", e.Field, e.Size, MaxK)
	}
	if len(e.Filter) > 0 && !isJSONObject(e.Filter) {
		return nil, fmt.Errorf("exact knn %s: filter is not a JSON object", e.Field)
	}
	var base any = map[string]any{"match_all": map[string]any{}}
	if len(e.Filter) > 0 {
		// A bool filter scores 0 and keeps only matching docs; script_score
		// then replaces the score.
		base = map[string]any{"bool": map[string]any{"filter": []any{e.Filter}}}
	}
	clause := map[string]any{"script_score": map[string]any{
		"query": base,
		"script": map[string]any{
			"source": "knn_score",
			"lang":   "knn",
			"params": map[string]any{"field": e.Field, "query_value": e.Vector, "space_type": string(e.Space)},
		},
	}}
	if e.Nested != "" {
		clause = map[string]any{"nested": map[string]any{"path": e.Nested, "query": clause, "score_mode": "max"}}
	}
	body := map[string]any{"size": e.Size, "query": clause}
	if e.MinScore != nil {
		body["min_score"] = *e.MinScore
	}
	if v := e.Source.value(); v != nil {
		body["_source"] = v
	}
	if e.NoTotal {
		body["track_total_hits"] = false
	}
	return json.Marshal(body)
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
