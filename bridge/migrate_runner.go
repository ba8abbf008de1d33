package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/migrate"
)

// RunnerID names this process in migration states ("host/pid"), the
// same string Start and Run record.
func RunnerID() string {
	hostname, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", hostname, os.Getpid())
}

// Runnable reports whether Run has work to do in phase p: a fresh or
// interrupted backfill / catch-up, or another catch-up before a (new)
// cutover.
func Runnable(p migrate.Phase) bool {
	switch p {
	case migrate.PhasePlanned, migrate.PhaseBackfill, migrate.PhaseCatchUp, migrate.PhaseReady, migrate.PhaseRolledBack:
		return true
	}
	return false
}

// running phases are the ones a runner saves progress in.
func running(p migrate.Phase) bool {
	return p == migrate.PhasePlanned || p == migrate.PhaseBackfill || p == migrate.PhaseCatchUp
}

// MigrationLease: a runner saves progress at least every second while it
// copies (MigrateOptions.CheckpointEvery), so a state saved by another
// process within this lease means that process is alive and running it.
// The CLI and the sidecar claim with it, so they refuse each other.
const MigrationLease = 30 * time.Second

// Claim takes alias's migration for this process before Run: it refuses
// (ErrMigrationBusy) when another runner saved progress within lease —
// a runner saves at least every CheckpointEvery while it copies, so a
// fresher state means it is alive — and records this process as the
// runner with a conditional save, so that of two processes claiming at
// once one gets ErrStateConflict. A runner that died (SIGKILL, lost
// machine) stops refreshing the state and can be taken over once the
// lease has passed; a stale runner that comes back loses its next save
// (conditional on the version it read), so two runners never both make
// progress. Run records the runner again itself.
func (m *Migrator) Claim(ctx context.Context, alias string, lease time.Duration) (*migrate.State, error) {
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return nil, err
	}
	if !Runnable(st.Phase) {
		return st, refusef(ErrMigrationConflict, "migration %s is in phase %s: nothing to run", alias, st.Phase)
	}
	me := RunnerID()
	if age := time.Since(st.UpdatedAt); st.Runner != "" && st.Runner != me && running(st.Phase) && age < lease && !deadLocalRunner(st.Runner) {
		return st, refusef(ErrMigrationBusy, "migration %s is being run by %s (progress saved %s ago, lease %s): wait for it, or resume after the lease has passed if that runner is dead",
			alias, st.Runner, age.Round(time.Millisecond), lease)
	}
	st.Runner = me
	st.Note("claimed by "+me, time.Now().UTC())
	if err := m.save(ctx, st); err != nil {
		return st, err
	}
	return st, nil
}

// deadLocalRunner reports whether runner ("host/pid") names a process on
// this host that no longer exists: a killed CLI run can then be resumed at
// once instead of after the lease. A runner on another host, or a pid that
// exists (or can't be checked), is not known to be dead.
func deadLocalRunner(runner string) bool {
	host, pidText, ok := strings.Cut(runner, "/")
	if !ok {
		return false
	}
	if me, _ := os.Hostname(); host != me {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	return processGone(pid)
}

// Release gives up this process's claim after a run stopped on purpose
// (cancel, graceful shutdown): the state says nobody runs it, so another
// process may resume at once instead of waiting out the lease. A state
// claimed by someone else meanwhile is left alone.
func (m *Migrator) Release(ctx context.Context, alias, why string) error {
	st, err := m.store.load(ctx, alias)
	if err != nil {
		return err
	}
	if st.Runner != RunnerID() {
		return nil
	}
	st.Runner = ""
	st.Note("stopped by "+RunnerID()+": "+why, time.Now().UTC())
	return m.save(ctx, st)
}

// ListMigrations returns every recorded migration (newest update first;
// at most 1000). No state index yet means none.
func (m *Migrator) ListMigrations(ctx context.Context) ([]*migrate.State, error) {
	var out struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := map[string]any{"size": 1000, "sort": []any{map[string]any{"updated_at": map[string]any{"order": "desc", "unmapped_type": "date"}}}}
	err := m.c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(m.store.index)+"/_search", body, &out)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing migrations in %s: %w", m.store.index, err)
	}
	states := make([]*migrate.State, 0, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		var st migrate.State
		if err := json.Unmarshal(h.Source, &st); err != nil {
			return nil, fmt.Errorf("migration state in %s: %w", m.store.index, err)
		}
		states = append(states, &st)
	}
	return states, nil
}

// IsMigrationRefusal reports whether err is one of the kinds above (not a
// cluster or network failure).
func IsMigrationRefusal(err error) bool {
	var me *migrationError
	return errors.As(err, &me)
}
