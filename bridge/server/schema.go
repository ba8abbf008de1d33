package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/knnbridge/knnbridge/queries"
)

// indexSchema is what search and ingestion need from an index's mapping:
// its knn_vector fields (with dimension, space, engine) and its top-level
// text fields (BM25 targets).
type indexSchema struct {
	Vectors []vectorField
	Texts   []string
	raw     []byte
}

type vectorField struct {
	Path      string
	Dimension int
	Info      queries.FieldInfo
}

func (s *indexSchema) vector(name string) (vectorField, bool) {
	for _, v := range s.Vectors {
		if v.Path == name {
			return v, true
		}
	}
	return vectorField{}, false
}

// schemaCache keeps parsed mappings for a short while: searches would
// otherwise fetch the mapping on every request. A mapping only grows
// (fields cannot change type), so a stale entry is at worst missing a new
// field for ttl.
type schemaCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]schemaEntry
}

type schemaEntry struct {
	s  *indexSchema
	at time.Time
}

func (c *schemaCache) get(key string) *indexSchema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && time.Since(e.at) < c.ttl {
		return e.s
	}
	return nil
}

func (c *schemaCache) put(key string, s *indexSchema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]schemaEntry{}
	}
	c.m[key] = schemaEntry{s: s, at: time.Now()}
}

func (c *schemaCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// schema returns the schema of one index or a comma-joined list; a
// missing index is a 404 index_not_found.
func (s *Server) schema(ctx context.Context, index string) (*indexSchema, error) {
	if sc := s.schemas.get(index); sc != nil {
		return sc, nil
	}
	v, err := s.clusterVersion(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	raw, err := s.os.Do(ctx, http.MethodGet, "/"+url.PathEscape(index)+"/_mapping", nil)
	s.m.observeOS("get_mapping", start, err)
	if err != nil {
		if ae := toAPIError(err); ae.Status == http.StatusNotFound {
			return nil, notFound("index_not_found", "index %s does not exist", index)
		}
		return nil, fmt.Errorf("reading the mapping of %s: %w", index, err)
	}
	sc, err := parseSchema(raw, queriesVersion(v.Major, v.Minor, v.Patch))
	if err != nil {
		return nil, fmt.Errorf("reading the mapping of %s: %w", index, err)
	}
	s.schemas.put(index, sc)
	return sc, nil
}

func queriesVersion(major, minor, patch int) queries.Version {
	return queries.Version{Major: major, Minor: minor, Patch: patch}
}

type mappingProp struct {
	Type       string                 `json:"type"`
	Dimension  int                    `json:"dimension"`
	Properties map[string]mappingProp `json:"properties"`
}

func parseSchema(raw []byte, v queries.Version) (*indexSchema, error) {
	var byIndex map[string]struct {
		Mappings struct {
			Properties map[string]mappingProp `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &byIndex); err != nil {
		return nil, fmt.Errorf("decoding _mapping: %w", err)
	}
	sc := &indexSchema{raw: raw}
	seenV, seenT := map[string]bool{}, map[string]bool{}
	names := make([]string, 0, len(byIndex))
	for n := range byIndex {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var walk func(prefix string, props map[string]mappingProp, nested bool) error
		walk = func(prefix string, props map[string]mappingProp, nested bool) error {
			for name, p := range props {
				path := prefix + name
				switch {
				case p.Type == "knn_vector":
					if seenV[path] {
						continue
					}
					seenV[path] = true
					fi, err := queries.ParseFieldInfo(raw, path, v)
					if err != nil {
						return fmt.Errorf("field %s: %w", path, err)
					}
					sc.Vectors = append(sc.Vectors, vectorField{Path: path, Dimension: p.Dimension, Info: fi})
				case p.Type == "text" && !nested:
					if !seenT[path] {
						seenT[path] = true
						sc.Texts = append(sc.Texts, path)
					}
				case p.Properties != nil:
					if err := walk(path+".", p.Properties, nested || p.Type == "nested"); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := walk("", byIndex[n].Mappings.Properties, false); err != nil {
			return nil, err
		}
	}
	sort.Slice(sc.Vectors, func(a, b int) bool { return sc.Vectors[a].Path < sc.Vectors[b].Path })
	sort.Strings(sc.Texts)
	return sc, nil
}
