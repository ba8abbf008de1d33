package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/knnbridge/knnbridge/mapping"
)

// ClusterVersion returns the cluster's OpenSearch version in the form the
// mapping rules are keyed on.
func (c *Client) ClusterVersion(ctx context.Context) (mapping.Version, error) {
	info, err := c.Info(ctx)
	if err != nil {
		return mapping.Version{}, err
	}
	v, err := mapping.ParseVersion(info.Version)
	if err != nil {
		return v, fmt.Errorf("cluster version: %w", err)
	}
	return v, nil
}

// ReadIndex reads a live index (GET _mapping and _settings) back into a
// spec normalized for version v. It returns (nil, nil) when the index does
// not exist.
func (c *Client) ReadIndex(ctx context.Context, name string, v mapping.Version) (*mapping.LiveIndex, error) {
	esc := url.PathEscape(name)
	mb, err := c.Do(ctx, http.MethodGet, "/"+esc+"/_mapping", nil)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading mapping of %s: %w", name, err)
	}
	sb, err := c.Do(ctx, http.MethodGet, "/"+esc+"/_settings?flat_settings=true", nil)
	if err != nil {
		return nil, fmt.Errorf("reading settings of %s: %w", name, err)
	}
	live, err := mapping.ParseLive(name, mb, sb, v)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", name, err)
	}
	return live, nil
}

// IndexPlan is a validated desired spec, the live index and the plan
// between them.
type IndexPlan struct {
	Desired  *mapping.IndexSpec // normalized
	Live     *mapping.LiveIndex // nil when the index does not exist
	Plan     *mapping.Plan
	Warnings []mapping.Problem
	Version  mapping.Version
}

// PlanIndex validates spec for the cluster's version, reads the live index
// and plans the changes. An invalid spec returns the *mapping.ValidationError.
func (c *Client) PlanIndex(ctx context.Context, spec *mapping.IndexSpec) (*IndexPlan, error) {
	if spec.Name == "" {
		return nil, errors.New("plan: the spec has no index name")
	}
	v, err := c.ClusterVersion(ctx)
	if err != nil {
		return nil, err
	}
	norm, warns, err := spec.Normalize(v)
	if err != nil {
		return nil, err
	}
	live, err := c.ReadIndex(ctx, spec.Name, v)
	if err != nil {
		return nil, err
	}
	var liveSpec *mapping.IndexSpec
	if live != nil {
		liveSpec = live.Spec
	}
	return &IndexPlan{Desired: norm, Live: live, Plan: mapping.Diff(norm, liveSpec), Warnings: warns, Version: v}, nil
}

// ErrNeedsReindex is returned by ApplyIndex when the plan holds changes
// that only a new index can take and no reindex target was given.
var ErrNeedsReindex = errors.New("the plan needs a new index and a reindex")

// ApplyOptions tune ApplyIndex.
type ApplyOptions struct {
	// ReindexTo, when set, lets a plan that needs a reindex proceed: the
	// desired spec is created under this name and the documents of the
	// live index are copied into it with _reindex. The live index is left
	// as it is (switch aliases once the copy is checked).
	ReindexTo string
	// ReindexTimeout bounds the wait for _reindex (default 1h).
	ReindexTimeout time.Duration
}

// ApplyResult says what ApplyIndex did.
type ApplyResult struct {
	Created         bool   `json:"created"`
	SettingsUpdated bool   `json:"settings_updated"`
	MappingUpdated  bool   `json:"mapping_updated"`
	ReindexedTo     string `json:"reindexed_to,omitempty"`
	Reindexed       int64  `json:"reindexed_docs,omitempty"`
}

// Changed reports whether anything was sent.
func (r ApplyResult) Changed() bool {
	return r.Created || r.SettingsUpdated || r.MappingUpdated || r.ReindexedTo != ""
}

// ApplyIndex carries out a plan: create the index, or update dynamic
// settings and add fields in place. It is idempotent: a second run finds
// nothing to change and sends nothing. A plan that needs a reindex returns
// ErrNeedsReindex unless opts.ReindexTo names the new index.
func (c *Client) ApplyIndex(ctx context.Context, ip *IndexPlan, opts ApplyOptions) (ApplyResult, error) {
	var res ApplyResult
	p := ip.Plan
	if p.Create {
		if err := c.CreateIndex(ctx, ip.Desired); err != nil {
			return res, err
		}
		res.Created = true
		return res, nil
	}
	if p.NeedsReindex() {
		if opts.ReindexTo == "" {
			return res, ErrNeedsReindex
		}
		return c.reindexInto(ctx, ip, opts)
	}
	name := url.PathEscape(p.Index)
	if p.SettingsUpdate != nil {
		if _, err := c.Do(ctx, http.MethodPut, "/"+name+"/_settings", p.SettingsUpdate); err != nil {
			return res, fmt.Errorf("updating settings of %s: %w", p.Index, err)
		}
		res.SettingsUpdated = true
	}
	if p.MappingUpdate != nil {
		body, err := mapping.RenderMapping(p.MappingUpdate)
		if err != nil {
			return res, err
		}
		if _, err := c.Do(ctx, http.MethodPut, "/"+name+"/_mapping", body); err != nil {
			return res, fmt.Errorf("updating mapping of %s: %w", p.Index, err)
		}
		res.MappingUpdated = true
	}
	return res, nil
}

// CreateIndex creates the index of a normalized spec.
func (c *Client) CreateIndex(ctx context.Context, norm *mapping.IndexSpec) error {
	body, err := mapping.Render(norm)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodPut, "/"+url.PathEscape(norm.Name), body); err != nil {
		return fmt.Errorf("creating index %s: %w", norm.Name, err)
	}
	return nil
}

func (c *Client) reindexInto(ctx context.Context, ip *IndexPlan, opts ApplyOptions) (ApplyResult, error) {
	res := ApplyResult{ReindexedTo: opts.ReindexTo}
	target := ip.Desired.Clone()
	target.Name = opts.ReindexTo
	live, err := c.ReadIndex(ctx, target.Name, ip.Version)
	if err != nil {
		return res, err
	}
	if live == nil {
		if err := c.CreateIndex(ctx, target); err != nil {
			return res, err
		}
		res.Created = true
	} else if d := mapping.Diff(target, live.Spec); d.NeedsReindex() {
		return res, fmt.Errorf("reindex target %s exists and differs from the spec: %w", target.Name, ErrNeedsReindex)
	}
	timeout := opts.ReindexTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := map[string]any{"source": map[string]any{"index": ip.Plan.Index}, "dest": map[string]any{"index": target.Name}}
	var out struct {
		Total    int64 `json:"total"`
		Created  int64 `json:"created"`
		Updated  int64 `json:"updated"`
		Failures []any `json:"failures"`
	}
	path := fmt.Sprintf("/_reindex?wait_for_completion=true&refresh=true&timeout=%ds", int(timeout.Seconds()))
	err = c.DoJSON(rctx, http.MethodPost, path, body, &out)
	if isNoReindexModule(err) {
		// No reindex module (the Maven integ-test zip ships only the
		// transport module): copy with scroll + bulk instead.
		n, cerr := c.copyDocs(rctx, ip.Plan.Index, target.Name)
		res.Reindexed = n
		return res, cerr
	}
	if err != nil {
		return res, fmt.Errorf("reindexing %s into %s: %w", ip.Plan.Index, target.Name, err)
	}
	if len(out.Failures) > 0 {
		return res, fmt.Errorf("reindexing %s into %s: %d failures, first: %v", ip.Plan.Index, target.Name, len(out.Failures), out.Failures[0])
	}
	res.Reindexed = out.Created + out.Updated
	return res, nil
}

// isNoReindexModule recognises the answer of a cluster without the reindex
// module: /_reindex is then taken for an index name and POST is refused.
func isNoReindexModule(err error) bool {
	var oe *Error
	return errors.As(err, &oe) && oe.Status == http.StatusMethodNotAllowed
}

// copyDocs copies every document of from into to with scroll + bulk,
// keeping ids and routing, and refreshes to. It returns the count copied.
func (c *Client) copyDocs(ctx context.Context, from, to string) (int64, error) {
	type hit struct {
		ID      string          `json:"_id"`
		Routing string          `json:"_routing"`
		Source  json.RawMessage `json:"_source"`
	}
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []hit `json:"hits"`
		} `json:"hits"`
	}
	var pg page
	if err := c.DoJSON(ctx, http.MethodPost, "/"+url.PathEscape(from)+"/_search?scroll=2m", map[string]any{"size": 500, "sort": []string{"_doc"}}, &pg); err != nil {
		return 0, fmt.Errorf("copying %s into %s: scroll: %w", from, to, err)
	}
	defer func() {
		if pg.ScrollID != "" {
			_, _ = c.Do(context.WithoutCancel(ctx), http.MethodDelete, "/_search/scroll", map[string]any{"scroll_id": pg.ScrollID})
		}
	}()
	var copied int64
	for len(pg.Hits.Hits) > 0 {
		var buf bytes.Buffer
		for _, h := range pg.Hits.Hits {
			meta := map[string]any{"_index": to, "_id": h.ID}
			if h.Routing != "" {
				meta["routing"] = h.Routing
			}
			line, _ := json.Marshal(map[string]any{"index": meta})
			buf.Write(line)
			buf.WriteByte('\n')
			buf.Write(h.Source)
			buf.WriteByte('\n')
		}
		var br struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				ID    string          `json:"_id"`
				Error json.RawMessage `json:"error"`
			} `json:"items"`
		}
		if err := c.DoJSON(ctx, http.MethodPost, "/_bulk", buf.Bytes(), &br); err != nil {
			return copied, fmt.Errorf("copying %s into %s: bulk: %w", from, to, err)
		}
		if br.Errors {
			for _, it := range br.Items {
				for _, r := range it {
					if len(r.Error) > 0 {
						return copied, fmt.Errorf("copying %s into %s: document %s: %s", from, to, r.ID, r.Error)
					}
				}
			}
		}
		copied += int64(len(pg.Hits.Hits))
		id := pg.ScrollID
		pg = page{}
		if err := c.DoJSON(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "2m", "scroll_id": id}, &pg); err != nil {
			return copied, fmt.Errorf("copying %s into %s: scroll: %w", from, to, err)
		}
	}
	if _, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(to)+"/_refresh", nil); err != nil {
		return copied, fmt.Errorf("refreshing %s: %w", to, err)
	}
	return copied, nil
}
