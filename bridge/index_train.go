package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/knnbridge/knnbridge/mapping"
)

// LoadTrainingSample creates (if missing) a lucene training index holding
// one knn_vector field and bulk-loads the sample into it, then refreshes.
// Lucene needs no native library, so this works on any k-NN cluster.
func (c *Client) LoadTrainingSample(ctx context.Context, index, field string, dataType string, sample [][]float32) error {
	if len(sample) == 0 {
		return fmt.Errorf("training sample for %s is empty", index)
	}
	dim := len(sample[0])
	v, err := c.ClusterVersion(ctx)
	if err != nil {
		return err
	}
	spec := mapping.TrainingIndexSpec(index, field, dim, dataType)
	norm, _, err := spec.Normalize(v)
	if err != nil {
		return fmt.Errorf("training index spec: %w", err)
	}
	live, err := c.ReadIndex(ctx, index, v)
	if err != nil {
		return err
	}
	if live == nil {
		if err := c.CreateIndex(ctx, norm); err != nil {
			return err
		}
	}
	const batch = 1000
	for start := 0; start < len(sample); start += batch {
		end := min(start+batch, len(sample))
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for i := start; i < end; i++ {
			if len(sample[i]) != dim {
				return fmt.Errorf("training vector %d has dimension %d, want %d", i, len(sample[i]), dim)
			}
			if err := enc.Encode(map[string]any{"index": map[string]any{"_index": index, "_id": fmt.Sprint(i)}}); err != nil {
				return err
			}
			if err := enc.Encode(map[string]any{field: sample[i]}); err != nil {
				return fmt.Errorf("training vector %d: %w", i, err)
			}
		}
		var out struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				ID    string          `json:"_id"`
				Error json.RawMessage `json:"error"`
			} `json:"items"`
		}
		if err := c.DoJSON(ctx, http.MethodPost, "/_bulk", buf.Bytes(), &out); err != nil {
			return fmt.Errorf("loading training vectors %d..%d into %s: %w", start, end-1, index, err)
		}
		if out.Errors {
			for _, it := range out.Items {
				for _, r := range it {
					if len(r.Error) > 0 {
						return fmt.Errorf("loading training vector %s into %s: %s", r.ID, index, r.Error)
					}
				}
			}
		}
	}
	if _, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(index)+"/_refresh", nil); err != nil {
		return fmt.Errorf("refreshing %s: %w", index, err)
	}
	return nil
}

// StartTraining validates req for the cluster's version and sends the
// _train request; training runs in the background on the cluster.
func (c *Client) StartTraining(ctx context.Context, req *mapping.TrainRequest) (*mapping.TrainRequest, error) {
	v, err := c.ClusterVersion(ctx)
	if err != nil {
		return nil, err
	}
	norm, err := req.Normalize(v)
	if err != nil {
		return nil, err
	}
	body, err := norm.Body()
	if err != nil {
		return nil, err
	}
	if _, err := c.Do(ctx, http.MethodPost, norm.Path(), body); err != nil {
		return nil, fmt.Errorf("starting training of model %s: %w", req.ModelID, err)
	}
	return norm, nil
}

// ModelState reads a model's state without its blob.
func (c *Client) ModelState(ctx context.Context, modelID string) (mapping.ModelState, error) {
	b, err := c.Do(ctx, http.MethodGet, "/_plugins/_knn/models/"+url.PathEscape(modelID)+
		"?filter_path=model_id,state,error,dimension,space_type,engine", nil)
	if err != nil {
		return mapping.ModelState{}, fmt.Errorf("reading model %s: %w", modelID, err)
	}
	return mapping.ParseModelState(b)
}

// WaitForModel polls the model every interval until it is created or
// failed, or ctx ends (give ctx the overall timeout).
func (c *Client) WaitForModel(ctx context.Context, modelID string, interval time.Duration) (mapping.ModelState, error) {
	if interval <= 0 {
		interval = time.Second
	}
	// last is the newest state the cluster reported: the deadline can
	// expire during a poll as well as between polls, and either way the
	// caller learns the state the model was last seen in.
	var last mapping.ModelState
	for {
		st, err := c.ModelState(ctx, modelID)
		switch {
		case err != nil && ctx.Err() != nil:
			return last, fmt.Errorf("waiting for model %s (state %q): %w", modelID, last.State, ctx.Err())
		case err != nil && !IsNotFound(err):
			return st, err
		case err == nil:
			last = st
		}
		switch st.State {
		case mapping.ModelCreated:
			return st, nil
		case mapping.ModelFailed:
			return st, fmt.Errorf("training model %s failed: %s", modelID, st.Error)
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for model %s (state %q): %w", modelID, last.State, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// DeleteModel deletes a model (refused by the cluster while an index uses it).
func (c *Client) DeleteModel(ctx context.Context, modelID string) error {
	if _, err := c.Do(ctx, http.MethodDelete, "/_plugins/_knn/models/"+url.PathEscape(modelID), nil); err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting model %s: %w", modelID, err)
	}
	return nil
}

// TrainOptions tune Train.
type TrainOptions struct {
	PollInterval time.Duration // default 1s
	Timeout      time.Duration // default 30m
}

// Train runs the whole faiss training flow: load the sample into the
// training index (when sample is non-nil), check the sample is large
// enough for the method, start training, wait for the model, and return
// its state. The caller then maps {"type":"knn_vector","model_id":...}.
//
// Training runs in faiss's native library: on a cluster without it (the
// Maven Central k-NN zip) the node fails, so check ClusterInfo.FaissNatives first.
func (c *Client) Train(ctx context.Context, req *mapping.TrainRequest, sample [][]float32, opts TrainOptions) (mapping.ModelState, error) {
	if sample != nil {
		if min := mapping.MinTrainingVectors(req.Method); len(sample) < min {
			return mapping.ModelState{}, fmt.Errorf("training model %s: %d sample vectors, the method needs at least %d (recommended %d)",
				req.ModelID, len(sample), min, mapping.RecommendedTrainingVectors(req.Method))
		}
		if err := c.LoadTrainingSample(ctx, req.TrainingIndex, req.TrainingField, req.DataType, sample); err != nil {
			return mapping.ModelState{}, err
		}
	}
	if _, err := c.StartTraining(ctx, req); err != nil {
		return mapping.ModelState{}, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.WaitForModel(wctx, req.ModelID, opts.PollInterval)
}
