package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
)

// Exit codes of `knnbridge index`, for scripts.
const (
	indexExitInvalid = 1 // the spec breaks a rule
	indexExitCluster = 2 // the cluster could not be read or refused a request
	indexExitReindex = 3 // the plan needs a new index and a reindex
)

// indexExitError carries an exit code to main (which type-asserts ExitCode).
type indexExitError struct {
	code int
	err  error
}

func (e *indexExitError) Error() string { return e.err.Error() }
func (e *indexExitError) Unwrap() error { return e.err }
func (e *indexExitError) ExitCode() int { return e.code }

// indexFail classifies an error: invalid specs exit 1, the rest 2.
func indexFail(err error) error {
	var ve *mapping.ValidationError
	if errors.As(err, &ve) {
		return &indexExitError{indexExitInvalid, err}
	}
	return &indexExitError{indexExitCluster, err}
}

func init() { rootCmd.AddCommand(newIndexCmd()) }

func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Validate, plan, apply and show k-NN index specs",
		Long: `Index specs are YAML or JSON files describing an index's settings and fields
(see mapping/testdata/docs.yaml). The cluster is reached through
KNNBRIDGE_OPENSEARCH_URLS (or OPENSEARCH_URL).

Exit codes: 0 ok, 1 invalid spec, 2 cluster error, 3 plan needs a reindex.`,
	}
	cmd.AddCommand(newIndexValidateCmd(), newIndexPlanCmd(), newIndexApplyCmd(), newIndexShowCmd())
	return cmd
}

// loadSpecFile reads a spec file (YAML or JSON); name, when set, overrides the index name.
// Shared by other subcommands (migrate).
func loadSpecFile(path, name string) (*mapping.IndexSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &indexExitError{indexExitInvalid, fmt.Errorf("reading spec: %w", err)}
	}
	s, err := mapping.Load(data)
	if err != nil {
		return nil, &indexExitError{indexExitInvalid, fmt.Errorf("%s: %w", path, err)}
	}
	if name != "" {
		s.Name = name
	}
	return s, nil
}

func indexClient() (*bridge.Client, error) {
	cfg, err := bridge.ConfigFromEnv()
	if err != nil {
		return nil, &indexExitError{indexExitCluster, err}
	}
	c, err := bridge.NewClient(cfg)
	if err != nil {
		return nil, &indexExitError{indexExitCluster, err}
	}
	return c, nil
}

// writeJSON writes v as indented JSON (shared by other subcommands: migrate).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func indexPrintProblems(w io.Writer, title string, ps []mapping.Problem) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tVALUE\tRULE\tMESSAGE\tSOURCE")
	for _, p := range ps {
		v := "(missing)"
		if p.Value != nil {
			v = fmt.Sprint(p.Value)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Path, v, p.Rule, p.Message, p.Source)
	}
	tw.Flush()
}

func newIndexValidateCmd() *cobra.Command {
	var version, name string
	var render bool
	cmd := &cobra.Command{
		Use:   "validate SPEC",
		Short: "Check a spec against the k-NN rules of an OpenSearch version (offline)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := mapping.ParseVersion(version)
			if err != nil {
				return &indexExitError{indexExitInvalid, err}
			}
			s, err := loadSpecFile(args[0], name)
			if err != nil {
				return err
			}
			norm, warns, verr := s.Normalize(v)
			var problems []mapping.Problem
			var ve *mapping.ValidationError
			if errors.As(verr, &ve) {
				problems = ve.Problems
			}
			out := cmd.OutOrStdout()
			if outputFormat == "json" {
				res := map[string]any{"valid": verr == nil, "version": v.String(), "problems": problems, "warnings": warns}
				if verr == nil && render {
					body, err := mapping.Render(norm)
					if err != nil {
						return indexFail(err)
					}
					res["create_body"] = json.RawMessage(body)
				}
				if err := writeJSON(out, res); err != nil {
					return err
				}
			} else {
				indexPrintProblems(out, "problems", problems)
				indexPrintProblems(out, "warnings", warns)
				if verr == nil {
					fmt.Fprintf(out, "%s: valid for OpenSearch %s\n", args[0], v)
					if render {
						body, err := mapping.Render(norm)
						if err != nil {
							return indexFail(err)
						}
						if err := writeJSON(out, json.RawMessage(body)); err != nil {
							return err
						}
					}
				}
			}
			if verr != nil {
				return &indexExitError{indexExitInvalid, fmt.Errorf("%s: %d problems", args[0], len(problems))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "2.19.0", "OpenSearch version whose rules apply")
	cmd.Flags().StringVar(&name, "name", "", "index name (overrides the spec's)")
	cmd.Flags().BoolVar(&render, "render", false, "also print the PUT /<index> body, every default written out")
	return cmd
}

func indexPlanFlags(cmd *cobra.Command, name *string, vectors *int64, timeout *time.Duration) {
	cmd.Flags().StringVar(name, "name", "", "index name (overrides the spec's)")
	cmd.Flags().Int64Var(vectors, "vectors", 1_000_000, "vectors per k-NN field, for the memory estimate")
	cmd.Flags().DurationVar(timeout, "timeout", 2*time.Minute, "overall time limit")
}

func indexPrintPlan(w io.Writer, ip *bridge.IndexPlan, est mapping.Estimate) {
	p := ip.Plan
	indexPrintProblems(w, "warnings", ip.Warnings)
	switch {
	case p.Create:
		fmt.Fprintf(w, "index %s does not exist: it will be created (OpenSearch %s)\n", p.Index, ip.Version)
	case len(p.Changes) == 0:
		fmt.Fprintf(w, "index %s matches the spec: nothing to do\n", p.Index)
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tLIVE\tWANT\tHOW\tWHY")
		for _, c := range p.Changes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Path, indexShort(c.Live), indexShort(c.Want), c.Kind, c.Reason)
		}
		tw.Flush()
		if p.NeedsReindex() {
			fmt.Fprintf(w, "the plan needs a new index and a reindex (apply --reindex-to NEW_INDEX)\n")
		}
	}
	if len(est.Fields) > 0 {
		fmt.Fprintf(w, "memory estimate (%d cop%s):\n", est.Copies, map[bool]string{true: "y", false: "ies"}[est.Copies == 1])
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  FIELD\tPER COPY\tTOTAL\tFORMULA\tNOTE")
		for _, f := range est.Fields {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Path, mapping.HumanBytes(f.Bytes), mapping.HumanBytes(f.Total), f.Formula, f.Note)
		}
		fmt.Fprintf(tw, "  (index)\t\t%s\t\t\n", mapping.HumanBytes(est.Total))
		tw.Flush()
	}
}

func indexShort(v any) string {
	if v == nil {
		return "-"
	}
	s := fmt.Sprint(v)
	if b, err := json.Marshal(v); err == nil && (strings.HasPrefix(string(b), "{") || strings.HasPrefix(string(b), "[")) {
		s = string(b)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func indexRunPlan(cmd *cobra.Command, path, name string, timeout time.Duration) (*bridge.Client, *bridge.IndexPlan, context.Context, context.CancelFunc, error) {
	s, err := loadSpecFile(path, name)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c, err := indexClient()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	ip, err := c.PlanIndex(ctx, s)
	if err != nil {
		cancel()
		return nil, nil, nil, nil, indexFail(err)
	}
	return c, ip, ctx, cancel, nil
}

func newIndexPlanCmd() *cobra.Command {
	var name string
	var vectors int64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "plan SPEC",
		Short: "Compare a spec with the live index and say what applying it would do",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ip, _, cancel, err := indexRunPlan(cmd, args[0], name, timeout)
			if err != nil {
				return err
			}
			defer cancel()
			est := mapping.EstimateMemory(ip.Desired, mapping.EstimateInput{Vectors: vectors})
			out := cmd.OutOrStdout()
			if outputFormat == "json" {
				if err := writeJSON(out, map[string]any{"plan": ip.Plan, "needs_reindex": ip.Plan.NeedsReindex(),
					"warnings": ip.Warnings, "version": ip.Version.String(), "memory": est}); err != nil {
					return err
				}
			} else {
				indexPrintPlan(out, ip, est)
			}
			if ip.Plan.NeedsReindex() {
				return &indexExitError{indexExitReindex, fmt.Errorf("index %s: the plan needs a reindex", ip.Plan.Index)}
			}
			return nil
		},
	}
	indexPlanFlags(cmd, &name, &vectors, &timeout)
	return cmd
}

func newIndexApplyCmd() *cobra.Command {
	var name, reindexTo string
	var vectors int64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply SPEC",
		Short: "Create the index or change it in place; with --reindex-to, build a new index and reindex into it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ip, ctx, cancel, err := indexRunPlan(cmd, args[0], name, timeout)
			if err != nil {
				return err
			}
			defer cancel()
			res, err := c.ApplyIndex(ctx, ip, bridge.ApplyOptions{ReindexTo: reindexTo, ReindexTimeout: timeout})
			out := cmd.OutOrStdout()
			if errors.Is(err, bridge.ErrNeedsReindex) {
				if outputFormat != "json" {
					indexPrintPlan(out, ip, mapping.EstimateMemory(ip.Desired, mapping.EstimateInput{Vectors: vectors}))
				}
				return &indexExitError{indexExitReindex, fmt.Errorf("index %s: %w; nothing changed", ip.Plan.Index, err)}
			}
			if err != nil {
				return indexFail(err)
			}
			if outputFormat == "json" {
				return writeJSON(out, map[string]any{"plan": ip.Plan, "result": res})
			}
			indexPrintPlan(out, ip, mapping.EstimateMemory(ip.Desired, mapping.EstimateInput{Vectors: vectors}))
			switch {
			case res.ReindexedTo != "":
				fmt.Fprintf(out, "reindexed %d documents from %s into %s (created: %v); switch aliases when checked\n", res.Reindexed, ip.Plan.Index, res.ReindexedTo, res.Created)
			case res.Created:
				fmt.Fprintf(out, "created %s\n", ip.Plan.Index)
			case res.Changed():
				fmt.Fprintf(out, "updated %s in place (settings: %v, mapping: %v)\n", ip.Plan.Index, res.SettingsUpdated, res.MappingUpdated)
			default:
				fmt.Fprintf(out, "%s: no change\n", ip.Plan.Index)
			}
			return nil
		},
	}
	indexPlanFlags(cmd, &name, &vectors, &timeout)
	cmd.Flags().StringVar(&reindexTo, "reindex-to", "", "when the plan needs a reindex: create the spec under this name and _reindex into it")
	return cmd
}

func newIndexShowCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "show INDEX",
		Short: "Read a live index back as a spec (YAML, or JSON with -o json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := indexClient()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			v, err := c.ClusterVersion(ctx)
			if err != nil {
				return indexFail(err)
			}
			live, err := c.ReadIndex(ctx, args[0], v)
			if err != nil {
				return indexFail(err)
			}
			if live == nil {
				return &indexExitError{indexExitCluster, fmt.Errorf("index %s does not exist", args[0])}
			}
			out := cmd.OutOrStdout()
			if outputFormat == "json" {
				return writeJSON(out, map[string]any{"spec": live.Spec, "unmanaged": live.Unmanaged})
			}
			b, err := yaml.Marshal(live.Spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "# %s as read from OpenSearch %s, defaults written out\n", args[0], v)
			for _, u := range live.Unmanaged {
				fmt.Fprintf(out, "# not managed by specs: %s\n", u)
			}
			_, err = out.Write(b)
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "overall time limit")
	return cmd
}
