package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/knnbridge/knnbridge/bridge"
	"github.com/knnbridge/knnbridge/mapping"
)

// metaKey is where the sidecar keeps the last spec it applied, inside the
// index mapping's _meta (which OpenSearch stores and returns untouched).
// GET then plans that spec against the live index: drift made behind
// the sidecar's back shows up as a non-empty plan, for every sidecar
// replica and across restarts.
const metaKey = "knnbridge"

type putIndexResponse struct {
	Index    string              `json:"index"`
	DryRun   bool                `json:"dry_run"`
	Plan     *mapping.Plan       `json:"plan"`
	Warnings []mapping.Problem   `json:"warnings"`
	Result   *bridge.ApplyResult `json:"result,omitempty"`
	Took     float64             `json:"took_ms"`
}

// PUT /v1/indexes/{name}: body is a spec (JSON or YAML, as `knnbridge
// index apply` reads). ?dry_run=true returns the plan only;
// ?reindex_to=<new> lets a plan that needs a reindex proceed into a new
// index. Without it such a plan is refused with 409 needs_reindex.
func (s *Server) putIndex(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	name := r.PathValue("name")
	if err := validIndexName("name", name); err != nil {
		return err
	}
	dry, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	reindexTo := r.URL.Query().Get("reindex_to")
	if reindexTo != "" {
		if err := validIndexName("?reindex_to", reindexTo); err != nil {
			return err
		}
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return badRequest("body", "empty body: send an index spec (JSON or YAML)")
	}
	spec, err := mapping.Load(body)
	if err != nil {
		return badRequest(specField(err), "reading the spec: %v", err)
	}
	if spec.Name != "" && spec.Name != name {
		return badRequest("name", "the spec names index %q but the path says %q", spec.Name, name)
	}
	spec.Name = name
	ctx := r.Context()
	t0 := time.Now()
	ip, err := s.os.PlanIndex(ctx, spec)
	s.m.observeOS("plan_index", t0, err)
	if err != nil {
		var ve *mapping.ValidationError
		if errors.As(err, &ve) {
			return err
		}
		return fmt.Errorf("planning index %s: %w", name, err)
	}
	resp := putIndexResponse{Index: name, DryRun: dry, Plan: ip.Plan, Warnings: ip.Warnings}
	if resp.Warnings == nil {
		resp.Warnings = []mapping.Problem{}
	}
	if !dry {
		if ip.Plan.NeedsReindex() && reindexTo == "" {
			return &APIError{Status: http.StatusConflict, Code: "needs_reindex", Field: "?reindex_to",
				Message: fmt.Sprintf("the spec changes %s in ways only a new index can take; retry with ?reindex_to=<new index> (the live index is left as it is)", name),
				Details: ip.Plan}
		}
		t0 = time.Now()
		res, err := s.os.ApplyIndex(ctx, ip, bridge.ApplyOptions{ReindexTo: reindexTo})
		s.m.observeOS("apply_index", t0, err)
		if err != nil {
			return fmt.Errorf("applying the plan to %s: %w", name, err)
		}
		resp.Result = &res
		target := name
		if reindexTo != "" {
			target = reindexTo
		}
		s.schemas.drop(target)
		if err := s.storeSpec(r, target, ip.Desired); err != nil {
			// The index is as asked; only the drift record failed.
			s.logger(ctx).Warn("could not record the applied spec in _meta", zap.String("index", target), zap.Error(err))
		}
	}
	resp.Took = ms(time.Since(start))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) storeSpec(r *http.Request, index string, norm *mapping.IndexSpec) error {
	spec := norm.Clone()
	spec.Name = index
	body := map[string]any{"_meta": map[string]any{metaKey: map[string]any{"spec": spec, "applied_at": time.Now().UTC().Format(time.RFC3339)}}}
	t0 := time.Now()
	_, err := s.os.Do(r.Context(), http.MethodPut, "/"+url.PathEscape(index)+"/_mapping", body)
	s.m.observeOS("put_mapping_meta", t0, err)
	return err
}

// specField extracts a field path from a spec loading error when it names
// one; otherwise "body".
func specField(err error) string {
	if m := unknownFieldRe.FindStringSubmatch(err.Error()); m != nil {
		return "spec." + m[1]
	}
	return "body"
}

type getIndexResponse struct {
	Index       string             `json:"index"`
	Spec        *mapping.IndexSpec `json:"spec"`
	Unmanaged   []string           `json:"unmanaged"`
	AppliedSpec *mapping.IndexSpec `json:"applied_spec"`
	AppliedAt   string             `json:"applied_at,omitempty"`
	Plan        *mapping.Plan      `json:"plan"`
	Documents   int64              `json:"documents"`
	Memory      mapping.Estimate   `json:"memory"`
	Warnings    []string           `json:"warnings,omitempty"`
}

// GET /v1/indexes/{name}: the live spec, the plan from the last applied
// spec (kept in _meta) to the live index, the document count and the
// memory estimate for that many vectors.
func (s *Server) getIndex(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := validIndexName("name", name); err != nil {
		return err
	}
	ctx := r.Context()
	v, err := s.clusterVersion(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	live, err := s.os.ReadIndex(ctx, name, v)
	s.m.observeOS("read_index", t0, err)
	if err != nil {
		return err
	}
	if live == nil {
		return notFound("index_not_found", "index %s does not exist", name)
	}
	resp := getIndexResponse{Index: name, Spec: live.Spec, Unmanaged: live.Unmanaged}
	if resp.Unmanaged == nil {
		resp.Unmanaged = []string{}
	}
	t0 = time.Now()
	raw, err := s.os.Do(ctx, http.MethodGet, "/"+url.PathEscape(name)+"/_mapping?filter_path=*.mappings._meta", nil)
	s.m.observeOS("get_mapping", t0, err)
	if err != nil {
		return err
	}
	var metaResp map[string]struct {
		Mappings struct {
			Meta map[string]struct {
				Spec      json.RawMessage `json:"spec"`
				AppliedAt string          `json:"applied_at"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &metaResp); err == nil {
		if m, ok := metaResp[name].Mappings.Meta[metaKey]; ok && len(m.Spec) > 0 {
			applied, err := mapping.Load(m.Spec)
			if err != nil {
				resp.Warnings = append(resp.Warnings, fmt.Sprintf("the spec recorded in _meta.%s cannot be read: %v", metaKey, err))
			} else if norm, _, err := applied.Normalize(v); err != nil {
				resp.Warnings = append(resp.Warnings, fmt.Sprintf("the spec recorded in _meta.%s no longer validates on %s: %v", metaKey, v, err))
			} else {
				resp.AppliedSpec, resp.AppliedAt = norm, m.AppliedAt
				resp.Plan = mapping.Diff(norm, live.Spec)
			}
		}
	}
	var count struct {
		Count int64 `json:"count"`
	}
	t0 = time.Now()
	err = s.os.DoJSON(ctx, http.MethodGet, "/"+url.PathEscape(name)+"/_count", nil, &count)
	s.m.observeOS("count", t0, err)
	if err != nil {
		return err
	}
	resp.Documents = count.Count
	resp.Memory = mapping.EstimateMemory(live.Spec, mapping.EstimateInput{Vectors: count.Count})
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
