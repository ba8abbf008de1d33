package embed

import "sync"

// linear is a dense layer y = x·Wᵀ + b with W stored [out, in] as Hugging
// Face saves it.
//
// With AVX2 the weight is packed once at load time into 16-column panels
// (for each input index p, the 16 weights W[j0..j0+15, p] side by side) and
// multiplied by kern6x16AVX2. The reason: native.MatMulTransB packs B on
// every call (its API takes plain row-major matrices), and for the few rows
// of a single query that re-packing costs several times the arithmetic
// (profiled: ~70% of a 12-token query). Without AVX2 (or under purego) the
// layer calls native.MatMulTransB.
type linear struct {
	n, k   int
	w      []float32 // [n, k], nil once packed
	bias   []float32 // [n]
	pw     int       // panel width: 16 (AVX2) or 32 (AVX-512)
	panels []float32 // ceil(n/pw) panels of k*pw floats
	pbias  []float32 // bias padded to a multiple of pw
	// gelu applies the exact (erf) GELU to each output tile right after
	// the kernel writes it, while it is in L1: one pass over the
	// intermediate activations (T×I floats, megabytes) instead of two.
	gelu bool
}

const blockR = 6

// kernel is the micro-kernel for panels pw wide.
func (l *linear) kernel() func(k int, a *float32, lda int, b *float32, bias *float32, c *float32, ldc int) {
	if l.pw == 32 {
		return kern6x32AVX512
	}
	return kern6x16AVX2
}

func newLinear(w, bias []float32, n, k int) *linear {
	l := &linear{n: n, k: k, w: w, bias: bias}
	if !useAVX2 {
		return l
	}
	panelW := 16
	if useAVX512 {
		panelW = 32
	}
	l.pw = panelW
	np := (n + panelW - 1) / panelW
	l.panels = make([]float32, np*k*panelW)
	l.pbias = make([]float32, np*panelW)
	copy(l.pbias, bias)
	for j := 0; j < n; j++ {
		pan := l.panels[(j/panelW)*k*panelW:]
		col := j % panelW
		row := w[j*k : (j+1)*k]
		for p, v := range row {
			pan[p*panelW+col] = v
		}
	}
	l.w = nil
	return l
}

// apply sets c[m×n] = a[m×k]·Wᵀ + bias using up to threads goroutines.
//
// Blocking: a chunk of rows of A stays in L2 while each weight panel in
// turn meets all its 6-row blocks. (Cutting k into L1-sized blocks, with
// later blocks accumulating into C, measured 3–8% slower here.)
func (l *linear) apply(c, a []float32, m, threads int) {
	if l.panels == nil {
		gemmTB(c, a, l.w, l.bias, m, l.n, l.k, threads)
		return
	}
	np := (l.n + l.pw - 1) / l.pw
	// Rows per chunk: keep the chunk of A in ~256 KiB of L2 while all
	// panels stream past it.
	mc := max(blockR, (256<<10)/(4*l.k)/blockR*blockR)
	chunks := (m + mc - 1) / mc
	threads = max(threads, 1)
	if threads > 1 && chunks >= threads {
		// Balance: a multiple of threads chunks of equal size.
		chunks = (chunks + threads - 1) / threads * threads
		mc = ((m+chunks-1)/chunks + blockR - 1) / blockR * blockR
		chunks = (m + mc - 1) / mc
	}
	if chunks >= threads || threads == 1 {
		// Enough row chunks: each goroutine takes whole chunks.
		parallelFor(chunks, threads, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				r0, r1 := ch*mc, min((ch+1)*mc, m)
				l.block(c, a, r0, r1, 0, np)
			}
		})
		return
	}
	// Few rows (a short query): split the panels (output columns).
	parallelFor(np, threads, func(p0, p1 int) {
		for r0 := 0; r0 < m; r0 += mc {
			l.block(c, a, r0, min(r0+mc, m), p0, p1)
		}
	})
}

// block computes rows [r0, r1) × panels [p0, p1).
func (l *linear) block(c, a []float32, r0, r1, p0, p1 int) {
	k, n, pw := l.k, l.n, l.pw
	kern := l.kernel()
	rFull := r0 + (r1-r0)/blockR*blockR
	pFull := min(p1, n/pw)
	// Full 6×pw tiles.
	for p := p0; p < pFull; p++ {
		pan := l.panels[p*k*pw : (p+1)*k*pw]
		j0 := p * pw
		for r := r0; r < rFull; r += blockR {
			kern(k, &a[r*k], k, &pan[0], &l.pbias[j0], &c[r*n+j0], n)
			if l.gelu {
				geluTileAVX2(&c[r*n+j0], n, blockR, pw)
			}
		}
	}
	if rFull == r1 && pFull >= p1 {
		return
	}
	// Edge tiles (rows past the last full block, or a last partial panel):
	// through zero-padded copies, with k in one piece.
	var aTmp []float32
	var cTmp [blockR * 32]float32
	for p := p0; p < p1; p++ {
		pan := l.panels[p*k*pw : (p+1)*k*pw]
		j0 := p * pw
		rs := rFull
		if p >= pFull {
			rs = r0
		}
		for r := rs; r < r1; r += blockR {
			rows := min(blockR, r1-r)
			ap := a[r*k:]
			if rows < blockR {
				if aTmp == nil {
					aTmp = make([]float32, blockR*k)
				}
				clear(aTmp)
				copy(aTmp, a[r*k:(r+rows)*k])
				ap = aTmp
			}
			kern(k, &ap[0], k, &pan[0], &l.pbias[j0], &cTmp[0], pw)
			if l.gelu {
				geluTileAVX2(&cTmp[0], pw, rows, pw)
			}
			for i := 0; i < rows; i++ {
				copy(c[(r+i)*n+j0:(r+i)*n+min(j0+pw, n)], cTmp[i*pw:])
			}
		}
	}
}

// parallelFor splits [0, n) into up to threads contiguous ranges.
func parallelFor(n, threads int, f func(i0, i1 int)) {
	if threads <= 1 || n <= 1 {
		f(0, n)
		return
	}
	threads = min(threads, n)
	var wg sync.WaitGroup
	per := (n + threads - 1) / threads
	for i0 := 0; i0 < n; i0 += per {
		i1 := min(i0+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i0, i1)
		}()
	}
	wg.Wait()
}
