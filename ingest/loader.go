package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Embedder computes vectors for documents that come with text only. Its
// shape matches the embedder of native/embed (local encoder or HTTP service),
// which satisfies it without an adapter.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dimension() int
}

// Policy is what to do with a record that cannot be indexed.
type Policy int

const (
	// Reject skips the record, reports it and goes on (default).
	Reject Policy = iota
	// Abort stops the load at the first such record.
	Abort
)

// Config of one load. Reader and Sink are required.
type Config struct {
	Reader   Reader
	Sink     Sink
	Embedder Embedder // nil: text-only records are rejected
	Checks   Checks
	Encoder  Encoder
	OnBad    Policy

	MaxBatchBytes int // default 5 MiB
	MaxBatchDocs  int // default 1,000
	Senders       int // concurrent bulk requests, default 2
	EmbedBatch    int // texts per Embed call, default 32
	Retry         RetryPolicy

	// Start resumes from a checkpoint (its Next, counters and settings are
	// carried on); nil starts at the beginning.
	Start *Checkpoint
	// Save persists progress; called from one goroutine at most every
	// CheckpointEvery (default 200ms) and once at the end.
	Save            func(Checkpoint) error
	CheckpointEvery time.Duration

	// OnReject is called once per rejected record, in input order, when the
	// batch holding it is committed.
	OnReject func(Rejection)
	// OnRetry is called before items are sent again (n items, last reason).
	OnRetry func(n int, why string)
	// KeepRejections bounds Report.Rejections (default 1000); the counts
	// are always exact.
	KeepRejections int
}

// Stats are live counters, safe to read while the load runs.
type Stats struct {
	Read      int64 // records taken from the input (including malformed ones)
	Accepted  int64 // acknowledged by the cluster
	Rejected  int64 // not indexed, with a reported reason
	Retried   int64 // item sends repeated after 429/5xx/transport failures
	Batches   int64
	BytesSent int64
	Offset    int64 // input byte offset reached by the reader (-1 if unknown)
}

// Report is the outcome of Run. Committed counters cover exactly the input
// before Checkpoint.Next.
type Report struct {
	Checkpoint Checkpoint
	Stats      Stats
	Rejections []Rejection
	Elapsed    time.Duration
}

// Loader runs one load; Stats can be polled for progress.
type Loader struct {
	cfg                               Config
	read, accepted, rejected, retried atomic.Int64
	batches, bytesSent, offset        atomic.Int64
	mu                                sync.Mutex
	ck                                Checkpoint
	kept                              []Rejection

	// Memory is bounded by the configuration, not by the input: at most
	// maxBodies bulk bodies ever exist (a free list, handed back by the
	// senders as soon as a batch is answered), and the encoder may run at
	// most window batches ahead of the last committed one, which bounds the
	// per-batch bookkeeping the tracker holds while an early batch is still
	// being retried.
	bodies     chan buffers
	madeBodies int // bodies allocated so far (encoder goroutine only)
	maxBodies  int
	window     chan struct{}
}

// NewLoader validates cfg and fills defaults.
func NewLoader(cfg Config) (*Loader, error) {
	if cfg.Reader == nil || cfg.Sink == nil {
		return nil, errors.New("ingest: Reader and Sink are required")
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 5 << 20
	}
	if cfg.MaxBatchDocs <= 0 {
		cfg.MaxBatchDocs = 1000
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 2
	}
	if cfg.EmbedBatch <= 0 {
		cfg.EmbedBatch = 32
	}
	if cfg.Save == nil {
		cfg.Save = func(Checkpoint) error { return nil }
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 200 * time.Millisecond
	}
	if cfg.KeepRejections <= 0 {
		cfg.KeepRejections = 1000
	}
	if cfg.Checks.DataType == "" {
		cfg.Checks.DataType = Float
	}
	cfg.Retry = cfg.Retry.withDefaults()
	// One body per sender, one being filled by the encoder and one ready
	// in the queue, so that a sender finishing a request finds the next
	// body waiting.
	maxBodies := cfg.Senders + 2
	l := &Loader{cfg: cfg, maxBodies: maxBodies, bodies: make(chan buffers, maxBodies),
		window: make(chan struct{}, 4*cfg.Senders+4)}
	if cfg.Start != nil {
		l.ck = *cfg.Start
		l.read.Store(l.ck.Read)
		l.accepted.Store(l.ck.Accepted)
		l.rejected.Store(l.ck.Rejected)
	}
	l.ck.Done = false
	return l, nil
}

// Stats returns the live counters.
func (l *Loader) Stats() Stats {
	return Stats{Read: l.read.Load(), Accepted: l.accepted.Load(), Rejected: l.rejected.Load(),
		Retried: l.retried.Load(), Batches: l.batches.Load(), BytesSent: l.bytesSent.Load(), Offset: l.offset.Load()}
}

type item struct {
	rec  Record
	rej  *Rejection
	next Position
}

type chunk struct{ items []item }

type batchResult struct {
	b   *Batch
	res sendResult
	pre []Rejection
}

// Run loads everything and returns when the input is exhausted and every
// batch is acknowledged, or at the first fatal error or cancellation. In
// every case the last checkpoint saved covers only acknowledged input.
func Run(ctx context.Context, cfg Config) (Report, error) {
	l, err := NewLoader(cfg)
	if err != nil {
		return Report{}, err
	}
	return l.Run(ctx)
}

func (l *Loader) Run(ctx context.Context) (Report, error) {
	start := time.Now()
	cfg := &l.cfg
	if l.ck.Next.Record > 0 || l.ck.Next.Offset > 0 {
		rs, ok := cfg.Reader.(Resumer)
		if !ok {
			return Report{}, errors.New("ingest: this reader cannot resume")
		}
		if err := rs.Resume(l.ck.Next); err != nil {
			return Report{}, fmt.Errorf("ingest: resume at %s: %w", l.ck.Next, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	chunks := make(chan chunk, 4)
	embedded := make(chan chunk, 4)
	batches := make(chan *Batch, 1)
	results := make(chan batchResult, cfg.Senders)
	pre := make(map[int64][]Rejection) // encoder -> tracker, guarded by mu

	g.Go(func() error { defer close(chunks); return l.readStage(gctx, chunks) })
	g.Go(func() error { defer close(embedded); return l.embedStage(gctx, chunks, embedded) })
	g.Go(func() error { defer close(batches); return l.encodeStage(gctx, embedded, batches, pre) })
	var senders sync.WaitGroup
	for range cfg.Senders {
		senders.Add(1)
		g.Go(func() error {
			defer senders.Done()
			for b := range batches {
				var res sendResult
				var err error
				if len(b.docs) > 0 {
					res, err = sendBatch(gctx, cfg.Sink, cfg.Retry, b, func(n int, why string) {
						l.retried.Add(int64(n))
						if cfg.OnRetry != nil {
							cfg.OnRetry(n, why)
						}
					})
					l.bytesSent.Add(int64(len(b.Body)))
				}
				// The tracker needs only the batch's counters: hand the
				// body and the per-document spans back now.
				l.bodies <- buffers{b.Body[:0], b.docs[:0]}
				b.Body, b.docs = nil, nil
				if err != nil {
					return err
				}
				l.accepted.Add(res.accepted)
				l.rejected.Add(int64(len(res.rejections)))
				l.batches.Add(1)
				select {
				case results <- batchResult{b: b, res: res}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { senders.Wait(); close(results) }()
	// Checkpoints are written by their own goroutine, latest first, so a
	// slow fsync never stalls the tracker and through it the senders.
	saves := make(chan Checkpoint, 1)
	saveErr := make(chan error, 1)
	go func() {
		var first error
		for ck := range saves {
			if err := cfg.Save(ck); err != nil && first == nil {
				first = err
			}
		}
		saveErr <- first
	}()
	g.Go(func() error { return l.track(results, pre, saves) })
	err := g.Wait()
	close(saves)
	if serr := <-saveErr; serr != nil && err == nil {
		err = fmt.Errorf("ingest: save checkpoint: %w", serr)
	}
	l.mu.Lock()
	if err == nil {
		l.ck.Done = true
	}
	ck := l.ck
	rep := Report{Checkpoint: ck, Rejections: l.kept, Elapsed: time.Since(start)}
	l.mu.Unlock()
	{
		if serr := cfg.Save(ck); serr != nil && err == nil {
			err = fmt.Errorf("ingest: save checkpoint: %w", serr)
		}
	}
	rep.Stats = l.Stats()
	if err == nil && ck.Read != ck.Accepted+ck.Rejected {
		err = fmt.Errorf("ingest: accounting mismatch: read %d != accepted %d + rejected %d", ck.Read, ck.Accepted, ck.Rejected)
	}
	return rep, err
}

func (l *Loader) readStage(ctx context.Context, out chan<- chunk) error {
	r := l.cfg.Reader
	c := chunk{}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		if err != nil && !IsRecordError(err) {
			if errors.Is(err, errIOEOF) {
				break
			}
			return fmt.Errorf("ingest: read: %w", err)
		}
		next := r.Tell()
		l.read.Add(1)
		l.offset.Store(next.Offset)
		if err != nil {
			var re *RecordError
			errors.As(err, &re)
			c.items = append(c.items, item{rej: &Rejection{Pos: re.Pos, Stage: "read", Reason: re.Err.Error()}, next: next})
		} else {
			c.items = append(c.items, item{rec: rec, next: next})
		}
		if len(c.items) >= l.cfg.EmbedBatch {
			select {
			case out <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
			c = chunk{}
		}
	}
	if len(c.items) > 0 {
		select {
		case out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// embedStage fills in vectors for text-only records. It runs in its own
// goroutine between reading and encoding, with buffered channels on both
// sides, so the embedder computes batch n+1 while batch n is being sent.
func (l *Loader) embedStage(ctx context.Context, in <-chan chunk, out chan<- chunk) error {
	var texts []string
	var idx []int
	for c := range in {
		texts, idx = texts[:0], idx[:0]
		for i := range c.items {
			it := &c.items[i]
			if it.rej == nil && it.rec.Vector == nil {
				if it.rec.HasText && l.cfg.Embedder != nil {
					texts = append(texts, it.rec.Text)
					idx = append(idx, i)
				} else {
					why := "no vector, and no embedder configured for text-only documents"
					if !it.rec.HasText {
						why = "neither a vector nor a text"
					}
					it.rej = &Rejection{Pos: it.rec.Pos, ID: it.rec.ID, Stage: "embed", Reason: why}
				}
			}
		}
		if len(texts) > 0 {
			vecs, err := l.cfg.Embedder.Embed(ctx, texts)
			if err != nil {
				return fmt.Errorf("ingest: embed %d texts from %s: %w", len(texts), c.items[idx[0]].rec.Pos, err)
			}
			if len(vecs) != len(texts) {
				return fmt.Errorf("ingest: embedder returned %d vectors for %d texts", len(vecs), len(texts))
			}
			for k, i := range idx {
				c.items[i].rec.Vector = vecs[k]
			}
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// buffers are what one batch needs: its body and its document spans.
type buffers struct {
	body []byte
	docs []doc
}

// newBatch returns a batch with free buffers, allocating them only while
// fewer than maxBodies exist; otherwise it waits for a sender to hand some
// back.
func (l *Loader) newBatch(ctx context.Context) (*Batch, error) {
	select {
	case f := <-l.bodies:
		return &Batch{Body: f.body, docs: f.docs}, nil
	default:
	}
	if l.madeBodies < l.maxBodies {
		l.madeBodies++
		// Start at 1 MiB and let append grow it to what batches really
		// need (free bodies keep their capacity): reserving the 5 MiB cap
		// up front would make the heap goal, and so peak RSS, several
		// times larger than the data in flight.
		return &Batch{Body: make([]byte, 0, min(l.cfg.MaxBatchBytes+64<<10, 1<<20)),
			docs: make([]doc, 0, min(l.cfg.MaxBatchDocs, 1<<16))}, nil
	}
	select {
	case f := <-l.bodies:
		return &Batch{Body: f.body, docs: f.docs}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Loader) encodeStage(ctx context.Context, in <-chan chunk, out chan<- *Batch, pre map[int64][]Rejection) error {
	cfg := &l.cfg
	var seq int64
	b, err := l.newBatch(ctx)
	if err != nil {
		return err
	}
	var rejs []Rejection
	flush := func() error {
		// Wait until the batch window has room: the tracker frees a slot
		// per committed batch.
		select {
		case l.window <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.Seq = seq
		seq++
		if len(rejs) > 0 {
			l.mu.Lock()
			pre[b.Seq] = rejs
			l.mu.Unlock()
			rejs = nil
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b, err = l.newBatch(ctx); err != nil {
			return err
		}
		return nil
	}
	for c := range in {
		for i := range c.items {
			it := &c.items[i]
			if it.rej == nil {
				if err := cfg.Checks.Check(it.rec.Vector); err != nil {
					it.rej = &Rejection{Pos: it.rec.Pos, ID: it.rec.ID, Stage: "check", Reason: err.Error()}
				} else if len(it.rec.ID) > MaxIDBytes {
					it.rej = &Rejection{Pos: it.rec.Pos, ID: it.rec.ID[:64] + "...", Stage: "check", Reason: fmt.Sprintf("id is %d bytes, OpenSearch allows %d", len(it.rec.ID), MaxIDBytes)}
				}
			}
			if it.rej != nil {
				if cfg.OnBad == Abort {
					return fmt.Errorf("ingest: aborting at %s (id %q): %s: %s", it.rej.Pos, it.rej.ID, it.rej.Stage, it.rej.Reason)
				}
				rejs = append(rejs, *it.rej)
				b.Rejected++
				b.Read++
				b.Next = it.next
				continue
			}
			id := DocID(&it.rec)
			startLen := len(b.Body)
			b.Body = cfg.Encoder.AppendDoc(b.Body, id, &it.rec)
			if len(b.Body) > cfg.MaxBatchBytes && len(b.docs) > 0 {
				// This document does not fit: send the batch without it and
				// start the next one with it.
				tail := append([]byte(nil), b.Body[startLen:]...)
				b.Body = b.Body[:startLen]
				if err := flush(); err != nil {
					return err
				}
				b.Body = append(b.Body, tail...)
				startLen = 0
			}
			b.docs = append(b.docs, doc{start: startLen, end: len(b.Body), id: id, pos: it.rec.Pos})
			b.Read++
			b.Next = it.next
			if len(b.docs) >= cfg.MaxBatchDocs || len(b.Body) >= cfg.MaxBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if b.Read > 0 {
		return flush()
	}
	return nil
}

// track commits batches in input order: the checkpoint only ever moves to
// the end of a batch whose predecessors are all acknowledged too, so
// concurrent senders finishing out of order never let it skip unacknowledged
// input.
func (l *Loader) track(results <-chan batchResult, pre map[int64][]Rejection, saves chan Checkpoint) error {
	cfg := &l.cfg
	done := make(map[int64]batchResult)
	var next int64
	lastSave := time.Now()
	for r := range results {
		done[r.b.Seq] = r
		for {
			br, ok := done[next]
			if !ok {
				break
			}
			delete(done, next)
			next++
			l.mu.Lock()
			rejs := append(pre[br.b.Seq], br.res.rejections...)
			delete(pre, br.b.Seq)
			l.ck.Read += br.b.Read
			l.ck.Accepted += br.res.accepted
			l.ck.Rejected += br.b.Rejected + int64(len(br.res.rejections))
			l.ck.Next = br.b.Next
			for _, rj := range rejs {
				if len(l.kept) < cfg.KeepRejections {
					l.kept = append(l.kept, rj)
				}
			}
			l.mu.Unlock()
			// pre-send rejections are counted here (index-stage ones were
			// counted by the sender as they came back).
			l.rejected.Add(br.b.Rejected)
			for _, rj := range rejs {
				if cfg.OnReject != nil {
					cfg.OnReject(rj)
				}
			}
			if cfg.OnBad == Abort && len(br.res.rejections) > 0 {
				rj := br.res.rejections[0]
				return fmt.Errorf("ingest: aborting: document %q at %s rejected by the cluster: %s", rj.ID, rj.Pos, rj.Reason)
			}
			<-l.window
		}
		if time.Since(lastSave) >= cfg.CheckpointEvery {
			l.mu.Lock()
			ck := l.ck
			l.mu.Unlock()
			select {
			case saves <- ck:
			default:
				// the saver is busy with an older one: replace the queued one
				select {
				case <-saves:
				default:
				}
				saves <- ck
			}
			lastSave = time.Now()
		}
	}
	return nil
}
