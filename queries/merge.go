package queries

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// MergeHits gathers the hit lists one sub-query returned from several
// indices or clusters (scatter-gather) into one list ranked by score, as
// if one cluster had answered: score descending, ties by id, index,
// cluster. The scores must be comparable (same field scoring, or the same
// BM25 query over the same analyzer); for lists that are not, fuse them
// with RRF instead (each list a SubResult).
//
// Duplicates are dropped keeping the best-ranked copy: byID matches on the
// document id alone (the same document in an old and a new index during a
// model migration); otherwise on (cluster, index, id).
func MergeHits(lists [][]Hit, byID bool) []Hit {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	all := make([]Hit, 0, n)
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, compareHits)
	seen := make(map[docKey]struct{}, len(all))
	out := all[:0]
	for _, h := range all {
		k := docKey{h.Cluster, h.Index, h.ID}
		if byID {
			k = docKey{id: h.ID}
		}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, h)
	}
	return out
}

func compareHits(a, b Hit) int {
	return compareResults(&Result{Hit: &a, Score: a.Score}, &Result{Hit: &b, Score: b.Score})
}

// KeyByID clears index and cluster so that Fuse joins hits on the id alone
// (use after MergeHits(…, byID=true), when the same document lives in
// several indices).
func KeyByID(hits []Hit) []Hit {
	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = h
		out[i].Index, out[i].Cluster = "", ""
	}
	return out
}

// Page returns results[from : from+size], clamped. Pages are consistent
// across requests when each request fuses the same depth (the same k and
// sub-query sizes, like neural-search's pagination_depth) on an unchanged
// index: Fuse's order is total, so the same inputs give the same list.
func Page(results []Result, from, size int) ([]Result, error) {
	if from < 0 || size < 0 {
		return nil, fmt.Errorf("page: from %d and size %d must be ≥ 0", from, size)
	}
	if from >= len(results) {
		return []Result{}, nil
	}
	end := min(from+size, len(results))
	return results[from:end], nil
}

// Cursor marks the last result of a page (search_after style). Unlike an
// offset it stays correct when documents above it disappear between pages.
type Cursor struct {
	Score   float64 `json:"s"`
	ID      string  `json:"i"`
	Index   string  `json:"x,omitempty"`
	Cluster string  `json:"c,omitempty"`
}

// CursorOf returns the cursor after r.
func CursorOf(r Result) Cursor {
	return Cursor{Score: r.Score, ID: r.ID, Index: r.Index, Cluster: r.Cluster}
}

// Encode renders the cursor as an opaque URL-safe token.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a token made by Encode.
func DecodeCursor(tok string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor %q: %w", tok, err)
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return Cursor{}, fmt.Errorf("cursor %q: %w", tok, err)
	}
	return c, nil
}

// After returns up to size results that rank strictly after the cursor.
func After(results []Result, c Cursor, size int) []Result {
	pivot := Result{Hit: &Hit{ID: c.ID, Index: c.Index, Cluster: c.Cluster}, Score: c.Score}
	cmpPivot := func(r Result, p Result) int { return compareResults(&r, &p) }
	i, _ := slices.BinarySearchFunc(results, pivot, cmpPivot)
	for i < len(results) && compareResults(&results[i], &pivot) <= 0 {
		i++
	}
	end := min(i+size, len(results))
	return results[i:end]
}
