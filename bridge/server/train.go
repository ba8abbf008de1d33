package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/knnbridge/knnbridge/pq"
)

// MaxTrainSample bounds vectors sampled from an index in one request
// (one random_score search; larger samples belong to `knnbridge train`).
const MaxTrainSample = 10000

// TrainRequest is the body of POST /v1/train: local IVF / IVF-PQ training
// and evaluation (pq.Sweep) on vectors sampled from an index or read from
// a file under KNNBRIDGE_TRAIN_FILE_ROOT.
type TrainRequest struct {
	// Name of the stored codebook (<name>.faiss under KNNBRIDGE_TRAIN_DIR).
	Name   string       `json:"name"`
	Source *TrainSource `json:"source"`
	// Settings to evaluate; every combination is trained. M 0 = IVF-Flat.
	Nlist  []int `json:"nlist"`
	M      []int `json:"m"`
	NBits  []int `json:"nbits,omitempty"`  // default [8]
	Nprobe []int `json:"nprobe,omitempty"` // default [1, 4, 16]
	// Metric l2 or ip (default: from the index field's space, else l2).
	Metric       string  `json:"metric,omitempty"`
	TargetRecall float64 `json:"target_recall,omitempty"` // default 0.9
	RecallAt     int     `json:"recall_at,omitempty"`     // 1, 10 (default) or 100
	// Queries is how many sampled vectors are held out as queries for the
	// evaluation (default 100).
	Queries int   `json:"queries,omitempty"`
	Seed    int64 `json:"seed,omitempty"`
}

// TrainSource says where the vectors come from: exactly one of Index or
// File.
type TrainSource struct {
	Index  string `json:"index,omitempty"`
	Field  string `json:"field,omitempty"`
	Sample int    `json:"sample,omitempty"` // default 10000
	File   string `json:"file,omitempty"`   // .fvecs or .npy, relative to KNNBRIDGE_TRAIN_FILE_ROOT
	Limit  int    `json:"limit,omitempty"`
}

type trainResponse struct {
	Report   *pq.Report `json:"report"`
	Codebook string     `json:"codebook,omitempty"`
	Vectors  int        `json:"vectors"`
	Took     float64    `json:"took_ms"`
}

var codebookName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)

func (s *Server) postTrain(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	ctx := r.Context()
	var req TrainRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if !codebookName.MatchString(req.Name) {
		return badRequest("name", "name %q: 1-128 characters of letters, digits, . _ -, not starting with . _ -", req.Name)
	}
	if req.Source == nil {
		return badRequest("source", "source is required: {\"index\", \"field\"} or {\"file\"}")
	}
	src := req.Source
	if (src.Index == "") == (src.File == "") {
		return badRequest("source", "set exactly one of source.index and source.file")
	}
	if len(req.Nlist) == 0 {
		return badRequest("nlist", "nlist is required: one or more list counts, e.g. [64, 256]")
	}
	for i, n := range req.Nlist {
		if n < 1 {
			return badRequest(fieldf("nlist[%d]", i), "nlist %d must be ≥ 1", n)
		}
	}
	if len(req.M) == 0 {
		req.M = []int{0}
	}
	if len(req.NBits) == 0 {
		req.NBits = []int{8}
	}
	if len(req.Nprobe) == 0 {
		req.Nprobe = []int{1, 4, 16}
	}
	if req.TargetRecall == 0 {
		req.TargetRecall = 0.9
	}
	if req.TargetRecall < 0 || req.TargetRecall > 1 {
		return badRequest("target_recall", "target_recall %g outside (0, 1]", req.TargetRecall)
	}
	if req.RecallAt == 0 {
		req.RecallAt = 10
	}
	if req.RecallAt != 1 && req.RecallAt != 10 && req.RecallAt != 100 {
		return badRequest("recall_at", "recall_at must be 1, 10 or 100")
	}
	if req.Queries == 0 {
		req.Queries = 100
	}
	metricName := req.Metric
	var data []float32
	var d int
	if src.Index != "" {
		if err := validIndexName("source.index", src.Index); err != nil {
			return err
		}
		sc, err := s.schema(ctx, src.Index)
		if err != nil {
			return err
		}
		vf, err := pickVectorField(sc, src.Field, "source.field")
		if err != nil {
			return err
		}
		if metricName == "" {
			metricName = "l2"
			if vf.Info.Space == "innerproduct" || vf.Info.Space == "cosinesimil" {
				metricName = "ip"
			}
		}
		if src.Sample == 0 {
			src.Sample = MaxTrainSample
		}
		if src.Sample < 1 || src.Sample > MaxTrainSample {
			return badRequest("source.sample", "sample %d outside 1..%d", src.Sample, MaxTrainSample)
		}
		data, d, err = s.sampleVectors(r, src.Index, vf.Path, src.Sample, req.Seed)
		if err != nil {
			return err
		}
	} else {
		if s.cfg.TrainFileRoot == "" {
			return &APIError{Status: http.StatusForbidden, Code: "file_source_disabled", Field: "source.file",
				Message: "reading vector files is disabled; the operator enables it with KNNBRIDGE_TRAIN_FILE_ROOT"}
		}
		p, err := confinedPath(s.cfg.TrainFileRoot, src.File)
		if err != nil {
			return err
		}
		data, d, err = pq.ReadVectorsFile(p, src.Limit)
		if err != nil {
			if os.IsNotExist(err) {
				return badRequest("source.file", "no such file %q under the training root", src.File)
			}
			return badRequest("source.file", "reading %s: %v", src.File, err)
		}
	}
	if metricName == "" {
		metricName = "l2"
	}
	metric, err := pq.ParseMetric(metricName)
	if err != nil {
		return badRequest("metric", "%v", err)
	}
	n := 0
	if d > 0 {
		n = len(data) / d
	}
	if n <= req.Queries {
		return badRequest("source", "%d vectors: need more than the %d held out as queries", n, req.Queries)
	}
	// The last Queries vectors are held out as queries; the rest is both
	// the training set and the base the recall is measured on.
	base := data[:(n-req.Queries)*d]
	qs := data[(n-req.Queries)*d:]
	tc := pq.DefaultIVFTrainConfig()
	tc.Seed = req.Seed
	log := s.logger(ctx)
	rep, err := pq.Sweep(ctx, base, base, qs, d, pq.SweepConfig{
		Nlists: req.Nlist, Ms: req.M, NBits: req.NBits, Nprobes: req.Nprobe, Metric: metric,
		TargetRecall: req.TargetRecall, RecallAt: req.RecallAt, Train: tc,
		Progress: func(msg string) { log.Debug("train", zap.String("progress", msg)) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return badRequest("nlist", "training failed: %v", err)
	}
	resp := trainResponse{Report: rep, Vectors: n}
	if ix := rep.RecommendedIndex(); ix != nil {
		if err := os.MkdirAll(s.cfg.TrainDir, 0o755); err != nil {
			return fmt.Errorf("creating KNNBRIDGE_TRAIN_DIR %s: %w", s.cfg.TrainDir, err)
		}
		path := filepath.Join(s.cfg.TrainDir, req.Name+".faiss")
		if err := pq.WriteIndexFile(path, ix); err != nil {
			return fmt.Errorf("storing the codebook: %w", err)
		}
		resp.Codebook = path
	}
	resp.Took = ms(time.Since(start))
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// confinedPath resolves rel under root and refuses anything that leaves
// it (.., absolute paths, symlinks pointing out).
func confinedPath(root, rel string) (string, error) {
	if rel == "" || filepath.IsAbs(rel) || strings.Contains(rel, "\x00") {
		return "", badRequest("source.file", "source.file must be a relative path under the training root")
	}
	absRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("KNNBRIDGE_TRAIN_FILE_ROOT %s: %w", root, err)
	}
	p := filepath.Join(absRoot, filepath.Clean("/"+rel))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if os.IsNotExist(err) {
			return "", badRequest("source.file", "no such file %q under the training root", rel)
		}
		return "", badRequest("source.file", "%v", err)
	}
	if real != absRoot && !strings.HasPrefix(real, absRoot+string(filepath.Separator)) {
		return "", badRequest("source.file", "%q leaves the training root", rel)
	}
	return real, nil
}

// sampleVectors draws a uniform random sample of the field's vectors with
// one random_score search (seeded: the same seed gives the same sample on
// an unchanged index).
func (s *Server) sampleVectors(r *http.Request, index, field string, n int, seed int64) ([]float32, int, error) {
	body := map[string]any{
		"size":    n,
		"_source": []string{field},
		"query": map[string]any{"function_score": map[string]any{
			"query":        map[string]any{"exists": map[string]any{"field": field}},
			"random_score": map[string]any{"seed": seed, "field": "_seq_no"},
			"boost_mode":   "replace",
		}},
	}
	var out struct {
		Hits struct {
			Hits []struct {
				Source map[string]json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	t0 := time.Now()
	err := s.os.DoJSON(r.Context(), http.MethodPost, "/"+url.PathEscape(index)+"/_search", body, &out)
	s.m.observeOS("sample", t0, err)
	if err != nil {
		return nil, 0, err
	}
	var data []float32
	d := 0
	for _, h := range out.Hits.Hits {
		var v []float32
		raw, ok := lookupPath(h.Source, field)
		if !ok || json.Unmarshal(raw, &v) != nil || len(v) == 0 {
			continue
		}
		if d == 0 {
			d = len(v)
		}
		if len(v) != d {
			continue
		}
		data = append(data, v...)
	}
	if d == 0 {
		return nil, 0, badRequest("source.field", "no vectors found in %s.%s", index, field)
	}
	return data, d, nil
}

func lookupPath(src map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	parts := strings.Split(path, ".")
	cur := src
	for i, p := range parts {
		raw, ok := cur[p]
		if !ok {
			return nil, false
		}
		if i == len(parts)-1 {
			return raw, true
		}
		var next map[string]json.RawMessage
		if json.Unmarshal(raw, &next) != nil {
			return nil, false
		}
		cur = next
	}
	return nil, false
}
