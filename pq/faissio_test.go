package pq

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func roundTrip(t *testing.T, ix any) any {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteIndex(&buf, ix); err != nil {
		t.Fatal(err)
	}
	back, err := ReadIndex(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := WriteIndex(&again, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("write(read(write(ix))) differs from write(ix)")
	}
	return back
}

func sameIVF(t *testing.T, a, b *IVF) {
	t.Helper()
	if a.Kind != b.Kind || a.D != b.D || a.Nlist != b.Nlist || a.Metric != b.Metric || a.NTotal != b.NTotal || a.ByResidual != b.ByResidual {
		t.Fatalf("header differs: %+v vs %+v", a, b)
	}
	if !reflect.DeepEqual(a.Centroids, b.Centroids) {
		t.Fatal("centroids differ")
	}
	if a.Kind == IVFPQ && !reflect.DeepEqual(a.PQ, b.PQ) {
		t.Fatal("PQ differs")
	}
	for l := range a.Lists {
		if len(a.Lists[l].IDs) == 0 && len(b.Lists[l].IDs) == 0 {
			continue
		}
		if !reflect.DeepEqual(a.Lists[l], b.Lists[l]) {
			t.Fatalf("list %d differs", l)
		}
	}
}

func TestFaissRoundTripInGo(t *testing.T) {
	x, _, _ := clustered(2000, 16, 10, 3, 1, 21)
	q := gaussian(10, 16, 22)
	for _, tc := range []struct {
		kind   IVFKind
		metric Metric
		nbits  int
		n      int // vectors added; few => sparse list encoding
	}{{IVFFlat, MetricL2, 0, 2000}, {IVFPQ, MetricL2, 8, 2000}, {IVFPQ, MetricInnerProduct, 4, 2000}, {IVFPQ, MetricL2, 8, 3}, {IVFPQ, MetricL2, 8, 0}} {
		ix := trainedIVF(t, tc.kind, tc.metric, tc.nbits, true, x, 16, 16)
		if tc.n < 2000 {
			for l := range ix.Lists {
				ix.Lists[l] = InvList{}
			}
			ix.NTotal = 0
			if tc.n > 0 {
				if err := ix.Add(x[:tc.n*16], nil, 1); err != nil {
					t.Fatal(err)
				}
			}
		}
		back := roundTrip(t, ix).(*IVF)
		sameIVF(t, ix, back)
		if tc.n > 0 {
			r1, _ := ix.Search(q, 5, 4, 1)
			r2, _ := back.Search(q, 5, 4, 1)
			if !reflect.DeepEqual(r1, r2) {
				t.Fatalf("%v: search differs after round trip", tc)
			}
		}
	}
	pqix, _ := NewIndexPQ(16, 8, 6, MetricL2)
	cfg := DefaultPQTrainConfig()
	cfg.NIter = 3
	if _, err := pqix.Train(context.Background(), x, cfg); err != nil {
		t.Fatal(err)
	}
	_ = pqix.Add(x[:500*16], 1)
	back := roundTrip(t, pqix).(*IndexPQ)
	if !reflect.DeepEqual(pqix, back) {
		t.Fatal("IndexPQ differs after round trip")
	}
}

func TestFaissReadRejectsTruncatedAndForeign(t *testing.T) {
	x, _, _ := clustered(600, 8, 4, 3, 1, 23)
	ix := trainedIVF(t, IVFPQ, MetricL2, 8, true, x, 8, 4)
	var buf bytes.Buffer
	if err := WriteIndex(&buf, ix); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	for _, cut := range []int{0, 3, 4, 20, 45, 60, 100, len(full) / 2, len(full) - 1} {
		_, err := ReadIndex(bytes.NewReader(full[:cut]))
		if err == nil {
			t.Fatalf("truncated to %d bytes: no error", cut)
		}
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "byte offset") {
			t.Fatalf("truncated to %d: want ErrFormat with offset, got %v", cut, err)
		}
	}
	_, err := ReadIndex(bytes.NewReader(append(append([]byte(nil), full...), 0)))
	if err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("want trailing-bytes error, got %v", err)
	}
	_, err = ReadIndex(strings.NewReader("\x89PNG\r\n\x1a\n....................................."))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "does not look like a faiss index") {
		t.Fatalf("foreign file: got %v", err)
	}
	_, err = ReadIndex(strings.NewReader("IHNf" + strings.Repeat("\x00", 64)))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"IHNf" is not supported`) {
		t.Fatalf("unsupported type: got %v", err)
	}
	// corrupt the PQ nbits field (after IVF header, quantizer, direct map, by_residual, code_size)
	bad := append([]byte(nil), full...)
	off := 4 + 33 + 16 + 4 + 33 + 8 + 4*8*4 + 1 + 8 + 1 + 8 + 8 + 8
	bad[off] = 12
	if _, err := ReadIndex(bytes.NewReader(bad)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "nbits=12") {
		t.Fatalf("corrupt nbits: got %v", err)
	}
}

func TestWriteIndexFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	x, _, _ := clustered(500, 8, 4, 3, 1, 24)
	ix := trainedIVF(t, IVFFlat, MetricL2, 0, false, x, 8, 4)
	path := filepath.Join(dir, "a.faiss")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// an unwritable value fails before anything replaces the old file
	if err := WriteIndexFile(path, "not an index"); err == nil {
		t.Fatal("want error")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatal("failed write clobbered the existing file")
	}
	if err := WriteIndexFile(path, ix); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	back, err := ReadIndexFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameIVF(t, ix, back.(*IVF))
	if err := WriteIndexFile(filepath.Join(dir, "missing", "b.faiss"), ix); err == nil {
		t.Fatal("want error for a missing directory")
	}
	_, err = ReadIndexFile(filepath.Join(dir, "nope"))
	if err == nil {
		t.Fatal("want error")
	}
}
