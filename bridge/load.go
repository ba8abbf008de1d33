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
	"os"
	"strings"
	"time"

	"github.com/knnbridge/knnbridge/ingest"
)

// LoadOptions configure Client.Load: one input file into one existing index.
type LoadOptions struct {
	Input  string
	Format string // "" = from the extension
	Index  string
	Fields ingest.Options // input field names (id, vector, text)

	// VectorField / TextField are the index's field names (default "vector" / "text").
	VectorField, TextField string

	// Checkpoint file; default "<input>.<index>.knnbridge-checkpoint.json".
	Checkpoint string
	// Resume continues from the checkpoint (no loss, no duplicates).
	Resume bool

	// Tune sets refresh_interval -1 and number_of_replicas 0 for the load
	// and restores the original values afterwards, also after an error or an
	// interrupt. nil = auto: on when the index is empty at the start (a new
	// index), except that refresh_interval is left alone for a lucene vector
	// field (see loadTuning).
	Tune *bool

	Senders       int // concurrent bulk requests; 0 = from the cluster's data node count
	MaxBatchBytes int
	MaxBatchDocs  int
	OnBad         ingest.Policy
	Retry         ingest.RetryPolicy

	// ForceMerge > 0 merges to at most that many segments at the end.
	ForceMerge int
	// Warmup loads the native k-NN graphs into memory at the end (faiss/nmslib).
	Warmup bool

	Embedder ingest.Embedder
	OnReject func(ingest.Rejection)
	OnRetry  func(n int, why string)
	// Progress is called about twice a second with live counters.
	Progress func(ingest.Stats)
	// Log receives one-line notes on what the loader does to the index.
	Log func(msg string, kv ...any)
}

// LoadReport is the outcome of Client.Load.
type LoadReport struct {
	Index      string             `json:"index"`
	Input      string             `json:"input"`
	Read       int64              `json:"read"`
	Accepted   int64              `json:"accepted"`
	Rejected   int64              `json:"rejected"`
	Retried    int64              `json:"retried_items"`
	IndexCount int64              `json:"index_count"`
	BaseCount  int64              `json:"base_count"`
	Resumed    bool               `json:"resumed"`
	Senders    int                `json:"senders"`
	Elapsed    time.Duration      `json:"elapsed_ns"`
	DocsPerSec float64            `json:"docs_per_sec"`
	Rejections []ingest.Rejection `json:"rejections,omitempty"`
	// Segments is the index's primary segment count after a force-merge
	// (0 when none was asked for); WarmedShards the shards the k-NN
	// warm-up reported successful.
	Segments     int64  `json:"segments,omitempty"`
	WarmedShards int    `json:"warmed_shards,omitempty"`
	Tuned        bool   `json:"tuned"`
	Restored     bool   `json:"settings_restored"`
	Checkpoint   string `json:"checkpoint"`
}

// Tuned settings and their load-time values (k-NN docs, "Indexing
// performance tuning": disable refresh and replicas during bulk loads).
var loadTunedSettings = map[string]string{
	"index.refresh_interval":   "-1",
	"index.number_of_replicas": "0",
}

// loadTuning picks the load-time settings. refresh_interval -1 is the
// documented advice (k-NN "performance tuning": fewer, larger segments, so
// fewer native graph builds) and is kept for faiss/nmslib fields and when
// asked for explicitly. For lucene fields auto leaves refresh alone: Lucene
// builds the HNSW graph while indexing, and on this project's reference
// machine (2 cores, OpenSearch 2.19.1) loading 20k×128 vectors took 31–54 s
// with refresh -1 against 13–17 s with the default 1 s (bench/ingest, issue 7
// note): inserting into one large in-memory graph costs more than into many
// small ones that later merges combine.
func loadTuning(f VectorField, explicit bool) map[string]string {
	if explicit || f.Engine != "lucene" {
		return loadTunedSettings
	}
	return map[string]string{"index.number_of_replicas": "0"}
}

// DefaultCheckpointPath is where Load keeps its checkpoint unless told.
func DefaultCheckpointPath(input, index string) string {
	return input + "." + index + ".knnbridge-checkpoint.json"
}

// VectorField describes the knn_vector field the loader checks against.
type VectorField struct {
	Dimension int
	DataType  string
	SpaceType string
	Engine    string
}

// Load streams opts.Input into opts.Index.
func (c *Client) Load(ctx context.Context, opts LoadOptions) (rep LoadReport, err error) {
	start := time.Now()
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Index == "" || opts.Input == "" {
		return rep, errors.New("load: input file and index are required")
	}
	if opts.VectorField == "" {
		opts.VectorField = "vector"
	}
	if opts.TextField == "" {
		opts.TextField = "text"
	}
	if opts.Checkpoint == "" {
		opts.Checkpoint = DefaultCheckpointPath(opts.Input, opts.Index)
	}
	rep.Index, rep.Input, rep.Checkpoint = opts.Index, opts.Input, opts.Checkpoint
	st, err := os.Stat(opts.Input)
	if err != nil {
		return rep, fmt.Errorf("load: %w", err)
	}
	format := opts.Format
	if format == "" {
		if format, err = ingest.FormatOf(opts.Input); err != nil {
			return rep, fmt.Errorf("load: %w", err)
		}
	}

	prev, err := ingest.LoadCheckpoint(opts.Checkpoint)
	if err != nil {
		return rep, fmt.Errorf("load: %w", err)
	}
	var ck *ingest.Checkpoint
	if opts.Resume && prev != nil {
		if prev.Index != opts.Index || prev.InputSize != st.Size() || prev.Format != format {
			return rep, fmt.Errorf("load: checkpoint %s is for index %q, %d-byte %s input; this run is index %q, %d-byte %s input: refusing to resume",
				opts.Checkpoint, prev.Index, prev.InputSize, prev.Format, opts.Index, st.Size(), format)
		}
		ck = prev
		rep.Resumed = true
		logf("resuming", "next", ck.Next.String(), "read", ck.Read, "accepted", ck.Accepted, "rejected", ck.Rejected)
	}

	field, err := c.LoadVectorField(ctx, opts.Index, opts.VectorField)
	if err != nil {
		return rep, fmt.Errorf("load: %w", err)
	}
	if opts.Embedder != nil && opts.Embedder.Dimension() != field.Dimension {
		return rep, fmt.Errorf("load: embedder produces %d-dimensional vectors, field %q of index %q has dimension %d",
			opts.Embedder.Dimension(), opts.VectorField, opts.Index, field.Dimension)
	}

	if ck == nil {
		base, err := c.loadCount(ctx, opts.Index)
		if err != nil {
			return rep, fmt.Errorf("load: %w", err)
		}
		ck = &ingest.Checkpoint{Input: opts.Input, InputSize: st.Size(), Format: format, Index: opts.Index, BaseCount: base}
		if prev != nil && prev.Index == opts.Index && prev.InputSize == st.Size() {
			// The same input was (partly) loaded before: its documents are in
			// the index already and will be overwritten (same ids), so the
			// count before the first run is the base of the count check.
			ck.BaseCount = prev.BaseCount
		}
		if prev != nil && prev.Index == opts.Index && prev.Settings != nil {
			// An earlier run died (SIGKILL) with the index still tuned: its
			// recorded originals are the real originals, not what is set now.
			ck.Settings = prev.Settings
		}
	}
	rep.BaseCount = ck.BaseCount
	if ck.Done {
		logf("checkpoint says the load is complete; nothing to send")
	}

	tune := ck.BaseCount == 0
	if opts.Tune != nil {
		tune = *opts.Tune
	}
	tuning := loadTuning(field, opts.Tune != nil)
	save := func(k ingest.Checkpoint) error { return k.Save(opts.Checkpoint) }
	if tune || ck.Settings != nil {
		if ck.Settings == nil {
			orig, err := c.loadGetSettings(ctx, opts.Index)
			if err != nil {
				return rep, fmt.Errorf("load: %w", err)
			}
			ck.Settings = orig
		}
		// Record the originals before changing anything, so even a SIGKILL
		// right after the change leaves what is needed to restore them.
		if err := save(*ck); err != nil {
			return rep, fmt.Errorf("load: %w", err)
		}
		if tune {
			if err := c.loadPutSettings(ctx, opts.Index, tuning); err != nil {
				return rep, fmt.Errorf("load: tuning index settings: %w", err)
			}
			rep.Tuned = true
			logf("index tuned for loading", "settings", fmt.Sprint(tuning))
		}
		orig := ck.Settings
		defer func() {
			// Restore even when ctx is cancelled (Ctrl-C): use a fresh context.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			vals := map[string]any{}
			for k, v := range orig {
				if v == nil {
					vals[k] = nil
				} else {
					vals[k] = *v
				}
			}
			if rerr := c.loadPutSettingsAny(rctx, opts.Index, vals); rerr != nil {
				err = errors.Join(err, fmt.Errorf("load: restoring index settings %v: %w (run `knnbridge load --resume` again to retry)", vals, rerr))
				return
			}
			rep.Restored = true
			logf("index settings restored", "settings", fmt.Sprint(vals))
			if k, lerr := ingest.LoadCheckpoint(opts.Checkpoint); lerr == nil && k != nil {
				k.Settings = nil
				save(*k)
			}
			if err == nil {
				// The caller's context, not rctx: a force-merge of a large
				// index takes longer than the minute allowed for restoring.
				err = c.loadFinish(ctx, opts, &rep)
			}
		}()
	} else {
		defer func() {
			if err == nil {
				err = c.loadFinish(ctx, opts, &rep)
			}
		}()
	}

	senders := opts.Senders
	if senders <= 0 {
		senders = c.LoadDefaultSenders(ctx)
	}
	rep.Senders = senders

	if ck.Done {
		rep.Read, rep.Accepted, rep.Rejected = ck.Read, ck.Accepted, ck.Rejected
		return rep, nil
	}
	r, err := ingest.Open(opts.Input, format, opts.Fields)
	if err != nil {
		return rep, fmt.Errorf("load: %w", err)
	}
	defer r.Close()
	sink, err := c.NewBulkSink(opts.Index)
	if err != nil {
		return rep, err
	}
	loader, err := ingest.NewLoader(ingest.Config{
		Reader:   r,
		Sink:     sink,
		Embedder: opts.Embedder,
		Checks: ingest.Checks{Dimension: field.Dimension, DataType: ingest.DataType(field.DataType),
			SpaceType: field.SpaceType},
		Encoder:       ingest.Encoder{VectorField: opts.VectorField, TextField: opts.TextField},
		OnBad:         opts.OnBad,
		MaxBatchBytes: opts.MaxBatchBytes,
		MaxBatchDocs:  opts.MaxBatchDocs,
		Senders:       senders,
		Retry:         opts.Retry,
		Start:         ck,
		Save:          save,
		OnReject:      opts.OnReject,
		OnRetry:       opts.OnRetry,
	})
	if err != nil {
		return rep, err
	}
	stop := make(chan struct{})
	if opts.Progress != nil {
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					opts.Progress(loader.Stats())
				}
			}
		}()
	}
	lr, err := loader.Run(ctx)
	close(stop)
	if opts.Progress != nil {
		opts.Progress(loader.Stats())
	}
	rep.Read, rep.Accepted, rep.Rejected = lr.Checkpoint.Read, lr.Checkpoint.Accepted, lr.Checkpoint.Rejected
	rep.Retried = lr.Stats.Retried
	rep.Rejections = lr.Rejections
	rep.Elapsed = time.Since(start)
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.DocsPerSec = float64(lr.Stats.Accepted-ck.Accepted) / s
	}
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("load interrupted at %s (checkpoint %s; continue with --resume): %w", lr.Checkpoint.Next, opts.Checkpoint, err)
		}
		return rep, fmt.Errorf("load: %w (checkpoint %s; continue with --resume)", err, opts.Checkpoint)
	}
	return rep, nil
}

// loadFinish refreshes, checks the count, and optionally force-merges and
// warms up. It runs after the settings are restored.
func (c *Client) loadFinish(ctx context.Context, opts LoadOptions, rep *LoadReport) error {
	if _, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(opts.Index)+"/_refresh", nil); err != nil {
		return fmt.Errorf("load: final refresh: %w", err)
	}
	n, err := c.loadCount(ctx, opts.Index)
	if err != nil {
		return fmt.Errorf("load: final count: %w", err)
	}
	rep.IndexCount = n
	if rep.Read != rep.Accepted+rep.Rejected {
		return fmt.Errorf("load: accounting mismatch: read %d != accepted %d + rejected %d", rep.Read, rep.Accepted, rep.Rejected)
	}
	if n != rep.BaseCount+rep.Accepted {
		return fmt.Errorf("load: index %q holds %d documents, expected %d (%d before the load + %d accepted): duplicate input ids, or concurrent writers",
			opts.Index, n, rep.BaseCount+rep.Accepted, rep.BaseCount, rep.Accepted)
	}
	if opts.ForceMerge > 0 {
		segs, err := c.loadForceMerge(ctx, opts.Index, opts.ForceMerge)
		if err != nil {
			return fmt.Errorf("load: force-merge to %d segments: %w", opts.ForceMerge, err)
		}
		rep.Segments = segs
	}
	if opts.Warmup {
		// k-NN warmup API (DW _vector-search/api/knn.md "Warmup operation"):
		// loads native (faiss/nmslib) graphs of every shard into memory. It
		// answers 200 with per-shard results, so failed shards must be read
		// from the body. Lucene fields have no native graphs; the call then
		// succeeds without loading anything.
		var r struct {
			Shards shardsHeader `json:"_shards"`
		}
		if err := c.DoJSON(ctx, http.MethodGet, "/_plugins/_knn/warmup/"+url.PathEscape(opts.Index), nil, &r); err != nil {
			return fmt.Errorf("load: k-NN warmup: %w", err)
		}
		if err := r.Shards.err(); err != nil {
			return fmt.Errorf("load: k-NN warmup: %w", err)
		}
		rep.WarmedShards = r.Shards.Successful
	}
	return nil
}

// shardsHeader is the "_shards" summary of broadcast APIs (force-merge,
// k-NN warm-up), which answer 200 even when some shards failed.
type shardsHeader struct {
	Total      int               `json:"total"`
	Successful int               `json:"successful"`
	Failed     int               `json:"failed"`
	Failures   []json.RawMessage `json:"failures"`
}

func (h shardsHeader) err() error {
	if h.Failed == 0 {
		return nil
	}
	msg := ""
	if len(h.Failures) > 0 {
		msg = ": " + string(h.Failures[0])
	}
	return fmt.Errorf("%d of %d shards failed%.500s", h.Failed, h.Total, msg)
}

// loadForceMerge merges index down to at most max segments per shard and
// returns the primary segment count afterwards. It runs the merge as a
// task (wait_for_completion=false, supported by OpenSearch 2.x) and polls
// it, because a blocking request would outlive the client's per-request
// timeout on a large index and be retried by the transport, queuing a
// second merge behind the first.
func (c *Client) loadForceMerge(ctx context.Context, index string, max int) (int64, error) {
	var started struct {
		Task string `json:"task"`
	}
	p := fmt.Sprintf("/%s/_forcemerge?max_num_segments=%d&wait_for_completion=false", url.PathEscape(index), max)
	if err := c.DoJSON(ctx, http.MethodPost, p, nil, &started); err != nil {
		return 0, err
	}
	if started.Task == "" {
		return 0, errors.New("force-merge returned no task id")
	}
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var t struct {
			Completed bool            `json:"completed"`
			Error     json.RawMessage `json:"error"`
			Response  struct {
				Shards shardsHeader `json:"_shards"`
			} `json:"response"`
		}
		if err := c.DoJSON(ctx, http.MethodGet, "/_tasks/"+url.PathEscape(started.Task), nil, &t); err != nil {
			return 0, fmt.Errorf("task %s: %w", started.Task, err)
		}
		if t.Completed {
			if len(t.Error) > 0 && string(t.Error) != "null" {
				return 0, fmt.Errorf("task %s: %.500s", started.Task, t.Error)
			}
			if err := t.Response.Shards.err(); err != nil {
				return 0, fmt.Errorf("task %s: %w", started.Task, err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for task %s (the merge goes on in the cluster): %w", started.Task, ctx.Err())
		case <-time.After(wait):
		}
	}
	// The merged segment replaces the old ones in the searcher at the next
	// refresh, and a search-idle shard (no search for 30 s) skips the
	// scheduled ones: refresh before counting (seen on 2.19.1: 4 segments
	// reported after a completed merge to 1 without it).
	if _, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_refresh", nil); err != nil {
		return 0, fmt.Errorf("refresh after the merge: %w", err)
	}
	var st struct {
		All struct {
			Primaries struct {
				Segments struct {
					Count int64 `json:"count"`
				} `json:"segments"`
			} `json:"primaries"`
		} `json:"_all"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_stats/segments", nil, &st); err != nil {
		return 0, fmt.Errorf("segment count: %w", err)
	}
	return st.All.Primaries.Segments.Count, nil
}

// LoadDefaultSenders picks the number of concurrent bulk requests from the
// cluster's size: two per data node (one being indexed while the next is on
// the wire keeps each node's write threads busy), at least 2, at most 32.
func (c *Client) LoadDefaultSenders(ctx context.Context) int {
	info, err := c.Info(ctx)
	if err != nil || info.DataNodes <= 0 {
		return 2
	}
	return min(max(2*info.DataNodes, 2), 32)
}

func (c *Client) loadCount(ctx context.Context, index string) (int64, error) {
	var r struct {
		Count int64 `json:"count"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_count", nil, &r); err != nil {
		return 0, err
	}
	return r.Count, nil
}

// loadGetSettings returns the explicitly set values of the tuned settings
// (nil = not set, i.e. the default applies and restoring means unsetting).
func (c *Client) loadGetSettings(ctx context.Context, index string) (map[string]*string, error) {
	var r map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_settings?flat_settings=true", nil, &r); err != nil {
		return nil, err
	}
	out := map[string]*string{}
	for _, ix := range r {
		for k := range loadTunedSettings {
			if v, ok := ix.Settings[k]; ok {
				s := fmt.Sprint(v)
				out[k] = &s
			} else {
				out[k] = nil
			}
		}
	}
	return out, nil
}

// LoadSettings returns the current explicit values of the settings a load
// tunes (for tests and `load --status`).
func (c *Client) LoadSettings(ctx context.Context, index string) (map[string]*string, error) {
	return c.loadGetSettings(ctx, index)
}

func (c *Client) loadPutSettings(ctx context.Context, index string, vals map[string]string) error {
	m := map[string]any{}
	for k, v := range vals {
		m[k] = v
	}
	return c.loadPutSettingsAny(ctx, index, m)
}

func (c *Client) loadPutSettingsAny(ctx context.Context, index string, vals map[string]any) error {
	_, err := c.Do(ctx, http.MethodPut, "/"+url.PathEscape(index)+"/_settings", vals)
	return err
}

// LoadVectorField reads the mapping of field (dotted path) in index.
func (c *Client) LoadVectorField(ctx context.Context, index, field string) (VectorField, error) {
	var r map[string]struct {
		Mappings map[string]json.RawMessage `json:"mappings"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_mapping", nil, &r); err != nil {
		return VectorField{}, err
	}
	for _, ix := range r {
		props := ix.Mappings["properties"]
		var def map[string]json.RawMessage
		parts := strings.Split(field, ".")
		for i, p := range parts {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(props, &m); err != nil || m[p] == nil {
				return VectorField{}, fmt.Errorf("index %q has no field %q in its mapping", index, field)
			}
			if err := json.Unmarshal(m[p], &def); err != nil {
				return VectorField{}, err
			}
			if i < len(parts)-1 {
				props = def["properties"]
			}
		}
		var f struct {
			Type      string `json:"type"`
			Dimension int    `json:"dimension"`
			DataType  string `json:"data_type"`
			SpaceType string `json:"space_type"`
			Method    *struct {
				Engine    string `json:"engine"`
				SpaceType string `json:"space_type"`
			} `json:"method"`
			ModelID string `json:"model_id"`
		}
		raw, _ := json.Marshal(def)
		json.Unmarshal(raw, &f)
		if f.Type != "knn_vector" {
			return VectorField{}, fmt.Errorf("field %q of index %q has type %q, want knn_vector", field, index, f.Type)
		}
		vf := VectorField{Dimension: f.Dimension, DataType: f.DataType, SpaceType: f.SpaceType}
		if f.Method != nil {
			vf.Engine = f.Method.Engine
			if f.Method.SpaceType != "" {
				vf.SpaceType = f.Method.SpaceType
			}
		}
		if vf.DataType == "" {
			vf.DataType = "float"
		}
		// dimension 0 with a model_id: the model fixes it; take it from the first vector.
		return vf, nil
	}
	return VectorField{}, fmt.Errorf("index %q not found", index)
}

// bulkSink sends bulk bodies on a client without transport-level retries:
// the ingest retry policy sees every 429 and decides alone.
type bulkSink struct {
	c    *Client
	path string
}

// NewBulkSink returns the ingest.Sink for index. Responses are trimmed with
// filter_path to what the per-item handling reads (status and error), which
// keeps a 5 MB request's response small.
func (c *Client) NewBulkSink(index string) (ingest.Sink, error) {
	cfg := c.cfg
	cfg.MaxRetries = 0
	if cfg.Timeout < 2*time.Minute {
		cfg.Timeout = 2 * time.Minute // a 5 MB bulk on a busy node can take a while; timeouts are retried anyway
	}
	nc, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &bulkSink{c: nc, path: "/" + url.PathEscape(index) + "/_bulk?filter_path=errors,items.*.status,items.*.error"}, nil
}

func (s *bulkSink) Send(ctx context.Context, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.c.API.Client.Perform(req)
	if err != nil {
		return nil, 0, s.c.transportError(http.MethodPost, s.path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("bulk: reading response: %w", err)
	}
	return out, resp.StatusCode, nil
}
