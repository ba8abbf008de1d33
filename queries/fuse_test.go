package queries

import (
	"math"
	"strings"
	"testing"
)

// The base scenario, used for every technique. Expected values are worked
// out by hand in the comments.
//
//	bm25: a 10, b 6, c 2
//	knn:  d 0.9, b 0.8, c 0.5
func baseSubs() []SubResult {
	return []SubResult{
		{Name: "bm25", Hits: []Hit{{ID: "a", Score: 10}, {ID: "b", Score: 6}, {ID: "c", Score: 2}}},
		{Name: "knn", Hits: []Hit{{ID: "d", Score: 0.9}, {ID: "b", Score: 0.8}, {ID: "c", Score: 0.5}}},
	}
}

type want struct {
	id    string
	score float64
}

func checkRanking(t *testing.T, got Fused, exp []want) {
	t.Helper()
	if len(got.Results) != len(exp) {
		t.Fatalf("got %d results %v, want %d", len(got.Results), ids(got.Results), len(exp))
	}
	for i, w := range exp {
		r := got.Results[i]
		if r.ID != w.id || math.Abs(r.Score-w.score) > 1e-5 {
			t.Fatalf("rank %d: got %s %.6f, want %s %.6f (full %v)", i+1, r.ID, r.Score, w.id, w.score, ids(got.Results))
		}
		if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
			t.Fatalf("rank %d: score %v", i+1, r.Score)
		}
	}
}

func ids(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func mustFuse(t *testing.T, subs []SubResult, f Fusion) Fused {
	t.Helper()
	got, err := Fuse(subs, f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFuseBaseScenario(t *testing.T) {
	cases := []struct {
		name string
		f    Fusion
		exp  []want
	}{
		// min_max: bm25 a 1, b 0.5, c 0→0.001; knn d 1, b 0.75, c 0.001.
		// a (1+0)/2 = .5, b (.5+.75)/2 = .625, c .001, d (0+1)/2 = .5.
		// Neither sub-query ranks b first; a and d tie and go by id.
		{"min_max+arithmetic", Fusion{}, []want{{"b", .625}, {"a", .5}, {"d", .5}, {"c", .001}}},
		// weights .3/.7: a .3, b .15+.525 = .675, c .001, d .7.
		{"min_max+arithmetic weighted", Fusion{Weights: []float64{.3, .7}},
			[]want{{"d", .7}, {"b", .675}, {"a", .3}, {"c", .001}}},
		// geometric skips the missing 0: a 1, d 1, b sqrt(.5·.75) = .612372, c .001.
		{"min_max+geometric", Fusion{Combination: CombGeometric},
			[]want{{"a", 1}, {"d", 1}, {"b", .6123724}, {"c", .001}}},
		// harmonic: b 2/(1/.5 + 1/.75) = .6.
		{"min_max+harmonic", Fusion{Combination: CombHarmonic},
			[]want{{"a", 1}, {"d", 1}, {"b", .6}, {"c", .001}}},
		// geometric weighted .25/.75: b exp(.25 ln .5 + .75 ln .75)
		// = exp(−.173287 − .215762) = .677702.
		{"min_max+geometric weighted", Fusion{Combination: CombGeometric, Weights: []float64{.25, .75}},
			[]want{{"a", 1}, {"d", 1}, {"b", .677702}, {"c", .001}}},
		// harmonic weighted .25/.75: b 1/(.25/.5 + .75/.75) = .666667.
		{"min_max+harmonic weighted", Fusion{Combination: CombHarmonic, Weights: []float64{.25, .75}},
			[]want{{"a", 1}, {"d", 1}, {"b", .6666667}, {"c", .001}}},
		// l2: bm25 norm sqrt(140) → a .845154, b .507093, c .169031;
		// knn norm sqrt(1.7) → d .690268, b .613572, c .383482.
		// a .422577, b .560332, c .276257, d .345134.
		{"l2+arithmetic", Fusion{Normalization: NormL2},
			[]want{{"b", .560332}, {"a", .422577}, {"d", .345134}, {"c", .276257}}},
		// z_score: bm25 mean 6, sample SD 4 → a 1, b 0→.001, c −1→.001;
		// knn mean .733333, SD .208167 → d .800641, b .320256, c →.001.
		// a .5, b .160628, c .001, d .400320.
		{"z_score+arithmetic", Fusion{Normalization: NormZScore},
			[]want{{"a", .5}, {"d", .400320}, {"b", .160628}, {"c", .001}}},
		// rrf: a 1/61, b 2/62, c 2/63, d 1/61.
		{"rrf", Fusion{Normalization: NormRRF},
			[]want{{"b", 2.0 / 62}, {"c", 2.0 / 63}, {"a", 1.0 / 61}, {"d", 1.0 / 61}}},
		// rrf rank constant 1: a 1/2, b 1/3+1/3, c 1/4+1/4, d 1/2.
		{"rrf k=1", Fusion{Normalization: NormRRF, RankConstant: 1},
			[]want{{"b", 2.0 / 3}, {"a", .5}, {"c", .5}, {"d", .5}}},
		// rrf weighted .2/.8: a .2/61, b .2/62+.8/62, c 1/63, d .8/61.
		{"rrf weighted", Fusion{Normalization: NormRRF, Weights: []float64{.2, .8}},
			[]want{{"b", 1.0 / 62}, {"c", 1.0 / 63}, {"d", .8 / 61}, {"a", .2 / 61}}},
		// dbsf: bm25 μ 6 σ 4 → [−6, 18]: a .666667, b .5, c .333333;
		// knn μ .733333 σ .208167 → [.108834, 1.357833]: d .633440, b .553376, c .313183.
		// b 1.053376, a .666667, c .646516, d .633440.
		{"dbsf", Fusion{Normalization: NormDBSF},
			[]want{{"b", 1.053376}, {"a", .666667}, {"c", .646516}, {"d", .633440}}},
		// none + sum: raw scores add: a 10, b 6.8, c 2.5, d .9.
		{"none+sum", Fusion{Normalization: NormNone, Combination: CombSum},
			[]want{{"a", 10}, {"b", 6.8}, {"c", 2.5}, {"d", .9}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRanking(t, mustFuse(t, baseSubs(), c.f), c.exp)
		})
	}
}

func TestFuseExplanation(t *testing.T) {
	knnScoring := &Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: Version{2, 19, 1}}
	subs := baseSubs()
	subs[1].Scoring = knnScoring
	got := mustFuse(t, subs, Fusion{Weights: []float64{.5, .5}})
	if got.Method != "min_max + arithmetic_mean weights [0.5, 0.5]" {
		t.Fatalf("method %q", got.Method)
	}
	b := got.Results[0]
	if b.ID != "b" || len(b.Subs) != 2 {
		t.Fatalf("top %v", b)
	}
	bm, kn := b.Subs[0], b.Subs[1]
	if !bm.Present || bm.Rank != 2 || bm.Raw != 6 || bm.Normalized != .5 || bm.HasSimilarity {
		t.Fatalf("bm25 part %+v", bm)
	}
	// knn raw .8 → cosine 2·.8 − 1 = .6
	if !kn.Present || kn.Rank != 2 || kn.Raw != .8 || math.Abs(kn.Normalized-.75) > 1e-12 || !kn.HasSimilarity || math.Abs(kn.Similarity-.6) > 1e-12 {
		t.Fatalf("knn part %+v", kn)
	}
	a := got.Results[1]
	if a.ID != "a" || a.Subs[1].Present || a.Subs[1].Rank != 0 {
		t.Fatalf("a should be absent from knn: %+v", a)
	}
}

func TestFuseEmptyAndOneSided(t *testing.T) {
	got := mustFuse(t, []SubResult{{Name: "bm25"}, {Name: "knn"}}, Fusion{})
	if len(got.Results) != 0 {
		t.Fatalf("empty: %v", ids(got.Results))
	}
	got = mustFuse(t, nil, Fusion{})
	if len(got.Results) != 0 {
		t.Fatalf("no subs: %v", ids(got.Results))
	}
	// bm25 empty, knn x .9, y .5: min_max x 1, y .001; the missing bm25 0
	// counts in the arithmetic denominator: x .5, y .0005.
	one := []SubResult{{Name: "bm25"}, {Name: "knn", Hits: []Hit{{ID: "x", Score: .9}, {ID: "y", Score: .5}}}}
	checkRanking(t, mustFuse(t, one, Fusion{}), []want{{"x", .5}, {"y", .0005}})
	// geometric skips the missing one: x 1, y .001.
	checkRanking(t, mustFuse(t, one, Fusion{Combination: CombGeometric}), []want{{"x", 1}, {"y", .001}})
	// harmonic likewise.
	checkRanking(t, mustFuse(t, one, Fusion{Combination: CombHarmonic}), []want{{"x", 1}, {"y", .001}})
}

func TestFuseSingleResult(t *testing.T) {
	single := []SubResult{{Name: "knn", Hits: []Hit{{ID: "x", Score: .42}}}}
	cases := []struct {
		f     Fusion
		score float64
	}{
		{Fusion{}, 1},                              // NS: max = min → 1.0
		{Fusion{Normalization: NormL2}, 1},         // .42/.42
		{Fusion{Normalization: NormZScore}, 1},     // SD 0 → 1.0 (documented deviation)
		{Fusion{Normalization: NormRRF}, 1.0 / 61}, // rank 1
		{Fusion{Normalization: NormDBSF}, .5},      // Qdrant: one point → 0.5
		{Fusion{Normalization: NormNone, Combination: CombSum}, .42},
	}
	for _, c := range cases {
		checkRanking(t, mustFuse(t, single, c.f), []want{{"x", c.score}})
	}
}

func TestFuseAllEqual(t *testing.T) {
	eq := []SubResult{
		{Name: "bm25", Hits: []Hit{{ID: "c", Score: 3}, {ID: "a", Score: 3}, {ID: "b", Score: 3}}},
	}
	// Equal scores: no division by zero, ties resolved by id.
	for _, c := range []struct {
		f     Fusion
		score float64
	}{
		{Fusion{}, 1},
		{Fusion{Normalization: NormL2}, 1 / math.Sqrt(3)},
		{Fusion{Normalization: NormZScore}, 1},
		{Fusion{Normalization: NormDBSF}, .5},
	} {
		checkRanking(t, mustFuse(t, eq, c.f), []want{{"a", c.score}, {"b", c.score}, {"c", c.score}})
	}
	// RRF keeps the server's order even when scores tie: c 1/61, a 1/62, b 1/63.
	checkRanking(t, mustFuse(t, eq, Fusion{Normalization: NormRRF}), []want{{"c", 1.0 / 61}, {"a", 1.0 / 62}, {"b", 1.0 / 63}})
	// All-zero scores under l2: norm 0 → 0, no NaN.
	zero := []SubResult{{Name: "x", Hits: []Hit{{ID: "a", Score: 0}, {ID: "b", Score: 0}}}}
	checkRanking(t, mustFuse(t, zero, Fusion{Normalization: NormL2}), []want{{"a", 0}, {"b", 0}})
}

func TestFuseNegativeInnerProduct(t *testing.T) {
	// Inner products .2, −.5, −2 → scores 1.2, 1/1.5, 1/3 (KNN SpaceType).
	sc := &Scoring{Space: SpaceInnerProduct, Engine: EngineLucene, Version: Version{2, 19, 1}}
	knn := SubResult{Name: "knn", Scoring: sc, Hits: []Hit{{ID: "p", Score: 1.2}, {ID: "q", Score: 1 / 1.5}, {ID: "r", Score: 1.0 / 3}}}
	got := mustFuse(t, []SubResult{knn}, Fusion{Normalization: NormNone, Combination: CombSum})
	checkRanking(t, got, []want{{"p", 1.2}, {"q", 1 / 1.5}, {"r", 1.0 / 3}})
	for i, ip := range []float64{.2, -.5, -2} {
		s := got.Results[i].Subs[0]
		if !s.HasSimilarity || math.Abs(s.Similarity-ip) > 1e-12 {
			t.Fatalf("%s: similarity %v, want %v", got.Results[i].ID, s.Similarity, ip)
		}
	}
	// min_max over them: p 1, q (.666667−.333333)/(.866667) = .384615, r .001.
	got = mustFuse(t, []SubResult{knn}, Fusion{})
	checkRanking(t, got, []want{{"p", 1}, {"q", .3846154}, {"r", .001}})
	// Cut at inner product ≥ −1: p and q stay.
	ms := -1.0
	kept, _, err := Cutoff{MinSimilarity: &ms}.Apply(got.Results, []*Scoring{sc})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids(kept), ",") != "p,q" {
		t.Fatalf("kept %v", ids(kept))
	}
}

func TestFuseTiesAndDuplicates(t *testing.T) {
	subs := []SubResult{
		{Name: "bm25", Hits: []Hit{{ID: "b", Score: 5}, {ID: "a", Score: 5}, {ID: "b", Score: 1}}},
		{Name: "knn", Hits: []Hit{{ID: "a", Score: .5}, {ID: "b", Score: .5}}},
	}
	// The duplicate b (score 1) is ignored, so bm25 is all 5s → 1.0 each;
	// knn all .5 → 1.0 each: a and b tie at 1.0 and go by id.
	got := mustFuse(t, subs, Fusion{})
	checkRanking(t, got, []want{{"a", 1}, {"b", 1}})
	if got.Results[1].Subs[0].Rank != 1 {
		t.Fatalf("b keeps its first rank: %+v", got.Results[1].Subs[0])
	}
	// The same id in two indices is two documents.
	two := []SubResult{{Name: "x", Hits: []Hit{{Index: "i2", ID: "a", Score: 1}, {Index: "i1", ID: "a", Score: 1}}}}
	got = mustFuse(t, two, Fusion{Normalization: NormNone, Combination: CombSum})
	if len(got.Results) != 2 || got.Results[0].Index != "i1" {
		t.Fatalf("index tie-break: %+v", got.Results)
	}
}

func TestFusionValidate(t *testing.T) {
	bad := []struct {
		f    Fusion
		n    int
		want string
	}{
		{Fusion{Weights: []float64{.5}}, 2, "1 weights for 2"},
		{Fusion{Weights: []float64{.5, .6}}, 2, "sum to"},
		{Fusion{Weights: []float64{1.5, -.5}}, 2, "outside [0, 1]"},
		{Fusion{Weights: []float64{-.2, 1.2}}, 2, "not ≥ 0"},
		{Fusion{Normalization: NormZScore, Combination: CombGeometric}, 2, "z_score"},
		{Fusion{Normalization: NormRRF, Combination: CombArithmetic}, 2, "rrf normalization needs sum"},
		{Fusion{Normalization: NormRRF, RankConstant: 10001}, 2, "rank_constant"},
		{Fusion{Normalization: "minmax"}, 2, "normalization \"minmax\""},
		{Fusion{Combination: "avg"}, 2, "combination \"avg\""},
	}
	for _, b := range bad {
		err := b.f.Validate(b.n)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: err %v, want %q", b.f, err, b.want)
		}
	}
	// 1.0 ± 0.01 is accepted (NS DELTA_FOR_SCORE_ASSERTION), DBSF weights free.
	for _, f := range []Fusion{{Weights: []float64{.3, .705}}, {Normalization: NormDBSF, Weights: []float64{2, 3}}} {
		if err := f.Validate(2); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
}

func TestMinMaxBounds(t *testing.T) {
	bm := []SubResult{{Name: "bm25", Hits: []Hit{{ID: "a", Score: 10}, {ID: "b", Score: 6}, {ID: "c", Score: 2}}}}
	lb := func(m BoundMode, s float64) []MinMaxBounds { return []MinMaxBounds{{Lower: &Bound{Mode: m, Score: s}}} }
	ub := func(m BoundMode, s float64) []MinMaxBounds { return []MinMaxBounds{{Upper: &Bound{Mode: m, Score: s}}} }
	cases := []struct {
		name    string
		bounds  []MinMaxBounds
		a, b, c float64
	}{
		// Clip at 5: effective min 5; c (2 < 5) clips to 0.001; b (6−5)/5.
		{"lower clip 5", lb(BoundClip, 5), 1, .2, .001},
		// Apply at 5: a and b above 5 use it; c at or below uses the min 2 → 0 → 0.001.
		{"lower apply 5", lb(BoundApply, 5), 1, .2, .001},
		// Apply at 0 (the default score): normalize against 0: 1, .6, .2.
		{"lower apply 0", lb("", 0), 1, .6, .2},
		{"lower ignore", lb(BoundIgnore, 5), 1, .5, .001},
		// Upper clip at 8: a (10 > 8) clips to 1; b (6−2)/(8−2); c 0 → 0.001.
		{"upper clip 8", ub(BoundClip, 8), 1, 4.0 / 6, .001},
		// Upper apply at 8: a (≥ 8) uses the max 10 → 1; b uses 8 → 4/6.
		{"upper apply 8", ub(BoundApply, 8), 1, 4.0 / 6, .001},
	}
	for _, c := range cases {
		got := mustFuse(t, bm, Fusion{Normalization: NormMinMax, Combination: CombSum, Bounds: c.bounds})
		checkRanking(t, got, []want{{"a", c.a}, {"b", c.b}, {"c", c.c}})
		if !strings.Contains(got.Method, "bound[0]") {
			t.Errorf("method %q does not show the bound", got.Method)
		}
	}
	for _, bad := range []Fusion{
		{Normalization: NormL2, Bounds: lb(BoundClip, 1)},
		{Bounds: []MinMaxBounds{{}, {}}},
		{Bounds: lb("cut", 1)},
		{Bounds: []MinMaxBounds{{Lower: &Bound{Score: 2}, Upper: &Bound{Score: 1}}}},
	} {
		if err := bad.Validate(1); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
