package server

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/native/embed"
)

// lenEmbedder returns [len(text), index-in-batch] and records batch sizes;
// the first call waits for release so that others queue up behind it.
type lenEmbedder struct {
	mu      sync.Mutex
	sizes   []int
	started chan int // receives the size of the first batch
	release chan struct{}
	once    sync.Once
}

func (e *lenEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.once.Do(func() { e.started <- len(texts); <-e.release })
	e.mu.Lock()
	e.sizes = append(e.sizes, len(texts))
	e.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(t)), float32(i)}
	}
	return out, nil
}
func (e *lenEmbedder) Dimension() int    { return 2 }
func (e *lenEmbedder) ModelName() string { return "len" }

func TestQueryBatcherCoalescesAndKeepsOrder(t *testing.T) {
	fe := &lenEmbedder{started: make(chan int, 1), release: make(chan struct{})}
	cfg := testConfig()
	cfg.EmbedConcurrency = 1
	s, err := New(cfg, Deps{Cluster: downCluster(t), LoadEmbedder: func() (embed.Embedder, error) { return fe, nil }})
	if err != nil {
		t.Fatal(err)
	}
	s.StartBackground()
	for s.embedderReady() == nil {
		time.Sleep(time.Millisecond)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			text := fmt.Sprintf("%0*d", i+1, 0) // length i+1
			v, err := s.queries.embed(context.Background(), text)
			if err != nil || int(v[0]) != i+1 {
				errs <- fmt.Errorf("query %d got %v %v", i, v, err)
			}
		}(i)
	}
	// The first batch blocks in the encoder; wait until every other query
	// is queued behind it, then release.
	first := <-fe.started
	deadline := time.Now().Add(10 * time.Second)
	for len(s.queries.in) < n-first {
		if time.Now().After(deadline) {
			t.Fatalf("%d queries queued behind a first batch of %d, want %d", len(s.queries.in), first, n-first)
		}
		time.Sleep(time.Millisecond)
	}
	close(fe.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Everything that queued while the encoder was busy went in one pass.
	want := []int{first, n - first}
	if first == n {
		want = want[:1]
	}
	if fmt.Sprint(fe.sizes) != fmt.Sprint(want) {
		t.Errorf("batch sizes %v, want %v", fe.sizes, want)
	}
	// A cancelled caller gets its error; the encoder is not blocked by it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.queries.embed(ctx, "x"); err == nil {
		t.Error("cancelled query embedded")
	}
}
