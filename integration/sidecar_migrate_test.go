//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/migrate"
)

// Migrations through the sidecar's HTTP API (bridge/server/migrations.go)
// against the real cluster: the same bridge.Migrator as `knnbridge
// migrate`, with the backfill running in the background of the sidecar.
// Everything here runs on the test's goroutine (no t.Fatal elsewhere) and
// every wait has a deadline.

type scMigrationStatus struct {
	ID        string           `json:"id"`
	StatusURL string           `json:"status_url"`
	Phase     migrate.Phase    `json:"phase"`
	Running   bool             `json:"running"`
	Resumable bool             `json:"resumable"`
	Progress  migrate.Progress `json:"progress"`
	LastRun   *struct {
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	} `json:"last_run"`
	Deleted string         `json:"deleted"`
	State   *migrate.State `json:"state"`
}

func scMigPath(alias, op string) string {
	if op == "" {
		return "/v1/migrations/" + alias
	}
	return "/v1/migrations/" + alias + "/" + op
}

// scMigCall posts to a migration route and decodes the status answer.
func scMigCall(t *testing.T, s *sidecar, alias, op string, body any, status int) scMigrationStatus {
	t.Helper()
	route := "/v1/migrations/{name}"
	if op != "" {
		route += "/" + op
	}
	a := s.api(t, "POST", route, scMigPath(alias, op), body)
	scExpect(t, a, status)
	var st scMigrationStatus
	a.json(t, &st)
	return st
}

// scMigError expects an error answer with code (and field when given).
func scMigError(t *testing.T, a scAnswer, status int, code, field string) {
	t.Helper()
	scExpect(t, a, status)
	c, f := a.errorField(t)
	if (code != "" && c != code) || (field != "" && f != field) {
		t.Fatalf("%s: error code %q field %q, want %q %q: %s", a.Route, c, f, code, field, a.Body)
	}
}

func scMigStatus(t *testing.T, s *sidecar, alias string) scMigrationStatus {
	t.Helper()
	a := s.api(t, "GET", "/v1/migrations/{name}", scMigPath(alias, ""), nil)
	scExpect(t, a, 200)
	var st scMigrationStatus
	a.json(t, &st)
	return st
}

// scMigWait polls the status until cond holds; a failed run ends the wait.
func scMigWait(t *testing.T, s *sidecar, alias string, within time.Duration, what string, cond func(scMigrationStatus) bool) scMigrationStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := scMigStatus(t, s, alias)
		if cond(st) {
			return st
		}
		if st.LastRun != nil && st.LastRun.Outcome == "failed" {
			t.Fatalf("migration run failed while waiting for %s: %+v", what, st.LastRun.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: phase %s running %t progress %+v", what, within, st.Phase, st.Running, st.Progress)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scMigReady(st scMigrationStatus) bool { return !st.Running && st.Phase == migrate.PhaseReady }

// scMigSame: source and target hold the same ids with byte-identical
// _source (migAll fails on an id seen twice).
func scMigSame(t *testing.T, c *Cluster, src, tgt string, n int) {
	t.Helper()
	a, b := migAll(t, c, src), migAll(t, c, tgt)
	if len(a) != n || len(b) != n {
		t.Fatalf("source %d, target %d documents, want %d each", len(a), len(b), n)
	}
	for id, sa := range a {
		if !bytes.Equal(sa, b[id]) {
			t.Fatalf("document %s differs:\nsource %s\ntarget %s", id, sa, b[id])
		}
	}
}

// Plan, start (202, background backfill), status polling, verify,
// cutover (alias moves), rollback, a second catch-up and cutover, cleanup
// — lucene l2 m16 → lucene cosinesimil m32 ef_construction 256, all over
// HTTP; plus the refusals on the way.
func TestSidecarMigrate(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	state := c.Index(t, "scmig-state")
	s := startSidecar(t, c, "KNNBRIDGE_MIGRATION_STATE_INDEX="+state)
	s.waitReady(t, false)
	const n, dim = 3000, 8
	src := c.Index(t, "scmig")
	tgt := c.Index(t, "scmig-tgt")
	alias := src + "-alias"
	migLoad(t, c, src, alias, n, dim, 2, false, 21)
	target := migTargetSpec("", dim, false)

	// Plan: no side effects.
	a := s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias, "plan"), map[string]any{"target": target, "target_index": tgt, "include_requests": true})
	scExpect(t, a, 200)
	var planned struct {
		Plan     migrate.Plan      `json:"plan"`
		Requests *migrate.Requests `json:"requests"`
	}
	a.json(t, &planned)
	p := planned.Plan
	if p.Source != src || p.Target != tgt || p.Mode != migrate.ModeCopy || p.Docs != n || p.Shards != 2 {
		t.Fatalf("plan: source %s target %s mode %s docs %d shards %d", p.Source, p.Target, p.Mode, p.Docs, p.Shards)
	}
	if sum := strings.Join(p.Summary, "; "); !strings.Contains(sum, "cosinesimil") || !strings.Contains(sum, "32") {
		t.Errorf("plan summary does not show the space type and m changes: %s", sum)
	}
	if planned.Requests == nil || len(planned.Requests.AliasSwap) == 0 {
		t.Errorf("include_requests: no request bodies: %s", a.Body)
	}
	if _, err := c.Bridge.Do(ctx, http.MethodHead, "/"+tgt, nil); !bridge.IsNotFound(err) {
		t.Fatalf("plan created the target (HEAD: %v)", err)
	}
	scMigError(t, s.api(t, "GET", "/v1/migrations/{name}", scMigPath(alias, ""), nil), 404, "migration_not_found", "")

	// Refusals with names.
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias+"-nope", "plan"), map[string]any{"target": target}), 404, "alias_not_found", "name")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(src, "plan"), map[string]any{"target": target}), 400, "invalid_migration", "name")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias, "plan"), map[string]any{"target": target, "vector_field": "nope"}), 400, "invalid_migration", "vector_field")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias, "plan"), map[string]any{"target": map[string]any{"fields": map[string]any{"v": map[string]any{"type": "knn_vector", "dimension": 0}}}}), 400, "", "")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cutover", scMigPath(alias, "cutover"), nil), 404, "migration_not_found", "")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/resume", scMigPath(alias, "resume"), nil), 404, "migration_not_found", "")

	// Start: 202 at once, the backfill runs in the sidecar.
	st := scMigCall(t, s, alias, "", map[string]any{"target": target, "target_index": tgt, "page_size": 500}, 202)
	if st.ID != alias || st.StatusURL != scMigPath(alias, "") || st.State == nil || st.State.Plan.Target != tgt {
		t.Fatalf("start answer: %+v", st)
	}
	// A second start of the same alias: 409 (running here, or recorded and active).
	a = s.api(t, "POST", "/v1/migrations/{name}", scMigPath(alias, ""), map[string]any{"target": target, "target_index": tgt})
	scExpect(t, a, 409)
	if code, _ := a.errorField(t); code != "migration_running" && code != "migration_exists" {
		t.Errorf("second start: code %s", code)
	}
	st = scMigWait(t, s, alias, 90*time.Second, "phase ready", scMigReady)
	if st.LastRun == nil || st.LastRun.Outcome != "ready" || st.Progress.Done != n || st.State.Copied != n {
		t.Fatalf("after the run: last_run %+v progress %+v copied %d", st.LastRun, st.Progress, st.State.Copied)
	}
	t.Logf("backfill through the sidecar: %d docs, %.0f docs/s", st.Progress.Done, st.Progress.Rate)

	// The list has it.
	a = s.api(t, "GET", "/v1/migrations", "/v1/migrations", nil)
	scExpect(t, a, 200)
	if !strings.Contains(string(a.Body), `"id":"`+alias+`"`) {
		// Near-real-time list: give the state index its refresh.
		if _, err := c.Bridge.Do(ctx, http.MethodPost, "/"+state+"/_refresh", nil); err != nil {
			t.Fatal(err)
		}
		a = s.api(t, "GET", "/v1/migrations", "/v1/migrations", nil)
		if !strings.Contains(string(a.Body), `"id":"`+alias+`"`) {
			t.Errorf("list lacks %s: %s", alias, a.Body)
		}
	}

	// Cutover needs a passing verification.
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cutover", scMigPath(alias, "cutover"), nil), 409, "migration_conflict", "")
	verify := func() {
		t.Helper()
		a := s.api(t, "POST", "/v1/migrations/{name}/verify", scMigPath(alias, "verify"), map[string]any{"sample": 300, "queries": 20})
		scExpect(t, a, 200)
		var v struct {
			Verification migrate.Verification `json:"verification"`
		}
		a.json(t, &v)
		if !v.Verification.Pass || v.Verification.SourceCount != n || v.Verification.TargetCount != n {
			t.Fatalf("verification: %s", a.Body)
		}
	}
	verify()
	st = scMigCall(t, s, alias, "cutover", nil, 200)
	if st.Phase != migrate.PhaseCutOver || migResolve(t, c, alias) != tgt {
		t.Fatalf("after cutover: phase %s, alias on %s", st.Phase, migResolve(t, c, alias))
	}
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/resume", scMigPath(alias, "resume"), nil), 409, "migration_conflict", "")

	// Rollback: the alias back on the source.
	st = scMigCall(t, s, alias, "rollback", map[string]any{}, 200)
	if st.Phase != migrate.PhaseRolledBack || migResolve(t, c, alias) != src {
		t.Fatalf("after rollback: phase %s, alias on %s", st.Phase, migResolve(t, c, alias))
	}
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cutover", scMigPath(alias, "cutover"), map[string]any{"force": true}), 409, "migration_conflict", "")

	// Again: catch up (resume from rolled_back), verify, cut over.
	scMigCall(t, s, alias, "resume", nil, 202)
	scMigWait(t, s, alias, 90*time.Second, "phase ready again", scMigReady)
	verify()
	st = scMigCall(t, s, alias, "cutover", nil, 200)
	if st.Phase != migrate.PhaseCutOver || migResolve(t, c, alias) != tgt {
		t.Fatalf("after the second cutover: phase %s, alias on %s", st.Phase, migResolve(t, c, alias))
	}

	// Cleanup deletes the source, and only it.
	st = scMigCall(t, s, alias, "cleanup", nil, 200)
	if st.Phase != migrate.PhaseCleanedUp || st.Deleted != src {
		t.Fatalf("cleanup: phase %s deleted %q", st.Phase, st.Deleted)
	}
	if _, err := c.Bridge.Do(ctx, http.MethodHead, "/"+src, nil); !bridge.IsNotFound(err) {
		t.Fatalf("source still there after cleanup (HEAD: %v)", err)
	}
	if got := migCount(t, c, alias); got != n {
		t.Fatalf("alias holds %d documents after cleanup, want %d", got, n)
	}
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cleanup", scMigPath(alias, "cleanup"), nil), 409, "migration_conflict", "")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cancel", scMigPath(alias, "cancel"), nil), 409, "not_running", "")

	// Metrics: the copies are counted, no run is left.
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var mb bytes.Buffer
	_, _ = mb.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"knnbridge_migrations_running 0", `knnbridge_migration_runs_total{outcome="ready"} 2`, fmt.Sprintf(`knnbridge_migration_documents_total{result="copied"} %d`, n)} {
		if !strings.Contains(mb.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Cancel mid-backfill, resume, SIGTERM the sidecar mid-backfill, resume
// in a new sidecar: every stop is at a checkpoint, and the target ends up
// exactly equal to the source (same ids, byte-identical documents).
func TestSidecarMigrateCancelResume(t *testing.T) {
	c := Start(t)
	state := c.Index(t, "scmig-state")
	s := startSidecar(t, c, "KNNBRIDGE_MIGRATION_STATE_INDEX="+state)
	s.waitReady(t, false)
	const n, dim = 6000, 8
	src := c.Index(t, "scmig-cancel")
	tgt := c.Index(t, "scmig-cancel-tgt")
	alias := src + "-alias"
	migLoad(t, c, src, alias, n, dim, 2, false, 22)
	// Small pages and one sender make the backfill last seconds.
	slow := map[string]any{"page_size": 10, "senders": 1}
	start := map[string]any{"target": migTargetSpec("", dim, false), "target_index": tgt, "page_size": 10, "senders": 1}
	scMigCall(t, s, alias, "", start, 202)
	// The first checkpoint (saved after a second of copying) is enough:
	// the cancel must find the backfill running, however fast it goes.
	st := scMigWait(t, s, alias, 90*time.Second, "backfill progress", func(st scMigrationStatus) bool {
		return st.Progress.Done > 0 || st.Phase != migrate.PhaseBackfill && st.Phase != migrate.PhasePlanned
	})
	if st.Phase != migrate.PhaseBackfill {
		t.Fatalf("backfill finished before the cancel (phase %s): make the source larger", st.Phase)
	}
	// A second runner is refused while this one runs.
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/resume", scMigPath(alias, "resume"), slow), 409, "migration_running", "")
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/verify", scMigPath(alias, "verify"), nil), 409, "migration_running", "")

	st = scMigCall(t, s, alias, "cancel", nil, 200)
	t.Logf("cancelled at %d/%d (%.0f docs/s)", st.Progress.Done, st.Progress.Total, st.Progress.Rate)
	if st.Running || !st.Resumable || st.Phase != migrate.PhaseBackfill || st.LastRun == nil || st.LastRun.Outcome != "cancelled" || st.Progress.Done >= n {
		t.Fatalf("after cancel: running %t resumable %t phase %s last_run %+v done %d", st.Running, st.Resumable, st.Phase, st.LastRun, st.Progress.Done)
	}
	if st.State.Runner != "" {
		t.Errorf("runner claim not released after cancel: %q", st.State.Runner)
	}
	cancelledAt := st.Progress.Done
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/cancel", scMigPath(alias, "cancel"), nil), 409, "not_running", "")
	// The saved cursors hold: nothing moves while nobody runs it.
	time.Sleep(300 * time.Millisecond)
	if again := scMigStatus(t, s, alias); again.Progress.Done != cancelledAt {
		t.Fatalf("progress moved after cancel: %d -> %d", cancelledAt, again.Progress.Done)
	}

	// Applications keep writing through the alias (update, create,
	// delete), while stopped and while running: catch-up takes them.
	writes := 0
	write := func(tag string, upd, del int) {
		t.Helper()
		for _, w := range []struct {
			method, id string
			body       any
		}{
			{http.MethodPut, fmt.Sprintf("d%d", upd), migDoc{Rev: 7, V: []float32{1, 2, 3, 4, 5, 6, 7, 8}, Grp: tag}},
			{http.MethodPut, "fresh-" + tag, migDoc{Rev: 1, V: []float32{8, 7, 6, 5, 4, 3, 2, 1}, Grp: tag}},
			{http.MethodDelete, fmt.Sprintf("d%d", del), nil},
		} {
			if _, err := c.Bridge.Do(context.Background(), w.method, "/"+alias+"/_doc/"+w.id, w.body); err != nil {
				t.Fatal(err)
			}
			writes++
		}
	}
	write("stopped", 1, 2)

	// Resume, then SIGTERM the sidecar mid-backfill.
	scMigCall(t, s, alias, "resume", slow, 202)
	write("running", 3001, 3002)
	st = scMigWait(t, s, alias, 90*time.Second, "progress after resume", func(st scMigrationStatus) bool {
		return st.Progress.Done > cancelledAt || st.Phase != migrate.PhaseBackfill
	})
	if st.Phase != migrate.PhaseBackfill {
		t.Fatalf("backfill finished before the SIGTERM (phase %s): make the source larger", st.Phase)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("sidecar exit after SIGTERM: %v\n%s", err, s.log())
		}
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatalf("sidecar did not exit within 40s of SIGTERM\n%s", s.log())
	}
	if !strings.Contains(s.log(), "stopped at a checkpoint") {
		t.Errorf("no checkpoint stop in the sidecar log:\n%s", s.log())
	}
	stopped := migState(t, c, state, alias)
	t.Logf("SIGTERM at %d/%d (runs %d)", stopped.Backfilled, stopped.Total, stopped.Runs)
	if stopped.Phase != migrate.PhaseBackfill || stopped.Backfilled <= cancelledAt || stopped.Runner != "" {
		t.Fatalf("state after SIGTERM: phase %s backfilled %d (cancelled at %d) runner %q", stopped.Phase, stopped.Backfilled, cancelledAt, stopped.Runner)
	}

	// A new sidecar resumes it to the end.
	s2 := startSidecar(t, c, "KNNBRIDGE_MIGRATION_STATE_INDEX="+state)
	s2.waitReady(t, false)
	st = scMigStatus(t, s2, alias)
	if !st.Resumable || st.Running {
		t.Fatalf("new sidecar: resumable %t running %t", st.Resumable, st.Running)
	}
	// Another process that saved progress within the lease is a live
	// runner: refused (409 migration_busy). A dead one (state older than
	// the 30 s lease) is taken over.
	scMigSetRunner(t, c, state, alias, "elsewhere/42", time.Now().UTC())
	scMigError(t, s2.api(t, "POST", "/v1/migrations/{name}/resume", scMigPath(alias, "resume"), nil), 409, "migration_busy", "")
	if st := scMigStatus(t, s2, alias); st.Resumable {
		t.Errorf("resumable while another runner holds the lease")
	}
	scMigSetRunner(t, c, state, alias, "elsewhere/42", time.Now().UTC().Add(-time.Minute))
	scMigCall(t, s2, alias, "resume", map[string]any{"page_size": 500}, 202)
	st = scMigWait(t, s2, alias, 90*time.Second, "phase ready", scMigReady)
	t.Logf("resumed to ready: runs %d, backfilled %d, copied %d, already-newer %d (pages sent again after the stops)", st.State.Runs, st.State.Backfilled, st.State.Copied, st.State.Newer)
	// A page acknowledged by the cluster but not yet committed to the
	// cursors when a run stopped is sent again: the target already has
	// that version (409, counted as already-newer), so no document is ever
	// written twice (beyond the application's own writes, each copied at
	// most once more).
	if st.State.Runs != 3 || st.State.Copied > int64(n+writes) || st.State.Copied+st.State.Newer < n {
		t.Errorf("runs %d copied %d already-newer %d, want 3 runs and copied <= %d+%d writes, copied+already-newer >= %d", st.State.Runs, st.State.Copied, st.State.Newer, n, writes, n)
	}
	a := s2.api(t, "POST", "/v1/migrations/{name}/verify", scMigPath(alias, "verify"), map[string]any{"sample": 500, "queries": 10})
	scExpect(t, a, 200)
	var v struct {
		Verification migrate.Verification `json:"verification"`
	}
	a.json(t, &v)
	if !v.Verification.Pass {
		t.Fatalf("verify after resume: %s", a.Body)
	}
	scMigSame(t, c, src, tgt, n)
}

// scMigSetRunner rewrites the state document as if another process were
// (or had been) running the migration.
func scMigSetRunner(t *testing.T, c *Cluster, stateIndex, alias, runner string, at time.Time) {
	t.Helper()
	st := migState(t, c, stateIndex, alias)
	st.Runner, st.UpdatedAt = runner, at
	if _, err := c.Bridge.Do(context.Background(), http.MethodPut, "/"+stateIndex+"/_doc/"+alias, st); err != nil {
		t.Fatal(err)
	}
}

// A re-embedding migration through the sidecar uses the sidecar's own
// model: 8-d "old model" vectors -> 384-d MiniLM computed from the title.
// Verify compares every sampled target vector (here: all documents) with
// the model's output for its text.
func TestSidecarMigrateReembed(t *testing.T) {
	migModelDir(t) // skips without the model (fails under CI=true)
	c := Start(t)
	state := c.Index(t, "scmig-state")
	s := startSidecar(t, c, "KNNBRIDGE_MIGRATION_STATE_INDEX="+state)
	s.waitReady(t, true)
	const n = 150
	src := c.Index(t, "scmig-emb")
	tgt := c.Index(t, "scmig-emb-tgt")
	alias := src + "-alias"
	migLoad(t, c, src, alias, n, 8, 1, true, 23)
	body := map[string]any{"target": migTargetSpec("", 384, true), "target_index": tgt, "reembed": true, "text_field": "title"}
	a := s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias, "plan"), body)
	scExpect(t, a, 200)
	var planned struct {
		Plan migrate.Plan `json:"plan"`
	}
	a.json(t, &planned)
	if planned.Plan.Mode != migrate.ModeReembed || planned.Plan.Model == "" || planned.Plan.TextField != "title" {
		t.Fatalf("plan: mode %s model %q text field %q", planned.Plan.Mode, planned.Plan.Model, planned.Plan.TextField)
	}
	// Without re-embedding, a dimension change cannot be copied.
	scMigError(t, s.api(t, "POST", "/v1/migrations/{name}/plan", scMigPath(alias, "plan"), map[string]any{"target": migTargetSpec("", 384, true)}), 400, "invalid_migration", "")

	body["page_size"] = 64
	scMigCall(t, s, alias, "", body, 202)
	st := scMigWait(t, s, alias, 90*time.Second, "phase ready", scMigReady)
	if st.State.Copied != n {
		t.Fatalf("copied %d, want %d", st.State.Copied, n)
	}
	a = s.api(t, "POST", "/v1/migrations/{name}/verify", scMigPath(alias, "verify"), map[string]any{"sample": n, "queries": 10})
	scExpect(t, a, 200)
	var v struct {
		Verification migrate.Verification `json:"verification"`
	}
	a.json(t, &v)
	t.Logf("re-embed through the sidecar: %d docs, verify pass=%t sampled %d max |target - model| %.2g (tolerance %.0e), overlap with the old model %.2f",
		n, v.Verification.Pass, v.Verification.Sampled, v.Verification.MaxVectorDiff, v.Verification.VectorTol, v.Verification.Overlap)
	if !v.Verification.Pass || v.Verification.Sampled != n {
		t.Fatalf("verification: %s", a.Body)
	}
	st = scMigCall(t, s, alias, "cutover", nil, 200)
	if migResolve(t, c, alias) != tgt {
		t.Fatalf("alias not on the target after cutover (phase %s)", st.Phase)
	}
}
