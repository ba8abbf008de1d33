package queries

import (
	"encoding/json"
	"fmt"
)

// SearchResponse is the part of a _search answer the query side reads.
type SearchResponse struct {
	TookMS int
	// Total is hits.total.value (a lower bound when TotalIsLowerBound).
	Total             int
	TotalIsLowerBound bool
	Hits              []Hit
	// ShardFailures counts failed shards: hits may be missing.
	ShardFailures int
}

type rawSearch struct {
	Took   int `json:"took"`
	Shards struct {
		Failed int `json:"failed"`
	} `json:"_shards"`
	Hits struct {
		Total *struct {
			Value    int    `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []struct {
			Index  string          `json:"_index"`
			ID     string          `json:"_id"`
			Score  *float64        `json:"_score"`
			Source json.RawMessage `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

func (r rawSearch) convert(where string) (SearchResponse, error) {
	out := SearchResponse{TookMS: r.Took, ShardFailures: r.Shards.Failed}
	if r.Hits.Total != nil {
		out.Total = r.Hits.Total.Value
		out.TotalIsLowerBound = r.Hits.Total.Relation == "gte"
	}
	out.Hits = make([]Hit, len(r.Hits.Hits))
	for i, h := range r.Hits.Hits {
		if h.Score == nil {
			return SearchResponse{}, fmt.Errorf("%s: hit %d (%s/%s) has no _score (sorted search?)", where, i, h.Index, h.ID)
		}
		out.Hits[i] = Hit{Index: h.Index, ID: h.ID, Score: *h.Score, Source: h.Source}
	}
	return out, nil
}

// ParseSearchResponse reads a _search response body.
// Hit.Source aliases raw, which must not change afterwards.
func ParseSearchResponse(raw []byte) (SearchResponse, error) {
	if r, ok := scanSearch(raw); ok {
		return r.convert("search response")
	}
	var r rawSearch
	if err := json.Unmarshal(raw, &r); err != nil {
		return SearchResponse{}, fmt.Errorf("search response: %w", err)
	}
	return r.convert("search response")
}

// ParseMSearchResponse reads an _msearch response body. A failed item is an
// error naming its position and the server's reason.
// Hit.Source aliases raw, which must not change afterwards.
func ParseMSearchResponse(raw []byte, want int) ([]SearchResponse, error) {
	var r struct {
		Responses []rawSearch `json:"responses"`
	}
	if items, ok := scanMSearch(raw); ok {
		r.Responses = items
	} else if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("msearch response: %w", err)
	}
	if len(r.Responses) != want {
		return nil, fmt.Errorf("msearch response: %d responses for %d searches", len(r.Responses), want)
	}
	out := make([]SearchResponse, len(r.Responses))
	for i, item := range r.Responses {
		if len(item.Error) > 0 && string(item.Error) != "null" {
			var e struct {
				Type      string `json:"type"`
				Reason    string `json:"reason"`
				RootCause []struct {
					Reason string `json:"reason"`
				} `json:"root_cause"`
			}
			_ = json.Unmarshal(item.Error, &e)
			reason := e.Reason
			if len(e.RootCause) > 0 && e.RootCause[0].Reason != "" && e.RootCause[0].Reason != reason {
				reason += " (root cause: " + e.RootCause[0].Reason + ")"
			}
			if e.Type == "" {
				reason = string(item.Error)
			}
			return nil, fmt.Errorf("msearch item %d: status %d: %s: %s", i, item.Status, e.Type, reason)
		}
		sr, err := item.convert(fmt.Sprintf("msearch item %d", i))
		if err != nil {
			return nil, err
		}
		out[i] = sr
	}
	return out, nil
}
