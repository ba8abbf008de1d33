package pq

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// faissPython finds a Python that can import faiss: $KNNBRIDGE_FAISS_PYTHON,
// then Debian's /usr/bin/python3 (python3-faiss, installed by
// .ci/setup.d/20-pq-faiss.sh, lives there; a pyenv or venv python3 earlier
// on PATH may not see it), then python3 on PATH.
func faissPython(t *testing.T) string {
	t.Helper()
	var cands []string
	if p := os.Getenv("KNNBRIDGE_FAISS_PYTHON"); p != "" {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/python3", "python3")
	var tried []string
	for _, c := range cands {
		out, err := exec.Command(c, "-c", "import faiss, numpy").CombinedOutput()
		if err == nil {
			return c
		}
		tried = append(tried, c+": "+strings.TrimSpace(lastLine(string(out)))+" "+err.Error())
	}
	msg := "python3 -c 'import faiss' fails (install Debian's python3-faiss; .ci/setup.d/20-pq-faiss.sh does): " + strings.Join(tried, "; ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func writeRaw(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := binary.Write(f, binary.LittleEndian, v); err != nil {
		t.Fatal(err)
	}
}

func readResults(t *testing.T, prefix string, nq, k int) *SearchResult {
	t.Helper()
	db, err := os.ReadFile(prefix + ".D.f32")
	if err != nil {
		t.Fatal(err)
	}
	ib, err := os.ReadFile(prefix + ".I.i64")
	if err != nil {
		t.Fatal(err)
	}
	if len(db) != 4*nq*k || len(ib) != 8*nq*k {
		t.Fatalf("%s: %d/%d result bytes for %d x %d", prefix, len(db), len(ib), nq, k)
	}
	r := &SearchResult{NQ: nq, K: k, Distances: make([]float32, nq*k), IDs: make([]int64, nq*k)}
	for i := range r.IDs {
		r.Distances[i] = math.Float32frombits(binary.LittleEndian.Uint32(db[4*i:]))
		r.IDs[i] = int64(binary.LittleEndian.Uint64(ib[8*i:]))
	}
	return r
}

// TestFaissInterop writes IVF-Flat, IVF-PQ (8 and 4 bits, L2 and inner
// product) and PQ indexes, has faiss (python) load them and search, and
// requires the same neighbours as our search (allowing ties); then has
// faiss train and write the same kinds, reads them back and requires our
// search on faiss's files to match faiss's own results.
func TestFaissInterop(t *testing.T) {
	py := faissPython(t)
	t0 := time.Now()
	const d, nlist, k, nq = 32, 32, 10, 60
	work := t.TempDir()
	train, _, _ := clustered(6000, d, 40, 3, 1, 31)
	base, _, _ := clustered(4000, d, 40, 3, 1, 32)
	queries := gaussian(nq, d, 33)
	for i := range queries {
		queries[i] *= 1.7
	}
	ids := make([]int64, 4000)
	for i := range ids {
		ids[i] = int64(i)*13 + 1<<33
	}
	writeRaw(t, filepath.Join(work, "queries.f32"), queries)
	writeRaw(t, filepath.Join(work, "train.f32"), train)
	writeRaw(t, filepath.Join(work, "base.f32"), base)
	writeRaw(t, filepath.Join(work, "base_ids.i64"), ids)

	type ourIndex struct {
		file   string
		ix     any
		nprobe int
	}
	var ours []ourIndex
	mk := func(file string, kind IVFKind, metric Metric, m, nbits int) {
		var ix *IVF
		var err error
		if kind == IVFFlat {
			ix, err = NewIVFFlat(d, nlist, metric)
		} else {
			ix, err = NewIVFPQ(d, nlist, m, nbits, metric)
		}
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultIVFTrainConfig()
		cfg.PQIter = 8
		if _, err := ix.Train(context.Background(), train, cfg); err != nil {
			t.Fatal(err)
		}
		if err := ix.Add(base, ids, 2); err != nil {
			t.Fatal(err)
		}
		ix.Nprobe = 4
		ours = append(ours, ourIndex{file, ix, 4})
	}
	mk("ivfflat_l2.faiss", IVFFlat, MetricL2, 0, 0)
	mk("ivfflat_ip.faiss", IVFFlat, MetricInnerProduct, 0, 0)
	mk("ivfpq_l2_8.faiss", IVFPQ, MetricL2, 8, 8)
	mk("ivfpq_l2_4.faiss", IVFPQ, MetricL2, 16, 4)
	mk("ivfpq_ip_8.faiss", IVFPQ, MetricInnerProduct, 8, 8)
	pqix, _ := NewIndexPQ(d, 8, 6, MetricL2)
	pc := DefaultPQTrainConfig()
	pc.NIter = 8
	if _, err := pqix.Train(context.Background(), train, pc); err != nil {
		t.Fatal(err)
	}
	if err := pqix.Add(base, 2); err != nil {
		t.Fatal(err)
	}
	ours = append(ours, ourIndex{"pq_6.faiss", pqix, 0})
	// the trained, empty "codebook" `knnbridge train` writes, and a nearly
	// empty index (both use the sparse list-size encoding)
	empty := ours[2].ix.(*IVF).WithoutVectors()
	ours = append(ours, ourIndex{"ivfpq_empty.faiss", empty, 4})
	few := ours[3].ix.(*IVF).WithoutVectors()
	if err := few.Add(base[:3*d], ids[:3], 1); err != nil {
		t.Fatal(err)
	}
	ours = append(ours, ourIndex{"ivfpq_few.faiss", few, 32})
	manifest := map[string]any{"d": d, "k": k}
	var om []map[string]any
	for _, o := range ours {
		if err := WriteIndexFile(filepath.Join(work, o.file), o.ix); err != nil {
			t.Fatal(err)
		}
		e := map[string]any{"file": o.file}
		if o.nprobe > 0 {
			e["nprobe"] = o.nprobe
		}
		om = append(om, e)
	}
	manifest["ours"] = om
	// "np": no polysemous re-ordering of the codebook (faiss's factory
	// default for PQ), slow and beside the point here.
	theirs := []map[string]any{
		{"factory": "IVF32,Flat", "metric": "l2", "file": "f_ivfflat.faiss", "nprobe": 4, "ids": true},
		{"factory": "IVF32,PQ8np", "metric": "l2", "file": "f_ivfpq8.faiss", "nprobe": 4, "ids": true},
		{"factory": "IVF32,PQ16x4np", "metric": "l2", "file": "f_ivfpq4.faiss", "nprobe": 4, "ids": true},
		{"factory": "IVF32,PQ8np", "metric": "ip", "file": "f_ivfpq_ip.faiss", "nprobe": 4, "ids": true},
		{"factory": "PQ8x5np", "metric": "l2", "file": "f_pq5.faiss"},
		{"factory": "IVF32,PQ8np", "metric": "l2", "file": "f_idmap_ivfpq.faiss", "nprobe": 4, "idmap": true},
	}
	manifest["theirs"] = theirs
	mb, _ := json.Marshal(manifest)
	if err := os.WriteFile(filepath.Join(work, "manifest.json"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("go side trained and wrote %d indexes in %v", len(ours), time.Since(t0))
	script, _ := filepath.Abs(filepath.Join("testdata", "faiss_interop.py"))
	t1 := time.Now()
	cmd := exec.Command(py, script, work)
	// One OpenMP/BLAS thread, passive waits: faiss's spinning OpenMP
	// workers take minutes instead of seconds on a shared, loaded machine.
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "OMP_WAIT_POLICY=PASSIVE")
	out, err := cmd.CombinedOutput()
	t.Logf("faiss side took %v", time.Since(t1))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", py, script, err, out)
	}
	rb, _ := os.ReadFile(filepath.Join(work, "report.json"))
	var report struct {
		Version string `json:"faiss_version"`
		Ours    []struct {
			File, Type string
			NTotal     int64 `json:"ntotal"`
			D          int
			Metric     int
		}
	}
	if err := json.Unmarshal(rb, &report); err != nil {
		t.Fatal(err)
	}
	t.Logf("faiss %s via %s", report.Version, py)
	wantType := map[string]string{"ivfflat_l2.faiss": "IndexIVFFlat", "ivfflat_ip.faiss": "IndexIVFFlat",
		"ivfpq_l2_8.faiss": "IndexIVFPQ", "ivfpq_l2_4.faiss": "IndexIVFPQ", "ivfpq_ip_8.faiss": "IndexIVFPQ", "pq_6.faiss": "IndexPQ",
		"ivfpq_empty.faiss": "IndexIVFPQ", "ivfpq_few.faiss": "IndexIVFPQ"}
	wantN := map[string]int64{"ivfpq_empty.faiss": 0, "ivfpq_few.faiss": 3}
	if len(report.Ours) != len(ours) {
		t.Fatalf("faiss reported %d of our %d files", len(report.Ours), len(ours))
	}
	for _, r := range report.Ours {
		n, ok := wantN[r.File]
		if !ok {
			n = 4000
		}
		if r.Type != wantType[r.File] || r.NTotal != n || r.D != d {
			t.Errorf("faiss loaded %s as %s ntotal=%d d=%d", r.File, r.Type, r.NTotal, r.D)
		}
	}
	search := func(ix any, nprobe int) *SearchResult {
		var res *SearchResult
		var err error
		switch x := ix.(type) {
		case *IVF:
			res, err = x.Search(queries, k, nprobe, 2)
		case *IndexPQ:
			res, err = x.Search(queries, k, 2)
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, o := range ours {
		t.Run("faiss-reads-"+o.file, func(t *testing.T) {
			theirs := readResults(t, filepath.Join(work, o.file), nq, k)
			checkSameNeighbours(t, search(o.ix, o.nprobe), theirs, 2e-3)
		})
	}
	for _, e := range theirs {
		file := e["file"].(string)
		t.Run("we-read-"+file, func(t *testing.T) {
			ix, err := ReadIndexFile(filepath.Join(work, file))
			if err != nil {
				t.Fatal(err)
			}
			np := 0
			if v, ok := e["nprobe"]; ok {
				np = v.(int)
				if ix.(*IVF).Nprobe != np {
					t.Fatalf("nprobe read as %d, faiss wrote %d", ix.(*IVF).Nprobe, np)
				}
			}
			res := search(ix, np)
			theirs := readResults(t, filepath.Join(work, file), nq, k)
			checkSameNeighbours(t, res, theirs, 2e-3)
			if e["idmap"] == true {
				return // we write the ids into the lists, without the wrapper
			}
			// and what we write back is what faiss wrote, byte for byte
			orig, _ := os.ReadFile(filepath.Join(work, file))
			again := filepath.Join(work, "again-"+file)
			if err := WriteIndexFile(again, ix); err != nil {
				t.Fatal(err)
			}
			mine, _ := os.ReadFile(again)
			if string(orig) != string(mine) {
				t.Fatalf("re-written file differs from faiss's (%d vs %d bytes)", len(mine), len(orig))
			}
		})
	}
}
