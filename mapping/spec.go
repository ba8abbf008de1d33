// Package mapping knows the rules of OpenSearch k-NN index mappings: typed
// index specs, validation per engine and cluster version, rendering to the
// exact JSON the REST API takes, parsing a live index back into a spec,
// diffing and planning (in place vs. reindex), memory estimates and the
// faiss training request.
//
// The package does no network I/O; bridge/ executes what it builds.
//
// The public surface is small:
//
//	spec, err := mapping.Load(data)           // YAML or JSON, strict
//	norm, err := spec.Normalize(mapping.V2_19) // validate + fill every default
//	body, err := mapping.Render(norm)          // PUT /<index> body
//	live, err := mapping.ParseLive(name, getMappingJSON, getSettingsJSON)
//	plan := mapping.Diff(desiredNorm, liveNorm)
//	est := mapping.Estimate(norm, mapping.EstimateInput{Docs: 1e6})
//
// Other packages use VectorField (space, engine, dimension of a field).
package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Engine, method, space, data type and encoder names as the k-NN plugin
// spells them (KNNConstants.java).
const (
	EngineLucene = "lucene"
	EngineFaiss  = "faiss"
	EngineNmslib = "nmslib"

	MethodHNSW = "hnsw"
	MethodIVF  = "ivf"

	SpaceL2           = "l2"
	SpaceL1           = "l1"
	SpaceLinf         = "linf"
	SpaceCosine       = "cosinesimil"
	SpaceInnerProduct = "innerproduct"
	SpaceHamming      = "hamming"
	SpaceHammingBit   = "hammingbit"

	DataFloat  = "float"
	DataByte   = "byte"
	DataBinary = "binary"

	EncoderFlat   = "flat"
	EncoderSQ     = "sq"
	EncoderPQ     = "pq"
	EncoderBinary = "binary" // faiss QFrameBitEncoder (BQ), 2.17+

	ModeInMemory = "in_memory"
	ModeOnDisk   = "on_disk"

	TypeKNNVector = "knn_vector"
)

// IndexSpec is the desired state of one index: its settings and its fields.
type IndexSpec struct {
	// Name of the index. Optional in a spec file when the CLI names it.
	Name     string            `json:"name,omitempty"`
	Settings Settings          `json:"settings,omitempty"`
	Fields   map[string]*Field `json:"fields"`
}

// Settings are the index settings knnbridge manages. Pointers tell "unset"
// from an explicit zero; Normalize fills the defaults.
type Settings struct {
	Shards          *int   `json:"shards,omitempty"`           // index.number_of_shards (static)
	Replicas        *int   `json:"replicas,omitempty"`         // index.number_of_replicas (dynamic)
	RefreshInterval string `json:"refresh_interval,omitempty"` // index.refresh_interval (dynamic)
	// KNN is index.knn. Without it knn_vector fields are flat (exact search
	// only) and may not carry a method or model (KNNVectorFieldMapper
	// validateFromFlat). Normalize turns it on when a field has a method.
	KNN *bool `json:"knn,omitempty"`
	// EfSearch is index.knn.algo_param.ef_search (dynamic; nmslib and
	// faiss HNSW fields without their own ef_search read it).
	EfSearch *int `json:"ef_search,omitempty"`
	// ApproximateThreshold is index.knn.advanced.approximate_threshold
	// (dynamic; 2.18+): -1 never build graphs, 0 always.
	ApproximateThreshold *int `json:"approximate_threshold,omitempty"`
	// FilteredExactSearchThreshold is index.knn.advanced.filtered_exact_search_threshold (dynamic).
	FilteredExactSearchThreshold *int `json:"filtered_exact_search_threshold,omitempty"`
	// DerivedSource is index.knn.derived_source.enabled (static; 2.19+).
	DerivedSource *bool `json:"derived_source,omitempty"`
	// MemoryOptimizedSearch is index.knn.memory_optimized_search (3.0+).
	MemoryOptimizedSearch *bool `json:"memory_optimized_search,omitempty"`
	// Analysis is index.analysis as the REST API takes it (analyzers,
	// tokenizers, filters); kept verbatim.
	Analysis map[string]any `json:"analysis,omitempty"`
}

// Field is one mapped field. Which members apply depends on Type.
type Field struct {
	Type string `json:"type"`

	// knn_vector
	Dimension        *int    `json:"dimension,omitempty"`
	DataType         string  `json:"data_type,omitempty"`
	SpaceType        string  `json:"space_type,omitempty"` // top-level space_type (2.17+)
	Mode             string  `json:"mode,omitempty"`
	CompressionLevel string  `json:"compression_level,omitempty"`
	Method           *Method `json:"method,omitempty"`
	ModelID          string  `json:"model_id,omitempty"`

	// text / keyword
	Analyzer       string `json:"analyzer,omitempty"`
	SearchAnalyzer string `json:"search_analyzer,omitempty"`
	IgnoreAbove    *int   `json:"ignore_above,omitempty"`

	// date
	Format string `json:"format,omitempty"`
	// scaled_float
	ScalingFactor *float64 `json:"scaling_factor,omitempty"`

	// common
	Index     *bool `json:"index,omitempty"`
	DocValues *bool `json:"doc_values,omitempty"`

	// object / nested
	Properties map[string]*Field `json:"properties,omitempty"`
}

// Method is the knn_vector "method" object.
type Method struct {
	Name       string        `json:"name"`
	Engine     string        `json:"engine,omitempty"`
	SpaceType  string        `json:"space_type,omitempty"`
	Parameters *MethodParams `json:"parameters,omitempty"`
}

// MethodParams are the method parameters. Which apply depends on the engine
// and method; an inapplicable one set is an error (the plugin rejects
// unknown parameters: ParameterValidator.validateParameters).
type MethodParams struct {
	M              *int     `json:"m,omitempty"`
	EfConstruction *int     `json:"ef_construction,omitempty"`
	EfSearch       *int     `json:"ef_search,omitempty"`
	Nlist          *int     `json:"nlist,omitempty"`
	Nprobes        *int     `json:"nprobes,omitempty"`
	Encoder        *Encoder `json:"encoder,omitempty"`
}

// Encoder is the method's "encoder" parameter.
type Encoder struct {
	Name       string         `json:"name"`
	Parameters *EncoderParams `json:"parameters,omitempty"`
}

// EncoderParams are the encoder parameters (pq: m, code_size; faiss sq:
// type, clip; lucene sq: confidence_interval, bits; binary: bits).
type EncoderParams struct {
	M                  *int     `json:"m,omitempty"`
	CodeSize           *int     `json:"code_size,omitempty"`
	Type               string   `json:"type,omitempty"`
	Clip               *bool    `json:"clip,omitempty"`
	ConfidenceInterval *float64 `json:"confidence_interval,omitempty"`
	Bits               *int     `json:"bits,omitempty"`
}

// Load reads a spec from YAML or JSON. Unknown keys are errors, so a typo
// in a spec file never silently drops a parameter.
func Load(data []byte) (*IndexSpec, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("spec: not YAML or JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var s IndexSpec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return &s, nil
}

// Clone returns a deep copy.
func (s *IndexSpec) Clone() *IndexSpec {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("mapping: clone: %v", err)) // only plain data: cannot fail
	}
	var c IndexSpec
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("mapping: clone: %v", err))
	}
	return &c
}

// VectorField is what other packages need to know about a knn_vector
// field: the engine, space, data type and dimension after defaults.
type VectorField struct {
	Path      string // dotted path, e.g. "passages.embedding" for nested
	Nested    string // path of the enclosing nested object, "" if none
	Dimension int
	DataType  string
	SpaceType string
	Engine    string
	Method    string
	ModelID   string
}

// VectorFields lists the knn_vector fields of a normalized spec, sorted by
// path. On a spec that has not been normalized, unset values stay empty.
func (s *IndexSpec) VectorFields() []VectorField {
	var out []VectorField
	walkFields(s.Fields, "", "", func(path, nested string, f *Field) {
		if f.Type != TypeKNNVector {
			return
		}
		v := VectorField{Path: path, Nested: nested, DataType: f.DataType, SpaceType: f.SpaceType, ModelID: f.ModelID}
		if f.Dimension != nil {
			v.Dimension = *f.Dimension
		}
		if f.Method != nil {
			v.Engine, v.Method = f.Method.Engine, f.Method.Name
			if f.Method.SpaceType != "" {
				v.SpaceType = f.Method.SpaceType
			}
		}
		out = append(out, v)
	})
	return out
}

// VectorField returns the knn_vector field at a dotted path (e.g.
// "passages.embedding"), if there is one.
func (s *IndexSpec) VectorField(path string) (VectorField, bool) {
	for _, v := range s.VectorFields() {
		if v.Path == path {
			return v, true
		}
	}
	return VectorField{}, false
}

// walkFields visits every field depth-first in sorted order.
func walkFields(fields map[string]*Field, prefix, nested string, fn func(path, nested string, f *Field)) {
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if f == nil {
			continue
		}
		fn(path, nested, f)
		if len(f.Properties) > 0 {
			n := nested
			if f.Type == "nested" {
				n = path
			}
			walkFields(f.Properties, path, n, fn)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Int and Bool return pointers, for building specs in Go.
func Int(v int) *int { return &v }

// Bool returns a pointer to v.
func Bool(v bool) *bool { return &v }

// Float returns a pointer to v.
func Float(v float64) *float64 { return &v }

// MarshalJSON writes confidence_interval with a decimal point: the plugin
// declares it a DoubleParameter and refuses an integer (observed on
// 2.19.1: 1 is refused, 1.0 accepted).
func (p EncoderParams) MarshalJSON() ([]byte, error) {
	type plain EncoderParams
	aux := struct {
		plain
		ConfidenceInterval json.RawMessage `json:"confidence_interval,omitempty"`
	}{plain: plain(p)}
	if p.ConfidenceInterval != nil {
		s := strconv.FormatFloat(*p.ConfidenceInterval, 'f', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		aux.ConfidenceInterval = json.RawMessage(s)
	}
	return json.Marshal(aux)
}
