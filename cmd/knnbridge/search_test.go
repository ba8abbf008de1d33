package main

import (
	"context"
	"errors"
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
