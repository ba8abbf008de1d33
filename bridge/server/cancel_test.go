package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
)

// stuckCluster is a fault injector (the only fake cluster in these tests):
// it answers the metadata calls like OpenSearch 2.19 and never answers
// _msearch, reporting when the sidecar's request to it is cancelled.
func stuckCluster(t *testing.T) (*bridge.Client, chan struct{}) {
	t.Helper()
	cancelled := make(chan struct{}, 8)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/":
			_, _ = w.Write([]byte(`{"cluster_name":"stuck","version":{"distribution":"opensearch","number":"2.19.1","build_type":"tar"}}`))
		case strings.HasPrefix(r.URL.Path, "/_cat/plugins"):
			_, _ = w.Write([]byte(`[{"component":"opensearch-knn","version":"2.19.1.0"}]`))
		case strings.HasPrefix(r.URL.Path, "/_cat/nodes"):
			_, _ = w.Write([]byte(`[{"node.role":"dimr"}]`))
		case strings.HasSuffix(r.URL.Path, "/_mapping"):
			_, _ = w.Write([]byte(`{"docs":{"mappings":{"properties":{"text":{"type":"text"},"v":{"type":"knn_vector","dimension":2,"space_type":"l2","method":{"name":"hnsw","engine":"lucene"}}}}}}`))
		case r.URL.Path == "/_msearch" || strings.HasSuffix(r.URL.Path, "/_search"):
			// net/http notices a closed client connection only once the
			// request body has been read.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
				cancelled <- struct{}{}
			case <-time.After(20 * time.Second):
				t.Error("the sidecar's _msearch was never cancelled")
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	c, err := bridge.NewClient(bridge.Config{URLs: []string{ts.URL}, Timeout: 30 * time.Second, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	return c, cancelled
}

// A client that goes away cancels the sidecar's call to OpenSearch.
func TestClientCancelReachesCluster(t *testing.T) {
	c, cancelled := stuckCluster(t)
	s, _ := newTestServer(t, testConfig(), c)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/indexes/docs/search", strings.NewReader(`{"vector":[1,2]}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the OpenSearch call was not cancelled when the client went away")
	}
	<-errc
}

// The request timeout cancels the cluster call and answers 504 with a
// JSON error, never a hang.
func TestRequestTimeoutReachesCluster(t *testing.T) {
	c, cancelled := stuckCluster(t)
	cfg := testConfig()
	cfg.RequestTimeout = 300 * time.Millisecond
	s, _ := newTestServer(t, cfg, c)
	res, b := do(t, s.Handler(), "POST", "/v1/indexes/docs/search", testToken, `{"vector":[1,2]}`)
	if res.StatusCode != http.StatusGatewayTimeout || mustError(t, b).Error.Code != "timeout" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the OpenSearch call outlived the request timeout")
	}
}
