package queries

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// TextField is a field to match with an optional boost.
type TextField struct {
	Name  string
	Boost float64 // 0 or 1 means no boost
}

// ParseTextFields reads "title^2,body" into fields.
func ParseTextFields(s string) ([]TextField, error) {
	var out []TextField
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, boost, found := strings.Cut(part, "^")
		f := TextField{Name: name}
		if found {
			b, err := strconv.ParseFloat(boost, 64)
			if err != nil || b <= 0 {
				return nil, fmt.Errorf("text field %q: boost %q is not a positive number", part, boost)
			}
			f.Boost = b
		}
		if name == "" {
			return nil, fmt.Errorf("text field %q: empty name", part)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no text fields in %q", s)
	}
	return out, nil
}

func (f TextField) String() string {
	if f.Boost == 0 || f.Boost == 1 {
		return f.Name
	}
	return f.Name + "^" + strconv.FormatFloat(f.Boost, 'g', -1, 64)
}

// BM25 builds a match (one field) or multi_match (several) query.
type BM25 struct {
	Text   string
	Fields []TextField
	// Operator is "or" (default) or "and".
	Operator string
	// MinimumShouldMatch is passed through ("2", "75%", "-1", ...).
	MinimumShouldMatch string
	// Fuzziness is passed through ("AUTO", "1", ...).
	Fuzziness string
	// Type is the multi_match type (best_fields by default).
	Type   string
	Filter json.RawMessage
	Size   int
	Source *Source
	// NoTotal sends "track_total_hits": false: the hit count is not
	// computed, which lets Lucene skip documents that cannot make the top
	// (block-max WAND for BM25). Set it when hits.total is not read.
	NoTotal bool
}

// Query returns the query clause.
func (b BM25) Query() (map[string]any, error) {
	if strings.TrimSpace(b.Text) == "" {
		return nil, fmt.Errorf("bm25: query text is empty")
	}
	if len(b.Fields) == 0 {
		return nil, fmt.Errorf("bm25: no fields")
	}
	switch strings.ToLower(b.Operator) {
	case "", "or", "and":
	default:
		return nil, fmt.Errorf("bm25: operator %q: want and or or", b.Operator)
	}
	if len(b.Filter) > 0 && !isJSONObject(b.Filter) {
		return nil, fmt.Errorf("bm25: filter is not a JSON object")
	}
	opts := map[string]any{"query": b.Text}
	if b.Operator != "" {
		opts["operator"] = strings.ToLower(b.Operator)
	}
	if b.MinimumShouldMatch != "" {
		opts["minimum_should_match"] = b.MinimumShouldMatch
	}
	if b.Fuzziness != "" {
		opts["fuzziness"] = b.Fuzziness
	}
	var clause map[string]any
	if len(b.Fields) == 1 && b.Type == "" {
		f := b.Fields[0]
		if f.Boost != 0 && f.Boost != 1 {
			opts["boost"] = f.Boost
		}
		clause = map[string]any{"match": map[string]any{f.Name: opts}}
	} else {
		names := make([]string, len(b.Fields))
		for i, f := range b.Fields {
			names[i] = f.String()
		}
		opts["fields"] = names
		if b.Type != "" {
			opts["type"] = b.Type
		}
		clause = map[string]any{"multi_match": opts}
	}
	if len(b.Filter) > 0 {
		clause = map[string]any{"bool": map[string]any{"must": []any{clause}, "filter": []any{b.Filter}}}
	}
	return clause, nil
}

// Body renders the full search body.
func (b BM25) Body() ([]byte, error) {
	clause, err := b.Query()
	if err != nil {
		return nil, err
	}
	size := b.Size
	if size <= 0 {
		size = 10
	}
	if size > MaxK {
		return nil, fmt.Errorf("bm25: size %d above %d", size, MaxK)
	}
	body := map[string]any{"size": size, "query": clause}
	if v := b.Source.value(); v != nil {
		body["_source"] = v
	}
	if b.NoTotal {
		body["track_total_hits"] = false
	}
	return json.Marshal(body)
}

// MSearchBody renders an _msearch NDJSON body: one header line naming the
// target index (comma-joined) and one body line per search.
func MSearchBody(indices []string, bodies ...[]byte) ([]byte, error) {
	if len(indices) == 0 {
		return nil, fmt.Errorf("msearch: no index")
	}
	hdr, err := json.Marshal(map[string]any{"index": strings.Join(indices, ",")})
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, b := range bodies {
		if len(b) == 0 {
			return nil, fmt.Errorf("msearch: body %d is empty", i)
		}
		if strings.ContainsRune(string(b), '\n') {
			return nil, fmt.Errorf("msearch: body %d contains a newline", i)
		}
		out = append(out, hdr...)
		out = append(out, '\n')
		out = append(out, b...)
		out = append(out, '\n')
	}
	return out, nil
}
