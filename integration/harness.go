// Package integration gives Go tests a real OpenSearch with the k-NN
// plugin, and holds knnbridge's own integration tests (build tag
// "integration").
//
// Other projects can use it the same way:
//
//	func TestSomething(t *testing.T) {
//		c := integration.Start(t)           // a ready cluster
//		idx := c.Index(t, "vectors")        // a unique index name, deleted at cleanup
//		_, err := c.Client.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: idx, ...})
//	}
//
// Where the cluster comes from, in order:
//  1. OPENSEARCH_URL, when set (for example the local node that
//     `compose/local.sh up` starts without Docker);
//  2. testcontainers-go's OpenSearch module, when a Docker engine answers
//     (image KNNBRIDGE_TEST_IMAGE, default opensearchproject/opensearch:2.19.1);
//  3. otherwise the test fails, saying how to start one. It never skips:
//     a green run must mean the tests ran.
package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"github.com/testcontainers/testcontainers-go"
	tcopensearch "github.com/testcontainers/testcontainers-go/modules/opensearch"

	"github.com/knnbridge/knnbridge/bridge"
)

// DefaultImage is the Docker image used when no OPENSEARCH_URL is given.
const DefaultImage = "opensearchproject/opensearch:2.19.1"

// Cluster is a ready OpenSearch cluster for tests.
type Cluster struct {
	URL    string
	Client *opensearchapi.Client // the typed opensearch-go client
	Bridge *bridge.Client        // knnbridge's client on the same cluster
	Info   bridge.ClusterInfo
	// Version is the OpenSearch version, e.g. "2.19.1".
	Version string
	// FaissNatives says whether faiss/nmslib fields can be built. Where it is
	// false, writing a document into such a field kills the node (fatal
	// UnsatisfiedLinkError): tests must not try.
	FaissNatives bool
}

var (
	shared    *Cluster
	sharedErr error
	once      sync.Once
)

// Start returns the shared cluster of this test binary, starting it on
// first use. It fails t (never skips) when no cluster can be had.
func Start(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatalf("integration: no OpenSearch: %v", sharedErr)
	}
	return shared
}

func start() (*Cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := os.Getenv("OPENSEARCH_URL")
	if url == "" {
		if !dockerAnswers() {
			return nil, fmt.Errorf("OPENSEARCH_URL is not set and no Docker engine answers. Start a local node without Docker " +
				"with `make opensearch-up` (or compose/local.sh up) and export OPENSEARCH_URL=<the URL it prints>, " +
				"or run `make test`, which does both")
		}
		image := os.Getenv("KNNBRIDGE_TEST_IMAGE")
		if image == "" {
			image = DefaultImage
		}
		// The container lives as long as the test binary; Ryuk removes it.
		ctr, err := tcopensearch.Run(ctx, image)
		if err != nil {
			return nil, fmt.Errorf("starting %s with testcontainers: %w", image, err)
		}
		if url, err = ctr.Address(ctx); err != nil {
			return nil, fmt.Errorf("container address: %w", err)
		}
	}
	cfg := bridge.Config{URLs: strings.Split(url, ","), Timeout: 60 * time.Second, MaxRetries: 3}
	if u := os.Getenv("OPENSEARCH_USERNAME"); u != "" {
		cfg.Username, cfg.Password = u, os.Getenv("OPENSEARCH_PASSWORD")
	}
	bc, err := bridge.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	var info bridge.ClusterInfo
	for {
		if info, err = bc.Info(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster at %s not answering: %w", url, err)
		case <-time.After(time.Second):
		}
	}
	if !info.KNNInstalled {
		return nil, fmt.Errorf("cluster at %s (OpenSearch %s) has no opensearch-knn plugin", url, info.Version)
	}
	// A single node can only be yellow once an index wants a replica; both
	// are fine for tests.
	if _, err := bc.Do(ctx, http.MethodGet, "/_cluster/health?wait_for_status=yellow&timeout=60s", nil); err != nil {
		return nil, fmt.Errorf("cluster at %s not healthy: %w", url, err)
	}
	return &Cluster{URL: url, Client: bc.API, Bridge: bc, Info: info, Version: info.Version, FaissNatives: info.FaissNatives}, nil
}

func dockerAnswers() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	p, err := testcontainers.ProviderDefault.GetProvider()
	if err != nil {
		return false
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.Health(ctx) == nil
}

// Index returns a fresh, unused index name starting with prefix and
// deletes that index (if it was created) when the test ends.
func (c *Cluster) Index(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(prefix) + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Bridge.Do(ctx, http.MethodDelete, "/"+name+"?ignore_unavailable=true", nil); err != nil && !bridge.IsNotFound(err) {
			t.Logf("cleanup: deleting index %s: %v", name, err)
		}
	})
	return name
}
