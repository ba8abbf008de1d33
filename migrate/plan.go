package migrate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/knnbridge/knnbridge/mapping"
)

// Mode says how target vectors are produced.
type Mode string

const (
	// ModeCopy copies every document's _source unchanged (vectors bit-exact).
	ModeCopy Mode = "copy"
	// ModeReembed recomputes the vector field from a text field with the
	// configured Embedder (an embedding-model change).
	ModeReembed Mode = "reembed"
)

// Default throughput assumptions for the time estimate (documents/s), from
// the bench/migrate figures on a 2-core machine; PlanInput overrides them.
const (
	DefaultCopyRate    = 2000.0
	DefaultReembedRate = 60.0
)

// PlanInput is what a plan is built from. bridge fills it from the cluster.
type PlanInput struct {
	// Alias is the alias applications read (and write) through; it must
	// point at exactly the source index.
	Alias string
	// Source is the live source index, as mapping.ParseLive returns it.
	Source *mapping.LiveIndex
	// Target is the desired target spec (validated and normalized here).
	Target *mapping.IndexSpec
	// TargetName overrides the versioned target name (NextName).
	TargetName string
	// Version of the cluster: the rules the target is validated against.
	Version mapping.Version
	// VectorField is the knn_vector field to migrate ("" = the only one).
	VectorField string
	// TextField is the field re-embedded from (ModeReembed only).
	TextField string
	// Model is the embedder's model name; set it to re-embed.
	Model string
	// ModelDimension is the embedder's output dimension (ModeReembed).
	ModelDimension int
	// Docs is the source's document count; Shards its primary shards.
	Docs   int64
	Shards int
	// CopyRate and ReembedRate (documents/s) feed the time estimate.
	CopyRate, ReembedRate float64
}

// Plan is a migration, decided before anything is written.
type Plan struct {
	Alias        string              `json:"alias"`
	Source       string              `json:"source"`
	Target       string              `json:"target"`
	Mode         Mode                `json:"mode"`
	VectorField  string              `json:"vector_field"`
	TextField    string              `json:"text_field,omitempty"`
	Model        string              `json:"model,omitempty"`
	SourceVector mapping.VectorField `json:"source_vector"`
	TargetVector mapping.VectorField `json:"target_vector"`
	// Summary says what changes, one line each ("engine: nmslib -> lucene").
	Summary []string `json:"summary"`
	// Changes are the mapping-level differences (mapping.Diff of the target
	// against the source).
	Changes  []mapping.Change `json:"changes"`
	Warnings []string         `json:"warnings,omitempty"`
	// TargetSpec is the normalized target with its final settings.
	TargetSpec *mapping.IndexSpec `json:"target_spec"`
	// LoadSettings are applied at creation for the backfill; FinalSettings
	// put the target's own values back at cutover (null = cluster default).
	LoadSettings  map[string]any `json:"load_settings"`
	FinalSettings map[string]any `json:"final_settings"`
	Docs          int64          `json:"docs"`
	Shards        int            `json:"source_shards"`
	// RateAssumed (documents/s) and EstimatedSeconds are the time estimate.
	RateAssumed      float64          `json:"rate_assumed"`
	EstimatedSeconds float64          `json:"estimated_seconds"`
	Memory           mapping.Estimate `json:"memory"`
}

var versionSuffix = regexp.MustCompile(`^(.*)-v([0-9]+)$`)

// NextName is the versioned name of the next index after source:
// "docs-v3" -> "docs-v4", "docs" -> "docs-v2".
func NextName(source string) string {
	if m := versionSuffix.FindStringSubmatch(source); m != nil {
		n, err := strconv.Atoi(m[2])
		if err == nil {
			return m[1] + "-v" + strconv.Itoa(n+1)
		}
	}
	return source + "-v2"
}

// BuildPlan decides the migration: target name and spec, copy or re-embed,
// what changes, load-time and final settings, and the estimates.
func BuildPlan(in PlanInput) (*Plan, error) {
	if in.Alias == "" {
		return nil, errors.New("plan: alias is required (applications must read through an alias for a zero-downtime switch)")
	}
	if in.Source == nil || in.Source.Spec == nil {
		return nil, errors.New("plan: source index is required")
	}
	if in.Target == nil {
		return nil, errors.New("plan: target spec is required")
	}
	src := in.Source.Spec
	p := &Plan{Alias: in.Alias, Source: src.Name, Docs: in.Docs, Shards: in.Shards}
	if p.Target = in.TargetName; p.Target == "" {
		p.Target = in.Target.Name
	}
	if p.Target == "" || p.Target == src.Name {
		p.Target = NextName(src.Name)
	}
	if p.Target == in.Alias {
		return nil, fmt.Errorf("plan: target index %q has the alias's name", p.Target)
	}
	want := in.Target.Clone()
	want.Name = p.Target
	// Settings the spec leaves out follow the source, so a parameter-only
	// spec does not silently change shards or replicas.
	if want.Settings.Shards == nil {
		want.Settings.Shards = src.Settings.Shards
	}
	if want.Settings.Replicas == nil {
		want.Settings.Replicas = src.Settings.Replicas
	}
	if want.Settings.Analysis == nil {
		want.Settings.Analysis = src.Settings.Analysis
	}
	norm, warns, err := want.Normalize(in.Version)
	if err != nil {
		return nil, fmt.Errorf("plan: target spec: %w", err)
	}
	for _, w := range warns {
		p.Warnings = append(p.Warnings, w.String())
	}
	p.TargetSpec = norm

	sv, err := pickVector(src, in.VectorField, "source "+src.Name)
	if err != nil {
		return nil, err
	}
	tv, err := pickVector(norm, sv.Path, "target spec")
	if err != nil {
		return nil, err
	}
	p.VectorField, p.SourceVector, p.TargetVector = sv.Path, sv, tv

	p.Mode = ModeCopy
	if in.Model != "" {
		p.Mode, p.Model = ModeReembed, in.Model
		if in.TextField == "" {
			return nil, errors.New("plan: re-embedding needs the text field the vectors are computed from (--text-field)")
		}
		if !hasField(src, in.TextField) {
			return nil, fmt.Errorf("plan: text field %q is not in the source mapping of %s", in.TextField, src.Name)
		}
		p.TextField = in.TextField
		if in.ModelDimension > 0 && in.ModelDimension != tv.Dimension {
			return nil, fmt.Errorf("plan: model %s produces %d-d vectors but the target field %s has dimension %d",
				in.Model, in.ModelDimension, tv.Path, tv.Dimension)
		}
	} else if sv.Dimension != tv.Dimension {
		return nil, fmt.Errorf("plan: field %s changes dimension %d -> %d: copied vectors cannot fit; re-embed with a model (--reembed)",
			sv.Path, sv.Dimension, tv.Dimension)
	}
	if p.Mode == ModeCopy && sv.DataType != tv.DataType {
		return nil, fmt.Errorf("plan: field %s changes data_type %s -> %s: copied values would be reinterpreted", sv.Path, sv.DataType, tv.DataType)
	}

	p.Summary = summarize(src, norm, sv, tv, p)
	p.Changes = mapping.Diff(norm, src).Changes
	if p.Mode == ModeCopy && tv.SpaceType == mapping.SpaceCosine && sv.SpaceType != mapping.SpaceCosine {
		// KNN VectorValidator: cosinesimil refuses all-zero vectors, which
		// other spaces accept.
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: space %s -> cosinesimil: all-zero vectors are refused by cosinesimil and would fail the copy", sv.Path, sv.SpaceType))
	}
	if sv.Engine == mapping.EngineNmslib || sv.Engine == mapping.EngineFaiss || tv.Engine == mapping.EngineNmslib || tv.Engine == mapping.EngineFaiss {
		p.Warnings = append(p.Warnings, "faiss/nmslib fields need the k-NN native libraries on the cluster (official distribution or Docker image); the Maven Central zip has none")
	}
	if len(in.Source.Unmanaged) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("source has mapping parameters/settings the target spec does not model and will not carry: %v", in.Source.Unmanaged))
	}

	p.LoadSettings = map[string]any{"index.refresh_interval": "-1", "index.number_of_replicas": 0}
	p.FinalSettings = map[string]any{"index.refresh_interval": nil, "index.number_of_replicas": 1}
	if norm.Settings.RefreshInterval != "" {
		p.FinalSettings["index.refresh_interval"] = norm.Settings.RefreshInterval
	}
	if norm.Settings.Replicas != nil {
		p.FinalSettings["index.number_of_replicas"] = *norm.Settings.Replicas
	}

	rate := in.CopyRate
	if rate <= 0 {
		rate = DefaultCopyRate
	}
	if p.Mode == ModeReembed {
		if rate = in.ReembedRate; rate <= 0 {
			rate = DefaultReembedRate
		}
	}
	p.RateAssumed = rate
	p.EstimatedSeconds = float64(in.Docs) / rate
	p.Memory = mapping.EstimateMemory(norm, mapping.EstimateInput{Vectors: in.Docs})
	return p, nil
}

// CreateBody is the body of PUT /<target>: the target spec with the
// load-time settings (no refresh, no replicas: each document is written
// once instead of once per copy, and segments are not cut every second).
func (p *Plan) CreateBody() ([]byte, error) {
	s := p.TargetSpec.Clone()
	s.Settings.RefreshInterval = "-1"
	s.Settings.Replicas = mapping.Int(0)
	return mapping.Render(s)
}

func pickVector(s *mapping.IndexSpec, path, where string) (mapping.VectorField, error) {
	vfs := s.VectorFields()
	if path == "" {
		if len(vfs) != 1 {
			names := make([]string, len(vfs))
			for i, v := range vfs {
				names[i] = v.Path
			}
			return mapping.VectorField{}, fmt.Errorf("plan: %s has %d knn_vector fields %v: name one with --vector-field", where, len(vfs), names)
		}
		return vfs[0], nil
	}
	for _, v := range vfs {
		if v.Path == path {
			if v.Nested != "" {
				return v, fmt.Errorf("plan: %s: vector field %s is inside nested %s, which migrations do not support yet", where, path, v.Nested)
			}
			return v, nil
		}
	}
	return mapping.VectorField{}, fmt.Errorf("plan: %s has no knn_vector field %q", where, path)
}

func hasField(s *mapping.IndexSpec, path string) bool {
	fields := s.Fields
	for _, part := range splitPath(path) {
		f, ok := fields[part]
		if !ok || f == nil {
			return false
		}
		fields = f.Properties
	}
	return true
}

func fieldAt(s *mapping.IndexSpec, path string) *mapping.Field {
	fields := s.Fields
	var f *mapping.Field
	for _, part := range splitPath(path) {
		f = fields[part]
		if f == nil {
			return nil
		}
		fields = f.Properties
	}
	return f
}

func summarize(src, dst *mapping.IndexSpec, sv, tv mapping.VectorField, p *Plan) []string {
	var out []string
	add := func(what string, a, b any) {
		as, bs := fmt.Sprint(a), fmt.Sprint(b)
		if as != bs {
			out = append(out, fmt.Sprintf("%s: %s -> %s", what, as, bs))
		}
	}
	add("engine", sv.Engine, tv.Engine)
	add("method", sv.Method, tv.Method)
	add("space_type", sv.SpaceType, tv.SpaceType)
	add("data_type", sv.DataType, tv.DataType)
	add("dimension", sv.Dimension, tv.Dimension)
	sp, tp := methodParams(fieldAt(src, sv.Path)), methodParams(fieldAt(dst, tv.Path))
	for _, k := range []string{"m", "ef_construction", "ef_search", "nlist", "nprobes", "encoder"} {
		add(k, orDash(sp[k]), orDash(tp[k]))
	}
	sf, tf := fieldAt(src, sv.Path), fieldAt(dst, tv.Path)
	if sf != nil && tf != nil {
		add("mode", orDash(sf.Mode), orDash(tf.Mode))
		add("compression_level", orDash(sf.CompressionLevel), orDash(tf.CompressionLevel))
	}
	if src.Settings.Shards != nil && dst.Settings.Shards != nil {
		add("shards", *src.Settings.Shards, *dst.Settings.Shards)
	}
	if p.Mode == ModeReembed {
		out = append(out, fmt.Sprintf("vectors: re-embedded from %s with model %s", p.TextField, p.Model))
	} else {
		out = append(out, "vectors: copied unchanged")
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func methodParams(f *mapping.Field) map[string]string {
	out := map[string]string{}
	if f == nil || f.Method == nil || f.Method.Parameters == nil {
		return out
	}
	mp := f.Method.Parameters
	set := func(k string, v *int) {
		if v != nil {
			out[k] = strconv.Itoa(*v)
		}
	}
	set("m", mp.M)
	set("ef_construction", mp.EfConstruction)
	set("ef_search", mp.EfSearch)
	set("nlist", mp.Nlist)
	set("nprobes", mp.Nprobes)
	if mp.Encoder != nil {
		out["encoder"] = mp.Encoder.Name
	}
	return out
}
