package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Embedding and sending overlap: the first bulk request stays open until
// the embedder has started on a later chunk, and that embed call waits until
// the request is in flight. A loader that embedded everything first, or sent
// only after each embed, would time out here.
func TestEmbedPipelinedWithSending(t *testing.T) {
	sendStarted := make(chan struct{})
	embedLater := make(chan struct{})
	var embedCalls, sends atomic.Int32
	emb := embedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
		n := embedCalls.Add(1)
		if n == 3 {
			close(embedLater)
			select {
			case <-sendStarted:
			case <-time.After(5 * time.Second):
				return nil, errors.New("embed call 3 never saw a bulk request in flight: not pipelined")
			}
		}
		out := make([][]float32, len(texts))
		for i := range texts {
			out[i] = []float32{1, float32(i), 2}
		}
		return out, nil
	})
	sink := SinkFunc(func(ctx context.Context, body []byte) ([]byte, int, error) {
		n := strings.Count(string(body), "\n") / 2
		if sends.Add(1) == 1 {
			close(sendStarted)
			select {
			case <-embedLater:
			case <-time.After(5 * time.Second):
				return nil, 0, errors.New("first bulk request never saw a later embed call: not pipelined")
			}
		}
		items := strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ",")
		return []byte(`{"errors":false,"items":[` + items + `]}`), 200, nil
	})
	var in strings.Builder
	for i := range 40 {
		fmt.Fprintf(&in, `{"id":"t%d","text":"text %d"}`+"\n", i, i)
	}
	rep, err := Run(context.Background(), Config{
		Reader: NewJSONLReader(strings.NewReader(in.String()), Options{}), Sink: sink,
		Embedder: emb, EmbedBatch: 4, MaxBatchDocs: 4, Senders: 1,
		Retry: RetryPolicy{MaxAttempts: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint.Accepted != 40 || embedCalls.Load() != 10 {
		t.Fatalf("accepted %d, embed calls %d", rep.Checkpoint.Accepted, embedCalls.Load())
	}
}

type embedFunc func(ctx context.Context, texts []string) ([][]float32, error)

func (f embedFunc) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f(ctx, texts)
}
func (embedFunc) Dimension() int { return 3 }

// --- benchmarks: encoding and reading speed (go test -bench . ./ingest/)

func benchVectors(n, d int) []Record {
	recs := make([]Record, n)
	for i, v := range testVectors(n, d) {
		recs[i] = Record{Pos: Position{Record: int64(i)}, Vector: v}
	}
	return recs
}

// BenchmarkEncodeBody is knnbridge's bulk encoding: content id + action +
// Ryu float32 formatting (appendFloat32), no reflection.
func BenchmarkEncodeBody(b *testing.B) {
	for _, d := range []int{128, 384} {
		recs := benchVectors(1000, d)
		b.Run(fmt.Sprint(d), func(b *testing.B) {
			var e Encoder
			buf := make([]byte, 0, 8<<20)
			b.ReportAllocs()
			for b.Loop() {
				buf = buf[:0]
				for i := range recs {
					buf = e.AppendDoc(buf, DocID(&recs[i]), &recs[i])
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

// BenchmarkEncodeBodyJSON is the encoding/json equivalent, for comparison.
func BenchmarkEncodeBodyJSON(b *testing.B) {
	type src struct {
		Vector []float32 `json:"vector"`
	}
	for _, d := range []int{128, 384} {
		recs := benchVectors(1000, d)
		b.Run(fmt.Sprint(d), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var buf []byte
				for i := range recs {
					a, _ := json.Marshal(map[string]any{"index": map[string]any{"_id": fmt.Sprint(i)}})
					s, _ := json.Marshal(src{recs[i].Vector})
					buf = append(append(append(append(buf, a...), '\n'), s...), '\n')
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func BenchmarkReadFvecs(b *testing.B) {
	data := fvecsBytes(testVectors(10000, 128))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewVecsReader(strings.NewReader(string(data)), Fvecs)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
