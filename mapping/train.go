package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
)

// TrainRequest is a faiss training job: POST
// /_plugins/_knn/models/{model_id}/_train (DW _vector-search/api/knn.md
// "Train a model"; KNN TrainingModelRequest.java).
type TrainRequest struct {
	ModelID                string  `json:"-"`
	TrainingIndex          string  `json:"training_index"`
	TrainingField          string  `json:"training_field"`
	Dimension              int     `json:"dimension"`
	DataType               string  `json:"data_type,omitempty"`
	MaxTrainingVectorCount *int    `json:"max_training_vector_count,omitempty"`
	SearchSize             *int    `json:"search_size,omitempty"`
	Description            string  `json:"description,omitempty"`
	Method                 *Method `json:"method"`
}

// Path is the REST path of the request.
func (r *TrainRequest) Path() string {
	return "/_plugins/_knn/models/" + url.PathEscape(r.ModelID) + "/_train"
}

// Body is the JSON body, with the engine and every method default written out.
func (r *TrainRequest) Body() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("train request %s: %w", r.ModelID, err)
	}
	return b, nil
}

// Normalize validates the request for version v and returns a copy with
// the engine, space and method parameters written out.
func (r *TrainRequest) Normalize(v Version) (*TrainRequest, error) {
	c := &validator{v: v, knn: true}
	if r.ModelID == "" {
		c.fail("model_id", nil, "train-model-id", srcTrainDoc, "model_id is required")
	}
	if r.TrainingIndex == "" {
		c.fail("training_index", nil, "train-index", srcTrainDoc, "training_index is required")
	}
	if r.TrainingField == "" {
		c.fail("training_field", nil, "train-field", srcTrainDoc, "training_field is required")
	}
	// max_training_vector_count > 0; search_size 1..10000; description <= 1000 chars (TrainingModelRequest.validate).
	if r.MaxTrainingVectorCount != nil && *r.MaxTrainingVectorCount <= 0 {
		c.fail("max_training_vector_count", *r.MaxTrainingVectorCount, "train-max-vectors", srcTrainReq, "max_training_vector_count must be greater than 0")
	}
	if r.SearchSize != nil && (*r.SearchSize <= 0 || *r.SearchSize > 10000) {
		c.fail("search_size", *r.SearchSize, "train-search-size", srcTrainReq, "search_size must be between 1 and 10000")
	}
	if len(r.Description) > 1000 {
		c.fail("description", len(r.Description), "train-description", srcTrainReq, "description must be at most 1000 characters")
	}
	if r.Method == nil {
		c.fail("method", nil, "train-method", srcTrainDoc, "method is required")
		return nil, &ValidationError{Problems: c.errs}
	}
	f := &Field{Type: TypeKNNVector, Dimension: &r.Dimension, DataType: r.DataType, Method: r.Method}
	if f.Method.Engine == "" {
		f.Method = &Method{Name: r.Method.Name, Engine: EngineFaiss, SpaceType: r.Method.SpaceType, Parameters: r.Method.Parameters}
	}
	if f.Method.Engine != EngineFaiss {
		// Faiss is the only engine with trainable methods (EngineResolver: "Cannot specify engine other than FAISS for training").
		c.fail("method.engine", f.Method.Engine, "train-engine", srcEngineRes, "only faiss methods are trained")
	}
	c.vector("method", "training", f)
	// The mapping-time "requires training" error is the point here; the
	// opposite is the error: "Method does not require training." (TrainingModelRequest.validate).
	var errs []Problem
	training := false
	for _, p := range c.errs {
		if p.Rule == "method-requires-training" {
			training = true
			continue
		}
		errs = append(errs, p)
	}
	if !training && f.Method.Engine == EngineFaiss {
		errs = append(errs, Problem{Path: "method.name", Value: f.Method.Name, Rule: "train-needs-training-method", Source: srcTrainReq,
			Message: "the method does not need training (use ivf, or hnsw with a pq encoder)"})
	}
	if len(errs) > 0 {
		return nil, &ValidationError{Problems: errs}
	}
	out := *r
	n := *f
	n.Method = cloneMethod(f.Method)
	normalizeVector(v, true, &n)
	out.Method = n.Method
	if out.DataType == "" {
		out.DataType = DataFloat
	}
	return &out, nil
}

const (
	srcTrainDoc = "DW _vector-search/api/knn.md (Train a model)"
	srcTrainReq = "KNN plugin/transport/TrainingModelRequest.java (validate)"
)

func cloneMethod(m *Method) *Method {
	b, _ := json.Marshal(m)
	var c Method
	_ = json.Unmarshal(b, &c)
	return &c
}

// MinTrainingVectors is the fewest training vectors faiss accepts for the
// method: nlist for IVF, 2^code_size for PQ (checked before training from
// 2.19, KNN #2378 / #2268: AbstractFaissPQEncoder.validateEncoderConfig).
func MinTrainingVectors(m *Method) int {
	n := 1
	if m == nil || m.Parameters == nil {
		return n
	}
	if m.Name == MethodIVF {
		n = defaultNlist
		if m.Parameters.Nlist != nil {
			n = *m.Parameters.Nlist
		}
	}
	if e := m.Parameters.Encoder; e != nil && e.Name == EncoderPQ {
		cs := pqCodeSizeDefault
		if e.Parameters != nil && e.Parameters.CodeSize != nil {
			cs = *e.Parameters.CodeSize
		}
		if p := int(math.Pow(2, float64(cs))); p > n {
			n = p
		}
	}
	return n
}

// RecommendedTrainingVectors is the documentation's advice:
// max(1000*nlist, 1000*2^code_size) (DW knn-methods-engines.md, IVF/PQ).
func RecommendedTrainingVectors(m *Method) int {
	return 1000 * MinTrainingVectors(m)
}

// TrainingIndexSpec is an index to hold a training sample: one lucene HNSW
// field of the right dimension (lucene needs no native library, so the
// sample can be loaded anywhere), 0 replicas, refresh off until loaded.
func TrainingIndexSpec(name, field string, dimension int, dataType string) *IndexSpec {
	if dataType == "" {
		dataType = DataFloat
	}
	space := SpaceL2
	if dataType == DataBinary {
		space = SpaceHamming
	}
	return &IndexSpec{
		Name:     name,
		Settings: Settings{Shards: Int(1), Replicas: Int(0), KNN: Bool(true)},
		Fields: map[string]*Field{field: {Type: TypeKNNVector, Dimension: Int(dimension), DataType: dataType,
			Method: &Method{Name: MethodHNSW, Engine: EngineLucene, SpaceType: space}}},
	}
}

// ModelState is the part of GET /_plugins/_knn/models/{id} the driver reads.
type ModelState struct {
	ModelID   string `json:"model_id"`
	State     string `json:"state"` // training, created, failed
	Error     string `json:"error"`
	Dimension int    `json:"dimension"`
	SpaceType string `json:"space_type"`
	Engine    string `json:"engine"`
}

// Model states (KNN indices/ModelState.java).
const (
	ModelTraining = "training"
	ModelCreated  = "created"
	ModelFailed   = "failed"
)

// ParseModelState reads a model GET response (ask for
// ?filter_path=model_id,state,error,dimension,space_type,engine to skip the blob).
func ParseModelState(body []byte) (ModelState, error) {
	var m ModelState
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("model response: %w", err)
	}
	if m.State == "" {
		return m, fmt.Errorf("model response has no state: %.200s", body)
	}
	return m, nil
}
