package server

import (
	"context"
	"sync"
)

// queryBatcher coalesces the query texts of concurrent searches into one
// embedding call. A worker takes the first waiting query, then everything
// else already waiting (up to maxBatch): under light load a query is
// embedded alone with no added delay; under heavy load the batches grow
// by themselves while the previous one runs, and one encoder pass over
// 32 short queries costs far less than 32 passes (the dense layers become
// one larger GEMM).
type queryBatcher struct {
	s        *Server
	in       chan *queryJob
	maxBatch int
	start    sync.Once
	workers  int
}

type queryJob struct {
	ctx  context.Context
	text string
	out  chan queryResult
}

type queryResult struct {
	vec []float32
	err error
}

func newQueryBatcher(s *Server, workers, maxBatch int) *queryBatcher {
	return &queryBatcher{s: s, in: make(chan *queryJob, 4*maxBatch), maxBatch: maxBatch, workers: workers}
}

// embed returns the vector of one query text.
func (b *queryBatcher) embed(ctx context.Context, text string) ([]float32, error) {
	if _, err := b.s.getEmbedder(); err != nil {
		return nil, err
	}
	b.start.Do(func() {
		for range b.workers {
			go b.work()
		}
	})
	job := &queryJob{ctx: ctx, text: text, out: make(chan queryResult, 1)}
	select {
	case b.in <- job:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-job.out:
		return r.vec, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *queryBatcher) work() {
	for first := range b.in {
		jobs := []*queryJob{first}
	drain:
		for len(jobs) < b.maxBatch {
			select {
			case j := <-b.in:
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		live := jobs[:0]
		texts := make([]string, 0, len(jobs))
		for _, j := range jobs {
			if j.ctx.Err() != nil {
				continue // its search has given up; do not spend the encoder on it
			}
			live = append(live, j)
			texts = append(texts, j.text)
		}
		if len(live) == 0 {
			continue
		}
		// One caller cancelling must not fail the others in the batch: the
		// batch runs until the latest deadline among them.
		ctx, cancel := batchContext(live)
		vecs, err := b.s.embed(ctx, texts)
		cancel()
		for i, j := range live {
			if err != nil {
				j.out <- queryResult{err: err}
			} else {
				j.out <- queryResult{vec: vecs[i]}
			}
		}
	}
}

func batchContext(jobs []*queryJob) (context.Context, context.CancelFunc) {
	latest := jobs[0]
	for _, j := range jobs[1:] {
		dl, ok := j.ctx.Deadline()
		if !ok {
			latest = j
			break
		}
		if ldl, lok := latest.ctx.Deadline(); lok && dl.After(ldl) {
			latest = j
		}
	}
	base := context.WithoutCancel(latest.ctx)
	if dl, ok := latest.ctx.Deadline(); ok {
		return context.WithDeadline(base, dl)
	}
	return context.WithCancel(base)
}
