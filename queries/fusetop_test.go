package queries

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomSubs returns two or three sub-queries with heavy score ties, ids
// shared between sub-queries, the same id in two indices, and duplicates
// within a sub-query: the cases where a selection could disagree with a
// full sort.
func randomSubs(r *rand.Rand) []SubResult {
	nSub := 2 + r.IntN(2)
	subs := make([]SubResult, nSub)
	for si := range subs {
		n := r.IntN(60)
		hits := make([]Hit, n)
		score := 1 + r.Float64()*10
		for i := range hits {
			if r.IntN(3) > 0 {
				score -= float64(r.IntN(3)) * 0.25 // 0 keeps a tie
			}
			hits[i] = Hit{Index: []string{"a", "b"}[r.IntN(2)], ID: fmt.Sprintf("d%02d", r.IntN(40)), Score: max(score, 0.01)}
		}
		subs[si] = SubResult{Name: fmt.Sprintf("s%d", si), Hits: hits}
	}
	if r.IntN(2) == 0 {
		subs[nSub-1].Scoring = &Scoring{Space: SpaceInnerProduct, Engine: EngineLucene, Version: Version{2, 19, 1}}
	}
	return subs
}

var topFusions = []Fusion{
	{},
	{Combination: CombGeometric},
	{Combination: CombHarmonic},
	{Normalization: NormL2},
	{Normalization: NormZScore},
	{Normalization: NormRRF},
	{Normalization: NormDBSF},
	{Normalization: NormNone, Combination: CombSum},
}

func sameResults(t *testing.T, what string, got, want []Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\n got %v\nwant %v", what, len(got), len(want), ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Index != w.Index || g.Cluster != w.Cluster || g.Score != w.Score || !slices.Equal(g.Subs, w.Subs) {
			t.Fatalf("%s: result %d is %s/%s %v %+v, want %s/%s %v %+v", what, i, g.Index, g.ID, g.Score, g.Subs, w.Index, w.ID, w.Score, w.Subs)
		}
	}
}

// FuseTop(n) is exactly the first n of Fuse, ties included.
func TestFuseTopEqualsFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		subs := randomSubs(r)
		for _, f := range topFusions {
			full, err := Fuse(subs, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{0, 1, 2, 3, 5, 10, len(full.Results) / 3, len(full.Results) - 1, len(full.Results), len(full.Results) + 5} {
				top, err := FuseTop(subs, f, n)
				if err != nil {
					t.Fatal(err)
				}
				want := full.Results
				if n > 0 && n < len(want) {
					want = want[:n]
				}
				sameResults(t, fmt.Sprintf("trial %d %s n=%d", trial, f.Describe(), n), top.Results, want)
				if top.Total != len(full.Results) || full.Total != len(full.Results) {
					t.Fatalf("trial %d: Total %d / %d, want %d", trial, top.Total, full.Total, len(full.Results))
				}
			}
		}
	}
}

// Every score equal: the order is the tie-break alone (id, index), and the
// selection must give the same prefix.
func TestFuseTopAllTied(t *testing.T) {
	var hits []Hit
	for i := range 200 {
		hits = append(hits, Hit{Index: []string{"x", "y"}[i/100], ID: fmt.Sprintf("%03d", (i*37)%100), Score: 5})
	}
	subs := []SubResult{{Name: "a", Hits: hits}, {Name: "b", Hits: slices.Clone(hits)}}
	full := mustFuse(t, subs, Fusion{})
	if len(full.Results) != 200 || full.Results[0].ID != "000" || full.Results[0].Index != "x" || full.Results[1].ID != "000" || full.Results[1].Index != "y" {
		t.Fatalf("unexpected full order %v", ids(full.Results[:4]))
	}
	for _, n := range []int{1, 7, 49, 50, 51, 199} {
		top, err := FuseTop(subs, Fusion{}, n)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, fmt.Sprintf("n=%d", n), top.Results, full.Results[:n])
	}
}

// The results FuseTop returns do not share explanation memory with the
// pooled scratch: a later fusion must not change them.
func TestFuseTopOwnsItsMemory(t *testing.T) {
	subs := baseSubs()
	top, err := FuseTop(subs, Fusion{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(top.Results[0].Subs, top.Results[1].Subs)
	for range 20 {
		if _, err := FuseTop(randomSubs(rand.New(rand.NewPCG(3, 4))), Fusion{}, 5); err != nil {
			t.Fatal(err)
		}
		if _, err := Fuse(randomSubs(rand.New(rand.NewPCG(5, 6))), Fusion{}); err != nil {
			t.Fatal(err)
		}
	}
	if after := fmt.Sprint(top.Results[0].Subs, top.Results[1].Subs); after != before {
		t.Fatalf("explanations changed: %s → %s", before, after)
	}
	full := mustFuse(t, subs, Fusion{})
	keep := fmt.Sprint(full.Results[0].Subs)
	mustFuse(t, randomSubs(rand.New(rand.NewPCG(7, 8))), Fusion{})
	if fmt.Sprint(full.Results[0].Subs) != keep {
		t.Fatalf("Fuse explanations changed by a later call")
	}
}

// FuseCut gives the same page, report and total as Fuse → Apply → Page
// (or After), on the fast path (top-k only) and the full one.
func TestFuseCutEqualsFuseApplyPage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ms := 0.3
	cuts := []Cutoff{
		{},
		{TopK: 1},
		{TopK: 7},
		{TopK: 1000},
		{TopK: 5, GapRel: 0.3},
		{GapAbs: 0.2},
		{Autocut: 1},
		{Cumulative: 0.8, TopK: 9},
		{MinSimilarity: &ms, TopK: 4},
	}
	for trial := range 200 {
		subs := randomSubs(r)
		scorings := make([]*Scoring, len(subs))
		for i := range subs {
			scorings[i] = subs[i].Scoring
		}
		for _, f := range topFusions[:6] {
			full, err := Fuse(subs, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cuts {
				kept, wantRep, wantErr := c.Apply(full.Results, scorings)
				pages := []PageSpec{{From: 0, Size: 3}, {From: 2, Size: 5}, {From: 0, Size: 0}, {From: 1000, Size: 10}, {From: 0, Size: 100}}
				for _, idx := range []int{0, 1, len(full.Results) / 2, len(full.Results) - 1} {
					if idx >= 0 && idx < len(full.Results) {
						cur := CursorOf(full.Results[idx])
						pages = append(pages, PageSpec{After: &cur, Size: 4}, PageSpec{After: &cur, Size: 50})
					}
				}
				for _, p := range pages {
					what := fmt.Sprintf("trial %d %s cut %+v page %+v", trial, f.Describe(), c, p)
					got, rep, err := FuseCut(subs, f, c, scorings, p)
					if (err != nil) != (wantErr != nil) {
						t.Fatalf("%s: error %v, want %v", what, err, wantErr)
					}
					if err != nil {
						continue
					}
					var want []Result
					if p.After != nil {
						want = After(kept, *p.After, p.Size)
					} else if want, err = Page(kept, p.From, p.Size); err != nil {
						t.Fatal(err)
					}
					sameResults(t, what, got.Results, want)
					if got.Total != len(kept) || rep != wantRep {
						t.Fatalf("%s: total %d report %+v, want %d %+v", what, got.Total, rep, len(kept), wantRep)
					}
					if got.Results == nil {
						t.Fatalf("%s: nil results (JSON null)", what)
					}
				}
			}
		}
	}
}

func TestFuseCutRejectsBadPage(t *testing.T) {
	if _, _, err := FuseCut(baseSubs(), Fusion{}, Cutoff{}, nil, PageSpec{From: -1, Size: 3}); err == nil {
		t.Fatal("negative from accepted")
	}
	if _, _, err := FuseCut(baseSubs(), Fusion{}, Cutoff{TopK: -1}, nil, PageSpec{Size: 3}); err == nil {
		t.Fatal("negative top_k accepted")
	}
}

// selectTop against a full sort on plain keys, many ties.
func TestSelectTop(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	cmp := func(a, b sortKey) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return int(a.ent - b.ent)
	}
	for range 500 {
		n := r.IntN(300)
		keys := make([]sortKey, n)
		for i := range keys {
			keys[i] = sortKey{float64(r.IntN(10)), int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, cmp)
		for _, k := range []int{0, 1, 2, n / 10, n / 4, n / 2, n} {
			if k > n {
				continue
			}
			got := selectTop(slices.Clone(keys), k, cmp)
			if !slices.Equal(got, want[:k]) {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, want[:k])
			}
		}
	}
}

// naiveFuse is Fuse written the obvious way (a map keyed by (cluster,
// index, id), a full sort): the oracle for Fuse's id table and chains.
func naiveFuse(subs []SubResult, f Fusion) []Result {
	f = f.withDefaults()
	w := make([]float64, len(subs))
	for i := range w {
		w[i] = 1
		if f.Weights != nil {
			w[i] = f.Weights[i]
		}
	}
	byKey := map[docKey]*Result{}
	var order []*Result
	for si, s := range subs {
		var b MinMaxBounds
		if f.Bounds != nil {
			b = f.Bounds[si]
		}
		norm := normalize(nil, s.Hits, f, b)
		for r := range s.Hits {
			h := &s.Hits[r]
			k := docKey{h.Cluster, h.Index, h.ID}
			res, ok := byKey[k]
			if !ok {
				res = &Result{Hit: h, Subs: make([]SubScore, len(subs))}
				byKey[k] = res
				order = append(order, res)
			}
			if res.Subs[si].Present {
				continue
			}
			ss := SubScore{Present: true, Rank: int32(r + 1), Raw: h.Score, Normalized: norm[r]}
			if s.Scoring != nil {
				if v, err := s.Scoring.ValueOf(h.Score); err == nil {
					ss.Similarity, ss.HasSimilarity = v, true
				}
			}
			res.Subs[si] = ss
		}
	}
	out := make([]Result, len(order))
	for i, r := range order {
		r.Score = combine(r.Subs, w, f.Combination)
		out[i] = *r
	}
	slices.SortFunc(out, func(a, b Result) int { return compareResults(&a, &b) })
	return out
}

func TestFuseEqualsNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for trial := range 300 {
		subs := randomSubs(r)
		if trial%3 == 0 {
			for si := range subs {
				for i := range subs[si].Hits {
					subs[si].Hits[i].Cluster = []string{"", "c2"}[r.IntN(2)]
				}
			}
		}
		for _, f := range topFusions {
			got, err := Fuse(subs, f)
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, fmt.Sprintf("trial %d %s", trial, f.Describe()), got.Results, naiveFuse(subs, f))
		}
	}
}

// valueConverter is ValueOf, every space × engine × version × script.
func TestValueConverterEqualsValueOf(t *testing.T) {
	scores := []float64{math.NaN(), math.Inf(1), -1, 0, 1e-9, 0.1, 0.25, 0.4999999, 0.5, 0.5000001, 0.75, 0.9999999, 1, 1.0000001, 1.5, 2, 2.0000001, 3, 100}
	for _, sp := range []Space{SpaceL1, SpaceL2, SpaceLinf, SpaceCosine, SpaceInnerProduct, SpaceHamming, SpaceHammingBit} {
		for _, en := range []Engine{EngineLucene, EngineFaiss, EngineNmslib} {
			for _, v := range []Version{{2, 11, 0}, {2, 18, 0}, {2, 19, 1}, {3, 1, 0}} {
				for _, script := range []bool{false, true} {
					s := Scoring{Space: sp, Engine: en, Version: v, Script: script}
					conv := valueConverter(&s)
					for _, x := range scores {
						want, err := s.ValueOf(x)
						got, ok := conv(x)
						if ok != (err == nil) || (ok && got != want) {
							t.Fatalf("%s score %g: converter %g %v, ValueOf %g %v", s, x, got, ok, want, err)
						}
					}
				}
			}
		}
	}
	if valueConverter(nil) != nil {
		t.Fatal("nil scoring gave a converter")
	}
}

// rankKeys (radix + tie runs) sorts exactly as SortFunc with the same
// comparison: negative scores, ±0, huge and tiny magnitudes, heavy ties.
func TestRankKeysEqualsSortFunc(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	cmp := func(a, b sortKey) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return int(a.ent - b.ent)
	}
	pool := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1e300, -1e300, 5e-324, -5e-324, 0.001, 2, 3.25}
	var tmp []sortKey
	for trial := range 200 {
		n := 200 + r.IntN(2000)
		keys := make([]sortKey, n)
		for i := range keys {
			var s float64
			switch trial % 3 {
			case 0:
				s = pool[r.IntN(len(pool))]
			case 1:
				s = r.NormFloat64() * 10
			default:
				s = float64(r.IntN(50)) / 7
			}
			keys[i] = sortKey{s, int32(i)}
		}
		r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		want := slices.Clone(keys)
		slices.SortFunc(want, cmp)
		tmp = rankKeys(keys, tmp, cmp)
		for i := range keys {
			// ±0 tie: compare by value and entry, not bits.
			if keys[i].ent != want[i].ent || keys[i].score != want[i].score {
				t.Fatalf("trial %d n=%d: position %d is %+v, want %+v", trial, n, i, keys[i], want[i])
			}
		}
	}
}

// Long lists (the radix path) fuse as the naive oracle does.
func TestFuseLongListsEqualsNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for trial := range 20 {
		subs := make([]SubResult, 2)
		for si := range subs {
			hits := make([]Hit, 300+r.IntN(900))
			score := 20.0
			for i := range hits {
				if r.IntN(4) > 0 {
					score -= float64(r.IntN(3)) * 0.01
				}
				hits[i] = Hit{Index: []string{"a", "b"}[r.IntN(2)], ID: fmt.Sprintf("d%04d", r.IntN(1500)), Score: max(score, 0.01)}
			}
			subs[si] = SubResult{Name: fmt.Sprint(si), Hits: hits}
		}
		for _, f := range topFusions {
			got, err := Fuse(subs, f)
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, fmt.Sprintf("trial %d %s", trial, f.Describe()), got.Results, naiveFuse(subs, f))
		}
	}
}
