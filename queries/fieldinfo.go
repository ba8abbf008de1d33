package queries

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// mappingNode is the part of a mapping that matters for finding a field.
type mappingNode struct {
	Type        string                 `json:"type"`
	Properties  map[string]mappingNode `json:"properties"`
	SpaceType   string                 `json:"space_type"`
	DataType    string                 `json:"data_type"`
	Mode        string                 `json:"mode"`
	Compression string                 `json:"compression_level"`
	ModelID     string                 `json:"model_id"`
	Method      *struct {
		Name      string `json:"name"`
		Engine    string `json:"engine"`
		SpaceType string `json:"space_type"`
	} `json:"method"`
	Engine string `json:"engine"`
}

// ParseFieldInfo finds a knn_vector field in a GET <index>/_mapping response
// (one or more indices; the first that has the field wins) and resolves the
// defaults OpenSearch applies: space_type l2 (hamming for binary), engine
// faiss from 2.19 and nmslib before when no method is given (KNN #2498),
// faiss for trained models.
func ParseFieldInfo(resp []byte, field string, v Version) (FieldInfo, error) {
	var byIndex map[string]struct {
		Mappings mappingNode `json:"mappings"`
	}
	if err := json.Unmarshal(resp, &byIndex); err != nil {
		return FieldInfo{}, fmt.Errorf("mapping response: %w", err)
	}
	if field == "" {
		return FieldInfo{}, fmt.Errorf("vector field name is empty")
	}
	var lastErr error
	// Iterate in a stable order so the error names the same index each time.
	names := make([]string, 0, len(byIndex))
	for n := range byIndex {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, idx := range names {
		fi, err := findField(byIndex[idx].Mappings, field, v)
		if err == nil {
			return fi, nil
		}
		lastErr = fmt.Errorf("index %s: %w", idx, err)
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no index in the mapping response")
	}
	return FieldInfo{}, lastErr
}

func findField(root mappingNode, field string, v Version) (FieldInfo, error) {
	parts := strings.Split(field, ".")
	node := root
	nested := ""
	for i, p := range parts {
		child, ok := node.Properties[p]
		if !ok {
			return FieldInfo{}, fmt.Errorf("field %q: no %q under %q", field, p, strings.Join(parts[:i], "."))
		}
		if child.Type == "nested" && i < len(parts)-1 {
			nested = strings.Join(parts[:i+1], ".")
		}
		node = child
	}
	if node.Type != "knn_vector" {
		return FieldInfo{}, fmt.Errorf("field %q is %q, not knn_vector", field, node.Type)
	}
	fi := FieldInfo{Field: field, Nested: nested, OnDisk: node.Mode == "on_disk", DataType: node.DataType}
	if fi.DataType == "" {
		fi.DataType = "float"
	}
	space := node.SpaceType
	engine := node.Engine
	if node.Method != nil {
		if node.Method.SpaceType != "" {
			space = node.Method.SpaceType
		}
		if node.Method.Engine != "" {
			engine = node.Method.Engine
		}
	}
	if space == "" {
		if node.ModelID != "" {
			return FieldInfo{}, fmt.Errorf("field %q uses model %q whose space_type is not in the mapping: pass it explicitly", field, node.ModelID)
		}
		space = string(SpaceL2)
		if fi.DataType == "binary" {
			space = string(SpaceHamming)
		}
	}
	if engine == "" {
		switch {
		case node.ModelID != "" || node.Mode != "" || node.Compression != "":
			engine = string(EngineFaiss)
		case v.AtLeast(2, 19):
			engine = string(EngineFaiss)
		default:
			engine = string(EngineNmslib)
		}
	}
	var err error
	if fi.Space, err = ParseSpace(space); err != nil {
		return FieldInfo{}, fmt.Errorf("field %q: %w", field, err)
	}
	if fi.Engine, err = ParseEngine(engine); err != nil {
		return FieldInfo{}, fmt.Errorf("field %q: %w", field, err)
	}
	return fi, nil
}
