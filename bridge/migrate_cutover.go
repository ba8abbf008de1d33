package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/knnbridge/knnbridge/migrate"
	"github.com/knnbridge/knnbridge/queries"
)

// reconcile deletes from `to` the documents `from` no longer has. After a
// catch-up `to` holds every live document of `from`, so equal counts prove
// equal sets; otherwise every id of `to` is looked up in `from`. A
// delete is versioned target_version+1 (external): it loses against any
// newer copy of the id, which can only come from a re-creation in the
// source. frozen says `from` takes no writes (cutover), so the shortcut
// is exact.
func (m *Migrator) reconcile(ctx context.Context, from, to string, frozen bool) (int64, error) {
	if err := m.refresh(ctx, from); err != nil {
		return 0, err
	}
	if err := m.refresh(ctx, to); err != nil {
		return 0, err
	}
	nf, err := m.count(ctx, from)
	if err != nil {
		return 0, err
	}
	nt, err := m.count(ctx, to)
	if err != nil {
		return 0, err
	}
	if nt == nf && frozen {
		return 0, nil
	}
	if nt < nf && frozen {
		return 0, fmt.Errorf("reconcile: %s has %d documents, fewer than %s (%d) after the catch-up: documents are missing", to, nt, from, nf)
	}
	seqs, err := m.shardSeqs(ctx, to)
	if err != nil {
		return 0, err
	}
	var pit struct {
		PIT string `json:"pit_id"`
	}
	if err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(to)+"/_search/point_in_time?keep_alive=5m", nil, &pit); err != nil {
		return 0, fmt.Errorf("reconcile: point-in-time on %s: %w", to, err)
	}
	defer m.closePIT(context.WithoutCancel(ctx), pit.PIT)
	var deleted int64
	for s := range seqs {
		var after *int64
		for {
			resp, err := m.scan(ctx, "/_search", migrate.ScanPage{PIT: pit.PIT, KeepAlive: "5m", Shard: s, Shards: len(seqs), After: after, Size: reconcilePage, IDsOnly: true})
			if err != nil {
				return deleted, fmt.Errorf("reconcile: scanning %s: %w", to, err)
			}
			hits := resp.Hits.Hits
			if len(hits) == 0 {
				break
			}
			last := hits[len(hits)-1].SeqNo
			after = &last
			gone, err := m.missing(ctx, from, hits)
			if err != nil {
				return deleted, err
			}
			if len(gone) == 0 {
				continue
			}
			var body []byte
			offs := make([]int, 0, len(gone)+1)
			ids := make([]string, len(gone))
			for i, h := range gone {
				offs = append(offs, len(body))
				body = migrate.AppendDelete(body, h.ID, h.Routing, h.Version+1)
				ids[i] = h.ID
			}
			offs = append(offs, len(body))
			n, _, err := m.bulk(ctx, to, body, offs, ids, true)
			if err != nil {
				return deleted, fmt.Errorf("reconcile: deleting from %s: %w", to, err)
			}
			deleted += n
		}
	}
	if deleted > 0 {
		m.logf("reconcile: %d documents deleted from %s (deleted in %s)", deleted, to, from)
	}
	return deleted, nil
}

// reconcilePage is large: at cutover this scan runs under the write
// block, and on a busy cluster the number of round trips dominates.
const reconcilePage = 5000

// missing returns the hits whose id (with its routing) is not in index.
func (m *Migrator) missing(ctx context.Context, index string, hits []scanHit) ([]scanHit, error) {
	docs := make([]map[string]any, len(hits))
	for i, h := range hits {
		d := map[string]any{"_id": h.ID}
		if h.Routing != "" {
			d["routing"] = h.Routing
		}
		docs[i] = d
	}
	var out struct {
		Docs []struct {
			ID    string          `json:"_id"`
			Found bool            `json:"found"`
			Error json.RawMessage `json:"error"`
		} `json:"docs"`
	}
	if err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_mget?_source=false", map[string]any{"docs": docs}, &out); err != nil {
		return nil, fmt.Errorf("looking up %d ids in %s: %w", len(hits), index, err)
	}
	if len(out.Docs) != len(hits) {
		return nil, fmt.Errorf("mget %s: %d answers for %d ids", index, len(out.Docs), len(hits))
	}
	var gone []scanHit
	for i, d := range out.Docs {
		if len(d.Error) > 0 && string(d.Error) != "null" {
			return nil, fmt.Errorf("mget %s: id %q: %s", index, hits[i].ID, d.Error)
		}
		if !d.Found {
			gone = append(gone, hits[i])
		}
	}
	return gone, nil
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	Sample    int     // documents compared field by field (default 200)
	Queries   int     // k-NN queries for recall and overlap (default 50)
	K         int     // default 10
	Tol       float64 // copied vectors, per component (default 1e-6)
	EmbedTol  float64 // re-embedded vectors vs the embedder (default 1e-4)
	MinRecall float64 // default 0.9
	Seed      int64   // sample seed (default: random)
}

// Verify checks the target against the source and records the result in
// the migration's state: counts, a sample compared field by field (copied
// vectors within Tol; re-embedded vectors against the embedder's output),
// recall@k of the target's approximate search against its exact search,
// and top-k overlap between source and target (reported only).
func (m *Migrator) Verify(ctx context.Context, alias string, o VerifyOptions) (*migrate.Verification, error) {
	if o.Sample <= 0 {
		o.Sample = 200
	}
	if o.Queries <= 0 {
		o.Queries = 50
	}
	if o.K <= 0 {
		o.K = 10
	}
	if o.Tol <= 0 {
		o.Tol = 1e-6
	}
	if o.EmbedTol <= 0 {
		o.EmbedTol = 1e-4
	}
	if o.MinRecall <= 0 {
		o.MinRecall = 0.9
	}
	if o.Seed == 0 {
		o.Seed = rand.Int64N(1 << 31)
	}
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	p := st.Plan
	switch st.Phase {
	case migrate.PhaseReady, migrate.PhaseCutOver, migrate.PhaseRolledBack:
	default:
		return nil, refusef(ErrMigrationConflict, "migration %s is in phase %s: verify after run has reached ready", alias, st.Phase)
	}
	v := &migrate.Verification{At: time.Now().UTC(), Phase: st.Phase, K: o.K, VectorTol: o.Tol, RecallThreshold: o.MinRecall}
	if p.Mode == migrate.ModeReembed {
		v.VectorTol = o.EmbedTol
	}
	srcBefore, err := m.shardSeqs(ctx, p.Source)
	if err != nil {
		return nil, err
	}
	if st.Phase == migrate.PhaseReady {
		// Bring the target up to date first, so differences are real.
		xf, err := migrate.NewTransformer(p, m.opt.Embedder)
		if err != nil {
			return nil, err
		}
		if _, err := m.catchUpRound(ctx, st, xf); err != nil {
			return nil, err
		}
		if n, err := m.reconcile(ctx, p.Source, p.Target, false); err != nil {
			return nil, err
		} else {
			st.Deleted += n
		}
	}
	if err := m.refresh(ctx, p.Source); err != nil {
		return nil, err
	}
	if err := m.refresh(ctx, p.Target); err != nil {
		return nil, err
	}
	if v.SourceCount, err = m.count(ctx, p.Source); err != nil {
		return nil, err
	}
	if v.TargetCount, err = m.count(ctx, p.Target); err != nil {
		return nil, err
	}
	srcAfter, err := m.shardSeqs(ctx, p.Source)
	if err != nil {
		return nil, err
	}
	for i := range srcAfter {
		if srcAfter[i].Max != srcBefore[i].Max {
			v.SourceChanging = true
		}
	}
	if st.Phase == migrate.PhaseCutOver {
		if tseqs, err := m.shardSeqs(ctx, p.Target); err == nil {
			for i := range tseqs {
				if i < len(st.TargetCheckpoints) && tseqs[i].Max > st.TargetCheckpoints[i] {
					v.TargetWritten = true
				}
			}
		}
	}
	if err := m.verifySample(ctx, st, v, o); err != nil {
		return nil, err
	}
	v.Judge()
	st.Verification = v
	st.Note(fmt.Sprintf("verify: pass=%t recall@%d=%.3f overlap=%.3f", v.Pass, v.K, v.Recall, v.Overlap), time.Now().UTC())
	return v, m.save(ctx, st)
}

type sampledDoc struct {
	id, routing string
	version     int64
	source      json.RawMessage
}

func (m *Migrator) verifySample(ctx context.Context, st *migrate.State, v *migrate.Verification, o VerifyOptions) error {
	p := st.Plan
	body := map[string]any{
		"size":                o.Sample,
		"seq_no_primary_term": true,
		"query": map[string]any{"function_score": map[string]any{
			"query":        map[string]any{"match_all": map[string]any{}},
			"random_score": map[string]any{"seed": o.Seed, "field": "_seq_no"},
			"boost_mode":   "replace",
		}},
	}
	var res struct {
		Hits struct {
			Hits []scanHit `json:"hits"`
		} `json:"hits"`
	}
	if err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(p.Source)+"/_search", body, &res); err != nil {
		return fmt.Errorf("verify: sampling %s: %w", p.Source, err)
	}
	var src []sampledDoc
	for _, h := range res.Hits.Hits {
		ver, err := migrate.ExternalVersion(h.Term, h.SeqNo)
		if err != nil {
			return err
		}
		src = append(src, sampledDoc{id: h.ID, routing: h.Routing, version: ver, source: h.Source})
	}
	dst, err := m.mgetSources(ctx, p.Target, src)
	if err != nil {
		return err
	}
	opts := migrate.CompareOptions{VectorField: p.VectorField, Tol: o.Tol, SkipVector: p.Mode == migrate.ModeReembed}
	var compared []int
	for i, s := range src {
		d := dst[i]
		if d == nil {
			// Absent from the target: written to the source after the
			// last catch-up, or deleted by an application after cutover.
			if v.SourceChanging || v.TargetWritten {
				v.InFlight++
				continue
			}
			v.Mismatches = append(v.Mismatches, migrate.Mismatch{ID: s.id, Field: "_id", Source: "present", Target: "<absent>"})
			continue
		}
		if d.version != s.version {
			// Another version of the document (a write the next catch-up
			// takes, or an application write after cutover): not comparable.
			v.InFlight++
			continue
		}
		mm, diff, err := migrate.CompareDocs(s.id, s.source, d.source, opts)
		if err != nil {
			return err
		}
		v.MaxVectorDiff = math.Max(v.MaxVectorDiff, diff)
		v.Mismatches = append(v.Mismatches, mm...)
		compared = append(compared, i)
	}
	v.Sampled = len(compared)
	if p.Mode == migrate.ModeReembed && len(compared) > 0 {
		if err := m.verifyEmbeddings(ctx, p, src, dst, compared, v); err != nil {
			return err
		}
	}
	if len(v.Mismatches) > 20 {
		v.Mismatches = v.Mismatches[:20]
	}
	// Recall and overlap on the first Queries compared documents.
	var recall, overlap float64
	v.MinRecall = 1
	tspace := p.TargetVector.SpaceType
	for _, i := range compared[:min(o.Queries, len(compared))] {
		tv, ok, err := migrate.GetVector(dst[i].source, p.VectorField)
		if err != nil || !ok {
			continue
		}
		approx, err := m.knnIDs(ctx, p.Target, queries.KNN{Field: p.VectorField, Vector: tv, K: o.K, Engine: queries.Engine(p.TargetVector.Engine), Source: &queries.Source{Disabled: true}})
		if err != nil {
			return err
		}
		exactBody, err := queries.Exact{Field: p.VectorField, Vector: tv, Space: queries.Space(tspace), Size: o.K, Source: &queries.Source{Disabled: true}}.Body()
		if err != nil {
			return err
		}
		exact, err := m.searchIDs(ctx, p.Target, exactBody)
		if err != nil {
			return fmt.Errorf("verify: exact search on %s: %w", p.Target, err)
		}
		r := migrate.RecallAtK(approx, exact, o.K)
		recall += r
		v.MinRecall = math.Min(v.MinRecall, r)
		sv, ok, err := migrate.GetVector(src[i].source, p.VectorField)
		if err != nil || !ok {
			continue
		}
		srcIDs, err := m.knnIDs(ctx, p.Source, queries.KNN{Field: p.VectorField, Vector: sv, K: o.K, Engine: queries.Engine(p.SourceVector.Engine), Source: &queries.Source{Disabled: true}})
		if err != nil {
			return err
		}
		overlap += migrate.OverlapAtK(srcIDs, approx, o.K)
		v.Queries++
	}
	if v.Queries > 0 {
		v.Recall = recall / float64(v.Queries)
		v.Overlap = overlap / float64(v.Queries)
	} else {
		v.MinRecall = 0
	}
	return nil
}

// verifyEmbeddings checks that re-embedded target vectors equal the
// embedder's output for the documents' texts.
func (m *Migrator) verifyEmbeddings(ctx context.Context, p *migrate.Plan, src []sampledDoc, dst []*sampledDoc, idx []int, v *migrate.Verification) error {
	if m.opt.Embedder == nil {
		return errors.New("verify: re-embedded migration but no embedder configured")
	}
	idx = idx[:min(len(idx), 64)] // embedding is the slow part of verify
	texts := make([]string, len(idx))
	for k, i := range idx {
		s, _, err := migrate.GetString(src[i].source, p.TextField)
		if err != nil {
			return err
		}
		texts[k] = s
	}
	want, err := m.opt.Embedder.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("verify: embedding: %w", err)
	}
	for k, i := range idx {
		got, ok, err := migrate.GetVector(dst[i].source, p.VectorField)
		if err != nil || !ok {
			v.Mismatches = append(v.Mismatches, migrate.Mismatch{ID: src[i].id, Field: p.VectorField, Source: "embedding", Target: "<absent>"})
			continue
		}
		d := migrate.MaxAbsDiff(got, want[k])
		v.MaxVectorDiff = math.Max(v.MaxVectorDiff, d)
		if d > v.VectorTol {
			v.Mismatches = append(v.Mismatches, migrate.Mismatch{ID: src[i].id, Field: p.VectorField, Source: "embedder output", Target: fmt.Sprintf("max diff %g", d)})
		}
	}
	return nil
}

func (m *Migrator) mgetSources(ctx context.Context, index string, docs []sampledDoc) ([]*sampledDoc, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	req := make([]map[string]any, len(docs))
	for i, d := range docs {
		r := map[string]any{"_id": d.id}
		if d.routing != "" {
			r["routing"] = d.routing
		}
		req[i] = r
	}
	var out struct {
		Docs []struct {
			ID      string          `json:"_id"`
			Found   bool            `json:"found"`
			Version int64           `json:"_version"`
			Source  json.RawMessage `json:"_source"`
		} `json:"docs"`
	}
	if err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_mget", map[string]any{"docs": req}, &out); err != nil {
		return nil, fmt.Errorf("verify: reading %d documents of %s: %w", len(docs), index, err)
	}
	res := make([]*sampledDoc, len(docs))
	for i, d := range out.Docs {
		if d.Found {
			res[i] = &sampledDoc{id: d.ID, version: d.Version, source: d.Source}
		}
	}
	return res, nil
}

func (m *Migrator) knnIDs(ctx context.Context, index string, q queries.KNN) ([]string, error) {
	body, err := q.Body()
	if err != nil {
		return nil, err
	}
	ids, err := m.searchIDs(ctx, index, body)
	if err != nil {
		return nil, fmt.Errorf("verify: k-NN search on %s: %w", index, err)
	}
	return ids, nil
}

func (m *Migrator) searchIDs(ctx context.Context, index string, body []byte) ([]string, error) {
	raw, err := m.c.Do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_search", body)
	if err != nil {
		return nil, err
	}
	res, err := queries.ParseSearchResponse(raw)
	if err != nil {
		return nil, err
	}
	if res.ShardFailures > 0 {
		return nil, fmt.Errorf("%d shards failed", res.ShardFailures)
	}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	return ids, nil
}

// CutoverOptions tune Cutover.
type CutoverOptions struct {
	// Force skips the requirement of a passing verification.
	Force bool
	// QuietTimeout bounds the wait for in-flight writes after the write
	// block (default 30s).
	QuietTimeout time.Duration
}

// Cutover switches the alias to the target: a catch-up while writes still
// flow, the target's own settings back, then the write block on the
// source, the last catch-up and delete reconciliation, and the alias move
// in one _aliases call. Reads never stop; writes are refused only between
// the block and the alias move. The source stays write-blocked (stray
// direct writes fail loudly instead of being lost) until rollback or
// cleanup.
func (m *Migrator) Cutover(ctx context.Context, alias string, o CutoverOptions) (*migrate.State, error) {
	if o.QuietTimeout <= 0 {
		o.QuietTimeout = 30 * time.Second
	}
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	p := st.Plan
	if st.Phase != migrate.PhaseReady {
		return st, refusef(ErrMigrationConflict, "migration %s is in phase %s: cutover needs phase ready (run it first)", alias, st.Phase)
	}
	if !o.Force && (st.Verification == nil || !st.Verification.Pass) {
		return st, refusef(ErrMigrationConflict, "migration %s has no passing verification: run `migrate verify` (or cutover --force)", alias)
	}
	xf, err := migrate.NewTransformer(p, m.opt.Embedder)
	if err != nil {
		return st, err
	}
	// Everything expensive happens while writes still flow, so the write
	// block only covers the last small delta.
	for r := 0; r < m.opt.CatchUpRounds; r++ {
		n, err := m.catchUpRound(ctx, st, xf)
		if err != nil {
			return st, err
		}
		if n <= m.opt.CatchUpDone {
			break
		}
	}
	if _, err := m.c.Do(ctx, http.MethodPut, "/"+url.PathEscape(p.Target)+"/_settings", p.FinalSettings); err != nil {
		return st, fmt.Errorf("restoring the settings of %s: %w", p.Target, err)
	}
	if _, err := m.c.Do(ctx, http.MethodGet, "/_cluster/health/"+url.PathEscape(p.Target)+"?wait_for_status=yellow&timeout=60s", nil); err != nil {
		return st, fmt.Errorf("waiting for %s: %w", p.Target, err)
	}
	// The first refresh after the backfill writes the buffered documents'
	// segments (and their HNSW graphs): do it now, not under the block.
	if err := m.refresh(ctx, p.Target); err != nil {
		return st, err
	}
	if _, err := m.catchUpRound(ctx, st, xf); err != nil {
		return st, err
	}
	if n, err := m.reconcile(ctx, p.Source, p.Target, false); err != nil {
		return st, err
	} else {
		st.Deleted += n
	}
	blockedAt := time.Now()
	if err := m.setWriteBlock(ctx, p.Source, true); err != nil {
		return st, err
	}
	swapped := false
	defer func() {
		if !swapped {
			if err := m.setWriteBlock(context.WithoutCancel(ctx), p.Source, false); err != nil {
				m.logf("cutover failed and the write block on %s could not be lifted: %v", p.Source, err)
			}
		}
	}()
	if err := m.waitQuiet(ctx, p.Source, o.QuietTimeout); err != nil {
		return st, err
	}
	tQuiet := time.Now()
	last, err := m.catchUpRound(ctx, st, xf)
	if err != nil {
		return st, err
	}
	tCatch := time.Now()
	del, err := m.reconcile(ctx, p.Source, p.Target, true)
	if err != nil {
		return st, err
	}
	st.Deleted += del
	// No refresh here: reconcile refreshed the target after the last
	// copies; its few deletes become visible with the next refresh, the
	// same near-real-time rule as any delete (and a search-idle shard
	// refreshes before it answers).
	m.logf("cutover under write block: wait for in-flight writes %s, last catch-up %s (%d documents), deletes %s (%d)",
		tQuiet.Sub(blockedAt).Round(time.Millisecond), tCatch.Sub(tQuiet).Round(time.Millisecond), last,
		time.Since(tCatch).Round(time.Millisecond), del)
	tseqs, err := m.shardSeqs(ctx, p.Target)
	if err != nil {
		return st, err
	}
	if err := m.swapAlias(ctx, alias, p.Source, p.Target); err != nil {
		return st, err
	}
	swapped = true
	now := time.Now().UTC()
	st.WriteBlockSeconds = time.Since(blockedAt).Seconds()
	st.TargetCheckpoints = make([]int64, len(tseqs))
	for i, s := range tseqs {
		st.TargetCheckpoints[i] = s.Max
	}
	st.CutoverAt = now
	if err := st.Advance(migrate.PhaseCutOver, fmt.Sprintf("alias %s -> %s; source writes blocked %.2fs", alias, p.Target, st.WriteBlockSeconds), now); err != nil {
		return st, err
	}
	return st, m.save(ctx, st)
}

// RollbackOptions tune Rollback.
type RollbackOptions struct {
	// DiscardTargetWrites allows a rollback of a re-embedding migration
	// whose target took writes since cutover: their vectors come from the
	// new model and cannot go back into the source.
	DiscardTargetWrites bool
	QuietTimeout        time.Duration
}

// Rollback moves the alias back to the source. Writes the target took
// since cutover are replayed into the source first (copy migrations; the
// same versioned catch-up, in reverse), so reads after rollback see them.
func (m *Migrator) Rollback(ctx context.Context, alias string, o RollbackOptions) (*migrate.State, error) {
	if o.QuietTimeout <= 0 {
		o.QuietTimeout = 30 * time.Second
	}
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	p := st.Plan
	if st.Phase != migrate.PhaseCutOver {
		return st, refusef(ErrMigrationConflict, "migration %s is in phase %s: rollback undoes a cutover", alias, st.Phase)
	}
	tseqs, err := m.shardSeqs(ctx, p.Target)
	if err != nil {
		return st, err
	}
	written := false
	for i := range tseqs {
		if i < len(st.TargetCheckpoints) && tseqs[i].Max > st.TargetCheckpoints[i] {
			written = true
		}
	}
	if written && p.Mode == migrate.ModeReembed && !o.DiscardTargetWrites {
		return st, refusef(ErrMigrationConflict, "the target took writes since cutover and this migration re-embedded vectors with %s: they cannot be copied back into the source; rollback --discard-target-writes drops them", p.Model)
	}
	replay := written && p.Mode == migrate.ModeCopy
	if replay {
		if err := m.setWriteBlock(ctx, p.Target, true); err != nil {
			return st, err
		}
		if err := m.waitQuiet(ctx, p.Target, o.QuietTimeout); err != nil {
			return st, err
		}
	}
	if err := m.setWriteBlock(ctx, p.Source, false); err != nil {
		return st, err
	}
	var replayed, deleted int64
	if replay {
		cursors := append([]int64(nil), st.TargetCheckpoints...)
		xf := &migrate.Transformer{Mode: migrate.ModeCopy}
		err := m.catchUp(ctx, p.Target, p.Source, cursors, xf, func(pg *page) error { replayed += pg.wrote; return nil })
		if err != nil {
			return st, fmt.Errorf("rollback: replaying target writes into %s: %w", p.Source, err)
		}
		if deleted, err = m.reconcile(ctx, p.Target, p.Source, true); err != nil {
			return st, err
		}
		if err := m.refresh(ctx, p.Source); err != nil {
			return st, err
		}
	}
	if err := m.swapAlias(ctx, alias, p.Target, p.Source); err != nil {
		return st, err
	}
	if replay {
		if err := m.setWriteBlock(ctx, p.Target, false); err != nil {
			return st, err
		}
	}
	now := time.Now().UTC()
	// A later cutover needs a fresh verification of the caught-up target.
	st.Verification = nil
	if err := st.Advance(migrate.PhaseRolledBack, fmt.Sprintf("alias %s -> %s; %d target writes replayed, %d deletes", alias, p.Source, replayed, deleted), now); err != nil {
		return st, err
	}
	return st, m.save(ctx, st)
}

// Cleanup deletes the index a finished migration left unused: the source
// after a cutover, the target after a rollback. Nothing else deletes it.
func (m *Migrator) Cleanup(ctx context.Context, alias string) (*migrate.State, string, error) {
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, "", err
	}
	var victim string
	switch st.Phase {
	case migrate.PhaseCutOver:
		victim = st.Plan.Source
	case migrate.PhaseRolledBack:
		victim = st.Plan.Target
	default:
		return st, "", refusef(ErrMigrationConflict, "migration %s is in phase %s: cleanup follows a cutover (deletes the source) or a rollback (deletes the target)", alias, st.Phase)
	}
	// Never delete what the alias points at.
	if cur, err := m.c.ResolveAlias(ctx, alias); err == nil && cur == victim {
		return st, "", refusef(ErrMigrationConflict, "alias %s points at %s: refusing to delete it", alias, victim)
	}
	if _, err := m.c.Do(ctx, http.MethodDelete, "/"+url.PathEscape(victim), nil); err != nil && !IsNotFound(err) {
		return st, "", fmt.Errorf("deleting %s: %w", victim, err)
	}
	if err := st.Advance(migrate.PhaseCleanedUp, "deleted "+victim, time.Now().UTC()); err != nil {
		return st, victim, err
	}
	return st, victim, m.save(ctx, st)
}

func (m *Migrator) setWriteBlock(ctx context.Context, index string, on bool) error {
	if _, err := m.c.Do(ctx, http.MethodPut, "/"+url.PathEscape(index)+"/_settings", migrate.WriteBlock(on)); err != nil {
		return fmt.Errorf("setting index.blocks.write=%t on %s: %w", on, index, err)
	}
	return nil
}

// waitQuiet waits until every shard's global checkpoint has reached its
// max_seq_no: writes accepted before the block are complete everywhere.
func (m *Migrator) waitQuiet(ctx context.Context, index string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		seqs, err := m.shardSeqs(ctx, index)
		if err != nil {
			return err
		}
		quiet := true
		for _, s := range seqs {
			if s.GCP < s.Max {
				quiet = false
			}
		}
		if quiet {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: in-flight writes did not complete within %s (checkpoints %v)", index, timeout, seqs)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *Migrator) swapAlias(ctx context.Context, alias, from, to string) error {
	body, err := migrate.AliasSwap(alias, from, to)
	if err != nil {
		return err
	}
	if _, err := m.c.Do(ctx, http.MethodPost, "/_aliases", body); err != nil {
		return fmt.Errorf("moving alias %s from %s to %s: %w", alias, from, to, err)
	}
	return nil
}

// MigrationRate is a convenience for reports: documents per second of
// the backfill so far.
func MigrationRate(st *migrate.State) float64 {
	if st.BackfillSeconds <= 0 {
		return 0
	}
	return float64(st.Backfilled) / st.BackfillSeconds
}
