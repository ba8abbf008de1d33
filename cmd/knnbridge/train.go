package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/pq"
)

func init() { rootCmd.AddCommand(newTrainCmd()) }

type trainFlags struct {
	input, queries, out string
	nq, maxVectors      int
	metric              string
	nlists, ms, nbits   string
	nprobes             string
	target              float64
	recallAt            int
	seed                int64
	threads             int
	addVectors, quiet   bool
}

func newTrainCmd() *cobra.Command {
	f := &trainFlags{}
	cmd := &cobra.Command{
		Use:   "train --input vectors.fvecs|.npy",
		Short: "Train IVF / IVF-PQ locally, evaluate recall and memory, write a faiss codebook",
		Long: `train reads float32 vectors (.fvecs or .npy), holds out queries, trains every
combination of --nlist, --m and --nbits (m=0 means IVF-Flat), measures recall@1/10/100
against exact ground truth at each --nprobe, quantization MSE and bytes per vector,
recommends the setting with the least memory that reaches --target-recall, and writes
it with --out in faiss's binary format (trained and empty, like a k-NN plugin model;
--add-vectors includes the vectors).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "", "vectors to train on and index (.fvecs or .npy float32)")
	fl.StringVar(&f.queries, "queries", "", "query vectors (default: hold out --nq vectors from --input)")
	fl.IntVar(&f.nq, "nq", 1000, "queries held out from --input when --queries is not given")
	fl.IntVar(&f.maxVectors, "max-vectors", 0, "read at most this many vectors from --input (0: all)")
	fl.StringVar(&f.metric, "metric", "l2", "l2 or ip")
	fl.StringVar(&f.nlists, "nlist", "1024", "comma-separated nlist values")
	fl.StringVar(&f.ms, "m", "16", "comma-separated PQ M values (0 = IVF-Flat)")
	fl.StringVar(&f.nbits, "nbits", "8", "comma-separated PQ nbits values (4..8)")
	fl.StringVar(&f.nprobes, "nprobe", "1,8,16,64", "comma-separated nprobe values to evaluate")
	fl.Float64Var(&f.target, "target-recall", 0.9, "recall the recommendation must reach")
	fl.IntVar(&f.recallAt, "recall-at", 10, "k of the target recall: 1, 10 or 100")
	fl.Int64Var(&f.seed, "seed", pq.DefaultSeed, "random seed (faiss's default 1234)")
	fl.IntVar(&f.threads, "threads", 0, "threads (0: all cores)")
	fl.StringVar(&f.out, "out", "", "write the recommended index here (faiss format)")
	fl.BoolVar(&f.addVectors, "add-vectors", false, "include the indexed vectors in --out")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress on stderr")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

func parseInts(name, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--%s: %q is not a non-negative integer", name, p)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s: no values", name)
	}
	return out, nil
}

func runTrain(ctx context.Context, cmd *cobra.Command, f *trainFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	metric, err := pq.ParseMetric(f.metric)
	if err != nil {
		return err
	}
	cfg := pq.SweepConfig{Metric: metric, TargetRecall: f.target, RecallAt: f.recallAt, Threads: f.threads,
		Train: pq.DefaultIVFTrainConfig()}
	cfg.Train.Seed, cfg.Train.Threads = f.seed, f.threads
	if cfg.Nlists, err = parseInts("nlist", f.nlists); err != nil {
		return err
	}
	if cfg.Ms, err = parseInts("m", f.ms); err != nil {
		return err
	}
	if cfg.NBits, err = parseInts("nbits", f.nbits); err != nil {
		return err
	}
	if cfg.Nprobes, err = parseInts("nprobe", f.nprobes); err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	if !f.quiet {
		cfg.Progress = func(s string) { fmt.Fprintln(stderr, "train:", s) }
	}
	x, d, err := pq.ReadVectorsFile(f.input, f.maxVectors)
	if err != nil {
		return err
	}
	n := len(x) / d
	var queries, base []float32
	if f.queries != "" {
		q, qd, err := pq.ReadVectorsFile(f.queries, 0)
		if err != nil {
			return err
		}
		if qd != d {
			return fmt.Errorf("--queries: dimension %d differs from --input's %d", qd, d)
		}
		queries, base = q, x
	} else {
		if f.nq <= 0 || f.nq >= n {
			return fmt.Errorf("--nq=%d: must be between 1 and the %d input vectors - 1", f.nq, n)
		}
		// hold out the last nq vectors: never trained on nor indexed
		queries, base = x[(n-f.nq)*d:], x[:(n-f.nq)*d]
	}
	rep, err := pq.Sweep(ctx, base, base, queries, d, cfg)
	if err != nil {
		return err
	}
	if err := printTrainReport(cmd, rep); err != nil {
		return err
	}
	if f.out != "" {
		ix := rep.RecommendedIndex()
		if ix == nil {
			return fmt.Errorf("nothing written to %s: %s", f.out, rep.Reason)
		}
		if rep.Recommended != nil {
			ix.Nprobe = rep.Recommended.Nprobe
		}
		if f.addVectors {
			if err := ix.Add(base, nil, f.threads); err != nil {
				return err
			}
		}
		if err := pq.WriteIndexFile(f.out, ix); err != nil {
			return err
		}
		if !f.quiet {
			fmt.Fprintf(stderr, "train: wrote %s (%s, nprobe=%d)\n", f.out, rep.Recommended.Index, ix.Nprobe)
		}
	}
	return nil
}

func printTrainReport(cmd *cobra.Command, rep *pq.Report) error {
	out := cmd.OutOrStdout()
	if outputFormat == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "%d base vectors, %d queries, d=%d, metric=%s\n", rep.N, rep.NQ, rep.D, rep.Metric)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "index\tnprobe\tR@1\tR@10\tR@100\tMSE\tbytes/vec\tQPS\ttrain s\t")
	for _, p := range rep.Points {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.4g\t%.1f\t%.0f\t%.1f\t\n", p.Index, p.Nprobe, p.Recall1, p.Recall10, p.Recall100, p.MSE, p.BytesPerVector, p.QPS, p.TrainSeconds)
	}
	tw.Flush()
	for _, w := range rep.Warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	if rep.Recommended != nil {
		fmt.Fprintf(out, "recommended: %s nprobe=%d (%s)\n", rep.Recommended.Index, rep.Recommended.Nprobe, rep.Reason)
	} else {
		fmt.Fprintln(out, "no recommendation:", rep.Reason)
	}
	return nil
}
