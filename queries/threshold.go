package queries

import (
	"fmt"
)

// FieldInfo is what the query side needs to know about a knn_vector field.
type FieldInfo struct {
	Field  string `json:"field"` // full path, e.g. "passages.vec"
	Space  Space  `json:"space_type"`
	Engine Engine `json:"engine"`
	// Nested is the path of the enclosing nested object ("" if none).
	Nested string `json:"nested,omitempty"`
	// OnDisk is true for mode: on_disk fields (no radial search there).
	OnDisk bool `json:"on_disk,omitempty"`
	// DataType is float, byte or binary.
	DataType string `json:"data_type"`
}

// Scoring returns the Scoring of the field's knn query scores.
func (f FieldInfo) Scoring(v Version) Scoring {
	return Scoring{Space: f.Space, Engine: f.Engine, Version: v}
}

// ScriptScoring returns the Scoring of the field's knn_score script scores.
func (f FieldInfo) ScriptScoring(v Version) Scoring {
	return Scoring{Space: f.ScriptSpace(), Engine: f.Engine, Version: v, Script: true}
}

// ScriptSpace is the space_type to pass to the knn_score script: binary
// knn_vector fields use "hamming" (DW knn-score-script.md).
func (f FieldInfo) ScriptSpace() Space {
	if f.DataType == "binary" {
		return SpaceHamming
	}
	return f.Space
}

// RadialSupport tells whether a server-side radial search (min_score on the
// knn query) is correct for this field on this version, and why not.
func RadialSupport(f FieldInfo, v Version) (bool, string) {
	switch {
	case !v.AtLeast(2, 14):
		return false, fmt.Sprintf("radial search needs OpenSearch 2.14+ (KNN #1589), cluster is %s", v)
	case f.Engine == EngineNmslib:
		return false, "nmslib has no radial search (DW radial-search-knn.md)"
	case f.OnDisk:
		return false, "radial search is not supported on on_disk fields"
	case f.Engine == EngineLucene && f.Nested != "":
		// DW radial-search-knn.md (2.x): lucene radial search does not
		// support nested fields. Later docs say both engines do; we do not
		// know from which version, so stay on the safe side.
		return false, "lucene radial search on nested fields is not supported in 2.x"
	case f.Engine == EngineFaiss && f.Space == SpaceInnerProduct && !(v.Known() && v.AtLeast(3, 6)):
		// KNN #2982/#2992 (min_score) and #3335/#3336 (max_distance): faiss
		// inner-product radial search inverted or mis-translated the
		// threshold in 2.19 and 3.0–3.5. Route around it.
		return false, fmt.Sprintf("faiss innerproduct radial search is wrong before 3.6 (KNN #2992, #3335), cluster is %s", v)
	}
	return true, ""
}

// ThresholdMode is how a natural-units threshold is enforced.
type ThresholdMode string

const (
	// ThresholdRadial sends min_score on the knn query (server-side radial
	// search): complete and exact up to the ANN graph's recall.
	ThresholdRadial ThresholdMode = "radial"
	// ThresholdExact runs the knn_score script with a top-level min_score:
	// brute force, complete and exact.
	ThresholdExact ThresholdMode = "exact"
	// ThresholdClient runs a top-k knn query and drops hits below the
	// threshold client-side: cheap, but can miss matches beyond k.
	ThresholdClient ThresholdMode = "client"
)

// ThresholdPlan is the translation of a natural-units threshold.
type ThresholdPlan struct {
	Mode ThresholdMode `json:"mode"`
	// Value is the user's threshold in natural units (see Scoring).
	Value float64 `json:"value"`
	// MinScore is the threshold on the score scale of the chosen path:
	// the knn query's for radial/client, the script's for exact.
	MinScore float64 `json:"min_score"`
	// Scoring is the score formula MinScore is expressed in.
	Scoring Scoring `json:"-"`
	// Reason says why the radial path was not taken ("" when it was).
	Reason string `json:"reason,omitempty"`
}

// PlanThreshold translates "similarity ≥ t" (cosine, inner product) or
// "distance ≤ t" (l1, l2, linf, hamming) into a query plan. When the
// cluster's radial search is unavailable or known to be wrong, fallback
// decides between exact search (ThresholdExact) and client-side filtering
// of a top-k search (ThresholdClient).
//
// knnbridge always sends min_score, never max_distance: since 2.19 the
// _score formula is the same on every engine, while max_distance means a
// different thing per engine (squared for l2; for lucene innerproduct it is
// a lower bound on x·y, Lucene.java DISTANCE_TRANSLATIONS; for faiss it is
// −x·y and was mis-translated, KNN #3335).
func PlanThreshold(f FieldInfo, v Version, t float64, fallback ThresholdMode) (ThresholdPlan, error) {
	if fallback != ThresholdExact && fallback != ThresholdClient {
		return ThresholdPlan{}, fmt.Errorf("threshold fallback %q: want exact or client", fallback)
	}
	ok, reason := RadialSupport(f, v)
	mode := ThresholdRadial
	if !ok {
		mode = fallback
	}
	sc := f.Scoring(v)
	if mode == ThresholdExact {
		sc = f.ScriptScoring(v)
	}
	ms, err := sc.ScoreOf(t)
	if err != nil {
		return ThresholdPlan{}, fmt.Errorf("threshold on %s: %w", f.Field, err)
	}
	if ms <= 0 {
		return ThresholdPlan{}, fmt.Errorf("threshold on %s: %s %g admits every vector; drop the threshold", f.Field, f.Space.Unit(), t)
	}
	return ThresholdPlan{Mode: mode, Value: t, MinScore: ms, Scoring: sc, Reason: reason}, nil
}

// Keep reports whether a hit with the given _score (on the plan's scale)
// meets the threshold. Scores are float32 on the server: the comparison
// allows one float32 ulp so that a document exactly on the threshold is
// kept, as the server keeps it.
func (p ThresholdPlan) Keep(score float64) bool {
	return float32(score) >= float32(p.MinScore)
}
