package migrate

import (
	"fmt"
	"slices"
	"time"
)

// Phase is where a migration is.
type Phase string

const (
	// PhasePlanned: the state is saved, the target may not exist yet.
	PhasePlanned Phase = "planned"
	// PhaseBackfill: copying the point-in-time snapshot, shard by shard.
	PhaseBackfill Phase = "backfill"
	// PhaseCatchUp: copying what changed since the snapshot.
	PhaseCatchUp Phase = "catchup"
	// PhaseReady: backfilled and caught up; verify and cutover may follow.
	PhaseReady Phase = "ready"
	// PhaseCutOver: the alias points at the target; the source is
	// write-blocked and kept for rollback.
	PhaseCutOver Phase = "cutover"
	// PhaseRolledBack: the alias points at the source again.
	PhaseRolledBack Phase = "rolled_back"
	// PhaseCleanedUp: the unused index (source after cutover, target after
	// rollback) is deleted. Terminal.
	PhaseCleanedUp Phase = "cleaned_up"
)

var transitions = map[Phase][]Phase{
	PhasePlanned:    {PhaseBackfill},
	PhaseBackfill:   {PhaseCatchUp},
	PhaseCatchUp:    {PhaseReady},
	PhaseReady:      {PhaseCatchUp, PhaseCutOver},
	PhaseCutOver:    {PhaseRolledBack, PhaseCleanedUp},
	PhaseRolledBack: {PhaseCatchUp, PhaseCleanedUp},
}

// Active reports whether the migration still owns its indexes (anything but
// cleaned up): a new migration of the same alias must wait.
func (p Phase) Active() bool { return p != PhaseCleanedUp }

// ShardCursor is the progress on one source shard.
type ShardCursor struct {
	Shard int `json:"shard"`
	// After is the last _seq_no copied by the current snapshot scan
	// (nil: not started).
	After *int64 `json:"after,omitempty"`
	// Done: the snapshot scan of this shard is complete.
	Done bool `json:"done"`
	// HWM is the shard's global checkpoint read (then refresh) before the
	// snapshot was opened: every operation at or below it is in the snapshot.
	HWM int64 `json:"hwm"`
	// CaughtUp: every live document with _seq_no <= CaughtUp is in the target
	// at its latest version (valid once Done).
	CaughtUp int64 `json:"caught_up"`
}

// Event is one line of a migration's history.
type Event struct {
	At    time.Time `json:"at"`
	Phase Phase     `json:"phase"`
	Note  string    `json:"note,omitempty"`
}

// State is everything a migration needs to continue after a crash, and
// what `status` shows.
type State struct {
	ID    string `json:"id"`
	Plan  *Plan  `json:"plan"`
	Phase Phase  `json:"phase"`

	PIT       string        `json:"pit,omitempty"`
	PITOpened time.Time     `json:"pit_opened,omitempty"`
	Shards    []ShardCursor `json:"shards,omitempty"`

	// Total is the source's document count when the backfill started.
	Total int64 `json:"total"`
	// Copied counts documents written to the target (backfill and catch-up);
	// Newer counts copies the target already had (409); Deleted counts
	// documents removed from the target because the source deleted them.
	Copied  int64 `json:"copied"`
	Newer   int64 `json:"newer"`
	Deleted int64 `json:"deleted"`
	// Backfilled counts documents read from the snapshot.
	Backfilled    int64 `json:"backfilled"`
	CatchUpRounds int   `json:"catchup_rounds"`
	// LastRoundCopied is what the last catch-up round found to copy.
	LastRoundCopied int64 `json:"last_round_copied"`

	Runs      int       `json:"runs"`
	Runner    string    `json:"runner,omitempty"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// RunStartedAt and RunStartBackfilled measure the current run's rate.
	RunStartedAt       time.Time `json:"run_started_at"`
	RunStartBackfilled int64     `json:"run_start_backfilled"`
	BackfillSeconds    float64   `json:"backfill_seconds"`

	Verification *Verification `json:"verification,omitempty"`
	// TargetCheckpoints are the target's shard checkpoints at cutover: later
	// operations on the target are application writes (replayed on rollback).
	TargetCheckpoints []int64   `json:"target_checkpoints,omitempty"`
	CutoverAt         time.Time `json:"cutover_at,omitempty"`
	// WriteBlockSeconds is how long the source refused writes at cutover.
	WriteBlockSeconds float64 `json:"write_block_seconds,omitempty"`

	History []Event `json:"history"`
}

// NewState starts the state of a planned migration.
func NewState(p *Plan, now time.Time) *State {
	return &State{ID: p.Alias, Plan: p, Phase: PhasePlanned, StartedAt: now, UpdatedAt: now,
		History: []Event{{At: now, Phase: PhasePlanned, Note: fmt.Sprintf("%s -> %s (%s)", p.Source, p.Target, p.Mode)}}}
}

// Advance moves to phase to, refusing transitions the state machine does
// not have (for example cutover before the backfill is caught up).
func (s *State) Advance(to Phase, note string, now time.Time) error {
	if !slices.Contains(transitions[s.Phase], to) {
		return fmt.Errorf("migration %s: cannot go from %s to %s", s.ID, s.Phase, to)
	}
	s.Phase = to
	s.UpdatedAt = now
	s.History = append(s.History, Event{At: now, Phase: to, Note: note})
	return nil
}

// Note adds a history line without changing phase.
func (s *State) Note(note string, now time.Time) {
	s.UpdatedAt = now
	s.History = append(s.History, Event{At: now, Phase: s.Phase, Note: note})
}

// InitShards sets up one cursor per source shard.
func (s *State) InitShards(n int) {
	s.Shards = make([]ShardCursor, n)
	for i := range s.Shards {
		s.Shards[i] = ShardCursor{Shard: i, HWM: -1, CaughtUp: -1}
	}
}

// Progress is what `status` reports.
type Progress struct {
	Phase      Phase   `json:"phase"`
	Done       int64   `json:"done"`
	Total      int64   `json:"total"`
	Percent    float64 `json:"percent"`
	Rate       float64 `json:"rate_docs_per_s"`
	ETASeconds float64 `json:"eta_seconds"`
	ShardsDone int     `json:"shards_done"`
	Shards     int     `json:"shards"`
}

// Progress computes progress, rate (over the current run) and ETA of the
// backfill.
func (s *State) Progress() Progress {
	p := Progress{Phase: s.Phase, Done: s.Backfilled, Total: s.Total, Shards: len(s.Shards)}
	for _, c := range s.Shards {
		if c.Done {
			p.ShardsDone++
		}
	}
	if p.Total > 0 {
		p.Percent = 100 * float64(min(p.Done, p.Total)) / float64(p.Total)
	}
	if s.Phase == PhaseBackfill || s.Phase == PhasePlanned {
		// The current run's rate: earlier runs may have had another load.
		if el := s.UpdatedAt.Sub(s.RunStartedAt).Seconds(); el > 0 && !s.RunStartedAt.IsZero() {
			p.Rate = float64(s.Backfilled-s.RunStartBackfilled) / el
		}
		if p.Rate > 0 && p.Total > p.Done {
			p.ETASeconds = float64(p.Total-p.Done) / p.Rate
		}
	} else if s.BackfillSeconds > 0 {
		p.Rate = float64(s.Backfilled) / s.BackfillSeconds
	}
	return p
}
