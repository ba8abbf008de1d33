package queries

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseResponses(t *testing.T) {
	r, err := ParseSearchResponse([]byte(`{"took":3,"_shards":{"failed":1},"hits":{"total":{"value":10000,"relation":"gte"},
		"hits":[{"_index":"i","_id":"a","_score":0.5,"_source":{"t":1}},{"_index":"i","_id":"b","_score":0.25}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.TookMS != 3 || r.Total != 10000 || !r.TotalIsLowerBound || r.ShardFailures != 1 || len(r.Hits) != 2 ||
		r.Hits[0].Score != 0.5 || string(r.Hits[0].Source) != `{"t":1}` || r.Hits[1].ID != "b" {
		t.Fatalf("%+v", r)
	}
	if _, err := ParseSearchResponse([]byte(`{"hits":{"hits":[{"_id":"a","_score":null}]}}`)); err == nil || !strings.Contains(err.Error(), "no _score") {
		t.Fatalf("null score: %v", err)
	}
	ms, err := ParseMSearchResponse([]byte(`{"responses":[{"hits":{"hits":[{"_id":"a","_score":1}]},"status":200},{"hits":{"hits":[]},"status":200}]}`), 2)
	if err != nil || len(ms) != 2 || ms[0].Hits[0].ID != "a" || len(ms[1].Hits) != 0 {
		t.Fatalf("%+v %v", ms, err)
	}
	_, err = ParseMSearchResponse([]byte(`{"responses":[{"hits":{"hits":[]}},{"error":{"type":"query_shard_exception","reason":"failed to create query","root_cause":[{"reason":"field [v] is not knn_vector"}]},"status":400}]}`), 2)
	if err == nil || !strings.Contains(err.Error(), "item 1") || !strings.Contains(err.Error(), "not knn_vector") {
		t.Fatalf("item error: %v", err)
	}
	if _, err := ParseMSearchResponse([]byte(`{"responses":[]}`), 2); err == nil {
		t.Fatal("count mismatch accepted")
	}
}

func TestSubScoreJSON(t *testing.T) {
	b, _ := json.Marshal([]SubScore{{}, {Present: true, Rank: 2, Raw: .8, Normalized: .75, Similarity: 0, HasSimilarity: true}, {Present: true, Rank: 1, Raw: 3, Normalized: 1}})
	want := `[{"present":false},{"present":true,"rank":2,"raw_score":0.8,"similarity":0,"normalized":0.75},{"present":true,"rank":1,"raw_score":3,"normalized":1}]`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
}

func TestResultJSONCarriesFusedScore(t *testing.T) {
	r := Result{Hit: &Hit{Index: "i", ID: "a", Score: 7, Source: []byte(`{"t":1}`)}, Score: 0.5, Subs: []SubScore{{Present: true, Rank: 1, Raw: 7, Normalized: 1}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":"i","id":"a","source":{"t":1},"score":0.5,"subs":[{"present":true,"rank":1,"raw_score":7,"normalized":1}]}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
}
