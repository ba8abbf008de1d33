package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/native/embed"
	"github.com/knnbridge/knnbridge/queries"
)

// Embedder turns query text into vectors. The search command needs one
// only for --text without --vector in knn/hybrid mode.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// searchEmbedder supplies the Embedder for `search --text` without
// --vector: the one KNNBRIDGE_EMBED_* describes (local model by default,
// or an HTTP service), as `knnbridge embed` uses. Tests may replace it.
var searchEmbedder = func(ctx context.Context) (Embedder, error) {
	cfg, err := embed.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return embed.New(cfg)
}

func init() { rootCmd.AddCommand(newSearchCmd()) }

type searchOpts struct {
	index, mode, vectorField, vector, text, textFields string
	k, from, size, depth                               int
	filter                                             string
	minSim                                             float64
	fallback                                           string
	exact, parallel, dedupeByID, explain, noSource     bool
	efSearch, nprobes                                  int
	operator, msm, fuzziness                           string
	norm, comb, weights                                string
	rankConstant                                       int
	topK, autocut                                      int
	gap, gapRel, cumulative                            float64
	source                                             string
	after, lowerBounds, upperBounds                    string
}

func newSearchCmd() *cobra.Command { return newSearchCmdWith(&searchOpts{}) }

func newSearchCmdWith(op *searchOpts) *cobra.Command {
	o := op
	cmd := &cobra.Command{
		Use:   "search",
		Short: "k-NN, BM25 or hybrid search with thresholds in natural units, fusion, cut-offs and explanations",
		Long: `Runs a k-NN, BM25 or hybrid (BM25 + k-NN) search. Hybrid runs both
sub-queries in one _msearch round trip (or two parallel requests with
--parallel), normalizes and fuses them client-side with neural-search's
semantics, then applies cut-offs.

--min-similarity is in the field's natural units: cosine or inner product
(at least), euclidean/l1/linf/hamming distance (at most). It becomes a
radial min_score where the cluster's radial search is correct, and exact
search (or client-side filtering, --threshold-fallback client) elsewhere.`,
		Example: `  knnbridge search --index docs --vector-field emb --vector '[0.1,0.2,0.3]' --k 5 --min-similarity 0.8
  knnbridge search --index docs --mode hybrid --text "solar panels" --text-fields title^2,body \
      --vector-field emb --vector '[...]' --norm min_max --combination arithmetic_mean --weights 0.3,0.7 --explain -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSearch(cmd, *o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.index, "index", "", "index or indices (comma separated) to search (required)")
	f.StringVar(&o.mode, "mode", "", "knn, bm25 or hybrid (default: hybrid with text and a vector, else whichever is given)")
	f.StringVar(&o.vectorField, "vector-field", "", "knn_vector field")
	f.StringVar(&o.vector, "vector", "", "query vector: JSON array or comma-separated numbers")
	f.StringVar(&o.text, "text", "", "query text (BM25 side; embedded for the k-NN side when --vector is absent)")
	f.StringVar(&o.textFields, "text-fields", "", "BM25 fields with optional boosts, e.g. title^2,body")
	f.IntVar(&o.k, "k", 10, "number of results wanted (k that means k)")
	f.IntVar(&o.from, "from", 0, "page offset")
	f.IntVar(&o.size, "size", 0, "page size (default k)")
	f.StringVar(&o.after, "after", "", "page cursor: the results after this token (printed as \"next\" by the previous page); instead of --from, with the same --depth")
	f.IntVar(&o.depth, "depth", 0, "hybrid: candidates per sub-query (default max(k, from+size)); keep constant across pages")
	f.StringVar(&o.filter, "filter", "", "query DSL filter (JSON object) applied to both sides")
	f.Float64Var(&o.minSim, "min-similarity", 0, "threshold in natural units (cosine/inner product ≥, distances ≤); in hybrid mode it limits the k-NN side's candidates")
	f.StringVar(&o.fallback, "threshold-fallback", "exact", "where radial search is unavailable: exact or client")
	f.BoolVar(&o.exact, "exact", false, "exact k-NN via the knn_score script (ground truth)")
	f.IntVar(&o.efSearch, "ef-search", 0, "method_parameters.ef_search")
	f.IntVar(&o.nprobes, "nprobes", 0, "method_parameters.nprobes (faiss IVF)")
	f.StringVar(&o.operator, "operator", "", "BM25 operator: and or or")
	f.StringVar(&o.msm, "minimum-should-match", "", "BM25 minimum_should_match")
	f.StringVar(&o.fuzziness, "fuzziness", "", "BM25 fuzziness (AUTO, 1, 2)")
	f.StringVar(&o.norm, "norm", "min_max", "hybrid normalization: min_max, l2, z_score, rrf, dbsf, none")
	f.StringVar(&o.comb, "combination", "", "hybrid combination: arithmetic_mean, geometric_mean, harmonic_mean, sum (default per normalization)")
	f.StringVar(&o.weights, "weights", "", "hybrid weights, BM25 first (e.g. 0.3,0.7; must sum to 1 except for dbsf)")
	f.IntVar(&o.rankConstant, "rank-constant", 0, "RRF rank constant (default 60)")
	f.StringVar(&o.lowerBounds, "lower-bounds", "", "hybrid min_max lower bounds, one per sub-query, BM25 first: [apply:|clip:|ignore:]SCORE or - for none (e.g. clip:0.2,-)")
	f.StringVar(&o.upperBounds, "upper-bounds", "", "hybrid min_max upper bounds, as --lower-bounds (e.g. -,apply:0.95)")
	f.BoolVar(&o.parallel, "parallel", false, "hybrid: two parallel requests instead of one _msearch")
	f.IntVar(&o.topK, "top-k", 0, "cut-off: keep at most this many")
	f.Float64Var(&o.gap, "gap", 0, "cut-off: stop at the first score drop larger than this")
	f.Float64Var(&o.gapRel, "gap-rel", 0, "cut-off: stop at the first drop larger than this share of the previous score")
	f.IntVar(&o.autocut, "autocut", 0, "cut-off: stop at the N-th jump (Weaviate autocut)")
	f.Float64Var(&o.cumulative, "cumulative", 0, "cut-off: keep until scores add up to this share of the total")
	f.StringVar(&o.source, "source", "", "_source fields to return (comma separated; default all but the --vector-field; * for all)")
	f.BoolVar(&o.noSource, "no-source", false, "return no _source")
	f.BoolVar(&o.dedupeByID, "dedupe-by-id", false, "treat the same id in several indices as one document")
	f.BoolVar(&o.explain, "explain", false, "show per-hit raw, normalized and fused scores")
	return cmd
}

// parseVector reads "[1, 2.5]" or "1,2.5".
func parseVector(s string) ([]float32, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var v []float32
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("--vector: %w", err)
		}
		return v, nil
	}
	var v []float32
	for i, p := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("--vector: element %d (%q): %w", i, p, err)
		}
		v = append(v, float32(x))
	}
	return v, nil
}

func parseWeights(s string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var w []float64
	for i, p := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("--weights: element %d (%q): %w", i, p, err)
		}
		w = append(w, x)
	}
	return w, nil
}

// parseBounds reads --lower-bounds / --upper-bounds: comma-separated
// entries aligned with the sub-queries, each "-" (no bound), SCORE (mode
// apply) or MODE:SCORE, as neural-search's lower_bounds/upper_bounds
// entries {"mode", "min_score"/"max_score"}.
func parseBounds(flag, s string) ([]*queries.Bound, error) {
	if s == "" {
		return nil, nil
	}
	var out []*queries.Bound
	for i, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "-" || p == "" {
			out = append(out, nil)
			continue
		}
		var b queries.Bound
		num := p
		if m, rest, ok := strings.Cut(p, ":"); ok {
			b.Mode, num = queries.BoundMode(m), rest
			switch b.Mode {
			case queries.BoundApply, queries.BoundClip, queries.BoundIgnore:
			default:
				return nil, fmt.Errorf("%s: entry %d (%q): mode %q: want apply, clip or ignore", flag, i, p, m)
			}
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d (%q): %w", flag, i, p, err)
		}
		b.Score = x
		out = append(out, &b)
	}
	return out, nil
}

func buildSearchRequest(ctx context.Context, cmd *cobra.Command, o searchOpts) (bridge.SearchRequest, error) {
	req := bridge.SearchRequest{
		Mode: o.mode, VectorField: o.vectorField, Text: o.text, K: o.k, From: o.from, Size: o.size, Depth: o.depth,
		ThresholdFallback: queries.ThresholdMode(o.fallback), Exact: o.exact, EfSearch: o.efSearch, NProbes: o.nprobes,
		Operator: o.operator, MinimumShouldMatch: o.msm, Fuzziness: o.fuzziness, Parallel: o.parallel, DedupeByID: o.dedupeByID,
		Cutoff: queries.Cutoff{TopK: o.topK, GapAbs: o.gap, GapRel: o.gapRel, Autocut: o.autocut, Cumulative: o.cumulative},
	}
	for _, ix := range strings.Split(o.index, ",") {
		if ix = strings.TrimSpace(ix); ix != "" {
			req.Indices = append(req.Indices, ix)
		}
	}
	if len(req.Indices) == 0 {
		return req, fmt.Errorf("--index is required")
	}
	if o.vector != "" {
		v, err := parseVector(o.vector)
		if err != nil {
			return req, err
		}
		req.Vector = v
	}
	if req.Mode == "" {
		switch {
		case o.text != "" && (o.vector != "" || o.vectorField != ""):
			req.Mode = bridge.ModeHybrid
		case o.vector != "":
			req.Mode = bridge.ModeKNN
		default:
			req.Mode = bridge.ModeBM25
		}
	}
	if req.Mode != bridge.ModeBM25 && req.Vector == nil {
		if o.text == "" {
			return req, fmt.Errorf("mode %s needs --vector or --text", req.Mode)
		}
		emb, err := searchEmbedder(ctx)
		if err != nil {
			return req, fmt.Errorf("mode %s embeds --text for the k-NN side (or pass --vector): %w", req.Mode, err)
		}
		vs, err := emb.Embed(ctx, []string{o.text})
		if err != nil {
			return req, fmt.Errorf("embedding --text: %w", err)
		}
		if len(vs) != 1 {
			return req, fmt.Errorf("embedder returned %d vectors for 1 text", len(vs))
		}
		req.Vector = vs[0]
	}
	if req.Mode != bridge.ModeKNN {
		if o.textFields == "" {
			return req, fmt.Errorf("mode %s needs --text-fields", req.Mode)
		}
		tf, err := queries.ParseTextFields(o.textFields)
		if err != nil {
			return req, err
		}
		req.TextFields = tf
	}
	if o.filter != "" {
		req.Filter = json.RawMessage(o.filter)
		if !json.Valid(req.Filter) {
			return req, fmt.Errorf("--filter is not valid JSON")
		}
	}
	if cmd.Flags().Changed("min-similarity") {
		ms := o.minSim
		req.MinSimilarity = &ms
	}
	w, err := parseWeights(o.weights)
	if err != nil {
		return req, err
	}
	req.Fusion = queries.Fusion{Normalization: queries.Normalization(o.norm), Combination: queries.Combination(o.comb),
		Weights: w, RankConstant: o.rankConstant}
	lower, err := parseBounds("--lower-bounds", o.lowerBounds)
	if err != nil {
		return req, err
	}
	upper, err := parseBounds("--upper-bounds", o.upperBounds)
	if err != nil {
		return req, err
	}
	if lower != nil || upper != nil {
		if req.Mode != bridge.ModeHybrid {
			return req, fmt.Errorf("--lower-bounds/--upper-bounds apply to hybrid min_max fusion, not mode %s", req.Mode)
		}
		if lower != nil && upper != nil && len(lower) != len(upper) {
			return req, fmt.Errorf("--lower-bounds has %d entries and --upper-bounds %d: give one per sub-query (BM25, k-NN)", len(lower), len(upper))
		}
		n := max(len(lower), len(upper))
		req.Fusion.Bounds = make([]queries.MinMaxBounds, n)
		for i := range n {
			if lower != nil {
				req.Fusion.Bounds[i].Lower = lower[i]
			}
			if upper != nil {
				req.Fusion.Bounds[i].Upper = upper[i]
			}
		}
	}
	if req.Mode == bridge.ModeHybrid {
		// Fail before any request: the hybrid fuses two sub-queries.
		if err := req.Fusion.Validate(2); err != nil {
			return req, fmt.Errorf("hybrid fusion: %w", err)
		}
	}
	if o.after != "" {
		if o.from != 0 {
			return req, fmt.Errorf("--after and --from are exclusive: a cursor already says where the page starts")
		}
		c, err := queries.DecodeCursor(o.after)
		if err != nil {
			return req, fmt.Errorf("--after: %w", err)
		}
		req.After = &c
	}
	switch {
	case o.noSource:
		req.Source = &queries.Source{Disabled: true}
	case o.source != "":
		req.Source = &queries.Source{Includes: strings.Split(o.source, ",")}
	}
	return req, nil
}

func runSearch(cmd *cobra.Command, o searchOpts) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := buildSearchRequest(ctx, cmd, o)
	if err != nil {
		return err
	}
	c, err := newClusterClient()
	if err != nil {
		return err
	}
	res, err := bridge.NewSearcher(c).Search(ctx, req)
	if err != nil {
		return clusterError{err}
	}
	out := cmd.OutOrStdout()
	if outputFormat == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return printSearchTable(out, res, o.explain)
}

func printSearchTable(w io.Writer, res *bridge.SearchResult, explain bool) error {
	fmt.Fprintf(w, "%d shown of %d after cut-offs, %s, %d round trip(s), %s\n", len(res.Results), res.Total, res.Method, res.RoundTrips, res.Took)
	if res.KNN != nil {
		k := res.KNN
		fmt.Fprintf(w, "k-NN: %s on %s", k.Field.Field, k.Scoring)
		if k.Strategy != "" {
			fmt.Fprintf(w, ", %s", k.Strategy)
		}
		if len(k.Attempts) > 1 {
			fmt.Fprintf(w, " (k tried: %v)", k.Attempts)
		}
		if k.Threshold != nil {
			fmt.Fprintf(w, ", threshold %s %g → %s min_score %g", k.Field.Space.Unit(), k.Threshold.Value, k.Threshold.Mode, k.Threshold.MinScore)
			if k.Threshold.Reason != "" {
				fmt.Fprintf(w, " (%s)", k.Threshold.Reason)
			}
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	hdr := "RANK\tSCORE\tINDEX\tID"
	if explain {
		for _, n := range res.SubNames {
			hdr += "\t" + strings.ToUpper(n) + " (rank raw → norm)"
		}
	}
	fmt.Fprintln(tw, hdr)
	for i, r := range res.Results {
		line := fmt.Sprintf("%d\t%.6g\t%s\t%s", i+1, r.Score, r.Index, r.ID)
		if explain {
			for _, s := range r.Subs {
				if !s.Present {
					line += "\t-"
					continue
				}
				part := fmt.Sprintf("#%d %.5g", s.Rank, s.Raw)
				if s.HasSimilarity {
					part += fmt.Sprintf(" (sim %.5g)", s.Similarity)
				}
				line += fmt.Sprintf("\t%s → %.4g", part, s.Normalized)
			}
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Next != "" {
		fmt.Fprintf(w, "next page: --after %s\n", res.Next)
	}
	return nil
}
