package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test ./mapping -update)", name, err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from golden:\n got: %s\nwant: %s", name, got, want)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func loadFile(t *testing.T, name string) *IndexSpec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// TestRenderGolden: valid specs normalize and render to the committed REST bodies.
func TestRenderGolden(t *testing.T) {
	for _, name := range []string{"docs.yaml", "faiss-sq.json", "defaults.yaml", "ondisk.yaml"} {
		t.Run(name, func(t *testing.T) {
			s := loadFile(t, name)
			n, _, err := s.Normalize(V2_19)
			if err != nil {
				t.Fatal(err)
			}
			body, err := Render(n)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(name, filepath.Ext(name))+".create.json", indent(t, body))
			// The engine is always explicit.
			for _, vf := range n.VectorFields() {
				if vf.Engine == "" || vf.SpaceType == "" || vf.Method == "" {
					t.Errorf("%s: engine/space/method not written out: %+v", vf.Path, vf)
				}
			}
		})
	}
}

func TestInvalidGolden(t *testing.T) {
	s := loadFile(t, "invalid.yaml")
	_, err := s.Validate(V2_19)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	var buf bytes.Buffer
	for _, p := range ve.Problems {
		if p.Path == "" || p.Rule == "" || p.Message == "" || p.Source == "" {
			t.Errorf("problem lacks path/rule/message/source: %+v", p)
		}
		buf.WriteString(p.String() + "\n")
	}
	golden(t, "invalid.problems.txt", buf.Bytes())
}

func TestLoadStrict(t *testing.T) {
	_, err := Load([]byte("fields:\n  v: {type: knn_vector, dimenson: 3}\n"))
	if err == nil || !strings.Contains(err.Error(), "dimenson") {
		t.Fatalf("want an unknown-field error naming dimenson, got %v", err)
	}
	if _, err := Load([]byte("{not yaml: [")); err == nil {
		t.Fatal("want a parse error")
	}
}

func vec(dim int, mut func(f *Field)) *IndexSpec {
	f := &Field{Type: TypeKNNVector, Dimension: Int(dim)}
	if mut != nil {
		mut(f)
	}
	return &IndexSpec{Name: "t", Fields: map[string]*Field{"v": f}}
}

func hnsw(engine string) *Method { return &Method{Name: MethodHNSW, Engine: engine} }

// TestRules: each rule fires on its case and names the path; valid cases pass.
func TestRules(t *testing.T) {
	cases := []struct {
		name string
		v    Version
		spec *IndexSpec
		rule string // "" = valid
		path string
	}{
		{"lucene ok", V2_19, vec(128, func(f *Field) { f.Method = hnsw(EngineLucene) }), "", ""},
		{"dimension missing", V2_19, &IndexSpec{Fields: map[string]*Field{"v": {Type: TypeKNNVector}}}, "dimension-required", "fields.v.dimension"},
		{"dimension zero", V2_19, vec(0, nil), "dimension-positive", "fields.v.dimension"},
		{"dimension max", V2_19, vec(16001, func(f *Field) { f.Method = hnsw(EngineLucene) }), "dimension-max", "fields.v.dimension"},
		{"dimension 16000 ok", V2_19, vec(16000, func(f *Field) { f.Method = hnsw(EngineLucene) }), "", ""},
		{"binary %8", V2_19, vec(12, func(f *Field) { f.DataType = DataBinary; f.Method = hnsw(EngineFaiss) }), "binary-dimension-multiple-of-8", "fields.v.dimension"},
		{"binary needs hamming", V2_19, vec(16, func(f *Field) {
			f.DataType = DataBinary
			f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceL2}
		}), "space-data-type", "fields.v.method.space_type"},
		{"hamming needs binary", V2_19, vec(16, func(f *Field) { f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceHamming} }), "space-data-type", "fields.v.method.space_type"},
		{"lucene binary 2.19", V2_19, vec(16, func(f *Field) { f.DataType = DataBinary; f.Method = hnsw(EngineLucene) }), "", ""},
		{"lucene binary 2.18", V2_18, vec(16, func(f *Field) { f.DataType = DataBinary; f.Method = hnsw(EngineLucene) }), "engine-data-type", "fields.v.data_type"},
		{"nmslib byte", V2_19, vec(16, func(f *Field) { f.DataType = DataByte; f.Method = hnsw(EngineNmslib) }), "engine-data-type", "fields.v.data_type"},
		{"nmslib 3.0", V3_0, vec(16, func(f *Field) { f.Method = hnsw(EngineNmslib) }), "nmslib-removed", "fields.v.method.engine"},
		{"lucene l1", V2_19, vec(16, func(f *Field) { f.Method = &Method{Name: MethodHNSW, Engine: EngineLucene, SpaceType: SpaceL1} }), "engine-space", "fields.v.method.space_type"},
		{"faiss cosine 2.18", V2_18, vec(16, func(f *Field) { f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceCosine} }), "engine-space", "fields.v.method.space_type"},
		{"ivf needs training", V2_19, vec(16, func(f *Field) { f.Method = &Method{Name: MethodIVF, Engine: EngineFaiss} }), "method-requires-training", "fields.v.method.name"},
		{"ivf on lucene", V2_19, vec(16, func(f *Field) { f.Method = &Method{Name: MethodIVF, Engine: EngineLucene} }), "method-name", "fields.v.method.name"},
		{"pq divides", V2_19, vec(10, func(f *Field) {
			f.Method = hnsw(EngineFaiss)
			f.Method.Parameters = &MethodParams{Encoder: &Encoder{Name: EncoderPQ, Parameters: &EncoderParams{M: Int(3)}}}
		}), "pq-m-divides-dimension", "fields.v.method.parameters.encoder.parameters.m"},
		{"lucene m 600", V2_19, vec(16, func(f *Field) { f.Method = hnsw(EngineLucene); f.Method.Parameters = &MethodParams{M: Int(600)} }), "lucene-hnsw-m-max", "fields.v.method.parameters.m"},
		{"lucene ef_search param", V2_19, vec(16, func(f *Field) { f.Method = hnsw(EngineLucene); f.Method.Parameters = &MethodParams{EfSearch: Int(10)} }), "unknown-method-parameter", "fields.v.method.parameters.ef_search"},
		{"lucene flat encoder", V2_19, vec(16, func(f *Field) {
			f.Method = hnsw(EngineLucene)
			f.Method.Parameters = &MethodParams{Encoder: &Encoder{Name: EncoderFlat}}
		}), "lucene-encoder", "fields.v.method.parameters.encoder.name"},
		{"mode on byte", V2_19, vec(16, func(f *Field) { f.DataType = DataByte; f.Mode = ModeOnDisk }), "mode-float-only", "fields.v.mode"},
		{"on_disk 1x", V2_19, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.CompressionLevel = "1x" }), "on-disk-1x", "fields.v.compression_level"},
		{"on_disk 1x 3.0", V3_0, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.CompressionLevel = "1x" }), "on-disk-1x", "fields.v.compression_level"},
		{"on_disk 1x 3.1 engine-less", V3_1, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.CompressionLevel = "1x" }), "", ""},
		{"on_disk 1x 3.5 faiss", V3_5, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.CompressionLevel = "1x"; f.Method = hnsw(EngineFaiss) }), "", ""},
		{"on_disk 1x 3.5 lucene", V3_5, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.CompressionLevel = "1x"; f.Method = hnsw(EngineLucene) }), "on-disk-1x", "fields.v.compression_level"},
		{"faiss byte cosine 2.19", V2_19, vec(16, func(f *Field) {
			f.DataType = DataByte
			f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceCosine}
		}), "faiss-byte-cosine", "fields.v.method.space_type"},
		{"faiss byte cosine 3.5", V3_5, vec(16, func(f *Field) {
			f.DataType = DataByte
			f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceCosine}
		}), "faiss-byte-cosine", "fields.v.method.space_type"},
		{"engine-less byte cosine", V2_19, vec(16, func(f *Field) { f.DataType = DataByte; f.SpaceType = SpaceCosine }), "faiss-byte-cosine", "fields.v.space_type"},
		{"lucene byte cosine", V2_19, vec(16, func(f *Field) {
			f.DataType = DataByte
			f.Method = &Method{Name: MethodHNSW, Engine: EngineLucene, SpaceType: SpaceCosine}
		}), "", ""},
		{"lucene ef_construction 1 on 2.19", V2_19, vec(16, func(f *Field) {
			f.Method = hnsw(EngineLucene)
			f.Method.Parameters = &MethodParams{EfConstruction: Int(1)}
		}), "", ""},
		{"lucene ef_construction 1 on 3.0", V3_0, vec(16, func(f *Field) {
			f.Method = hnsw(EngineLucene)
			f.Method.Parameters = &MethodParams{EfConstruction: Int(1)}
		}), "lucene-hnsw-ef-construction-min", "fields.v.method.parameters.ef_construction"},
		{"lucene ef_construction 2 on 3.5", V3_5, vec(16, func(f *Field) {
			f.Method = hnsw(EngineLucene)
			f.Method.Parameters = &MethodParams{EfConstruction: Int(2)}
		}), "", ""},
		{"faiss 4x", V2_19, vec(16, func(f *Field) { f.CompressionLevel = "4x"; f.Method = hnsw(EngineFaiss) }), "engine-compression", "fields.v.method.engine"},
		{"nmslib on_disk", V2_19, vec(16, func(f *Field) { f.Mode = ModeOnDisk; f.Method = hnsw(EngineNmslib) }), "nmslib-on-disk", "fields.v.method.engine"},
		{"encoder conflicts", V2_19, vec(16, func(f *Field) {
			f.CompressionLevel = "16x"
			f.Method = hnsw(EngineFaiss)
			f.Method.Parameters = &MethodParams{Encoder: &Encoder{Name: EncoderSQ}}
		}), "compression-encoder-conflict", "fields.v.method.parameters.encoder"},
		{"method without knn", V2_19, func() *IndexSpec {
			s := vec(16, func(f *Field) { f.Method = hnsw(EngineLucene) })
			s.Settings.KNN = Bool(false)
			return s
		}(), "method-needs-knn", "fields.v.method"},
		{"model and dimension", V2_19, vec(16, func(f *Field) { f.ModelID = "m1" }), "model-and-dimension", "fields.v.dimension"},
		{"space conflict", V2_19, vec(16, func(f *Field) {
			f.SpaceType = SpaceL2
			f.Method = &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceInnerProduct}
		}), "space-conflict", "fields.v.method.space_type"},
		{"bad field name", V2_19, &IndexSpec{Fields: map[string]*Field{"a b": {Type: TypeKNNVector, Dimension: Int(4), Method: hnsw(EngineLucene)}}}, "vector-field-name", "fields.a b"},
		{"memory_optimized on 2.19", V2_19, func() *IndexSpec {
			s := vec(16, func(f *Field) { f.Method = hnsw(EngineLucene) })
			s.Settings.MemoryOptimizedSearch = Bool(true)
			return s
		}(), "memory-optimized-search-version", "settings.memory_optimized_search"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Validate(tc.v)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want rule %s, got %v", tc.rule, err)
			}
			for _, p := range ve.Problems {
				if p.Rule == tc.rule && p.Path == tc.path {
					return
				}
			}
			t.Fatalf("want rule %s at %s, got %v", tc.rule, tc.path, err)
		})
	}
}

// liveResponses fakes the bodies GET _mapping / _settings?flat_settings=true
// return for an index created from body (the cluster echoes the mapping as
// given, and reports settings as strings).
func liveResponses(t *testing.T, index string, n *IndexSpec) (mapping, settings []byte) {
	t.Helper()
	body, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Settings struct {
			Index map[string]any `json:"index"`
		} `json:"settings"`
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	flat := map[string]any{"index.uuid": "x", "index.creation_date": "1"}
	f := map[string]any{}
	flatten("", created.Settings.Index, f)
	for k, v := range f {
		if list, ok := v.([]any); ok {
			flat["index."+k] = list
			continue
		}
		flat["index."+k] = jsonString(v)
	}
	mapping, _ = json.Marshal(map[string]any{index: map[string]any{"mappings": created.Mappings}})
	settings, _ = json.Marshal(map[string]any{index: map[string]any{"settings": flat}})
	return mapping, settings
}

func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// TestParseLiveRoundTrip: a created index read back diffs as empty.
func TestParseLiveRoundTrip(t *testing.T) {
	for _, name := range []string{"docs.yaml", "faiss-sq.json", "defaults.yaml", "ondisk.yaml"} {
		t.Run(name, func(t *testing.T) {
			n, _, err := loadFile(t, name).Normalize(V2_19)
			if err != nil {
				t.Fatal(err)
			}
			m, s := liveResponses(t, n.Name, n)
			live, err := ParseLive(n.Name, m, s, V2_19)
			if err != nil {
				t.Fatal(err)
			}
			p := Diff(n, live.Spec)
			if !p.Empty() || len(p.Changes) != 0 {
				t.Fatalf("round trip not empty: %+v", p.Changes)
			}
		})
	}
}

// The cluster echoes the mapping as the user gave it: a live index created
// with omitted defaults must still diff empty against the explicit spec.
func TestParseLiveImplicitDefaults(t *testing.T) {
	mapping := []byte(`{"x":{"mappings":{"properties":{"v":{"type":"knn_vector","dimension":4},
		"t":{"type":"text"},"o":{"properties":{"k":{"type":"keyword","copy_to":"all"}}}}}}}`)
	settings := []byte(`{"x":{"settings":{"index":{"knn":"true","number_of_shards":"1","number_of_replicas":"1","knn.algo_param":{"ef_search":"100"},"uuid":"u"}}}}`)
	live, err := ParseLive("x", mapping, settings, V2_19)
	if err != nil {
		t.Fatal(err)
	}
	want := &IndexSpec{Name: "x", Fields: map[string]*Field{
		"v": {Type: TypeKNNVector, Dimension: Int(4), Method: &Method{Name: MethodHNSW, Engine: EngineFaiss, SpaceType: SpaceL2}},
		"t": {Type: "text"},
		"o": {Type: "object", Properties: map[string]*Field{"k": {Type: "keyword"}}},
	}}
	n, _, err := want.Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	if p := Diff(n, live.Spec); len(p.Changes) != 0 {
		t.Fatalf("want no changes, got %+v", p.Changes)
	}
	if len(live.Unmanaged) != 1 || live.Unmanaged[0] != "mapping o.k.copy_to" {
		t.Fatalf("unmanaged = %v", live.Unmanaged)
	}
}

func TestDiffPlan(t *testing.T) {
	base, _, err := loadFile(t, "docs.yaml").Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	m, s := liveResponses(t, "docs", base)
	live, err := ParseLive("docs", m, s, V2_19)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		path string
		kind ChangeKind
	}
	cases := []struct {
		name   string
		mut    func(s *IndexSpec)
		want   []want
		update bool
	}{
		{"ef_search + replicas in place", func(s *IndexSpec) { s.Settings.EfSearch = Int(256); s.Settings.Replicas = Int(2) },
			[]want{{"settings.index.knn.algo_param.ef_search", InPlace}, {"settings.index.number_of_replicas", InPlace}}, true},
		{"dimension reindex", func(s *IndexSpec) { s.Fields["embedding"].Dimension = Int(768) },
			[]want{{"fields.embedding.dimension", Reindex}}, false},
		{"engine reindex", func(s *IndexSpec) { s.Fields["embedding"].Method.Engine = EngineFaiss },
			[]want{{"fields.embedding.method", Reindex}}, false},
		{"new field in place", func(s *IndexSpec) { s.Fields["tags"] = &Field{Type: "keyword"} },
			[]want{{"fields.tags", InPlace}}, true},
		{"new nested subfield in place", func(s *IndexSpec) { s.Fields["passages"].Properties["page"] = &Field{Type: "integer"} },
			[]want{{"fields.passages.page", InPlace}}, true},
		{"analyzer reindex", func(s *IndexSpec) { s.Fields["body"].Analyzer = "english" },
			[]want{{"fields.body.analyzer", Reindex}}, false},
		{"ignore_above in place", func(s *IndexSpec) { s.Fields["lang"].IgnoreAbove = Int(128) },
			[]want{{"fields.lang.ignore_above", InPlace}}, true},
		{"shards reindex", func(s *IndexSpec) { s.Settings.Shards = Int(3) },
			[]want{{"settings.index.number_of_shards", Reindex}}, false},
		{"dropped field ignored", func(s *IndexSpec) { delete(s.Fields, "draft") },
			[]want{{"fields.draft", Ignored}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := base.Clone()
			tc.mut(d)
			p := Diff(d, live.Spec)
			if len(p.Changes) != len(tc.want) {
				t.Fatalf("changes = %+v, want %v", p.Changes, tc.want)
			}
			for i, w := range tc.want {
				if p.Changes[i].Path != w.path || p.Changes[i].Kind != w.kind {
					t.Errorf("change %d = %s %s, want %s %s", i, p.Changes[i].Path, p.Changes[i].Kind, w.path, w.kind)
				}
			}
			if got := p.SettingsUpdate != nil || p.MappingUpdate != nil; got != tc.update {
				t.Errorf("has update = %v, want %v", got, tc.update)
			}
		})
	}
	// A new nested subfield is sent under its parent with the parent's type.
	d := base.Clone()
	d.Fields["passages"].Properties["page"] = &Field{Type: "integer"}
	body, _ := RenderMapping(Diff(d, live.Spec).MappingUpdate)
	if string(body) != `{"properties":{"passages":{"type":"nested","properties":{"page":{"type":"integer"}}}}}` {
		t.Errorf("mapping update body = %s", body)
	}
}

func TestEstimate(t *testing.T) {
	n, _, err := vec(128, func(f *Field) { f.Method = hnsw(EngineFaiss) }).Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	n.Settings.Replicas = Int(1)
	est := EstimateMemory(n, EstimateInput{Vectors: 1_000_000})
	// 1.1 * (4*128 + 8*16) * 1e6 per copy, 2 copies.
	if want := 1.1 * (4*128 + 8*16) * 1e6; math.Abs(est.Fields[0].Bytes-want) > 1 || math.Abs(est.Total-2*want) > 1 {
		t.Fatalf("estimate = %+v, want %g per copy", est, want)
	}
	// 32x binary quantization: d/8 bytes per vector.
	n2, _, err := vec(1024, func(f *Field) { f.Mode = ModeOnDisk }).Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	e2 := EstimateMemory(n2, EstimateInput{Vectors: 1000})
	if want := 1.1 * (1024.0/8 + 8*16) * 1000 * 2; math.Abs(e2.Total-want) > 1e-6 {
		t.Fatalf("on_disk estimate = %g, want %g (%s)", e2.Total, want, e2.Fields[0].Formula)
	}
	// IVF-PQ: code books per segment.
	f := &Field{Type: TypeKNNVector, Dimension: Int(64), Method: &Method{Name: MethodIVF, Engine: EngineFaiss,
		Parameters: &MethodParams{Nlist: Int(16), Encoder: &Encoder{Name: EncoderPQ, Parameters: &EncoderParams{M: Int(8), CodeSize: Int(8)}}}}}
	fe := estimateField(f, 1000, 10)
	if want := 1.1*(1*8+24)*1000 + 10*(256*4*64+4*16*64); math.Abs(fe.Bytes-want) > 1e-6 {
		t.Fatalf("ivfpq = %g, want %g", fe.Bytes, want)
	}
}

func TestTrainRequestGolden(t *testing.T) {
	req := &TrainRequest{ModelID: "ivfpq-1", TrainingIndex: "train", TrainingField: "v", Dimension: 64,
		MaxTrainingVectorCount: Int(5000), Description: "ivf pq",
		Method: &Method{Name: MethodIVF, SpaceType: SpaceL2, Parameters: &MethodParams{Nlist: Int(16),
			Encoder: &Encoder{Name: EncoderPQ, Parameters: &EncoderParams{M: Int(8), CodeSize: Int(8)}}}}}
	n, err := req.Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	if n.Path() != "/_plugins/_knn/models/ivfpq-1/_train" {
		t.Errorf("path = %s", n.Path())
	}
	body, err := n.Body()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "train-ivfpq.json", indent(t, body))

	ivf := &TrainRequest{ModelID: "ivf", TrainingIndex: "train", TrainingField: "v", Dimension: 8,
		Method: &Method{Name: MethodIVF, Engine: EngineFaiss, SpaceType: SpaceInnerProduct, Parameters: &MethodParams{Nlist: Int(4), Nprobes: Int(2)}}}
	n2, err := ivf.Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := n2.Body()
	golden(t, "train-ivf.json", indent(t, b2))

	if MinTrainingVectors(req.Method) != 256 || MinTrainingVectors(ivf.Method) != 4 {
		t.Errorf("min training vectors = %d, %d", MinTrainingVectors(req.Method), MinTrainingVectors(ivf.Method))
	}
	// A method that needs no training is refused, and bad sizes are named.
	bad := &TrainRequest{ModelID: "x", TrainingIndex: "t", TrainingField: "v", Dimension: 10, SearchSize: Int(20000),
		Method: &Method{Name: MethodHNSW, Engine: EngineFaiss}}
	_, err = bad.Normalize(V2_19)
	var ve *ValidationError
	if !errors.As(err, &ve) || !ve.Has("train-needs-training-method") || !ve.Has("train-search-size") {
		t.Fatalf("want train-needs-training-method and train-search-size, got %v", err)
	}
	pq := &TrainRequest{ModelID: "x", TrainingIndex: "t", TrainingField: "v", Dimension: 10,
		Method: &Method{Name: MethodIVF, Engine: EngineFaiss, Parameters: &MethodParams{Encoder: &Encoder{Name: EncoderPQ, Parameters: &EncoderParams{M: Int(3)}}}}}
	if _, err := pq.Normalize(V2_19); !errors.As(err, &ve) || !ve.Has("pq-m-divides-dimension") {
		t.Fatalf("want pq-m-divides-dimension, got %v", err)
	}
}

func TestParseModelState(t *testing.T) {
	m, err := ParseModelState([]byte(`{"model_id":"a","state":"failed","error":"boom","dimension":8}`))
	if err != nil || m.State != ModelFailed || m.Error != "boom" {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := ParseModelState([]byte(`{}`)); err == nil {
		t.Fatal("want error for a response without state")
	}
}

func TestVersion(t *testing.T) {
	v, err := ParseVersion("2.19.1")
	if err != nil || v != (Version{2, 19, 1}) || !v.AtLeast(V2_19) || v.AtLeast(V3_0) {
		t.Fatalf("%v %v", v, err)
	}
	if v, err := ParseVersion("3.0.0-SNAPSHOT"); err != nil || !v.AtLeast(V3_0) {
		t.Fatalf("%v %v", v, err)
	}
	if _, err := ParseVersion("x"); err == nil {
		t.Fatal("want error")
	}
}

func TestConfidenceIntervalIsDecimal(t *testing.T) {
	b, err := json.Marshal(&EncoderParams{ConfidenceInterval: Float(1), Bits: Int(7)})
	if err != nil || string(b) != `{"bits":7,"confidence_interval":1.0}` {
		t.Fatalf("got %s %v", b, err)
	}
	b, _ = json.Marshal(&EncoderParams{ConfidenceInterval: Float(0.95)})
	if string(b) != `{"confidence_interval":0.95}` {
		t.Fatalf("got %s", b)
	}
}

func TestParseLiveWithoutKNNSettingIsFlat(t *testing.T) {
	mapping := []byte(`{"x":{"mappings":{"properties":{"v":{"type":"knn_vector","dimension":4}}}}}`)
	settings := []byte(`{"x":{"settings":{"index.number_of_shards":"1","index.number_of_replicas":"0"}}}`)
	live, err := ParseLive("x", mapping, settings, V2_19)
	if err != nil {
		t.Fatal(err)
	}
	if live.Spec.Settings.KNN == nil || *live.Spec.Settings.KNN || live.Spec.Fields["v"].Method != nil {
		t.Fatalf("want a flat field on a non-knn index, got knn=%v method=%+v", live.Spec.Settings.KNN, live.Spec.Fields["v"].Method)
	}
	vf, ok := live.Spec.VectorField("v")
	if !ok || vf.Dimension != 4 || vf.Engine != "" {
		t.Fatalf("VectorField = %+v %v", vf, ok)
	}
}

func TestVectorFieldNested(t *testing.T) {
	n, _, err := loadFile(t, "docs.yaml").Normalize(V2_19)
	if err != nil {
		t.Fatal(err)
	}
	vf, ok := n.VectorField("passages.vector")
	if !ok || vf.Nested != "passages" || vf.Engine != EngineLucene || vf.SpaceType != SpaceInnerProduct || vf.Dimension != 384 {
		t.Fatalf("VectorField = %+v %v", vf, ok)
	}
}
