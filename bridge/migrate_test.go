package bridge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/migrate"
)

// A fake _bulk endpoint that injects faults: the first answer refuses one
// item with 429 and reports another as a version conflict; the retry must
// carry only the refused item.
func TestMigrationBulkRetriesOnlyRefusedItems(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			io.WriteString(w, `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},{"index":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"newer"}}}]}`)
			return
		}
		io.WriteString(w, `{"errors":false,"items":[{"index":{"status":201}}]}`)
	}))
	defer srv.Close()
	c, err := NewClient(Config{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMigrator(c, MigrateOptions{})
	m.opt.Retry.Base, m.opt.Retry.Max = time.Millisecond, time.Millisecond
	var body []byte
	offs := []int{}
	ids := []string{"a", "b", "c"}
	for i, id := range ids {
		offs = append(offs, len(body))
		body, _ = migrate.AppendIndex(body, &migrate.Doc{ID: id, Version: int64(i + 1), Source: []byte(`{"x":1}`)})
	}
	offs = append(offs, len(body))
	wrote, newer, err := m.bulk(context.Background(), "t", body, offs, ids, false)
	if err != nil || wrote != 2 || newer != 1 {
		t.Fatalf("wrote %d newer %d err %v", wrote, newer, err)
	}
	if len(bodies) != 2 || !strings.Contains(bodies[1], `"_id":"b"`) || strings.Contains(bodies[1], `"_id":"a"`) {
		t.Fatalf("retry body %q", bodies[1:])
	}
}

// A document the target refuses for good stops the copy with its id.
func TestMigrationBulkRejectNamesDocument(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errors":true,"items":[{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"zero vector"}}}]}`)
	}))
	defer srv.Close()
	c, _ := NewClient(Config{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	m := NewMigrator(c, MigrateOptions{})
	body, _ := migrate.AppendIndex(nil, &migrate.Doc{ID: "zero", Version: 1, Source: []byte(`{"v":[0,0]}`)})
	_, _, err := m.bulk(context.Background(), "t", body, []int{0, len(body)}, []string{"zero"}, false)
	if !errors.Is(err, migrate.ErrRejected) || !strings.Contains(err.Error(), `"zero"`) || !strings.Contains(err.Error(), "zero vector") {
		t.Fatalf("err %v", err)
	}
	// For deletes, not_found means already gone.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errors":true,"items":[{"delete":{"status":404}}]}`)
	}))
	defer srv2.Close()
	c2, _ := NewClient(Config{URLs: []string{srv2.URL}, Timeout: 5 * time.Second})
	del := migrate.AppendDelete(nil, "x", "", 2)
	n, _, err := NewMigrator(c2, MigrateOptions{}).bulk(context.Background(), "t", del, []int{0, len(del)}, []string{"x"}, true)
	if err != nil || n != 1 {
		t.Fatalf("delete of a missing doc: %d %v", n, err)
	}
}

// A failed shard during a scan is an error, never a short page.
func TestMigrationScanFailsOnShardFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"_shards":{"total":2,"failed":1,"failures":[{"reason":"boom"}]},"hits":{"hits":[]}}`)
	}))
	defer srv.Close()
	c, _ := NewClient(Config{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	m := NewMigrator(c, MigrateOptions{})
	_, err := m.scan(context.Background(), "/_search", migrate.ScanPage{Size: 10})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 shards failed") {
		t.Fatalf("err %v", err)
	}
}
