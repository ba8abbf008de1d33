package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/knnbridge/knnbridge/ingest"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/migrate"
)

// MigrateOptions tune a Migrator. Zero values take the defaults.
type MigrateOptions struct {
	// StateIndex holds the states (default DefaultStateIndex).
	StateIndex string
	// Embedder re-embeds texts (re-embedding migrations only).
	Embedder migrate.Embedder
	// PageSize is documents per search page and bulk request (default 500).
	PageSize int
	// Senders is concurrent bulk requests (default 2).
	Senders int
	// KeepAlive of the point-in-time between pages (default 10m).
	KeepAlive time.Duration
	// CheckpointEvery bounds how often progress is saved (default 1s).
	CheckpointEvery time.Duration
	// CatchUpRounds bounds catch-up rounds per run (default 10); a run stops
	// early once a round copies at most CatchUpDone documents (default 1000).
	CatchUpRounds int
	CatchUpDone   int64
	Retry         ingest.RetryPolicy
	// Log receives progress lines (nil: silent).
	Log func(format string, args ...any)
	// OnSave is called after each state save (status displays, tests).
	OnSave func(*migrate.State)
}

// Migrator executes migrations planned by the migrate package.
type Migrator struct {
	c     *Client
	opt   MigrateOptions
	store *stateStore
}

// NewMigrator returns a migrator on c.
func NewMigrator(c *Client, opt MigrateOptions) *Migrator {
	if opt.PageSize <= 0 {
		opt.PageSize = 500
	}
	if opt.Senders <= 0 {
		opt.Senders = 2
	}
	if opt.KeepAlive <= 0 {
		opt.KeepAlive = 10 * time.Minute
	}
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = time.Second
	}
	if opt.CatchUpRounds <= 0 {
		opt.CatchUpRounds = 10
	}
	if opt.CatchUpDone <= 0 {
		opt.CatchUpDone = 1000
	}
	if opt.Retry.MaxAttempts <= 0 {
		opt.Retry.MaxAttempts = 20
	}
	if opt.Retry.Base <= 0 {
		opt.Retry.Base = 100 * time.Millisecond
	}
	if opt.Retry.Max <= 0 {
		opt.Retry.Max = 10 * time.Second
	}
	return &Migrator{c: c, opt: opt, store: newStateStore(c, opt.StateIndex)}
}

func (m *Migrator) logf(format string, args ...any) {
	if m.opt.Log != nil {
		m.opt.Log(format, args...)
	}
}

// MigrationRequest is what `migrate plan` and `migrate run` are given.
type MigrationRequest struct {
	Alias       string
	Target      *mapping.IndexSpec
	TargetName  string
	VectorField string
	TextField   string
	// Reembed recomputes vectors with the Migrator's Embedder.
	Reembed bool
}

// ResolveAlias returns the one index alias points at. A concrete index
// name is refused: applications must already read through an alias, or
// the switch cannot be atomic.
func (c *Client) ResolveAlias(ctx context.Context, alias string) (string, error) {
	var out map[string]json.RawMessage
	err := c.DoJSON(ctx, http.MethodGet, "/_alias/"+url.PathEscape(alias), nil, &out)
	if IsNotFound(err) {
		if _, ierr := c.Do(ctx, http.MethodHead, "/"+url.PathEscape(alias), nil); ierr == nil {
			return "", refusef(ErrMigrationInvalid, "%s is an index, not an alias: point an alias at it (POST /_aliases add) and make applications use the alias, then migrate the alias", alias)
		}
		return "", fmt.Errorf("alias %s does not exist: %w", alias, err)
	}
	if err != nil {
		return "", fmt.Errorf("resolving alias %s: %w", alias, err)
	}
	if len(out) != 1 {
		names := make([]string, 0, len(out))
		for k := range out {
			names = append(names, k)
		}
		sort.Strings(names)
		return "", refusef(ErrMigrationInvalid, "alias %s points at %d indexes %v; a migration needs exactly one", alias, len(out), names)
	}
	for k := range out {
		return k, nil
	}
	return "", nil
}

// Plan reads the source behind the alias and plans the migration.
func (m *Migrator) Plan(ctx context.Context, req MigrationRequest) (*migrate.Plan, error) {
	src, err := m.c.ResolveAlias(ctx, req.Alias)
	if err != nil {
		return nil, err
	}
	v, err := m.c.ClusterVersion(ctx)
	if err != nil {
		return nil, err
	}
	live, err := m.c.ReadIndex(ctx, src, v)
	if err != nil {
		return nil, err
	}
	if live == nil {
		return nil, fmt.Errorf("source index %s vanished", src)
	}
	n, err := m.count(ctx, src)
	if err != nil {
		return nil, err
	}
	seqs, err := m.shardSeqs(ctx, src)
	if err != nil {
		return nil, err
	}
	in := migrate.PlanInput{Alias: req.Alias, Source: live, Target: req.Target, TargetName: req.TargetName, Version: v,
		VectorField: req.VectorField, TextField: req.TextField, Docs: n, Shards: len(seqs)}
	if req.Reembed {
		if m.opt.Embedder == nil {
			return nil, refusef(ErrMigrationInvalid, "re-embedding needs an embedder (KNNBRIDGE_EMBED_*)")
		}
		in.Model, in.ModelDimension = m.opt.Embedder.ModelName(), m.opt.Embedder.Dimension()
	}
	p, err := migrate.BuildPlan(in)
	if err != nil {
		// BuildPlan only refuses the request itself (fields, dimensions).
		return nil, &migrationError{kind: ErrMigrationInvalid, err: err}
	}
	return p, nil
}

// Start records a new migration of plan.Alias (refusing while another one
// of that alias is active) and creates the target index with the
// load-time settings.
func (m *Migrator) Start(ctx context.Context, p *migrate.Plan) (*migrate.State, error) {
	if err := m.store.ensure(ctx); err != nil {
		return nil, err
	}
	old, err := m.store.load(ctx, p.Alias)
	switch {
	case err == nil && old.Phase.Active():
		return nil, refusef(ErrMigrationActive, "a migration of %s (%s -> %s) is in phase %s: continue it with run --resume, or finish it (cutover/rollback + cleanup)",
			p.Alias, old.Plan.Source, old.Plan.Target, old.Phase)
	case err != nil && !errors.Is(err, ErrNoMigration):
		return nil, err
	}
	if _, err := m.c.Do(ctx, http.MethodHead, "/"+url.PathEscape(p.Target), nil); err == nil {
		return nil, refusef(ErrMigrationConflict, "target index %s already exists; name another with --target-index or delete it", p.Target)
	}
	st := migrate.NewState(p, time.Now().UTC())
	hostname, _ := os.Hostname()
	st.Runner = fmt.Sprintf("%s/%d", hostname, os.Getpid())
	if err := m.store.replace(ctx, st); err != nil {
		return nil, err
	}
	if err := m.createTarget(ctx, p); err != nil {
		return st, err
	}
	return st, nil
}

func (m *Migrator) createTarget(ctx context.Context, p *migrate.Plan) error {
	body, err := p.CreateBody()
	if err != nil {
		return err
	}
	_, err = m.c.Do(ctx, http.MethodPut, "/"+url.PathEscape(p.Target), body)
	var e *Error
	if errors.As(err, &e) && e.Type == "resource_already_exists_exception" {
		return nil // created by the run that crashed before recording it
	}
	if err != nil {
		return fmt.Errorf("creating target %s: %w", p.Target, err)
	}
	return nil
}

// Status reads a migration's state.
func (m *Migrator) Status(ctx context.Context, alias string) (*migrate.State, error) {
	return m.store.load(ctx, alias)
}

func (m *Migrator) save(ctx context.Context, st *migrate.State) error {
	st.UpdatedAt = time.Now().UTC()
	if err := m.store.save(ctx, st); err != nil {
		return err
	}
	if m.opt.OnSave != nil {
		m.opt.OnSave(st)
	}
	return nil
}

// Run drives a migration to phase ready: backfill from a point-in-time,
// then catch-up rounds until little is left, then a delete
// reconciliation. It continues from the saved state, so after a crash
// calling it again (run --resume) loses and duplicates nothing.
func (m *Migrator) Run(ctx context.Context, alias string) (*migrate.State, error) {
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	xf, err := migrate.NewTransformer(st.Plan, m.opt.Embedder)
	if err != nil {
		return st, err
	}
	now := time.Now().UTC()
	st.Runs++
	st.RunStartedAt, st.RunStartBackfilled = now, st.Backfilled
	hostname, _ := os.Hostname()
	st.Runner = fmt.Sprintf("%s/%d", hostname, os.Getpid())
	st.Note(fmt.Sprintf("run %d by %s", st.Runs, st.Runner), now)
	if err := m.save(ctx, st); err != nil {
		return st, err
	}
	p := st.Plan
	switch st.Phase {
	case migrate.PhasePlanned:
		if err := m.createTarget(ctx, p); err != nil {
			return st, err
		}
		if st.Total, err = m.count(ctx, p.Source); err != nil {
			return st, err
		}
		if err := st.Advance(migrate.PhaseBackfill, "", time.Now().UTC()); err != nil {
			return st, err
		}
		fallthrough
	case migrate.PhaseBackfill:
		if err := m.backfill(ctx, st, xf); err != nil {
			return st, err
		}
		if err := st.Advance(migrate.PhaseCatchUp, fmt.Sprintf("snapshot copied: %d documents", st.Backfilled), time.Now().UTC()); err != nil {
			return st, err
		}
	case migrate.PhaseCatchUp:
	case migrate.PhaseReady, migrate.PhaseRolledBack:
		if err := st.Advance(migrate.PhaseCatchUp, "", time.Now().UTC()); err != nil {
			return st, err
		}
	default:
		return st, refusef(ErrMigrationConflict, "migration %s is in phase %s: nothing to run", alias, st.Phase)
	}
	if err := m.save(ctx, st); err != nil {
		return st, err
	}
	for r := 0; r < m.opt.CatchUpRounds; r++ {
		n, err := m.catchUpRound(ctx, st, xf)
		if err != nil {
			return st, err
		}
		if n <= m.opt.CatchUpDone {
			break
		}
	}
	del, err := m.reconcile(ctx, p.Source, p.Target, false)
	if err != nil {
		return st, err
	}
	st.Deleted += del
	if err := st.Advance(migrate.PhaseReady, fmt.Sprintf("caught up after %d rounds; %d deletes applied", st.CatchUpRounds, del), time.Now().UTC()); err != nil {
		return st, err
	}
	return st, m.save(ctx, st)
}

// page is one unit of the copy pipeline: documents of one shard, in
// _seq_no order.
type page struct {
	seq   int64
	shard int
	docs  []migrate.Doc
	last  int64 // _seq_no of the last document
	end   bool  // the shard's scan (or catch-up range) is complete
	upTo  int64 // catch-up: the range's upper bound
	body  []byte
	offs  []int
	wrote int64
	newer int64
}

// pump copies pages from next into index dst: one reader (search_after is
// sequential), transform+encode, Senders concurrent bulk requests, and a
// tracker that commits pages strictly in order, so a checkpoint never
// covers a page whose predecessors are not acknowledged.
func (m *Migrator) pump(ctx context.Context, dst string, xf *migrate.Transformer, next func(context.Context) (*page, error), commit func(*page) error) error {
	g, gctx := errgroup.WithContext(ctx)
	read := make(chan *page, 2)
	encoded := make(chan *page, m.opt.Senders)
	sent := make(chan *page, m.opt.Senders)
	g.Go(func() error {
		defer close(read)
		for seq := int64(0); ; seq++ {
			p, err := next(gctx)
			if err != nil || p == nil {
				return err
			}
			p.seq = seq
			select {
			case read <- p:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	g.Go(func() error {
		defer close(encoded)
		for p := range read {
			if err := xf.Apply(gctx, p.docs); err != nil {
				return err
			}
			p.offs = make([]int, 0, len(p.docs)+1)
			for i := range p.docs {
				p.offs = append(p.offs, len(p.body))
				var err error
				if p.body, err = migrate.AppendIndex(p.body, &p.docs[i]); err != nil {
					return err
				}
				p.docs[i].Source = nil // encoded; let the GC have it
			}
			p.offs = append(p.offs, len(p.body))
			select {
			case encoded <- p:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var senders sync.WaitGroup
	for range m.opt.Senders {
		senders.Add(1)
		g.Go(func() error {
			defer senders.Done()
			for p := range encoded {
				if len(p.docs) > 0 {
					ids := make([]string, len(p.docs))
					for i := range p.docs {
						ids[i] = p.docs[i].ID
					}
					var err error
					if p.wrote, p.newer, err = m.bulk(gctx, dst, p.body, p.offs, ids, false); err != nil {
						return err
					}
				}
				p.body = nil
				select {
				case sent <- p:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { senders.Wait(); close(sent) }()
	g.Go(func() error {
		pending := map[int64]*page{}
		var want int64
		for p := range sent {
			pending[p.seq] = p
			for {
				q, ok := pending[want]
				if !ok {
					break
				}
				delete(pending, want)
				want++
				if err := commit(q); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return g.Wait()
}

// bulk writes encoded versioned actions to index, retrying overloaded or
// transient failures item by item. A version conflict means the target
// already holds that version or a newer one; for deletes, not_found means
// already gone. Anything else refused is an error naming the document.
func (m *Migrator) bulk(ctx context.Context, index string, body []byte, offs []int, ids []string, deletes bool) (wrote, newer int64, err error) {
	pending := make([]int, len(ids))
	for i := range pending {
		pending[i] = i
	}
	cur := body
	last := ""
	path := "/" + url.PathEscape(index) + "/_bulk?filter_path=errors,items.*.status,items.*.error"
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > m.opt.Retry.MaxAttempts {
			return wrote, newer, fmt.Errorf("bulk into %s: %d documents (first %q) still failing after %d attempts, last: %s: %w",
				index, len(pending), ids[pending[0]], m.opt.Retry.MaxAttempts, last, ingest.ErrGaveUp)
		}
		if attempt > 1 {
			t := time.NewTimer(m.opt.Retry.Backoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return wrote, newer, ctx.Err()
			case <-t.C:
			}
		}
		resp, err := m.c.Do(ctx, http.MethodPost, path, cur)
		if err != nil {
			var e *Error
			if ctx.Err() != nil {
				return wrote, newer, ctx.Err()
			}
			if !errors.As(err, &e) || e.Status == http.StatusTooManyRequests || e.Status >= 500 || e.Status == http.StatusRequestTimeout {
				last = err.Error()
				continue
			}
			return wrote, newer, fmt.Errorf("bulk into %s refused: %w", index, err)
		}
		items, err := ingest.ParseBulkResponse(resp, len(pending))
		if err != nil {
			return wrote, newer, fmt.Errorf("bulk into %s: %w", index, err)
		}
		var retry []int
		for k, it := range items {
			i := pending[k]
			switch migrate.Classify(it) {
			case migrate.Written:
				wrote++
			case migrate.Newer:
				newer++
			case migrate.Retry:
				retry = append(retry, i)
				last = fmt.Sprintf("document %q: %d %s: %s", ids[i], it.Status, it.Type, it.Reason)
			default:
				if deletes && it.Status == http.StatusNotFound {
					wrote++
					continue
				}
				return wrote, newer, fmt.Errorf("document %q refused by %s: %d %s: %s: %w", ids[i], index, it.Status, it.Type, it.Reason, migrate.ErrRejected)
			}
		}
		if len(retry) > 0 {
			var b []byte
			for _, i := range retry {
				b = append(b, body[offs[i]:offs[i+1]]...)
			}
			cur = b
		}
		pending = retry
	}
	return wrote, newer, nil
}

// scanHit is one hit of a _seq_no-sorted scan.
type scanHit struct {
	ID      string          `json:"_id"`
	Routing string          `json:"_routing"`
	SeqNo   int64           `json:"_seq_no"`
	Term    int64           `json:"_primary_term"`
	Version int64           `json:"_version"`
	Source  json.RawMessage `json:"_source"`
}

type scanResponse struct {
	PIT    string `json:"pit_id"`
	Shards struct {
		Total    int             `json:"total"`
		Failed   int             `json:"failed"`
		Failures json.RawMessage `json:"failures"`
	} `json:"_shards"`
	Hits struct {
		Hits []scanHit `json:"hits"`
	} `json:"hits"`
}

// scan runs one scan page. A failed shard is an error: hits would be
// missing, and a migration must not skip documents silently.
func (m *Migrator) scan(ctx context.Context, path string, sp migrate.ScanPage) (*scanResponse, error) {
	body, err := sp.Body()
	if err != nil {
		return nil, err
	}
	var out scanResponse
	if err := m.c.DoJSON(ctx, http.MethodPost, path, body, &out); err != nil {
		return nil, err
	}
	if out.Shards.Failed > 0 {
		return nil, fmt.Errorf("scan %s: %d of %d shards failed: %.300s", path, out.Shards.Failed, out.Shards.Total, out.Shards.Failures)
	}
	return &out, nil
}

func hitsToDocs(hits []scanHit) ([]migrate.Doc, error) {
	docs := make([]migrate.Doc, len(hits))
	for i, h := range hits {
		v, err := migrate.ExternalVersion(h.Term, h.SeqNo)
		if err != nil {
			return nil, fmt.Errorf("document %q: %w", h.ID, err)
		}
		if len(h.Source) == 0 {
			return nil, fmt.Errorf("document %q has no _source (disabled in the mapping?): it cannot be copied", h.ID)
		}
		docs[i] = migrate.Doc{ID: h.ID, Routing: h.Routing, Version: v, SeqNo: h.SeqNo, Source: h.Source}
	}
	return docs, nil
}

func isPITGone(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	s := e.Type + " " + e.Reason + " " + e.Body
	return strings.Contains(s, "search_context_missing") || strings.Contains(s, "No search context found") ||
		(e.Status == http.StatusNotFound && strings.Contains(s, "pit"))
}

// openPIT reads the shards' global checkpoints, refreshes, and opens a
// point-in-time: every operation at or below a shard's checkpoint is then
// in the snapshot (all in-sync copies had processed it before the refresh).
func (m *Migrator) openPIT(ctx context.Context, st *migrate.State) error {
	src := st.Plan.Source
	seqs, err := m.shardSeqs(ctx, src)
	if err != nil {
		return err
	}
	if len(st.Shards) == 0 {
		st.InitShards(len(seqs))
	}
	if len(seqs) != len(st.Shards) {
		return fmt.Errorf("source %s has %d shards, the migration recorded %d", src, len(seqs), len(st.Shards))
	}
	if err := m.refresh(ctx, src); err != nil {
		return err
	}
	var out struct {
		PIT string `json:"pit_id"`
	}
	ka := strconv.Itoa(int(m.opt.KeepAlive.Seconds())) + "s"
	if err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(src)+"/_search/point_in_time?keep_alive="+ka, nil, &out); err != nil {
		return fmt.Errorf("opening a point-in-time on %s: %w", src, err)
	}
	st.PIT, st.PITOpened = out.PIT, time.Now().UTC()
	for i := range st.Shards {
		if !st.Shards[i].Done {
			st.Shards[i].HWM = seqs[i].GCP
		}
	}
	st.Note(fmt.Sprintf("point-in-time opened; shard checkpoints %v", gcps(seqs)), time.Now().UTC())
	return m.save(ctx, st)
}

func (m *Migrator) closePIT(ctx context.Context, pit string) {
	if pit == "" {
		return
	}
	_, _ = m.c.Do(ctx, http.MethodDelete, "/_search/point_in_time", map[string]any{"pit_id": []string{pit}})
}

// backfill copies the point-in-time snapshot shard by shard in _seq_no
// order. The cursor of each shard is the last _seq_no acknowledged; after
// a crash the same PIT (if still alive) or a new one is read from there:
// within a shard, anything updated since has a larger _seq_no than the
// cursor, so it is read again further on, and every copy is versioned.
func (m *Migrator) backfill(ctx context.Context, st *migrate.State, xf *migrate.Transformer) error {
	if st.PIT == "" || len(st.Shards) == 0 {
		if err := m.openPIT(ctx, st); err != nil {
			return err
		}
	}
	ka := strconv.Itoa(int(m.opt.KeepAlive.Seconds())) + "s"
	n := len(st.Shards)
	// The reader's own cursors run ahead of the committed ones.
	after := make([]*int64, n)
	for i, c := range st.Shards {
		after[i] = c.After
	}
	shard := 0
	reopened := false
	next := func(ctx context.Context) (*page, error) {
		for shard < n && st.Shards[shard].Done {
			shard++
		}
		if shard >= n {
			return nil, nil
		}
		resp, err := m.scan(ctx, "/_search", migrate.ScanPage{PIT: st.PIT, KeepAlive: ka, Shard: shard, Shards: n, After: after[shard], Size: m.opt.PageSize})
		if err != nil && isPITGone(err) && !reopened {
			return nil, errPITGone
		}
		if err != nil {
			return nil, fmt.Errorf("backfill: reading shard %d of %s: %w", shard, st.Plan.Source, err)
		}
		p := &page{shard: shard}
		if len(resp.Hits.Hits) == 0 {
			p.end = true
			shard++
			for shard < n && st.Shards[shard].Done {
				shard++
			}
			return p, nil
		}
		if p.docs, err = hitsToDocs(resp.Hits.Hits); err != nil {
			return nil, err
		}
		p.last = resp.Hits.Hits[len(resp.Hits.Hits)-1].SeqNo
		after[shard] = &p.last
		return p, nil
	}
	lastSave := time.Now()
	started := time.Now()
	commit := func(p *page) error {
		c := &st.Shards[p.shard]
		if p.end {
			c.Done = true
			c.CaughtUp = c.HWM
		} else {
			last := p.last
			c.After = &last
			st.Backfilled += int64(len(p.docs))
		}
		st.Copied += p.wrote
		st.Newer += p.newer
		if p.end || time.Since(lastSave) >= m.opt.CheckpointEvery {
			lastSave = time.Now()
			st.BackfillSeconds += time.Since(started).Seconds()
			started = time.Now()
			return m.save(ctx, st)
		}
		return nil
	}
	for {
		err := m.pump(ctx, st.Plan.Target, xf, next, commit)
		if errors.Is(err, errPITGone) {
			// Expired between runs (keep-alive passed): a new snapshot,
			// continued from the same cursors, is just as correct.
			reopened = true
			m.logf("point-in-time expired; opening a new one and continuing from the saved cursors")
			for i, c := range st.Shards {
				after[i] = c.After
			}
			shard = 0
			if err := m.openPIT(ctx, st); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			st.BackfillSeconds += time.Since(started).Seconds()
			if serr := m.save(context.WithoutCancel(ctx), st); serr != nil {
				m.logf("saving progress after error: %v", serr)
			}
			return err
		}
		break
	}
	st.BackfillSeconds += time.Since(started).Seconds()
	m.closePIT(ctx, st.PIT)
	st.PIT = ""
	return m.save(ctx, st)
}

var errPITGone = errors.New("point-in-time expired")

// catchUpRound copies every source document written since the shards'
// CaughtUp checkpoints, up to their current global checkpoints.
func (m *Migrator) catchUpRound(ctx context.Context, st *migrate.State, xf *migrate.Transformer) (int64, error) {
	cursors := make([]int64, len(st.Shards))
	for i, c := range st.Shards {
		cursors[i] = c.CaughtUp
	}
	before := st.Copied + st.Newer
	lastSave := time.Now()
	err := m.catchUp(ctx, st.Plan.Source, st.Plan.Target, cursors, xf, func(p *page) error {
		st.Copied += p.wrote
		st.Newer += p.newer
		if p.end {
			st.Shards[p.shard].CaughtUp = p.upTo
		}
		if time.Since(lastSave) >= m.opt.CheckpointEvery {
			lastSave = time.Now()
			return m.save(ctx, st)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := st.Copied + st.Newer - before
	st.CatchUpRounds++
	st.LastRoundCopied = n
	m.logf("catch-up round %d: %d documents", st.CatchUpRounds, n)
	return n, m.save(ctx, st)
}

// catchUp copies from -> to every live document with
// cursors[s] < _seq_no <= checkpoint(s), shard by shard. The checkpoint is
// read before the refresh, so every operation up to it is searchable.
func (m *Migrator) catchUp(ctx context.Context, from, to string, cursors []int64, xf *migrate.Transformer, commit func(*page) error) error {
	seqs, err := m.shardSeqs(ctx, from)
	if err != nil {
		return err
	}
	if len(seqs) != len(cursors) {
		return fmt.Errorf("catch-up: %s has %d shards, %d cursors recorded", from, len(seqs), len(cursors))
	}
	if err := m.refresh(ctx, from); err != nil {
		return err
	}
	shard := 0
	var after *int64
	next := func(ctx context.Context) (*page, error) {
		for shard < len(seqs) && seqs[shard].GCP <= cursors[shard] {
			shard++
		}
		if shard >= len(seqs) {
			return nil, nil
		}
		above, upTo := cursors[shard], seqs[shard].GCP
		path := "/" + url.PathEscape(from) + "/_search?preference=_shards:" + strconv.Itoa(shard)
		resp, err := m.scan(ctx, path, migrate.ScanPage{Above: &above, UpTo: &upTo, After: after, Size: m.opt.PageSize})
		if err != nil {
			return nil, fmt.Errorf("catch-up: reading shard %d of %s: %w", shard, from, err)
		}
		p := &page{shard: shard, upTo: upTo}
		if len(resp.Hits.Hits) == 0 {
			p.end = true
			shard++
			after = nil
			return p, nil
		}
		if p.docs, err = hitsToDocs(resp.Hits.Hits); err != nil {
			return nil, err
		}
		p.last = resp.Hits.Hits[len(resp.Hits.Hits)-1].SeqNo
		after = &p.last
		return p, nil
	}
	return m.pump(ctx, to, xf, next, commit)
}

type shardSeq struct{ GCP, Max int64 }

func gcps(s []shardSeq) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = x.GCP
	}
	return out
}

// shardSeqs reads each primary shard's global checkpoint and max_seq_no.
func (m *Migrator) shardSeqs(ctx context.Context, index string) ([]shardSeq, error) {
	var out struct {
		Indices map[string]struct {
			Shards map[string][]struct {
				Routing struct {
					Primary bool `json:"primary"`
				} `json:"routing"`
				SeqNo struct {
					Max int64 `json:"max_seq_no"`
					GCP int64 `json:"global_checkpoint"`
				} `json:"seq_no"`
			} `json:"shards"`
		} `json:"indices"`
	}
	path := "/" + url.PathEscape(index) + "/_stats/docs?level=shards&filter_path=indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no"
	if err := m.c.DoJSON(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, fmt.Errorf("reading shard checkpoints of %s: %w", index, err)
	}
	idx, ok := out.Indices[index]
	if !ok || len(idx.Shards) == 0 {
		return nil, fmt.Errorf("reading shard checkpoints of %s: no shard statistics (index missing or shards unassigned)", index)
	}
	seqs := make([]shardSeq, len(idx.Shards))
	for k, copies := range idx.Shards {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || n >= len(seqs) {
			return nil, fmt.Errorf("shard checkpoints of %s: unexpected shard %q", index, k)
		}
		found := false
		for _, c := range copies {
			if c.Routing.Primary {
				seqs[n] = shardSeq{GCP: c.SeqNo.GCP, Max: c.SeqNo.Max}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("shard %d of %s has no started primary", n, index)
		}
	}
	return seqs, nil
}

func (m *Migrator) refresh(ctx context.Context, index string) error {
	if _, err := m.c.Do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_refresh", nil); err != nil {
		return fmt.Errorf("refreshing %s: %w", index, err)
	}
	return nil
}

func (m *Migrator) count(ctx context.Context, index string) (int64, error) {
	var out struct {
		Count int64 `json:"count"`
	}
	if err := m.c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_count", nil, &out); err != nil {
		return 0, fmt.Errorf("counting %s: %w", index, err)
	}
	return out.Count, nil
}
