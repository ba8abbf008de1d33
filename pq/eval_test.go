package pq

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRecallDefinition(t *testing.T) {
	gt := &SearchResult{NQ: 2, K: 3, IDs: []int64{1, 2, 3, 4, 5, 6}}
	res := &SearchResult{NQ: 2, K: 3, IDs: []int64{3, 9, 1, 6, 5, -1}}
	r, err := Recall(res, gt, 3)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r-4.0/6) > 1e-12 {
		t.Fatalf("recall@3 = %f, want 4/6", r)
	}
	if r1, _ := Recall(res, gt, 1); r1 != 0 {
		t.Fatalf("recall@1 = %f, want 0", r1)
	}
	if _, err := Recall(res, gt, 4); err == nil {
		t.Fatal("want error for k beyond the columns")
	}
}

func TestSweepRecommendsLeastMemoryMeetingTarget(t *testing.T) {
	x, _, _ := clustered(3000, 16, 20, 3, 1, 41)
	q := gaussian(50, 16, 42)
	cfg := SweepConfig{Nlists: []int{16}, Ms: []int{0, 4, 8}, NBits: []int{8}, Nprobes: []int{1, 16},
		Metric: MetricL2, TargetRecall: 0.5, Train: IVFTrainConfig{Seed: 1, PQIter: 4}}
	rep, err := Sweep(context.Background(), x, x, q, 16, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Points) != 6 {
		t.Fatalf("%d points, want 3 indexes x 2 nprobes", len(rep.Points))
	}
	for _, p := range rep.Points {
		if p.Index == "IVF16,Flat" && p.Nprobe == 16 && p.Recall100 != 1 {
			t.Fatalf("IVF-Flat probing every list must be exact, got recall@100 %f", p.Recall100)
		}
	}
	if rep.Recommended == nil {
		t.Fatalf("no recommendation: %s", rep.Reason)
	}
	for _, p := range rep.Points {
		if p.Recall10 >= 0.5 && p.TotalBytes < rep.Recommended.TotalBytes {
			t.Fatalf("%s nprobe=%d meets the target with less memory than the recommendation %s", p.Index, p.Nprobe, rep.Recommended.Index)
		}
	}
	if ix := rep.RecommendedIndex(); ix == nil || !ix.Trained() || ix.NTotal != 0 {
		t.Fatal("recommended index missing, untrained or not empty")
	}
	cfg.TargetRecall = 1.01
	rep, _ = Sweep(context.Background(), x, x, q, 16, cfg)
	if rep.Recommended != nil || !strings.Contains(rep.Reason, "no evaluated setting") {
		t.Fatalf("unreachable target: got %v / %q", rep.Recommended, rep.Reason)
	}
}

func TestVectorFiles(t *testing.T) {
	dir := t.TempDir()
	x := gaussian(7, 5, 43)
	var buf bytes.Buffer
	if err := WriteFvecs(&buf, x, 5); err != nil {
		t.Fatal(err)
	}
	fv := filepath.Join(dir, "a.fvecs")
	os.WriteFile(fv, buf.Bytes(), 0o644)
	got, d, err := ReadVectorsFile(fv, 0)
	if err != nil || d != 5 || !slices.Equal(got, x) {
		t.Fatalf("fvecs round trip: d=%d err=%v", d, err)
	}
	if got, _, _ := ReadVectorsFile(fv, 3); len(got) != 15 {
		t.Fatalf("limit 3 read %d floats", len(got))
	}
	os.WriteFile(fv, buf.Bytes()[:buf.Len()-3], 0o644)
	if _, _, err := ReadVectorsFile(fv, 0); err == nil || !strings.Contains(err.Error(), "vector 6 at byte offset 144") {
		t.Fatalf("truncated fvecs: %v", err)
	}
	mixed := append(append([]byte(nil), buf.Bytes()[:24]...), 4, 0, 0, 0, 0, 0, 0, 0)
	os.WriteFile(fv, mixed, 0o644)
	if _, _, err := ReadVectorsFile(fv, 0); err == nil || !strings.Contains(err.Error(), "differs from the first") {
		t.Fatalf("mixed dims: %v", err)
	}

	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 5), }"
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var npy bytes.Buffer
	npy.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&npy, binary.LittleEndian, uint16(len(hdr)))
	npy.WriteString(hdr)
	binary.Write(&npy, binary.LittleEndian, x)
	np := filepath.Join(dir, "a.npy")
	os.WriteFile(np, npy.Bytes(), 0o644)
	got, d, err = ReadVectorsFile(np, 0)
	if err != nil || d != 5 || !slices.Equal(got, x) {
		t.Fatalf("npy: d=%d err=%v", d, err)
	}
	bad := bytes.Replace(npy.Bytes(), []byte("<f4"), []byte("<f8"), 1)
	os.WriteFile(np, bad, 0o644)
	if _, _, err := ReadVectorsFile(np, 0); err == nil || !strings.Contains(err.Error(), "<f8 is not supported") {
		t.Fatalf("float64 npy: %v", err)
	}
	if _, _, err := ReadVectorsFile(filepath.Join(dir, "a.csv"), 0); err == nil || !strings.Contains(err.Error(), "unknown vector file type") {
		t.Fatalf("csv: %v", err)
	}
}
