package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/ingest"
)

// DocResult is the outcome of one input document, in input order.
type DocResult struct {
	// Position is the 0-based document number in the request.
	Position int64  `json:"position"`
	ID       string `json:"id,omitempty"`
	// Status is "indexed", "rejected" or "not_sent" (the load stopped
	// before this document: cluster down, timeout).
	Status string `json:"status"`
	Stage  string `json:"stage,omitempty"` // read, embed, check, index
	Reason string `json:"reason,omitempty"`
}

type documentsResponse struct {
	Index    string      `json:"index"`
	Indexed  int64       `json:"indexed"`
	Rejected int64       `json:"rejected"`
	NotSent  int64       `json:"not_sent"`
	Retried  int64       `json:"retried"`
	Embedded int64       `json:"embedded"`
	Took     float64     `json:"took_ms"`
	Items    []DocResult `json:"items"`
	Error    *APIError   `json:"error,omitempty"`
}

// POST /v1/indexes/{name}/documents: a JSON array of documents, a JSON
// object {"documents": [...]}, or NDJSON (Content-Type
// application/x-ndjson). Each document is an object with an optional id,
// an optional vector and/or text, and any other fields. Without a vector,
// the text is embedded. Query parameters: vector_field (default: the
// index's only knn_vector field), text_field (default "text"), id_field
// (default "id"), refresh (true, false, wait_for; default false).
//
// Per-document results come back in input order. A document that fails
// (malformed, wrong dimension, rejected by the cluster) does not fail the
// others: the answer is 200 with its reason, or 207 when some failed. When
// the cluster cannot be reached the answer is 503 with the documents
// acknowledged so far marked indexed and the rest not_sent.
func (s *Server) postDocuments(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	name := r.PathValue("name")
	if err := validIndexName("name", name); err != nil {
		return err
	}
	q := r.URL.Query()
	refresh := q.Get("refresh")
	switch refresh {
	case "", "false", "true", "wait_for":
	default:
		return badRequest("?refresh", "refresh=%q: want true, false or wait_for", refresh)
	}
	sc, err := s.schema(ctx, name)
	if err != nil {
		return err
	}
	vf, err := pickVectorField(sc, q.Get("vector_field"), "?vector_field")
	if err != nil {
		return err
	}
	textField := q.Get("text_field")
	if textField == "" {
		textField = "text"
	}
	idField := q.Get("id_field")
	if idField == "" {
		idField = "id"
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ndjson, err := toNDJSON(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	inputDocs := countLines(ndjson)
	// The input keys are the index field names, so a document that
	// arrives as {"text": ..., "embedding": [...]} is stored as is.
	opts := ingest.Options{IDField: idField, VectorField: vf.Path, TextField: textField}
	rd := &trackingReader{inner: ingest.NewJSONLReader(bytes.NewReader(ndjson), opts)}

	var emb ingest.Embedder
	if e, eerr := s.getEmbedder(); eerr == nil {
		if e.Dimension() != vf.Dimension {
			// Text-only documents would all fail the dimension check; say
			// why once, per document, at the embed stage.
			emb = mismatchEmbedder{want: vf.Dimension, got: e.Dimension(), model: e.ModelName()}
		} else {
			emb = embedAdapter{s: s, dim: e.Dimension()}
		}
	} else {
		emb = unavailableEmbedder{err: eerr}
	}
	path := "/" + url.PathEscape(name) + "/_bulk?filter_path=errors,items.*.status,items.*.error"
	if refresh != "" && refresh != "false" {
		path += "&refresh=" + refresh
	}
	sink := ingest.SinkFunc(func(ctx context.Context, b []byte) ([]byte, int, error) {
		t0 := time.Now()
		resp, err := s.os.Do(ctx, http.MethodPost, path, b)
		s.m.observeOS("bulk", t0, err)
		s.m.bulkDuration.Observe(time.Since(t0).Seconds())
		s.m.bulkBytes.Add(float64(len(b)))
		if err != nil {
			// An HTTP error status from the cluster goes to the loader as a
			// status (429/5xx are retried, other 4xx fail the batch);
			// transport failures as errors.
			var be *bridge.Error
			if errors.As(err, &be) {
				return []byte(be.Error()), be.Status, nil
			}
			return nil, 0, err
		}
		return resp, http.StatusOK, nil
	})
	var mu sync.Mutex
	rejected := map[int64]ingest.Rejection{}
	var embedded int64
	cfg := ingest.Config{
		Reader:   rd,
		Sink:     sink,
		Embedder: countingEmbedder{inner: emb, n: &embedded, mu: &mu},
		Checks:   ingest.Checks{Dimension: vf.Dimension, DataType: ingest.DataType(orDefault(vf.Info.DataType, "float")), SpaceType: string(vf.Info.Space)},
		Encoder:  ingest.Encoder{VectorField: vf.Path, TextField: textField},
		OnBad:    ingest.Reject,
		OnReject: func(rj ingest.Rejection) {
			mu.Lock()
			rejected[rj.Pos.Record] = rj
			mu.Unlock()
		},
		OnRetry:       func(n int, _ string) { s.m.bulkRetries.Add(float64(n)) },
		MaxBatchBytes: 5 << 20,
		Senders:       2,
		// A request has a deadline: give up on a dead cluster in seconds
		// (503 with not_sent documents) rather than the CLI's patient
		// defaults.
		Retry: ingest.RetryPolicy{MaxAttempts: 5, Base: 100 * time.Millisecond, Max: 2 * time.Second},
	}
	ld, err := ingest.NewLoader(cfg)
	if err != nil {
		return fmt.Errorf("setting up the load: %w", err)
	}
	rep, runErr := ld.Run(ctx)
	resp := documentsResponse{Index: name, Retried: rep.Stats.Retried, Embedded: embedded}
	committed := rep.Checkpoint.Next.Record
	total := max(rd.count(), inputDocs) // documents never read (the load stopped) are not_sent too
	resp.Items = make([]DocResult, 0, total)
	for i := int64(0); i < total; i++ {
		it := DocResult{Position: i, ID: rd.id(i)}
		if rj, ok := rejected[i]; ok {
			it.Status, it.Stage, it.Reason = "rejected", rj.Stage, rj.Reason
			if it.ID == "" {
				it.ID = rj.ID
			}
			resp.Rejected++
		} else if runErr == nil || i < committed {
			it.Status = "indexed"
			resp.Indexed++
		} else {
			it.Status = "not_sent"
			resp.NotSent++
		}
		resp.Items = append(resp.Items, it)
	}
	s.m.bulkDocs.WithLabelValues("accepted").Add(float64(resp.Indexed))
	s.m.bulkDocs.WithLabelValues("rejected").Add(float64(resp.Rejected))
	resp.Took = ms(time.Since(start))
	if runErr != nil {
		if total == 0 && errors.Is(runErr, context.Canceled) {
			return runErr
		}
		ae := toAPIError(runErr)
		if ae.Status == http.StatusInternalServerError {
			ae = &APIError{Status: http.StatusBadGateway, Code: "load_failed", Message: runErr.Error()}
		}
		resp.Error = ae
		writeJSON(w, ae.Status, resp)
		return nil
	}
	status := http.StatusOK
	if resp.Rejected > 0 {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
	return nil
}

// countLines counts the non-blank lines: the documents of an NDJSON body
// (the JSONL reader skips blank lines).
func countLines(b []byte) int64 {
	var n int64
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// pickVectorField resolves the vector field: the one named, or the only
// one the index has.
func pickVectorField(sc *indexSchema, name, field string) (vectorField, error) {
	if name != "" {
		vf, ok := sc.vector(name)
		if !ok {
			return vf, badRequest(field, "the index has no knn_vector field %q (it has %s)", name, vectorNames(sc))
		}
		return vf, nil
	}
	switch len(sc.Vectors) {
	case 1:
		return sc.Vectors[0], nil
	case 0:
		return vectorField{}, badRequest(field, "the index has no knn_vector field")
	}
	return vectorField{}, badRequest(field, "the index has several knn_vector fields (%s): name one", vectorNames(sc))
}

func vectorNames(sc *indexSchema) string {
	var n []string
	for _, v := range sc.Vectors {
		n = append(n, v.Path)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// toNDJSON turns the body into one JSON object per line: NDJSON passes
// through; a JSON array, or an object {"documents": [...]}, is split.
func toNDJSON(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, badRequest("body", "empty body: send documents as a JSON array, {\"documents\": [...]}, or NDJSON")
	}
	if mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/json-lines" {
		return body, nil
	}
	var docs []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &docs); err != nil {
			return nil, badRequest("body", "the body is not a JSON array of documents: %v", jsonError(err))
		}
	case '{':
		var wrap struct {
			Documents []json.RawMessage `json:"documents"`
		}
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&wrap); err != nil {
			if bytes.Count(trimmed, []byte("\n")) > 0 {
				// Likely NDJSON sent as application/json.
				return body, nil
			}
			return nil, jsonError(err)
		}
		if wrap.Documents == nil {
			return nil, badRequest("documents", "missing \"documents\": send {\"documents\": [...]}, a JSON array, or NDJSON")
		}
		docs = wrap.Documents
	default:
		return nil, badRequest("body", "the body must start with [ or {")
	}
	var out bytes.Buffer
	for i, d := range docs {
		var c bytes.Buffer
		if err := json.Compact(&c, d); err != nil {
			return nil, badRequest(fieldf("documents[%d]", i), "document %d: %v", i, err)
		}
		out.Write(c.Bytes())
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// trackingReader assigns every document its _id as it is read (the input
// id, else ingest.DocID of the record as it arrived — before embedding, so
// the same body posted twice overwrites instead of duplicating) and
// remembers the ids for the per-document results.
type trackingReader struct {
	inner ingest.Reader
	mu    sync.Mutex
	ids   []string
}

func (t *trackingReader) Next() (ingest.Record, error) {
	rec, err := t.inner.Next()
	var re *ingest.RecordError
	switch {
	case err == nil:
		if rec.ID == "" {
			rec.ID = ingest.DocID(&rec)
		}
		t.set(rec.Pos.Record, rec.ID)
	case errors.As(err, &re):
		t.set(re.Pos.Record, "")
	}
	return rec, err
}

func (t *trackingReader) set(i int64, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for int64(len(t.ids)) <= i {
		t.ids = append(t.ids, "")
	}
	t.ids[i] = id
}

func (t *trackingReader) id(i int64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < int64(len(t.ids)) {
		return t.ids[i]
	}
	return ""
}

func (t *trackingReader) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int64(len(t.ids))
}

func (t *trackingReader) Tell() ingest.Position { return t.inner.Tell() }
func (t *trackingReader) Close() error          { return t.inner.Close() }

var _ io.Closer = (*trackingReader)(nil)

type countingEmbedder struct {
	inner ingest.Embedder
	n     *int64
	mu    *sync.Mutex
}

func (c countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out, err := c.inner.Embed(ctx, texts)
	if err == nil {
		c.mu.Lock()
		*c.n += int64(len(out))
		c.mu.Unlock()
	}
	return out, err
}
func (c countingEmbedder) Dimension() int { return c.inner.Dimension() }

type unavailableEmbedder struct{ err error }

func (u unavailableEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, u.err
}
func (u unavailableEmbedder) Dimension() int { return 0 }

type mismatchEmbedder struct {
	want, got int
	model     string
}

func (m mismatchEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, badRequest("?vector_field", "the embedding model %s gives %d dimensions, the field has %d: send vectors for text-only documents", m.model, m.got, m.want)
}
func (m mismatchEmbedder) Dimension() int { return m.want }
