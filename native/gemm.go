package native

import (
	"fmt"
	"runtime"
	"sync"
)

// Blocking parameters (Goto/BLIS scheme): a kc×NR sliver of packed B stays
// in L1 while the micro-kernel walks the MR×kc slivers of an mc×kc packed
// block of A that stays in L2; the kc×nc packed block of B sits in L2/L3.
// kc is per micro-kernel (gemmKernel.kc); mc follows from the A block size,
// tuned on Zen 4 (32 KiB L1D, 1 MiB L2) to 768 KiB.
const (
	gemmNC      = 4096
	gemmMCBytes = 786432
)

func gemmBlocking(k gemmKernel) (mc, kc int) {
	kc = k.kc
	mc = (gemmMCBytes / 4 / kc) / k.mr * k.mr
	if mc < k.mr {
		mc = k.mr
	}
	return mc, kc
}

// MatMulTransB computes C = alpha*A·Bᵀ + beta*C for row-major A (m×k),
// B (n×k) and C (m×n), using up to threads goroutines over strips of rows
// of C, or of columns when there are too few rows (threads ≤ 0 means
// GOMAXPROCS). Strips are aligned to the micro-kernel's tile grid, so the
// result does not depend on threads. With fewer than 4 rows in A it runs
// one-vs-many dot products instead (no packing). With beta = 0, C is not read (it may
// hold NaN); with alpha = 0 or k = 0, A and B are not read and C = beta*C.
func MatMulTransB(c, a, b []float32, m, n, k int, alpha, beta float32, threads int) {
	if m < 0 || n < 0 || k < 0 || len(a) != m*k || len(b) != n*k || len(c) != m*n {
		panic(fmt.Sprintf("native.MatMulTransB: len(a)=%d len(b)=%d len(c)=%d for m=%d n=%d k=%d (want m*k, n*k, m*n)", len(a), len(b), len(c), m, n, k))
	}
	gemm(c, a, b, m, n, k, alpha, beta, threads, true)
}

// MatMul computes C = alpha*A·B + beta*C for row-major A (m×k), B (k×n) and
// C (m×n). threads, beta = 0 and alpha = 0 behave as for MatMulTransB.
func MatMul(c, a, b []float32, m, n, k int, alpha, beta float32, threads int) {
	if m < 0 || n < 0 || k < 0 || len(a) != m*k || len(b) != k*n || len(c) != m*n {
		panic(fmt.Sprintf("native.MatMul: len(a)=%d len(b)=%d len(c)=%d for m=%d n=%d k=%d (want m*k, k*n, m*n)", len(a), len(b), len(c), m, n, k))
	}
	gemm(c, a, b, m, n, k, alpha, beta, threads, false)
}

func scaleC(c []float32, beta float32) {
	if beta == 0 {
		clear(c)
	} else if beta != 1 {
		for i := range c {
			c[i] *= beta
		}
	}
}

func gemm(c, a, b []float32, m, n, k int, alpha, beta float32, threads int, transB bool) {
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(c, beta)
		return
	}
	im := cur.Load()
	if transB && m < gemmDotRows {
		gemmByDots(im, c, a, b, m, n, k, alpha, beta)
		return
	}
	kern := im.gemm
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	// Split rows in multiples of MR, and not below ~2 MR-tiles per goroutine:
	// thinner strips cost more in duplicated B packing than they gain. When
	// there are too few rows for that (short sequences in the encoder), split
	// columns of C into multiples of NR instead.
	if threads > 1 && m < 2*kern.mr*threads {
		colThreads := min(threads, n/(2*kern.nr))
		if colThreads > 1 {
			per := ((n+colThreads-1)/colThreads + kern.nr - 1) / kern.nr * kern.nr
			var wg sync.WaitGroup
			for c0 := 0; c0 < n; c0 += per {
				c1 := min(c0+per, n)
				wg.Add(1)
				go func() {
					defer wg.Done()
					gemmBlock(kern, c, a, b, 0, m, c0, c1, n, k, alpha, beta, transB)
				}()
			}
			wg.Wait()
			return
		}
	}
	threads = min(threads, (m+2*kern.mr-1)/(2*kern.mr))
	if threads <= 1 {
		gemmBlock(kern, c, a, b, 0, m, 0, n, n, k, alpha, beta, transB)
		return
	}
	per := (m + threads - 1) / threads
	per = (per + kern.mr - 1) / kern.mr * kern.mr
	var wg sync.WaitGroup
	for r0 := 0; r0 < m; r0 += per {
		r1 := min(r0+per, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemmBlock(kern, c, a, b, r0, r1, 0, n, n, k, alpha, beta, transB)
		}()
	}
	wg.Wait()
}

// gemmDotRows: below this many rows of A, A·Bᵀ runs as one-vs-many dot
// products (the DotBatch kernel) on B in place. Packing B would cost about
// as much as the whole product when A has only a row or two, as in a single
// query against a block of vectors.
const gemmDotRows = 4

func gemmByDots(im *impl, c, a, b []float32, m, n, k int, alpha, beta float32) {
	var tmp []float32
	if beta != 0 {
		tmp = make([]float32, n)
	}
	for i := 0; i < m; i++ {
		row := c[i*n : (i+1)*n]
		out := row
		if beta != 0 {
			out = tmp
		}
		runBatch(im.dotBatch, a[i*k:(i+1)*k], b, out)
		switch {
		case beta != 0:
			for j := range row {
				row[j] = alpha*tmp[j] + beta*row[j]
			}
		case alpha != 1:
			for j := range row {
				row[j] *= alpha
			}
		}
	}
}

type gemmBufs struct{ a, b, tmp []float32 }

var gemmPool sync.Pool

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmBlock computes rows [r0, r1) × columns [c0, c1) of C (n columns).
func gemmBlock(kern gemmKernel, c, a, b []float32, r0, r1, c0, c1, n, k int, alpha, beta float32, transB bool) {
	MR, NR := kern.mr, kern.nr
	MC, KC := gemmBlocking(kern)
	bufs, _ := gemmPool.Get().(*gemmBufs)
	if bufs == nil {
		bufs = new(gemmBufs)
	}
	defer gemmPool.Put(bufs)
	ncMax := min(gemmNC, (c1-c0+NR-1)/NR*NR)
	kcMax := min(KC, k)
	mcMax := min(MC, (r1-r0+MR-1)/MR*MR)
	bufs.b = grow(bufs.b, kcMax*ncMax)
	bufs.a = grow(bufs.a, kcMax*mcMax)
	bufs.tmp = grow(bufs.tmp, MR*NR)
	ap, bp, tmp := bufs.a, bufs.b, bufs.tmp

	for jc := c0; jc < c1; jc += gemmNC {
		nc := min(gemmNC, c1-jc)
		for pc := 0; pc < k; pc += KC {
			kc := min(KC, k-pc)
			if transB {
				packBT(bp, b, k, jc, nc, pc, kc, NR)
			} else {
				packBN(bp, b, n, jc, nc, pc, kc, NR)
			}
			bt := beta
			if pc > 0 {
				bt = 1
			}
			for ic := r0; ic < r1; ic += MC {
				mc := min(MC, r1-ic)
				packA(ap, a, k, ic, mc, pc, kc, MR)
				for jr := 0; jr < nc; jr += NR {
					nr := min(NR, nc-jr)
					bs := bp[jr*kc : (jr+NR)*kc]
					for ir := 0; ir < mc; ir += MR {
						mr := min(MR, mc-ir)
						as := ap[ir*kc : (ir+MR)*kc]
						off := (ic+ir)*n + jc + jr
						if mr == MR && nr == NR {
							kern.fn(kc, as, bs, c[off:off+(MR-1)*n+NR], n, alpha, bt)
							continue
						}
						// Edge tile: compute the full tile into tmp, then
						// merge the valid part.
						kern.fn(kc, as, bs, tmp, NR, 1, 0)
						for i := 0; i < mr; i++ {
							crow := c[off+i*n : off+i*n+nr]
							trow := tmp[i*NR : i*NR+nr]
							if bt == 0 {
								for j := range crow {
									crow[j] = alpha * trow[j]
								}
							} else {
								for j := range crow {
									crow[j] = alpha*trow[j] + bt*crow[j]
								}
							}
						}
					}
				}
			}
		}
	}
}

// packA copies A[ic:ic+mc, pc:pc+kc] into MR-row panels: panel r holds, for
// each p, the MR values A[ic+r*MR+i, pc+p] (zero past the last row).
func packA(dst, a []float32, lda, ic, mc, pc, kc, MR int) {
	for ir := 0; ir < mc; ir += MR {
		mr := min(MR, mc-ir)
		panel := dst[ir*kc : ir*kc+MR*kc]
		for i := 0; i < mr; i++ {
			row := a[(ic+ir+i)*lda+pc : (ic+ir+i)*lda+pc+kc]
			for p, v := range row {
				panel[p*MR+i] = v
			}
		}
		for i := mr; i < MR; i++ {
			for p := 0; p < kc; p++ {
				panel[p*MR+i] = 0
			}
		}
	}
}

// packBT packs Bᵀ for B stored n×k (MatMulTransB): panel j holds, for each
// p, the NR values B[jc+j*NR+jj, pc+p].
func packBT(dst, b []float32, ldb, jc, nc, pc, kc, NR int) {
	for jr := 0; jr < nc; jr += NR {
		nr := min(NR, nc-jr)
		panel := dst[jr*kc : jr*kc+NR*kc]
		for jj := 0; jj < nr; jj++ {
			row := b[(jc+jr+jj)*ldb+pc : (jc+jr+jj)*ldb+pc+kc]
			for p, v := range row {
				panel[p*NR+jj] = v
			}
		}
		for jj := nr; jj < NR; jj++ {
			for p := 0; p < kc; p++ {
				panel[p*NR+jj] = 0
			}
		}
	}
}

// packBN packs B stored k×n (MatMul): rows of B are already contiguous in j.
func packBN(dst, b []float32, ldb, jc, nc, pc, kc, NR int) {
	for jr := 0; jr < nc; jr += NR {
		nr := min(NR, nc-jr)
		panel := dst[jr*kc : jr*kc+NR*kc]
		for p := 0; p < kc; p++ {
			src := b[(pc+p)*ldb+jc+jr : (pc+p)*ldb+jc+jr+nr]
			d := panel[p*NR : p*NR+NR]
			copy(d, src)
			clear(d[nr:])
		}
	}
}
