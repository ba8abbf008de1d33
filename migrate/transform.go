package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/knnbridge/knnbridge/ingest"
)

// Embedder computes vectors from texts; native/embed's Local and HTTP
// embedders satisfy it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dimension() int
	ModelName() string
}

// Doc is one document on its way from source to target.
type Doc struct {
	ID      string
	Routing string // custom routing of the source copy, "" for none
	// Version is the external version written to the target: the source
	// copy's ExternalVersion.
	Version int64
	// SeqNo of the source copy (the scan cursor).
	SeqNo  int64
	Source json.RawMessage
}

// seqBits is how many low bits of an external version hold the _seq_no:
// 2^40 operations per shard and 2^23 primary terms fit in a positive int64.
const seqBits = 40

// ExternalVersion is the version a source copy is written with:
// primary_term<<40 | seq_no. For one document, a later write always has a
// larger (primary_term, seq_no) pair (terms grow on fail-over, sequence
// numbers grow within a term), so this order is the order of its writes.
func ExternalVersion(primaryTerm, seqNo int64) (int64, error) {
	if primaryTerm < 1 || primaryTerm >= 1<<(63-seqBits) {
		return 0, fmt.Errorf("primary term %d outside 1..2^%d", primaryTerm, 63-seqBits)
	}
	if seqNo < 0 || seqNo >= 1<<seqBits {
		return 0, fmt.Errorf("_seq_no %d outside 0..2^%d", seqNo, seqBits)
	}
	return primaryTerm<<seqBits | seqNo, nil
}

// Transformer turns source documents into target documents.
type Transformer struct {
	Mode        Mode
	VectorField string
	TextField   string
	Embedder    Embedder // ModeReembed
	// Dimension is the target vector dimension (checked on re-embed output).
	Dimension int
}

// NewTransformer returns the transformer of a plan.
func NewTransformer(p *Plan, e Embedder) (*Transformer, error) {
	t := &Transformer{Mode: p.Mode, VectorField: p.VectorField, TextField: p.TextField, Embedder: e, Dimension: p.TargetVector.Dimension}
	if p.Mode == ModeReembed {
		if e == nil {
			return nil, fmt.Errorf("migration re-embeds %s with model %s but no embedder is configured", p.TextField, p.Model)
		}
		if e.ModelName() != p.Model {
			return nil, fmt.Errorf("migration was planned with model %s, the configured embedder is %s", p.Model, e.ModelName())
		}
		if e.Dimension() != t.Dimension {
			return nil, fmt.Errorf("embedder %s gives %d-d vectors, target field %s wants %d", e.ModelName(), e.Dimension(), p.VectorField, t.Dimension)
		}
	}
	return t, nil
}

// Apply transforms docs in place. Copy leaves each _source byte for byte
// (vectors stay bit-exact); re-embed replaces the vector field with the
// embedding of the text field, computed in one Embed call per batch.
func (t *Transformer) Apply(ctx context.Context, docs []Doc) error {
	if t.Mode != ModeReembed || len(docs) == 0 {
		return nil
	}
	texts := make([]string, len(docs))
	for i := range docs {
		s, ok, err := GetString(docs[i].Source, t.TextField)
		if err != nil {
			return fmt.Errorf("document %q: %w", docs[i].ID, err)
		}
		if !ok {
			return fmt.Errorf("document %q has no text in %s to embed: fix or delete it in the source, then run --resume", docs[i].ID, t.TextField)
		}
		texts[i] = s
	}
	vecs, err := t.Embedder.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("embedding %d documents from %q: %w", len(docs), docs[0].ID, err)
	}
	if len(vecs) != len(docs) {
		return fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(docs))
	}
	var buf []byte
	for i := range docs {
		v := vecs[i]
		if len(v) != t.Dimension {
			return fmt.Errorf("document %q: embedder returned %d-d vector, want %d", docs[i].ID, len(v), t.Dimension)
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("document %q: embedding[%d] is %v", docs[i].ID, j, x)
			}
		}
		buf = ingest.AppendVector(buf[:0], v)
		src, err := SetPath(docs[i].Source, t.VectorField, buf)
		if err != nil {
			return fmt.Errorf("document %q: %w", docs[i].ID, err)
		}
		docs[i].Source = src
	}
	return nil
}

func splitPath(p string) []string { return strings.Split(p, ".") }

// GetString returns the string at a dotted path of a JSON object. ok is
// false when the path is absent or null; a non-string value is an error.
func GetString(src json.RawMessage, path string) (string, bool, error) {
	raw, ok, err := getPath(src, splitPath(path))
	if err != nil || !ok {
		return "", ok, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("field %s is not a string: %.40s", path, raw)
	}
	return s, true, nil
}

// GetVector returns the float array at a dotted path.
func GetVector(src json.RawMessage, path string) ([]float32, bool, error) {
	raw, ok, err := getPath(src, splitPath(path))
	if err != nil || !ok {
		return nil, ok, err
	}
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false, fmt.Errorf("field %s is not a vector: %w", path, err)
	}
	return v, true, nil
}

func getPath(src json.RawMessage, parts []string) (json.RawMessage, bool, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(src, &obj); err != nil {
		return nil, false, fmt.Errorf("_source is not a JSON object: %w", err)
	}
	// A flattened key ("a.b": ...) is as valid as the nested form.
	if raw, ok := obj[strings.Join(parts, ".")]; ok && len(parts) > 1 {
		return nonNull(raw)
	}
	raw, ok := obj[parts[0]]
	if !ok {
		return nil, false, nil
	}
	if len(parts) == 1 {
		return nonNull(raw)
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false, nil
	}
	return getPath(raw, parts[1:])
}

func nonNull(raw json.RawMessage) (json.RawMessage, bool, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false, nil
	}
	return raw, true, nil
}

// SetPath returns src with the value at a dotted path replaced (created
// when absent). Other fields keep their exact JSON text.
func SetPath(src json.RawMessage, path string, value json.RawMessage) (json.RawMessage, error) {
	return setPath(src, splitPath(path), value)
}

func setPath(src json.RawMessage, parts []string, value json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(src)) == 0 || bytes.Equal(bytes.TrimSpace(src), []byte("null")) {
		obj = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(src, &obj); err != nil {
		return nil, fmt.Errorf("setting %s: not a JSON object: %w", strings.Join(parts, "."), err)
	}
	if _, flat := obj[strings.Join(parts, ".")]; flat && len(parts) > 1 {
		obj[strings.Join(parts, ".")] = value
	} else if len(parts) == 1 {
		obj[parts[0]] = value
	} else {
		sub, err := setPath(obj[parts[0]], parts[1:], value)
		if err != nil {
			return nil, err
		}
		obj[parts[0]] = sub
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("setting %s: %w", strings.Join(parts, "."), err)
	}
	return out, nil
}

// AppendIndex appends a versioned bulk "index" action for d (the target
// index is in the request path). The source is compacted: a _source stored
// pretty-printed would otherwise break the NDJSON framing.
func AppendIndex(b []byte, d *Doc) ([]byte, error) {
	b = appendAction(b, "index", d.ID, d.Routing, d.Version)
	n := len(b)
	var buf bytes.Buffer
	if err := json.Compact(&buf, d.Source); err != nil {
		return b[:n], fmt.Errorf("document %q: _source is not valid JSON: %w", d.ID, err)
	}
	b = append(b, buf.Bytes()...)
	return append(b, '\n'), nil
}

// AppendDelete appends a versioned bulk "delete" action.
func AppendDelete(b []byte, id, routing string, version int64) []byte {
	return appendAction(b, "delete", id, routing, version)
}

func appendAction(b []byte, op, id, routing string, version int64) []byte {
	action := map[string]any{"_id": id, "version": version, "version_type": "external"}
	if routing != "" {
		action["routing"] = routing
	}
	line, _ := json.Marshal(map[string]any{op: action}) // plain strings and ints: cannot fail
	b = append(b, line...)
	return append(b, '\n')
}

// Outcome of one bulk item of a migration write.
type Outcome int

const (
	Written  Outcome = iota // the target took this version
	Newer                   // 409: the target already holds this or a newer version
	Retry                   // overloaded or transient: send again
	Rejected                // refused for good (mapping error...)
)

// Classify reads one bulk item: a version conflict is not a failure here,
// it means the target already has this document at the same or a later
// version (a repeated page after a resume, or a catch-up that got there
// first).
func Classify(it ingest.ItemResult) Outcome {
	switch {
	case it.OK():
		return Written
	case it.Status == 409 || it.Type == "version_conflict_engine_exception":
		return Newer
	case it.Retryable():
		return Retry
	}
	return Rejected
}

// ErrRejected marks a document the target refused for good.
var ErrRejected = errors.New("document rejected by the target")
