package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/queries"
)

func init() { rootCmd.AddCommand(newBenchCmd()) }

type benchOptions struct {
	index, field string
	queries, k   int
	efs          string
	png          string
	seed         int64
	warmup       int
}

// BenchPoint is the recall and latency of one ef_search setting.
type BenchPoint struct {
	EfSearch int     `json:"ef_search"`
	Recall   float64 `json:"recall_at_k"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	MeanMs   float64 `json:"mean_ms"`
	TookP50  float64 `json:"server_took_p50_ms"`
}

// BenchReport is the outcome of `knnbridge bench`.
type BenchReport struct {
	Index   string       `json:"index"`
	Field   string       `json:"field"`
	Space   string       `json:"space"`
	Engine  string       `json:"engine"`
	Docs    int64        `json:"documents"`
	Queries int          `json:"queries"`
	K       int          `json:"k"`
	Points  []BenchPoint `json:"points"`
	ExactMs float64      `json:"exact_p50_ms"`
	PNG     string       `json:"png,omitempty"`
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Recall@k and latency of a live k-NN index against exact ground truth, with a PNG plot",
		Long: `Measure a live index: query vectors are sampled from the index itself
(seeded random_score); each query's own document is excluded from both
lists, so a query never finds itself. The ground truth is exact
brute-force search in the cluster (the knn_score script); the approximate
search is the knn query at each --ef value (method_parameters.ef_search,
2.16+). Latency is the client-side wall time of one search over HTTP,
queries one at a time after --warmup unmeasured ones.

The plot (--png) shows recall@k against p50 latency, one point per ef.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.index == "" {
				return errors.New("--index is required")
			}
			c, err := newClusterClient()
			if err != nil {
				return err
			}
			rep, err := runBench(cmd.Context(), c, o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return printBench(cmd.OutOrStdout(), rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.index, "index", "", "index to measure (required)")
	f.StringVar(&o.field, "field", "", "knn_vector field (default: the only one)")
	f.IntVar(&o.queries, "queries", 100, "query vectors sampled from the index")
	f.IntVar(&o.k, "k", 10, "k of recall@k")
	f.StringVar(&o.efs, "ef", "10,20,40,80,160,320", "ef_search values, comma separated")
	f.StringVar(&o.png, "png", "bench-recall-latency.png", "write the recall/latency plot here (\"\" for none)")
	f.Int64Var(&o.seed, "seed", 1, "sampling seed")
	f.IntVar(&o.warmup, "warmup", 10, "unmeasured searches before each ef")
	return cmd
}

func runBench(ctx context.Context, c *bridge.Client, o benchOptions, progress io.Writer) (*BenchReport, error) {
	if o.k < 1 || o.k+1 > queries.MaxK {
		return nil, fmt.Errorf("--k %d outside 1..%d", o.k, queries.MaxK-1)
	}
	if o.queries < 1 {
		return nil, fmt.Errorf("--queries must be ≥ 1")
	}
	var efs []int
	for _, s := range strings.Split(o.efs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--ef %q: want positive integers", o.efs)
		}
		efs = append(efs, n)
	}
	esc := url.PathEscape(o.index)
	raw, err := c.Do(ctx, http.MethodGet, "/"+esc+"/_mapping", nil)
	if err != nil {
		return nil, clusterError{err}
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, clusterError{err}
	}
	v, _ := queries.ParseVersion(info.Version)
	field := o.field
	if field == "" {
		if field, err = onlyVectorField(raw); err != nil {
			return nil, err
		}
	}
	fi, err := queries.ParseFieldInfo(raw, field, v)
	if err != nil {
		return nil, err
	}
	var count struct {
		Count int64 `json:"count"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/"+esc+"/_count", nil, &count); err != nil {
		return nil, clusterError{err}
	}
	rep := &BenchReport{Index: o.index, Field: field, Space: string(fi.Space), Engine: string(fi.Engine), Docs: count.Count, K: o.k}

	// Query vectors: a seeded sample of the index's own vectors.
	body := map[string]any{"size": o.queries, "_source": []string{field}, "query": map[string]any{"function_score": map[string]any{
		"query": map[string]any{"exists": map[string]any{"field": field}}, "random_score": map[string]any{"seed": o.seed, "field": "_seq_no"}, "boost_mode": "replace"}}}
	var sample struct {
		Hits struct {
			Hits []struct {
				ID     string                     `json:"_id"`
				Source map[string]json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.DoJSON(ctx, http.MethodPost, "/"+esc+"/_search", body, &sample); err != nil {
		return nil, clusterError{err}
	}
	type query struct {
		id  string
		vec []float32
	}
	var qs []query
	for _, h := range sample.Hits.Hits {
		var vec []float32
		if json.Unmarshal(h.Source[field], &vec) == nil && len(vec) > 0 {
			qs = append(qs, query{h.ID, vec})
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("no vectors found in %s.%s (nested fields are not supported by bench)", o.index, field)
	}
	rep.Queries = len(qs)
	src := &queries.Source{Disabled: true}
	search := func(b []byte) ([]string, float64, time.Duration, error) {
		t0 := time.Now()
		var out struct {
			Took float64 `json:"took"`
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		err := c.DoJSON(ctx, http.MethodPost, "/"+esc+"/_search", b, &out)
		d := time.Since(t0)
		ids := make([]string, 0, len(out.Hits.Hits))
		for _, h := range out.Hits.Hits {
			ids = append(ids, h.ID)
		}
		return ids, out.Took, d, err
	}
	without := func(ids []string, self string, k int) []string {
		out := make([]string, 0, k)
		for _, id := range ids {
			if id != self && len(out) < k {
				out = append(out, id)
			}
		}
		return out
	}
	fmt.Fprintf(progress, "bench: %s.%s (%s, %s), %d documents, %d queries, recall@%d; exact ground truth...\n", o.index, field, fi.Space, fi.Engine, count.Count, len(qs), o.k)
	gt := make([][]string, len(qs))
	var exactLat []float64
	for i, q := range qs {
		b, err := queries.Exact{Field: field, Vector: q.vec, Space: fi.ScriptSpace(), Size: o.k + 1, Source: src}.Body()
		if err != nil {
			return nil, err
		}
		ids, _, d, err := search(b)
		if err != nil {
			return nil, clusterError{fmt.Errorf("exact search: %w", err)}
		}
		gt[i] = without(ids, q.id, o.k)
		exactLat = append(exactLat, float64(d.Microseconds())/1000)
	}
	rep.ExactMs = percentile(exactLat, 0.5)
	for _, ef := range efs {
		knn := func(q query) ([]byte, error) {
			return queries.KNN{Field: field, Vector: q.vec, K: o.k + 1, Size: o.k + 1, Engine: fi.Engine, EfSearch: ef, Source: src}.Body()
		}
		for i := 0; i < o.warmup; i++ {
			b, err := knn(qs[i%len(qs)])
			if err != nil {
				return nil, err
			}
			if _, _, _, err := search(b); err != nil {
				return nil, clusterError{err}
			}
		}
		var lat, took []float64
		hits := 0
		for i, q := range qs {
			b, err := knn(q)
			if err != nil {
				return nil, err
			}
			ids, tk, d, err := search(b)
			if err != nil {
				return nil, clusterError{fmt.Errorf("knn search ef_search=%d: %w", ef, err)}
			}
			lat = append(lat, float64(d.Microseconds())/1000)
			took = append(took, tk)
			set := map[string]bool{}
			for _, id := range gt[i] {
				set[id] = true
			}
			for _, id := range without(ids, q.id, o.k) {
				if set[id] {
					hits++
				}
			}
		}
		p := BenchPoint{EfSearch: ef, Recall: float64(hits) / float64(len(qs)*o.k), P50ms: percentile(lat, 0.5), P90ms: percentile(lat, 0.9), P99ms: percentile(lat, 0.99), MeanMs: mean(lat), TookP50: percentile(took, 0.5)}
		rep.Points = append(rep.Points, p)
		fmt.Fprintf(progress, "bench: ef_search=%d recall@%d=%.4f p50=%.1fms p99=%.1fms\n", ef, o.k, p.Recall, p.P50ms, p.P99ms)
	}
	if o.png != "" {
		if err := benchPlot(rep, o.png); err != nil {
			return nil, fmt.Errorf("writing %s: %w", o.png, err)
		}
		rep.PNG = o.png
	}
	return rep, nil
}

func onlyVectorField(raw []byte) (string, error) {
	var m map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	var fields []string
	for _, ix := range m {
		for name, p := range ix.Mappings.Properties {
			if p.Type == "knn_vector" {
				fields = append(fields, name)
			}
		}
	}
	sort.Strings(fields)
	if len(fields) != 1 {
		return "", fmt.Errorf("the index has %d top-level knn_vector fields (%s): name one with --field", len(fields), strings.Join(fields, ", "))
	}
	return fields[0], nil
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

func benchPlot(rep *BenchReport, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s.%s: recall@%d vs p50 latency (%d queries, %d docs)", rep.Index, rep.Field, rep.K, rep.Queries, rep.Docs)
	p.X.Label.Text = fmt.Sprintf("recall@%d", rep.K)
	p.Y.Label.Text = "p50 latency per search (ms, client side)"
	pts := make(plotter.XYs, len(rep.Points))
	labels := make([]string, len(rep.Points))
	for i, pt := range rep.Points {
		pts[i] = plotter.XY{X: pt.Recall, Y: pt.P50ms}
		labels[i] = fmt.Sprintf("ef=%d", pt.EfSearch)
	}
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
	if err != nil {
		return err
	}
	p.Add(line, points, lbl, plotter.NewGrid())
	// Recall lives in [0, 1]; keep 1.0 at the right edge so runs compare.
	lo := 1.0
	for _, pt := range rep.Points {
		lo = min(lo, pt.Recall)
	}
	p.X.Min, p.X.Max = max(0, lo-0.05), 1.0
	p.Y.Min = 0
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

func printBench(w io.Writer, rep *BenchReport) error {
	if outputFormat == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "index %s field %s (%s, %s): %d documents, %d queries, exact search p50 %.1f ms\n", rep.Index, rep.Field, rep.Space, rep.Engine, rep.Docs, rep.Queries, rep.ExactMs)
	fmt.Fprintf(w, "%10s %10s %9s %9s %9s %12s\n", "ef_search", fmt.Sprintf("recall@%d", rep.K), "p50 ms", "p90 ms", "p99 ms", "server p50")
	for _, p := range rep.Points {
		fmt.Fprintf(w, "%10d %10.4f %9.1f %9.1f %9.1f %12.1f\n", p.EfSearch, p.Recall, p.P50ms, p.P90ms, p.P99ms, p.TookP50)
	}
	if rep.PNG != "" {
		fmt.Fprintf(w, "plot: %s\n", rep.PNG)
	}
	return nil
}
