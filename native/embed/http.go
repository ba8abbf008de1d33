package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTP embeds through an OpenAI-compatible POST /v1/embeddings service
// (OpenAI, vLLM, text-embeddings-inference, Ollama, LocalAI, ...).
// Request: {"model", "input": [texts], "encoding_format": "float"}; response:
// {"data": [{"index", "embedding": [floats]}], "model"}; errors:
// {"error": {"message", "type", "code"}}.
type HTTP struct {
	// Endpoint is the full URL of the embeddings route.
	Endpoint string
	// Model is sent as "model" and returned by ModelName.
	Model string
	// BatchSize caps texts per request (default 64).
	BatchSize int
	// MaxRetries is how many times a request is retried after a
	// connection error, a timeout, 408, 409, 429 or a 5xx (default 3).
	MaxRetries int
	// Backoff is the first retry delay; it doubles per retry (default
	// 200ms). A Retry-After header (seconds) overrides it.
	Backoff time.Duration
	// Timeout bounds one request attempt (default 30s).
	Timeout time.Duration
	// Client is the HTTP client (default: a new client; the per-attempt
	// timeout comes from Timeout).
	Client *http.Client

	apiKey string // never logged, never in errors
	dim    atomic.Int64
}

// NewHTTP builds an HTTP embedder. url may be the service root
// ("http://host:8080"), the /v1 base, or the full /v1/embeddings URL.
// dimension may be 0: it is learned from the first response.
func NewHTTP(url, apiKey, model string, dimension int) (*HTTP, error) {
	if url == "" {
		return nil, errors.New("embed http: URL is empty (set KNNBRIDGE_EMBED_URL)")
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("embed http: URL %q must start with http:// or https://", url)
	}
	if model == "" {
		return nil, errors.New("embed http: model name is empty (set KNNBRIDGE_EMBED_MODEL)")
	}
	h := &HTTP{Endpoint: endpointURL(url), Model: model, apiKey: apiKey}
	h.dim.Store(int64(dimension))
	return h, nil
}

func endpointURL(u string) string {
	u = strings.TrimRight(u, "/")
	switch {
	case strings.HasSuffix(u, "/embeddings"):
		return u
	case strings.HasSuffix(u, "/v1"):
		return u + "/embeddings"
	default:
		return u + "/v1/embeddings"
	}
}

// String describes the embedder without the API key.
func (h *HTTP) String() string {
	key := "none"
	if h.apiKey != "" {
		key = "set"
	}
	return fmt.Sprintf("embed.HTTP{endpoint=%s model=%s api_key=%s}", h.Endpoint, h.Model, key)
}

// Dimension implements Embedder: the configured dimension, or the one the
// service returned first (0 before any call; see Probe).
func (h *HTTP) Dimension() int { return int(h.dim.Load()) }

// ModelName implements Embedder.
func (h *HTTP) ModelName() string { return h.Model }

// Probe embeds one short text to learn (or check) the dimension.
func (h *HTTP) Probe(ctx context.Context) (int, error) {
	if _, err := h.Embed(ctx, []string{"dimension probe"}); err != nil {
		return 0, err
	}
	return h.Dimension(), nil
}

type embeddingsRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float64 `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
}

type apiError struct {
	Error json.RawMessage `json:"error"`
}

// StatusError is a non-2xx answer from the service.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// Embed implements Embedder: texts go out in requests of BatchSize, in
// order; the result has one vector per text.
func (h *HTTP) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	bs := h.BatchSize
	if bs <= 0 {
		bs = 64
	}
	out := make([][]float32, 0, len(texts))
	for b0 := 0; b0 < len(texts); b0 += bs {
		b1 := min(b0+bs, len(texts))
		vecs, err := h.embedBatch(ctx, texts[b0:b1])
		if err != nil {
			return nil, fmt.Errorf("embed http %s: texts %d..%d: %w", h.Endpoint, b0, b1-1, err)
		}
		for j, v := range vecs {
			if d := int64(len(v)); !h.dim.CompareAndSwap(0, d) && h.dim.Load() != d {
				return nil, fmt.Errorf("embed http %s: text %d: got a %d-dimensional vector, expected %d", h.Endpoint, b0+j, d, h.dim.Load())
			}
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (h *HTTP) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingsRequest{Model: h.Model, Input: texts, EncodingFormat: "float"})
	if err != nil {
		return nil, err
	}
	retries := h.MaxRetries
	if retries < 0 {
		retries = 0
	} else if retries == 0 {
		retries = 3
	}
	backoff := h.Backoff
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	var lastErr error
	for attempt := 0; attempt <= retries; attempt++ {
		vecs, retryAfter, err := h.attempt(ctx, body, len(texts))
		if err == nil {
			return vecs, nil
		}
		lastErr = err
		if ctx.Err() != nil || !retryable(err) || attempt == retries {
			break
		}
		wait := backoff << attempt
		if retryAfter > 0 {
			wait = retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), lastErr)
		case <-t.C:
		}
	}
	if retries > 0 && retryable(lastErr) {
		return nil, fmt.Errorf("gave up after %d attempts: %w", retries+1, lastErr)
	}
	return nil, lastErr
}

type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
}

// attempt makes one request. Errors worth retrying come back wrapped in
// retryableError.
func (h *HTTP) attempt(ctx context.Context, body []byte, n int) ([][]float32, time.Duration, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, h.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if h.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+h.apiKey)
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		// Connection refused/reset or the attempt's timeout: retry.
		return nil, 0, &retryableError{fmt.Errorf("request failed: %w", err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, 0, &retryableError{fmt.Errorf("reading response: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Status: resp.StatusCode, Message: errorMessage(data)}
		switch {
		case resp.StatusCode == 408, resp.StatusCode == 409, resp.StatusCode == 429, resp.StatusCode >= 500:
			return nil, retryAfter(resp.Header.Get("Retry-After")), &retryableError{se}
		case resp.StatusCode == 401 || resp.StatusCode == 403:
			se.Message += " (check KNNBRIDGE_EMBED_API_KEY)"
		}
		return nil, 0, se
	}
	var er embeddingsResponse
	if err := json.Unmarshal(data, &er); err != nil {
		return nil, 0, fmt.Errorf("response is not an embeddings JSON object: %w (body starts %q)", err, prefix(data, 200))
	}
	if len(er.Data) != n {
		return nil, 0, fmt.Errorf("response has %d embeddings for %d inputs", len(er.Data), n)
	}
	out := make([][]float32, n)
	for i, d := range er.Data {
		idx := i
		if d.Index != nil {
			idx = *d.Index
		}
		if idx < 0 || idx >= n || out[idx] != nil {
			return nil, 0, fmt.Errorf("response data[%d]: index %d is out of range or repeated", i, idx)
		}
		if len(d.Embedding) == 0 {
			return nil, 0, fmt.Errorf("response data[%d]: empty embedding", i)
		}
		v := make([]float32, len(d.Embedding))
		for j, x := range d.Embedding {
			if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxFloat32 {
				return nil, 0, fmt.Errorf("response data[%d].embedding[%d] = %v is not a finite float32", i, j, x)
			}
			v[j] = float32(x)
		}
		out[idx] = v
	}
	return out, 0, nil
}

// errorMessage pulls {"error": {"message": ...}} or {"error": "..."} out
// of an error body, else returns the start of the body.
func errorMessage(data []byte) string {
	var ae apiError
	if json.Unmarshal(data, &ae) == nil && len(ae.Error) > 0 {
		var s string
		if json.Unmarshal(ae.Error, &s) == nil {
			return s
		}
		var obj struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(ae.Error, &obj) == nil && obj.Message != "" {
			if obj.Type != "" {
				return obj.Message + " (" + obj.Type + ")"
			}
			return obj.Message
		}
	}
	s := strings.TrimSpace(prefix(data, 300))
	if s == "" {
		return "(empty body)"
	}
	return s
}

func prefix(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, time.Minute)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), time.Minute)
	}
	return 0
}
