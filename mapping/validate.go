package mapping

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Problem is one broken rule (or, among warnings, one risk): where, what
// value, which rule, and the source the rule was taken from.
type Problem struct {
	Path    string `json:"path"`    // e.g. "fields.embedding.method.parameters.m"
	Value   any    `json:"value"`   // the offending value (nil when missing)
	Rule    string `json:"rule"`    // stable rule id, e.g. "lucene-hnsw-m-max"
	Message string `json:"message"` // the rule in words
	Source  string `json:"source"`  // k-NN doc page or plugin source the rule comes from
}

func (p Problem) String() string {
	v := "(missing)"
	if p.Value != nil {
		v = fmt.Sprintf("%v", p.Value)
	}
	return fmt.Sprintf("%s = %s: %s [%s]", p.Path, v, p.Message, p.Rule)
}

// ValidationError lists every problem found in a spec.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("invalid index spec (%d problems):\n  %s", len(e.Problems), strings.Join(lines, "\n  "))
}

// Has reports whether a problem with the given rule id is present.
func (e *ValidationError) Has(rule string) bool {
	return slices.ContainsFunc(e.Problems, func(p Problem) bool { return p.Rule == rule })
}

// validator accumulates problems and warnings for one spec and version.
type validator struct {
	v        Version
	knn      bool // index.knn
	analysis map[string]any
	errs     []Problem
	warns    []Problem
}

func (c *validator) fail(path string, value any, rule, source, format string, args ...any) {
	c.errs = append(c.errs, Problem{Path: path, Value: value, Rule: rule, Message: fmt.Sprintf(format, args...), Source: source})
}

func (c *validator) warn(path string, value any, rule, source, format string, args ...any) {
	c.warns = append(c.warns, Problem{Path: path, Value: value, Rule: rule, Message: fmt.Sprintf(format, args...), Source: source})
}

// Sources cited beside the rules. DW = opensearch-project/documentation-website,
// KNN = opensearch-project/k-NN (src/main/java/org/opensearch/knn/...).
const (
	srcMethodsDoc  = "DW _mappings/supported-field-types/knn-methods-engines.md"
	srcVectorDoc   = "DW _mappings/supported-field-types/knn-vector.md"
	srcMemOptDoc   = "DW _vector-search/optimizing-storage/knn-vector-quantization.md, disk-based-vector-search.md"
	srcSettingsDoc = "DW _vector-search/settings.md"
	srcMapper      = "KNN index/mapper/KNNVectorFieldMapper.java (TypeParser.parse)"
	srcEngine      = "KNN index/engine/KNNEngine.java"
	srcParamVal    = "KNN index/engine/validation/ParameterValidator.java"
	srcLuceneHNSW  = "KNN index/engine/lucene/LuceneHNSWMethod.java"
	srcFaissHNSW   = "KNN index/engine/faiss/FaissHNSWMethod.java"
	srcFaissIVF    = "KNN index/engine/faiss/FaissIVFMethod.java"
	srcNmslibHNSW  = "KNN index/engine/nmslib/NmslibHNSWMethod.java"
	srcFaissSQ     = "KNN index/engine/faiss/FaissSQEncoder.java"
	srcFaissPQ     = "KNN index/engine/faiss/FaissHNSWPQEncoder.java, FaissIVFPQEncoder.java"
	srcQFrame      = "KNN index/engine/faiss/QFrameBitEncoder.java"
	srcSpaceType   = "KNN index/SpaceType.java (validateVectorDataType)"
	srcLuceneFmt   = "Lucene99HnswVectorsFormat (MAXIMUM_MAX_CONN 512, MAXIMUM_BEAM_WIDTH 3200)"
	srcEngineRes   = "KNN index/engine/EngineResolver.java"
	srcModeRes     = "KNN index/mapper/ModeBasedResolver.java, CompressionLevel.java, Mode.java"
	srcKNNSettings = "KNN index/KNNSettings.java"
	srcOSMapping   = "OpenSearch server index/mapper (MapperService, TypeParsers)"
	srcOSSettings  = "OpenSearch IndexMetadata.java (number_of_shards 1..1024, number_of_replicas >= 0)"
)

// Limits from the plugin (KNNConstants.java; KNNEngine.java).
const (
	maxDimension      = 16000 // KNNEngine MAX_DIMENSIONS_BY_ENGINE: 16,000 for every engine since 2.12 (KNN #1346)
	nlistLimit        = 20000 // METHOD_PARAMETER_NLIST_LIMIT: valid values are 0 < v < limit
	nprobesLimit      = 20000 // METHOD_PARAMETER_NPROBES_LIMIT
	pqCodeCountLimit  = 1024  // ENCODER_PARAMETER_PQ_CODE_COUNT_LIMIT: 0 < m < limit
	pqCodeSizeLimit   = 128   // ENCODER_PARAMETER_PQ_CODE_SIZE_LIMIT (IVF): 0 < code_size < limit
	pqCodeSizeDefault = 8     // ENCODER_PARAMETER_PQ_CODE_SIZE_DEFAULT; HNSW-PQ takes only this value
	luceneMaxM        = 512   // Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN
	luceneMaxEfC      = 3200  // Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH
	defaultM          = 16    // KNNSettings.INDEX_KNN_DEFAULT_ALGO_PARAM_M
	defaultEfC        = 100   // INDEX_KNN_DEFAULT_ALGO_PARAM_EF_CONSTRUCTION (512 for indexes created <= 2.11)
	defaultEfSearch   = 100   // INDEX_KNN_DEFAULT_ALGO_PARAM_EF_SEARCH (512 for indexes created <= 2.11)
	defaultNlist      = 4     // METHOD_PARAMETER_NLIST_DEFAULT
	defaultNprobes    = 1     // METHOD_PARAMETER_NPROBES_DEFAULT
)

var (
	engines      = []string{EngineLucene, EngineFaiss, EngineNmslib}
	dataTypes    = []string{DataFloat, DataByte, DataBinary}
	allSpaces    = []string{SpaceL2, SpaceL1, SpaceLinf, SpaceCosine, SpaceInnerProduct, SpaceHamming, SpaceHammingBit}
	modes        = []string{ModeInMemory, ModeOnDisk}
	compressions = []string{"1x", "2x", "4x", "8x", "16x", "32x"}
)

// Validate checks the spec against the rules of OpenSearch version v. It
// returns warnings (accepted by the cluster but risky: faiss/nmslib need
// native libraries, nmslib is deprecated, …) and a *ValidationError
// listing every broken rule.
func (s *IndexSpec) Validate(v Version) ([]Problem, error) {
	c := &validator{v: v, analysis: s.Settings.Analysis}
	c.settings(&s.Settings)
	c.knn = knnEnabled(s)
	if len(s.Fields) == 0 {
		c.fail("fields", nil, "fields-required", srcOSMapping, "a spec needs at least one field")
	}
	c.fields("fields", s.Fields, 0)
	if len(c.errs) > 0 {
		return c.warns, &ValidationError{Problems: c.errs}
	}
	return c.warns, nil
}

// knnEnabled is index.knn as the spec will render it: explicit, or on when
// any knn_vector field exists (Normalize turns it on then).
func knnEnabled(s *IndexSpec) bool {
	if s.Settings.KNN != nil {
		return *s.Settings.KNN
	}
	found := false
	walkFields(s.Fields, "", "", func(_, _ string, f *Field) { found = found || f.Type == TypeKNNVector })
	return found
}

var timeValue = regexp.MustCompile(`^(-1|0|[0-9]+(nanos|micros|ms|s|m|h|d))$`)

func (c *validator) settings(st *Settings) {
	// number_of_shards 1..1024, number_of_replicas >= 0 (srcOSSettings).
	if st.Shards != nil && (*st.Shards < 1 || *st.Shards > 1024) {
		c.fail("settings.shards", *st.Shards, "shards-range", srcOSSettings, "index.number_of_shards must be between 1 and 1024")
	}
	if st.Replicas != nil && *st.Replicas < 0 {
		c.fail("settings.replicas", *st.Replicas, "replicas-range", srcOSSettings, "index.number_of_replicas must be >= 0")
	}
	// refresh_interval is a time value; -1 disables refresh (OpenSearch IndexSettings.INDEX_REFRESH_INTERVAL_SETTING).
	if st.RefreshInterval != "" && !timeValue.MatchString(st.RefreshInterval) {
		c.fail("settings.refresh_interval", st.RefreshInterval, "refresh-interval-format", "OpenSearch IndexSettings.INDEX_REFRESH_INTERVAL_SETTING (TimeValue)",
			"refresh_interval must be a time value such as 1s, 500ms, 1m or -1")
	}
	// index.knn.algo_param.ef_search: int setting with minimum 2 (KNNSettings INDEX_KNN_ALGO_PARAM_EF_SEARCH_SETTING).
	if st.EfSearch != nil && *st.EfSearch < 2 {
		c.fail("settings.ef_search", *st.EfSearch, "ef-search-setting-min", srcKNNSettings, "index.knn.algo_param.ef_search must be >= 2")
	}
	// approximate_threshold: -1 (never build graphs) or more (KNNSettings INDEX_KNN_ADVANCED_APPROXIMATE_THRESHOLD_SETTING, min -1); 2.18+.
	if st.ApproximateThreshold != nil {
		if *st.ApproximateThreshold < -1 {
			c.fail("settings.approximate_threshold", *st.ApproximateThreshold, "approximate-threshold-min", srcKNNSettings, "index.knn.advanced.approximate_threshold must be >= -1")
		}
		if !c.v.AtLeast(V2_18) {
			c.fail("settings.approximate_threshold", *st.ApproximateThreshold, "approximate-threshold-version", srcSettingsDoc, "index.knn.advanced.approximate_threshold needs OpenSearch 2.18+")
		}
	}
	// index.knn.derived_source.enabled appeared in 2.19 (DW settings.md; KNN #2449).
	if st.DerivedSource != nil && !c.v.AtLeast(V2_19) {
		c.fail("settings.derived_source", *st.DerivedSource, "derived-source-version", srcSettingsDoc, "index.knn.derived_source.enabled needs OpenSearch 2.19+")
	}
	// index.knn.memory_optimized_search appeared in 3.0 (DW settings.md); 2.x refuses the unknown setting.
	if st.MemoryOptimizedSearch != nil && !c.v.AtLeast(V3_0) {
		c.fail("settings.memory_optimized_search", *st.MemoryOptimizedSearch, "memory-optimized-search-version", srcSettingsDoc, "index.knn.memory_optimized_search needs OpenSearch 3.0+")
	}
	if st.KNN != nil && !*st.KNN && st.EfSearch != nil {
		c.warn("settings.ef_search", *st.EfSearch, "ef-search-without-knn", srcSettingsDoc, "ef_search has no effect while index.knn is false")
	}
}

// Field types knnbridge manages (OpenSearch core mappers + k-NN).
var fieldTypes = []string{TypeKNNVector, "text", "keyword", "integer", "long", "short", "byte", "float", "double", "half_float",
	"scaled_float", "date", "boolean", "object", "nested"}

// Built-in analyzers: core ones plus the language analyzers of the
// analysis-common module (OpenSearch AnalysisModule, CommonAnalysisModulePlugin).
var builtinAnalyzers = []string{"standard", "simple", "whitespace", "stop", "keyword", "pattern", "fingerprint",
	"arabic", "armenian", "basque", "bengali", "brazilian", "bulgarian", "catalan", "cjk", "czech", "danish", "dutch",
	"english", "estonian", "finnish", "french", "galician", "german", "greek", "hindi", "hungarian", "indonesian",
	"irish", "italian", "latvian", "lithuanian", "norwegian", "persian", "portuguese", "romanian", "russian",
	"sorani", "spanish", "swedish", "turkish", "thai"}

// Characters the k-NN plugin refuses in a vector field's full name, because
// the name becomes part of segment file names (KNNVectorFieldMapper
// validateFullFieldName; Strings.INVALID_FILENAME_CHARS; '#' is accepted on
// 2.19.1, observed).
const invalidFilenameChars = "\\/*?\"<>| ,"

func (c *validator) fields(prefix string, fields map[string]*Field, depth int) {
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		path := prefix + "." + name
		if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			c.fail(path, name, "field-name", srcOSMapping, "field names must be non-empty and may not start or end with '.'")
			continue
		}
		if f == nil {
			c.fail(path, nil, "field-type-required", srcOSMapping, "field has no definition")
			continue
		}
		if !slices.Contains(fieldTypes, f.Type) {
			c.fail(path+".type", f.Type, "field-type", srcOSMapping, "type must be one of %s", strings.Join(fieldTypes, ", "))
			continue
		}
		c.commonParams(path, f)
		switch f.Type {
		case TypeKNNVector:
			c.vector(path, fieldPath(prefix, name), f)
		case "text":
			c.analyzer(path+".analyzer", f.Analyzer)
			c.analyzer(path+".search_analyzer", f.SearchAnalyzer)
		case "keyword":
			if f.IgnoreAbove != nil && *f.IgnoreAbove < 0 {
				c.fail(path+".ignore_above", *f.IgnoreAbove, "ignore-above-min", "OpenSearch KeywordFieldMapper", "ignore_above must be >= 0")
			}
		case "scaled_float":
			// ScaledFloatFieldMapper: "Field [scaling_factor] is required".
			if f.ScalingFactor == nil {
				c.fail(path+".scaling_factor", nil, "scaling-factor-required", "OpenSearch ScaledFloatFieldMapper", "scaled_float needs scaling_factor")
			} else if *f.ScalingFactor <= 0 {
				c.fail(path+".scaling_factor", *f.ScalingFactor, "scaling-factor-positive", "OpenSearch ScaledFloatFieldMapper", "scaling_factor must be positive")
			}
		case "object", "nested":
			c.fields(path+".properties", f.Properties, depth+1)
		}
		if f.Type != "object" && f.Type != "nested" && len(f.Properties) > 0 {
			c.fail(path+".properties", len(f.Properties), "properties-only-objects", srcOSMapping, "only object and nested fields have properties")
		}
	}
}

func fieldPath(prefix, name string) string {
	p := strings.TrimPrefix(prefix, "fields")
	p = strings.ReplaceAll(p, ".properties", "")
	p = strings.TrimPrefix(p, ".")
	if p == "" {
		return name
	}
	return p + "." + name
}

// commonParams rejects parameters that do not belong to the field's type:
// OpenSearch refuses unknown mapping parameters ("unknown parameter [x] on
// mapper [f] of type [t]", ParametrizedFieldMapper.Builder.parse).
func (c *validator) commonParams(path string, f *Field) {
	isVec := f.Type == TypeKNNVector
	bad := func(name string, set bool) {
		if set {
			c.fail(path+"."+name, "set", "unknown-parameter", srcOSMapping, "parameter %s does not apply to type %s", name, f.Type)
		}
	}
	bad("dimension", !isVec && f.Dimension != nil)
	bad("data_type", !isVec && f.DataType != "")
	bad("space_type", !isVec && f.SpaceType != "")
	bad("mode", !isVec && f.Mode != "")
	bad("compression_level", !isVec && f.CompressionLevel != "")
	bad("method", !isVec && f.Method != nil)
	bad("model_id", !isVec && f.ModelID != "")
	bad("analyzer", f.Type != "text" && f.Analyzer != "")
	bad("search_analyzer", f.Type != "text" && f.SearchAnalyzer != "")
	bad("ignore_above", f.Type != "keyword" && f.IgnoreAbove != nil)
	bad("format", f.Type != "date" && f.Format != "")
	bad("scaling_factor", f.Type != "scaled_float" && f.ScalingFactor != nil)
	obj := f.Type == "object" || f.Type == "nested"
	bad("index", (obj || isVec) && f.Index != nil)
	bad("doc_values", (obj || f.Type == "text") && f.DocValues != nil)
}

func (c *validator) analyzer(path, name string) {
	if name == "" || slices.Contains(builtinAnalyzers, name) {
		return
	}
	if an, ok := c.analysis["analyzer"].(map[string]any); ok {
		if _, ok := an[name]; ok {
			return
		}
	}
	// MapperParsingException "analyzer [x] has not been configured in mappings" (OpenSearch TypeParsers.parseAnalyzer).
	c.fail(path, name, "analyzer-unknown", "OpenSearch index/mapper/TextFieldMapper (analyzer lookup)",
		"analyzer is neither built in nor defined under settings.analysis.analyzer")
}
