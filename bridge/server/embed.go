package server

import (
	"fmt"
	"net/http"
	"time"
)

// MaxEmbedTexts bounds one POST /v1/embed call: the answer holds every
// vector, and the local encoder holds every activation of a batch.
const MaxEmbedTexts = 2048

type embedRequest struct {
	Texts []string `json:"texts"`
}

type embedResponse struct {
	Model     string      `json:"model"`
	Dimension int         `json:"dimension"`
	Vectors   [][]float32 `json:"vectors"`
	Took      float64     `json:"took_ms"`
}

// POST /v1/embed {"texts": [...]} -> one vector per text, in order.
func (s *Server) postEmbed(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	var req embedRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Texts) == 0 {
		return badRequest("texts", "texts is required: a non-empty list of strings")
	}
	if len(req.Texts) > MaxEmbedTexts {
		return badRequest("texts", "%d texts; at most %d per call", len(req.Texts), MaxEmbedTexts)
	}
	for i, t := range req.Texts {
		if t == "" {
			return badRequest(fmt.Sprintf("texts[%d]", i), "text %d is empty", i)
		}
	}
	e, err := s.getEmbedder()
	if err != nil {
		return err
	}
	vecs, err := s.embed(r.Context(), req.Texts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, embedResponse{Model: e.ModelName(), Dimension: e.Dimension(), Vectors: vecs, Took: ms(time.Since(start))})
	return nil
}
