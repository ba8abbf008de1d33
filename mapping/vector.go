package mapping

import (
	"slices"
	"strings"
)

// vector validates one knn_vector field. path is the spec path
// ("fields.x" / "fields.o.properties.x"), name the full field name.
func (c *validator) vector(path, name string, f *Field) {
	// The full field name becomes part of segment file names, so the plugin
	// refuses filename-hostile characters (KNNVectorFieldMapper.validateFullFieldName).
	if strings.ContainsAny(name, invalidFilenameChars) {
		c.fail(path, name, "vector-field-name", srcMapper, "a knn_vector field name may not contain any of %q", invalidFilenameChars)
	}
	dt := f.DataType
	if dt == "" {
		dt = DataFloat // KNNConstants.DEFAULT_VECTOR_DATA_TYPE_FIELD
	}
	if !slices.Contains(dataTypes, dt) {
		// VectorDataType.get: "Invalid data type ... Supported data types are float, byte, binary".
		c.fail(path+".data_type", f.DataType, "data-type", "KNN index/VectorDataType.java (get)", "data_type must be float, byte or binary")
		return
	}
	if f.SpaceType != "" && !slices.Contains(allSpaces, f.SpaceType) {
		// SpaceType.getSpace: "Unable to find space: x" (top-level space_type, 2.17+).
		c.fail(path+".space_type", f.SpaceType, "space-type", srcSpaceType, "space_type must be one of %s", strings.Join(allSpaces, ", "))
		return
	}
	if f.SpaceType != "" && !c.v.AtLeast(V2_17) {
		c.fail(path+".space_type", f.SpaceType, "top-level-space-version", "KNN #2044", "a top-level space_type needs OpenSearch 2.17+; put it in method.space_type")
	}

	if f.ModelID != "" {
		c.modelField(path, f)
		return
	}
	if !c.dimension(path, f, dt, c.knn) {
		return
	}

	if !c.knn {
		// With index.knn false (or unset) the field is a flat vector field:
		// exact search only, no method, no model, no mode/compression
		// (KNNVectorFieldMapper.TypeParser validateFromFlat).
		if f.Method != nil {
			c.fail(path+".method", f.Method.Name, "method-needs-knn", srcMapper, "a method needs settings.knn: true (\"Cannot set modelId or method parameters when index.knn setting is false\")")
		}
		if f.Mode != "" || f.CompressionLevel != "" {
			c.fail(path+".mode", f.Mode+f.CompressionLevel, "mode-needs-knn", srcMapper, "mode and compression_level need settings.knn: true")
		}
		// The flat mapper checks only that the space name exists; a
		// mismatched space/data type pair fails at query time instead
		// (observed on 2.19.1: {"space_type":"hamming"} with float accepted).
		if f.SpaceType == SpaceHammingBit {
			c.spaceForData(path+".space_type", f.SpaceType, dt)
		} else if f.SpaceType != "" && (f.SpaceType == SpaceHamming) != (dt == DataBinary) {
			c.warn(path+".space_type", f.SpaceType, "space-data-type", srcSpaceType, "space %s does not fit data_type %s; exact search will fail", f.SpaceType, dt)
		}
		return
	}

	c.modeAndCompression(path, f, dt)

	if f.Method == nil {
		// No method: the cluster resolves an engine itself. In 2.19 that is
		// faiss (EngineResolver.resolveEngineForX1OrNoCompression, KNN
		// #2498), which fails at index build where the native libraries are
		// missing. Normalize writes the engine out explicitly.
		c.spaceForData(path+".space_type", f.SpaceType, dt)
		if defaultEngine(c.v, f) == EngineFaiss {
			c.faissByteCosine(path+".space_type", dt, f.SpaceType)
		}
		c.warn(path+".method", nil, "engine-implicit", srcEngineRes,
			"no method given: OpenSearch %s picks engine %s; Normalize writes it out", c.v, defaultEngine(c.v, f))
		c.warnNatives(path+".method", defaultEngine(c.v, f))
		return
	}
	c.method(path+".method", f, dt)
}

func (c *validator) modelField(path string, f *Field) {
	// A model carries dimension, space, method and data type
	// (KNNVectorFieldMapper.TypeParser: "Method and model can not be both
	// specified"; validateFromModel: no top-level space type, no mode or
	// compression; DW knn-vector.md "Model IDs").
	if f.Method != nil {
		c.fail(path+".method", f.Method.Name, "model-and-method", srcMapper, "method and model_id can not both be set")
	}
	if f.SpaceType != "" {
		c.fail(path+".space_type", f.SpaceType, "model-and-space", srcMapper, "space_type comes from the model; remove it")
	}
	if f.Mode != "" || f.CompressionLevel != "" {
		c.fail(path+".mode", f.Mode+f.CompressionLevel, "model-and-mode", srcMapper, "mode and compression_level can not be set with a model_id")
	}
	// dimension next to model_id was wrongly accepted before 2.19 (KNN #2410).
	if f.Dimension != nil {
		if c.v.AtLeast(V2_19) {
			c.fail(path+".dimension", *f.Dimension, "model-and-dimension", "KNN #2410", "dimension comes from the model; remove it")
		} else {
			c.warn(path+".dimension", *f.Dimension, "model-and-dimension", "KNN #2410", "dimension is ignored next to model_id")
		}
	}
	if !c.knn {
		c.fail(path+".model_id", f.ModelID, "model-needs-knn", srcMapper, "a model_id needs settings.knn: true")
	}
}

// dimension checks presence, sign, the per-engine maximum and the binary
// multiple-of-8 rule; it reports whether later checks make sense.
func (c *validator) dimension(path string, f *Field, dt string, knn bool) bool {
	if f.Dimension == nil {
		// validateDimensionSet: "Dimension value missing for vector: x".
		c.fail(path+".dimension", nil, "dimension-required", srcMapper, "dimension is required unless model_id is set")
		return false
	}
	d := *f.Dimension
	if d <= 0 {
		// Builder.dimension: "Dimension value must be greater than 0 for vector: x".
		c.fail(path+".dimension", d, "dimension-positive", srcMapper, "dimension must be greater than 0")
		return false
	}
	// 16,000 for every engine (KNNEngine.MAX_DIMENSIONS_BY_ENGINE; lucene
	// was 1,024 until 2.12, KNN #1346). For binary the limit counts bits.
	// A flat field (index.knn false) has no engine and no maximum
	// (observed on 2.19.1: 16,001 accepted and written).
	if knn && d > maxDimension {
		c.fail(path+".dimension", d, "dimension-max", srcEngine, "dimension must be at most %d", maxDimension)
	}
	// "Dimension should be multiply of 8 for binary vector data type" (KNNVectorFieldMapperUtil / VectorDataType.BINARY).
	if dt == DataBinary && d%8 != 0 {
		c.fail(path+".dimension", d, "binary-dimension-multiple-of-8", "KNN index/mapper/KNNVectorFieldMapperUtil.java (validateVectorDataType)", "a binary vector's dimension counts bits and must be a multiple of 8")
	}
	return true
}

// spaceForData enforces hamming <=> binary (SpaceType.HAMMING supports only
// binary; every other space refuses binary: SpaceType.validateVectorDataType).
func (c *validator) spaceForData(path, space, dt string) {
	if space == "" {
		return
	}
	if space == SpaceHammingBit {
		// hammingbit exists for script scoring only, not as a field space
		// (DW _vector-search/vector-search-techniques/knn-score-script.md).
		c.fail(path, space, "space-hammingbit", srcSpaceType, "hammingbit is a script-scoring space; use hamming with data_type binary")
		return
	}
	if space == SpaceHamming && dt != DataBinary {
		c.fail(path, space, "space-data-type", srcSpaceType, "space hamming needs data_type binary")
	}
	if dt == DataBinary && space != SpaceHamming {
		c.fail(path, space, "space-data-type", srcSpaceType, "data_type binary supports only space hamming")
	}
}

// modeAndCompression checks mode and compression_level (2.17+, float only:
// KNNVectorFieldMapper.TypeParser.validateMode; values: Mode.NAMES_ARRAY,
// CompressionLevel.NAMES_ARRAY).
func (c *validator) modeAndCompression(path string, f *Field, dt string) {
	if f.Mode == "" && f.CompressionLevel == "" {
		return
	}
	if !c.v.AtLeast(V2_17) {
		c.fail(path+".mode", f.Mode+f.CompressionLevel, "mode-version", srcMemOptDoc, "mode and compression_level need OpenSearch 2.17+")
		return
	}
	if f.Mode != "" && !slices.Contains(modes, f.Mode) {
		c.fail(path+".mode", f.Mode, "mode-value", srcModeRes, "mode must be in_memory or on_disk")
	}
	if f.CompressionLevel != "" && !slices.Contains(compressions, f.CompressionLevel) {
		c.fail(path+".compression_level", f.CompressionLevel, "compression-value", srcModeRes, "compression_level must be one of %s", strings.Join(compressions, ", "))
	}
	if dt != DataFloat {
		c.fail(path+".mode", f.Mode+f.CompressionLevel, "mode-float-only", srcMapper, "mode and compression_level work only with data_type float")
	}
	// on_disk relied on quantization until 3.1: "Cannot specify "x1"
	// compression level when using "on_disk" mode"
	// (AbstractMethodResolver.validateCompressionConflicts / ModeBasedResolver;
	// observed on 2.19.1). From 3.1 on_disk + 1x is served by
	// memory-optimized search (LuceneOnFaiss), for faiss HNSW only (KNN
	// #2751, backported to 3.1; observed accepted on 3.5.0).
	if f.Mode == ModeOnDisk && f.CompressionLevel == "1x" && !c.onDisk1xSupported(f) {
		if c.v.AtLeast(V3_1) {
			c.fail(path+".compression_level", f.CompressionLevel, "on-disk-1x", "KNN #2751", "on_disk mode with 1x compression works only with engine faiss and method hnsw")
		} else {
			c.fail(path+".compression_level", f.CompressionLevel, "on-disk-1x", srcModeRes, "on_disk mode needs a compression above 1x before OpenSearch 3.1")
		}
	}
}

// onDisk1xSupported: 3.1+ with faiss HNSW (named, or resolved by default).
func (c *validator) onDisk1xSupported(f *Field) bool {
	if !c.v.AtLeast(V3_1) {
		return false
	}
	if f.Method == nil {
		return defaultEngine(c.v, f) == EngineFaiss
	}
	engine := f.Method.Engine
	if engine == "" {
		engine = defaultEngine(c.v, f)
	}
	return engine == EngineFaiss && (f.Method.Name == "" || f.Method.Name == MethodHNSW)
}

// faissByteCosine: faiss cannot normalise byte vectors, so byte +
// cosinesimil on faiss never works. Before 3.5 the mapping is accepted and
// the first document fails ("Byte array normalization is not supported",
// KNN #2955); from 3.5 index creation refuses it (KNN #3002).
func (c *validator) faissByteCosine(path, dt, space string) {
	// Before 2.19 faiss has no cosinesimil at all; the space gate says so.
	if dt != DataByte || space != SpaceCosine || !c.v.AtLeast(V2_19) {
		return
	}
	if c.v.AtLeast(V3_5) {
		c.fail(path, space, "faiss-byte-cosine", "KNN #3002", "faiss does not support cosinesimil with data_type byte; use float, or l2/innerproduct")
	} else {
		c.fail(path, space, "faiss-byte-cosine", "KNN #2955", "faiss does not support cosinesimil with data_type byte (the mapping is accepted, the first document then fails); use float, or l2/innerproduct")
	}
}

// engineCompressions are the compression levels each engine's method
// resolver accepts (DW knn-memory-optimized.md "Compression levels":
// faiss 1x, 2x (fp16 sq), 8x/16x/32x (binary quantization); lucene 1x and
// 4x (7-bit sq); nmslib 1x only; FaissMethodResolver,
// LuceneHNSWMethodResolver, NmslibMethodResolver: "<engine> does not support
// <level> compression"; nmslib: "Nmslib engine does not support disk-based search").
var engineCompressions = map[string][]string{
	EngineFaiss:  {"1x", "2x", "8x", "16x", "32x"},
	EngineLucene: {"1x", "4x"},
	EngineNmslib: {"1x"},
}

func (c *validator) engineCompression(path string, f *Field, engine string) {
	if f.Mode == ModeOnDisk && engine == EngineNmslib {
		c.fail(path+".engine", engine, "nmslib-on-disk", "KNN index/engine/nmslib/NmslibMethodResolver.java", "nmslib does not support on_disk mode")
	}
	if f.CompressionLevel != "" && slices.Contains(compressions, f.CompressionLevel) && !slices.Contains(engineCompressions[engine], f.CompressionLevel) {
		c.fail(path+".engine", engine, "engine-compression", srcMemOptDoc, "engine %s supports compression %s, not %s", engine, strings.Join(engineCompressions[engine], ", "), f.CompressionLevel)
	}
}

// method validates the method object against the engine's rules.
func (c *validator) method(path string, f *Field, dt string) {
	m := f.Method
	if m.Engine == "" {
		c.warn(path+".engine", nil, "engine-implicit", srcEngineRes,
			"no engine given: OpenSearch %s picks its default; Normalize writes it out", c.v)
	} else if !slices.Contains(engines, m.Engine) {
		// KNNEngine.getEngine: "Invalid engine type: x".
		c.fail(path+".engine", m.Engine, "engine", srcEngine, "engine must be lucene, faiss or nmslib")
		return
	}
	engine := m.Engine
	if engine == "" {
		engine = defaultEngine(c.v, f)
	}
	if m.SpaceType != "" && !slices.Contains(allSpaces, m.SpaceType) {
		c.fail(path+".space_type", m.SpaceType, "space-type", srcSpaceType, "space_type must be one of %s", strings.Join(allSpaces, ", "))
		return
	}
	// "Space type in "method" and top level space type should be same or
	// one of them should be defined" (TypeParser.validateSpaceType).
	if m.SpaceType != "" && f.SpaceType != "" && m.SpaceType != f.SpaceType {
		c.fail(path+".space_type", m.SpaceType, "space-conflict", srcMapper, "method.space_type differs from the top-level space_type %q", f.SpaceType)
		return
	}
	space := m.SpaceType
	if space == "" {
		space = f.SpaceType
	}
	spacePath := path + ".space_type"
	if space == "" {
		space = defaultSpace(dt)
	}
	c.spaceForData(spacePath, space, dt)

	switch engine {
	case EngineNmslib:
		// nmslib: deprecated in 2.19 (KNN #2427); refused for new indexes from 3.0 (KNN #2573, #2551).
		if c.v.AtLeast(V3_0) {
			c.fail(path+".engine", engine, "nmslib-removed", "KNN #2573", "OpenSearch 3.0+ refuses new nmslib indexes; use faiss or lucene")
			return
		}
		if c.v.AtLeast(V2_19) {
			c.warn(path+".engine", engine, "nmslib-deprecated", "KNN #2427", "nmslib is deprecated; prefer faiss or lucene")
		}
	}

	c.engineCompression(path, f, engine)
	switch {
	case engine == EngineLucene && m.Name == MethodHNSW:
		c.luceneHNSW(path, f, dt, space)
	case engine == EngineFaiss && m.Name == MethodHNSW:
		c.faissMethod(path, f, dt, space, false)
	case engine == EngineFaiss && m.Name == MethodIVF:
		c.faissMethod(path, f, dt, space, true)
	case engine == EngineNmslib && m.Name == MethodHNSW:
		c.nmslibHNSW(path, f, dt, space)
	default:
		// AbstractKNNLibrary.validateMethod: "Invalid method name: x".
		names := "hnsw"
		if engine == EngineFaiss {
			names = "hnsw, ivf"
		}
		c.fail(path+".name", m.Name, "method-name", srcMethodsDoc, "engine %s supports method %s", engine, names)
		return
	}
	c.warnNatives(path, engine)
}

func (c *validator) warnNatives(path, engine string) {
	if engine == EngineFaiss || engine == EngineNmslib {
		c.warn(path+".engine", engine, "needs-native-library", "KNN #2643",
			"the %s engine builds its graphs in a native library; a k-NN plugin without lib/ (the Maven Central zip) accepts the mapping, then the first graph build fails (k-NN #2643: UnsatisfiedLinkError, which stops the node)", engine)
	}
}

func defaultSpace(dt string) string {
	if dt == DataBinary {
		return SpaceHamming // binary defaults to hamming (SpaceType resolution, DW knn-memory-optimized.md)
	}
	return SpaceL2 // SpaceType.DEFAULT
}

// defaultEngine is the engine the cluster picks when the mapping names
// none (EngineResolver.resolveKNNEngine): 4x compression -> lucene (where
// supported), other compression or on_disk -> faiss, none -> faiss from
// 2.19 on (resolveEngineForX1OrNoCompression; KNN #2498), nmslib before.
func defaultEngine(v Version, f *Field) string {
	if f.CompressionLevel == "4x" {
		return EngineLucene
	}
	if f.Mode == ModeOnDisk || (f.CompressionLevel != "" && f.CompressionLevel != "1x") {
		return EngineFaiss
	}
	if v.AtLeast(V2_19) {
		return EngineFaiss
	}
	return EngineNmslib
}

// The data types and spaces each engine takes, with the version that
// introduced them (DW knn-methods-engines.md "Supported ..." tables;
// LuceneHNSWMethod / FaissHNSWMethod / FaissIVFMethod / NmslibHNSWMethod
// SUPPORTED_SPACES and SUPPORTED_DATA_TYPES).
type gate struct {
	name  string
	since Version
}

var (
	luceneSpaces = []gate{{SpaceL2, Version{}}, {SpaceCosine, Version{}}, {SpaceInnerProduct, V2_13}, {SpaceHamming, V2_19}}
	faissSpaces  = []gate{{SpaceL2, Version{}}, {SpaceInnerProduct, Version{}}, {SpaceHamming, V2_16}, {SpaceCosine, V2_19}}
	nmslibSpaces = []gate{{SpaceL2, Version{}}, {SpaceInnerProduct, Version{}}, {SpaceCosine, Version{}}, {SpaceL1, Version{}}, {SpaceLinf, Version{}}}

	luceneData = []gate{{DataFloat, Version{}}, {DataByte, V2_9}, {DataBinary, V2_19}}
	faissData  = []gate{{DataFloat, Version{}}, {DataByte, V2_17}, {DataBinary, V2_16}}
	nmslibData = []gate{{DataFloat, Version{}}}
)

func (c *validator) gated(path, value string, gates []gate, rule, source, what string) bool {
	for _, g := range gates {
		if g.name == value {
			if !c.v.AtLeast(g.since) {
				c.fail(path, value, rule, source, "%s needs OpenSearch %s+", what, g.since)
				return false
			}
			return true
		}
	}
	names := make([]string, len(gates))
	for i, g := range gates {
		names[i] = g.name
	}
	c.fail(path, value, rule, source, "%s is not supported; supported: %s", what, strings.Join(names, ", "))
	return false
}

func (c *validator) spaceAndData(path string, f *Field, dt, space, engine string, spaces, data []gate, source string) {
	dtPath := strings.TrimSuffix(path, ".method") + ".data_type"
	c.gated(dtPath, dt, data, "engine-data-type", source, "data_type "+dt+" with engine "+engine)
	if space == SpaceHamming && dt != DataBinary || space == SpaceHammingBit {
		return // already reported by spaceForData
	}
	c.gated(path+".space_type", space, spaces, "engine-space", source, "space "+space+" with engine "+engine)
}

func (c *validator) luceneHNSW(path string, f *Field, dt, space string) {
	c.spaceAndData(path, f, dt, space, EngineLucene, luceneSpaces, luceneData, srcLuceneHNSW)
	p := f.Method.Parameters
	if p == nil {
		return
	}
	pp := path + ".parameters"
	// Lucene HNSW takes m, ef_construction and encoder only; anything else
	// is "Invalid parameter" (ParameterValidator.validateParameters).
	c.noParam(pp+".ef_search", p.EfSearch != nil, "lucene hnsw")
	c.noParam(pp+".nlist", p.Nlist != nil, "lucene hnsw")
	c.noParam(pp+".nprobes", p.Nprobes != nil, "lucene hnsw")
	// m, ef_construction > 0 (LuceneHNSWMethod IntegerParameter validators).
	c.positive(pp+".m", p.M, srcLuceneHNSW)
	c.positive(pp+".ef_construction", p.EfConstruction, srcLuceneHNSW)
	// The plugin accepts larger values, but Lucene's codec refuses them when
	// the first segment is written: maxConn <= 512 and beamWidth <= 3200
	// (Lucene99HnswVectorsFormat constructor). Refuse them up front.
	if p.M != nil && *p.M > luceneMaxM {
		c.fail(pp+".m", *p.M, "lucene-hnsw-m-max", srcLuceneFmt, "lucene HNSW m must be at most %d (the mapping is accepted, indexing then fails)", luceneMaxM)
	}
	// Lucene 10 (OpenSearch 3.x) sizes a queue of ef_construction-1 and
	// refuses 0 when the first document is indexed: "maxSize must be > 0
	// and < 2147483630; got: 0" (observed on 3.5.0; 2.19.1 on Lucene 9
	// indexes ef_construction 1 fine; 3.0 is the first Lucene 10 release).
	if p.EfConstruction != nil && *p.EfConstruction == 1 && c.v.AtLeast(V3_0) {
		c.fail(pp+".ef_construction", *p.EfConstruction, "lucene-hnsw-ef-construction-min", "Lucene 10 HNSW builder (observed on 3.5.0)", "lucene HNSW ef_construction must be at least 2 on OpenSearch 3.x (the mapping is accepted, indexing then fails)")
	}
	if p.EfConstruction != nil && *p.EfConstruction > luceneMaxEfC {
		c.fail(pp+".ef_construction", *p.EfConstruction, "lucene-hnsw-ef-construction-max", srcLuceneFmt, "lucene HNSW ef_construction must be at most %d (the mapping is accepted, indexing then fails)", luceneMaxEfC)
	}
	if e := p.Encoder; e != nil {
		ep := pp + ".encoder"
		// Lucene's only encoder is sq (2.16+); "flat" is the implicit
		// default, not a selectable encoder (LuceneHNSWMethod.initEncoderParameter).
		if e.Name != EncoderSQ {
			c.fail(ep+".name", e.Name, "lucene-encoder", srcLuceneHNSW, "lucene HNSW supports only encoder sq")
			return
		}
		if !c.v.AtLeast(V2_16) {
			c.fail(ep+".name", e.Name, "lucene-sq-version", srcLuceneHNSW, "lucene sq needs OpenSearch 2.16+")
		}
		// LuceneSQEncoder supports float only.
		if dt != DataFloat {
			c.fail(ep+".name", e.Name, "encoder-data-type", "KNN index/engine/lucene/LuceneSQEncoder.java", "lucene sq needs data_type float")
		}
		if ep := e.Parameters; ep != nil {
			epp := pp + ".encoder.parameters"
			c.noParam(epp+".m", ep.M != nil, "lucene sq")
			c.noParam(epp+".code_size", ep.CodeSize != nil, "lucene sq")
			c.noParam(epp+".type", ep.Type != "", "lucene sq")
			c.noParam(epp+".clip", ep.Clip != nil, "lucene sq")
			// confidence_interval: 0 (dynamic) or in [0.9, 1.0] (DYNAMIC_CONFIDENCE_INTERVAL, MINIMUM/MAXIMUM_CONFIDENCE_INTERVAL).
			if ci := ep.ConfidenceInterval; ci != nil && *ci != 0 && (*ci < 0.9 || *ci > 1.0) {
				c.fail(epp+".confidence_interval", *ci, "lucene-sq-confidence-interval", srcLuceneHNSW, "confidence_interval must be 0 or between 0.9 and 1.0")
			}
			// bits: only 7 before 3.6 (LUCENE_SQ_BITS_SUPPORTED = [7]).
			if b := ep.Bits; b != nil && *b != 7 {
				c.fail(epp+".bits", *b, "lucene-sq-bits", srcLuceneHNSW, "lucene sq bits must be 7")
			}
		}
	}
	c.compressionMatchesEncoder(path, f)
}

func (c *validator) nmslibHNSW(path string, f *Field, dt, space string) {
	c.spaceAndData(path, f, dt, space, EngineNmslib, nmslibSpaces, nmslibData, srcNmslibHNSW)
	if p := f.Method.Parameters; p != nil {
		pp := path + ".parameters"
		// NmslibHNSWMethod takes m and ef_construction only; its ef_search is
		// the index setting knn.algo_param.ef_search.
		c.noParam(pp+".ef_search", p.EfSearch != nil, "nmslib hnsw")
		c.noParam(pp+".nlist", p.Nlist != nil, "nmslib hnsw")
		c.noParam(pp+".nprobes", p.Nprobes != nil, "nmslib hnsw")
		c.noParam(pp+".encoder", p.Encoder != nil, "nmslib hnsw")
		c.positive(pp+".m", p.M, srcNmslibHNSW)
		c.positive(pp+".ef_construction", p.EfConstruction, srcNmslibHNSW)
	}
}

func (c *validator) faissMethod(path string, f *Field, dt, space string, ivf bool) {
	src := srcFaissHNSW
	if ivf {
		src = srcFaissIVF
	}
	c.spaceAndData(path, f, dt, space, EngineFaiss, faissSpaces, faissData, src)
	c.faissByteCosine(path+".space_type", dt, space)
	p := f.Method.Parameters
	training := ivf // FaissIVFMethod: setRequiresTraining(true)
	if p != nil {
		pp := path + ".parameters"
		if ivf {
			c.noParam(pp+".m", p.M != nil, "faiss ivf")
			c.noParam(pp+".ef_construction", p.EfConstruction != nil, "faiss ivf")
			c.noParam(pp+".ef_search", p.EfSearch != nil, "faiss ivf")
			// nlist, nprobes: 0 < v < 20000 (FaissIVFMethod; METHOD_PARAMETER_NLIST_LIMIT).
			c.rangeExcl(pp+".nlist", p.Nlist, nlistLimit, srcFaissIVF)
			c.rangeExcl(pp+".nprobes", p.Nprobes, nprobesLimit, srcFaissIVF)
		} else {
			c.noParam(pp+".nlist", p.Nlist != nil, "faiss hnsw")
			c.noParam(pp+".nprobes", p.Nprobes != nil, "faiss hnsw")
			// m, ef_construction, ef_search > 0 (FaissHNSWMethod).
			c.positive(pp+".m", p.M, srcFaissHNSW)
			c.positive(pp+".ef_construction", p.EfConstruction, srcFaissHNSW)
			c.positive(pp+".ef_search", p.EfSearch, srcFaissHNSW)
		}
		if e := p.Encoder; e != nil {
			if c.faissEncoder(pp+".encoder", f, e, dt, space, ivf) {
				training = true
			}
		}
	}
	if training {
		// A method that needs training can only be used through a model:
		// TypeParser.validateFromKNNMethod ""method" requires training.";
		// train it with the _train API, then map {"model_id": ...}.
		c.fail(path+".name", f.Method.Name, "method-requires-training", srcMapper,
			"this method needs training (ivf, or a pq encoder): train a model (POST /_plugins/_knn/models/_train) and map model_id")
	}
	c.compressionMatchesEncoder(path, f)
}

// faissEncoder validates a faiss encoder; it reports whether it needs training.
func (c *validator) faissEncoder(ep string, f *Field, e *Encoder, dt, space string, ivf bool) bool {
	params := e.Parameters
	if params == nil {
		params = &EncoderParams{}
	}
	epp := ep + ".parameters"
	switch e.Name {
	case EncoderFlat:
		// FaissFlatEncoder: no parameters; any data type.
		c.noParam(epp+".m", params.M != nil, "faiss flat")
		c.noParam(epp+".code_size", params.CodeSize != nil, "faiss flat")
		c.noParam(epp+".type", params.Type != "", "faiss flat")
		c.noParam(epp+".clip", params.Clip != nil, "faiss flat")
		c.noParam(epp+".bits", params.Bits != nil, "faiss flat")
		c.noParam(epp+".confidence_interval", params.ConfidenceInterval != nil, "faiss flat")
	case EncoderSQ:
		// FaissSQEncoder (2.13+): type fp16 (FAISS_SQ_ENCODER_TYPES), clip boolean; float only.
		if !c.v.AtLeast(V2_13) {
			c.fail(ep+".name", e.Name, "faiss-sq-version", srcFaissSQ, "faiss sq needs OpenSearch 2.13+")
		}
		if dt != DataFloat {
			c.fail(ep+".name", e.Name, "encoder-data-type", srcFaissSQ, "faiss sq needs data_type float")
		}
		if params.Type != "" && params.Type != "fp16" {
			c.fail(epp+".type", params.Type, "faiss-sq-type", srcFaissSQ, "faiss sq type must be fp16")
		}
		c.noParam(epp+".m", params.M != nil, "faiss sq")
		c.noParam(epp+".code_size", params.CodeSize != nil, "faiss sq")
		c.noParam(epp+".bits", params.Bits != nil, "faiss sq")
		c.noParam(epp+".confidence_interval", params.ConfidenceInterval != nil, "faiss sq")
	case EncoderPQ:
		// FaissHNSWPQEncoder / FaissIVFPQEncoder: float only; 0 < m < 1024
		// and m divides the dimension; code_size exactly 8 for HNSW, 0 <
		// code_size < 128 for IVF; always needs training.
		if dt != DataFloat {
			c.fail(ep+".name", e.Name, "encoder-data-type", srcFaissPQ, "faiss pq needs data_type float")
		}
		if m := params.M; m != nil {
			if *m <= 0 || *m >= pqCodeCountLimit {
				c.fail(epp+".m", *m, "pq-m-range", srcFaissPQ, "pq m must be between 1 and %d", pqCodeCountLimit-1)
			} else if f.Dimension != nil && *f.Dimension%*m != 0 {
				c.fail(epp+".m", *m, "pq-m-divides-dimension", srcFaissPQ, "pq m must divide the dimension %d", *f.Dimension)
			}
		}
		if cs := params.CodeSize; cs != nil {
			if !ivf && *cs != pqCodeSizeDefault {
				c.fail(epp+".code_size", *cs, "pq-code-size-hnsw", srcFaissPQ, "HNSW-PQ code_size must be 8")
			} else if ivf && (*cs <= 0 || *cs >= pqCodeSizeLimit) {
				c.fail(epp+".code_size", *cs, "pq-code-size-ivf", srcFaissPQ, "IVF-PQ code_size must be between 1 and %d", pqCodeSizeLimit-1)
			}
		}
		// HNSW-PQ does not support innerproduct (DW knn-methods-engines.md, PQ parameters).
		if !ivf && space == SpaceInnerProduct {
			c.fail(ep+".name", e.Name, "hnsw-pq-innerproduct", srcMethodsDoc, "HNSW with pq does not support innerproduct")
		}
		c.noParam(epp+".type", params.Type != "", "faiss pq")
		c.noParam(epp+".clip", params.Clip != nil, "faiss pq")
		c.noParam(epp+".bits", params.Bits != nil, "faiss pq")
		c.noParam(epp+".confidence_interval", params.ConfidenceInterval != nil, "faiss pq")
		return true
	case EncoderBinary:
		// QFrameBitEncoder (2.17+): bits 1, 2 or 4; float only.
		if !c.v.AtLeast(V2_17) {
			c.fail(ep+".name", e.Name, "faiss-bq-version", srcQFrame, "the binary (BQ) encoder needs OpenSearch 2.17+")
		}
		if dt != DataFloat {
			c.fail(ep+".name", e.Name, "encoder-data-type", srcQFrame, "the binary (BQ) encoder needs data_type float")
		}
		if b := params.Bits; b != nil && *b != 1 && *b != 2 && *b != 4 {
			c.fail(epp+".bits", *b, "bq-bits", srcQFrame, "binary encoder bits must be 1, 2 or 4")
		}
		c.noParam(epp+".m", params.M != nil, "faiss binary encoder")
		c.noParam(epp+".code_size", params.CodeSize != nil, "faiss binary encoder")
		c.noParam(epp+".type", params.Type != "", "faiss binary encoder")
		c.noParam(epp+".clip", params.Clip != nil, "faiss binary encoder")
		c.noParam(epp+".confidence_interval", params.ConfidenceInterval != nil, "faiss binary encoder")
	default:
		c.fail(ep+".name", e.Name, "faiss-encoder", srcFaissHNSW, "faiss supports encoders flat, sq, pq and binary")
	}
	return false
}

// encoderCompression is the compression an explicit encoder gives
// (Encoder.calculateCompressionLevel), "" when it depends on more.
func encoderCompression(e *Encoder) string {
	if e == nil {
		return ""
	}
	switch e.Name {
	case EncoderFlat:
		return "1x"
	case EncoderSQ:
		if e.Parameters != nil && e.Parameters.Bits != nil && *e.Parameters.Bits == 7 {
			return "4x"
		}
		if e.Parameters != nil && e.Parameters.ConfidenceInterval != nil {
			return "4x"
		}
		return "" // faiss fp16 = 2x, lucene 7-bit = 4x: decided by engine
	case EncoderBinary:
		// Without explicit bits QFrameBitEncoder.calculateCompressionLevel
		// reports "not configured", so no conflict is checked (observed on
		// 2.19.1: binary encoder + compression 1x or 2x is accepted).
		if e.Parameters == nil || e.Parameters.Bits == nil {
			return ""
		}
		switch *e.Parameters.Bits {
		case 1:
			return "32x"
		case 2:
			return "16x"
		case 4:
			return "8x"
		}
	}
	return ""
}

// compressionMatchesEncoder: with an explicit encoder, a compression_level
// must be the one the encoder gives (FaissMethodResolver /
// LuceneHNSWMethodResolver validateCompressionConflicts).
func (c *validator) compressionMatchesEncoder(path string, f *Field) {
	level := f.CompressionLevel
	if level == "" && f.Mode == ModeOnDisk && f.Method.Engine == EngineFaiss {
		level = "32x" // on_disk's default compression (ModeBasedResolver DEFAULT_COMPRESSION_FOR_MODE_ON_DISK)
	}
	if level == "" || f.Method.Parameters == nil || f.Method.Parameters.Encoder == nil {
		return
	}
	e := f.Method.Parameters.Encoder
	if e.Name == EncoderBinary && (e.Parameters == nil || e.Parameters.Bits == nil) && level != "8x" && level != "16x" && level != "32x" {
		c.warn(path+".parameters.encoder", e.Name, "binary-encoder-compression", srcQFrame,
			"the binary encoder quantizes to 1, 2 or 4 bits (32x, 16x, 8x); compression_level %s does not describe it: set bits explicitly", level)
	}
	want := encoderCompression(e)
	if e.Name == EncoderSQ && want == "" {
		want = "2x"
		if f.Method.Engine == EngineLucene {
			want = "4x"
		}
	}
	if want != "" && want != level {
		// "Cannot specify an encoder that conflicts with the provided compression level".
		c.fail(path+".parameters.encoder", e.Name, "compression-encoder-conflict", "KNN index/engine/AbstractMethodResolver.java (validateCompressionConflicts)",
			"encoder %s gives %s compression, but the compression level is %s", e.Name, want, level)
	}
}

func (c *validator) noParam(path string, set bool, where string) {
	if set {
		// ParameterValidator.validateParameters: "Invalid parameter for method ..."
		c.fail(path, "set", "unknown-method-parameter", srcParamVal, "%s does not take this parameter", where)
	}
}

func (c *validator) positive(path string, v *int, source string) {
	if v != nil && *v <= 0 {
		c.fail(path, *v, "parameter-positive", source, "must be greater than 0")
	}
}

func (c *validator) rangeExcl(path string, v *int, limit int, source string) {
	if v != nil && (*v <= 0 || *v >= limit) {
		c.fail(path, *v, "parameter-range", source, "must be between 1 and %d", limit-1)
	}
}
