package mapping

import (
	"encoding/json"
	"fmt"
)

// Render returns the body of PUT /<index> for the spec exactly as given:
// call Normalize first to have every default (the engine above all)
// written out. Field members use the REST names, so a Field marshals to
// exactly what the mapping API takes.
func Render(s *IndexSpec) ([]byte, error) {
	body := map[string]any{
		"settings": map[string]any{"index": renderSettings(&s.Settings)},
		"mappings": map[string]any{"properties": s.Fields},
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("render index %q: %w", s.Name, err)
	}
	return b, nil
}

// RenderMapping returns the body of PUT /<index>/_mapping adding the given fields.
func RenderMapping(fields map[string]*Field) ([]byte, error) {
	b, err := json.Marshal(map[string]any{"properties": fields})
	if err != nil {
		return nil, fmt.Errorf("render mapping: %w", err)
	}
	return b, nil
}

// Setting keys under "index." as the REST API names them.
const (
	keyShards        = "number_of_shards"
	keyReplicas      = "number_of_replicas"
	keyRefresh       = "refresh_interval"
	keyKNN           = "knn"
	keyEfSearch      = "knn.algo_param.ef_search"
	keyApproxThresh  = "knn.advanced.approximate_threshold"
	keyFilteredExact = "knn.advanced.filtered_exact_search_threshold"
	keyDerived       = "knn.derived_source.enabled"
	keyMemOpt        = "knn.memory_optimized_search"
	keyAnalysis      = "analysis"
)

// renderSettings returns the "index" settings object with dotted keys
// (OpenSearch flattens them: {"knn": true, "knn.algo_param.ef_search": 100}).
func renderSettings(st *Settings) map[string]any {
	m := map[string]any{}
	if st.Shards != nil {
		m[keyShards] = *st.Shards
	}
	if st.Replicas != nil {
		m[keyReplicas] = *st.Replicas
	}
	if st.RefreshInterval != "" {
		m[keyRefresh] = st.RefreshInterval
	}
	if st.KNN != nil {
		m[keyKNN] = *st.KNN
	}
	if st.EfSearch != nil {
		m[keyEfSearch] = *st.EfSearch
	}
	if st.ApproximateThreshold != nil {
		m[keyApproxThresh] = *st.ApproximateThreshold
	}
	if st.FilteredExactSearchThreshold != nil {
		m[keyFilteredExact] = *st.FilteredExactSearchThreshold
	}
	if st.DerivedSource != nil {
		m[keyDerived] = *st.DerivedSource
	}
	if st.MemoryOptimizedSearch != nil {
		m[keyMemOpt] = *st.MemoryOptimizedSearch
	}
	if len(st.Analysis) > 0 {
		m[keyAnalysis] = st.Analysis
	}
	return m
}

// dynamicSettings are the settings PUT /<index>/_settings may change on an
// open index (DW _vector-search/settings.md "Dynamic"; OpenSearch IndexScopedSettings).
var dynamicSettings = map[string]bool{
	keyReplicas: true, keyRefresh: true, keyEfSearch: true, keyApproxThresh: true,
	keyFilteredExact: true, keyMemOpt: true,
}
