package migrate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// Verification is the result of `migrate verify`, kept in the state.
type Verification struct {
	At          time.Time `json:"at"`
	Phase       Phase     `json:"phase"`
	SourceCount int64     `json:"source_count"`
	TargetCount int64     `json:"target_count"`
	// SourceChanging: the source took writes while the counts were taken,
	// so a count difference is not (yet) an error; cutover makes it exact.
	SourceChanging bool `json:"source_changing"`
	// TargetWritten: the target took application writes since cutover.
	TargetWritten bool `json:"target_written"`

	Sampled int `json:"sampled"`
	// InFlight are sampled documents whose target copy is older than the
	// source (a write the next catch-up takes): not mismatches.
	InFlight   int        `json:"in_flight"`
	Mismatches []Mismatch `json:"mismatches,omitempty"`
	// MaxVectorDiff is the largest |source - target| component of copied
	// vectors, or |embedder - target| of re-embedded ones.
	MaxVectorDiff float64 `json:"max_vector_diff"`
	VectorTol     float64 `json:"vector_tolerance"`

	Queries int `json:"queries"`
	K       int `json:"k"`
	// Recall is the target's approximate top-k against exact top-k on the
	// target (mean and worst query).
	Recall    float64 `json:"recall"`
	MinRecall float64 `json:"min_recall"`
	// Overlap is |top-k(source) ∩ top-k(target)| / k for the same query
	// documents (each index queried with its own vector of the document):
	// reported only, since a model change legitimately moves it.
	Overlap         float64  `json:"overlap"`
	RecallThreshold float64  `json:"recall_threshold"`
	Pass            bool     `json:"pass"`
	Problems        []string `json:"problems,omitempty"`
}

// Mismatch is one field that differs between a source and a target copy of
// the same version.
type Mismatch struct {
	ID     string `json:"id"`
	Field  string `json:"field"`
	Source string `json:"source"`
	Target string `json:"target"`
}

// CompareOptions say how to compare two _source objects.
type CompareOptions struct {
	VectorField string
	// SkipVector leaves the vector field out (re-embedded: the embedder's
	// output is compared instead).
	SkipVector bool
	Tol        float64
}

// CompareDocs compares the fields of a source and a target _source: every
// field but the vector must be equal as JSON values; vectors within Tol
// per component. It returns the mismatches and the largest vector
// difference.
func CompareDocs(id string, src, dst json.RawMessage, o CompareOptions) ([]Mismatch, float64, error) {
	a, err := flatten(src)
	if err != nil {
		return nil, 0, fmt.Errorf("document %q source: %w", id, err)
	}
	b, err := flatten(dst)
	if err != nil {
		return nil, 0, fmt.Errorf("document %q target: %w", id, err)
	}
	var out []Mismatch
	maxDiff := 0.0
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == o.VectorField {
			if o.SkipVector {
				continue
			}
			va, vb, err := vectors(a[k], b[k])
			if err != nil {
				out = append(out, Mismatch{ID: id, Field: k, Source: short(a[k]), Target: short(b[k])})
				continue
			}
			d := MaxAbsDiff(va, vb)
			maxDiff = math.Max(maxDiff, d)
			if d > o.Tol || len(va) != len(vb) {
				out = append(out, Mismatch{ID: id, Field: k, Source: fmt.Sprintf("%d-d", len(va)), Target: fmt.Sprintf("%d-d, max diff %g", len(vb), d)})
			}
			continue
		}
		if !bytes.Equal(a[k], b[k]) {
			out = append(out, Mismatch{ID: id, Field: k, Source: short(a[k]), Target: short(b[k])})
		}
	}
	return out, maxDiff, nil
}

func vectors(a, b []byte) ([]float32, []float32, error) {
	var va, vb []float32
	if err := json.Unmarshal(a, &va); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return nil, nil, err
	}
	return va, vb, nil
}

// MaxAbsDiff is max |a_i - b_i| (+Inf when the lengths differ).
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func short(b []byte) string {
	if b == nil {
		return "<absent>"
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// flatten maps dotted paths of a JSON object to the canonical JSON of each
// leaf (arrays are leaves: a vector is one value). Numbers keep their
// decimal text, so 1.0 and 1 differ only where the JSON text differs in
// value, never in formatting.
func flatten(src json.RawMessage) (map[string][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		if m, ok := v.(map[string]any); ok && (prefix == "" || len(m) > 0) {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				if err := walk(p, x); err != nil {
					return err
				}
			}
			return nil
		}
		b, err := json.Marshal(canonNumbers(v))
		if err != nil {
			return err
		}
		out[prefix] = b
		return nil
	}
	if err := walk("", v); err != nil {
		return nil, err
	}
	return out, nil
}

// canonNumbers rewrites json.Number values to float64 when they are equal
// as numbers, so "1.50" and "1.5" compare equal.
func canonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x
	case []any:
		for i := range x {
			x[i] = canonNumbers(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = canonNumbers(x[k])
		}
		return x
	}
	return v
}

// RecallAtK is |got[:k] ∩ truth[:k]| / min(k, len(truth)).
func RecallAtK(got, truth []string, k int) float64 {
	truth = truth[:min(k, len(truth))]
	if len(truth) == 0 {
		return 1
	}
	return float64(intersect(got[:min(k, len(got))], truth)) / float64(len(truth))
}

// OverlapAtK is |a[:k] ∩ b[:k]| / k.
func OverlapAtK(a, b []string, k int) float64 {
	if k <= 0 {
		return 0
	}
	return float64(intersect(a[:min(k, len(a))], b[:min(k, len(b))])) / float64(k)
}

func intersect(a, b []string) int {
	set := make(map[string]bool, len(b))
	for _, x := range b {
		set[x] = true
	}
	n := 0
	for _, x := range a {
		if set[x] {
			n++
			delete(set, x)
		}
	}
	return n
}

// Judge decides Pass and lists the problems: counts must be equal unless
// one side is legitimately still moving, no sampled document may differ,
// and recall must reach the threshold. Overlap is never judged.
func (v *Verification) Judge() {
	v.Problems = nil
	if v.SourceCount != v.TargetCount && !v.SourceChanging && !v.TargetWritten {
		v.Problems = append(v.Problems, fmt.Sprintf("document counts differ: source %d, target %d", v.SourceCount, v.TargetCount))
	}
	if len(v.Mismatches) > 0 {
		m := v.Mismatches[0]
		v.Problems = append(v.Problems, fmt.Sprintf("%d sampled fields differ, first: document %q field %s: source %s, target %s",
			len(v.Mismatches), m.ID, m.Field, m.Source, m.Target))
	}
	if v.Queries > 0 && v.Recall < v.RecallThreshold {
		v.Problems = append(v.Problems, fmt.Sprintf("recall@%d %.3f below %.3f", v.K, v.Recall, v.RecallThreshold))
	}
	v.Pass = len(v.Problems) == 0
}
