package migrate

import (
	"encoding/json"
	"fmt"
)

// ScanPage describes one page of a per-shard scan sorted by _seq_no.
type ScanPage struct {
	// PIT and KeepAlive read a point-in-time (backfill); empty reads the
	// live index (catch-up), and the caller targets the shard with
	// preference=_shards:N.
	PIT       string
	KeepAlive string
	// Shard and Shards select the slice: with max == number of shards,
	// slice i is exactly shard i (SliceBuilder maps whole shards when
	// max <= shards), and within one shard _seq_no is unique among live
	// documents, so it is a complete, stable search_after key.
	Shard, Shards int
	// After is the last _seq_no seen (nil: from the start).
	After *int64
	// Above and UpTo bound _seq_no: Above < _seq_no <= UpTo (nil: open).
	Above, UpTo *int64
	Size        int
	// IDsOnly drops _source and asks for _version (delete reconciliation).
	IDsOnly bool
}

// Body renders the search body.
func (s ScanPage) Body() ([]byte, error) {
	if s.Size < 1 || s.Size > 10000 {
		return nil, fmt.Errorf("scan page size %d outside 1..10000", s.Size)
	}
	body := map[string]any{
		"size":                s.Size,
		"sort":                []any{map[string]any{"_seq_no": "asc"}},
		"seq_no_primary_term": true,
		"track_total_hits":    false,
	}
	if s.PIT != "" {
		if s.Shards < 1 || s.Shard < 0 || s.Shard >= s.Shards {
			return nil, fmt.Errorf("scan: shard %d of %d", s.Shard, s.Shards)
		}
		pit := map[string]any{"id": s.PIT}
		if s.KeepAlive != "" {
			pit["keep_alive"] = s.KeepAlive
		}
		body["pit"] = pit
		if s.Shards > 1 {
			body["slice"] = map[string]any{"id": s.Shard, "max": s.Shards}
		}
	}
	if s.After != nil {
		body["search_after"] = []int64{*s.After}
	}
	if s.Above != nil || s.UpTo != nil {
		r := map[string]any{}
		if s.Above != nil {
			r["gt"] = *s.Above
		}
		if s.UpTo != nil {
			r["lte"] = *s.UpTo
		}
		body["query"] = map[string]any{"range": map[string]any{"_seq_no": r}}
	}
	if s.IDsOnly {
		body["_source"] = false
		body["version"] = true
	}
	return json.Marshal(body)
}

// AliasSwap is the body of POST /_aliases moving alias from one index to
// another in one atomic cluster-state update: readers see either the old
// or the new index, never both or neither.
func AliasSwap(alias, from, to string) ([]byte, error) {
	return json.Marshal(map[string]any{"actions": []any{
		map[string]any{"remove": map[string]any{"index": from, "alias": alias}},
		map[string]any{"add": map[string]any{"index": to, "alias": alias}},
	}})
}

// WriteBlock is the settings body that blocks (or unblocks) writes.
func WriteBlock(on bool) []byte {
	if on {
		return []byte(`{"index.blocks.write":true}`)
	}
	return []byte(`{"index.blocks.write":null}`)
}

// Requests are the bodies a migration sends, for review (migrate plan
// --requests) and for the golden tests.
type Requests struct {
	CreateTarget  json.RawMessage `json:"create_target"`
	BackfillPage  json.RawMessage `json:"backfill_first_page"`
	CatchUpPage   json.RawMessage `json:"catchup_page"`
	BulkExample   string          `json:"bulk_example"`
	FinalSettings json.RawMessage `json:"final_settings"`
	BlockSource   json.RawMessage `json:"block_source_writes"`
	AliasSwap     json.RawMessage `json:"alias_swap"`
	AliasRollback json.RawMessage `json:"alias_rollback"`
}

// Requests renders the plan's request bodies, with placeholder PIT id and
// checkpoints.
func (p *Plan) Requests() (*Requests, error) {
	r := &Requests{}
	var err error
	if r.CreateTarget, err = p.CreateBody(); err != nil {
		return nil, err
	}
	shards := max(p.Shards, 1)
	if r.BackfillPage, err = (ScanPage{PIT: "<pit_id>", KeepAlive: "10m", Shard: 0, Shards: shards, Size: 500}).Body(); err != nil {
		return nil, err
	}
	above, upTo := int64(41999), int64(42999)
	if r.CatchUpPage, err = (ScanPage{Above: &above, UpTo: &upTo, Size: 500}).Body(); err != nil {
		return nil, err
	}
	v, _ := ExternalVersion(1, 42)
	b, err := AppendIndex(nil, &Doc{ID: "<id>", Version: v, Source: json.RawMessage(`{"...":"_source as read"}`)})
	if err != nil {
		return nil, err
	}
	r.BulkExample = string(b)
	if r.FinalSettings, err = json.Marshal(p.FinalSettings); err != nil {
		return nil, err
	}
	r.BlockSource = WriteBlock(true)
	if r.AliasSwap, err = AliasSwap(p.Alias, p.Source, p.Target); err != nil {
		return nil, err
	}
	if r.AliasRollback, err = AliasSwap(p.Alias, p.Target, p.Source); err != nil {
		return nil, err
	}
	return r, nil
}
