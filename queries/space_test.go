package queries

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var v2191 = Version{2, 19, 1}

// allScorings lists every space × engine × source × version combination
// whose formula differs.
func allScorings() []Scoring {
	var out []Scoring
	for _, sp := range []Space{SpaceL1, SpaceL2, SpaceLinf, SpaceCosine, SpaceInnerProduct, SpaceHamming, SpaceHammingBit} {
		for _, e := range []Engine{EngineLucene, EngineFaiss, EngineNmslib} {
			for _, v := range []Version{{2, 17, 0}, v2191, {3, 0, 0}, {}} {
				for _, script := range []bool{false, true} {
					out = append(out, Scoring{Space: sp, Engine: e, Version: v, Script: script})
				}
			}
		}
	}
	return out
}

// randomValue draws a natural value over the space's whole domain, with
// the edges included.
func randomValue(r *rand.Rand, sp Space) float64 {
	switch sp {
	case SpaceCosine:
		switch r.IntN(10) {
		case 0:
			return -1
		case 1:
			return 1
		case 2:
			return 0
		}
		return r.Float64()*2 - 1
	case SpaceInnerProduct:
		switch r.IntN(10) {
		case 0:
			return 0
		case 1:
			return -r.Float64() * 1e6
		case 2:
			return r.Float64() * 1e6
		}
		return r.NormFloat64() * 3
	case SpaceHamming, SpaceHammingBit:
		return float64(r.IntN(4097))
	default:
		if r.IntN(10) == 0 {
			return 0
		}
		return math.Abs(r.NormFloat64()) * math.Pow(10, float64(r.IntN(6)-2))
	}
}

func close(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// Property: ValueOf(ScoreOf(v)) = v over the whole domain, and ScoreOf is
// monotone in "better".
func TestScoringRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sc := range allScorings() {
		for range 2000 {
			v := randomValue(r, sc.Space)
			s, err := sc.ScoreOf(v)
			if err != nil {
				t.Fatalf("%s: ScoreOf(%g): %v", sc, v, err)
			}
			if s == 0 {
				// (1+cos)/2 and 1+cos are 0 at cos = −1: Lucene scores
				// must be positive, so no score inverts to it.
				if sc.Space != SpaceCosine || v != -1 {
					t.Fatalf("%s: score 0 for %g", sc, v)
				}
				continue
			}
			back, err := sc.ValueOf(s)
			if err != nil {
				t.Fatalf("%s: ValueOf(ScoreOf(%g) = %g): %v", sc, v, s, err)
			}
			if !close(back, v) && !(sc.Space == SpaceL2 && math.Abs(back-v) < 1e-6) {
				t.Fatalf("%s: %g → score %g → %g", sc, v, s, back)
			}
			// Monotone: a better value has a higher score.
			w := randomValue(r, sc.Space)
			sw, _ := sc.ScoreOf(w)
			better := w > v
			if !sc.Space.HigherIsBetter() {
				better = w < v
			}
			if better && sw < s {
				t.Fatalf("%s: %g better than %g but score %g < %g", sc, w, v, sw, s)
			}
		}
	}
}

// Property: ScoreOf(ValueOf(s)) = s for every score the formula can produce.
func TestScoringInverseProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sc := range allScorings() {
		lo, hi := 1e-9, 1.0
		switch {
		case sc.Space == SpaceInnerProduct:
			hi = 1e6
		case sc.legacyScriptCosine():
			hi = 2
		case sc.Space == SpaceCosine && sc.legacyNmslibCosine():
			lo = 1.0 / 3
		}
		for range 2000 {
			s := lo + r.Float64()*(hi-lo)
			v, err := sc.ValueOf(s)
			if err != nil {
				t.Fatalf("%s: ValueOf(%g): %v", sc, s, err)
			}
			back, err := sc.ScoreOf(v)
			if err != nil {
				t.Fatalf("%s: ScoreOf(ValueOf(%g) = %g): %v", sc, s, v, err)
			}
			if !close(back, s) {
				t.Fatalf("%s: score %g → %g → %g", sc, s, v, back)
			}
		}
	}
}

func TestScoringKnownValues(t *testing.T) {
	cases := []struct {
		sc    Scoring
		v     float64
		score float64
	}{
		// DW knn-spaces.md and KNN SpaceType.java.
		{Scoring{Space: SpaceL2, Engine: EngineLucene, Version: v2191}, 2, 1.0 / 5}, // squared distance 4
		{Scoring{Space: SpaceL1, Engine: EngineNmslib, Version: v2191}, 3, .25},
		{Scoring{Space: SpaceLinf, Engine: EngineNmslib, Version: v2191}, 1, .5},
		{Scoring{Space: SpaceHamming, Engine: EngineFaiss, Version: v2191}, 7, .125},
		{Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: v2191}, .6, .8},
		{Scoring{Space: SpaceCosine, Engine: EngineFaiss, Version: v2191}, .6, .8},
		{Scoring{Space: SpaceCosine, Engine: EngineNmslib, Version: v2191}, .6, .8},
		// Before 2.19 nmslib ANN cosine was 1/(2 − cos) (KNN #2319).
		{Scoring{Space: SpaceCosine, Engine: EngineNmslib, Version: Version{2, 18, 0}}, .6, 1 / 1.4},
		// lucene was (1+cos)/2 all along.
		{Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: Version{2, 18, 0}}, .6, .8},
		// The knn_score script: 1 + cos before 2.19 (KNNScoringSpace.CosineSimilarity),
		// (1+cos)/2 on 2.19.1 (checked on the cluster).
		{Scoring{Space: SpaceCosine, Engine: EngineNmslib, Version: Version{2, 18, 0}, Script: true}, .6, 1.6},
		{Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: v2191, Script: true}, .6, .8},
		// Script scores checked on 2.19.1: ip 1 → 2, ip −2 → 1/3; l2 (1,.5)·(1,0) → .8.
		{Scoring{Space: SpaceInnerProduct, Engine: EngineLucene, Version: v2191, Script: true}, -2, 1.0 / 3},
		{Scoring{Space: SpaceL2, Engine: EngineLucene, Version: v2191, Script: true}, .5, .8},
		{Scoring{Space: SpaceInnerProduct, Engine: EngineFaiss, Version: v2191}, .4, 1.4},
		{Scoring{Space: SpaceInnerProduct, Engine: EngineLucene, Version: v2191}, -.5, 1 / 1.5},
		{Scoring{Space: SpaceInnerProduct, Engine: EngineLucene, Version: v2191}, 0, 1},
	}
	for _, c := range cases {
		s, err := c.sc.ScoreOf(c.v)
		if err != nil || !close(s, c.score) {
			t.Errorf("%s: ScoreOf(%g) = %g %v, want %g", c.sc, c.v, s, err, c.score)
		}
	}
}

func TestScoringErrors(t *testing.T) {
	cos := Scoring{Space: SpaceCosine, Engine: EngineLucene, Version: v2191}
	l2 := Scoring{Space: SpaceL2, Engine: EngineLucene, Version: v2191}
	for _, bad := range []struct {
		sc Scoring
		v  float64
	}{{cos, 1.5}, {cos, -1.01}, {l2, -1}, {cos, math.NaN()}} {
		if _, err := bad.sc.ScoreOf(bad.v); err == nil {
			t.Errorf("%s: ScoreOf(%g) accepted", bad.sc, bad.v)
		}
	}
	for _, bad := range []struct {
		sc Scoring
		s  float64
	}{{cos, 1.5}, {cos, 0}, {l2, 1.5}, {l2, -0.1}} {
		if _, err := bad.sc.ValueOf(bad.s); err == nil {
			t.Errorf("%s: ValueOf(%g) accepted", bad.sc, bad.s)
		}
	}
	// A float32 score one ulp above 1 still reads as cosine 1.
	if v, err := cos.ValueOf(float64(math.Nextafter32(1, 2))); err != nil || v != 1 {
		t.Errorf("ulp over 1: %v %v", v, err)
	}
}

func TestVersion(t *testing.T) {
	for s, want := range map[string]Version{"2.19.1": {2, 19, 1}, "3.0.0-SNAPSHOT": {3, 0, 0}, "2.9": {2, 9, 0}} {
		v, err := ParseVersion(s)
		if err != nil || v != want {
			t.Errorf("%s: %v %v", s, v, err)
		}
	}
	for _, s := range []string{"", "2", "x.y", "2.-1", "1.2.3.4"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if !(Version{2, 19, 0}).AtLeast(2, 19) || (Version{2, 18, 5}).AtLeast(2, 19) || !(Version{3, 0, 0}).AtLeast(2, 19) || !(Version{}).AtLeast(9, 9) {
		t.Error("AtLeast")
	}
}

func TestPlanThreshold(t *testing.T) {
	lucCos := FieldInfo{Field: "v", Space: SpaceCosine, Engine: EngineLucene}
	p, err := PlanThreshold(lucCos, v2191, .8, ThresholdExact)
	if err != nil || p.Mode != ThresholdRadial || !close(p.MinScore, .9) {
		t.Fatalf("lucene cosine: %+v %v", p, err)
	}
	// l2 distance ≤ 0.5 → squared .25 → score 1/1.25 = .8.
	p, _ = PlanThreshold(FieldInfo{Field: "v", Space: SpaceL2, Engine: EngineFaiss}, v2191, .5, ThresholdExact)
	if p.Mode != ThresholdRadial || !close(p.MinScore, .8) {
		t.Fatalf("faiss l2: %+v", p)
	}
	// faiss innerproduct on 2.19: route around (KNN #2992/#3335).
	fip := FieldInfo{Field: "v", Space: SpaceInnerProduct, Engine: EngineFaiss}
	p, _ = PlanThreshold(fip, v2191, .4, ThresholdExact)
	if p.Mode != ThresholdExact || !p.Scoring.Script || !close(p.MinScore, 1.4) || !strings.Contains(p.Reason, "3335") {
		t.Fatalf("faiss ip 2.19: %+v", p)
	}
	p, _ = PlanThreshold(fip, Version{}, .4, ThresholdClient)
	if p.Mode != ThresholdClient {
		t.Fatalf("faiss ip unknown version must route around: %+v", p)
	}
	p, _ = PlanThreshold(fip, Version{3, 6, 0}, .4, ThresholdClient)
	if p.Mode != ThresholdRadial {
		t.Fatalf("faiss ip 3.6: %+v", p)
	}
	// nmslib cosine: exact through the script, whose scale is 1 + cos.
	p, _ = PlanThreshold(FieldInfo{Field: "v", Space: SpaceCosine, Engine: EngineNmslib}, Version{2, 18, 0}, .8, ThresholdExact)
	if p.Mode != ThresholdExact || !close(p.MinScore, 1.8) {
		t.Fatalf("nmslib cosine: %+v", p)
	}
	// nmslib cosine client-side before 2.19: the legacy 1/(2 − cos) scale.
	p, _ = PlanThreshold(FieldInfo{Field: "v", Space: SpaceCosine, Engine: EngineNmslib}, Version{2, 18, 0}, .8, ThresholdClient)
	if p.Mode != ThresholdClient || !close(p.MinScore, 1/1.2) {
		t.Fatalf("nmslib cosine client: %+v", p)
	}
	for _, f := range []FieldInfo{
		{Field: "v", Space: SpaceL2, Engine: EngineLucene, Nested: "p"},
		{Field: "v", Space: SpaceL2, Engine: EngineFaiss, OnDisk: true},
	} {
		if ok, _ := RadialSupport(f, v2191); ok {
			t.Errorf("%+v: radial should be unsupported", f)
		}
	}
	if ok, _ := RadialSupport(FieldInfo{Space: SpaceL2, Engine: EngineLucene}, Version{2, 13, 0}); ok {
		t.Error("radial before 2.14")
	}
	if _, err := PlanThreshold(lucCos, v2191, -1, ThresholdExact); err == nil {
		t.Error("cosine ≥ −1 admits everything and should be refused")
	}
	if _, err := PlanThreshold(lucCos, v2191, 2, ThresholdExact); err == nil {
		t.Error("cosine 2 accepted")
	}
	if _, err := PlanThreshold(lucCos, v2191, .5, ThresholdRadial); err == nil {
		t.Error("fallback radial accepted")
	}
	// Keep compares in float32 like the server does.
	p, _ = PlanThreshold(lucCos, v2191, .8, ThresholdClient)
	if !p.Keep(float64(float32(.9))) || p.Keep(.899) {
		t.Error("Keep at the boundary")
	}
}

func TestParseFieldInfo(t *testing.T) {
	resp := []byte(`{"idx":{"mappings":{"properties":{
		"title":{"type":"text"},
		"v":{"type":"knn_vector","dimension":3,"method":{"name":"hnsw","engine":"lucene","space_type":"cosinesimil"}},
		"top":{"type":"knn_vector","dimension":3,"space_type":"innerproduct"},
		"bin":{"type":"knn_vector","dimension":8,"data_type":"binary"},
		"disk":{"type":"knn_vector","dimension":8,"mode":"on_disk"},
		"passages":{"type":"nested","properties":{"vec":{"type":"knn_vector","dimension":2,"method":{"name":"hnsw","engine":"faiss"}}}}
	}}}}`)
	cases := []struct {
		field string
		v     Version
		want  FieldInfo
	}{
		{"v", v2191, FieldInfo{Field: "v", Space: SpaceCosine, Engine: EngineLucene, DataType: "float"}},
		{"top", v2191, FieldInfo{Field: "top", Space: SpaceInnerProduct, Engine: EngineFaiss, DataType: "float"}},
		{"top", Version{2, 15, 0}, FieldInfo{Field: "top", Space: SpaceInnerProduct, Engine: EngineNmslib, DataType: "float"}},
		{"bin", v2191, FieldInfo{Field: "bin", Space: SpaceHamming, Engine: EngineFaiss, DataType: "binary"}},
		{"disk", v2191, FieldInfo{Field: "disk", Space: SpaceL2, Engine: EngineFaiss, DataType: "float", OnDisk: true}},
		{"passages.vec", v2191, FieldInfo{Field: "passages.vec", Space: SpaceL2, Engine: EngineFaiss, DataType: "float", Nested: "passages"}},
	}
	for _, c := range cases {
		got, err := ParseFieldInfo(resp, c.field, c.v)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.field, got, err, c.want)
		}
	}
	for field, want := range map[string]string{"title": "not knn_vector", "nope": `no "nope"`, "passages.x": `no "x"`} {
		if _, err := ParseFieldInfo(resp, field, v2191); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", field, err, want)
		}
	}
	if _, err := ParseFieldInfo([]byte(`[1]`), "v", v2191); err == nil {
		t.Error("bad JSON accepted")
	}
}
