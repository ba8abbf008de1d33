// Package embed turns text into sentence embeddings: a Hugging Face BERT
// model run in pure Go on the native SIMD kernels (WordPiece tokenizer,
// safetensors weights, encoder, pooling), or an OpenAI-compatible
// /v1/embeddings service over HTTP. Both satisfy Embedder.
package embed

import (
	"context"
	"fmt"
	"runtime"
	"strings"
)

// Embedder turns texts into vectors: batch in, one vector per text out,
// in order. ingest and bridge depend on exactly this shape.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dimension() int
	ModelName() string
}

// Local embeds with a model loaded in process.
type Local struct {
	Model *Model
	// BatchSize is the number of texts per encoder pass (memory bound:
	// activations are about tokens × intermediate_size floats).
	BatchSize int
	// Threads is the goroutines used inside a pass (GEMM rows, attention
	// heads).
	Threads int
}

// NewLocal loads the model in dir. batchSize and threads <= 0 take
// defaults (32, GOMAXPROCS).
func NewLocal(dir string, batchSize, threads int) (*Local, error) {
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	return &Local{Model: m, BatchSize: batchSize, Threads: threads}, nil
}

// Dimension implements Embedder.
func (l *Local) Dimension() int { return l.Model.Dimension() }

// ModelName implements Embedder.
func (l *Local) ModelName() string { return l.Model.Name }

// Tokenize returns the token ids the encoder sees for text (with
// sentence-transformers' do_lower_case applied when configured).
func (l *Local) Tokenize(text string) []int32 {
	if l.Model.LowerInput {
		text = strings.ToLower(text)
	}
	return l.Model.Tokenizer.Encode(text)
}

// Embed implements Embedder. Texts are tokenized, grouped into batches of
// BatchSize (sorted by length so each pass has similar sizes) and encoded;
// results come back in input order.
func (l *Local) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	bs := l.BatchSize
	if bs <= 0 {
		bs = 32
	}
	threads := l.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	ids := make([][]int32, len(texts))
	parallelRows(len(texts), threads, func(a, b int) {
		for i := a; i < b; i++ {
			ids[i] = l.Tokenize(texts[i])
		}
	})
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	// Stable sort by length: similar lengths in one pass balance the
	// attention work over heads and threads.
	sortByLen(order, ids)
	out := make([][]float32, len(texts))
	for b0 := 0; b0 < len(order); b0 += bs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		b1 := min(b0+bs, len(order))
		batch := make([][]int32, 0, b1-b0)
		for _, i := range order[b0:b1] {
			batch = append(batch, ids[i])
		}
		vecs, err := l.Model.Forward(ctx, batch, threads)
		if err != nil {
			return nil, fmt.Errorf("embed: texts %d..%d: %w", b0, b1-1, err)
		}
		for j, i := range order[b0:b1] {
			out[i] = vecs[j]
		}
	}
	return out, nil
}

func sortByLen(order []int, ids [][]int32) {
	// insertion-free: counting sort by length (lengths are <= max_seq_length).
	maxL := 0
	for _, s := range ids {
		maxL = max(maxL, len(s))
	}
	buckets := make([][]int, maxL+1)
	for _, i := range order {
		buckets[len(ids[i])] = append(buckets[len(ids[i])], i)
	}
	order = order[:0]
	for _, b := range buckets {
		order = append(order, b...)
	}
}
