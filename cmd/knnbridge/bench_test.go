package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOnlyVectorField(t *testing.T) {
	one := `{"a":{"mappings":{"properties":{"t":{"type":"text"},"v":{"type":"knn_vector","dimension":3}}}}}`
	if f, err := onlyVectorField([]byte(one)); err != nil || f != "v" {
		t.Errorf("one field: %q %v", f, err)
	}
	two := `{"a":{"mappings":{"properties":{"v":{"type":"knn_vector"},"w":{"type":"knn_vector"}}}}}`
	if _, err := onlyVectorField([]byte(two)); err == nil || !strings.Contains(err.Error(), "v, w") {
		t.Errorf("two fields: %v", err)
	}
	if _, err := onlyVectorField([]byte(`{"a":{"mappings":{}}}`)); err == nil {
		t.Error("no field accepted")
	}
}

func TestPercentileAndPlot(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	if p := percentile(xs, 0.5); p != 3 {
		t.Errorf("p50 = %g", p)
	}
	if p := percentile(xs, 0.99); p != 5 {
		t.Errorf("p99 = %g", p)
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input in place")
	}
	path := filepath.Join(t.TempDir(), "p.png")
	rep := &BenchReport{Index: "i", Field: "v", K: 10, Queries: 3, Docs: 100,
		Points: []BenchPoint{{EfSearch: 10, Recall: 0.9, P50ms: 2}, {EfSearch: 100, Recall: 0.99, P50ms: 5}}}
	if err := benchPlot(rep, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Errorf("not a PNG: %v", err)
	}
}
