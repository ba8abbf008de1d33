package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
	"github.com/knnbridge/knnbridge/migrate"
)

// Migrations through the sidecar: the same bridge.Migrator as `knnbridge
// migrate`, driven over HTTP. A backfill takes minutes, so start and
// resume launch bridge.Migrator.Run in the background inside the sidecar
// and answer 202 with a status URL; everything else (plan, verify,
// cutover, rollback, cleanup, status) runs within the request. The state
// lives where the CLI keeps it (the cluster index knnbridge-migrations, one
// document per alias, saved conditionally), so the CLI and every sidecar
// replica see the same migrations.
//
// One sidecar runs at most one operation per migration at a time (the
// registry below); another process is kept out by bridge.Migrator.Claim's
// lease and the conditional saves.

// migrationLease: see bridge.MigrationLease (shared with the CLI).
const migrationLease = bridge.MigrationLease

// migrationRun is one background Run of this process.
type migrationRun struct {
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	// Guarded by migrationRegistry.mu.
	ended   time.Time
	outcome string // running, ready, cancelled, failed
	reason  string // why it was cancelled (cancel request, shutdown)
	err     *APIError
}

// migrationRegistry tracks what this sidecar is doing to each migration.
type migrationRegistry struct {
	mu     sync.Mutex
	busy   map[string]string        // alias -> operation in progress here (run, verify, cutover, ...)
	runs   map[string]*migrationRun // alias -> last background run
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context // parent of every run; cancelled at shutdown
	stop   context.CancelFunc
}

func newMigrationRegistry() *migrationRegistry {
	ctx, stop := context.WithCancel(context.Background())
	return &migrationRegistry{busy: map[string]string{}, runs: map[string]*migrationRun{}, ctx: ctx, stop: stop}
}

// reserve marks alias busy with op, or answers 409 when this sidecar is
// already doing something to it (503 once shutting down).
func (g *migrationRegistry) reserve(alias, op string) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, unavailable("shutting_down", "the sidecar is shutting down: no new migration work")
	}
	if cur := g.busy[alias]; cur != "" {
		if cur == "run" {
			return nil, &APIError{Status: http.StatusConflict, Code: "migration_running",
				Message: fmt.Sprintf("migration %s is being run by this sidecar (backfill/catch-up); wait for it (GET /v1/migrations/%s) or cancel it", alias, alias)}
		}
		return nil, &APIError{Status: http.StatusConflict, Code: "operation_in_progress",
			Message: fmt.Sprintf("migration %s: %s is in progress in this sidecar; retry when it has finished", alias, cur)}
	}
	g.busy[alias] = op
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			delete(g.busy, alias)
			g.mu.Unlock()
		})
	}, nil
}

func (g *migrationRegistry) operation(alias string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy[alias]
}

// runInfo is what a status answer says about this sidecar's last run.
type runInfo struct {
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Outcome   string     `json:"outcome"`
	Reason    string     `json:"reason,omitempty"`
	Error     *APIError  `json:"error,omitempty"`
}

func (g *migrationRegistry) lastRun(alias string) (*runInfo, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.runs[alias]
	if r == nil {
		return nil, false
	}
	ri := &runInfo{StartedAt: r.started, Outcome: r.outcome, Reason: r.reason, Error: r.err}
	if !r.ended.IsZero() {
		e := r.ended
		ri.EndedAt = &e
	}
	return ri, r.outcome == "running"
}

// StopMigrations cancels every background run and waits (until ctx) for
// each to stop at a checkpoint: the backfill commits pages strictly in
// order and saves its cursors with an uncancelled context when it stops,
// so `resume` later continues from there with nothing lost (the copies
// are versioned: a page sent again is a 409 no-op, never a duplicate).
// Serve calls it on SIGTERM; tests using Handler call it themselves.
func (s *Server) StopMigrations(ctx context.Context) error {
	g := s.mig
	g.mu.Lock()
	g.closed = true
	n := 0
	for _, r := range g.runs {
		if r.outcome == "running" {
			r.reason = "sidecar shutdown"
			n++
		}
	}
	g.mu.Unlock()
	g.stop()
	if n > 0 {
		s.log.Info("stopping running migrations at a checkpoint", zap.Int("running", n))
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("migrations still stopping: %w", ctx.Err())
	}
}

// launch runs m.Run(alias) in the background. release frees the alias
// when the run ends. Once StopMigrations has begun nothing new starts (the
// recorded migration stays resumable).
func (s *Server) launch(alias string, m *bridge.Migrator, release func()) error {
	g := s.mig
	ctx, cancel := context.WithCancel(g.ctx)
	r := &migrationRun{cancel: cancel, done: make(chan struct{}), started: time.Now().UTC(), outcome: "running"}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		cancel()
		return unavailable("shutting_down", "the sidecar is shutting down: the migration is recorded; resume it later")
	}
	g.runs[alias] = r
	g.wg.Add(1)
	g.mu.Unlock()
	s.m.migRunning.Inc()
	log := s.log.With(zap.String("migration", alias))
	log.Info("migration run started")
	go func() {
		defer g.wg.Done()
		defer close(r.done)
		defer release()
		defer cancel()
		defer s.m.migRunning.Dec()
		st, err := m.Run(ctx, alias)
		g.mu.Lock()
		r.ended = time.Now().UTC()
		switch {
		case err == nil:
			r.outcome = "ready"
		case ctx.Err() != nil:
			r.outcome = "cancelled"
		default:
			r.outcome = "failed"
			ae := toAPIError(migrationAPIError(err))
			if ae.Code == "internal" {
				// Not a request error: the cause is the useful part.
				ae = &APIError{Status: ae.Status, Code: "migration_failed", Message: err.Error()}
			}
			r.err = ae
		}
		outcome, reason := r.outcome, r.reason
		g.mu.Unlock()
		if outcome == "cancelled" {
			// Stopped on purpose at a checkpoint: release the claim so that
			// any process (a restarted sidecar, the CLI) resumes at once.
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if rerr := m.Release(rctx, alias, reason); rerr != nil {
				log.Warn("could not release the migration's runner claim; a resume elsewhere waits for the lease", zap.Error(rerr))
			}
			rcancel()
		}
		s.m.migRuns.WithLabelValues(outcome).Inc()
		fields := []zap.Field{zap.String("outcome", outcome), zap.Duration("took", time.Since(r.started))}
		if st != nil {
			fields = append(fields, zap.String("phase", string(st.Phase)), zap.Int64("backfilled", st.Backfilled), zap.Int64("total", st.Total), zap.Int64("copied", st.Copied))
		}
		switch outcome {
		case "failed":
			log.Error("migration run failed", append(fields, zap.Error(err))...)
		case "cancelled":
			log.Info("migration run stopped at a checkpoint; POST .../resume continues it", append(fields, zap.String("reason", reason))...)
		default:
			log.Info("migration run finished", fields...)
		}
	}()
	return nil
}

// migrator builds a Migrator for one operation (each has its own state
// store: the store's version bookkeeping is not shared between
// goroutines). base is the state before the operation, for the metrics.
func (s *Server) migrator(alias string, e migrate.Embedder, ro runOptions, base *migrate.State) *bridge.Migrator {
	log := s.log.With(zap.String("migration", alias))
	var prev [3]int64
	if base != nil {
		prev = [3]int64{base.Copied, base.Newer, base.Deleted}
	}
	return bridge.NewMigrator(s.os, bridge.MigrateOptions{
		StateIndex: s.cfg.MigrationStateIndex,
		Embedder:   e,
		PageSize:   ro.PageSize,
		Senders:    ro.Senders,
		Log:        func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
		// Called on the operation's goroutine after every state save.
		OnSave: func(st *migrate.State) {
			cur := [3]int64{st.Copied, st.Newer, st.Deleted}
			for i, label := range []string{"copied", "already_newer", "deleted"} {
				if d := cur[i] - prev[i]; d > 0 {
					s.m.migDocs.WithLabelValues(label).Add(float64(d))
				}
			}
			prev = cur
		},
	})
}

// migrationEmbedder is the sidecar's embedder for re-embedding
// migrations (through s.embed: the same concurrency bound and metrics as
// every other embedding call).
type migrationEmbedder struct {
	s     *Server
	model string
	dim   int
}

func (e migrationEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return e.s.embed(ctx, texts)
}
func (e migrationEmbedder) Dimension() int    { return e.dim }
func (e migrationEmbedder) ModelName() string { return e.model }

// embedderFor returns the embedder when the migration re-embeds, nil for
// copies, 503 while the model is missing or loading.
func (s *Server) embedderFor(reembed bool) (migrate.Embedder, error) {
	if !reembed {
		return nil, nil
	}
	e, err := s.getEmbedder()
	if err != nil {
		return nil, err
	}
	return migrationEmbedder{s: s, model: e.ModelName(), dim: e.Dimension()}, nil
}

// migrationAPIError turns the migrator's refusals into answers; cluster
// and network errors are left to toAPIError.
func migrationAPIError(err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	msg := err.Error()
	switch {
	case errors.Is(err, bridge.ErrNoMigration):
		return &APIError{Status: http.StatusNotFound, Code: "migration_not_found", Message: msg + " (POST /v1/migrations/{name} starts one)"}
	case errors.Is(err, bridge.ErrMigrationBusy):
		return &APIError{Status: http.StatusConflict, Code: "migration_busy", Message: msg}
	case errors.Is(err, bridge.ErrMigrationActive):
		return &APIError{Status: http.StatusConflict, Code: "migration_exists", Message: msg + " (through the sidecar: POST /v1/migrations/{name}/resume, or cutover/rollback + cleanup)"}
	case errors.Is(err, bridge.ErrMigrationConflict):
		return &APIError{Status: http.StatusConflict, Code: "migration_conflict", Message: msg}
	case errors.Is(err, bridge.ErrStateConflict):
		return &APIError{Status: http.StatusConflict, Code: "state_conflict", Message: msg}
	case errors.Is(err, bridge.ErrMigrationInvalid):
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_migration", Message: msg, Field: invalidMigrationField(msg)}
	}
	return err
}

// invalidMigrationField names the request member a planning refusal is
// about. The migrate package words its refusals for the CLI (flags); the
// mapping to JSON members is by those words.
func invalidMigrationField(msg string) string {
	switch {
	case strings.Contains(msg, "text field") || strings.Contains(msg, "--text-field"):
		return "text_field"
	case strings.Contains(msg, "knn_vector field") || strings.Contains(msg, "--vector-field") || strings.Contains(msg, "vector field"):
		return "vector_field"
	case strings.Contains(msg, "target index"):
		return "target_index"
	case strings.Contains(msg, "not an alias") || strings.Contains(msg, "alias "):
		return "name"
	case strings.Contains(msg, "re-embed"):
		return "reembed"
	}
	return "target"
}

// runOptions tune a background run.
type runOptions struct {
	// PageSize is documents per scan page and bulk request (default 500).
	PageSize int `json:"page_size"`
	// Senders is concurrent bulk requests (default 2).
	Senders int `json:"senders"`
}

func (o runOptions) validate() error {
	if o.PageSize < 0 || o.PageSize > 10000 {
		return badRequest("page_size", "page_size %d: want 1..10000 (0: default 500)", o.PageSize)
	}
	if o.Senders < 0 || o.Senders > 16 {
		return badRequest("senders", "senders %d: want 1..16 (0: default 2)", o.Senders)
	}
	return nil
}

// planRequest is the body of plan and start.
type planRequest struct {
	// Target is the target index spec (as for PUT /v1/indexes/{name}).
	Target json.RawMessage `json:"target"`
	// TargetIndex names the target (default: the source's -vN bumped).
	TargetIndex string `json:"target_index"`
	VectorField string `json:"vector_field"`
	TextField   string `json:"text_field"`
	Reembed     bool   `json:"reembed"`
}

type planOnlyRequest struct {
	planRequest
	IncludeRequests bool `json:"include_requests"`
}

type startRequest struct {
	planRequest
	runOptions
}

func migrationName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := validIndexName("name", name); err != nil {
		return "", err
	}
	return name, nil
}

// request validates a plan request and turns it into the migrator's.
func (p *planRequest) request(alias string) (bridge.MigrationRequest, error) {
	var req bridge.MigrationRequest
	if len(p.Target) == 0 || string(p.Target) == "null" {
		return req, badRequest("target", "target is required: the target index spec (fields, settings), as for PUT /v1/indexes/{name}")
	}
	if p.TargetIndex != "" {
		if err := validIndexName("target_index", p.TargetIndex); err != nil {
			return req, err
		}
		if p.TargetIndex == alias {
			return req, badRequest("target_index", "target_index %q is the alias's own name", p.TargetIndex)
		}
	}
	spec, err := mapping.Load(p.Target)
	if err != nil {
		f := "target"
		if m := unknownFieldRe.FindStringSubmatch(err.Error()); m != nil {
			f = "target." + m[1]
		}
		return req, badRequest(f, "reading the target spec: %v", err)
	}
	if spec.Name != "" && p.TargetIndex != "" && spec.Name != p.TargetIndex {
		return req, badRequest("target_index", "the target spec names index %q but target_index says %q", spec.Name, p.TargetIndex)
	}
	if p.TargetIndex != "" {
		spec.Name = p.TargetIndex
	} else if spec.Name != "" {
		if err := validIndexName("target.name", spec.Name); err != nil {
			return req, err
		}
	}
	if p.Reembed && p.TextField == "" {
		return req, badRequest("text_field", "reembed needs text_field: the text field the new vectors are computed from")
	}
	if !p.Reembed && p.TextField != "" {
		return req, badRequest("text_field", "text_field is only used with reembed: true")
	}
	return bridge.MigrationRequest{Alias: alias, Target: spec, TargetName: spec.Name, VectorField: p.VectorField, TextField: p.TextField, Reembed: p.Reembed}, nil
}

// planMigration (ctx-bound) plans with the live source: no side effects.
func (s *Server) planMigration(ctx context.Context, req bridge.MigrationRequest) (*migrate.Plan, error) {
	e, err := s.embedderFor(req.Reembed)
	if err != nil {
		return nil, err
	}
	m := s.migrator(req.Alias, e, runOptions{}, nil)
	t0 := time.Now()
	p, err := m.Plan(ctx, req)
	s.m.observeOS("migration_plan", t0, err)
	if err != nil {
		if bridge.IsNotFound(err) && !bridge.IsMigrationRefusal(err) {
			return nil, &APIError{Status: http.StatusNotFound, Code: "alias_not_found", Message: err.Error(), Field: "name"}
		}
		return nil, migrationAPIError(err)
	}
	return p, nil
}

// POST /v1/migrations/{name}/plan: the plan (target mapping, what
// changes, copy or re-embed, estimates), and with include_requests every
// request body the migration will send. Reads only.
func (s *Server) postMigrationPlan(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body planOnlyRequest
	if err := embeddedFields(decodeJSON(r, &body)); err != nil {
		return err
	}
	req, err := body.request(alias)
	if err != nil {
		return err
	}
	p, err := s.planMigration(r.Context(), req)
	if err != nil {
		return err
	}
	resp := map[string]any{"plan": p}
	if body.IncludeRequests {
		rq, err := p.Requests()
		if err != nil {
			return err
		}
		resp["requests"] = rq
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// POST /v1/migrations/{name}: plan, record the migration and create the
// target (within the request: refusals come back at once), then run the
// backfill and catch-up in the background. 202 with the status URL.
func (s *Server) postMigration(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body startRequest
	if err := embeddedFields(decodeJSON(r, &body)); err != nil {
		return err
	}
	req, err := body.request(alias)
	if err != nil {
		return err
	}
	if err := body.runOptions.validate(); err != nil {
		return err
	}
	if s.draining.Load() {
		return unavailable("shutting_down", "the sidecar is shutting down: no new migration work")
	}
	release, err := s.mig.reserve(alias, "run")
	if err != nil {
		return err
	}
	launched := false
	defer func() {
		if !launched {
			release()
		}
	}()
	ctx := r.Context()
	p, err := s.planMigration(ctx, req)
	if err != nil {
		return err
	}
	e, err := s.embedderFor(req.Reembed)
	if err != nil {
		return err
	}
	m := s.migrator(alias, e, body.runOptions, nil)
	t0 := time.Now()
	st, err := m.Start(ctx, p)
	s.m.observeOS("migration_start", t0, err)
	if err != nil {
		return migrationAPIError(err)
	}
	if err := s.launch(alias, m, release); err != nil {
		return err
	}
	launched = true
	return s.writeStatus(w, r, http.StatusAccepted, alias, st, "")
}

// POST /v1/migrations/{name}/resume: continue an interrupted migration
// (cancelled, sidecar stopped, CLI killed) from its saved cursors, or run
// another catch-up from ready / rolled_back. 202 with the status URL.
func (s *Server) postMigrationResume(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var ro runOptions
	if err := decodeOptional(r, &ro); err != nil {
		return err
	}
	if err := ro.validate(); err != nil {
		return err
	}
	if s.draining.Load() {
		return unavailable("shutting_down", "the sidecar is shutting down: no new migration work")
	}
	release, err := s.mig.reserve(alias, "run")
	if err != nil {
		return err
	}
	launched := false
	defer func() {
		if !launched {
			release()
		}
	}()
	ctx := r.Context()
	base, err := s.migrator(alias, nil, ro, nil).Status(ctx, alias)
	if err != nil {
		return migrationAPIError(err)
	}
	e, err := s.embedderFor(base.Plan.Mode == migrate.ModeReembed)
	if err != nil {
		return err
	}
	m := s.migrator(alias, e, ro, base)
	st, err := m.Claim(ctx, alias, migrationLease)
	if err != nil {
		if errors.Is(err, bridge.ErrMigrationBusy) && st != nil {
			retry := migrationLease - time.Since(st.UpdatedAt)
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()+0.999))))
		}
		return migrationAPIError(err)
	}
	if err := s.launch(alias, m, release); err != nil {
		return err
	}
	launched = true
	return s.writeStatus(w, r, http.StatusAccepted, alias, st, "")
}

// POST /v1/migrations/{name}/cancel: stop this sidecar's run at a
// checkpoint (resume continues it). Waits for the stop within the request
// timeout: 200 once stopped, 202 if it is still stopping.
func (s *Server) postMigrationCancel(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	g := s.mig
	g.mu.Lock()
	run := g.runs[alias]
	if run != nil && run.outcome == "running" {
		run.reason = "cancel request"
	} else {
		run = nil
	}
	g.mu.Unlock()
	ctx := r.Context()
	if run == nil {
		st, err := s.migrator(alias, nil, runOptions{}, nil).Status(ctx, alias)
		if err != nil {
			return migrationAPIError(err)
		}
		msg := fmt.Sprintf("migration %s is not being run by this sidecar (phase %s)", alias, st.Phase)
		if st.Runner != "" && st.Runner != bridge.RunnerID() && time.Since(st.UpdatedAt) < migrationLease {
			msg += fmt.Sprintf("; %s saved progress %s ago: stop that process instead", st.Runner, time.Since(st.UpdatedAt).Round(time.Second))
		}
		return &APIError{Status: http.StatusConflict, Code: "not_running", Message: msg}
	}
	run.cancel()
	status := http.StatusOK
	select {
	case <-run.done:
	case <-ctx.Done():
		status = http.StatusAccepted
	}
	// The answer's own reads get a fresh deadline: the wait may have used
	// the request's.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RequestTimeout)
	defer cancel()
	st, err := s.migrator(alias, nil, runOptions{}, nil).Status(rctx, alias)
	if err != nil {
		return migrationAPIError(err)
	}
	return s.writeStatus(w, r, status, alias, st, "")
}

// GET /v1/migrations/{name}: phase, progress (documents done, rate, ETA),
// the full state (history, cursors, verification), and this sidecar's
// last run.
func (s *Server) getMigration(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	t0 := time.Now()
	st, err := s.migrator(alias, nil, runOptions{}, nil).Status(r.Context(), alias)
	s.m.observeOS("migration_status", t0, err)
	if err != nil {
		return migrationAPIError(err)
	}
	return s.writeStatus(w, r, http.StatusOK, alias, st, "")
}

// migrationSummary is one line of the list.
type migrationSummary struct {
	ID        string           `json:"id"`
	StatusURL string           `json:"status_url"`
	Phase     migrate.Phase    `json:"phase"`
	Source    string           `json:"source"`
	Target    string           `json:"target"`
	Mode      migrate.Mode     `json:"mode"`
	Running   bool             `json:"running"`
	Runner    string           `json:"runner,omitempty"`
	Progress  migrate.Progress `json:"progress"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// GET /v1/migrations: every recorded migration, newest first
// (near-real-time: a migration started within the last second may be
// missing).
func (s *Server) listMigrations(w http.ResponseWriter, r *http.Request) error {
	t0 := time.Now()
	states, err := s.migrator("", nil, runOptions{}, nil).ListMigrations(r.Context())
	s.m.observeOS("migration_list", t0, err)
	if err != nil {
		return err
	}
	out := make([]migrationSummary, 0, len(states))
	for _, st := range states {
		sm := migrationSummary{ID: st.ID, StatusURL: statusURL(st.ID), Phase: st.Phase, Runner: st.Runner, Progress: st.Progress(), UpdatedAt: st.UpdatedAt}
		if st.Plan != nil {
			sm.Source, sm.Target, sm.Mode = st.Plan.Source, st.Plan.Target, st.Plan.Mode
		}
		_, sm.Running = s.mig.lastRun(st.ID)
		out = append(out, sm)
	}
	writeJSON(w, http.StatusOK, map[string]any{"migrations": out})
	return nil
}

type verifyRequest struct {
	Sample    int     `json:"sample"`
	Queries   int     `json:"queries"`
	MinRecall float64 `json:"min_recall"`
	Seed      int64   `json:"seed"`
}

// POST /v1/migrations/{name}/verify: counts, sampled documents field by
// field, recall@10 against exact search, top-10 overlap. The result is
// kept with the state (cutover requires a passing one). 200 whether or
// not it passes: see verification.pass and .problems.
func (s *Server) postMigrationVerify(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body verifyRequest
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	switch {
	case body.Sample < 0 || body.Sample > 10000:
		return badRequest("sample", "sample %d: want 1..10000 (0: default 200)", body.Sample)
	case body.Queries < 0 || body.Queries > 1000:
		return badRequest("queries", "queries %d: want 1..1000 (0: default 50)", body.Queries)
	case body.MinRecall < 0 || body.MinRecall > 1:
		return badRequest("min_recall", "min_recall %g: want 0..1 (0: default 0.9)", body.MinRecall)
	}
	var v *migrate.Verification
	err = s.migrationOp(r, alias, "verify", func(ctx context.Context, m *bridge.Migrator) (*migrate.State, error) {
		var err error
		v, err = m.Verify(ctx, alias, bridge.VerifyOptions{Sample: body.Sample, Queries: body.Queries, MinRecall: body.MinRecall, Seed: body.Seed})
		return nil, err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": alias, "status_url": statusURL(alias), "verification": v})
	return nil
}

// POST /v1/migrations/{name}/cutover: restore the target's settings,
// catch up, block source writes for the last catch-up, move the alias in
// one _aliases call. Needs phase ready and a passing verification (or
// force).
func (s *Server) postMigrationCutover(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body struct {
		Force bool `json:"force"`
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	var st *migrate.State
	err = s.migrationOp(r, alias, "cutover", func(ctx context.Context, m *bridge.Migrator) (*migrate.State, error) {
		var err error
		st, err = m.Cutover(ctx, alias, bridge.CutoverOptions{Force: body.Force})
		return st, err
	})
	if err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, alias, st, "")
}

// POST /v1/migrations/{name}/rollback: the alias back to the source, with
// the writes the target took since cutover replayed into it.
func (s *Server) postMigrationRollback(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body struct {
		DiscardTargetWrites bool `json:"discard_target_writes"`
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	var st *migrate.State
	err = s.migrationOp(r, alias, "rollback", func(ctx context.Context, m *bridge.Migrator) (*migrate.State, error) {
		var err error
		st, err = m.Rollback(ctx, alias, bridge.RollbackOptions{DiscardTargetWrites: body.DiscardTargetWrites})
		return st, err
	})
	if err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, alias, st, "")
}

// POST /v1/migrations/{name}/cleanup: delete the unused index (the source
// after cutover, the target after rollback). Nothing else deletes it.
func (s *Server) postMigrationCleanup(w http.ResponseWriter, r *http.Request) error {
	alias, err := migrationName(r)
	if err != nil {
		return err
	}
	var body struct{}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	var st *migrate.State
	var victim string
	err = s.migrationOp(r, alias, "cleanup", func(ctx context.Context, m *bridge.Migrator) (*migrate.State, error) {
		var err error
		st, victim, err = m.Cleanup(ctx, alias)
		return st, err
	})
	if err != nil {
		return err
	}
	return s.writeStatus(w, r, http.StatusOK, alias, st, victim)
}

// migrationOp runs one synchronous step with the alias reserved in this
// sidecar, the embedder the migration needs, and metrics.
func (s *Server) migrationOp(r *http.Request, alias, op string, f func(context.Context, *bridge.Migrator) (*migrate.State, error)) error {
	release, err := s.mig.reserve(alias, op)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	base, err := s.migrator(alias, nil, runOptions{}, nil).Status(ctx, alias)
	if err != nil {
		return migrationAPIError(err)
	}
	var e migrate.Embedder
	// Rollback and cleanup copy source documents back or delete: no model.
	if base.Plan.Mode == migrate.ModeReembed && (op == "verify" || op == "cutover") {
		if e, err = s.embedderFor(true); err != nil {
			return err
		}
	}
	t0 := time.Now()
	_, err = f(ctx, s.migrator(alias, e, runOptions{}, base))
	s.m.observeOS("migration_"+op, t0, err)
	if err != nil {
		s.logger(ctx).Warn("migration step refused or failed", zap.String("migration", alias), zap.String("op", op), zap.Error(err))
		return migrationAPIError(err)
	}
	return nil
}

// migrationStatus is the answer of status, start, resume, cancel,
// cutover, rollback and cleanup.
type migrationStatus struct {
	ID        string        `json:"id"`
	StatusURL string        `json:"status_url"`
	Phase     migrate.Phase `json:"phase"`
	// Running: this sidecar is running the backfill / catch-up now.
	Running bool `json:"running"`
	// Operation in progress in this sidecar (run, verify, cutover, ...).
	Operation string `json:"operation,omitempty"`
	// Resumable: nobody seems to be running it (not here, and no other
	// runner saved within the lease) and it has copying left to do.
	Resumable bool             `json:"resumable"`
	Progress  migrate.Progress `json:"progress"`
	LastRun   *runInfo         `json:"last_run,omitempty"`
	// Deleted is the index cleanup deleted.
	Deleted string         `json:"deleted,omitempty"`
	State   *migrate.State `json:"state"`
}

func statusURL(alias string) string { return "/v1/migrations/" + url.PathEscape(alias) }

func (s *Server) writeStatus(w http.ResponseWriter, r *http.Request, code int, alias string, st *migrate.State, deleted string) error {
	ms := migrationStatus{ID: alias, StatusURL: statusURL(alias), Phase: st.Phase, Progress: st.Progress(), State: st, Deleted: deleted}
	ms.LastRun, ms.Running = s.mig.lastRun(alias)
	ms.Operation = s.mig.operation(alias)
	switch st.Phase {
	case migrate.PhasePlanned, migrate.PhaseBackfill, migrate.PhaseCatchUp:
		other := st.Runner != "" && st.Runner != bridge.RunnerID() && time.Since(st.UpdatedAt) < migrationLease
		ms.Resumable = !ms.Running && ms.Operation == "" && !other
	}
	if code == http.StatusAccepted {
		w.Header().Set("Location", ms.StatusURL)
	}
	writeJSON(w, code, ms)
	return nil
}

// embeddedFields drops the Go names of embedded request structs from a
// type error's field ("runOptions.page_size" -> "page_size"): the JSON
// members are flat.
func embeddedFields(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		for _, p := range []string{"planRequest.", "runOptions."} {
			ae.Field = strings.TrimPrefix(ae.Field, p)
		}
		ae.Message = strings.NewReplacer("planRequest.", "", "runOptions.", "").Replace(ae.Message)
	}
	return err
}

// decodeOptional decodes a JSON object body if there is one (an empty
// body takes the defaults).
func decodeOptional(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return decodeBytes(b, v)
}
