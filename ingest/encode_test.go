package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every float32 survives the text round trip bit for bit.
func TestAppendVectorExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	v := []float32{0, 1, -1, 127, -128, 1e7, 16777216, math.MaxFloat32, math.SmallestNonzeroFloat32, -0.0, 0.1, 1.0 / 3}
	v[9] = float32(math.Copysign(0, -1))
	for range 100000 {
		v = append(v, math.Float32frombits(rng.Uint32()))
	}
	out := v[:0:0]
	for _, x := range v {
		if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
			out = append(out, x)
		}
	}
	b := AppendVector(nil, out)
	parts := strings.Split(strings.Trim(string(b), "[]"), ",")
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 32)
		if err != nil || math.Float32bits(float32(f)) != math.Float32bits(out[i]) {
			t.Fatalf("component %d: %v encoded as %q", i, out[i], p)
		}
	}
	var back []float32
	if err := json.Unmarshal(b, &back); err != nil || len(back) != len(out) {
		t.Fatalf("not valid JSON: %v", err)
	}
}

func TestAppendDocAndStrings(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\ nl\n tab\t ctl\x01", "üñí €", "bad \xff utf8", "\u2028sep"} {
		got := appendJSONString(nil, s)
		want, _ := json.Marshal(s)
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	}
	e := Encoder{VectorField: "emb", TextField: "body"}
	rec := Record{ID: "x", Vector: []float32{1, 0.5}, Text: "hi", HasText: true, Fields: []Field{{"n", []byte("3")}}}
	got := string(e.AppendDoc(nil, DocID(&rec), &rec))
	want := `{"index":{"_id":"x"}}` + "\n" + `{"emb":[1,0.5],"body":"hi","n":3}` + "\n"
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	// Content ids are stable and distinguish position and content.
	a := Record{Pos: Position{Record: 1}, Vector: []float32{1, 2}}
	b := a
	if DocID(&a) != DocID(&b) {
		t.Fatal("unstable id")
	}
	b.Pos.Record = 2
	c := a
	c.Vector = []float32{1, 3}
	if DocID(&a) == DocID(&b) || DocID(&a) == DocID(&c) || len(DocID(&a)) != 24 || !strings.HasPrefix(DocID(&a), "000000000001-") {
		t.Fatalf("ids collide or have the wrong shape: %s %s %s", DocID(&a), DocID(&b), DocID(&c))
	}
	// Ascending with the input (id lookups in the cluster stay cheap).
	if !(DocID(&a) < DocID(&b)) {
		t.Fatal("ids do not ascend with the record number")
	}
}

func TestChecks(t *testing.T) {
	cases := []struct {
		c    Checks
		v    []float32
		want string
	}{
		{Checks{Dimension: 3}, []float32{1, 2, 3}, ""},
		{Checks{Dimension: 3}, []float32{1, 2}, "dimension 2, index expects 3"},
		{Checks{Dimension: 2}, []float32{1, float32(math.NaN())}, "component 1 is NaN"},
		{Checks{Dimension: 2}, []float32{float32(math.Inf(-1)), 1}, "component 0 is -Inf"},
		{Checks{Dimension: 2, SpaceType: "cosinesimil"}, []float32{0, 0}, "zero vector"},
		{Checks{Dimension: 2, SpaceType: "l2"}, []float32{0, 0}, ""},
		{Checks{Dimension: 2, DataType: Byte}, []float32{-128, 127}, ""},
		{Checks{Dimension: 2, DataType: Byte}, []float32{1, 128}, "component 1 = 128"},
		{Checks{Dimension: 2, DataType: Byte}, []float32{1.5, 1}, "not an integer"},
		{Checks{Dimension: 16, DataType: Binary}, []float32{-1, 5}, ""},
		{Checks{Dimension: 16, DataType: Binary}, []float32{-1, 5, 3}, "dimension 3, index expects 2"},
	}
	for _, c := range cases {
		err := c.c.Check(c.v)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v %v: got %v want %q", c.c, c.v, err, c.want)
		}
	}
	c := Checks{}
	if c.Check([]float32{1, 2, 3}) != nil || c.Check([]float32{1, 2}) == nil {
		t.Fatal("dimension from the first vector")
	}
}

// --- fuzz targets: no panic, bounded work, and every error carries a
// position inside the input.

func fuzzDrain(t *testing.T, r Reader, size int) {
	for i := 0; i < 100000; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			return
		}
		var pos Position
		switch e := err.(type) {
		case nil:
			pos = rec.Pos
		case *RecordError:
			pos = e.Pos
		case *FormatError:
			if e.Pos.Offset > int64(size) {
				t.Fatalf("error offset %d beyond input size %d: %v", e.Pos.Offset, size, e)
			}
			return
		default:
			t.Fatalf("untyped error %T %v", err, err)
		}
		if pos.Offset > int64(size) || pos.Record < 0 {
			t.Fatalf("position %v outside input of %d bytes", pos, size)
		}
	}
}

func FuzzFvecs(f *testing.F) {
	f.Add(fvecsBytes(testVectors(3, 4)))
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []VecsKind{Fvecs, Ivecs, Bvecs} {
			fuzzDrain(t, NewVecsReader(bytes.NewReader(data), k), len(data))
		}
	})
}

func FuzzNpy(f *testing.F) {
	var b bytes.Buffer
	WriteNpyHeader(&b, "<f4", 2, 2)
	b.Write(make([]byte, 16))
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewNpyReader(bytes.NewReader(data))
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("untyped header error %v", err)
			}
			return
		}
		fuzzDrain(t, r, len(data))
	})
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(jsonlInput(5, map[int]bool{1: true}, map[int]bool{2: true})))
	f.Add([]byte("{\"vector\":[1e39]}\n{\"id\":[]}\r\n\n{\"text\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDrain(t, NewJSONLReader(bytes.NewReader(data), Options{MaxLine: 1 << 12}), len(data))
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,vector,text\na,\"[1,2]\",x\nb,1 2,\"y\nz\"\nc,\"bad\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewCSVReader(bytes.NewReader(data), Options{})
		if err != nil {
			return
		}
		fuzzDrain(t, r, len(data))
	})
}

func FuzzParquet(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.parquet")
	writeParquet(f, path, []pqRow{{ID: "a", Vector: []float32{1, 2}, Text: "x", Year: 1}, {ID: "b", Year: 2}})
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewParquetReader(bytes.NewReader(data), int64(len(data)), nil, Options{})
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			_, err := r.Next()
			if err == io.EOF || (err != nil && !IsRecordError(err)) {
				return
			}
		}
	})
}

// docIDReference is DocID as first released (one hash write per
// component): ids must never change between versions, or a resume after an
// upgrade would duplicate every document already loaded.
func docIDReference(r *Record) string {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(r.Pos.Record))
	h.Write(b[:])
	for _, x := range r.Vector {
		binary.LittleEndian.PutUint32(b[:4], math.Float32bits(x))
		h.Write(b[:4])
	}
	h.Write([]byte{0})
	h.Write([]byte(r.Text))
	for _, f := range r.Fields {
		h.Write([]byte{0})
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write(f.Raw)
	}
	return fmt.Sprintf("%012d-%s", r.Pos.Record, base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:8]))
}

func TestDocIDStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{0, 1, 3, 255, 256, 257, 384, 1536, 4099} {
		for k := range 5 {
			v := make([]float32, d)
			for i := range v {
				v[i] = rng.Float32()*2 - 1
			}
			r := Record{Pos: Position{Record: rng.Int64N(1 << 40)}, Vector: v, Text: "t" + strconv.Itoa(k), HasText: k%2 == 0,
				Fields: []Field{{Name: "a", Raw: []byte(`"x"`)}}}
			if got, want := DocID(&r), docIDReference(&r); got != want {
				t.Fatalf("dim %d: DocID %s, first release gave %s", d, got, want)
			}
		}
	}
}
