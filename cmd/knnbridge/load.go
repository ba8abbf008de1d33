package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/ingest"
	"github.com/knnbridge/knnbridge/native/embed"
)

func init() { rootCmd.AddCommand(newLoadCmd()) }

type loadFlags struct {
	index, format, checkpoint, tune, onBad, rejects, progress string
	idIn, vecIn, textIn, vecField, textField                  string
	resume, warmup, embed                                     bool
	senders, batchDocs, forceMerge                            int
	batchMB                                                   float64
}

func newLoadCmd() *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:   "load FILE --index NAME",
		Short: "Bulk-load vectors and documents into a k-NN index, losslessly",
		Long: `Streams FILE (fvecs, ivecs, bvecs, npy, jsonl, csv, parquet) into an existing
index. Every vector is checked against the index mapping first (dimension,
NaN/Inf, zero vectors for cosinesimil, byte ranges); bulk items refused with
429 or 5xx are retried with backoff, 4xx items are reported with their input
position and reason. Progress is checkpointed after every acknowledged batch:
after a crash or Ctrl-C, run the same command with --resume.

While loading, an empty index gets refresh_interval -1 and 0 replicas; the
original values are restored at the end, on error and on Ctrl-C (after a
SIGKILL, by the next --resume). At the end the index is refreshed and its
count must equal the accepted documents.

Exit codes: 0 done, 1 error, 2 cluster unreachable, 4 done but some records
were rejected.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runLoad(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.index, "index", "", "target index (must exist, with its knn_vector mapping)")
	fl.StringVar(&f.format, "format", "", "input format (default: from the extension)")
	fl.BoolVar(&f.resume, "resume", false, "continue from the checkpoint of an interrupted load")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint file (default FILE.INDEX.knnbridge-checkpoint.json)")
	fl.StringVar(&f.tune, "tune", "auto", "refresh -1 / replicas 0 during the load: auto (when the index is empty), on, off")
	fl.IntVar(&f.senders, "senders", 0, "concurrent bulk requests (default: 2 per data node)")
	fl.Float64Var(&f.batchMB, "batch-mb", 5, "bulk request size cap in MB")
	fl.IntVar(&f.batchDocs, "batch-docs", 1000, "bulk request document cap (smaller batches keep every write thread of a small node busy)")
	fl.StringVar(&f.onBad, "on-bad", "reject", "records that cannot be indexed: reject (skip and report) or abort")
	fl.StringVar(&f.rejects, "rejects", "", "append rejected records (position, id, reason) as JSONL to this file")
	fl.IntVar(&f.forceMerge, "force-merge", 0, "force-merge to at most N segments at the end (0: no)")
	fl.BoolVar(&f.warmup, "warmup", false, "k-NN warm-up at the end (loads faiss/nmslib graphs)")
	fl.BoolVar(&f.embed, "embed", false, "embed text-only records with the embedder configured by KNNBRIDGE_EMBED_*")
	fl.StringVar(&f.idIn, "id-field", "id", "input field/column holding the document id")
	fl.StringVar(&f.vecIn, "input-vector-field", "vector", "input field/column holding the vector")
	fl.StringVar(&f.textIn, "input-text-field", "text", "input field/column holding the text")
	fl.StringVar(&f.vecField, "vector-field", "vector", "index knn_vector field")
	fl.StringVar(&f.textField, "text-field", "text", "index text field")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar: auto (on a terminal), on, off (periodic log lines)")
	cmd.MarkFlagRequired("index")
	return cmd
}

type rejectedError struct{ n int64 }

func (e rejectedError) Error() string {
	return fmt.Sprintf("%d records rejected (see the report)", e.n)
}
func (e rejectedError) ExitCode() int { return 4 }

func runLoad(cmd *cobra.Command, input string, f loadFlags) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if ctx == nil {
		ctx = context.Background()
	}
	lcfg := zap.NewDevelopmentConfig()
	lcfg.DisableStacktrace = true
	lcfg.DisableCaller = true
	log, _ := lcfg.Build()
	defer log.Sync()

	c, err := newClusterClient()
	if err != nil {
		return err
	}
	opts := bridge.LoadOptions{
		Input: input, Format: f.format, Index: f.index, Checkpoint: f.checkpoint, Resume: f.resume,
		Fields:      ingest.Options{IDField: f.idIn, VectorField: f.vecIn, TextField: f.textIn},
		VectorField: f.vecField, TextField: f.textField,
		Senders: f.senders, MaxBatchBytes: int(f.batchMB * (1 << 20)), MaxBatchDocs: f.batchDocs,
		ForceMerge: f.forceMerge, Warmup: f.warmup,
		Log: func(msg string, kv ...any) { log.Sugar().Infow(msg, kv...) },
	}
	switch f.tune {
	case "auto":
	case "on", "off":
		v := f.tune == "on"
		opts.Tune = &v
	default:
		return fmt.Errorf("--tune %q: want auto, on or off", f.tune)
	}
	switch f.onBad {
	case "reject":
	case "abort":
		opts.OnBad = ingest.Abort
	default:
		return fmt.Errorf("--on-bad %q: want reject or abort", f.onBad)
	}
	if f.embed {
		ec, err := embed.ConfigFromEnv()
		if err != nil {
			return err
		}
		e, err := embed.New(ec)
		if err != nil {
			return err
		}
		opts.Embedder = e
	}
	var rejw io.Writer
	if f.rejects != "" {
		rf, err := os.OpenFile(f.rejects, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer rf.Close()
		rejw = rf
	}
	nrej := 0
	opts.OnReject = func(r ingest.Rejection) {
		if rejw != nil {
			b, _ := json.Marshal(r)
			rejw.Write(append(b, '\n'))
		}
		if nrej < 20 {
			log.Warn("rejected", zap.String("at", r.Pos.String()), zap.String("id", r.ID), zap.String("stage", r.Stage), zap.String("reason", r.Reason))
		} else if nrej == 20 {
			log.Warn("more rejections are not logged; see --rejects and the report")
		}
		nrej++
	}
	var lastRetryLog time.Time
	opts.OnRetry = func(n int, why string) {
		if time.Since(lastRetryLog) > 5*time.Second {
			lastRetryLog = time.Now()
			log.Info("retrying", zap.Int("items", n), zap.String("last_failure", why))
		}
	}
	st, err := os.Stat(input)
	if err != nil {
		return err
	}
	size := st.Size()
	bar := f.progress == "on" || (f.progress == "auto" && term.IsTerminal(int(os.Stderr.Fd())))
	if bar {
		pb := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("loading"), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(true))
		start := time.Now()
		opts.Progress = func(s ingest.Stats) {
			if s.Offset >= 0 && s.Read > 0 {
				// The reader runs ahead of the cluster by the batches in
				// flight: scale its offset by the acknowledged fraction.
				pb.Set64(int64(float64(s.Offset) * float64(s.Accepted+s.Rejected) / float64(s.Read)))
			}
			rate := float64(s.Accepted) / time.Since(start).Seconds()
			pb.Describe(fmt.Sprintf("%d docs (%.0f docs/s, %d rejected, %d retried)", s.Accepted, rate, s.Rejected, s.Retried))
		}
		defer pb.Finish()
	} else {
		start := time.Now()
		var last time.Time
		opts.Progress = func(s ingest.Stats) {
			if time.Since(last) < 10*time.Second {
				return
			}
			last = time.Now()
			el := time.Since(start).Seconds()
			fields := []zap.Field{zap.Int64("read", s.Read), zap.Int64("accepted", s.Accepted), zap.Int64("rejected", s.Rejected),
				zap.Int64("retried", s.Retried), zap.Float64("docs_per_s", float64(s.Accepted)/el),
				zap.Float64("mb_per_s", float64(s.BytesSent)/el/1e6)}
			if s.Offset > 0 && size > 0 && s.Read > 0 {
				frac := float64(s.Offset) / float64(size) * float64(s.Accepted+s.Rejected) / float64(s.Read)
				fields = append(fields, zap.Float64("done_pct", 100*frac))
				if frac > 0 {
					fields = append(fields, zap.Duration("eta", time.Duration(el*(1-frac)/frac*float64(time.Second)).Round(time.Second)))
				}
			}
			log.Info("progress", fields...)
		}
	}
	if lim := loadMemoryLimit(ctx, c, input, f, opts); lim > 0 {
		debug.SetMemoryLimit(lim)
		log.Debug("soft memory limit", zap.Int64("bytes", lim))
	}
	rep, err := c.Load(ctx, opts)
	if err != nil {
		var be *bridge.Error
		if !errors.As(err, &be) && rep.Read == 0 && ctx.Err() == nil {
			// nothing got through: most likely the cluster is unreachable
			if _, ierr := c.Info(context.Background()); ierr != nil {
				return clusterError{err}
			}
		}
		printLoadReport(cmd.OutOrStdout(), rep)
		return err
	}
	printLoadReport(cmd.OutOrStdout(), rep)
	if rep.Rejected > 0 {
		return rejectedError{rep.Rejected}
	}
	return nil
}

// loadMemoryLimit returns the Go soft memory limit for a load of a
// vector-only file (fvecs/ivecs/bvecs/npy), derived from the configuration:
// 1.5 × the bulk bodies that can exist at once (senders + 2, each the
// smaller of the byte cap and batch-docs × an upper estimate of one
// encoded document of the field's dimension) + 8 MiB for the reader's
// buffer, records in flight and the runtime. The loader's live data is
// bounded by the same terms (ingest.Loader), so the limit only removes the
// garbage headroom that otherwise depends on how long the run lasted: peak
// RSS is then the same for 100k and 1M vectors (issue 7; measured 34.3 MB
// for both with 128-d vectors, against 36–42 MB varying from run to run
// without it). 0 = leave the runtime alone: GOMEMLIMIT set by the user, an
// embedder (model weights are live data of unknown size), or a format whose
// reader holds input-dependent buffers (Parquet row groups, long JSONL/CSV
// lines), where a limit below the live data would only make the collector
// work harder.
func loadMemoryLimit(ctx context.Context, c *bridge.Client, input string, f loadFlags, opts bridge.LoadOptions) int64 {
	if os.Getenv("GOMEMLIMIT") != "" || opts.Embedder != nil {
		return 0
	}
	format := f.format
	if format == "" {
		format, _ = ingest.FormatOf(input)
	}
	switch format {
	case "fvecs", "ivecs", "bvecs", "npy":
	default:
		return 0
	}
	field, err := c.LoadVectorField(ctx, opts.Index, opts.VectorField)
	if err != nil || field.Dimension <= 0 {
		return 0 // Load reports the problem
	}
	senders := opts.Senders
	if senders <= 0 {
		senders = c.LoadDefaultSenders(ctx)
	}
	// Up to 16 bytes per component ("-1.2345678e-38,") plus the action line.
	perDoc := int64(field.Dimension)*16 + 96
	batch := min(int64(opts.MaxBatchBytes), int64(opts.MaxBatchDocs)*perDoc)
	if batch <= 0 {
		return 0
	}
	return int64(senders+2)*batch*3/2 + 8<<20
}

func printLoadReport(w io.Writer, rep bridge.LoadReport) {
	if outputFormat == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "index\t%s\n", rep.Index)
	fmt.Fprintf(tw, "read\t%d\n", rep.Read)
	fmt.Fprintf(tw, "accepted\t%d\n", rep.Accepted)
	fmt.Fprintf(tw, "rejected\t%d\n", rep.Rejected)
	fmt.Fprintf(tw, "retried items\t%d\n", rep.Retried)
	fmt.Fprintf(tw, "index count\t%d (before load %d)\n", rep.IndexCount, rep.BaseCount)
	fmt.Fprintf(tw, "senders\t%d\n", rep.Senders)
	fmt.Fprintf(tw, "elapsed\t%s (%.0f docs/s)\n", rep.Elapsed.Round(time.Millisecond), rep.DocsPerSec)
	fmt.Fprintf(tw, "settings\ttuned=%t restored=%t\n", rep.Tuned, rep.Restored)
	if rep.Segments > 0 {
		fmt.Fprintf(tw, "segments\t%d (after force-merge)\n", rep.Segments)
	}
	if rep.WarmedShards > 0 {
		fmt.Fprintf(tw, "k-NN warm-up\t%d shards\n", rep.WarmedShards)
	}
	tw.Flush()
	for i, r := range rep.Rejections {
		if i == 20 {
			fmt.Fprintf(w, "... %d more\n", len(rep.Rejections)-20)
			break
		}
		fmt.Fprintf(w, "rejected %s id=%q %s: %s\n", r.Pos, r.ID, r.Stage, r.Reason)
	}
}
