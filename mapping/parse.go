package mapping

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// LiveIndex is a live index read back from the cluster.
type LiveIndex struct {
	// Spec is the index as a spec, normalized for the cluster's version
	// (without validation: a live index may predate today's rules).
	Spec *IndexSpec
	// Unmanaged lists mapping parameters and settings present on the live
	// index that specs do not model (copy_to, multi-fields, …); Diff leaves
	// them alone.
	Unmanaged []string
}

// ParseLive reads the bodies of GET /<index>/_mapping and
// GET /<index>/_settings?flat_settings=true (nested settings are flattened
// too) into a spec normalized for version v.
func ParseLive(index string, mappingBody, settingsBody []byte, v Version) (*LiveIndex, error) {
	props, err := mappingProperties(index, mappingBody)
	if err != nil {
		return nil, err
	}
	live := &LiveIndex{Spec: &IndexSpec{Name: index, Fields: map[string]*Field{}}}
	for _, name := range sortedKeys(props) {
		f, err := parseField(name, props[name], &live.Unmanaged)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", index, err)
		}
		live.Spec.Fields[name] = f
	}
	if err := parseSettings(index, settingsBody, &live.Spec.Settings, &live.Unmanaged); err != nil {
		return nil, err
	}
	if live.Spec.Settings.KNN == nil {
		// index.knn absent on a live index means false: its knn_vector
		// fields are flat (KNNSettings.IS_KNN_INDEX_SETTING default).
		live.Spec.Settings.KNN = Bool(false)
	}
	live.Spec.normalize(v)
	return live, nil
}

func mappingProperties(index string, body []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("index %s: _mapping response: %w", index, err)
	}
	// {"<index>": {"mappings": {"properties": ...}}}, or the inner parts.
	if inner, ok := top[index]; ok {
		if err := json.Unmarshal(inner, &top); err != nil {
			return nil, fmt.Errorf("index %s: _mapping response: %w", index, err)
		}
	}
	if m, ok := top["mappings"]; ok {
		if err := json.Unmarshal(m, &top); err != nil {
			return nil, fmt.Errorf("index %s: _mapping mappings: %w", index, err)
		}
	}
	props := map[string]json.RawMessage{}
	if p, ok := top["properties"]; ok {
		if err := json.Unmarshal(p, &props); err != nil {
			return nil, fmt.Errorf("index %s: _mapping properties: %w", index, err)
		}
	}
	return props, nil
}

// parseField decodes one live field leniently and records parameters the
// spec types do not carry.
func parseField(path string, raw json.RawMessage, unmanaged *[]string) (*Field, error) {
	var f Field
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("field %s: %w", path, err)
	}
	if f.Type == "" {
		f.Type = "object" // objects are shown without a type
	}
	var rawMap map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rawMap); err != nil {
		return nil, fmt.Errorf("field %s: %w", path, err)
	}
	// Rebuild Properties so unknown parameters of sub-fields are found too.
	if p, ok := rawMap["properties"]; ok {
		var props map[string]json.RawMessage
		if err := json.Unmarshal(p, &props); err != nil {
			return nil, fmt.Errorf("field %s: properties: %w", path, err)
		}
		f.Properties = map[string]*Field{}
		for _, name := range sortedKeys(props) {
			sub, err := parseField(path+"."+name, props[name], unmanaged)
			if err != nil {
				return nil, err
			}
			f.Properties[name] = sub
		}
	}
	known := knownKeys(&f)
	for _, k := range sortedKeys(rawMap) {
		if k == "type" || k == "properties" || known[k] {
			continue
		}
		*unmanaged = append(*unmanaged, "mapping "+path+"."+k)
	}
	return &f, nil
}

func knownKeys(f *Field) map[string]bool {
	c := *f
	c.Properties = nil
	b, _ := json.Marshal(&c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// parseSettings fills st from a _settings response.
func parseSettings(index string, body []byte, st *Settings, unmanaged *[]string) error {
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("index %s: _settings response: %w", index, err)
	}
	if inner, ok := top[index].(map[string]any); ok {
		top = inner
	}
	if s, ok := top["settings"].(map[string]any); ok {
		top = s
	}
	flat := map[string]any{}
	flatten("", top, flat)
	analysis := map[string]any{}
	for _, k := range sortedKeys(flat) {
		val := flat[k]
		key := strings.TrimPrefix(k, "index.")
		var err error
		switch key {
		case keyShards:
			st.Shards, err = intSetting(key, val)
		case keyReplicas:
			st.Replicas, err = intSetting(key, val)
		case keyRefresh:
			st.RefreshInterval = fmt.Sprint(val)
		case keyKNN:
			st.KNN, err = boolSetting(key, val)
		case keyEfSearch:
			st.EfSearch, err = intSetting(key, val)
		case keyApproxThresh:
			st.ApproximateThreshold, err = intSetting(key, val)
		case keyFilteredExact:
			st.FilteredExactSearchThreshold, err = intSetting(key, val)
		case keyDerived:
			st.DerivedSource, err = boolSetting(key, val)
		case keyMemOpt:
			st.MemoryOptimizedSearch, err = boolSetting(key, val)
		case "creation_date", "provided_name", "uuid", "version.created", "version.upgraded", "replication.type", "routing.allocation.include._tier_preference":
			// bookkeeping, never in a spec
		default:
			if rest, ok := strings.CutPrefix(key, "analysis."); ok {
				setPath(analysis, strings.Split(rest, "."), val)
			} else {
				*unmanaged = append(*unmanaged, "setting index."+key)
			}
		}
		if err != nil {
			return fmt.Errorf("index %s: %w", index, err)
		}
	}
	if len(analysis) > 0 {
		st.Analysis = analysis
	}
	return nil
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

func intSetting(key string, v any) (*int, error) {
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		return nil, fmt.Errorf("setting index.%s = %v: not an integer", key, v)
	}
	return &n, nil
}

func boolSetting(key string, v any) (*bool, error) {
	b, err := strconv.ParseBool(fmt.Sprint(v))
	if err != nil {
		return nil, fmt.Errorf("setting index.%s = %v: not a boolean", key, v)
	}
	return &b, nil
}

// flatAnalysis renders analysis settings as sorted "path=value" strings,
// the form OpenSearch reports them in (every leaf a string or a list of
// strings), so a spec's YAML numbers and the cluster's strings compare equal.
func flatAnalysis(a map[string]any) []string {
	flat := map[string]any{}
	flatten("", a, flat)
	out := make([]string, 0, len(flat))
	for k, v := range flat {
		if list, ok := v.([]any); ok {
			parts := make([]string, len(list))
			for i, x := range list {
				parts[i] = fmt.Sprint(x)
			}
			out = append(out, k+"=["+strings.Join(parts, ",")+"]")
			continue
		}
		out = append(out, k+"="+fmt.Sprint(v))
	}
	sort.Strings(out)
	return out
}
