package ingest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Files written by numpy and pyarrow (testdata/gen_fixtures.py) read back
// exactly as the reference tools wrote them.
func TestReferenceFixtures(t *testing.T) {
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]json.RawMessage
	json.Unmarshal(raw, &exp)
	for _, name := range []string{"f4.npy", "f2.npy", "u1.npy", "i1.npy"} {
		var want [][]float32
		json.Unmarshal(exp[name], &want)
		r, err := Open("testdata/"+name, "", Options{})
		if err != nil {
			t.Fatal(name, err)
		}
		recs, errs := readAll(t, r)
		r.Close()
		if len(errs) != 0 || len(recs) != len(want) {
			t.Fatalf("%s: %d records, errors %v", name, len(recs), errs)
		}
		for i := range want {
			if !sameVec(recs[i].Vector, want[i]) {
				t.Fatalf("%s row %d: %v want %v", name, i, recs[i].Vector, want[i])
			}
		}
	}
	if _, err := Open("testdata/fortran.npy", "", Options{}); err == nil || !strings.Contains(err.Error(), "fortran_order") {
		t.Fatalf("fortran.npy: %v", err)
	}

	var lp struct {
		IDs     []string
		Vectors [][]float32
		Texts   []*string
		Years   []*int64
		Tags    [][]string
	}
	json.Unmarshal(exp["list.parquet"], &lp)
	r, err := Open("testdata/list.parquet", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, r)
	r.Close()
	if len(errs) != 0 || len(recs) != 5 {
		t.Fatalf("list.parquet: %d records, %v", len(recs), errs)
	}
	for i, rec := range recs {
		if rec.ID != lp.IDs[i] || !sameVec(rec.Vector, lp.Vectors[i]) || (lp.Vectors[i] == nil) != (rec.Vector == nil) {
			t.Fatalf("list.parquet row %d: %+v", i, rec)
		}
		if (lp.Texts[i] != nil) != rec.HasText || (lp.Texts[i] != nil && *lp.Texts[i] != rec.Text) {
			t.Fatalf("row %d text %q/%t", i, rec.Text, rec.HasText)
		}
		fields := map[string]string{}
		for _, f := range rec.Fields {
			fields[f.Name] = string(f.Raw)
		}
		if lp.Years[i] != nil && fields["year"] != jsonOf(*lp.Years[i]) || lp.Years[i] == nil && fields["year"] != "" {
			t.Fatalf("row %d year %q", i, fields["year"])
		}
		if lp.Tags[i] != nil && fields["tags"] != jsonOf(lp.Tags[i]) {
			t.Fatalf("row %d tags %q want %s", i, fields["tags"], jsonOf(lp.Tags[i]))
		}
	}

	var fp struct {
		IDs     []string
		Vectors [][]float32
		Scores  []float64
	}
	json.Unmarshal(exp["fixed.parquet"], &fp)
	r, err = Open("testdata/fixed.parquet", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, errs = readAll(t, r)
	r.Close()
	if len(errs) != 0 || len(recs) != 5 {
		t.Fatalf("fixed.parquet: %d records, %v", len(recs), errs)
	}
	for i, rec := range recs {
		if rec.ID != fp.IDs[i] || !sameVec(rec.Vector, fp.Vectors[i]) || len(rec.Fields) != 1 || string(rec.Fields[0].Raw) != jsonOf(fp.Scores[i]) {
			t.Fatalf("fixed.parquet row %d: %+v", i, rec)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
