package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/queries"
)

type fixedEmbedder []float32

func (f fixedEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range texts {
		out[i] = f
	}
	return out, nil
}

func parseSearch(t *testing.T, args ...string) (bridge.SearchRequest, error) {
	t.Helper()
	o := &searchOpts{}
	cmd := newSearchCmdWith(o)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return buildSearchRequest(context.Background(), cmd, *o)
}

func TestSearchFlags(t *testing.T) {
	req, err := parseSearch(t, "--index", "a, b", "--vector-field", "v", "--vector", "[1,2.5]", "--k", "5", "--min-similarity", "0",
		"--filter", `{"term":{"t":1}}`, "--weights", "0.3,0.7", "--norm", "rrf", "--gap-rel", "0.2", "--no-source")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(req.Indices, "|") != "a|b" || req.Mode != bridge.ModeKNN || len(req.Vector) != 2 || req.Vector[1] != 2.5 ||
		req.MinSimilarity == nil || *req.MinSimilarity != 0 || req.Fusion.Normalization != queries.NormRRF ||
		len(req.Fusion.Weights) != 2 || req.Cutoff.GapRel != 0.2 || !req.Source.Disabled || string(req.Filter) != `{"term":{"t":1}}` {
		t.Fatalf("%+v", req)
	}
	// No --min-similarity: no threshold (0 is a real cosine threshold).
	req, _ = parseSearch(t, "--index", "a", "--vector-field", "v", "--vector", "1,2")
	if req.MinSimilarity != nil || req.Vector[0] != 1 {
		t.Fatalf("%+v", req)
	}
	// Text and a vector field: hybrid, the vector embedded from the text.
	old := searchEmbedder
	defer func() { searchEmbedder = old }()
	searchEmbedder = func(context.Context) (Embedder, error) { return fixedEmbedder{0.5, 0.5}, nil }
	req, err = parseSearch(t, "--index", "a", "--vector-field", "v", "--text", "solar", "--text-fields", "title^2,body")
	if err != nil || req.Mode != bridge.ModeHybrid || len(req.Vector) != 2 || req.TextFields[0].Boost != 2 {
		t.Fatalf("%+v %v", req, err)
	}
	searchEmbedder = func(context.Context) (Embedder, error) { return nil, errors.New("no model") }
	if _, err := parseSearch(t, "--index", "a", "--vector-field", "v", "--text", "solar", "--text-fields", "body"); err == nil || !strings.Contains(err.Error(), "no model") {
		t.Fatalf("embedder error: %v", err)
	}
	for _, bad := range [][]string{
		{"--vector", "1,2"},
		{"--index", "a", "--vector", "1,x"},
		{"--index", "a", "--vector", "[1,"},
		{"--index", "a", "--text", "x"},
		{"--index", "a", "--vector", "1", "--weights", "a,b"},
		{"--index", "a", "--vector", "1", "--filter", "{"},
		{"--index", "a", "--mode", "knn"},
	} {
		if _, err := parseSearch(t, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSearchCursorAndBoundsFlags(t *testing.T) {
	cur := queries.Cursor{Score: 0.75, ID: "doc-7", Index: "a"}
	base := []string{"--index", "a", "--vector-field", "v", "--vector", "1,2", "--text", "solar", "--text-fields", "body"}
	req, err := parseSearch(t, append(base, "--after", cur.Encode(), "--size", "5",
		"--lower-bounds", "clip:0.2,-", "--upper-bounds", "-, 0.95")...)
	if err != nil {
		t.Fatal(err)
	}
	if req.After == nil || *req.After != cur || req.Size != 5 || req.Mode != bridge.ModeHybrid {
		t.Fatalf("after: %+v", req)
	}
	b := req.Fusion.Bounds
	if len(b) != 2 || b[0].Lower == nil || b[0].Lower.Mode != queries.BoundClip || b[0].Lower.Score != 0.2 || b[0].Upper != nil ||
		b[1].Lower != nil || b[1].Upper == nil || b[1].Upper.Mode != "" || b[1].Upper.Score != 0.95 {
		t.Fatalf("bounds: %+v", b)
	}
	// Only lower bounds: upper stays nil everywhere.
	req, err = parseSearch(t, append(base, "--lower-bounds", "ignore:1,apply:0.5")...)
	if err != nil || len(req.Fusion.Bounds) != 2 || req.Fusion.Bounds[1].Lower.Mode != queries.BoundApply || req.Fusion.Bounds[0].Upper != nil {
		t.Fatalf("%+v %v", req.Fusion.Bounds, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--after", "%%%"}, "--after"},
		{[]string{"--after", cur.Encode(), "--from", "10"}, "exclusive"},
		{[]string{"--lower-bounds", "wrap:0.1,-"}, "mode \"wrap\""},
		{[]string{"--lower-bounds", "clip:x,-"}, "entry 0"},
		{[]string{"--lower-bounds", "0.1"}, "1 bounds for 2 sub-queries"},
		{[]string{"--lower-bounds", "0.1,0.2", "--upper-bounds", "0.9"}, "one per sub-query"},
		{[]string{"--lower-bounds", "0.5,-", "--upper-bounds", "0.4,-"}, "not below upper"},
		{[]string{"--lower-bounds", "0.1,0.2", "--norm", "rrf"}, "min_max only"},
		{[]string{"--norm", "z_score", "--combination", "geometric_mean"}, "arithmetic_mean"},
	} {
		_, err := parseSearch(t, append(slices.Clone(base), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	if _, err := parseSearch(t, "--index", "a", "--vector-field", "v", "--vector", "1,2", "--lower-bounds", "0.1"); err == nil ||
		!strings.Contains(err.Error(), "hybrid") {
		t.Errorf("bounds in knn mode: %v", err)
	}
}

// The table ends with the cursor of the next page, ready to paste.
func TestSearchTablePrintsNextCursor(t *testing.T) {
	cur := queries.Cursor{Score: 0.5, ID: "b", Index: "x"}
	res := &bridge.SearchResult{Results: []queries.Result{{Hit: &queries.Hit{Index: "x", ID: "b"}, Score: 0.5}}, Total: 3, Next: cur.Encode()}
	var buf strings.Builder
	if err := printSearchTable(&buf, res, false); err != nil {
		t.Fatal(err)
	}
	line := "next page: --after " + cur.Encode()
	if !strings.Contains(buf.String(), line) {
		t.Fatalf("table lacks %q:\n%s", line, buf.String())
	}
	tok := strings.TrimSpace(buf.String()[strings.Index(buf.String(), "--after ")+len("--after "):])
	back, err := queries.DecodeCursor(tok)
	if err != nil || back != cur {
		t.Fatalf("printed cursor reads back as %+v, %v", back, err)
	}
}
