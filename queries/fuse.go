package queries

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Hit is one search hit, from any sub-query, index or cluster.
type Hit struct {
	Cluster string          `json:"cluster,omitempty"`
	Index   string          `json:"index"`
	ID      string          `json:"id"`
	Score   float64         `json:"score"`
	Source  json.RawMessage `json:"source,omitempty"`
}

// SubResult is the ranked hit list of one sub-query, in the order the
// server returned it (score descending).
type SubResult struct {
	Name string // "bm25", "knn", ...
	Hits []Hit
	// Scoring, when set, converts the raw k-NN scores of this list to
	// natural similarity/distance for explanations and thresholds.
	Scoring *Scoring
}

// Normalization is a per-sub-query score normalization technique.
type Normalization string

const (
	NormMinMax Normalization = "min_max" // NS MinMaxScoreNormalizationTechnique
	NormL2     Normalization = "l2"      // NS L2ScoreNormalizationTechnique
	NormZScore Normalization = "z_score" // NS ZScoreNormalizationTechnique (3.0)
	NormRRF    Normalization = "rrf"     // NS RRFNormalizationTechnique (2.19)
	NormDBSF   Normalization = "dbsf"    // Qdrant distr_norm
	NormNone   Normalization = "none"    // raw scores
)

// Combination is how normalized scores of one document are combined.
type Combination string

const (
	CombArithmetic Combination = "arithmetic_mean"
	CombGeometric  Combination = "geometric_mean"
	CombHarmonic   Combination = "harmonic_mean"
	// CombSum is the weighted sum used by RRF (NS RRFScoreCombinationTechnique)
	// and DBSF (Qdrant score_fusion Aggregation::Sum).
	CombSum Combination = "sum"
)

// DefaultRankConstant is RRF's k (NS RRFNormalizationTechnique.DEFAULT_RANK_CONSTANT).
const DefaultRankConstant = 60

// minMaxFloor replaces a normalized 0 in min_max and a z ≤ 0 in z_score,
// so that the bottom document still counts as "returned" in geometric and
// harmonic means (NS MinMaxScoreNormalizationTechnique.MIN_SCORE = 0.001f,
// ZScoreNormalizationTechnique.MIN_SCORE = 0.001f).
const minMaxFloor = 0.001

// Fusion configures normalization and combination.
type Fusion struct {
	Normalization Normalization
	Combination   Combination
	// Weights, one per sub-query; nil means 1.0 each (NS
	// ScoreCombinationUtil.getWeightForSubQuery).
	Weights []float64
	// RankConstant for RRF; 0 means 60.
	RankConstant int
	// Bounds, for min_max only: one per sub-query (nil: none), neural-search
	// 3.x lower_bounds/upper_bounds.
	Bounds []MinMaxBounds
}

// BoundMode is how a min_max bound applies (NS bounds/BoundMode.java).
type BoundMode string

const (
	// BoundApply uses the bound in place of the observed min (max) for
	// scores beyond it, when the observed range crosses it.
	BoundApply BoundMode = "apply"
	// BoundClip normalizes against the bound and clips scores beyond it to
	// 0.001 (lower) or 1.0 (upper).
	BoundClip BoundMode = "clip"
	// BoundIgnore disables the bound.
	BoundIgnore BoundMode = "ignore"
)

// Bound is one side of a MinMaxBounds; Mode "" means apply.
type Bound struct {
	Mode  BoundMode
	Score float64
}

// MinMaxBounds are the lower and upper bounds of one sub-query's min_max
// normalization (NS LowerBound/UpperBound, 3.0 and 3.2).
type MinMaxBounds struct {
	Lower *Bound
	Upper *Bound
}

// lowerEffective is NS LowerBound.determineEffectiveScore.
func (b *Bound) lowerEffective(score, lo, hi float64) float64 {
	if b == nil {
		return lo
	}
	switch b.Mode {
	case BoundClip:
		if hi < b.Score {
			return lo
		}
		return b.Score
	case BoundIgnore:
		return lo
	default:
		if hi > b.Score && score > b.Score {
			return b.Score
		}
		return lo
	}
}

// upperEffective is NS UpperBound.determineEffectiveScore.
func (b *Bound) upperEffective(score, lo, hi float64) float64 {
	if b == nil {
		return hi
	}
	switch b.Mode {
	case BoundClip:
		if lo > b.Score {
			return hi
		}
		return b.Score
	case BoundIgnore:
		return hi
	default:
		if lo < b.Score && score < b.Score {
			return b.Score
		}
		return hi
	}
}

func (b *Bound) clips() bool { return b != nil && b.Mode == BoundClip }

// Defaults fills the combination the normalization implies.
func (f Fusion) withDefaults() Fusion {
	if f.Normalization == "" {
		f.Normalization = NormMinMax
	}
	if f.Combination == "" {
		switch f.Normalization {
		case NormRRF, NormDBSF:
			f.Combination = CombSum
		default:
			f.Combination = CombArithmetic
		}
	}
	if f.RankConstant == 0 {
		f.RankConstant = DefaultRankConstant
	}
	return f
}

// Validate applies the neural-search rules to the configuration for n
// sub-queries.
func (f Fusion) Validate(n int) error {
	f = f.withDefaults()
	switch f.Normalization {
	case NormMinMax, NormL2, NormZScore, NormRRF, NormDBSF, NormNone:
	default:
		return fmt.Errorf("normalization %q: want min_max, l2, z_score, rrf, dbsf or none", f.Normalization)
	}
	switch f.Combination {
	case CombArithmetic, CombGeometric, CombHarmonic, CombSum:
	default:
		return fmt.Errorf("combination %q: want arithmetic_mean, geometric_mean, harmonic_mean or sum", f.Combination)
	}
	// DW normalization-processor: z_score works only with arithmetic_mean.
	if f.Normalization == NormZScore && f.Combination != CombArithmetic {
		return fmt.Errorf("z_score normalization needs arithmetic_mean combination, not %s", f.Combination)
	}
	// RRF ranks are summed (NS RRFScoreCombinationTechnique); DBSF values can
	// be negative, which the means would drop (they skip s < 0 / s ≤ 0).
	if (f.Normalization == NormRRF || f.Normalization == NormDBSF) && f.Combination != CombSum {
		return fmt.Errorf("%s normalization needs sum combination, not %s", f.Normalization, f.Combination)
	}
	if f.Bounds != nil {
		if f.Normalization != NormMinMax {
			return fmt.Errorf("bounds work with min_max only, not %s", f.Normalization)
		}
		if len(f.Bounds) != n {
			// NS MinMaxScoreNormalizationTechnique.isBoundsAndSubQueriesCountMismatched.
			return fmt.Errorf("%d bounds for %d sub-queries", len(f.Bounds), n)
		}
		for i, b := range f.Bounds {
			for _, x := range []*Bound{b.Lower, b.Upper} {
				if x == nil {
					continue
				}
				switch x.Mode {
				case "", BoundApply, BoundClip, BoundIgnore:
				default:
					return fmt.Errorf("bounds[%d]: mode %q: want apply, clip or ignore", i, x.Mode)
				}
				if math.IsNaN(x.Score) || math.IsInf(x.Score, 0) {
					return fmt.Errorf("bounds[%d]: score %g", i, x.Score)
				}
			}
			if b.Lower != nil && b.Upper != nil && b.Lower.Mode != BoundIgnore && b.Upper.Mode != BoundIgnore && b.Lower.Score >= b.Upper.Score {
				return fmt.Errorf("bounds[%d]: lower %g is not below upper %g", i, b.Lower.Score, b.Upper.Score)
			}
		}
	}
	if f.RankConstant < 1 || f.RankConstant > 10000 {
		// NS RRFNormalizationTechnique.RANK_CONSTANT_RANGE.
		return fmt.Errorf("rank_constant %d outside 1..10000", f.RankConstant)
	}
	if f.Weights == nil {
		return nil
	}
	if len(f.Weights) != n {
		// NS ScoreCombinationUtil.validateIfWeightsMatchScores.
		return fmt.Errorf("%d weights for %d sub-queries", len(f.Weights), n)
	}
	sum := 0.0
	for i, w := range f.Weights {
		if math.IsNaN(w) || w < 0 {
			return fmt.Errorf("weight[%d] = %g is not ≥ 0", i, w)
		}
		if f.Normalization != NormDBSF && w > 1 {
			return fmt.Errorf("weight[%d] = %g outside [0, 1]", i, w)
		}
		sum += w
	}
	// NS ScoreCombinationUtil.validateWeights: sum 1.0 ± 0.01. DBSF weights
	// are plain multipliers in Qdrant and are not held to it.
	if f.Normalization != NormDBSF && math.Abs(sum-1) > 0.01 {
		return fmt.Errorf("weights sum to %g, want 1.0 ± 0.01", sum)
	}
	return nil
}

// Describe names the technique as explanations show it.
func (f Fusion) Describe() string {
	f = f.withDefaults()
	var b strings.Builder
	b.WriteString(string(f.Normalization))
	if f.Normalization == NormRRF {
		b.WriteString(", rank_constant ")
		b.WriteString(strconv.Itoa(f.RankConstant))
	}
	for i, x := range f.Bounds {
		for _, side := range []struct {
			name string
			b    *Bound
		}{{"lower", x.Lower}, {"upper", x.Upper}} {
			if side.b != nil {
				mode := side.b.Mode
				if mode == "" {
					mode = BoundApply
				}
				fmt.Fprintf(&b, ", %s bound[%d] %s %g", side.name, i, mode, side.b.Score)
			}
		}
	}
	b.WriteString(" + ")
	b.WriteString(string(f.Combination))
	if f.Weights != nil {
		b.WriteString(" weights [")
		for i, w := range f.Weights {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatFloat(w, 'g', -1, 64))
		}
		b.WriteString("]")
	}
	return b.String()
}

// SubScore explains one sub-query's part in a fused hit. The sub-query's
// weight is in Fused.Weights.
type SubScore struct {
	Raw float64
	// Similarity is the raw k-NN score in natural units (see Scoring);
	// valid when HasSimilarity.
	Similarity float64
	Normalized float64
	// Rank is the 1-based position in the sub-query's list (0 if absent).
	Rank          int32
	Present       bool
	HasSimilarity bool
}

// MarshalJSON writes only what is known: an absent sub-query is
// {"present": false}, and similarity appears only for k-NN sub-queries.
func (s SubScore) MarshalJSON() ([]byte, error) {
	if !s.Present {
		return []byte(`{"present":false}`), nil
	}
	type out struct {
		Present    bool     `json:"present"`
		Rank       int32    `json:"rank"`
		Raw        float64  `json:"raw_score"`
		Similarity *float64 `json:"similarity,omitempty"`
		Normalized float64  `json:"normalized"`
	}
	o := out{Present: true, Rank: s.Rank, Raw: s.Raw, Normalized: s.Normalized}
	if s.HasSimilarity {
		o.Similarity = &s.Similarity
	}
	return json.Marshal(o)
}

// Result is a fused hit. Hit points at the hit as a sub-query returned it
// (the first sub-query that did); Score, which shadows Hit.Score, is the
// fused score; Subs explain it (index-aligned with the sub-queries).
type Result struct {
	*Hit
	Score float64    `json:"score"`
	Subs  []SubScore `json:"subs,omitempty"`
}

// Fused is the output of Fuse.
type Fused struct {
	Results []Result
	// Total is the number of fused documents, of which FuseTop returns the
	// first few; FuseCut sets it to the number left after the cut-offs.
	Total int
	// Method describes the normalization and combination.
	Method string
	// SubNames and Weights are aligned with Result.Subs.
	SubNames []string
	Weights  []float64
}

type docKey struct{ cluster, index, id string }

// Fuse normalizes each sub-query's scores, combines them per document and
// ranks the documents, following the neural-search normalization processor
// (NS NormalizationProcessorWorkflow) with these documented choices:
//
//   - statistics (min, max, norm, mean, SD) are taken over the hits each
//     sub-query returned, as NS does across shards;
//   - a document missing from a sub-query gets 0.0 there: it counts in the
//     arithmetic mean's denominator (NS ArithmeticMean… sums s ≥ 0) and is
//     skipped by the geometric and harmonic means (they take s > 0); NS
//     ScoreCombiner initializes missing slots to 0.0;
//   - arithmetic is done in float64 (NS uses float32): rankings agree
//     except for scores within float32 rounding of each other;
//   - ties are broken by id, then index, then cluster, so the order is
//     total and pages are stable (NS sorts a HashMap, leaving ties in an
//     arbitrary order);
//   - every document any sub-query returned is kept (NS truncates to the
//     largest sub-query's hit count); cut-offs do the truncation here;
//   - z_score: when all scores of a sub-query are equal (SD 0, including a
//     single hit) every hit gets 1.0, and a score equal to the mean gets
//     the 0.001 floor. NS returns the raw max (score = mean) or raw min
//     (SD 0) there, which mixes raw and normalized units (NS
//     ZScoreNormalizationTechnique.normalizeSingleScore).
//
// Hits are deduplicated within a sub-query by (cluster, index, id): the
// first occurrence wins.
func Fuse(subs []SubResult, f Fusion) (Fused, error) {
	st, out, err := fuseScores(subs, f)
	if err != nil || st == nil {
		return out, err
	}
	defer st.release()
	keys := st.keys()
	st.sc.tmp = rankKeys(keys, st.sc.tmp, st.compare)
	// Explanations are copied in rank order into memory the caller owns,
	// sized for the documents (the pooled array is sized for the hits).
	n := st.nSub
	subsOut := make([]SubScore, len(keys)*n)
	out.Results = make([]Result, len(keys))
	for i, k := range keys {
		e := &st.ents[k.ent]
		dst := subsOut[i*n : (i+1)*n : (i+1)*n]
		copy(dst, st.flat[int(e.doc)*n:int(e.doc+1)*n])
		out.Results[i] = Result{Hit: st.hitOf(e), Score: e.score, Subs: dst}
	}
	return out, nil
}

// FuseTop is Fuse(subs, f) with Results cut to the first n (n ≤ 0 keeps
// all): the same results, in the same order, with the same explanations.
// It ranks only those n: a bounded selection over the fused documents,
// then a sort of the n chosen, which is exact because the order is total.
// Fused.Total still counts every fused document.
func FuseTop(subs []SubResult, f Fusion, n int) (Fused, error) {
	if n <= 0 {
		n = -1
	}
	return fuseWindow(subs, f, nil, 0, n, 0)
}

// fuseWindow ranks only a window of Fuse's list. With after nil it returns
// list[skip : skip+n]; with a cursor, the n results that rank strictly
// after it (as After does), skipping skip of them. limit > 0 treats the
// list as cut to its first limit results (a top-k cut). n < 0 means no
// bound.
func fuseWindow(subs []SubResult, f Fusion, after *Cursor, skip, n, limit int) (Fused, error) {
	st, out, err := fuseScores(subs, f)
	if err != nil || st == nil {
		return out, err
	}
	defer st.release()
	keys := st.keys()
	before := 0
	if after != nil {
		pivot := Hit{ID: after.ID, Index: after.Index, Cluster: after.Cluster}
		kept := keys[:0]
		for _, k := range keys {
			e := &st.ents[k.ent]
			if compareScoreHit(e.score, st.hitOf(e), after.Score, &pivot) > 0 {
				kept = append(kept, k)
			}
		}
		before = len(keys) - len(kept)
		keys = kept
	}
	end := len(keys)
	if n >= 0 {
		end = min(end, skip+n)
	}
	if limit > 0 {
		end = min(end, limit-before)
	}
	if end <= skip {
		out.Results = []Result{}
		return out, nil
	}
	keys = selectTop(keys, end, st.compare)[skip:]
	out.Results = make([]Result, len(keys))
	subsOut := make([]SubScore, len(keys)*st.nSub)
	for i, k := range keys {
		e := &st.ents[k.ent]
		dst := subsOut[i*st.nSub : (i+1)*st.nSub : (i+1)*st.nSub]
		copy(dst, st.flat[int(e.doc)*st.nSub:])
		out.Results[i] = Result{Hit: st.hitOf(e), Score: e.score, Subs: dst}
	}
	return out, nil
}

// PageSpec is the part of the cut list a caller shows: Size results from
// offset From, or, when After is set, the Size results after that cursor
// (From is then ignored).
type PageSpec struct {
	From, Size int
	After      *Cursor
}

// FuseCut fuses, cuts and pages in one call. It returns the page that
// Page (or After) would take from c.Apply(Fuse(subs, f).Results, …), the
// cut report, and in Fused.Total the length of the cut list, the same
// figures as those three calls. When the cut-offs are top-k alone (or
// none), the cut list is a prefix whose length is known without ranking,
// so only the documents up to the end of the page are ranked and
// explained (see FuseTop); minimum similarity, gaps, autocut and the
// cumulative share read the whole ranked list and take the full path.
func FuseCut(subs []SubResult, f Fusion, c Cutoff, scorings []*Scoring, p PageSpec) (Fused, CutReport, error) {
	if err := c.Validate(); err != nil {
		return Fused{}, CutReport{SimilaritySub: -1}, err
	}
	if p.From < 0 || p.Size < 0 {
		return Fused{}, CutReport{SimilaritySub: -1}, fmt.Errorf("page: from %d and size %d must be ≥ 0", p.From, p.Size)
	}
	if c.MinSimilarity != nil || c.GapAbs > 0 || c.GapRel > 0 || c.Autocut > 0 || c.Cumulative > 0 {
		out, err := Fuse(subs, f)
		if err != nil {
			return Fused{}, CutReport{SimilaritySub: -1}, err
		}
		kept, rep, err := c.Apply(out.Results, scorings)
		if err != nil {
			return Fused{}, rep, err
		}
		if p.After != nil {
			out.Results = After(kept, *p.After, p.Size)
		} else if out.Results, err = Page(kept, p.From, p.Size); err != nil {
			return Fused{}, rep, err
		}
		out.Total = len(kept)
		return out, rep, nil
	}
	skip := p.From
	if p.After != nil {
		skip = 0
	}
	out, err := fuseWindow(subs, f, p.After, skip, p.Size, c.TopK)
	if err != nil {
		return Fused{}, CutReport{SimilaritySub: -1}, err
	}
	n := out.Total
	if c.TopK > 0 {
		out.Total = min(n, c.TopK)
	}
	rep := CutReport{In: n, AfterMinSim: n, AfterGap: n, AfterCumul: n, AfterTopK: out.Total, SimilaritySub: -1}
	return out, rep, nil
}

// selectTop moves the n best keys (under cmp, best first) to keys[:n] in
// order and returns that prefix. For n well below len(keys) it keeps a
// heap of the n best seen so far, whose root is the worst of them: most
// keys lose to the root on the score alone and cost one comparison.
func selectTop(keys []sortKey, n int, cmp func(a, b sortKey) int) []sortKey {
	if n <= 0 {
		return keys[:0]
	}
	if n*4 >= len(keys) {
		rankKeys(keys, nil, cmp)
		return keys[:n]
	}
	h := keys[:n]
	// worse(i, j): h[i] ranks after h[j]; the root is the worst.
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= n {
				return
			}
			w := l
			if r := l + 1; r < n && cmp(h[r], h[l]) > 0 {
				w = r
			}
			if cmp(h[w], h[i]) <= 0 {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for i := n/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, k := range keys[n:] {
		if k.score < h[0].score || cmp(k, h[0]) >= 0 {
			continue
		}
		h[0] = k
		down(0)
	}
	slices.SortFunc(h, cmp)
	return h
}

// fuseState is the scored, unranked fusion of Fuse and FuseTop.
type fuseState struct {
	sc   *fuseScratch
	subs []SubResult
	ents []fuseEnt
	flat []SubScore // nSub explanations per document, by fuseEnt.doc
	nSub int
}

func (st *fuseState) hitOf(e *fuseEnt) *Hit { return &st.subs[e.sub].Hits[e.rank] }

// keys returns (score, entry) pairs to rank, in scratch memory.
func (st *fuseState) keys() []sortKey {
	keys := grow(st.sc.keys, len(st.ents))
	st.sc.keys = keys
	for i := range st.ents {
		keys[i] = sortKey{st.ents[i].score, int32(i)}
	}
	return keys
}

// compare ranks keys: score descending, then id, index, cluster (ids are
// read only for ties).
func (st *fuseState) compare(a, b sortKey) int {
	if a.score != b.score {
		if a.score > b.score {
			return -1
		}
		return 1
	}
	return compareKeys(st.hitOf(&st.ents[a.ent]), st.hitOf(&st.ents[b.ent]))
}

func (st *fuseState) release() {
	st.sc.ents, st.sc.flat = st.ents, st.flat
	putScratch(st.sc)
}

// fuseScores validates, normalizes and combines: every fused document with
// its score and explanations. A nil state (and no error) means there is
// nothing to rank; out then has its empty Results set.
func fuseScores(subs []SubResult, f Fusion) (*fuseState, Fused, error) {
	if err := f.Validate(len(subs)); err != nil {
		return nil, Fused{}, err
	}
	f = f.withDefaults()
	nSub := len(subs)
	total := 0
	for _, s := range subs {
		total += len(s.Hits)
	}
	out := Fused{Method: f.Describe(), SubNames: make([]string, nSub)}
	for i, s := range subs {
		out.SubNames[i] = s.Name
	}
	if total == 0 {
		out.Results = []Result{}
		return nil, out, nil
	}
	weights := make([]float64, nSub)
	for i := range weights {
		weights[i] = 1
		if f.Weights != nil {
			weights[i] = f.Weights[i]
		}
	}
	out.Weights = weights

	// Documents are found by id in an open-addressing table (one probe
	// sequence per hit: lookup and insert at once, where a Go map needs an
	// access then an assign). The rare documents that share an id across
	// indices or clusters are chained through fuseEnt.next and told apart
	// by an interned (cluster, index) number.
	sc := getScratch()
	srcs := sc.srcs
	var last srcPair
	lastSrc, haveLast := int32(0), false
	tbl := sc.ids.reset(total)
	ents := grow(sc.ents, total)[:0]
	flat := grow(sc.flat, total*nSub)
	clear(flat)
	norm := sc.norm[:0]
	st := &fuseState{sc: sc, subs: subs, nSub: nSub}
	for si, s := range subs {
		conv := valueConverter(s.Scoring)
		var bounds MinMaxBounds
		if f.Bounds != nil {
			bounds = f.Bounds[si]
		}
		norm = normalize(norm[:0], s.Hits, f, bounds)
		for r := range s.Hits {
			h := &s.Hits[r]
			if p := (srcPair{h.Cluster, h.Index}); !haveLast || p != last {
				id, ok := srcs[p]
				if !ok {
					id = int32(len(srcs))
					srcs[p] = id
				}
				last, lastSrc, haveLast = p, id, true
			}
			// Find the document: the table gives the first entry with this
			// id; walk its chain for this (cluster, index).
			hash := maphash.String(tbl.seed, h.ID)
			tag := uint32(hash) | 1
			i := (hash >> 32) & tbl.mask
			head := int32(-1)
			for {
				sl := &tbl.slots[i]
				if sl.tag == 0 {
					sl.tag, sl.ent = tag, int32(len(ents))
					break
				}
				if sl.tag == tag {
					if e := &ents[sl.ent]; subs[e.sub].Hits[e.rank].ID == h.ID {
						head = sl.ent
						break
					}
				}
				i = (i + 1) & tbl.mask
			}
			di := head
			for di >= 0 && ents[di].src != lastSrc {
				di = ents[di].next
			}
			if di < 0 {
				di = int32(len(ents))
				next := int32(-1)
				if head >= 0 {
					// Same id, other source: chain it behind the head.
					next, ents[head].next = ents[head].next, di
				}
				ents = append(ents, fuseEnt{sub: int32(si), rank: int32(r), src: lastSrc, next: next, doc: di})
			}
			ss := &flat[int(di)*nSub+si]
			if ss.Present {
				continue // duplicate within one sub-query: keep the first
			}
			ss.Present = true
			ss.Rank = int32(r + 1)
			ss.Raw = h.Score
			ss.Normalized = norm[r]
			if conv != nil {
				ss.Similarity, ss.HasSimilarity = conv(h.Score)
			}
		}
	}
	for i := range ents {
		ents[i].score = combine(flat[i*nSub:(i+1)*nSub], weights, f.Combination)
	}
	sc.norm = norm
	st.ents, st.flat = ents, flat[:len(ents)*nSub]
	out.Total = len(ents)
	return st, out, nil
}

type srcPair struct{ cluster, index string }

// fuseScratch is Fuse's working memory, pooled: fusing two 1,000-hit
// lists needs ~250 KB of it, which would otherwise be garbage per call.
type fuseScratch struct {
	ids  idTable
	srcs map[srcPair]int32
	ents []fuseEnt
	flat []SubScore
	keys []sortKey
	tmp  []sortKey // rankKeys' buffer
	norm []float64
}

// idTable is an open-addressing hash set of document ids (linear probing,
// at most half full); the ids themselves live in the hits.
type idTable struct {
	seed  maphash.Seed
	slots []idSlot
	mask  uint64
}

type idSlot struct {
	tag uint32 // low hash bits | 1; 0 is an empty slot
	ent int32  // first fuseEnt with this id
}

// reset empties the table and sizes it for n ids.
func (t *idTable) reset(n int) *idTable {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(t.slots) < size {
		t.slots = make([]idSlot, size)
	} else {
		t.slots = t.slots[:size]
		clear(t.slots)
	}
	t.mask = uint64(size - 1)
	return t
}

var scratchPool = sync.Pool{New: func() any {
	return &fuseScratch{ids: idTable{seed: maphash.MakeSeed()}, srcs: map[srcPair]int32{}}
}}

func getScratch() *fuseScratch { return scratchPool.Get().(*fuseScratch) }

func putScratch(sc *fuseScratch) {
	// Drop the references to the caller's strings before pooling.
	clear(sc.srcs)
	scratchPool.Put(sc)
}

// grow returns s resized to n, reallocating only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

type sortKey struct {
	score float64
	ent   int32
}

// fuseEnt is one fused document while Fuse works.
type fuseEnt struct {
	score     float64
	sub, rank int32 // where the document was first seen
	src       int32 // interned (cluster, index)
	next      int32 // next document with the same id, or −1
	doc       int32 // position in the flat SubScore array
}

// compareScoreHit is compareResults on (score, hit) pairs.
func compareScoreHit(as float64, a *Hit, bs float64, b *Hit) int {
	if as != bs {
		if as > bs {
			return -1
		}
		return 1
	}
	return compareKeys(a, b)
}

// compareResults orders by score descending, then id, index, cluster.
func compareResults(a, b *Result) int {
	if a.Score != b.Score {
		if a.Score > b.Score {
			return -1
		}
		return 1
	}
	return compareKeys(a.Hit, b.Hit)
}

// compareKeys orders by id, index, cluster: the tie-break everywhere.
func compareKeys(a, b *Hit) int {
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Index, b.Index); c != 0 {
		return c
	}
	return cmp.Compare(a.Cluster, b.Cluster)
}

// normalize appends the normalized score of each hit to dst.
func normalize(dst []float64, hits []Hit, f Fusion, bounds MinMaxBounds) []float64 {
	n := len(hits)
	if n == 0 {
		return dst
	}
	switch f.Normalization {
	case NormNone:
		for _, h := range hits {
			dst = append(dst, h.Score)
		}
	case NormMinMax:
		lo, hi := hits[0].Score, hits[0].Score
		for _, h := range hits[1:] {
			// Plain comparisons: scores are finite (math.Min/Max pay for
			// NaN and signed-zero handling).
			if h.Score < lo {
				lo = h.Score
			}
			if h.Score > hi {
				hi = h.Score
			}
		}
		for _, h := range hits {
			// NS MinMaxScoreNormalizationTechnique.normalizeSingleScore:
			// max = min = score → 1.0 (single result / all equal); bounds
			// move the effective min/max; clipped scores become 0.001 or
			// 1.0; a normalized 0 becomes 0.001.
			if hi == lo {
				dst = append(dst, 1)
				continue
			}
			effLo := bounds.Lower.lowerEffective(h.Score, lo, hi)
			effHi := bounds.Upper.upperEffective(h.Score, lo, hi)
			switch {
			case bounds.Lower.clips() && h.Score < effLo:
				dst = append(dst, minMaxFloor)
				continue
			case bounds.Upper.clips() && h.Score > effHi:
				dst = append(dst, 1)
				continue
			case effHi == effLo:
				dst = append(dst, 1)
				continue
			}
			v := (h.Score - effLo) / (effHi - effLo)
			if v == 0 {
				v = minMaxFloor
			}
			dst = append(dst, v)
		}
	case NormL2:
		// NS L2ScoreNormalizationTechnique: s / sqrt(Σ s²); norm 0 → 0.
		ss := 0.0
		for _, h := range hits {
			ss += h.Score * h.Score
		}
		nrm := math.Sqrt(ss)
		for _, h := range hits {
			if nrm == 0 {
				dst = append(dst, 0)
			} else {
				dst = append(dst, h.Score/nrm)
			}
		}
	case NormZScore:
		// NS ZScoreNormalizationTechnique: (s − mean) / sample SD (commons
		// math DescriptiveStatistics), z ≤ 0 → 0.001. Degenerate cases: see
		// Fuse.
		mean, sd := meanSampleSD(hits)
		for _, h := range hits {
			if sd == 0 {
				dst = append(dst, 1)
				continue
			}
			z := (h.Score - mean) / sd
			if z <= 0 {
				z = minMaxFloor
			}
			dst = append(dst, z)
		}
	case NormRRF:
		// NS RRFNormalizationTechnique: 1 / (rank_constant + rank), rank
		// 1-based in the sub-query's global order (the server's order here).
		for r := range hits {
			dst = append(dst, 1/float64(f.RankConstant+r+1))
		}
	case NormDBSF:
		// Qdrant distr_norm: one point → 0.5; else (s − (μ−3σ)) / 6σ with
		// sample σ; σ = 0 → 0.5. Not clipped: outliers fall outside [0, 1].
		if n == 1 {
			return append(dst, 0.5)
		}
		mean, sd := meanSampleSD(hits)
		lo, hi := mean-3*sd, mean+3*sd
		for _, h := range hits {
			if hi == lo {
				dst = append(dst, 0.5)
			} else {
				dst = append(dst, (h.Score-lo)/(hi-lo))
			}
		}
	}
	return dst
}

// meanSampleSD returns the mean and the n−1 standard deviation (0 for n<2).
func meanSampleSD(hits []Hit) (float64, float64) {
	n := float64(len(hits))
	mean := 0.0
	for _, h := range hits {
		mean += h.Score
	}
	mean /= n
	if len(hits) < 2 {
		return mean, 0
	}
	v := 0.0
	for _, h := range hits {
		d := h.Score - mean
		v += d * d
	}
	return mean, math.Sqrt(v / (n - 1))
}

// combine computes the fused score of one document.
func combine(subs []SubScore, w []float64, c Combination) float64 {
	switch c {
	case CombArithmetic:
		// NS ArithmeticMeanScoreCombinationTechnique: Σ w·s / Σ w over s ≥ 0;
		// an absent sub-query contributes s = 0 and its weight.
		num, den := 0.0, 0.0
		for i, s := range subs {
			v := s.Normalized
			if !s.Present {
				v = 0
			}
			if v >= 0 {
				num += w[i] * v
				den += w[i]
			}
		}
		if den == 0 {
			return 0
		}
		return num / den
	case CombGeometric:
		// NS GeometricMeanScoreCombinationTechnique: exp(Σ w ln s / Σ w) over s > 0.
		num, den := 0.0, 0.0
		for i, s := range subs {
			if !s.Present || s.Normalized <= 0 {
				continue
			}
			num += w[i] * math.Log(s.Normalized)
			den += w[i]
		}
		if den == 0 {
			return 0
		}
		return math.Exp(num / den)
	case CombHarmonic:
		// NS HarmonicMeanScoreCombinationTechnique: Σ w / Σ (w/s) over s > 0.
		num, den := 0.0, 0.0
		for i, s := range subs {
			if !s.Present || s.Normalized <= 0 {
				continue
			}
			num += w[i]
			den += w[i] / s.Normalized
		}
		if den <= 0 {
			return 0
		}
		return num / den
	default: // CombSum
		sum := 0.0
		for i, s := range subs {
			if s.Present {
				sum += w[i] * s.Normalized
			}
		}
		return sum
	}
}

// rankKeys sorts keys as slices.SortFunc(keys, cmp) would, cmp being
// score descending then a total tie-break. Long lists go through an LSD
// radix sort on the top 32 bits of the score's order-preserving bit
// pattern (sign, exponent and 20 mantissa bits: no comparisons, and a pass
// whose byte is the same for every key is skipped); each run that shares
// those 32 bits, equal or nearly equal scores, is then sorted by cmp. Short
// lists use cmp directly. It returns its scratch buffer for reuse.
func rankKeys(keys []sortKey, tmp []sortKey, cmp func(a, b sortKey) int) []sortKey {
	if len(keys) < 256 {
		slices.SortFunc(keys, cmp)
		return tmp
	}
	// Ascending order of top(s) = descending score: the IEEE bits, flipped
	// to sort as unsigned integers, complemented. −0 is taken as +0 so
	// that the two land in one run (they compare equal).
	top := func(s float64) uint32 {
		b := math.Float64bits(s)
		if s == 0 {
			b = 0
		}
		if b>>63 == 0 {
			b |= 1 << 63
		} else {
			b = ^b
		}
		return ^uint32(b >> 32)
	}
	var count [4][256]int32
	for _, k := range keys {
		u := top(k.score)
		count[0][byte(u)]++
		count[1][byte(u>>8)]++
		count[2][byte(u>>16)]++
		count[3][byte(u>>24)]++
	}
	tmp = grow(tmp, len(keys))
	src, dst := keys, tmp
	for p := range 4 {
		c := &count[p]
		shift := 8 * p
		if c[byte(top(src[0].score)>>shift)] == int32(len(src)) {
			continue // every key has the same byte here
		}
		var pos [256]int32
		sum := int32(0)
		for d := range 256 {
			pos[d] = sum
			sum += c[d]
		}
		for _, k := range src {
			d := byte(top(k.score) >> shift)
			dst[pos[d]] = k
			pos[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	// Runs that share the top bits: order by score, then the tie-break.
	for i := 0; i < len(keys); {
		ti := top(keys[i].score)
		j := i + 1
		for j < len(keys) && top(keys[j].score) == ti {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(keys[i:j], cmp)
		}
		i = j
	}
	return tmp
}
