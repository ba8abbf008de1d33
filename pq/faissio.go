package pq

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// faiss's binary index format, as written by faiss/impl/index_write.cpp and
// read by impl/index_read.cpp (layout summarised in
// shared/reference/faiss-format.md, checked against python3-faiss 1.7.3):
// little-endian scalars, "vectors" as a u64 count then the elements, a
// four-character code before every index.

// ErrFormat is wrapped by every error about a malformed, truncated or
// unsupported faiss file.
var ErrFormat = errors.New("faiss file format")

func fourcc(s string) uint32 { return binary.LittleEndian.Uint32([]byte(s)) }

func fourccString(h uint32) string {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, h)
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", h)
		}
	}
	return fmt.Sprintf("%q", string(b))
}

type fwriter struct {
	w   *bufio.Writer
	err error
}

func (w *fwriter) raw(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}
func (w *fwriter) u8(v uint8) { w.raw([]byte{v}) }
func (w *fwriter) u32(v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	w.raw(b[:])
}
func (w *fwriter) u64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	w.raw(b[:])
}
func (w *fwriter) i32(v int32) { w.u32(uint32(v)) }
func (w *fwriter) i64(v int64) { w.u64(uint64(v)) }
func (w *fwriter) f32s(v []float32) {
	buf := make([]byte, 4*min(len(v), 1<<16))
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v[i]))
		}
		w.raw(buf[:4*n])
		v = v[n:]
	}
}
func (w *fwriter) i64s(v []int64) {
	buf := make([]byte, 8*min(len(v), 1<<15))
	for len(v) > 0 {
		n := min(len(v), len(buf)/8)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(buf[8*i:], uint64(v[i]))
		}
		w.raw(buf[:8*n])
		v = v[n:]
	}
}

// header is write_index_header: d, ntotal, two legacy 1<<20 fields,
// is_trained, metric_type (metric_arg only for metrics > 1, unused here).
func (w *fwriter) header(d int, ntotal int64, trained bool, metric Metric) {
	w.i32(int32(d))
	w.i64(ntotal)
	w.i64(1 << 20)
	w.i64(1 << 20)
	if trained {
		w.u8(1)
	} else {
		w.u8(0)
	}
	w.i32(int32(metric))
}

func (w *fwriter) pq(p *ProductQuantizer) {
	w.u64(uint64(p.D))
	w.u64(uint64(p.M))
	w.u64(uint64(p.NBits))
	w.u64(uint64(len(p.Centroids)))
	w.f32s(p.Centroids)
}

// WriteIndex writes ix (*IVF or *IndexPQ) in faiss's format.
func WriteIndex(out io.Writer, ix any) error {
	w := &fwriter{w: bufio.NewWriterSize(out, 1<<20)}
	switch x := ix.(type) {
	case *IVF:
		if err := x.writeTo(w); err != nil {
			return err
		}
	case *IndexPQ:
		p := x.PQ
		w.u32(fourcc("IxPq"))
		w.header(p.D, x.NTotal, p.trained(), x.Metric)
		w.pq(p)
		w.u64(uint64(len(x.Codes)))
		w.raw(x.Codes)
		w.i32(0) // search_type ST_PQ
		w.u8(0)  // encode_signs
		w.i32(int32(p.M*p.NBits + 1))
	default:
		return fmt.Errorf("pq: cannot write %T in faiss format (want *pq.IVF or *pq.IndexPQ)", ix)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err != nil {
		return fmt.Errorf("pq: writing faiss index: %w", w.err)
	}
	return nil
}

func (ix *IVF) writeTo(w *fwriter) error {
	if ix.Kind == IVFPQ {
		w.u32(fourcc("IwPQ"))
	} else {
		w.u32(fourcc("IwFl"))
	}
	trained := ix.Trained()
	// ivf header: index header, nlist, nprobe, quantizer, direct map.
	w.header(ix.D, ix.NTotal, trained, ix.Metric)
	w.u64(uint64(ix.Nlist))
	w.u64(uint64(max(ix.Nprobe, 1)))
	if ix.Metric == MetricInnerProduct {
		w.u32(fourcc("IxFI"))
	} else {
		w.u32(fourcc("IxF2"))
	}
	nq := 0
	if len(ix.Centroids) == ix.Nlist*ix.D {
		nq = ix.Nlist
	}
	w.header(ix.D, int64(nq), true, ix.Metric)
	w.u64(uint64(nq * ix.D)) // WRITEXBVECTOR: byte count / 4
	w.f32s(ix.Centroids[:nq*ix.D])
	w.u8(0) // direct map: none
	w.u64(0)
	cs := ix.CodeSize()
	if ix.Kind == IVFPQ {
		if ix.ByResidual {
			w.u8(1)
		} else {
			w.u8(0)
		}
		w.u64(uint64(cs))
		w.pq(ix.PQ)
	}
	// write_InvertedLists, ArrayInvertedLists ("ilar").
	w.u32(fourcc("ilar"))
	w.u64(uint64(ix.Nlist))
	w.u64(uint64(cs))
	nonEmpty := 0
	for _, l := range ix.Lists {
		if len(l.IDs) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty > ix.Nlist/2 {
		w.u32(fourcc("full"))
		w.u64(uint64(ix.Nlist))
		for _, l := range ix.Lists {
			w.u64(uint64(len(l.IDs)))
		}
	} else {
		w.u32(fourcc("sprs"))
		w.u64(uint64(2 * nonEmpty))
		for i, l := range ix.Lists {
			if len(l.IDs) > 0 {
				w.u64(uint64(i))
				w.u64(uint64(len(l.IDs)))
			}
		}
	}
	for _, l := range ix.Lists {
		if len(l.IDs) == 0 {
			continue
		}
		if ix.Kind == IVFPQ {
			w.raw(l.Codes)
		} else {
			w.f32s(l.Vecs)
		}
		w.i64s(l.IDs)
	}
	return nil
}

// WriteIndexFile writes ix to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, so readers never see a
// half-written index and a failure leaves any previous file intact.
func WriteIndexFile(path string, ix any) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = WriteIndex(tmp, ix); err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pq: writing %s: %w", path, err)
	}
	return nil
}

// freader parses a whole faiss file held in memory and reports every
// problem with the byte offset where it was found.
type freader struct {
	b   []byte
	off int
}

func (r *freader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte offset %d: %s", ErrFormat, r.off, fmt.Sprintf(format, args...))
}

func (r *freader) need(n uint64, what string) error {
	if n > uint64(len(r.b)-r.off) {
		return r.fail("truncated: %s needs %d bytes, only %d left in the file", what, n, len(r.b)-r.off)
	}
	return nil
}

func (r *freader) u8(what string) (uint8, error) {
	if err := r.need(1, what); err != nil {
		return 0, err
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}
func (r *freader) u32(what string) (uint32, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}
func (r *freader) u64(what string) (uint64, error) {
	if err := r.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

// count reads a vector's u64 element count and checks that count·elem
// bytes are present (faiss itself caps vectors at 2^40 elements).
func (r *freader) count(elem uint64, what string) (int, error) {
	start := r.off
	n, err := r.u64(what + " length")
	if err != nil {
		return 0, err
	}
	if n >= 1<<40 || n*elem > uint64(len(r.b)-r.off) {
		r.off = start
		return 0, r.fail("truncated or corrupt: %s declares %d elements of %d bytes, only %d bytes left", what, n, elem, len(r.b)-r.off-8)
	}
	return int(n), nil
}

func (r *freader) f32s(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.off+4*i:]))
	}
	r.off += 4 * n
	return out
}

func (r *freader) i64s(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(r.b[r.off+8*i:]))
	}
	r.off += 8 * n
	return out
}

type fheader struct {
	d       int
	ntotal  int64
	trained bool
	metric  Metric
}

func (r *freader) header() (fheader, error) {
	var h fheader
	d, err := r.u32("index header: d")
	if err != nil {
		return h, err
	}
	if int32(d) <= 0 || d > 1<<20 {
		return h, r.fail("index header: implausible dimension %d", int32(d))
	}
	h.d = int(d)
	nt, err := r.u64("index header: ntotal")
	if err != nil {
		return h, err
	}
	if int64(nt) < 0 {
		return h, r.fail("index header: negative ntotal %d", int64(nt))
	}
	h.ntotal = int64(nt)
	for i := 0; i < 2; i++ {
		if _, err := r.u64("index header: legacy field"); err != nil {
			return h, err
		}
	}
	t, err := r.u8("index header: is_trained")
	if err != nil {
		return h, err
	}
	h.trained = t != 0
	m, err := r.u32("index header: metric_type")
	if err != nil {
		return h, err
	}
	switch Metric(m) {
	case MetricL2, MetricInnerProduct:
		h.metric = Metric(m)
	default:
		r.off -= 4
		return h, r.fail("index header: metric_type %d is not supported (only 0 = inner product and 1 = L2)", int32(m))
	}
	return h, nil
}

// ReadIndex parses a faiss index of type IndexIVFFlat ("IwFl"), IndexIVFPQ
// ("IwPQ") or IndexPQ ("IxPq") and returns *IVF or *IndexPQ.
func ReadIndex(in io.Reader) (any, error) {
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("pq: reading faiss index: %w", err)
	}
	r := &freader{b: b}
	ix, err := r.index(true)
	if err != nil {
		return nil, fmt.Errorf("pq: reading faiss index: %w", err)
	}
	if r.off != len(b) {
		return nil, fmt.Errorf("pq: reading faiss index: %w", r.fail("%d unexpected trailing bytes after the index", len(b)-r.off))
	}
	return ix, nil
}

// ReadIndexFile reads a faiss index file; errors name the file.
func ReadIndexFile(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pq: %w", err)
	}
	defer f.Close()
	ix, err := ReadIndex(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ix, nil
}

type flatQuantizer struct {
	h         fheader
	centroids []float32
}

func (r *freader) index(top bool) (any, error) {
	start := r.off
	h, err := r.u32("index fourcc")
	if err != nil {
		return nil, err
	}
	switch h {
	case fourcc("IxF2"), fourcc("IxFI"), fourcc("IxFl"):
		hd, err := r.header()
		if err != nil {
			return nil, err
		}
		n, err := r.count(4, "flat index vectors")
		if err != nil {
			return nil, err
		}
		if int64(n) != hd.ntotal*int64(hd.d) {
			return nil, r.fail("flat index holds %d floats, header says %d vectors of d=%d", n, hd.ntotal, hd.d)
		}
		return &flatQuantizer{h: hd, centroids: r.f32s(n)}, nil
	case fourcc("IwFl"), fourcc("IwPQ"):
		return r.ivf(h == fourcc("IwPQ"))
	case fourcc("IxPq"):
		return r.indexPQ()
	case fourcc("IxMp"), fourcc("IxM2"):
		return r.idMap()
	}
	r.off = start
	hint := ""
	if start == 0 && top && len(r.b) >= 4 && !looksLikeFourcc(r.b[:4]) {
		hint = " (this does not look like a faiss index file)"
	}
	return nil, r.fail("index type %s is not supported (supported: IndexIVFFlat \"IwFl\", IndexIVFPQ \"IwPQ\", IndexPQ \"IxPq\", IndexIDMap \"IxMp\" around an IVF, flat quantizers)%s", fourccString(h), hint)
}

func looksLikeFourcc(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func (r *freader) pq() (*ProductQuantizer, error) {
	start := r.off
	d, err := r.u64("PQ d")
	if err != nil {
		return nil, err
	}
	m, err := r.u64("PQ M")
	if err != nil {
		return nil, err
	}
	nbits, err := r.u64("PQ nbits")
	if err != nil {
		return nil, err
	}
	if d == 0 || d > 1<<20 || m == 0 || m > d || nbits > 16 {
		r.off = start
		return nil, r.fail("implausible product quantizer d=%d M=%d nbits=%d", d, m, nbits)
	}
	p, err := NewProductQuantizer(int(d), int(m), int(nbits))
	if err != nil {
		r.off = start
		return nil, r.fail("product quantizer: %v", err)
	}
	n, err := r.count(4, "PQ centroids")
	if err != nil {
		return nil, err
	}
	if n != 0 && n != p.M*p.Ksub*p.Dsub {
		return nil, r.fail("PQ centroids: %d floats, want M·ksub·dsub = %d", n, p.M*p.Ksub*p.Dsub)
	}
	if n > 0 {
		p.Centroids = r.f32s(n)
	}
	return p, nil
}

func (r *freader) ivf(isPQ bool) (*IVF, error) {
	hd, err := r.header()
	if err != nil {
		return nil, err
	}
	nlist, err := r.u64("IVF nlist")
	if err != nil {
		return nil, err
	}
	if nlist == 0 || nlist > 1<<31 {
		r.off -= 8
		return nil, r.fail("implausible IVF nlist %d", nlist)
	}
	nprobe, err := r.u64("IVF nprobe")
	if err != nil {
		return nil, err
	}
	qoff := r.off
	q, err := r.index(false)
	if err != nil {
		return nil, err
	}
	fq, ok := q.(*flatQuantizer)
	if !ok {
		r.off = qoff
		return nil, r.fail("IVF coarse quantizer must be a flat index, got %T", q)
	}
	if fq.h.d != hd.d {
		r.off = qoff
		return nil, r.fail("coarse quantizer has d=%d, IVF has d=%d", fq.h.d, hd.d)
	}
	if fq.h.ntotal != 0 && fq.h.ntotal != int64(nlist) {
		r.off = qoff
		return nil, r.fail("coarse quantizer holds %d centroids, IVF nlist is %d", fq.h.ntotal, nlist)
	}
	dm, err := r.u8("direct map type")
	if err != nil {
		return nil, err
	}
	if dm > 2 {
		r.off--
		return nil, r.fail("unknown direct map type %d", dm)
	}
	n, err := r.count(8, "direct map array")
	if err != nil {
		return nil, err
	}
	r.off += 8 * n // the id -> list map is rebuilt on demand; not needed
	if dm == 2 {
		n, err := r.count(16, "direct map hashtable")
		if err != nil {
			return nil, err
		}
		r.off += 16 * n
	}
	ix := &IVF{D: hd.d, Nlist: int(nlist), Metric: hd.metric, Nprobe: int(nprobe), Centroids: fq.centroids,
		Lists: make([]InvList, nlist), NTotal: hd.ntotal}
	if isPQ {
		ix.Kind = IVFPQ
		br, err := r.u8("IVFPQ by_residual")
		if err != nil {
			return nil, err
		}
		ix.ByResidual = br != 0
		cs, err := r.u64("IVFPQ code_size")
		if err != nil {
			return nil, err
		}
		ix.PQ, err = r.pq()
		if err != nil {
			return nil, err
		}
		if ix.PQ.D != hd.d {
			return nil, r.fail("PQ has d=%d, IVF has d=%d", ix.PQ.D, hd.d)
		}
		if int(cs) != ix.PQ.CodeSize() {
			return nil, r.fail("IVFPQ code_size %d does not match PQ M=%d nbits=%d (%d bytes)", cs, ix.PQ.M, ix.PQ.NBits, ix.PQ.CodeSize())
		}
	}
	if err := r.invlists(ix); err != nil {
		return nil, err
	}
	if ix.Trained() {
		ix.cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
		ix.precompute()
	}
	return ix, nil
}

func (r *freader) invlists(ix *IVF) error {
	h, err := r.u32("inverted lists fourcc")
	if err != nil {
		return err
	}
	if h == fourcc("il00") {
		if ix.NTotal != 0 {
			return r.fail("index has ntotal=%d but no inverted lists", ix.NTotal)
		}
		return nil
	}
	if h != fourcc("ilar") {
		r.off -= 4
		return r.fail("inverted lists type %s is not supported (only in-memory array lists \"ilar\")", fourccString(h))
	}
	nlist, err := r.u64("inverted lists nlist")
	if err != nil {
		return err
	}
	if nlist != uint64(ix.Nlist) {
		r.off -= 8
		return r.fail("inverted lists have nlist=%d, index has %d", nlist, ix.Nlist)
	}
	cs, err := r.u64("inverted lists code_size")
	if err != nil {
		return err
	}
	if cs != uint64(ix.CodeSize()) {
		r.off -= 8
		return r.fail("inverted lists code_size %d, index expects %d", cs, ix.CodeSize())
	}
	lt, err := r.u32("inverted lists list type")
	if err != nil {
		return err
	}
	sizes := make([]uint64, nlist)
	switch lt {
	case fourcc("full"):
		n, err := r.count(8, "list sizes")
		if err != nil {
			return err
		}
		if n != int(nlist) {
			return r.fail("%d list sizes for nlist=%d", n, nlist)
		}
		for i := range sizes {
			sizes[i], _ = r.u64("list size")
		}
	case fourcc("sprs"):
		n, err := r.count(8, "sparse list sizes")
		if err != nil {
			return err
		}
		if n%2 != 0 {
			return r.fail("sparse list sizes has odd length %d", n)
		}
		for j := 0; j < n; j += 2 {
			l, _ := r.u64("list number")
			s, _ := r.u64("list size")
			if l >= nlist {
				return r.fail("sparse list number %d >= nlist %d", l, nlist)
			}
			sizes[l] = s
		}
	default:
		r.off -= 4
		return r.fail("unknown inverted list size encoding %s (want \"full\" or \"sprs\")", fourccString(lt))
	}
	var total uint64
	for l, s := range sizes {
		if s == 0 {
			continue
		}
		if err := r.need(s*(cs+8), fmt.Sprintf("inverted list %d (%d entries)", l, s)); err != nil {
			return err
		}
		n := int(s)
		L := &ix.Lists[l]
		if ix.Kind == IVFPQ {
			L.Codes = append([]byte(nil), r.b[r.off:r.off+n*int(cs)]...)
			r.off += n * int(cs)
		} else {
			L.Vecs = r.f32s(n * ix.D)
		}
		L.IDs = r.i64s(n)
		total += s
	}
	if int64(total) != ix.NTotal {
		return r.fail("inverted lists hold %d vectors, header ntotal is %d", total, ix.NTotal)
	}
	return nil
}

func (r *freader) indexPQ() (*IndexPQ, error) {
	hd, err := r.header()
	if err != nil {
		return nil, err
	}
	p, err := r.pq()
	if err != nil {
		return nil, err
	}
	if p.D != hd.d {
		return nil, r.fail("PQ has d=%d, index has d=%d", p.D, hd.d)
	}
	n, err := r.count(1, "IndexPQ codes")
	if err != nil {
		return nil, err
	}
	if int64(n) != hd.ntotal*int64(p.CodeSize()) {
		return nil, r.fail("IndexPQ holds %d code bytes, want ntotal %d x code size %d", n, hd.ntotal, p.CodeSize())
	}
	codes := append([]byte(nil), r.b[r.off:r.off+n]...)
	r.off += n
	// search_type, encode_signs, polysemous_ht: search-time options.
	if _, err := r.u32("IndexPQ search_type"); err != nil {
		return nil, err
	}
	if _, err := r.u8("IndexPQ encode_signs"); err != nil {
		return nil, err
	}
	if _, err := r.u32("IndexPQ polysemous_ht"); err != nil {
		return nil, err
	}
	return &IndexPQ{PQ: p, Metric: hd.metric, Codes: codes, NTotal: hd.ntotal}, nil
}

// idMap reads faiss's IndexIDMap / IndexIDMap2 (index header, the wrapped
// index, vector<int64> id_map), the wrapper the k-NN plugin's faiss engine
// puts around its per-segment indexes. Only an IVF inside is supported: its
// list ids (positions 0..n-1) are replaced by the user ids they map to, so
// the result is an ordinary *IVF (written back without the wrapper).
func (r *freader) idMap() (*IVF, error) {
	hd, err := r.header()
	if err != nil {
		return nil, err
	}
	sub := r.off
	inner, err := r.index(false)
	if err != nil {
		return nil, err
	}
	ix, ok := inner.(*IVF)
	if !ok {
		r.off = sub
		return nil, r.fail("IndexIDMap around %T is not supported (only IVF indexes)", inner)
	}
	n, err := r.count(8, "IndexIDMap id_map")
	if err != nil {
		return nil, err
	}
	if int64(n) != hd.ntotal || ix.NTotal != hd.ntotal {
		return nil, r.fail("IndexIDMap maps %d ids, header ntotal %d, wrapped index holds %d", n, hd.ntotal, ix.NTotal)
	}
	ids := r.i64s(n)
	for l := range ix.Lists {
		for i, pos := range ix.Lists[l].IDs {
			if pos < 0 || pos >= int64(n) {
				return nil, r.fail("list %d entry %d has position %d outside the id map (%d ids)", l, i, pos, n)
			}
			ix.Lists[l].IDs[i] = ids[pos]
		}
	}
	return ix, nil
}
