package ingest

import (
	"strings"
	"testing"
)

// The fast path agrees with the full parse: it says "all accepted" only
// when ParseBulkResponse finds every item 2xx, and defers otherwise.
func TestAllAcceptedFastPath(t *testing.T) {
	full := `{"took":3,"errors":false,"items":[` +
		`{"index":{"_index":"i","_id":"a\"errors\":false","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},` +
		`{"index":{"_index":"i","_id":"b\"status\":1","_version":2,"result":"updated","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":1,"_primary_term":1,"status":200}}]}`
	filtered := `{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}}]}`
	failed := `{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"x"}}}]}`
	pretty := "{\n  \"errors\" : false,\n  \"items\" : [ {\"index\" : {\"status\" : 201}}, {\"index\" : {\"status\" : 201}} ]\n}"
	for _, c := range []struct {
		name string
		resp string
		want int
		fast bool
	}{
		{"full", full, 2, true},
		{"filtered", filtered, 2, true},
		{"too few items", filtered, 3, false},
		{"too many items", filtered, 1, false},
		{"errors true", failed, 2, false},
		{"pretty printed", pretty, 2, false},
		{"no errors key", `{"items":[{"index":{"status":201}}]}`, 1, false},
		{"empty", ``, 0, false},
	} {
		got := allAccepted([]byte(c.resp), c.want)
		if got != c.fast {
			t.Errorf("%s: allAccepted = %t, want %t", c.name, got, c.fast)
		}
		items, err := ParseBulkResponse([]byte(c.resp), c.want)
		allOK := err == nil
		for _, it := range items {
			allOK = allOK && it.OK()
		}
		if got && !allOK {
			t.Errorf("%s: fast path accepted what the full parse does not (%v, %v)", c.name, items, err)
		}
		if strings.Contains(c.name, "pretty") && !allOK {
			t.Errorf("pretty response should still parse fully: %v", err)
		}
	}
}
