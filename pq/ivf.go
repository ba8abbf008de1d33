package pq

import (
	"context"
	"fmt"

	"github.com/knnbridge/knnbridge/native"
)

// IVFKind says what an IVF index stores in its inverted lists.
type IVFKind int

const (
	// IVFFlat stores the raw vectors (faiss IndexIVFFlat).
	IVFFlat IVFKind = iota
	// IVFPQ stores PQ codes, of residuals when ByResidual (faiss IndexIVFPQ).
	IVFPQ
)

func (k IVFKind) String() string {
	if k == IVFPQ {
		return "IVFPQ"
	}
	return "IVFFlat"
}

// DefaultCoarseNIter is faiss's k-means iteration count for the IVF coarse
// quantizer (Level1Quantizer sets cp.niter = 10).
const DefaultCoarseNIter = 10

// InvList is one inverted list: ids and, in the same order, either the raw
// vectors (IVFFlat) or packed PQ codes (IVFPQ).
type InvList struct {
	IDs   []int64
	Codes []byte    // IVFPQ: len(IDs) × code size
	Vecs  []float32 // IVFFlat: len(IDs) × D
}

// IVF is an inverted-file index with a flat coarse quantizer (faiss
// IndexIVFFlat / IndexIVFPQ). Vectors are assigned to their nearest of Nlist
// centroids; a search scans the Nprobe lists nearest to the query.
type IVF struct {
	Kind       IVFKind
	D, Nlist   int
	Metric     Metric
	Nprobe     int
	ByResidual bool              // IVFPQ: code x − centroid (faiss's default)
	Centroids  []float32         // Nlist × D; empty until trained
	PQ         *ProductQuantizer // IVFPQ only
	Lists      []InvList
	NTotal     int64

	// precomputed holds, for L2 with residuals, faiss's "term 2" tables
	// ‖y_R‖² + 2⟨y_C, y_R⟩ for every list (nlist × M × Ksub), so a probe
	// costs M·Ksub additions instead of a fresh table (IndexIVFPQ.cpp,
	// use_precomputed_table = 1).
	precomputed    []float32
	precomputedOff bool // tests: force per-list residual tables
	// term2 caches, per list and stored code, that code's whole term 2:
	// Σ_m precomputed[l][m][code_m] = ‖y_R‖² + 2⟨y_C, y_R⟩, one float per
	// vector (4 bytes beside a 16-byte code at M=16). A search then needs
	// only the query's term-3 table: no per-list table sum (faiss's
	// fvec_madd over M·Ksub floats, which streams the list's 16 KiB slice of
	// the precomputed table from L3 for every probe) and one lookup per
	// sub-quantizer. The sum is the one the two-table scan computed, so the
	// distances are unchanged. Kept in step by Add, ReadIndex and Train; a
	// list whose length no longer matches (edited by hand) is summed on the
	// fly.
	term2 [][]float32
	// cbT holds each sub-quantizer's codebook transposed (M × Dsub × Ksub),
	// so queryTables multiplies by a k×n matrix whose packing is a copy.
	cbT    []float32
	cnorms []float32
}

// maxPrecomputedBytes is faiss's precomputed_table_max_bytes (2 GiB).
const maxPrecomputedBytes = 1 << 31

// NewIVFFlat makes an untrained IVF-Flat index.
func NewIVFFlat(d, nlist int, metric Metric) (*IVF, error) {
	if err := checkIVFShape(d, nlist, metric); err != nil {
		return nil, err
	}
	return &IVF{Kind: IVFFlat, D: d, Nlist: nlist, Metric: metric, Nprobe: 1, Lists: make([]InvList, nlist)}, nil
}

// NewIVFPQ makes an untrained IVF-PQ index with residual encoding on.
func NewIVFPQ(d, nlist, m, nbits int, metric Metric) (*IVF, error) {
	if err := checkIVFShape(d, nlist, metric); err != nil {
		return nil, err
	}
	p, err := NewProductQuantizer(d, m, nbits)
	if err != nil {
		return nil, err
	}
	return &IVF{Kind: IVFPQ, D: d, Nlist: nlist, Metric: metric, Nprobe: 1, ByResidual: true, PQ: p, Lists: make([]InvList, nlist)}, nil
}

func checkIVFShape(d, nlist int, metric Metric) error {
	if d <= 0 {
		return fmt.Errorf("pq: dimension must be positive, got %d", d)
	}
	if nlist <= 0 {
		return fmt.Errorf("pq: nlist must be positive, got %d", nlist)
	}
	if metric != MetricL2 && metric != MetricInnerProduct {
		return fmt.Errorf("pq: unsupported metric %v", metric)
	}
	return nil
}

// CodeSize is the bytes stored per vector in the lists (ids not included).
func (ix *IVF) CodeSize() int {
	if ix.Kind == IVFPQ {
		return ix.PQ.CodeSize()
	}
	return 4 * ix.D
}

// Trained reports whether the coarse quantizer (and PQ) are trained.
func (ix *IVF) Trained() bool {
	if len(ix.Centroids) != ix.Nlist*ix.D {
		return false
	}
	return ix.Kind != IVFPQ || ix.PQ.trained()
}

// IVFTrainConfig configures IVF.Train. Zero values are faiss's defaults
// (10 coarse iterations, 25 PQ iterations) except Seed.
type IVFTrainConfig struct {
	Seed       int64
	Init       Init
	CoarseIter int
	PQIter     int
	Threads    int
	// Progress receives coarse k-means iterations (stage "coarse") and PQ
	// sub-quantizers done (stage "pq", Iter = done, NIter = M).
	Progress func(stage string, p KMeansProgress)
	Warn     func(string)
}

// DefaultIVFTrainConfig returns faiss's defaults.
func DefaultIVFTrainConfig() IVFTrainConfig {
	return IVFTrainConfig{Seed: DefaultSeed, CoarseIter: DefaultCoarseNIter, PQIter: DefaultNIter}
}

// Train learns the coarse centroids and, for IVFPQ, the product quantizer,
// as faiss's IndexIVF::train: k-means on all points (sub-sampled to 256 per
// centroid; spherical for inner product, as faiss's IndexIVF constructor
// sets), then the PQ on at most 256·Ksub points, residuals when ByResidual.
func (ix *IVF) Train(ctx context.Context, x []float32, cfg IVFTrainConfig) ([]string, error) {
	n, err := checkVectors("IVF training set", x, ix.D)
	if err != nil {
		return nil, err
	}
	if cfg.CoarseIter <= 0 {
		cfg.CoarseIter = DefaultCoarseNIter
	}
	var warnings []string
	if len(ix.Centroids) == ix.Nlist*ix.D {
		// As faiss's train_q1: a coarse quantizer that is already trained
		// (for example shared between several PQ settings) is kept.
		ix.cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
		if ix.Kind != IVFPQ {
			return nil, nil
		}
		return ix.trainPQ(ctx, x, n, cfg)
	}
	kc := KMeansConfig{K: ix.Nlist, NIter: cfg.CoarseIter, NRedo: 1, Seed: cfg.Seed, Init: cfg.Init, Metric: ix.Metric,
		Spherical: ix.Metric == MetricInnerProduct, Threads: cfg.Threads, Warn: cfg.Warn}
	if cfg.Progress != nil {
		kc.Progress = func(p KMeansProgress) { cfg.Progress("coarse", p) }
	}
	res, err := KMeans(ctx, x, ix.D, kc)
	if err != nil {
		return nil, fmt.Errorf("pq: training the coarse quantizer (nlist=%d): %w", ix.Nlist, err)
	}
	warnings = append(warnings, res.Warnings...)
	ix.Centroids = res.Centroids
	ix.cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
	if ix.Kind != IVFPQ {
		return warnings, nil
	}
	w, err := ix.trainPQ(ctx, x, n, cfg)
	return append(warnings, w...), err
}

func (ix *IVF) trainPQ(ctx context.Context, x []float32, n int, cfg IVFTrainConfig) ([]string, error) {
	// faiss: fvecs_maybe_subsample(max_points_per_centroid·ksub, pq.cp.seed).
	nmax := DefaultMaxPointsPerCentroid * ix.PQ.Ksub
	tx := x
	if n > nmax {
		perm := randPerm(n, cfg.Seed)
		tx = make([]float32, nmax*ix.D)
		for i := 0; i < nmax; i++ {
			copy(tx[i*ix.D:(i+1)*ix.D], x[perm[i]*ix.D:(perm[i]+1)*ix.D])
		}
		n = nmax
	}
	if ix.ByResidual {
		_, assign := flatSearch(tx, n, ix.Centroids, ix.Nlist, ix.D, 1, ix.Metric, ix.cnorms, cfg.Threads)
		tx = ix.residuals(tx, n, assign)
	}
	pc := PQTrainConfig{NIter: cfg.PQIter, Seed: cfg.Seed, Init: cfg.Init, Threads: cfg.Threads, Warn: cfg.Warn}
	if cfg.Progress != nil {
		pc.Progress = func(done, total int) { cfg.Progress("pq", KMeansProgress{Iter: done, NIter: total}) }
	}
	w, err := ix.PQ.Train(ctx, tx, pc)
	if err != nil {
		return nil, err
	}
	ix.precompute()
	return w, nil
}

func (ix *IVF) residuals(x []float32, n int, assign []int64) []float32 {
	r := make([]float32, n*ix.D)
	for i := 0; i < n; i++ {
		c := ix.Centroids[int(assign[i])*ix.D : (int(assign[i])+1)*ix.D]
		for j, v := range x[i*ix.D : (i+1)*ix.D] {
			r[i*ix.D+j] = v - c[j]
		}
	}
	return r
}

// precompute builds the term-2 tables when faiss would (L2, residuals, and
// at most 2 GiB); otherwise searches compute a residual table per probe.
func (ix *IVF) precompute() {
	ix.precomputed = nil
	if ix.Kind != IVFPQ || !ix.ByResidual || ix.Metric != MetricL2 || !ix.Trained() || ix.precomputedOff {
		return
	}
	p := ix.PQ
	if int64(ix.Nlist)*int64(p.M*p.Ksub)*4 > maxPrecomputedBytes {
		return
	}
	rnorms := rowNorms(p.Centroids, p.M*p.Ksub, p.Dsub, 1)
	t := make([]float32, ix.Nlist*p.M*p.Ksub)
	parallelChunks(ix.Nlist, 0, func(_, lo, hi int) {
		for l := lo; l < hi; l++ {
			c := ix.Centroids[l*ix.D : (l+1)*ix.D]
			tab := t[l*p.M*p.Ksub : (l+1)*p.M*p.Ksub]
			for m := 0; m < p.M; m++ {
				native.DotBatch(c[m*p.Dsub:(m+1)*p.Dsub], p.sub(m), tab[m*p.Ksub:(m+1)*p.Ksub])
			}
			for i := range tab {
				tab[i] = 2*tab[i] + rnorms[i]
			}
		}
	})
	ix.precomputed = t
	ix.cbT = make([]float32, p.M*p.Dsub*p.Ksub)
	for m := 0; m < p.M; m++ {
		sub, dst := p.sub(m), ix.cbT[m*p.Dsub*p.Ksub:(m+1)*p.Dsub*p.Ksub]
		for j := 0; j < p.Ksub; j++ {
			for t := 0; t < p.Dsub; t++ {
				dst[t*p.Ksub+j] = sub[j*p.Dsub+t]
			}
		}
	}
	ix.term2 = make([][]float32, ix.Nlist)
	ix.updateTerm2()
}

// updateTerm2 extends every list's cached term 2 to its current length.
func (ix *IVF) updateTerm2() {
	if ix.precomputed == nil || len(ix.term2) != ix.Nlist {
		return
	}
	p := ix.PQ
	cs := p.CodeSize()
	mk := p.M * p.Ksub
	parallelChunks(ix.Nlist, 0, func(_, lo, hi int) {
		var ubuf []byte
		for l := lo; l < hi; l++ {
			L := &ix.Lists[l]
			have := len(ix.term2[l])
			if have > len(L.IDs) { // list replaced: start over in fresh memory
				have = 0
				ix.term2[l] = nil
			}
			if have == len(L.IDs) {
				continue
			}
			n := len(L.IDs) - have
			if len(ubuf) < n*p.M {
				ubuf = make([]byte, n*p.M)
			}
			t := make([]float32, n)
			p.lookup(ix.precomputed[l*mk:(l+1)*mk], L.Codes[have*cs:len(L.IDs)*cs], ubuf, t)
			ix.term2[l] = append(ix.term2[l], t...)
		}
	})
}

// Add assigns and stores vectors. ids may be nil (sequential from NTotal,
// as faiss's add) or give one int64 id per vector (faiss's add_with_ids).
func (ix *IVF) Add(x []float32, ids []int64, threads int) error {
	n, err := checkVectors("vectors to add", x, ix.D)
	if err != nil {
		return err
	}
	if !ix.Trained() {
		return fmt.Errorf("pq: IVF.Add: index is not trained")
	}
	if ids != nil && len(ids) != n {
		return fmt.Errorf("pq: IVF.Add: %d ids for %d vectors", len(ids), n)
	}
	if ix.cnorms == nil {
		ix.cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
	}
	_, assign := flatSearch(x, n, ix.Centroids, ix.Nlist, ix.D, 1, ix.Metric, ix.cnorms, threads)
	var codes []byte
	cs := ix.CodeSize()
	if ix.Kind == IVFPQ {
		codes = make([]byte, n*cs)
		enc := x
		if ix.ByResidual {
			enc = ix.residuals(x, n, assign)
		}
		ix.PQ.encodeTrusted(enc, n, codes, threads)
	}
	defer ix.updateTerm2()
	for i := 0; i < n; i++ {
		l := &ix.Lists[assign[i]]
		id := ix.NTotal + int64(i)
		if ids != nil {
			id = ids[i]
		}
		l.IDs = append(l.IDs, id)
		if ix.Kind == IVFPQ {
			l.Codes = append(l.Codes, codes[i*cs:(i+1)*cs]...)
		} else {
			l.Vecs = append(l.Vecs, x[i*ix.D:(i+1)*ix.D]...)
		}
	}
	ix.NTotal += int64(n)
	return nil
}

// Search returns the k nearest stored vectors of each query, scanning the
// nprobe nearest lists (nprobe <= 0: ix.Nprobe; capped at Nlist).
func (ix *IVF) Search(queries []float32, k, nprobe, threads int) (*SearchResult, error) {
	nq, err := checkVectors("queries", queries, ix.D)
	if err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, fmt.Errorf("pq: k must be positive, got %d", k)
	}
	if !ix.Trained() {
		return nil, fmt.Errorf("pq: IVF.Search: index is not trained")
	}
	if nprobe <= 0 {
		nprobe = max(ix.Nprobe, 1)
	}
	nprobe = min(nprobe, ix.Nlist)
	// Search only reads the index once Train, ReadIndex or Add has cached
	// the norms and tables, so concurrent searches are safe; an index put
	// together by hand gets them computed here for this call only.
	cnorms := ix.cnorms
	if cnorms == nil {
		cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
	}
	cdis, clist := flatSearch(queries, nq, ix.Centroids, ix.Nlist, ix.D, nprobe, ix.Metric, cnorms, threads)
	res := &SearchResult{NQ: nq, K: k, Distances: make([]float32, nq*k), IDs: make([]int64, nq*k)}
	threads = threadsOrDefault(threads)
	scratch := make([]*ivfScratch, threads) // one per worker, reused across chunks
	parallelDynamic(nq, 16, threads, func(w, lo, hi int) {
		s := scratch[w]
		if s == nil {
			s = newIVFScratch(ix, k)
			scratch[w] = s
		}
		var qtabs []float32
		if ix.l2Precomputed() {
			qtabs = ix.queryTables(queries[lo*ix.D:hi*ix.D], hi-lo, s)
		}
		for qi := lo; qi < hi; qi++ {
			var qt []float32
			if qtabs != nil {
				mk := ix.PQ.M * ix.PQ.Ksub
				qt = qtabs[(qi-lo)*mk : (qi-lo+1)*mk]
			}
			ix.searchOne(queries[qi*ix.D:(qi+1)*ix.D], cdis[qi*nprobe:(qi+1)*nprobe], clist[qi*nprobe:(qi+1)*nprobe], s, qt)
			s.h.drain(res.Distances[qi*k:(qi+1)*k], res.IDs[qi*k:(qi+1)*k])
			externalScores(res.Distances[qi*k:(qi+1)*k], res.IDs[qi*k:(qi+1)*k], ix.Metric)
		}
	})
	return res, nil
}

type ivfScratch struct {
	h           *topK
	tab, tab2   []float32
	out, out2   []float32
	ubuf        []byte
	resid       []float32
	qtabs, qsub []float32 // queryTables: the chunk's tables, one sub-space of its queries
	ctmp        []float32
	tab2own     []float32 // tab2's own buffer (tab2 may point into qtabs)
}

// l2Precomputed: L2 with residuals and faiss's precomputed term 2, where a
// query needs only its term-3 table −2⟨x_m, c_mj⟩.
func (ix *IVF) l2Precomputed() bool {
	return ix.Kind == IVFPQ && ix.ByResidual && ix.Metric == MetricL2 && ix.precomputed != nil
}

// queryTables computes the term-3 tables of nb queries at once, one matrix
// product per sub-quantizer (nb × dsub times the transposed dsub × Ksub
// codebook, alpha −2; packing the codebook of A·Bᵀ form for every chunk was
// itself 19% of a search): a one-vs-many dot per sub-quantizer and query spent most of its time
// in horizontal sums over dsub = 8..24 floats (18% of a search at d = 384).
func (ix *IVF) queryTables(q []float32, nb int, s *ivfScratch) []float32 {
	p := ix.PQ
	mk := p.M * p.Ksub
	if cap(s.qtabs) < nb*mk {
		s.qtabs = make([]float32, nb*mk)
		s.qsub = make([]float32, nb*p.Dsub)
		s.ctmp = make([]float32, nb*p.Ksub)
	}
	qt, qs, ct := s.qtabs[:nb*mk], s.qsub[:nb*p.Dsub], s.ctmp[:nb*p.Ksub]
	for m := 0; m < p.M; m++ {
		for i := 0; i < nb; i++ {
			copy(qs[i*p.Dsub:(i+1)*p.Dsub], q[i*ix.D+m*p.Dsub:i*ix.D+(m+1)*p.Dsub])
		}
		native.MatMul(ct, qs, ix.cbT[m*p.Dsub*p.Ksub:(m+1)*p.Dsub*p.Ksub], nb, p.Ksub, p.Dsub, -2, 0, 1)
		for i := 0; i < nb; i++ {
			copy(qt[i*mk+m*p.Ksub:i*mk+(m+1)*p.Ksub], ct[i*p.Ksub:(i+1)*p.Ksub])
		}
	}
	return qt
}

func newIVFScratch(ix *IVF, k int) *ivfScratch {
	s := &ivfScratch{h: newTopK(k), out: make([]float32, scanChunk), out2: make([]float32, scanChunk)}
	if ix.Kind == IVFPQ {
		mk := ix.PQ.M * ix.PQ.Ksub
		s.tab = make([]float32, mk)
		s.ubuf = make([]byte, scanChunk*ix.PQ.M)
		s.resid = make([]float32, ix.D)
	}
	return s
}

// searchOne scans the probed lists of one query into s.h. For IVFPQ the
// distance is faiss's decomposition: with L2 and residuals
// ‖x−y_C−y_R‖² = ‖x−y_C‖² + (‖y_R‖² + 2⟨y_C,y_R⟩) − 2⟨x,y_R⟩, i.e. coarse
// distance + precomputed term 2 + per-query term 3; with inner product
// ⟨x,y_C⟩ + ⟨x,y_R⟩.
func (ix *IVF) searchOne(q []float32, cdis []float32, clist []int64, s *ivfScratch, qtab []float32) {
	var p *ProductQuantizer
	mode := 0 // 0 flat; 1 L2 precomputed; 2 L2 residual without tables; 3 shared table + coarse base; 4 shared table
	if ix.Kind == IVFPQ {
		p = ix.PQ
		switch {
		case ix.ByResidual && ix.Metric == MetricL2 && ix.precomputed != nil:
			mode = 1
			s.tab2 = qtab // −2⟨x_m, c_mj⟩, computed for the query's chunk by queryTables
		case ix.ByResidual && ix.Metric == MetricL2:
			mode = 2
		case ix.ByResidual:
			mode = 3
			p.distanceTable(q, ix.Metric, s.tab)
		default:
			mode = 4
			p.distanceTable(q, ix.Metric, s.tab)
		}
	}
	for pi, l64 := range clist {
		if l64 < 0 {
			continue
		}
		l := int(l64)
		L := &ix.Lists[l]
		n := len(L.IDs)
		if n == 0 {
			continue
		}
		if ix.Kind == IVFFlat {
			for i0 := 0; i0 < n; i0 += scanChunk {
				i1 := min(i0+scanChunk, n)
				o := s.out[:i1-i0]
				if ix.Metric == MetricL2 {
					native.L2Batch(q, L.Vecs[i0*ix.D:i1*ix.D], o)
				} else {
					native.DotBatch(q, L.Vecs[i0*ix.D:i1*ix.D], o)
				}
				pushScores(s.h, o, L.IDs[i0:i1], 0, 0, ix.Metric)
			}
			continue
		}
		tab := s.tab
		var base float32
		var pre, t2 []float32
		switch mode {
		case 1:
			// Term 2 per stored code comes from the cache (see IVF.term2);
			// a list that does not match it is summed from the table.
			base = cdis[pi]
			tab = s.tab2
			if l < len(ix.term2) && len(ix.term2[l]) == n {
				t2 = ix.term2[l]
			} else {
				pre = ix.precomputed[l*len(tab) : (l+1)*len(tab)]
			}
		case 2:
			c := ix.Centroids[l*ix.D : (l+1)*ix.D]
			for j := range s.resid {
				s.resid[j] = q[j] - c[j]
			}
			p.distanceTable(s.resid, MetricL2, tab)
		case 3:
			base = cdis[pi]
		}
		cs := p.CodeSize()
		for i0 := 0; i0 < n; i0 += scanChunk {
			i1 := min(i0+scanChunk, n)
			codes := L.Codes[i0*cs : i1*cs]
			o := s.out[:i1-i0]
			p.lookup(tab, codes, s.ubuf, o)
			if mode == 1 {
				if pre != nil {
					t2 = s.out2[:i1-i0]
					p.lookup(pre, codes, s.ubuf, t2)
					pushL2Sums(s.h, o, t2, L.IDs[i0:i1], base)
				} else {
					pushL2Sums(s.h, o, t2[i0:i1], L.IDs[i0:i1], base)
				}
				continue
			}
			pushScores(s.h, o, L.IDs[i0:i1], 0, base, ix.Metric)
		}
	}
}

// pushL2Sums offers base + (v[i] + t2[i]) for every code of a chunk: term 3
// plus the code's term 2, as the two-table scan summed them.
func pushL2Sums(h *topK, v, t2 []float32, ids []int64, base float32) {
	t2 = t2[:len(v)]
	ids = ids[:len(v)]
	w := h.worst()
	for i, x := range v {
		if s := base + (x + t2[i]); s < w {
			h.push(s, ids[i])
			w = h.worst()
		}
	}
}

// Reconstruct returns the stored approximation of the vectors of x as the
// index would code them (assign, residual, encode, decode, add centroid),
// for measuring quantization error. IVFFlat returns x unchanged.
func (ix *IVF) Reconstruct(x []float32, threads int) ([]float32, error) {
	n, err := checkVectors("vectors to reconstruct", x, ix.D)
	if err != nil {
		return nil, err
	}
	if !ix.Trained() {
		return nil, fmt.Errorf("pq: IVF.Reconstruct: index is not trained")
	}
	if ix.Kind == IVFFlat {
		return append([]float32(nil), x...), nil
	}
	if ix.cnorms == nil {
		ix.cnorms = rowNorms(ix.Centroids, ix.Nlist, ix.D, 1)
	}
	_, assign := flatSearch(x, n, ix.Centroids, ix.Nlist, ix.D, 1, ix.Metric, ix.cnorms, threads)
	enc := x
	if ix.ByResidual {
		enc = ix.residuals(x, n, assign)
	}
	codes := make([]byte, n*ix.PQ.CodeSize())
	ix.PQ.encodeTrusted(enc, n, codes, threads)
	out := make([]float32, n*ix.D)
	if err := ix.PQ.Decode(codes, out); err != nil {
		return nil, err
	}
	if ix.ByResidual {
		for i := 0; i < n; i++ {
			c := ix.Centroids[int(assign[i])*ix.D : (int(assign[i])+1)*ix.D]
			for j := range c {
				out[i*ix.D+j] += c[j]
			}
		}
	}
	return out, nil
}

// WithoutVectors returns a copy sharing the trained quantizers but with
// empty lists: the "codebook" (faiss's trained, empty index, which is what
// the k-NN plugin's train API stores as a model).
func (ix *IVF) WithoutVectors() *IVF {
	c := *ix
	c.Lists = make([]InvList, ix.Nlist)
	c.NTotal = 0
	if ix.term2 != nil {
		c.term2 = make([][]float32, ix.Nlist) // the copy's own cache: Add appends to it
	}
	return &c
}
