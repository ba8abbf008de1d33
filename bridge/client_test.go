package bridge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUnreachableURLFailsWithinTimeout(t *testing.T) {
	// A port nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	c, err := NewClient(Config{URLs: []string{addr}, Timeout: time.Second, MaxRetries: 1, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Info(ctx)
	if err == nil {
		t.Fatal("Info on a closed port succeeded")
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error should name the URL and the cause: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Info did not return before the 10s guard: %v", err)
	}
}

func TestHangingServerTimesOut(t *testing.T) {
	// Accepts connections and never answers: only the per-attempt timeout
	// can end the request.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	addr := "http://" + l.Addr().String()
	c, err := NewClient(Config{URLs: []string{addr}, Timeout: 300 * time.Millisecond, MaxRetries: 1, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Info(ctx)
	if err == nil {
		t.Fatal("Info against a silent server succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("request hung until the test's own deadline: %v", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error should name the URL: %v", err)
	}
}

func TestRetriesOn429ThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":429}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c, err := NewClient(Config{URLs: []string{srv.URL}, Timeout: time.Second, MaxRetries: 3, RetryBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.Do(context.Background(), http.MethodGet, "/x", nil)
	if err != nil {
		t.Fatalf("Do after two 429s: %v", err)
	}
	if string(body) != `{"ok":true}` || calls.Load() != 3 {
		t.Fatalf("body %q after %d calls", body, calls.Load())
	}
}

func TestRetriesExhaustedReturnsTypedError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"type":"cluster_block_exception","reason":"blocked","root_cause":[{"type":"x","reason":"state not recovered"}]},"status":503}`))
	}))
	defer srv.Close()
	c, _ := NewClient(Config{URLs: []string{srv.URL}, Timeout: time.Second, MaxRetries: 2, RetryBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	_, err := c.Do(context.Background(), http.MethodPut, "/idx", map[string]any{"a": 1})
	var oe *Error
	if !errors.As(err, &oe) || oe.Status != 503 || oe.Type != "cluster_block_exception" || !strings.Contains(oe.Reason, "state not recovered") {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("calls = %d, want 1 + 2 retries", calls.Load())
	}
}

func TestNoRetryOn400(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"type":"mapper_parsing_exception","reason":"bad"},"status":400}`))
	}))
	defer srv.Close()
	c, _ := NewClient(Config{URLs: []string{srv.URL}, Timeout: time.Second, MaxRetries: 3, RetryBackoff: time.Millisecond})
	_, err := c.Do(context.Background(), http.MethodPut, "/idx", nil)
	if err == nil || calls.Load() != 1 {
		t.Fatalf("err=%v calls=%d, want one call and an error", err, calls.Load())
	}
	if IsNotFound(err) {
		t.Fatal("400 reported as not found")
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {URLs: []string{"localhost:9200"}}, {URLs: []string{"http://x"}, CAFile: "/nonexistent/ca.pem"}} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) succeeded", cfg)
		}
	}
}

func TestConfigStringMasksPassword(t *testing.T) {
	s := Config{URLs: []string{"https://h:9200"}, Username: "admin", Password: "hunter2"}.String()
	if strings.Contains(s, "hunter2") || !strings.Contains(s, "***") {
		t.Fatalf("config string leaks or hides wrongly: %s", s)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("KNNBRIDGE_OPENSEARCH_URLS", "")
	t.Setenv("OPENSEARCH_URL", "http://a:1,http://b:2")
	t.Setenv("KNNBRIDGE_OPENSEARCH_TIMEOUT", "5s")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URLs) != 2 || c.URLs[1] != "http://b:2" || c.Timeout != 5*time.Second {
		t.Fatalf("config = %+v", c)
	}
}

func TestBackoffBounded(t *testing.T) {
	b := Backoff(100*time.Millisecond, time.Second)
	for attempt := 1; attempt < 70; attempt++ {
		if d := b(attempt); d < 0 || d > time.Second {
			t.Fatalf("attempt %d: backoff %s out of [0, 1s]", attempt, d)
		}
	}
}
