package queries

import (
	"fmt"
	"math"
)

// Space is a k-NN space type (KNN SpaceType.java).
type Space string

const (
	SpaceL1           Space = "l1"
	SpaceL2           Space = "l2"
	SpaceLinf         Space = "linf"
	SpaceCosine       Space = "cosinesimil"
	SpaceInnerProduct Space = "innerproduct"
	SpaceHamming      Space = "hamming"
	SpaceHammingBit   Space = "hammingbit"
)

// ParseSpace accepts the space names OpenSearch uses.
func ParseSpace(s string) (Space, error) {
	switch sp := Space(s); sp {
	case SpaceL1, SpaceL2, SpaceLinf, SpaceCosine, SpaceInnerProduct, SpaceHamming, SpaceHammingBit:
		return sp, nil
	}
	return "", fmt.Errorf("space_type %q: want one of l1, l2, linf, cosinesimil, innerproduct, hamming, hammingbit", s)
}

// Engine is a k-NN engine.
type Engine string

const (
	EngineLucene Engine = "lucene"
	EngineFaiss  Engine = "faiss"
	EngineNmslib Engine = "nmslib"
)

// ParseEngine accepts lucene, faiss and nmslib.
func ParseEngine(s string) (Engine, error) {
	switch e := Engine(s); e {
	case EngineLucene, EngineFaiss, EngineNmslib:
		return e, nil
	}
	return "", fmt.Errorf("engine %q: want lucene, faiss or nmslib", s)
}

// HigherIsBetter reports whether the natural value of the space is a
// similarity (cosine, inner product) rather than a distance.
func (s Space) HigherIsBetter() bool { return s == SpaceCosine || s == SpaceInnerProduct }

// Unit names the natural value a threshold on this space is written in.
func (s Space) Unit() string {
	switch s {
	case SpaceCosine:
		return "cosine similarity"
	case SpaceInnerProduct:
		return "inner product"
	case SpaceL2:
		return "euclidean distance"
	case SpaceL1:
		return "l1 distance"
	case SpaceLinf:
		return "chebyshev distance"
	case SpaceHamming, SpaceHammingBit:
		return "hamming distance (bits)"
	}
	return "unknown"
}

// Scoring describes where a k-NN _score came from, which is what decides the
// formula that links it to the natural similarity or distance.
//
// Natural units, per space:
//   - cosinesimil: cos(x, y) in [-1, 1], higher is better;
//   - innerproduct: x·y, higher is better;
//   - l2: the euclidean distance sqrt(Σ(x−y)²), lower is better. The engine's
//     own l2 "distance" is the squared one (KNN SpaceType L2, DW knn-spaces.md);
//     knnbridge speaks the unsquared one because that is what users mean by
//     "within 0.5". Explanations carry both;
//   - l1, linf: the distance; hamming: differing bits. Lower is better.
type Scoring struct {
	Space   Space
	Engine  Engine
	Version Version
	// Script is true when the scores come from the knn_score script (exact
	// search, KNNScoringSpace.java), whose cosine formula differs.
	Script bool
}

func (s Scoring) String() string {
	src := "knn query"
	if s.Script {
		src = "knn_score script"
	}
	return fmt.Sprintf("%s/%s (%s, OpenSearch %s)", s.Space, s.Engine, src, s.Version)
}

// legacyNmslibCosine: before 2.19 nmslib ANN cosine returned 1/(1+d) with
// d = 1−cos, i.e. 1/(2−cos), while lucene and exact search returned
// (1+cos)/2 (KNN #2319, fixed by #2357 in 2.19).
func (s Scoring) legacyNmslibCosine() bool {
	return !s.Script && s.Space == SpaceCosine && s.Engine == EngineNmslib && !s.Version.AtLeast(2, 19)
}

// legacyScriptCosine: the knn_score script scored cosine as 1 + cos
// (KNNScoringSpace.CosineSimilarity, "Scores cannot be negative so add +1")
// before 2.19; on 2.19.1 it returns (1+cos)/2 like the knn query, as
// TestQueriesFilterBothSidesAndKThatMeansK checks on the cluster (the 2.19
// score unification, KNN #2357).
func (s Scoring) legacyScriptCosine() bool {
	return s.Script && s.Space == SpaceCosine && !s.Version.AtLeast(2, 19)
}

// ScoreOf converts a natural value (see Scoring) to the _score OpenSearch
// reports for it.
func (s Scoring) ScoreOf(v float64) (float64, error) {
	if math.IsNaN(v) {
		return 0, fmt.Errorf("%s: value is NaN", s.Space)
	}
	switch s.Space {
	case SpaceCosine:
		if v < -1 || v > 1 {
			return 0, fmt.Errorf("cosinesimil: cosine %g outside [-1, 1]", v)
		}
		switch {
		case s.legacyScriptCosine():
			return 1 + v, nil
		case s.legacyNmslibCosine():
			return 1 / (2 - v), nil
		default:
			// SpaceType.COSINESIMIL.scoreTranslation: (2 − d)/2, d = 1 − cos.
			return (1 + v) / 2, nil
		}
	case SpaceInnerProduct:
		// SpaceType.INNER_PRODUCT with raw = −ip: raw ≥ 0 → 1/(1+raw),
		// raw < 0 → 1 − raw; the script uses the same (KNNWeight.normalizeScore).
		if v > 0 {
			return v + 1, nil
		}
		return 1 / (1 - v), nil
	case SpaceL2:
		if v < 0 {
			return 0, fmt.Errorf("l2: distance %g is negative", v)
		}
		return 1 / (1 + v*v), nil
	case SpaceL1, SpaceLinf, SpaceHamming, SpaceHammingBit:
		if v < 0 {
			return 0, fmt.Errorf("%s: distance %g is negative", s.Space, v)
		}
		return 1 / (1 + v), nil
	}
	return 0, fmt.Errorf("space %q: unknown", s.Space)
}

// ValueOf converts a _score back to the natural value (the inverse of
// ScoreOf). Scores outside what the formula can produce are an error.
func (s Scoring) ValueOf(score float64) (float64, error) {
	if math.IsNaN(score) || score <= 0 {
		return 0, fmt.Errorf("%s: score %g is not positive; no %s maps to it", s.Space, score, s.Space.Unit())
	}
	switch s.Space {
	case SpaceCosine:
		var c float64
		switch {
		case s.legacyScriptCosine():
			c = score - 1
		case s.legacyNmslibCosine():
			c = 2 - 1/score
		default:
			c = 2*score - 1
		}
		// float32 scores can overshoot by an ulp: clamp what is within
		// rounding, refuse what is not.
		const tol = 1e-6
		if c < -1-tol || c > 1+tol {
			return 0, fmt.Errorf("cosinesimil: score %g maps to cosine %g outside [-1, 1] for %s", score, c, s)
		}
		return math.Max(-1, math.Min(1, c)), nil
	case SpaceInnerProduct:
		if score > 1 {
			return score - 1, nil
		}
		return 1 - 1/score, nil
	case SpaceL2:
		if score > 1 {
			return 0, fmt.Errorf("l2: score %g > 1 is impossible", score)
		}
		return math.Sqrt(1/score - 1), nil
	case SpaceL1, SpaceLinf, SpaceHamming, SpaceHammingBit:
		if score > 1 {
			return 0, fmt.Errorf("%s: score %g > 1 is impossible", s.Space, score)
		}
		return 1/score - 1, nil
	}
	return 0, fmt.Errorf("space %q: unknown", s.Space)
}

// Passes reports whether natural value v meets threshold t: v ≥ t for
// similarities, v ≤ t for distances.
func (s Scoring) Passes(v, t float64) bool {
	if s.Space.HigherIsBetter() {
		return v >= t
	}
	return v <= t
}

// EngineDistance returns the engine's own distance for a natural value: the
// squared distance for l2, 1−cos for cosine, −ip for faiss/nmslib inner
// product and ip for lucene (DW knn-spaces.md), the value itself otherwise.
func (s Scoring) EngineDistance(v float64) float64 {
	switch s.Space {
	case SpaceL2:
		return v * v
	case SpaceCosine:
		return 1 - v
	case SpaceInnerProduct:
		if s.Engine == EngineLucene {
			return v
		}
		return -v
	}
	return v
}

// valueConverter returns ValueOf for s as a function (ok false where
// ValueOf errs), resolved once per sub-query rather than per hit. Fusion
// calls it for every k-NN hit; the common modern cosine formula is inlined,
// every other case defers to ValueOf. nil s gives nil.
func valueConverter(s *Scoring) func(float64) (float64, bool) {
	if s == nil {
		return nil
	}
	sc := *s
	if sc.Space == SpaceCosine && !sc.legacyScriptCosine() && !sc.legacyNmslibCosine() {
		return func(score float64) (float64, bool) {
			// ValueOf's cosine branch: c = 2·score − 1, clamped within tol.
			if !(score > 0) {
				return 0, false
			}
			c := 2*score - 1
			const tol = 1e-6
			if c < -1-tol || c > 1+tol {
				return 0, false
			}
			if c < -1 {
				c = -1
			} else if c > 1 {
				c = 1
			}
			return c, true
		}
	}
	return func(score float64) (float64, bool) {
		v, err := sc.ValueOf(score)
		return v, err == nil
	}
}
