package queries

import (
	"fmt"
	"math"
)

// Cutoff configures where a ranked result list stops. Stages run in this
// order, each on what the previous kept: minimum similarity (a filter),
// score gap / autocut (a relevance cliff), cumulative share, top-k.
type Cutoff struct {
	// TopK keeps at most this many results (0: no limit).
	TopK int
	// MinSimilarity, in the natural units of the k-NN sub-query (see
	// Scoring: cosine/inner product ≥ t, distances ≤ t). Results the k-NN
	// sub-query did not return have no similarity and are dropped.
	MinSimilarity *float64
	// SimilaritySub is the index of the sub-query whose similarity
	// MinSimilarity reads; when that sub-query has no Scoring (or the index
	// is out of range, e.g. -1), the first sub-query that has one is used.
	SimilaritySub int
	// GapAbs stops before the first result whose score is more than GapAbs
	// below the previous one (0: off).
	GapAbs float64
	// GapRel stops before the first result whose score drops by more than
	// GapRel × the previous score (0: off).
	GapRel float64
	// Autocut stops at the Autocut-th jump in the score curve, Weaviate's
	// way (entities/autocut/autocut.go): scores are normalized to [0, 1]
	// against the straight line i/(n−1) and a jump is a local maximum of
	// the difference (0: off).
	Autocut int
	// Cumulative keeps results until their scores add up to this share of
	// the total, including the one that crosses it (0: off; (0, 1]).
	Cumulative float64
}

// CutReport says how many results each stage kept.
type CutReport struct {
	In            int `json:"in"`
	AfterMinSim   int `json:"after_min_similarity"`
	AfterGap      int `json:"after_gap"`
	AfterCumul    int `json:"after_cumulative"`
	AfterTopK     int `json:"after_top_k"`
	SimilaritySub int `json:"similarity_sub"`
}

// Validate checks the ranges.
func (c Cutoff) Validate() error {
	switch {
	case c.TopK < 0:
		return fmt.Errorf("cutoff: top_k %d is negative", c.TopK)
	case c.GapAbs < 0 || math.IsNaN(c.GapAbs):
		return fmt.Errorf("cutoff: absolute gap %g is negative", c.GapAbs)
	case c.GapRel < 0 || c.GapRel > 1 || math.IsNaN(c.GapRel):
		return fmt.Errorf("cutoff: relative gap %g outside [0, 1]", c.GapRel)
	case c.Autocut < 0:
		return fmt.Errorf("cutoff: autocut %d is negative", c.Autocut)
	case c.Cumulative < 0 || c.Cumulative > 1 || math.IsNaN(c.Cumulative):
		return fmt.Errorf("cutoff: cumulative share %g outside (0, 1]", c.Cumulative)
	case c.MinSimilarity != nil && math.IsNaN(*c.MinSimilarity):
		return fmt.Errorf("cutoff: min similarity is NaN")
	}
	return nil
}

// Apply cuts f.Results (which must be ranked, as Fuse returns them).
// scorings are the sub-queries' Scoring (nil for non-k-NN ones), aligned
// with Result.Subs.
func (c Cutoff) Apply(results []Result, scorings []*Scoring) ([]Result, CutReport, error) {
	rep := CutReport{In: len(results), SimilaritySub: -1}
	if err := c.Validate(); err != nil {
		return nil, rep, err
	}
	out := results
	if c.MinSimilarity != nil {
		sub := c.SimilaritySub
		if sub < 0 || sub >= len(scorings) || scorings[sub] == nil {
			sub = -1
			for i, s := range scorings {
				if s != nil {
					sub = i
					break
				}
			}
		}
		if sub < 0 {
			return nil, rep, fmt.Errorf("cutoff: min similarity needs a k-NN sub-query, none has a scoring")
		}
		rep.SimilaritySub = sub
		sc := scorings[sub]
		kept := make([]Result, 0, len(out))
		for _, r := range out {
			if sub >= len(r.Subs) || !r.Subs[sub].HasSimilarity {
				continue
			}
			if sc.Passes(r.Subs[sub].Similarity, *c.MinSimilarity) {
				kept = append(kept, r)
			}
		}
		out = kept
	}
	rep.AfterMinSim = len(out)
	out = out[:GapCut(out, c.GapAbs, c.GapRel)]
	if c.Autocut > 0 {
		out = out[:AutocutIndex(scoresOf(out), c.Autocut)]
	}
	rep.AfterGap = len(out)
	if c.Cumulative > 0 {
		n, err := CumulativeCut(scoresOf(out), c.Cumulative)
		if err != nil {
			return nil, rep, err
		}
		out = out[:n]
	}
	rep.AfterCumul = len(out)
	if c.TopK > 0 && len(out) > c.TopK {
		out = out[:c.TopK]
	}
	rep.AfterTopK = len(out)
	return out, rep, nil
}

func scoresOf(rs []Result) []float64 {
	s := make([]float64, len(rs))
	for i, r := range rs {
		s[i] = r.Score
	}
	return s
}

// GapCut returns how many results to keep: it stops before the first i
// where score[i−1] − score[i] > abs (abs > 0) or > rel·score[i−1] (rel > 0).
func GapCut(rs []Result, abs, rel float64) int {
	if abs <= 0 && rel <= 0 {
		return len(rs)
	}
	for i := 1; i < len(rs); i++ {
		d := rs[i-1].Score - rs[i].Score
		if abs > 0 && d > abs {
			return i
		}
		if rel > 0 && rs[i-1].Score > 0 && d > rel*rs[i-1].Score {
			return i
		}
	}
	return len(rs)
}

// AutocutIndex is Weaviate's autocut (entities/autocut/autocut.go) on
// ranked scores: how many results precede the cutOff-th jump. All-equal
// scores and lists of fewer than 3 keep everything (Weaviate divides by
// zero there and ends up keeping everything too).
func AutocutIndex(y []float64, cutOff int) int {
	n := len(y)
	if n < 3 || cutOff <= 0 || y[n-1] == y[0] {
		return n
	}
	diff := make([]float64, n)
	step := 1 / float64(n-1)
	for i := range y {
		x := float64(i) * step
		yn := (y[i] - y[0]) / (y[n-1] - y[0])
		diff[i] = yn - x
	}
	extrema := 0
	for i := 1; i < n; i++ {
		var peak bool
		if i == n-1 {
			peak = diff[i] > diff[i-1] && diff[i] > diff[i-2]
		} else {
			peak = diff[i] > diff[i-1] && diff[i] > diff[i+1]
		}
		if peak {
			extrema++
			if extrema >= cutOff {
				return i
			}
		}
	}
	return n
}

// CumulativeCut returns how many scores to keep so that they add up to at
// least p of the total (the crossing one included). Scores must be ≥ 0;
// a zero total keeps everything.
func CumulativeCut(scores []float64, p float64) (int, error) {
	total := 0.0
	for i, s := range scores {
		if s < 0 || math.IsNaN(s) {
			return 0, fmt.Errorf("cumulative cut-off: score[%d] = %g is negative; normalize first", i, s)
		}
		total += s
	}
	if total == 0 {
		return len(scores), nil
	}
	run := 0.0
	for i, s := range scores {
		run += s
		// A relative epsilon so that p = 1 keeps exactly what is non-zero
		// despite rounding in the running sum.
		if run >= p*total*(1-1e-12) {
			return i + 1, nil
		}
	}
	return len(scores), nil
}
