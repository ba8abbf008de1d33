package queries

import (
	"fmt"
	"strings"
	"testing"
)

func hitIDs(hs []Hit) string {
	var b []string
	for _, h := range hs {
		b = append(b, h.Cluster+"/"+h.Index+"/"+h.ID)
	}
	return strings.Join(b, " ")
}

func TestMergeHits(t *testing.T) {
	shard1 := []Hit{{Index: "old", ID: "a", Score: .9}, {Index: "old", ID: "b", Score: .7}, {Index: "old", ID: "c", Score: .5}}
	shard2 := []Hit{{Index: "new", ID: "b", Score: .8}, {Index: "new", ID: "d", Score: .7}, {Index: "new", ID: "a", Score: .1}}
	got := MergeHits([][]Hit{shard1, shard2}, false)
	// Score descending; the .7 tie goes by id (b before d).
	if s := hitIDs(got); s != "/old/a /new/b /old/b /new/d /old/c /new/a" {
		t.Fatalf("by (index,id): %s", s)
	}
	got = MergeHits([][]Hit{shard2, shard1}, true)
	// By id: the best copy of each id survives, whatever the input order.
	if s := hitIDs(got); s != "/old/a /new/b /new/d /old/c" {
		t.Fatalf("by id: %s", s)
	}
	if len(MergeHits(nil, true)) != 0 {
		t.Fatal("empty")
	}
	// Clusters: the same index and id on two clusters are two documents.
	got = MergeHits([][]Hit{{{Cluster: "eu", Index: "i", ID: "a", Score: 1}}, {{Cluster: "us", Index: "i", ID: "a", Score: 1}}}, false)
	if s := hitIDs(got); s != "eu/i/a us/i/a" {
		t.Fatalf("clusters: %s", s)
	}
}

func TestPagination(t *testing.T) {
	var hits []Hit
	for i := range 25 {
		// Many ties: only 5 distinct scores.
		hits = append(hits, Hit{ID: fmt.Sprintf("d%02d", (i*7)%25), Score: float64(i % 5)})
	}
	f := mustFuse(t, []SubResult{{Name: "x", Hits: hits}}, Fusion{Normalization: NormNone, Combination: CombSum})
	// Offset pages and cursor pages cover the list once, in order.
	var byOffset, byCursor []string
	for from := 0; from < 30; from += 7 {
		p, err := Page(f.Results, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		byOffset = append(byOffset, ids(p)...)
	}
	page, _ := Page(f.Results, 0, 7)
	for len(page) > 0 {
		byCursor = append(byCursor, ids(page)...)
		tok := CursorOf(page[len(page)-1]).Encode()
		c, err := DecodeCursor(tok)
		if err != nil {
			t.Fatal(err)
		}
		page = After(f.Results, c, 7)
	}
	all := strings.Join(ids(f.Results), ",")
	if strings.Join(byOffset, ",") != all || strings.Join(byCursor, ",") != all || len(f.Results) != 25 {
		t.Fatalf("pages differ:\n%v\n%v\n%v", byOffset, byCursor, all)
	}
	// The same input in another order gives the same pages (total order).
	rev := make([]Hit, len(hits))
	for i, h := range hits {
		rev[len(hits)-1-i] = h
	}
	f2 := mustFuse(t, []SubResult{{Name: "x", Hits: rev}}, Fusion{Normalization: NormNone, Combination: CombSum})
	if strings.Join(ids(f2.Results), ",") != all {
		t.Fatal("order depends on input order")
	}
	// A cursor whose document vanished still resumes at the right place.
	gone := CursorOf(f.Results[3])
	rest := append(append([]Result{}, f.Results[:3]...), f.Results[4:]...)
	if next := After(rest, gone, 2); ids(next)[0] != f.Results[4].ID {
		t.Fatalf("resume after vanished doc: %v", ids(next))
	}
	if _, err := Page(f.Results, -1, 2); err == nil {
		t.Error("negative from accepted")
	}
	if _, err := DecodeCursor("!!"); err == nil {
		t.Error("bad cursor accepted")
	}
}

func TestKeyByIDJoinsAcrossIndices(t *testing.T) {
	bm := MergeHits([][]Hit{{{Index: "old", ID: "a", Score: 3}}, {{Index: "new", ID: "b", Score: 2}}}, true)
	kn := MergeHits([][]Hit{{{Index: "new", ID: "a", Score: .9}}}, true)
	f := mustFuse(t, []SubResult{{Name: "bm25", Hits: KeyByID(bm)}, {Name: "knn", Hits: KeyByID(kn)}}, Fusion{})
	if len(f.Results) != 2 || f.Results[0].ID != "a" || !f.Results[0].Subs[1].Present {
		t.Fatalf("%+v", f.Results)
	}
}

func TestWidenPolicy(t *testing.T) {
	p := WidenPolicy{}
	step := func(attempt, attemptK, got, matches int) KStep {
		s, err := p.Next(10, attempt, attemptK, got, matches)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := step(1, 10, 10, -1); s.Action != KDone || s.Strategy != KDirect {
		t.Fatalf("direct: %+v", s)
	}
	if s := step(1, 10, 4, 100); s.Action != KWiden || s.NextK != 40 {
		t.Fatalf("widen: %+v", s)
	}
	if s := step(2, 40, 10, 100); s.Strategy != KWidened {
		t.Fatalf("widened: %+v", s)
	}
	if s := step(1, 10, 4, 4); s.Strategy != KExhausted {
		t.Fatalf("exhausted: %+v", s)
	}
	if s := step(3, 160, 8, 100); s.Action != KRunExact {
		t.Fatalf("exact after max attempts: %+v", s)
	}
	if s := step(1, 10000, 8, 100); s.Action != KRunExact {
		t.Fatalf("exact at max k: %+v", s)
	}
	if s, _ := (WidenPolicy{NoExact: true}).Next(10, 3, 160, 8, 100); s.Strategy != KShort {
		t.Fatalf("short: %+v", s)
	}
	if s, _ := (WidenPolicy{MaxK: 50}).Next(10, 1, 40, 8, 100); s.NextK != 50 {
		t.Fatalf("capped: %+v", s)
	}
	if _, err := p.Next(0, 1, 1, 0, -1); err == nil {
		t.Error("k 0 accepted")
	}
}
