// Package bridge is knnbridge's shell: the only package that talks to
// OpenSearch (through opensearch-go) or serves HTTP. It executes what the
// domain packages (mapping, ingest, queries, pq) build and interprets.
package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

var lookupEnv = os.Getenv

// Client wraps the opensearch-go client with knnbridge's defaults. API is
// the typed opensearch-go client for everything it covers; Do is for the
// plugin endpoints (_plugins/_knn/...) it does not.
type Client struct {
	API *opensearchapi.Client
	cfg Config
}

// retryStatuses are answered by an overloaded or restarting cluster; the
// request did not take effect and is safe to send again.
var retryStatuses = []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// NewClient builds a client from cfg. It does not contact the cluster; call
// Info to check that it answers.
func NewClient(cfg Config) (*Client, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("opensearch: no URL configured (set KNNBRIDGE_OPENSEARCH_URLS or --opensearch-url)")
	}
	for _, u := range cfg.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("opensearch: invalid URL %q: want http(s)://host:port", u)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // only when explicitly configured
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("opensearch: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("opensearch: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
	maxRetries := cfg.MaxRetries
	disableRetry := maxRetries <= 0
	healthChecks := -1 // no background probing: a sidecar should not add load of its own
	osc, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{
		Addresses:             cfg.URLs,
		Username:              cfg.Username,
		Password:              cfg.Password,
		Transport:             transport,
		RetryOnStatus:         retryStatuses,
		DisableRetry:          disableRetry,
		MaxRetries:            maxRetries,
		RequestTimeout:        cfg.Timeout,
		RetryBackoff:          Backoff(cfg.RetryBackoff, cfg.MaxBackoff),
		HealthCheckMaxRetries: healthChecks,
	}})
	if err != nil {
		return nil, fmt.Errorf("opensearch: creating client for %v: %w", cfg.URLs, err)
	}
	return &Client{API: osc, cfg: cfg}, nil
}

// Config returns the configuration the client was built with.
func (c *Client) Config() Config { return c.cfg }

// Backoff returns an exponential backoff with full jitter: attempt n waits a
// random duration in [0, min(max, base·2^(n-1))]. Jitter keeps many
// clients that were refused together from coming back together.
func Backoff(base, max time.Duration) func(int) time.Duration {
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if max <= 0 {
		max = 10 * time.Second
	}
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := base << min(attempt-1, 30)
		if d <= 0 || d > max {
			d = max
		}
		return time.Duration(rand.Int64N(int64(d) + 1))
	}
}

// Error is a non-2xx answer from OpenSearch, with the parts of its error
// body that say what went wrong.
type Error struct {
	Method, Path string
	Status       int
	Type, Reason string
	Body         string // truncated raw body when it is not a standard error
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("opensearch %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Type, e.Reason)
	}
	return fmt.Sprintf("opensearch %s %s: %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// IsNotFound reports whether err is an OpenSearch 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Do sends a request with a JSON body (nil for none) to path (which may
// carry a query string) and returns the response body of a 2xx answer. Any
// other status is an *Error; a transport failure names the URLs and cause.
func (c *Client) Do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rdr = bytes.NewReader(b)
	case string:
		rdr = strings.NewReader(b)
	case io.Reader:
		rdr = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s body: %w", method, path, err)
		}
		rdr = bytes.NewReader(buf)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rdr)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return nil, c.transportError(method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("opensearch %s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return out, parseError(method, path, resp.StatusCode, out)
	}
	return out, nil
}

// DoJSON is Do followed by decoding the answer into out.
func (c *Client) DoJSON(ctx context.Context, method, path string, body, out any) error {
	raw, err := c.Do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("opensearch %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

func (c *Client) transportError(method, path string, err error) error {
	return fmt.Errorf("opensearch at %s: %s %s: %w", strings.Join(c.cfg.URLs, ","), method, path, err)
}

func parseError(method, path string, status int, body []byte) error {
	e := &Error{Method: method, Path: path, Status: status}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var detail struct {
			Type      string `json:"type"`
			Reason    string `json:"reason"`
			RootCause []struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"root_cause"`
		}
		if json.Unmarshal(env.Error, &detail) == nil && detail.Type != "" {
			e.Type, e.Reason = detail.Type, detail.Reason
			if len(detail.RootCause) > 0 && detail.RootCause[0].Reason != "" && detail.RootCause[0].Reason != detail.Reason {
				e.Reason += " (root cause: " + detail.RootCause[0].Reason + ")"
			}
			return e
		}
		var s string
		if json.Unmarshal(env.Error, &s) == nil {
			e.Reason, e.Type = s, "error"
			return e
		}
	}
	const maxBody = 512
	if len(body) > maxBody {
		body = append(body[:maxBody:maxBody], "..."...)
	}
	e.Body = string(body)
	return e
}
