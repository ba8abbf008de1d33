package embed

import (
	"context"
	"math"
	"sync"

	"github.com/knnbridge/knnbridge/native"
)

// Forward runs the encoder on a batch of token-id sequences and returns one
// pooled (and, if the model says so, L2-normalized) vector per sequence.
//
// Sequences are packed back to back without padding: the dense layers run
// as one GEMM over all tokens, attention runs per sequence and head over
// that sequence's own tokens. That equals Hugging Face's padded batch with
// an attention mask (masked keys get -inf-like scores, so softmax gives
// them exactly zero weight, and pooling ignores pad rows), minus the work
// on pad tokens.
func (m *Model) Forward(ctx context.Context, seqs [][]int32, threads int) ([][]float32, error) {
	threads = max(threads, 1)
	c := m.Config
	H, I := c.HiddenSize, c.IntermediateSize
	offs := make([]int, len(seqs)+1)
	for i, s := range seqs {
		offs[i+1] = offs[i] + len(s)
	}
	T := offs[len(seqs)]
	out := make([][]float32, len(seqs))
	if T == 0 {
		return out, nil
	}

	// Activations come from a pool: a long batch needs ~60 MB of them, and
	// reusing them keeps the heap (and so the RSS) from doubling between
	// collections.
	bufs, _ := forwardPool.Get().(*forwardBufs)
	if bufs == nil {
		bufs = new(forwardBufs)
	}
	defer forwardPool.Put(bufs)
	// qkv has 3 spare rows: attention's 4-row tiles read past the last token.
	bufs.x, bufs.qkv, bufs.ctx = grow(bufs.x, T*H), grow(bufs.qkv, (T+3)*3*H), grow(bufs.ctx, T*H)
	bufs.tmp, bufs.inter = grow(bufs.tmp, T*H), grow(bufs.inter, T*I)
	x, qkv, ctxBuf, tmp, inter := bufs.x, bufs.qkv, bufs.ctx, bufs.tmp, bufs.inter

	// Embeddings: word + position + token type 0, then LayerNorm.
	for si, s := range seqs {
		for p, id := range s {
			row := x[(offs[si]+p)*H : (offs[si]+p+1)*H]
			w := m.wordEmb[int(id)*H : int(id+1)*H]
			pe := m.posEmb[p*H : (p+1)*H]
			te := m.typeEmb[:H]
			for j := range row {
				row[j] = w[j] + pe[j] + te[j]
			}
		}
	}
	layerNormRows(x, nil, m.embLNw, m.embLNb, H, float32(c.LayerNormEps), threads)

	groups := tokenGroups(offs)
	eps := float32(c.LayerNormEps)
	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := &m.layers[li]
		// The layer runs group by group of whole sequences: a group's
		// QKV rows are still in L2 when its attention reads them, and so
		// on down the layer. Sequences are independent, so the order of
		// groups within a layer does not matter.
		for _, g := range groups {
			s0, s1 := g[0], g[1]
			t0, t1 := offs[s0], offs[s1]
			n := t1 - t0
			xg, tg := x[t0*H:t1*H], tmp[t0*H:t1*H]
			l.qkv.apply(qkv[t0*3*H:t1*3*H], xg, n, threads)
			m.attention(ctxBuf, qkv, offs[s0:s1+1], threads)
			l.o.apply(tg, ctxBuf[t0*H:t1*H], n, threads)
			layerNormRows(xg, tg, l.ln1W, l.ln1B, H, eps, threads) // x = LN(tmp + x)
			ig := inter[t0*I : t1*I]
			l.inter.apply(ig, xg, n, threads)
			if !l.inter.gelu {
				parallelRows(n, threads, func(r0, r1 int) { m.act(ig[r0*I : r1*I]) })
			}
			l.out.apply(tg, ig, n, threads)
			layerNormRows(xg, tg, l.ln2W, l.ln2B, H, eps, threads)
		}
	}

	for si := range seqs {
		out[si] = m.pool(x[offs[si]*H:offs[si+1]*H], offs[si+1]-offs[si])
	}
	return out, nil
}

// groupTokens is the token count a layer works on at a time: its QKV
// rows (3H floats each) and activations stay in L2 between the steps.
var groupTokens = 144

// tokenGroups cuts the batch into runs of whole sequences of about
// groupTokens tokens (a longer sequence is a group on its own).
func tokenGroups(offs []int) [][2]int {
	var groups [][2]int
	start := 0
	for si := 1; si < len(offs); si++ {
		if offs[si]-offs[start] >= groupTokens || si == len(offs)-1 {
			groups = append(groups, [2]int{start, si})
			start = si
		}
	}
	return groups
}

type forwardBufs struct{ x, qkv, ctx, tmp, inter []float32 }

var forwardPool sync.Pool

// pool reduces one sequence's token rows [L, H] to a vector.
func (m *Model) pool(rows []float32, L int) []float32 {
	H := m.Config.HiddenSize
	v := make([]float32, H)
	switch {
	case m.Pooling.CLSToken:
		copy(v, rows[:H])
	case m.Pooling.MaxTokens:
		copy(v, rows[:H])
		for t := 1; t < L; t++ {
			for j, x := range rows[t*H : (t+1)*H] {
				v[j] = max(v[j], x)
			}
		}
	default: // mean, or mean / sqrt(len)
		acc := make([]float64, H)
		for t := 0; t < L; t++ {
			for j, x := range rows[t*H : (t+1)*H] {
				acc[j] += float64(x)
			}
		}
		d := float64(L)
		if m.Pooling.MeanSqrtLenTokens {
			d = math.Sqrt(d)
		}
		for j := range v {
			v[j] = float32(acc[j] / d)
		}
	}
	if m.Normalize {
		// torch.nn.functional.normalize: v / max(||v||, 1e-12).
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		n := max(math.Sqrt(s), 1e-12)
		for j := range v {
			v[j] = float32(float64(v[j]) / n)
		}
	}
	return v
}

// gemmTB computes C[m×n] = A[m×k]·Bᵀ + bias, with B stored [n×k] (the
// layout of a Hugging Face Linear weight, [out, in]). The kernel splits the
// work over threads itself (rows, or columns when rows are few, as for a
// single short query).
func gemmTB(c, a, b, bias []float32, m, n, k, threads int) {
	native.MatMulTransB(c, a, b, m, n, k, 1, 0, threads)
	if bias != nil {
		parallelRows(m, threads, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				row := c[i*n : (i+1)*n]
				for j := range row {
					row[j] += bias[j]
				}
			}
		})
	}
}

// parallelRows splits [0, rows) into up to threads contiguous chunks.
func parallelRows(rows, threads int, f func(r0, r1 int)) {
	if threads <= 1 || rows < 2*threads {
		f(0, rows)
		return
	}
	var wg sync.WaitGroup
	chunk := (rows + threads - 1) / threads
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(r0+chunk, rows)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(r0, r1)
		}()
	}
	wg.Wait()
}

// layerNormRows sets x = LayerNorm(x + res) row by row (res may be nil).
func layerNormRows(x, res, w, b []float32, H int, eps float32, threads int) {
	rows := len(x) / H
	parallelRows(rows, threads, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := x[r*H : (r+1)*H]
			if useAVX2 && H%8 == 0 {
				// Same two-pass mean / variance, in float32 lanes.
				var rr []float32
				if res != nil {
					rr = res[r*H : (r+1)*H]
				}
				mu := addSumAVX2(row, rr) / float32(H)
				vr := sqDevSumAVX2(row, mu) / float32(H)
				normAffineAVX2(row, w, b, mu, float32(1/math.Sqrt(float64(vr)+float64(eps))))
				continue
			}
			if res != nil {
				rr := res[r*H : (r+1)*H]
				for j := range row {
					row[j] += rr[j]
				}
			}
			var mean float64
			for _, v := range row {
				mean += float64(v)
			}
			mean /= float64(H)
			var vr float64
			for _, v := range row {
				d := float64(v) - mean
				vr += d * d
			}
			vr /= float64(H)
			inv := float32(1 / math.Sqrt(vr+float64(eps)))
			mu := float32(mean)
			for j, v := range row {
				row[j] = (v-mu)*inv*w[j] + b[j]
			}
		}
	})
}

// attention computes multi-head scaled dot-product self-attention for every
// sequence: qkv rows are [q | k | v] (3H wide), the result goes to out [T, H].
func (m *Model) attention(out, qkv []float32, offs []int, threads int) {
	H := m.Config.HiddenSize
	nh := m.Config.NumAttentionHeads
	dh := H / nh
	scale := float32(1 / math.Sqrt(float64(dh)))
	nseq := len(offs) - 1
	jobs := nseq * nh
	work := func(j0, j1 int) {
		var q, k, v, sc, o []float32
		for j := j0; j < j1; j++ {
			si, h := j/nh, j%nh
			base, L := offs[si], offs[si+1]-offs[si]
			q, k, v = grow(q, L*dh), grow(k, L*dh), grow(v, L*dh)
			sc, o = grow(sc, L*L), grow(o, L*dh)
			for t := 0; t < L; t++ {
				row := qkv[(base+t)*3*H:]
				copy(q[t*dh:(t+1)*dh], row[h*dh:(h+1)*dh])
				copy(k[t*dh:(t+1)*dh], row[H+h*dh:H+(h+1)*dh])
				copy(v[t*dh:(t+1)*dh], row[2*H+h*dh:2*H+(h+1)*dh])
			}
			native.MatMulTransB(sc, q, k, L, L, dh, scale, 0, 1)
			for t := 0; t < L; t++ {
				softmax(sc[t*L : (t+1)*L])
			}
			native.MatMul(o, sc, v, L, dh, L, 1, 0, 1)
			for t := 0; t < L; t++ {
				copy(out[(base+t)*H+h*dh:(base+t)*H+(h+1)*dh], o[t*dh:(t+1)*dh])
			}
		}
	}
	if useAVX2 && dh%16 == 0 {
		work = func(j0, j1 int) { m.attentionAVX2(out, qkv, offs, j0, j1, scale) }
	}
	parallelRows(jobs, threads, work)
}

// attnScratch is one goroutine's attention scratch: K transposed and
// scaled, the score rows, and a 4×16 tile for the rows past a sequence end.
type attnScratch struct {
	kt, sc []float32
	tile   [4 * 16]float32
}

var attnPool sync.Pool

// attentionAVX2 does the (sequence, head) jobs [j0, j1) with kern4x16AVX2:
// scores = Q·(scale·K)ᵀ with Q read in place from the QKV rows and K
// transposed into a panel 16-padded wide; softmax over each row (padding
// columns pushed to ~0); then P·V with V read in place and the result
// written straight into out. No per-head copies of Q, V or the output.
// The QKV buffer has 3 spare rows past the last token, so the 4-row tiles
// may read past a sequence's end (those rows' results are dropped).
func (m *Model) attentionAVX2(out, qkv []float32, offs []int, j0, j1 int, scale float32) {
	H := m.Config.HiddenSize
	nh := m.Config.NumAttentionHeads
	dh := H / nh
	s, _ := attnPool.Get().(*attnScratch)
	if s == nil {
		s = new(attnScratch)
	}
	defer attnPool.Put(s)
	H3 := 3 * H
	for j := j0; j < j1; j++ {
		si, h := j/nh, j%nh
		base, L := offs[si], offs[si+1]-offs[si]
		ls := (L + 15) &^ 15 // score row stride, and K panel width
		l8 := (L + 7) &^ 7   // softmax width
		lr := (L + 3) &^ 3   // score rows
		s.kt, s.sc = grow(s.kt, dh*ls), grow(s.sc, lr*ls)
		kt, sc := s.kt, s.sc
		if L < ls {
			for d := 0; d < dh; d++ {
				clear(kt[d*ls+L : (d+1)*ls])
			}
		}
		for t := 0; t < L; t++ {
			src := qkv[(base+t)*H3+H+h*dh : (base+t)*H3+H+h*dh+dh]
			dst := kt[t:]
			for d, v := range src {
				dst[d*ls] = v * scale
			}
		}
		q := qkv[base*H3+h*dh:]
		for i := 0; i < L; i += 4 {
			for c := 0; c < ls; c += 16 {
				kern4x16AVX2(dh, &q[i*H3], H3, &kt[c], ls, &sc[i*ls+c], ls)
			}
		}
		if L < l8 {
			for i := 0; i < L; i++ {
				row := sc[i*ls : i*ls+l8]
				for t := L; t < l8; t++ {
					row[t] = -1e30
				}
			}
		}
		softmaxRowsAVX2(&sc[0], ls, L, l8)
		v := qkv[base*H3+2*H+h*dh:]
		for i := 0; i < L; i += 4 {
			for c := 0; c < dh; c += 16 {
				if i+4 <= L {
					kern4x16AVX2(L, &sc[i*ls], ls, &v[c], H3, &out[(base+i)*H+h*dh+c], H)
					continue
				}
				kern4x16AVX2(L, &sc[i*ls], ls, &v[c], H3, &s.tile[0], 16)
				for r := 0; r < L-i; r++ {
					copy(out[(base+i+r)*H+h*dh+c:(base+i+r)*H+h*dh+c+16], s.tile[r*16:])
				}
			}
		}
	}
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func softmax(x []float32) {
	n8 := 0
	if useAVX2 {
		n8 = len(x) &^ 7
	}
	mx := x[0]
	if n8 > 0 {
		mx = maxAVX2(x[:n8])
	}
	for _, v := range x[n8:] {
		mx = max(mx, v)
	}
	var s float32
	if n8 > 0 {
		s = expShiftSumAVX2(x[:n8], mx)
	}
	for i, v := range x[n8:] {
		e := expf(v - mx)
		x[n8+i] = e
		s += e
	}
	inv := 1 / s
	if n8 > 0 {
		scaleAVX2(x[:n8], inv)
	}
	for i := n8; i < len(x); i++ {
		x[i] *= inv
	}
}
