package mapping

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ChangeKind says how a difference can be applied.
type ChangeKind string

const (
	// InPlace changes apply to the live index (PUT _settings, PUT _mapping).
	InPlace ChangeKind = "in_place"
	// Reindex changes need a new index and a reindex of the documents.
	Reindex ChangeKind = "reindex"
	// Ignored differences are reported but left alone (a field the live
	// index has and the spec does not: OpenSearch cannot drop a field).
	Ignored ChangeKind = "ignored"
)

// Change is one difference between the desired spec and the live index.
type Change struct {
	Path   string     `json:"path"`
	Live   any        `json:"live"`
	Want   any        `json:"want"`
	Kind   ChangeKind `json:"kind"`
	Reason string     `json:"reason"`
}

// Plan is what it takes to turn the live index into the desired one.
type Plan struct {
	Index   string   `json:"index"`
	Create  bool     `json:"create"` // the index does not exist: create it
	Changes []Change `json:"changes"`
	// SettingsUpdate is the body of PUT /<index>/_settings (nil if none).
	SettingsUpdate map[string]any `json:"settings_update,omitempty"`
	// MappingUpdate holds the fields to add with PUT /<index>/_mapping.
	MappingUpdate map[string]*Field `json:"mapping_update,omitempty"`
}

// NeedsReindex reports whether any change needs a new index.
func (p *Plan) NeedsReindex() bool {
	return slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Kind == Reindex })
}

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool {
	return !p.Create && p.SettingsUpdate == nil && p.MappingUpdate == nil && !p.NeedsReindex()
}

// Diff compares a normalized desired spec with a normalized live index (nil:
// the index does not exist) and plans the changes. Settings the desired
// spec leaves unset are not managed and never differ.
func Diff(desired, live *IndexSpec) *Plan {
	p := &Plan{Index: desired.Name}
	if live == nil {
		p.Create = true
		return p
	}
	p.diffSettings(&desired.Settings, &live.Settings)
	p.diffFieldsAt(nil, "", desired.Fields, live.Fields)
	return p
}

func (p *Plan) diffSettings(want, live *Settings) {
	w, l := renderSettings(want), renderSettings(live)
	update := map[string]any{}
	for _, k := range sortedKeys(w) {
		if k == keyAnalysis {
			wa, la := flatAnalysis(want.Analysis), flatAnalysis(live.Analysis)
			if !slices.Equal(wa, la) {
				// Analysis settings change only on a closed index, and fields
				// already analysed keep their old tokens: reindex.
				p.Changes = append(p.Changes, Change{Path: "settings.analysis", Live: strings.Join(la, " "), Want: strings.Join(wa, " "), Kind: Reindex,
					Reason: "analysis settings are static (close/reopen) and existing documents keep their old tokens"})
			}
			continue
		}
		if lv, ok := l[k]; ok && fmt.Sprint(lv) == fmt.Sprint(w[k]) {
			continue
		}
		c := Change{Path: "settings.index." + k, Live: l[k], Want: w[k]}
		if dynamicSettings[k] {
			c.Kind, c.Reason = InPlace, "dynamic setting (PUT _settings)"
			update[k] = w[k]
		} else {
			c.Kind, c.Reason = Reindex, "static setting, fixed at index creation"
			if k == keyShards {
				c.Reason = "number_of_shards is fixed at creation (_split/_shrink aside): new index + reindex"
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if len(update) > 0 {
		p.SettingsUpdate = map[string]any{"index": update}
	}
}

// addField records a new field to add with PUT _mapping, nesting it under
// its parent objects (which must carry their type).
func (p *Plan) addField(parents []parentRef, name string, f *Field) {
	if p.MappingUpdate == nil {
		p.MappingUpdate = map[string]*Field{}
	}
	props := p.MappingUpdate
	for _, par := range parents {
		node, ok := props[par.name]
		if !ok {
			node = &Field{Type: par.typ, Properties: map[string]*Field{}}
			props[par.name] = node
		}
		props = node.Properties
	}
	props[name] = f
}

type parentRef struct{ name, typ string }

func (p *Plan) diffFieldsAt(parents []parentRef, prefix string, want, live map[string]*Field) {
	for _, name := range sortedKeys(want) {
		path := joinPath(prefix, name)
		w := want[name]
		l, ok := live[name]
		if !ok {
			p.Changes = append(p.Changes, Change{Path: "fields." + path, Want: w.Type, Kind: InPlace, Reason: "new field (PUT _mapping)"})
			p.addField(parents, name, w)
			continue
		}
		if w.Type != l.Type {
			p.Changes = append(p.Changes, Change{Path: "fields." + path + ".type", Live: l.Type, Want: w.Type, Kind: Reindex,
				Reason: "a field's type is fixed once mapped"})
			continue
		}
		p.diffParams(parents, path, name, w, l)
		if w.Type == "object" || w.Type == "nested" {
			p.diffFieldsAt(append(slices.Clone(parents), parentRef{name, w.Type}), path, w.Properties, l.Properties)
		}
	}
	for _, name := range sortedKeys(live) {
		if _, ok := want[name]; !ok {
			p.Changes = append(p.Changes, Change{Path: "fields." + joinPath(prefix, name), Live: live[name].Type, Kind: Ignored,
				Reason: "field exists on the live index but not in the spec; OpenSearch cannot remove a field (reindex to drop it)"})
		}
	}
}

// inPlaceParams are mapping parameters OpenSearch lets PUT _mapping change
// on an existing field (ignore_above on keyword; search_analyzer on text:
// TextFieldMapper/KeywordFieldMapper Parameter "updateable").
var inPlaceParams = map[string]bool{"ignore_above": true, "search_analyzer": true}

func (p *Plan) diffParams(parents []parentRef, path, name string, w, l *Field) {
	wm, lm := fieldParams(w), fieldParams(l)
	keys := map[string]bool{}
	for k := range wm {
		keys[k] = true
	}
	for k := range lm {
		keys[k] = true
	}
	update := false
	for _, k := range sortedKeys(keys) {
		if string(wm[k]) == string(lm[k]) {
			continue
		}
		c := Change{Path: "fields." + path + "." + k, Live: rawValue(lm[k]), Want: rawValue(wm[k])}
		switch {
		case w.Type == TypeKNNVector:
			// Every knn_vector parameter is fixed at creation
			// (KNNVectorFieldMapper.Builder: all Parameters non-updateable;
			// DW knn-vector.md): dimension, engine, space, method, encoder.
			c.Kind, c.Reason = Reindex, "knn_vector parameters are fixed at creation: new index + reindex"
		case inPlaceParams[k]:
			c.Kind, c.Reason = InPlace, "updatable mapping parameter (PUT _mapping)"
			update = true
		default:
			c.Kind, c.Reason = Reindex, "mapping parameter "+k+" is fixed once mapped"
		}
		p.Changes = append(p.Changes, c)
	}
	if update {
		cp := *w
		cp.Properties = nil
		p.addField(parents, name, &cp)
	}
}

// fieldParams returns a field's parameters (not its sub-fields) as raw JSON values.
func fieldParams(f *Field) map[string]json.RawMessage {
	c := *f
	c.Properties = nil
	b, _ := json.Marshal(&c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	delete(m, "type")
	return m
}

func rawValue(r json.RawMessage) any {
	if r == nil {
		return nil
	}
	var v any
	_ = json.Unmarshal(r, &v)
	return v
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
