package queries

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
)

// slowSearch and slowMSearch are the encoding/json decodings the scanner
// stands in for.
func slowSearch(raw []byte) (rawSearch, error) {
	var r rawSearch
	err := json.Unmarshal(raw, &r)
	return r, err
}

func slowMSearch(raw []byte) ([]rawSearch, error) {
	var r struct {
		Responses []rawSearch `json:"responses"`
	}
	err := json.Unmarshal(raw, &r)
	return r.Responses, err
}

// normalizeRaw makes decoded results comparable: an empty hit list is a
// nil one, and sources compare as bytes.
func normalizeRaw(rs []rawSearch) []rawSearch {
	if len(rs) == 0 {
		return nil
	}
	for i := range rs {
		if len(rs[i].Hits.Hits) == 0 {
			rs[i].Hits.Hits = nil
		}
		if len(rs[i].Error) == 0 || string(rs[i].Error) == "null" {
			rs[i].Error = nil
		}
	}
	return rs
}

var scanCorpus = []string{
	`{"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":2,"relation":"eq"},"max_score":1.5,"hits":[{"_index":"a","_id":"1","_score":1.5,"_source":{"t":"x \"quoted\" {not} [an] object\\n","n":[1,2.5e-3,-0.5,true,false,null]}},{"_index":"a","_id":"2","_score":0.25}]}}`,
	`{"took":1,"hits":{"total":{"value":10000,"relation":"gte"},"hits":[]}}`,
	`{"hits":{"hits":[{"_index":"é","_id":"ü-1","_score":1E+2,"_source":"plain"}]}}`,
	` { "took" : 7 , "hits" : { "hits" : [ { "_id" : "x" , "_index" : "i" , "_score" : 0 , "_source" : { } } ] } } `,
	`{"hits":{"hits":[{"_index":"a","_id":"esc\u0041ped","_score":1}]}}`,                 // escaped id: fallback
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":null}]}}`,                         // sorted search: fallback
	`{"hits":{"hits":[{"_index":"a","_ID":"1","_score":1}]}}`,                            // case-folded key: fallback
	`{"hits":{"hits":[{"_index":"a","_id":"1","_id":"2","_score":1}]}}`,                  // duplicate key: fallback
	`{"took":1.5,"hits":{"hits":[]}}`,                                                    // non-int took: error
	`{"hits":{"total":null,"hits":[]}}`,                                                  // null total: fallback
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":1,"_source":null}]}}`,             // null source: fallback
	`{"status":400,"error":{"type":"x","reason":"bad"}}`,                                 // item error: fallback
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":1,"_source":{"a":1}}]}} trailing`, // trailing garbage
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":01}]}}`,                           // bad number
	`{"hits":{"hits":[{"_index":"a","_id":"1\x01","_score":1}]}}`,                        // control character
	`{"hits":{"hits":[{"_index":"a","_id":"\xff","_score":1}]}}`,                         // invalid UTF-8: fallback
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":1,"_source":{"a":[1,2}}]}}`,       // malformed source
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":1,"_source":{"k":"\q"}}]}}`,       // bad escape
	`{"hits":{"hits":[{"_index":"a","_id":"1","_score":1}],"hits":[]}}`,                  // duplicate hits
	`{"_shards":{"failed":2,"failures":[{"reason":"x"}]},"hits":{"hits":[]}}`,
	`[]`, ``, `{`, `null`,
}

func TestScanSearchMatchesEncodingJSON(t *testing.T) {
	check := func(doc string) {
		t.Helper()
		raw := []byte(doc)
		got, ok := scanSearch(raw)
		want, err := slowSearch(raw)
		if ok {
			if err != nil {
				t.Fatalf("scanner accepted what encoding/json rejects (%v): %.300q", err, doc)
			}
			if g, w := normalizeRaw([]rawSearch{got}), normalizeRaw([]rawSearch{want}); !reflect.DeepEqual(g, w) {
				t.Fatalf("%.300q:\n got %.300v\nwant %.300v", doc, g, w)
			}
		}
		// The public parser gives the same answer either way.
		a, errA := ParseSearchResponse(raw)
		var b SearchResponse
		errB := err
		if err == nil {
			b, errB = want.convert("search response")
		}
		if (errA == nil) != (errB == nil) || errA == nil && !reflect.DeepEqual(a, b) && !(len(a.Hits) == 0 && len(b.Hits) == 0) {
			t.Fatalf("%.300q: parse %.300v %v, encoding/json %.300v %v", doc, a, errA, b, errB)
		}
	}
	for _, doc := range scanCorpus {
		check(doc)
	}
	// The fast path is taken for the usual answers.
	for _, doc := range scanCorpus[:4] {
		if _, ok := scanSearch([]byte(doc)); !ok {
			t.Errorf("fast path refused %q", doc)
		}
	}
	// Random corruptions of real answers: whatever the scanner accepts,
	// encoding/json accepts and reads the same.
	real, err := os.ReadFile("testdata/msearch_hybrid_50x2.json")
	if err != nil {
		t.Fatal(err)
	}
	one, _ := json.Marshal(must(slowMSearch(real))[0])
	seeds := append([]string{string(one)}, scanCorpus[:4]...)
	r := rand.New(rand.NewPCG(21, 22))
	alphabet := []byte(`{}[]":,\ ue0-.+1aE_` + "\x00\xff")
	for range 3000 {
		b := []byte(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			i := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		check(string(b))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestScanMSearchMatchesEncodingJSON(t *testing.T) {
	real, err := os.ReadFile("testdata/msearch_hybrid_50x2.json")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := scanMSearch(real)
	if !ok {
		t.Fatal("fast path refused the real answer")
	}
	want := must(slowMSearch(real))
	if !reflect.DeepEqual(normalizeRaw(got), normalizeRaw(want)) {
		t.Fatal("real answer decoded differently")
	}
	if len(got) != 2 || len(got[0].Hits.Hits) != 50 || len(got[1].Hits.Hits) != 50 {
		t.Fatalf("%d responses", len(got))
	}
	items := []string{
		`{"responses":[]}`,
		`{"took":5,"responses":[` + scanCorpus[0] + `,` + scanCorpus[1] + `]}`,
		`{"responses":[` + scanCorpus[0] + `,{"status":404,"error":{"type":"index_not_found_exception","reason":"no such index [x]","root_cause":[{"reason":"no such index [x]"}]}}]}`,
		`{"responses":null}`,
		`{"responses":[` + scanCorpus[0] + `]`,
	}
	for _, doc := range items {
		raw := []byte(doc)
		got, ok := scanMSearch(raw)
		want, err := slowMSearch(raw)
		if ok && (err != nil || !reflect.DeepEqual(normalizeRaw(got), normalizeRaw(want))) {
			t.Fatalf("%.300q: scanner %.300v, encoding/json %.300v %v", doc, got, want, err)
		}
	}
	// An item error still names the item and the server's reason.
	_, err = ParseMSearchResponse([]byte(items[2]), 2)
	if err == nil || !strings.Contains(err.Error(), "msearch item 1: status 404") || !strings.Contains(err.Error(), "no such index") {
		t.Fatalf("item error: %v", err)
	}
	// Sources alias the body and are exact.
	rs, err := ParseMSearchResponse(real, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(rs[0].Hits[0].Source); !strings.HasPrefix(s, `{"body":"`) || !json.Valid(rs[0].Hits[0].Source) {
		t.Fatalf("source %q", s)
	}
}
