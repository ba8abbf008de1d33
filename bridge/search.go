package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/knnbridge/knnbridge/queries"
)

// Search modes.
const (
	ModeKNN    = "knn"
	ModeBM25   = "bm25"
	ModeHybrid = "hybrid"
)

// SearchRequest is one k-NN, BM25 or hybrid search. queries/ builds the
// bodies and does the ranking; this file only runs them.
type SearchRequest struct {
	Indices []string
	Mode    string // knn, bm25 or hybrid

	// k-NN side.
	VectorField string
	Vector      []float32
	// K is the number of results wanted ("k that means k").
	K int
	// MinSimilarity is a threshold in natural units (cosine/inner product
	// ≥, distances ≤; see queries.Scoring). Where the cluster's radial
	// search is correct it becomes min_score; elsewhere ThresholdFallback
	// decides (exact search by default).
	MinSimilarity     *float64
	ThresholdFallback queries.ThresholdMode
	// Exact asks for exact (brute-force) k-NN through the knn_score script.
	Exact    bool
	EfSearch int
	NProbes  int
	// Widen is the policy for filtered searches that come back short.
	Widen queries.WidenPolicy

	// BM25 side.
	Text               string
	TextFields         []queries.TextField
	Operator           string
	MinimumShouldMatch string
	Fuzziness          string

	// Filter applies to both sides.
	Filter json.RawMessage

	// Hybrid.
	Fusion queries.Fusion
	// Depth is the number of candidates each sub-query fetches (default
	// max(K, From+Size)); keep it constant across pages.
	Depth int
	// Parallel sends the two sub-queries as two concurrent requests
	// instead of one _msearch.
	Parallel bool

	Cutoff queries.Cutoff
	// Source selects the hits' _source. nil returns everything but
	// VectorField; &queries.Source{} returns everything.
	Source *queries.Source
	From   int
	Size   int // page size (default K)
	// After, when set, returns the Size results ranked after this cursor
	// (SearchResult.Next of the previous page) instead of paging by From.
	// Like From, it needs the same Depth on every page.
	After *queries.Cursor
	// DedupeByID joins hits across indices on the id alone.
	DedupeByID bool
}

// KNNReport says how the k-NN side was run.
type KNNReport struct {
	Field     queries.FieldInfo      `json:"field"`
	Scoring   string                 `json:"scoring"`
	Strategy  queries.KStrategy      `json:"strategy,omitempty"`
	Attempts  []int                  `json:"attempts,omitempty"` // k of each approximate attempt
	Matching  int                    `json:"filter_matches"`     // −1 when not counted
	Threshold *queries.ThresholdPlan `json:"threshold,omitempty"`
	scoring   queries.Scoring
}

// SearchResult is a ranked, cut and paged answer with its explanations.
type SearchResult struct {
	Results  []queries.Result  `json:"results"`
	Method   string            `json:"method"`
	SubNames []string          `json:"sub_queries"`
	Weights  []float64         `json:"weights"`
	Cut      queries.CutReport `json:"cut"`
	KNN      *KNNReport        `json:"knn,omitempty"`
	// Total is the number of results after cut-offs, before paging.
	Total int           `json:"total"`
	Took  time.Duration `json:"took_ns"`
	// RoundTrips counts requests sent to the cluster (mapping look-ups
	// excluded).
	RoundTrips int `json:"round_trips"`
	// Next is the cursor of the page's last result (for SearchRequest.After
	// and --after), set when the page is full.
	Next string `json:"next,omitempty"`
}

// Searcher runs searches on one cluster. It caches the cluster version and
// field mappings; it is safe for concurrent use.
type Searcher struct {
	c       *Client
	Cluster string // label put on hits when searching several clusters
	// Compress lets search answers come gzip-compressed (Go's default).
	// Off, they come plain: less CPU on the node and here, more bytes on
	// the wire; turn it on across slow links.
	Compress bool

	mu      sync.Mutex
	version *queries.Version
	fields  map[string]queries.FieldInfo
}

// NewSearcher returns a Searcher on c.
func NewSearcher(c *Client) *Searcher {
	return &Searcher{c: c, fields: map[string]queries.FieldInfo{}}
}

// Version returns the cluster's OpenSearch version (cached).
func (s *Searcher) Version(ctx context.Context) (queries.Version, error) {
	s.mu.Lock()
	if s.version != nil {
		v := *s.version
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	var root struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := s.c.DoJSON(ctx, http.MethodGet, "/", nil, &root); err != nil {
		return queries.Version{}, fmt.Errorf("reading the cluster version: %w", err)
	}
	v, err := queries.ParseVersion(root.Version.Number)
	if err != nil {
		return queries.Version{}, fmt.Errorf("cluster version: %w", err)
	}
	s.mu.Lock()
	s.version = &v
	s.mu.Unlock()
	return v, nil
}

// FieldInfo reads (and caches) how a vector field is mapped.
func (s *Searcher) FieldInfo(ctx context.Context, indices []string, field string) (queries.FieldInfo, error) {
	key := strings.Join(indices, ",") + "\x00" + field
	s.mu.Lock()
	fi, ok := s.fields[key]
	s.mu.Unlock()
	if ok {
		return fi, nil
	}
	v, err := s.Version(ctx)
	if err != nil {
		return fi, err
	}
	raw, err := s.c.Do(ctx, http.MethodGet, "/"+indexPath(indices)+"/_mapping", nil)
	if err != nil {
		return fi, fmt.Errorf("reading mapping of %s: %w", strings.Join(indices, ","), err)
	}
	fi, err = queries.ParseFieldInfo(raw, field, v)
	if err != nil {
		return fi, err
	}
	s.mu.Lock()
	s.fields[key] = fi
	s.mu.Unlock()
	return fi, nil
}

func indexPath(indices []string) string {
	esc := make([]string, len(indices))
	for i, x := range indices {
		esc[i] = url.PathEscape(x)
	}
	return strings.Join(esc, ",")
}

func (r *SearchRequest) validate() error {
	if len(r.Indices) == 0 {
		return fmt.Errorf("search: no index")
	}
	switch r.Mode {
	case ModeKNN, ModeBM25, ModeHybrid:
	default:
		return fmt.Errorf("search: mode %q: want knn, bm25 or hybrid", r.Mode)
	}
	if r.Mode != ModeBM25 && (r.VectorField == "" || len(r.Vector) == 0) {
		return fmt.Errorf("search: mode %s needs a vector field and a query vector", r.Mode)
	}
	if r.Mode != ModeKNN && (strings.TrimSpace(r.Text) == "" || len(r.TextFields) == 0) {
		return fmt.Errorf("search: mode %s needs query text and text fields", r.Mode)
	}
	if r.K < 0 || r.K > queries.MaxK || r.From < 0 || r.Size < 0 || r.Depth < 0 || r.Depth > queries.MaxK {
		return fmt.Errorf("search: k %d, from %d, size %d, depth %d out of range", r.K, r.From, r.Size, r.Depth)
	}
	if r.Mode == ModeBM25 && r.MinSimilarity != nil {
		return fmt.Errorf("search: a similarity threshold needs a k-NN side")
	}
	return r.Cutoff.Validate()
}

func (r *SearchRequest) defaults() {
	if r.K == 0 {
		r.K = 10
		if r.MinSimilarity != nil && r.Mode == ModeKNN {
			// A threshold without k: everything within it (up to 10,000).
			r.K = queries.MaxK
		}
	}
	if r.Size == 0 {
		r.Size = r.K
	}
	if r.Depth == 0 {
		r.Depth = min(max(r.K, r.From+r.Size), queries.MaxK)
	}
	if r.ThresholdFallback == "" {
		r.ThresholdFallback = queries.ThresholdExact
	}
	if r.Source == nil && r.VectorField != "" {
		// Vectors are the bulk of a stored document and nobody reads them
		// in search results: without them the node renders and sends, and
		// the client parses, a fraction of the bytes.
		r.Source = &queries.Source{Excludes: []string{r.VectorField}}
	}
}

// Search runs req and returns the ranked page.
func (s *Searcher) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	start := time.Now()
	if err := req.validate(); err != nil {
		return nil, err
	}
	req.defaults()
	subs, rep, trips, err := s.gather(ctx, &req)
	if err != nil {
		return nil, err
	}
	res, err := finish(&req, subs, rep)
	if err != nil {
		return nil, err
	}
	res.RoundTrips = trips
	res.Took = time.Since(start)
	return res, nil
}

// gather runs the sub-queries and returns their raw hit lists.
func (s *Searcher) gather(ctx context.Context, req *SearchRequest) ([]queries.SubResult, *KNNReport, int, error) {
	var (
		rep   *KNNReport
		knnQ  *knnPlan
		err   error
		trips int
	)
	if req.Mode != ModeBM25 {
		if knnQ, err = s.planKNN(ctx, req); err != nil {
			return nil, nil, 0, err
		}
		rep = &knnQ.report
	}
	var bm25Body []byte
	if req.Mode != ModeKNN {
		size := req.Depth
		if req.Mode == ModeBM25 {
			size = min(max(req.K, req.From+req.Size), queries.MaxK)
		}
		bm25Body, err = queries.BM25{
			Text: req.Text, Fields: req.TextFields, Operator: req.Operator,
			MinimumShouldMatch: req.MinimumShouldMatch, Fuzziness: req.Fuzziness,
			Filter: req.Filter, Size: size, Source: req.Source, NoTotal: true,
		}.Body()
		if err != nil {
			return nil, nil, 0, err
		}
	}
	var bm25Hits, knnHits []queries.Hit
	switch req.Mode {
	case ModeBM25:
		r, err := s.search(ctx, req.Indices, bm25Body)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("bm25: %w", err)
		}
		trips = 1
		bm25Hits = r.Hits
	case ModeKNN:
		r, err := s.search(ctx, req.Indices, knnQ.body)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("knn: %w", err)
		}
		trips = 1
		knnHits = r.Hits
	default:
		var rs [2]queries.SearchResponse
		if req.Parallel {
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() (err error) { rs[0], err = s.search(gctx, req.Indices, bm25Body); return wrap("bm25", err) })
			g.Go(func() (err error) { rs[1], err = s.search(gctx, req.Indices, knnQ.body); return wrap("knn", err) })
			if err := g.Wait(); err != nil {
				return nil, nil, 0, err
			}
			trips = 2
		} else {
			// One round trip for both sub-queries.
			body, err := queries.MSearchBody(req.Indices, bm25Body, knnQ.body)
			if err != nil {
				return nil, nil, 0, err
			}
			raw, err := s.post(ctx, "/_msearch", body)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("hybrid msearch on %s: %w", strings.Join(req.Indices, ","), err)
			}
			got, err := queries.ParseMSearchResponse(raw, 2)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("hybrid msearch on %s: %w", strings.Join(req.Indices, ","), err)
			}
			rs[0], rs[1] = got[0], got[1]
			trips = 1
		}
		bm25Hits, knnHits = rs[0].Hits, rs[1].Hits
	}
	if knnQ != nil {
		var more int
		knnHits, more, err = s.completeKNN(ctx, req, knnQ, knnHits)
		if err != nil {
			return nil, nil, 0, err
		}
		trips += more
	}
	var subs []queries.SubResult
	if req.Mode != ModeKNN {
		subs = append(subs, queries.SubResult{Name: "bm25", Hits: s.label(bm25Hits, req.DedupeByID)})
	}
	if knnQ != nil {
		sc := knnQ.report.scoring
		subs = append(subs, queries.SubResult{Name: "knn", Hits: s.label(knnHits, req.DedupeByID), Scoring: &sc})
	}
	return subs, rep, trips, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (s *Searcher) label(hits []queries.Hit, byID bool) []queries.Hit {
	for i := range hits {
		hits[i].Cluster = s.Cluster
	}
	if byID {
		return queries.KeyByID(queries.MergeHits([][]queries.Hit{hits}, true))
	}
	return hits
}

func (s *Searcher) search(ctx context.Context, indices []string, body []byte) (queries.SearchResponse, error) {
	raw, err := s.post(ctx, "/"+indexPath(indices)+"/_search", body)
	if err != nil {
		return queries.SearchResponse{}, err
	}
	return queries.ParseSearchResponse(raw)
}

// post is Client.Do for search requests, trimmed for latency:
//   - it asks for an uncompressed answer unless Compress is set: Go's
//     transport otherwise asks for gzip, and the node then spends CPU
//     compressing a few tens of KB that the client spends more CPU
//     inflating, which on a busy node or a fast link costs more latency
//     than the bytes it saves;
//   - it reads the answer once, into a buffer of its Content-Length
//     (Perform buffers it in a growing slice and Do then copies it again).
func (s *Searcher) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building POST %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if !s.Compress {
		req.Header.Set("Accept-Encoding", "identity")
	}
	// Stream: same retries, routing and auth as Perform; the body is ours.
	resp, err := s.c.API.Client.Stream(req)
	if resp == nil {
		if err == nil {
			err = errors.New("no response")
		}
		return nil, s.c.transportError(http.MethodPost, path, err)
	}
	defer resp.Body.Close()
	if err != nil {
		return nil, s.c.transportError(http.MethodPost, path, err)
	}
	out, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("opensearch POST %s: reading response: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return out, parseError(http.MethodPost, path, resp.StatusCode, out)
	}
	return out, nil
}

// readBody reads a response whole, in one allocation when the length is
// known.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= 1<<30 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(resp.Body)
}

// knnPlan is the k-NN side's first request and how to finish it.
type knnPlan struct {
	body   []byte
	kind   string // "topk", "radial", "exact", "client"
	size   int    // hits wanted from the k-NN side
	fi     queries.FieldInfo
	report KNNReport
}

func (s *Searcher) planKNN(ctx context.Context, req *SearchRequest) (*knnPlan, error) {
	v, err := s.Version(ctx)
	if err != nil {
		return nil, err
	}
	fi, err := s.FieldInfo(ctx, req.Indices, req.VectorField)
	if err != nil {
		return nil, err
	}
	p := &knnPlan{fi: fi, size: req.K, report: KNNReport{Field: fi, Matching: -1}}
	if req.Mode == ModeHybrid {
		p.size = req.Depth
	}
	p.report.scoring = fi.Scoring(v)
	base := queries.KNN{
		Field: req.VectorField, Vector: req.Vector, Filter: req.Filter, Engine: fi.Engine,
		EfSearch: req.EfSearch, NProbes: req.NProbes, Nested: fi.Nested, Source: req.Source, NoTotal: true,
	}
	exact := func(minScore *float64) ([]byte, error) {
		return queries.Exact{Field: req.VectorField, Vector: req.Vector, Space: fi.ScriptSpace(), Size: p.size,
			MinScore: minScore, Filter: req.Filter, Nested: fi.Nested, Source: req.Source, NoTotal: true}.Body()
	}
	switch {
	case req.MinSimilarity != nil:
		plan, err := queries.PlanThreshold(fi, v, *req.MinSimilarity, req.ThresholdFallback)
		if err != nil {
			return nil, err
		}
		p.report.Threshold = &plan
		p.report.scoring = plan.Scoring
		ms := plan.MinScore
		switch plan.Mode {
		case queries.ThresholdRadial:
			q := base
			q.MinScore, q.Size = &ms, p.size
			p.kind = "radial"
			p.body, err = q.Body()
		case queries.ThresholdExact:
			p.kind = "exact"
			p.body, err = exact(&ms)
		default:
			q := base
			q.K, q.Size = p.size, p.size
			p.kind = "client"
			p.body, err = q.Body()
		}
		p.report.Strategy = queries.KStrategy(p.kind)
	case req.Exact:
		p.kind = "exact"
		p.report.scoring = fi.ScriptScoring(v)
		p.report.Strategy = queries.KExact
		p.body, err = exact(nil)
	default:
		q := base
		q.K, q.Size = p.size, p.size
		p.kind = "topk"
		p.report.Attempts = []int{p.size}
		p.body, err = q.Body()
	}
	if err != nil {
		return nil, err
	}
	p.report.Scoring = p.report.scoring.String()
	return p, nil
}

// completeKNN applies client-side thresholds and "k that means k" to the
// k-NN side's first answer. It returns the final hits and the number of
// extra requests sent.
func (s *Searcher) completeKNN(ctx context.Context, req *SearchRequest, p *knnPlan, hits []queries.Hit) ([]queries.Hit, int, error) {
	switch p.kind {
	case "client":
		kept := hits[:0]
		for _, h := range hits {
			if p.report.Threshold.Keep(h.Score) {
				kept = append(kept, h)
			}
		}
		return kept, 0, nil
	case "topk":
	default:
		return hits, 0, nil
	}
	trips := 0
	matching := -1
	attemptK := p.size
	for attempt := 1; ; attempt++ {
		if len(hits) < p.size && matching < 0 {
			n, err := s.countCandidates(ctx, req, p.fi)
			if err != nil {
				return nil, trips, err
			}
			trips++
			matching = n
			p.report.Matching = n
		}
		step, err := req.Widen.Next(p.size, attempt, attemptK, len(hits), matching)
		if err != nil {
			return nil, trips, err
		}
		switch step.Action {
		case queries.KDone:
			p.report.Strategy = step.Strategy
			if len(hits) > p.size {
				hits = hits[:p.size]
			}
			return hits, trips, nil
		case queries.KWiden:
			attemptK = step.NextK
			p.report.Attempts = append(p.report.Attempts, attemptK)
			q := queries.KNN{Field: req.VectorField, Vector: req.Vector, Filter: req.Filter, Engine: p.fi.Engine,
				EfSearch: req.EfSearch, NProbes: req.NProbes, Nested: p.fi.Nested, Source: req.Source,
				K: attemptK, Size: p.size, NoTotal: true}
			body, err := q.Body()
			if err != nil {
				return nil, trips, err
			}
			r, err := s.search(ctx, req.Indices, body)
			trips++
			if err != nil {
				return nil, trips, fmt.Errorf("knn widen to k=%d: %w", attemptK, err)
			}
			hits = r.Hits
		case queries.KRunExact:
			v, err := s.Version(ctx)
			if err != nil {
				return nil, trips, err
			}
			body, err := queries.Exact{Field: req.VectorField, Vector: req.Vector, Space: p.fi.ScriptSpace(), Size: p.size,
				Filter: req.Filter, Nested: p.fi.Nested, Source: req.Source, NoTotal: true}.Body()
			if err != nil {
				return nil, trips, err
			}
			r, err := s.search(ctx, req.Indices, body)
			trips++
			if err != nil {
				return nil, trips, fmt.Errorf("knn exact fallback: %w", err)
			}
			p.report.Strategy = queries.KExact
			p.report.scoring = p.fi.ScriptScoring(v)
			p.report.Scoring = p.report.scoring.String()
			return r.Hits, trips, nil
		}
	}
}

// countCandidates counts the documents that have the vector field and match
// the filter: the most a filtered k-NN search can return.
func (s *Searcher) countCandidates(ctx context.Context, req *SearchRequest, fi queries.FieldInfo) (int, error) {
	var exists any = map[string]any{"exists": map[string]any{"field": req.VectorField}}
	if fi.Nested != "" {
		exists = map[string]any{"nested": map[string]any{"path": fi.Nested, "query": exists}}
	}
	filters := []any{exists}
	if len(req.Filter) > 0 {
		filters = append(filters, req.Filter)
	}
	body := map[string]any{"query": map[string]any{"bool": map[string]any{"filter": filters}}}
	var out struct {
		Count int `json:"count"`
	}
	if err := s.c.DoJSON(ctx, http.MethodPost, "/"+indexPath(req.Indices)+"/_count", body, &out); err != nil {
		return 0, fmt.Errorf("counting filter matches: %w", err)
	}
	return out.Count, nil
}

// finish fuses, cuts and pages. queries.FuseCut ranks only up to the end
// of the page when the cut-offs allow it (top-k alone), which is most of
// what fusion costs on deep candidate lists.
func finish(req *SearchRequest, subs []queries.SubResult, rep *KNNReport) (*SearchResult, error) {
	f := req.Fusion
	if len(subs) == 1 {
		// One list: keep the raw scores.
		f = queries.Fusion{Normalization: queries.NormNone, Combination: queries.CombSum}
	}
	scorings := make([]*queries.Scoring, len(subs))
	for i := range subs {
		scorings[i] = subs[i].Scoring
	}
	cut := req.Cutoff
	if req.Mode == ModeKNN && cut.TopK == 0 && req.MinSimilarity == nil {
		cut.TopK = req.K
	}
	fused, crep, err := queries.FuseCut(subs, f, cut, scorings, queries.PageSpec{From: req.From, Size: req.Size, After: req.After})
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Results: fused.Results, Method: fused.Method, SubNames: fused.SubNames, Weights: fused.Weights,
		Cut: crep, KNN: rep, Total: fused.Total}
	if n := len(fused.Results); n > 0 && n == req.Size {
		// A full page: the next one starts after its last result. (An
		// offset page also gets one, so a client can switch to cursors.)
		res.Next = queries.CursorOf(fused.Results[n-1]).Encode()
	}
	return res, nil
}

// SearchClusters runs req on several clusters (scatter-gather) and merges
// as one: each sub-query's hits are gathered from every cluster, put on
// the first cluster's k-NN score scale (scores are converted through the
// natural similarity when versions or engines differ), merged by score
// with duplicates dropped, then fused, cut and paged once — so the
// normalization statistics are global, as neural-search computes them
// across shards.
func SearchClusters(ctx context.Context, searchers []*Searcher, req SearchRequest) (*SearchResult, error) {
	start := time.Now()
	if len(searchers) == 0 {
		return nil, fmt.Errorf("search: no cluster")
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	req.defaults()
	type part struct {
		subs  []queries.SubResult
		rep   *KNNReport
		trips int
	}
	parts := make([]part, len(searchers))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range searchers {
		g.Go(func() error {
			r := req
			subs, rep, trips, err := s.gather(gctx, &r)
			if err != nil {
				return fmt.Errorf("cluster %q: %w", s.Cluster, err)
			}
			parts[i] = part{subs, rep, trips}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ref := parts[0]
	merged := make([]queries.SubResult, len(ref.subs))
	trips := 0
	for si := range ref.subs {
		lists := make([][]queries.Hit, len(parts))
		for pi, p := range parts {
			hits := p.subs[si].Hits
			if ref.subs[si].Scoring != nil && *p.subs[si].Scoring != *ref.subs[si].Scoring {
				conv, err := rescale(hits, *p.subs[si].Scoring, *ref.subs[si].Scoring)
				if err != nil {
					return nil, fmt.Errorf("cluster %q: %w", searchers[pi].Cluster, err)
				}
				hits = conv
			}
			lists[pi] = hits
		}
		merged[si] = queries.SubResult{Name: ref.subs[si].Name, Scoring: ref.subs[si].Scoring,
			Hits: queries.MergeHits(lists, req.DedupeByID)}
	}
	for _, p := range parts {
		trips += p.trips
	}
	res, err := finish(&req, merged, ref.rep)
	if err != nil {
		return nil, err
	}
	res.RoundTrips = trips
	res.Took = time.Since(start)
	return res, nil
}

// rescale converts k-NN scores from one scoring to another through the
// natural similarity.
func rescale(hits []queries.Hit, from, to queries.Scoring) ([]queries.Hit, error) {
	out := make([]queries.Hit, len(hits))
	for i, h := range hits {
		v, err := from.ValueOf(h.Score)
		if err != nil {
			return nil, fmt.Errorf("hit %s/%s: %w", h.Index, h.ID, err)
		}
		sc, err := to.ScoreOf(v)
		if err != nil {
			return nil, fmt.Errorf("hit %s/%s: %w", h.Index, h.ID, err)
		}
		out[i] = h
		out[i].Score = sc
	}
	return out, nil
}
