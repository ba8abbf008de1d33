package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/migrate"
	"github.com/knnbridge/knnbridge/native/embed"
)

func init() { rootCmd.AddCommand(newMigrateCmd()) }

// migrateFlags are shared by the migrate subcommands.
type migrateFlags struct {
	alias, stateIndex          string
	spec, targetIndex          string
	vectorField, textField     string
	reembed, resume, requests  bool
	pageSize, senders          int
	force, discardTargetWrites bool
	sample, queries            int
	minRecall                  float64
	seed                       int64
}

// verifyFailed makes `migrate verify` exit 3 when the checks fail.
type verifyFailed struct{ problems []string }

func (e verifyFailed) Error() string {
	return "verification failed: " + strings.Join(e.problems, "; ")
}
func (e verifyFailed) ExitCode() int { return 3 }

func newMigrateCmd() *cobra.Command {
	f := &migrateFlags{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Zero-downtime index migration behind an alias: plan, run (--resume), verify, cutover, rollback, cleanup, status",
		Long: `Moves the index behind an alias to a new index (another engine, method parameters,
space type, quantization, or embedding model) while applications keep using the alias.

  knnbridge migrate plan     --alias docs --target-spec docs-v2.yaml [--reembed --text-field body]
  knnbridge migrate run      --alias docs --target-spec docs-v2.yaml     # backfill + catch-up to "ready"
  knnbridge migrate run      --alias docs --resume                       # after a crash or Ctrl-C
  knnbridge migrate verify   --alias docs
  knnbridge migrate cutover  --alias docs                                # alias -> target, atomically
  knnbridge migrate rollback --alias docs                                # alias -> source again
  knnbridge migrate cleanup  --alias docs                                # delete the unused index
  knnbridge migrate status   --alias docs
  knnbridge migrate list                                                 # every recorded migration

Writes during the backfill are caught by _seq_no catch-up rounds with versioned
copies; the source refuses writes only for the last catch-up at cutover. The
state lives in the cluster (index knnbridge-migrations). Re-embedding uses the
KNNBRIDGE_EMBED_* embedder.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.alias, "alias", "", "alias the applications use (required, except for list)")
	pf.StringVar(&f.stateIndex, "state-index", bridge.DefaultStateIndex, "index holding migration states")
	pf.IntVar(&f.pageSize, "page-size", 500, "documents per scan page and bulk request")
	pf.IntVar(&f.senders, "senders", 2, "concurrent bulk requests")
	// Every subcommand but list works on one migration.
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if c.Name() != "list" && f.alias == "" {
			return errors.New(`required flag(s) "alias" not set`)
		}
		return nil
	}

	addPlanFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&f.spec, "target-spec", "", "target index spec (YAML or JSON, as for `index plan`)")
		c.Flags().StringVar(&f.targetIndex, "target-index", "", "target index name (default: the source name with its -vN suffix bumped)")
		c.Flags().StringVar(&f.vectorField, "vector-field", "", "knn_vector field to migrate (default: the only one)")
		c.Flags().StringVar(&f.textField, "text-field", "", "text field to re-embed from (with --reembed)")
		c.Flags().BoolVar(&f.reembed, "reembed", false, "recompute vectors with the configured embedder (model change)")
	}

	plan := &cobra.Command{
		Use: "plan", Short: "Show the target mapping, what changes, copy vs re-embed, time and memory estimates", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			m, err := f.migrator(cmd, f.reembed)
			if err != nil {
				return err
			}
			p, err := f.plan(ctx, m)
			if err != nil {
				return err
			}
			if outputFormat == "json" {
				if f.requests {
					r, err := p.Requests()
					if err != nil {
						return err
					}
					return writeJSON(cmd.OutOrStdout(), map[string]any{"plan": p, "requests": r})
				}
				return writeJSON(cmd.OutOrStdout(), p)
			}
			printMigrationPlan(cmd.OutOrStdout(), p)
			if f.requests {
				r, err := p.Requests()
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "\nrequests:")
				return writeJSON(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
	addPlanFlags(plan)
	plan.Flags().BoolVar(&f.requests, "requests", false, "also print the request bodies the migration will send")

	run := &cobra.Command{
		Use: "run", Short: "Create the target, backfill it from a point-in-time and catch up (resumable)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			reembed := f.reembed
			if f.resume {
				var err error
				if reembed, err = f.stateReembeds(ctx, cmd); err != nil {
					return err
				}
			}
			m, err := f.migrator(cmd, reembed)
			if err != nil {
				return err
			}
			if !f.resume {
				p, err := f.plan(ctx, m)
				if err != nil {
					return err
				}
				if _, err := m.Start(ctx, p); err != nil {
					return clusterError{err}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "migration %s: %s -> %s (%s), %d documents\n", p.Alias, p.Source, p.Target, p.Mode, p.Docs)
			}
			if f.resume {
				// Refuse up front when a sidecar or another CLI is running
				// it (the same lease the sidecar uses).
				if _, err := m.Claim(ctx, f.alias, bridge.MigrationLease); err != nil {
					if bridge.IsMigrationRefusal(err) {
						return err
					}
					return clusterError{err}
				}
			}
			st, err := m.Run(ctx, f.alias)
			if err != nil {
				if ctx.Err() != nil {
					// Stopped on purpose: let another process resume at
					// once instead of waiting out the lease.
					rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_ = m.Release(rctx, f.alias, "interrupted (CLI)")
					cancel()
					return fmt.Errorf("interrupted; progress is saved: continue with `knnbridge migrate run --alias %s --resume`", f.alias)
				}
				return clusterError{err}
			}
			return printMigrationState(cmd.OutOrStdout(), st)
		},
	}
	addPlanFlags(run)
	run.Flags().BoolVar(&f.resume, "resume", false, "continue the recorded migration of --alias")

	verify := &cobra.Command{
		Use: "verify", Short: "Compare counts, sampled documents, recall@10 and top-10 overlap; kept with the state", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reembed, err := f.stateReembeds(ctx, cmd)
			if err != nil {
				return err
			}
			m, err := f.migrator(cmd, reembed)
			if err != nil {
				return err
			}
			v, err := m.Verify(ctx, f.alias, bridge.VerifyOptions{Sample: f.sample, Queries: f.queries, MinRecall: f.minRecall, Seed: f.seed})
			if err != nil {
				return clusterError{err}
			}
			if outputFormat == "json" {
				if err := writeJSON(cmd.OutOrStdout(), v); err != nil {
					return err
				}
			} else {
				printVerification(cmd.OutOrStdout(), v)
			}
			if !v.Pass {
				return verifyFailed{v.Problems}
			}
			return nil
		},
	}
	verify.Flags().IntVar(&f.sample, "sample", 200, "documents compared field by field")
	verify.Flags().IntVar(&f.queries, "queries", 50, "k-NN queries for recall@10 and overlap")
	verify.Flags().Float64Var(&f.minRecall, "min-recall", 0.9, "recall@10 below this fails verification")
	verify.Flags().Int64Var(&f.seed, "seed", 0, "sample seed (0: random)")

	cutover := &cobra.Command{
		Use: "cutover", Short: "Restore the target's settings, block source writes for the last catch-up, move the alias atomically", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reembed, err := f.stateReembeds(ctx, cmd)
			if err != nil {
				return err
			}
			m, err := f.migrator(cmd, reembed)
			if err != nil {
				return err
			}
			st, err := m.Cutover(ctx, f.alias, bridge.CutoverOptions{Force: f.force})
			if err != nil {
				return clusterError{err}
			}
			return printMigrationState(cmd.OutOrStdout(), st)
		},
	}
	cutover.Flags().BoolVar(&f.force, "force", false, "cut over without a passing verification")

	rollback := &cobra.Command{
		Use: "rollback", Short: "Move the alias back to the source (replaying writes the target took since cutover)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := f.migrator(cmd, false)
			if err != nil {
				return err
			}
			st, err := m.Rollback(cmd.Context(), f.alias, bridge.RollbackOptions{DiscardTargetWrites: f.discardTargetWrites})
			if err != nil {
				return clusterError{err}
			}
			return printMigrationState(cmd.OutOrStdout(), st)
		},
	}
	rollback.Flags().BoolVar(&f.discardTargetWrites, "discard-target-writes", false, "re-embedding migrations: drop writes the target took since cutover")

	cleanup := &cobra.Command{
		Use: "cleanup", Short: "Delete the unused index: the source after cutover, the target after rollback", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := f.migrator(cmd, false)
			if err != nil {
				return err
			}
			st, victim, err := m.Cleanup(cmd.Context(), f.alias)
			if err != nil {
				return clusterError{err}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "deleted %s\n", victim)
			return printMigrationState(cmd.OutOrStdout(), st)
		},
	}

	status := &cobra.Command{
		Use: "status", Short: "Phase, documents done, rate, ETA", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := f.migrator(cmd, false)
			if err != nil {
				return err
			}
			st, err := m.Status(cmd.Context(), f.alias)
			if err != nil {
				return clusterError{err}
			}
			return printMigrationState(cmd.OutOrStdout(), st)
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "Every recorded migration, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := f.migrator(cmd, false)
			if err != nil {
				return err
			}
			states, err := m.ListMigrations(cmd.Context())
			if err != nil {
				return clusterError{err}
			}
			return printMigrationList(cmd.OutOrStdout(), states)
		},
	}
	cmd.AddCommand(plan, run, verify, cutover, rollback, cleanup, status, list)
	return cmd
}

func (f *migrateFlags) migrator(cmd *cobra.Command, reembed bool) (*bridge.Migrator, error) {
	c, err := newClusterClient()
	if err != nil {
		return nil, err
	}
	opt := bridge.MigrateOptions{StateIndex: f.stateIndex, PageSize: f.pageSize, Senders: f.senders}
	if outputFormat != "json" {
		w := cmd.ErrOrStderr()
		opt.Log = func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
		var last time.Time
		opt.OnSave = func(st *migrate.State) {
			if st.Phase != migrate.PhaseBackfill || time.Since(last) < 2*time.Second {
				return
			}
			last = time.Now()
			pr := st.Progress()
			fmt.Fprintf(w, "backfill %d/%d (%.1f%%) %.0f docs/s eta %s\n", pr.Done, pr.Total, pr.Percent, pr.Rate, time.Duration(pr.ETASeconds*float64(time.Second)).Round(time.Second))
		}
	}
	if reembed {
		ec, err := embed.ConfigFromEnv()
		if err != nil {
			return nil, err
		}
		e, err := embed.New(ec)
		if err != nil {
			return nil, err
		}
		opt.Embedder = e
	}
	return bridge.NewMigrator(c, opt), nil
}

// stateReembeds reads whether the recorded migration re-embeds (so the
// embedder is loaded only when needed).
func (f *migrateFlags) stateReembeds(ctx context.Context, cmd *cobra.Command) (bool, error) {
	m, err := f.migrator(cmd, false)
	if err != nil {
		return false, err
	}
	st, err := m.Status(ctx, f.alias)
	if err != nil {
		if errors.Is(err, bridge.ErrNoMigration) {
			return false, err
		}
		return false, clusterError{err}
	}
	return st.Plan.Mode == migrate.ModeReembed, nil
}

func (f *migrateFlags) plan(ctx context.Context, m *bridge.Migrator) (*migrate.Plan, error) {
	if f.spec == "" {
		return nil, errors.New("--target-spec is required")
	}
	spec, err := loadSpecFile(f.spec, f.targetIndex)
	if err != nil {
		return nil, err
	}
	if f.reembed && f.textField == "" {
		return nil, errors.New("--reembed needs --text-field")
	}
	p, err := m.Plan(ctx, bridge.MigrationRequest{Alias: f.alias, Target: spec, TargetName: f.targetIndex,
		VectorField: f.vectorField, TextField: f.textField, Reembed: f.reembed})
	if err != nil {
		return nil, clusterError{err}
	}
	return p, nil
}

func printMigrationPlan(w io.Writer, p *migrate.Plan) {
	fmt.Fprintf(w, "alias        %s\n", p.Alias)
	fmt.Fprintf(w, "source       %s (%d documents, %d shards)\n", p.Source, p.Docs, p.Shards)
	fmt.Fprintf(w, "target       %s\n", p.Target)
	fmt.Fprintf(w, "mode         %s\n", p.Mode)
	fmt.Fprintf(w, "field        %s: %s %s %s %d-d -> %s %s %s %d-d\n", p.VectorField,
		p.SourceVector.Engine, p.SourceVector.Method, p.SourceVector.SpaceType, p.SourceVector.Dimension,
		p.TargetVector.Engine, p.TargetVector.Method, p.TargetVector.SpaceType, p.TargetVector.Dimension)
	fmt.Fprintln(w, "changes:")
	for _, s := range p.Summary {
		fmt.Fprintf(w, "  %s\n", s)
	}
	fmt.Fprintf(w, "estimate     %s at %.0f docs/s (assumed); target vector memory %.1f MiB\n",
		time.Duration(p.EstimatedSeconds*float64(time.Second)).Round(time.Second), p.RateAssumed, p.Memory.Total/(1<<20))
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func printMigrationState(w io.Writer, st *migrate.State) error {
	if outputFormat == "json" {
		return writeJSON(w, map[string]any{"state": st, "progress": st.Progress()})
	}
	pr := st.Progress()
	p := st.Plan
	fmt.Fprintf(w, "migration    %s: %s -> %s (%s)\n", st.ID, p.Source, p.Target, p.Mode)
	fmt.Fprintf(w, "phase        %s (updated %s, %d runs)\n", st.Phase, st.UpdatedAt.Format(time.RFC3339), st.Runs)
	fmt.Fprintf(w, "backfill     %d/%d documents (%.1f%%), shards %d/%d", pr.Done, pr.Total, pr.Percent, pr.ShardsDone, pr.Shards)
	if pr.Rate > 0 {
		fmt.Fprintf(w, ", %.0f docs/s", pr.Rate)
	}
	if pr.ETASeconds > 0 {
		fmt.Fprintf(w, ", eta %s", time.Duration(pr.ETASeconds*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "writes       %d copied, %d already newer, %d deleted; %d catch-up rounds (last %d)\n",
		st.Copied, st.Newer, st.Deleted, st.CatchUpRounds, st.LastRoundCopied)
	if st.WriteBlockSeconds > 0 {
		fmt.Fprintf(w, "cutover      %s, source writes blocked %.2fs\n", st.CutoverAt.Format(time.RFC3339), st.WriteBlockSeconds)
	}
	if v := st.Verification; v != nil {
		fmt.Fprintf(w, "verification pass=%t at %s (recall@%d %.3f, overlap %.3f)\n", v.Pass, v.At.Format(time.RFC3339), v.K, v.Recall, v.Overlap)
	}
	return nil
}

func printMigrationList(w io.Writer, states []*migrate.State) error {
	if outputFormat == "json" {
		out := make([]map[string]any, len(states))
		for i, st := range states {
			out[i] = map[string]any{"state": st, "progress": st.Progress()}
		}
		return writeJSON(w, map[string]any{"migrations": out})
	}
	if len(states) == 0 {
		fmt.Fprintln(w, "no migrations recorded")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tPHASE\tSOURCE -> TARGET\tDOCS\tUPDATED\tRUNNER")
	for _, st := range states {
		pr := st.Progress()
		fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%d/%d\t%s\t%s\n", st.ID, st.Phase, st.Plan.Source, st.Plan.Target,
			pr.Done, pr.Total, st.UpdatedAt.Format(time.RFC3339), st.Runner)
	}
	return tw.Flush()
}

func printVerification(w io.Writer, v *migrate.Verification) {
	fmt.Fprintf(w, "counts       source %d, target %d", v.SourceCount, v.TargetCount)
	if v.SourceChanging {
		fmt.Fprint(w, " (source is being written)")
	}
	if v.TargetWritten {
		fmt.Fprint(w, " (target written since cutover)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sample       %d documents compared, %d in flight, %d mismatching fields, max vector diff %.3g (tolerance %.3g)\n",
		v.Sampled, v.InFlight, len(v.Mismatches), v.MaxVectorDiff, v.VectorTol)
	for _, m := range v.Mismatches {
		fmt.Fprintf(w, "  %q %s: source %s, target %s\n", m.ID, m.Field, m.Source, m.Target)
	}
	fmt.Fprintf(w, "recall@%d    %.3f mean, %.3f worst over %d queries (threshold %.2f)\n", v.K, v.Recall, v.MinRecall, v.Queries, v.RecallThreshold)
	fmt.Fprintf(w, "overlap@%d   %.3f between source and target top-%d (reported, not judged)\n", v.K, v.Overlap, v.K)
	fmt.Fprintf(w, "pass         %t\n", v.Pass)
	for _, p := range v.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
}
