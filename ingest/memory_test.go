package ingest

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// okResponse answers every document of body with 201.
func okResponse(body []byte) []byte {
	n := bytes.Count(body, []byte("\n")) / 2
	var b bytes.Buffer
	b.WriteString(`{"errors":false,"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"index":{"status":201}}`)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// The loader's memory is bounded by its configuration, not by the input
// (issue 7: peak RSS for 1M vectors within 10% of 100k): however many
// batches go through, no more than Senders+2 bodies are ever allocated,
// and they are reused.
func TestBodiesBoundedByConfig(t *testing.T) {
	const n, senders = 20000, 3
	var sent atomic.Int64
	sink := SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		sent.Add(1)
		time.Sleep(time.Millisecond) // slower than encoding: the encoder runs ahead as far as it may
		return okResponse(body), 200, nil
	})
	l, err := NewLoader(Config{Reader: NewVecsReader(bytes.NewReader(fvecsBytes(testVectors(n, 8))), Fvecs),
		Sink: sink, Checks: Checks{Dimension: 8}, MaxBatchDocs: 50, Senders: senders})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint.Accepted != n || sent.Load() != n/50 {
		t.Fatalf("accepted %d in %d requests, want %d in %d", rep.Checkpoint.Accepted, sent.Load(), n, n/50)
	}
	if l.madeBodies > senders+2 {
		t.Fatalf("%d bodies allocated for %d batches, want at most %d", l.madeBodies, n/50, senders+2)
	}
}

// While the first batch is stuck (a cluster retrying it for minutes), the
// other senders go on, but the encoder stops window batches ahead of the
// last committed one instead of piling up per-batch state for the whole
// input.
func TestBatchWindowWhileFirstBatchStuck(t *testing.T) {
	const senders = 2
	window := 4*senders + 4
	release := make(chan struct{})
	var sent atomic.Int64
	sink := SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		sent.Add(1)
		if bytes.Contains(body, []byte(`"_id":"000000000000-`)) {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
		}
		return okResponse(body), 200, nil
	})
	const n = 2000
	done := make(chan error, 1)
	var rep Report
	go func() {
		var err error
		rep, err = Run(context.Background(), Config{Reader: NewVecsReader(bytes.NewReader(fvecsBytes(testVectors(n, 4))), Fvecs),
			Sink: sink, Checks: Checks{Dimension: 4}, MaxBatchDocs: 10, Senders: senders})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for sent.Load() < int64(window) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a sender to overrun the window if it could
	got := sent.Load()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("load did not finish after the first batch was released")
	}
	if got != int64(window) {
		t.Fatalf("%d requests sent while the first batch was stuck, want exactly the window of %d", got, window)
	}
	if rep.Checkpoint.Accepted != n || !strings.Contains(rep.Checkpoint.Next.String(), "record 2000") {
		t.Fatalf("accounting after release: %+v", rep.Checkpoint)
	}
}
