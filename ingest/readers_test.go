package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/x448/float16"
)

func fvecsBytes(vs [][]float32) []byte {
	var b bytes.Buffer
	for _, v := range vs {
		binary.Write(&b, binary.LittleEndian, int32(len(v)))
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func testVectors(n, d int) [][]float32 {
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = make([]float32, d)
		for j := range vs[i] {
			vs[i][j] = float32(i*d+j)/7 - 3
		}
	}
	return vs
}

func readAll(t *testing.T, r Reader) ([]Record, []error) {
	t.Helper()
	var recs []Record
	var errs []error
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, errs
		}
		if err != nil {
			errs = append(errs, err)
			if !IsRecordError(err) {
				return recs, errs
			}
			continue
		}
		recs = append(recs, rec)
	}
}

func sameVec(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestVecsRoundTrip(t *testing.T) {
	vs := testVectors(10, 5)
	r := NewVecsReader(bytes.NewReader(fvecsBytes(vs)), Fvecs)
	recs, errs := readAll(t, r)
	if len(errs) != 0 || len(recs) != 10 {
		t.Fatalf("got %d records, errs %v", len(recs), errs)
	}
	for i, rec := range recs {
		if !sameVec(rec.Vector, vs[i]) || rec.Pos.Record != int64(i) || rec.Pos.Offset != int64(i*24) {
			t.Fatalf("record %d: %+v", i, rec)
		}
	}
	// ivecs and bvecs
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, []int32{3, -1, 2, 70000})
	binary.Write(&b, binary.LittleEndian, int32(3))
	b.Write([]byte{0, 200, 255})
	recs, errs = readAll(t, NewVecsReader(bytes.NewReader(b.Bytes()[:16]), Ivecs))
	if len(errs) != 0 || !sameVec(recs[0].Vector, []float32{-1, 2, 70000}) {
		t.Fatalf("ivecs: %v %v", recs, errs)
	}
	recs, errs = readAll(t, NewVecsReader(bytes.NewReader(b.Bytes()[16:]), Bvecs))
	if len(errs) != 0 || !sameVec(recs[0].Vector, []float32{0, 200, 255}) {
		t.Fatalf("bvecs: %v %v", recs, errs)
	}
}

func TestVecsCorrupt(t *testing.T) {
	data := fvecsBytes(testVectors(4, 5))
	cases := []struct {
		name   string
		data   []byte
		rec    int64
		offset int64
		msg    string
	}{
		{"truncated record", data[:24*3+10], 3, 72, "truncated record"},
		{"truncated prefix", data[:24*2+2], 2, 48, "truncated dimension prefix"},
		{"dimension changes", append(append([]byte{}, data[:48]...), fvecsBytes(testVectors(1, 6))...), 2, 48, "differs"},
		{"negative dimension", append(append([]byte{}, data[:24]...), 0xff, 0xff, 0xff, 0xff), 1, 24, "out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, errs := readAll(t, NewVecsReader(bytes.NewReader(c.data), Fvecs))
			if len(errs) != 1 {
				t.Fatalf("want one fatal error, got %v", errs)
			}
			var fe *FormatError
			if !errors.As(errs[0], &fe) || fe.Pos.Record != c.rec || fe.Pos.Offset != c.offset || !strings.Contains(fe.Error(), c.msg) {
				t.Fatalf("got %v, want record %d offset %d %q", errs[0], c.rec, c.offset, c.msg)
			}
			if int64(len(recs)) != c.rec {
				t.Fatalf("%d good records before the error, want %d", len(recs), c.rec)
			}
		})
	}
}

func npyBytes(t *testing.T, descr string, rows, dim int, data any) []byte {
	var b bytes.Buffer
	if err := WriteNpyHeader(&b, descr, rows, dim); err != nil {
		t.Fatal(err)
	}
	if b.Len()%64 != 0 {
		t.Fatalf("header not 64-aligned: %d", b.Len())
	}
	binary.Write(&b, binary.LittleEndian, data)
	return b.Bytes()
}

func TestNpy(t *testing.T) {
	f32 := []float32{1.5, -2, 3.25, 0, 1e-3, 7}
	f16 := make([]uint16, len(f32))
	for i, x := range f32 {
		f16[i] = float16.Fromfloat32(x).Bits()
	}
	cases := []struct {
		descr string
		data  any
		want  []float32
	}{
		{"<f4", f32, f32},
		{"<f2", f16, []float32{1.5, -2, 3.25, 0, float16.Fromfloat32(1e-3).Float32(), 7}},
		{"|u1", []uint8{0, 1, 255, 128, 7, 9}, []float32{0, 1, 255, 128, 7, 9}},
		{"|i1", []int8{0, -128, 127, -1, 7, 9}, []float32{0, -128, 127, -1, 7, 9}},
		{"<f8", []float64{1.5, -2, 3.25, 0, 1e-3, 7}, f32},
	}
	for _, c := range cases {
		r, err := NewNpyReader(bytes.NewReader(npyBytes(t, c.descr, 2, 3, c.data)))
		if err != nil {
			t.Fatal(c.descr, err)
		}
		recs, errs := readAll(t, r)
		if len(errs) != 0 || len(recs) != 2 {
			t.Fatalf("%s: %v %v", c.descr, recs, errs)
		}
		if !sameVec(append(recs[0].Vector, recs[1].Vector...), c.want) {
			t.Fatalf("%s: got %v %v want %v", c.descr, recs[0].Vector, recs[1].Vector, c.want)
		}
	}
	// Truncated data: the error names the row and its byte offset.
	data := npyBytes(t, "<f4", 3, 3, f32) // header says 3 rows, data has 2
	r, _ := NewNpyReader(bytes.NewReader(data))
	_, errs := readAll(t, r)
	var fe *FormatError
	if len(errs) != 1 || !errors.As(errs[0], &fe) || fe.Pos.Record != 2 || fe.Pos.Offset != int64(len(data)) {
		t.Fatalf("truncated: %v", errs)
	}
	// Fortran order and unsupported dtypes are refused with the reason.
	bad := bytes.Replace(npyBytes(t, "<f4", 2, 3, f32), []byte("False"), []byte("True "), 1)
	if _, err := NewNpyReader(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "fortran_order") {
		t.Fatalf("fortran: %v", err)
	}
	bad = npyBytes(t, ">f4", 2, 3, f32)
	if _, err := NewNpyReader(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "unsupported dtype") {
		t.Fatalf("big endian: %v", err)
	}
}

func TestJSONL(t *testing.T) {
	in := `{"id":"a","vector":[1,2.5,-3e-2],"text":"hello","tag":"x","n":3}
{"id":7,"vector":[4,5,6],"metadata":{"k":[1,2]}}

{"id":"c","vector":[1,2,}
{"text":"only text"}
not json
{"id":"e","vector":[1,"2",3]}
{"id":"f","vector":[1,2,3]}
`
	r := NewJSONLReader(strings.NewReader(in), Options{})
	recs, errs := readAll(t, r)
	if len(recs) != 4 || len(errs) != 3 {
		t.Fatalf("got %d records %d errors: %v", len(recs), len(errs), errs)
	}
	if recs[0].ID != "a" || !sameVec(recs[0].Vector, []float32{1, 2.5, -3e-2}) || recs[0].Text != "hello" || len(recs[0].Fields) != 2 ||
		recs[0].Fields[0].Name != "n" || string(recs[0].Fields[1].Raw) != `"x"` {
		t.Fatalf("rec 0: %+v", recs[0])
	}
	if recs[1].ID != "7" || string(recs[1].Fields[0].Raw) != `{"k":[1,2]}` {
		t.Fatalf("rec 1: %+v", recs[1])
	}
	if recs[2].Vector != nil || !recs[2].HasText {
		t.Fatalf("rec 2: %+v", recs[2])
	}
	// Exact positions: line 4 starts after lines of 70+49+1 bytes.
	lines := strings.SplitAfter(in, "\n")
	off := func(line int) int64 {
		n := 0
		for _, l := range lines[:line-1] {
			n += len(l)
		}
		return int64(n)
	}
	want := []Position{{Record: 2, Line: 4, Offset: off(4)}, {Record: 4, Line: 6, Offset: off(6)}, {Record: 5, Line: 7, Offset: off(7)}}
	for i, e := range errs {
		var re *RecordError
		if !errors.As(e, &re) || re.Pos != want[i] {
			t.Fatalf("error %d: %v, want at %v", i, e, want[i])
		}
	}
	if !strings.Contains(errs[2].Error(), `element 1`) {
		t.Fatalf("want element index in %v", errs[2])
	}
	if recs[3].Pos != (Position{Record: 6, Line: 8, Offset: off(8)}) {
		t.Fatalf("last record position %v", recs[3].Pos)
	}
}

func TestCSV(t *testing.T) {
	in := "id,vector,text,color\n" +
		"a,\"[1, 2, 3]\",hello,red\n" +
		"b,4 5 6,\"multi\nline\",blue\n" +
		"c,1;2;x,bad,green\n" +
		"d,7;8;9,ok\n" +
		"e,,just text,white\n"
	r, err := NewCSVReader(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAll(t, r)
	if len(recs) != 3 || len(errs) != 2 {
		t.Fatalf("got %v, errors %v", recs, errs)
	}
	if recs[0].ID != "a" || !sameVec(recs[0].Vector, []float32{1, 2, 3}) || string(recs[0].Fields[0].Raw) != `"red"` {
		t.Fatalf("rec 0 %+v", recs[0])
	}
	if recs[1].Text != "multi\nline" || recs[1].Pos.Line != 3 {
		t.Fatalf("rec 1 %+v", recs[1])
	}
	var re *RecordError
	if !errors.As(errs[0], &re) || re.Pos.Line != 5 || re.Pos.Record != 2 || !strings.Contains(re.Error(), `"x"`) {
		t.Fatalf("err 0 %v", errs[0])
	}
	if !errors.As(errs[1], &re) || re.Pos.Line != 6 || re.Pos.Record != 3 || re.Pos.Offset != int64(strings.Index(in, "d,7")) {
		t.Fatalf("err 1 %v", errs[1])
	}
	if recs[2].Vector != nil || recs[2].Text != "just text" || recs[2].Pos.Line != 7 {
		t.Fatalf("rec 2 %+v", recs[2])
	}
}

type pqRow struct {
	ID     string    `parquet:"id"`
	Vector []float32 `parquet:"vector,list"`
	Text   string    `parquet:"text"`
	Year   int64     `parquet:"year"`
}

func writeParquet(t testing.TB, path string, rows []pqRow) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqRow](f, parquet.MaxRowsPerRowGroup(7))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestParquet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.parquet")
	var rows []pqRow
	for i, v := range testVectors(20, 4) {
		rows = append(rows, pqRow{ID: string(rune('a'+i)) + "x", Vector: v, Text: "t", Year: int64(2000 + i)})
	}
	rows[3].Vector = nil
	writeParquet(t, path, rows)
	r, err := Open(path, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, errs := readAll(t, r)
	if len(errs) != 0 || len(recs) != 20 {
		t.Fatalf("%d records, errors %v", len(recs), errs)
	}
	for i, rec := range recs {
		if rec.ID != rows[i].ID || !sameVec(rec.Vector, rows[i].Vector) || rec.Text != "t" || rec.Pos.Record != int64(i) ||
			len(rec.Fields) != 1 || rec.Fields[0].Name != "year" || string(rec.Fields[0].Raw) != string(rune('0'+0))+"" && false {
			t.Fatalf("row %d: %+v", i, rec)
		}
	}
	if string(recs[5].Fields[0].Raw) != "2005" || recs[3].Vector != nil {
		t.Fatalf("fields: %s, null vector %v", recs[5].Fields[0].Raw, recs[3].Vector)
	}
	// Corrupt footer: clear error, no panic.
	data, _ := os.ReadFile(path)
	data[len(data)-10] ^= 0xff
	if _, err := NewParquetReader(bytes.NewReader(data), int64(len(data)), nil, Options{}); err == nil {
		t.Fatal("corrupt footer accepted")
	}
}

// Every reader resumes at the position Tell gave after record k and yields
// exactly the records that followed.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	vs := testVectors(30, 4)
	files := map[string][]byte{"v.fvecs": fvecsBytes(vs), "v.npy": npyBytes(t, "<f4", 30, 4, flatten(vs))}
	var jl, cs bytes.Buffer
	cs.WriteString("id,vector\n")
	for i, v := range vs {
		jl.WriteString(`{"id":"` + strconv.Itoa(i) + `","vector":` + string(AppendVector(nil, v)) + "}\n")
		if i == 10 {
			jl.WriteString("broken\n\n")
		}
		cs.WriteString(strconv.Itoa(i) + ",\"" + string(AppendVector(nil, v)) + "\"\n")
	}
	files["v.jsonl"], files["v.csv"] = jl.Bytes(), cs.Bytes()
	for name, data := range files {
		os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	var prows []pqRow
	for i, v := range vs {
		prows = append(prows, pqRow{ID: string(rune('A' + i)), Vector: v})
	}
	writeParquet(t, filepath.Join(dir, "v.parquet"), prows)
	for _, name := range []string{"v.fvecs", "v.npy", "v.jsonl", "v.csv", "v.parquet"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			full, _ := Open(path, "", Options{})
			all, _ := readAll(t, full)
			full.Close()
			for _, k := range []int{0, 1, 11, 17, 29} {
				r, _ := Open(path, "", Options{})
				for range k {
					for {
						if _, err := r.Next(); err == nil {
							break
						}
					}
				}
				pos := r.Tell()
				r.Close()
				r2, err := Open(path, "", Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := r2.(Resumer).Resume(pos); err != nil {
					t.Fatal(err)
				}
				rest, errs := readAll(t, r2)
				r2.Close()
				if len(errs) != 0 && !(name == "v.jsonl" && k <= 11 && len(errs) == 1) {
					t.Fatalf("k=%d: %v", k, errs)
				}
				if len(rest) != len(all)-k {
					t.Fatalf("k=%d: resumed %d records, want %d", k, len(rest), len(all)-k)
				}
				for i := range rest {
					if rest[i].Pos != all[k+i].Pos || !sameVec(rest[i].Vector, all[k+i].Vector) {
						t.Fatalf("k=%d record %d: %+v vs %+v", k, i, rest[i].Pos, all[k+i].Pos)
					}
				}
			}
		})
	}
}

func flatten(vs [][]float32) []float32 {
	var out []float32
	for _, v := range vs {
		out = append(out, v...)
	}
	return out
}
