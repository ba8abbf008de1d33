package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Sink sends one bulk body (NDJSON, "index" actions without _index) to the
// target index and returns the raw response. err is for transport failures
// (connection refused, timeout); an HTTP error status is not an err.
// bridge implements it on opensearch-go.
type Sink interface {
	Send(ctx context.Context, body []byte) (resp []byte, status int, err error)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, body []byte) ([]byte, int, error)

func (f SinkFunc) Send(ctx context.Context, body []byte) ([]byte, int, error) { return f(ctx, body) }

// RetryPolicy: exponential backoff with jitter for retryable failures (429,
// es_rejected_execution_exception, 5xx, transport errors).
type RetryPolicy struct {
	MaxAttempts int           // per batch, counting the first; default 20
	Base        time.Duration // default 100ms
	Max         time.Duration // default 10s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 20
	}
	if p.Base <= 0 {
		p.Base = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	return p
}

// Backoff is the wait before retry number attempt (1-based): "equal jitter",
// half of min(Max, Base·2^(attempt−1)) fixed plus up to the other half random,
// so concurrent senders that were rejected together do not come back together.
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	d := p.Base << min(attempt-1, 30)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// ItemResult is the outcome of one document in a bulk response.
type ItemResult struct {
	Status int
	Type   string // error type, "" on success
	Reason string
}

// Retryable reports whether a failed item should be sent again: the node was
// overloaded (429; type es_rejected_execution_exception in Elasticsearch-era
// clients, rejected_execution_exception as OpenSearch 2.19 answers when the
// write thread pool queue is full — seen in integration/ingest_test.go) or failed transiently (5xx). 4xx items (mapping errors,
// version conflicts...) fail the same way every time.
func (it ItemResult) Retryable() bool {
	return it.Status == http.StatusTooManyRequests || it.Type == "es_rejected_execution_exception" || it.Type == "rejected_execution_exception" ||
		it.Status >= 500
}

// OK reports a 2xx item.
func (it ItemResult) OK() bool { return it.Status >= 200 && it.Status < 300 }

type bulkResponse struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]json.RawMessage `json:"items"`
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

// ParseBulkResponse reads the per-item results of a bulk response, in
// request order. It works on full responses and on responses trimmed with
// filter_path=errors,items.*.status,items.*.error.
func ParseBulkResponse(body []byte, want int) ([]ItemResult, error) {
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("bulk response: %w", err)
	}
	if len(r.Items) != want {
		return nil, fmt.Errorf("bulk response has %d items for %d documents", len(r.Items), want)
	}
	out := make([]ItemResult, len(r.Items))
	for i, m := range r.Items {
		if len(m) != 1 {
			return nil, fmt.Errorf("bulk response item %d: want one action key, got %d", i, len(m))
		}
		for _, raw := range m {
			var it bulkItem
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, fmt.Errorf("bulk response item %d: %w", i, err)
			}
			out[i].Status = it.Status
			if it.Error != nil {
				out[i].Type, out[i].Reason = it.Error.Type, it.Error.Reason
				if it.Error.CausedBy != nil && it.Error.CausedBy.Reason != "" {
					out[i].Reason += ": " + it.Error.CausedBy.Reason
				}
			}
		}
	}
	return out, nil
}

// allAccepted is the fast path of the common answer, "errors": false with
// one item per document: then every item succeeded (the bulk API sets
// errors to true as soon as one item failed), and decoding a thousand item
// objects only to find 201 in each would cost more CPU than encoding the
// request did. Any other shape (errors true, pretty-printed, an item count
// that differs) returns false and goes through ParseBulkResponse, which
// reports it exactly.
//
// Substring matching is sound here: the only caller-controlled text in a
// bulk response is the _id, a JSON string in which every quote is escaped,
// so `"errors":` and `"status":` can only be keys. Items carry one status
// each; no success item has another object with a status key.
func allAccepted(resp []byte, want int) bool {
	i := bytes.Index(resp, []byte(`"errors":`))
	if i < 0 || !bytes.HasPrefix(resp[i+len(`"errors":`):], []byte("false")) {
		return false
	}
	return bytes.Count(resp, []byte(`"status":`)) == want
}

// doc is one encoded document inside a batch body.
type doc struct {
	start, end int
	id         string
	pos        Position
}

// Batch is a bulk request plus what is needed to retry part of it and to
// checkpoint after it: the input range it covers ends just before Next.
type Batch struct {
	Seq      int64
	Body     []byte
	docs     []doc
	Read     int64 // input records covered (docs + rejected before sending)
	Rejected int64 // rejected before sending (malformed, checks)
	Next     Position
}

// Docs is the number of documents in the body.
func (b *Batch) Docs() int { return len(b.docs) }

// Rejection says why one input record is not in the index.
type Rejection struct {
	Pos    Position `json:"position"`
	ID     string   `json:"id,omitempty"`
	Stage  string   `json:"stage"` // read, embed, check, index
	Reason string   `json:"reason"`
}

// sendResult is what the retry loop learned about a batch.
type sendResult struct {
	accepted   int64
	rejections []Rejection
	attempts   int
	retried    int64 // items sent again
}

// ErrGaveUp wraps the last failure when a batch still had retryable
// failures after MaxAttempts: the load stops (nothing is dropped silently)
// and --resume continues from the last checkpoint.
var ErrGaveUp = errors.New("gave up retrying")

// sendBatch sends b until every document is accepted or rejected for good.
func sendBatch(ctx context.Context, sink Sink, p RetryPolicy, b *Batch, onRetry func(n int, why string)) (sendResult, error) {
	var res sendResult
	pending := b.docs
	body := b.Body
	var scratch []byte
	lastWhy := ""
	for attempt := 1; ; attempt++ {
		if len(pending) == 0 {
			return res, nil
		}
		if attempt > p.MaxAttempts {
			return res, fmt.Errorf("batch %d (input %s..): %d documents still failing after %d attempts, last: %s: %w",
				b.Seq, pending[0].pos, len(pending), p.MaxAttempts, lastWhy, ErrGaveUp)
		}
		if attempt > 1 {
			t := time.NewTimer(p.Backoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return res, ctx.Err()
			case <-t.C:
			}
			res.retried += int64(len(pending))
			if onRetry != nil {
				onRetry(len(pending), lastWhy)
			}
		}
		res.attempts = attempt
		resp, status, err := sink.Send(ctx, body)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			lastWhy = "transport: " + err.Error()
			continue // whole request failed before an answer: send it all again
		}
		switch {
		case status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout:
			lastWhy = fmt.Sprintf("HTTP %d: %.200s", status, resp)
			continue
		case status == http.StatusRequestEntityTooLarge:
			return res, fmt.Errorf("batch %d: HTTP 413, %d-byte body exceeds http.max_content_length: lower the batch byte limit", b.Seq, len(body))
		case status < 200 || status >= 300:
			// The whole request was refused (missing index, bad body...): no
			// per-item answer, and sending it again gives the same answer.
			return res, fmt.Errorf("batch %d: bulk request refused: HTTP %d: %.500s", b.Seq, status, resp)
		}
		if allAccepted(resp, len(pending)) {
			res.accepted += int64(len(pending))
			pending = nil
			continue
		}
		items, err := ParseBulkResponse(resp, len(pending))
		if err != nil {
			return res, fmt.Errorf("batch %d: %w", b.Seq, err)
		}
		var retry []doc
		for i, it := range items {
			d := pending[i]
			switch {
			case it.OK():
				res.accepted++
			case it.Retryable():
				retry = append(retry, d)
				lastWhy = fmt.Sprintf("doc %q: %d %s: %s", d.id, it.Status, it.Type, it.Reason)
			default:
				res.rejections = append(res.rejections, Rejection{Pos: d.pos, ID: d.id, Stage: "index",
					Reason: fmt.Sprintf("%d %s: %s", it.Status, it.Type, it.Reason)})
			}
		}
		if len(retry) > 0 {
			scratch = scratch[:0]
			for _, d := range retry {
				scratch = append(scratch, b.Body[d.start:d.end]...)
			}
			body = scratch
		}
		pending = retry
	}
}
