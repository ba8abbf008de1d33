package queries

import (
	"strings"
	"testing"
)

func resultsOf(scores ...float64) []Result {
	rs := make([]Result, len(scores))
	for i, s := range scores {
		rs[i] = Result{Hit: &Hit{ID: string(rune('a' + i)), Score: s}, Score: s}
	}
	return rs
}

func cut(t *testing.T, c Cutoff, rs []Result, sc []*Scoring) ([]Result, CutReport) {
	t.Helper()
	out, rep, err := c.Apply(rs, sc)
	if err != nil {
		t.Fatal(err)
	}
	return out, rep
}

func TestGapCut(t *testing.T) {
	rs := resultsOf(1.0, .95, .9, .5, .45)
	cases := []struct {
		c    Cutoff
		keep int
	}{
		{Cutoff{}, 5},
		{Cutoff{GapAbs: .2}, 3},  // .9 → .5 drops .4 > .2
		{Cutoff{GapAbs: .4}, 5},  // .4 is not > .4
		{Cutoff{GapRel: .3}, 3},  // .4/.9 = .444 > .3; .05/1 and .05/.95 are not
		{Cutoff{GapRel: .5}, 5},  // nothing drops by half
		{Cutoff{GapAbs: .04}, 1}, // 1 → .95 drops .05
	}
	for _, c := range cases {
		out, _ := cut(t, c.c, rs, nil)
		if len(out) != c.keep {
			t.Errorf("%+v: kept %d, want %d", c.c, len(out), c.keep)
		}
	}
	// All equal, empty, single: nothing to cut.
	for _, rs := range [][]Result{resultsOf(.7, .7, .7), nil, resultsOf(.3)} {
		out, _ := cut(t, Cutoff{GapAbs: .01, GapRel: .01}, rs, nil)
		if len(out) != len(rs) {
			t.Errorf("%v: kept %d", rs, len(out))
		}
	}
}

func TestAutocut(t *testing.T) {
	// y normalized against the line i/5: diff = [0, −.1615, −.3231, .3615,
	// .1808, 0]; the first local maximum is at i = 3 → keep 3.
	y := []float64{1.0, .98, .96, .5, .49, .48}
	if n := AutocutIndex(y, 1); n != 3 {
		t.Fatalf("autocut 1: %d, want 3", n)
	}
	// No second jump → everything.
	if n := AutocutIndex(y, 2); n != 6 {
		t.Fatalf("autocut 2: %d, want 6", n)
	}
	// Two cliffs: 1, .99 | .6, .59 | .2, .19. Normalized y: 0, .0123, .4938,
	// .5062, .9877, 1; line 0,.2,.4,.6,.8,1 → diff 0, −.1877, .0938, −.0938,
	// .1877, 0: first jump at 2, second at 4.
	y2 := []float64{1, .99, .6, .59, .2, .19}
	if n := AutocutIndex(y2, 1); n != 2 {
		t.Fatalf("two cliffs, autocut 1: %d, want 2", n)
	}
	if n := AutocutIndex(y2, 2); n != 4 {
		t.Fatalf("two cliffs, autocut 2: %d, want 4", n)
	}
	for _, y := range [][]float64{nil, {1}, {1, .5}, {.3, .3, .3}} {
		if n := AutocutIndex(y, 1); n != len(y) {
			t.Errorf("%v: %d", y, n)
		}
	}
	out, _ := cut(t, Cutoff{Autocut: 1}, resultsOf(y...), nil)
	if len(out) != 3 {
		t.Fatalf("Apply autocut kept %d", len(out))
	}
}

func TestCumulativeCut(t *testing.T) {
	s := []float64{.5, .3, .1, .1}
	for _, c := range []struct {
		p    float64
		keep int
	}{{.5, 1}, {.8, 2}, {.81, 3}, {1, 4}, {.01, 1}} {
		n, err := CumulativeCut(s, c.p)
		if err != nil || n != c.keep {
			t.Errorf("p %g: %d %v, want %d", c.p, n, err, c.keep)
		}
	}
	if n, _ := CumulativeCut([]float64{0, 0}, .5); n != 2 {
		t.Errorf("zero total kept %d", n)
	}
	if n, _ := CumulativeCut(nil, .5); n != 0 {
		t.Errorf("empty kept %d", n)
	}
	if _, err := CumulativeCut([]float64{1, -1}, .5); err == nil {
		t.Error("negative score accepted")
	}
	// Equal scores: p .5 of 4 equal → 2.
	if n, _ := CumulativeCut([]float64{.25, .25, .25, .25}, .5); n != 2 {
		t.Errorf("equal scores kept %d", n)
	}
}

func TestCutoffPipeline(t *testing.T) {
	// Fused base scenario (min_max + arithmetic): b .625, a .5, d .5, c .001.
	sc := &Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: Version{2, 19, 1}}
	subs := baseSubs()
	subs[1].Scoring = sc
	f := mustFuse(t, subs, Fusion{})
	scorings := []*Scoring{nil, sc}

	// cosine ≥ .5 ⇔ knn score ≥ .75: d (.9 → cos .8) and b (.8 → .6); a is
	// absent from knn and dropped; c (.5 → 0) fails.
	ms := .5
	out, rep := cut(t, Cutoff{MinSimilarity: &ms}, f.Results, scorings)
	if strings.Join(ids(out), ",") != "b,d" || rep.SimilaritySub != 1 || rep.AfterMinSim != 2 {
		t.Fatalf("min similarity: %v %+v", ids(out), rep)
	}
	// Gap .3 cuts c (.5 → .001); top-k 2 then keeps b, a.
	out, rep = cut(t, Cutoff{GapAbs: .3, TopK: 2}, f.Results, scorings)
	if strings.Join(ids(out), ",") != "b,a" || rep.AfterGap != 3 || rep.AfterTopK != 2 {
		t.Fatalf("gap+topk: %v %+v", ids(out), rep)
	}
	// Cumulative .5 of 1.626: b .625, a 1.125 ≥ .813 → b, a.
	out, _ = cut(t, Cutoff{Cumulative: .5}, f.Results, scorings)
	if strings.Join(ids(out), ",") != "b,a" {
		t.Fatalf("cumulative: %v", ids(out))
	}
	// A distance space keeps what is at most the threshold: l2 scores .5
	// (distance 1) and .2 (distance 2); ≤ 1.5 keeps the first.
	l2 := &Scoring{Space: SpaceL2, Engine: EngineLucene}
	knn := SubResult{Name: "knn", Scoring: l2, Hits: []Hit{{ID: "n", Score: .5}, {ID: "f", Score: .2}}}
	fl := mustFuse(t, []SubResult{knn}, Fusion{Normalization: NormNone, Combination: CombSum})
	d := 1.5
	out, _ = cut(t, Cutoff{MinSimilarity: &d}, fl.Results, []*Scoring{l2})
	if strings.Join(ids(out), ",") != "n" {
		t.Fatalf("l2 distance cut: %v", ids(out))
	}
	// Errors.
	if _, _, err := (Cutoff{MinSimilarity: &ms}).Apply(f.Results, []*Scoring{nil, nil}); err == nil {
		t.Error("min similarity without a k-NN scoring accepted")
	}
	for _, c := range []Cutoff{{TopK: -1}, {GapRel: 2}, {Cumulative: 1.5}, {GapAbs: -1}} {
		if _, _, err := c.Apply(f.Results, scorings); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
