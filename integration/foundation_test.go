//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/native"
)

// bulkIndex sends docs (id -> source) in one _bulk request and fails the
// test on any item error.
func bulkIndex(t *testing.T, c *Cluster, index string, ids []string, docs []map[string]any) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for i, d := range docs {
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": index, "_id": ids[i]}})
		_ = enc.Encode(d)
	}
	var resp struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodPost, "/_bulk?refresh=true", body.Bytes(), &resp); err != nil {
		t.Fatalf("bulk: %v", err)
	}
	if resp.Errors {
		for _, it := range resp.Items {
			for _, r := range it {
				if r.Error != nil {
					t.Fatalf("bulk item failed: %d %s", r.Status, r.Error)
				}
			}
		}
	}
	if len(resp.Items) != len(docs) {
		t.Fatalf("bulk: %d items answered for %d docs", len(resp.Items), len(docs))
	}
}

func createIndex(t *testing.T, c *Cluster, index string, body any) {
	t.Helper()
	if _, err := c.Bridge.Do(context.Background(), http.MethodPut, "/"+index, body); err != nil {
		t.Fatalf("create %s: %v", index, err)
	}
}

// TestLuceneHNSWRecall: a lucene HNSW index (cosinesimil, d=32, m=16) with
// 2,000 seeded random vectors answers 50 k-NN queries with recall@10 ≥ 0.95
// against exact ground truth computed here.
func TestLuceneHNSWRecall(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "foundation-hnsw")
	const n, dim, nq, k = 2000, 32, 50, 10
	createIndex(t, c, idx, map[string]any{
		"settings": map[string]any{"index": map[string]any{"knn": true, "number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": map[string]any{"properties": map[string]any{
			"v": map[string]any{"type": "knn_vector", "dimension": dim, "space_type": "cosinesimil",
				"method": map[string]any{"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
					"parameters": map[string]any{"m": 16, "ef_construction": 128}}},
		}},
	})
	rng := rand.New(rand.NewPCG(42, 7))
	randVec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	vecs := make([][]float32, n)
	ids := make([]string, n)
	docs := make([]map[string]any, n)
	for i := range vecs {
		vecs[i] = randVec()
		ids[i] = strconv.Itoa(i)
		docs[i] = map[string]any{"v": vecs[i]}
	}
	for lo := 0; lo < n; lo += 500 {
		bulkIndex(t, c, idx, ids[lo:lo+500], docs[lo:lo+500])
	}
	var count struct {
		Count int `json:"count"`
	}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodGet, "/"+idx+"/_count", nil, &count); err != nil || count.Count != n {
		t.Fatalf("count = %d (err %v), want %d", count.Count, err, n)
	}

	hits := 0
	for q := 0; q < nq; q++ {
		qv := randVec()
		// Exact ground truth by brute force.
		type scored struct {
			id  int
			sim float32
		}
		all := make([]scored, n)
		for i, v := range vecs {
			all[i] = scored{i, native.Cosine(qv, v)}
		}
		sort.Slice(all, func(a, b int) bool { return all[a].sim > all[b].sim })
		truth := map[string]bool{}
		for _, s := range all[:k] {
			truth[strconv.Itoa(s.id)] = true
		}
		var resp struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		// ef_search 100 (the plugin's default for the native engines); lucene
		// otherwise searches with ef = k, which is a recall of ~0.9 here.
		body := map[string]any{"size": k, "_source": false, "query": map[string]any{"knn": map[string]any{"v": map[string]any{
			"vector": qv, "k": k, "method_parameters": map[string]any{"ef_search": 100}}}}}
		if err := c.Bridge.DoJSON(context.Background(), http.MethodPost, "/"+idx+"/_search", body, &resp); err != nil {
			t.Fatalf("query %d: %v", q, err)
		}
		for _, h := range resp.Hits.Hits {
			if truth[h.ID] {
				hits++
			}
		}
	}
	recall := float64(hits) / float64(nq*k)
	t.Logf("lucene HNSW recall@10 over %d queries: %.4f", nq, recall)
	if recall < 0.95 {
		t.Fatalf("recall@10 = %.4f, want >= 0.95", recall)
	}
}

// TestBM25Match: 200 short texts; a match query ranks first the one text
// that holds all query terms (after English stemming: "keepers" ->
// "keeper"), ahead of texts holding only one.
func TestBM25Match(t *testing.T) {
	c := Start(t)
	idx := c.Index(t, "foundation-bm25")
	createIndex(t, c, idx, map[string]any{
		"settings": map[string]any{"index": map[string]any{"number_of_shards": 1, "number_of_replicas": 0}},
		"mappings": map[string]any{"properties": map[string]any{"text": map[string]any{"type": "text", "analyzer": "english"}}},
	})
	words := []string{"river", "mountain", "forest", "desert", "ocean", "valley", "glacier", "meadow", "canyon", "island"}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200
	const target = 137
	ids := make([]string, n)
	docs := make([]map[string]any, n)
	for i := range docs {
		text := fmt.Sprintf("a note about the %s and the %s", words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		switch {
		case i == target:
			text = "the lighthouse keeper watched the volcanic eruption from the island"
		case i%50 == 3:
			text += " near a lighthouse" // one of the two terms only
		case i%50 == 7:
			text += " after a volcanic winter"
		}
		ids[i] = strconv.Itoa(i)
		docs[i] = map[string]any{"text": text}
	}
	bulkIndex(t, c, idx, ids, docs)
	var resp struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := map[string]any{"query": map[string]any{"match": map[string]any{"text": "lighthouse keepers volcanic"}}}
	if err := c.Bridge.DoJSON(context.Background(), http.MethodPost, "/"+idx+"/_search", body, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Hits.Hits) == 0 || resp.Hits.Hits[0].ID != strconv.Itoa(target) {
		t.Fatalf("top hit = %+v, want doc %d first", resp.Hits.Hits, target)
	}
	if len(resp.Hits.Hits) < 2 {
		t.Fatalf("expected the single-term texts to match too, got %d hits", len(resp.Hits.Hits))
	}
}

// TestClusterInfo: the client reports the version and the k-NN plugin.
func TestClusterInfo(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := c.Bridge.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || !info.KNNInstalled || info.Nodes < 1 {
		t.Fatalf("info = %+v", info)
	}
	t.Logf("OpenSearch %s (%s), plugins %v, faiss natives: %t (%s)", info.Version, info.BuildType, info.Plugins, info.FaissNatives, info.FaissNativeOK)
}
