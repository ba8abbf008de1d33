package pq

import (
	"context"
	"fmt"
	"sync"

	"github.com/knnbridge/knnbridge/native"
)

// ProductQuantizer splits d-dimensional vectors into M sub-vectors of
// Dsub = d/M dimensions and codes each with one of Ksub = 2^NBits centroids
// learnt by k-means on that sub-space (Jégou et al., "Product quantization
// for nearest neighbor search", 2011; faiss impl/ProductQuantizer.cpp).
type ProductQuantizer struct {
	D, M, NBits int
	Dsub, Ksub  int
	// Centroids holds M × Ksub × Dsub floats, faiss's layout.
	Centroids []float32
}

// NewProductQuantizer checks the shape: d must split evenly into M parts and
// NBits must be in 4..8 (the range faiss packs with PQEncoderGeneric and the
// k-NN plugin exposes as code_size).
func NewProductQuantizer(d, m, nbits int) (*ProductQuantizer, error) {
	if d <= 0 {
		return nil, fmt.Errorf("pq: dimension must be positive, got %d", d)
	}
	if m <= 0 {
		return nil, fmt.Errorf("pq: M (number of sub-quantizers) must be positive, got %d", m)
	}
	if d%m != 0 {
		return nil, fmt.Errorf("pq: dimension %d is not a multiple of M=%d (d %% M = %d); choose M among the divisors of %d", d, m, d%m, d)
	}
	if nbits < 4 || nbits > 8 {
		return nil, fmt.Errorf("pq: nbits=%d out of range: must be between 4 and 8", nbits)
	}
	return &ProductQuantizer{D: d, M: m, NBits: nbits, Dsub: d / m, Ksub: 1 << nbits}, nil
}

// CodeSize is the number of bytes of one code: ceil(M·NBits/8), as faiss.
func (p *ProductQuantizer) CodeSize() int { return (p.M*p.NBits + 7) / 8 }

func (p *ProductQuantizer) trained() bool { return len(p.Centroids) == p.M*p.Ksub*p.Dsub }

// sub returns the Ksub × Dsub centroid block of sub-quantizer m.
func (p *ProductQuantizer) sub(m int) []float32 {
	return p.Centroids[m*p.Ksub*p.Dsub : (m+1)*p.Ksub*p.Dsub]
}

// PQTrainConfig configures ProductQuantizer.Train; zero values are faiss's
// defaults (25 iterations, at most 256 points per centroid) except Seed.
type PQTrainConfig struct {
	NIter                int
	Seed                 int64
	Init                 Init
	MaxPointsPerCentroid int
	Threads              int
	// Progress is called after each sub-quantizer is trained.
	Progress func(done, total int)
	Warn     func(string)
}

// DefaultPQTrainConfig returns faiss's ProductQuantizer defaults.
func DefaultPQTrainConfig() PQTrainConfig {
	return PQTrainConfig{NIter: DefaultNIter, Seed: DefaultSeed, MaxPointsPerCentroid: DefaultMaxPointsPerCentroid}
}

// Train learns the M sub-codebooks. Like faiss's Train_default each
// sub-space is clustered independently with the same parameters and seed;
// the M clusterings run in parallel (one core each), which keeps the result
// independent of the thread count.
func (p *ProductQuantizer) Train(ctx context.Context, x []float32, cfg PQTrainConfig) ([]string, error) {
	n, err := checkVectors("PQ training set", x, p.D)
	if err != nil {
		return nil, err
	}
	if n < p.Ksub {
		return nil, fmt.Errorf("pq: PQ training: %d training points for %d centroids per sub-quantizer (nbits=%d): %w", n, p.Ksub, p.NBits, ErrTooFewPoints)
	}
	cent := make([]float32, p.M*p.Ksub*p.Dsub)
	var warnings []string
	var mu sync.Mutex
	var firstErr error
	done := 0
	parallelDynamic(p.M, 1, cfg.Threads, func(_, lo, hi int) {
		for m := lo; m < hi; m++ {
			slice := make([]float32, n*p.Dsub)
			for i := 0; i < n; i++ {
				copy(slice[i*p.Dsub:(i+1)*p.Dsub], x[i*p.D+m*p.Dsub:i*p.D+(m+1)*p.Dsub])
			}
			kc := KMeansConfig{K: p.Ksub, NIter: cfg.NIter, NRedo: 1, Seed: cfg.Seed, Init: cfg.Init, Metric: MetricL2,
				MaxPointsPerCentroid: cfg.MaxPointsPerCentroid, Threads: 1}
			res, err := KMeans(ctx, slice, p.Dsub, kc)
			mu.Lock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("pq: training sub-quantizer %d: %w", m, err)
				}
			} else {
				copy(cent[m*p.Ksub*p.Dsub:], res.Centroids)
				if m == 0 { // every sub-space sees the same number of points
					warnings = append(warnings, res.Warnings...)
				}
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, p.M)
				}
			}
			mu.Unlock()
		}
	})
	if firstErr != nil {
		return nil, firstErr
	}
	for _, w := range warnings {
		if cfg.Warn != nil {
			cfg.Warn("PQ: " + w)
		}
	}
	p.Centroids = cent
	return warnings, nil
}

// Encode writes the codes of the n = len(x)/D vectors of x into codes
// (n × CodeSize bytes), each sub-vector coded by its nearest sub-centroid
// (L2), packed as faiss packs them.
func (p *ProductQuantizer) Encode(x []float32, codes []byte, threads int) error {
	n, err := checkVectors("vectors to encode", x, p.D)
	if err != nil {
		return err
	}
	if !p.trained() {
		return fmt.Errorf("pq: encode: product quantizer is not trained")
	}
	cs := p.CodeSize()
	if len(codes) != n*cs {
		return fmt.Errorf("pq: encode: code buffer has %d bytes, want %d vectors x %d", len(codes), n, cs)
	}
	p.encodeTrusted(x, n, codes, threads)
	return nil
}

const encodeBlock = 1024

// encodeTrusted encodes without validation (callers checked the input).
func (p *ProductQuantizer) encodeTrusted(x []float32, n int, codes []byte, threads int) {
	cnorms := rowNorms(p.Centroids, p.M*p.Ksub, p.Dsub, 1)
	cs := p.CodeSize()
	nb := (n + encodeBlock - 1) / encodeBlock
	parallelDynamic(nb, 1, threads, func(_, blo, bhi int) {
		slice := make([]float32, encodeBlock*p.Dsub)
		dots := make([]float32, encodeBlock*p.Ksub)
		idx := make([]byte, encodeBlock*p.M)
		for b := blo; b < bhi; b++ {
			i0, i1 := b*encodeBlock, min((b+1)*encodeBlock, n)
			bs := i1 - i0
			for m := 0; m < p.M; m++ {
				if p.Dsub < smallDim {
					// Very short sub-vectors use direct differences, exact
					// even for nearly equal values where ‖c‖² − 2x·c would
					// round (and break lossless cases such as M = d). From
					// 4 dimensions on the matrix product is faster (measured
					// 2.5x at dsub = 4 and 8); faiss switches at 16.
					dist := dots[:p.Ksub]
					for i := 0; i < bs; i++ {
						xs := x[(i0+i)*p.D+m*p.Dsub : (i0+i)*p.D+(m+1)*p.Dsub]
						native.L2Batch(xs, p.sub(m), dist)
						bj, bv := 0, dist[0]
						for j := 1; j < p.Ksub; j++ {
							if dist[j] < bv {
								bj, bv = j, dist[j]
							}
						}
						idx[i*p.M+m] = byte(bj)
					}
					continue
				}
				for i := 0; i < bs; i++ {
					copy(slice[i*p.Dsub:(i+1)*p.Dsub], x[(i0+i)*p.D+m*p.Dsub:(i0+i)*p.D+(m+1)*p.Dsub])
				}
				c := dots[:bs*p.Ksub]
				native.MatMulTransB(c, slice[:bs*p.Dsub], p.sub(m), bs, p.Ksub, p.Dsub, -2, 0, 1)
				cn := cnorms[m*p.Ksub : (m+1)*p.Ksub]
				for i := 0; i < bs; i++ {
					row := c[i*p.Ksub : (i+1)*p.Ksub]
					// ‖x‖² is the same for every candidate: argmin of ‖c‖² − 2x·c.
					bj, _ := native.ArgminAdd(cn, row, inf32)
					idx[i*p.M+m] = byte(max(bj, 0)) // inputs are finite, so -1 cannot happen
				}
			}
			for i := 0; i < bs; i++ {
				p.pack(idx[i*p.M:(i+1)*p.M], codes[(i0+i)*cs:(i0+i+1)*cs])
			}
		}
	})
}

// pack writes M indices of NBits each as a little-endian bit stream, the
// layout of faiss's PQEncoderGeneric (and plain bytes when NBits = 8).
func (p *ProductQuantizer) pack(idx []byte, code []byte) {
	if p.NBits == 8 {
		copy(code, idx)
		return
	}
	clear(code)
	bit := 0
	for _, v := range idx {
		byteI, off := bit>>3, bit&7
		w := uint16(v) << off
		code[byteI] |= byte(w)
		if off+p.NBits > 8 {
			code[byteI+1] |= byte(w >> 8)
		}
		bit += p.NBits
	}
}

// unpack is the inverse of pack: one byte per sub-quantizer index.
func (p *ProductQuantizer) unpack(code []byte, idx []byte) {
	if p.NBits == 8 {
		copy(idx, code)
		return
	}
	mask := uint16(1)<<p.NBits - 1
	bit := 0
	for m := range idx[:p.M] {
		byteI, off := bit>>3, bit&7
		w := uint16(code[byteI])
		if off+p.NBits > 8 {
			w |= uint16(code[byteI+1]) << 8
		}
		idx[m] = byte((w >> off) & mask)
		bit += p.NBits
	}
}

// unpackMany unpacks n codes into n × M index bytes (the layout
// native.PQLookupSum reads); with NBits = 8 the codes are returned as is.
func (p *ProductQuantizer) unpackMany(codes []byte, n int, buf []byte) []byte {
	if p.NBits == 8 {
		return codes[:n*p.M]
	}
	cs := p.CodeSize()
	out := buf[:n*p.M]
	for i := 0; i < n; i++ {
		p.unpack(codes[i*cs:(i+1)*cs], out[i*p.M:(i+1)*p.M])
	}
	return out
}

// lookup writes into out the sums of tab over the n packed codes: 8-bit
// codes go to native.PQLookupSum as they are, 4-bit codes to
// native.PQ4LookupSum (faiss's packing puts sub-quantizer 2j in the low
// nibble of byte j, the layout that kernel reads), others are unpacked.
func (p *ProductQuantizer) lookup(tab []float32, codes []byte, ubuf []byte, out []float32) {
	switch p.NBits {
	case 8:
		native.PQLookupSum(tab, p.M, p.Ksub, codes, out)
	case 4:
		native.PQ4LookupSum(tab, p.M, codes, out)
	default:
		native.PQLookupSum(tab, p.M, p.Ksub, p.unpackMany(codes, len(out), ubuf), out)
	}
}

// Decode reconstructs the vectors of n codes into out (n × D floats).
func (p *ProductQuantizer) Decode(codes []byte, out []float32) error {
	cs := p.CodeSize()
	if len(codes)%cs != 0 || len(out) != len(codes)/cs*p.D {
		return fmt.Errorf("pq: decode: %d code bytes and %d output floats do not match code size %d and d=%d", len(codes), len(out), cs, p.D)
	}
	idx := make([]byte, p.M)
	for i := 0; i < len(codes)/cs; i++ {
		p.unpack(codes[i*cs:(i+1)*cs], idx)
		for m, j := range idx {
			copy(out[i*p.D+m*p.Dsub:i*p.D+(m+1)*p.Dsub], p.Centroids[(m*p.Ksub+int(j))*p.Dsub:(m*p.Ksub+int(j)+1)*p.Dsub])
		}
	}
	return nil
}

// distanceTable fills tab (M × Ksub) with the asymmetric distances of query
// q to every sub-centroid: ‖q_m − c_mj‖² for L2, q_m·c_mj for inner product.
func (p *ProductQuantizer) distanceTable(q []float32, metric Metric, tab []float32) {
	for m := 0; m < p.M; m++ {
		qm := q[m*p.Dsub : (m+1)*p.Dsub]
		t := tab[m*p.Ksub : (m+1)*p.Ksub]
		if metric == MetricL2 {
			native.L2Batch(qm, p.sub(m), t)
		} else {
			native.DotBatch(qm, p.sub(m), t)
		}
	}
}

// SDCTable returns the symmetric-distance table: for each sub-quantizer m,
// the Ksub × Ksub squared distances between its centroids (faiss's
// compute_sdc_table), for comparing two codes without decoding them.
func (p *ProductQuantizer) SDCTable() []float32 {
	t := make([]float32, p.M*p.Ksub*p.Ksub)
	for m := 0; m < p.M; m++ {
		c := p.sub(m)
		for i := 0; i < p.Ksub; i++ {
			native.L2Batch(c[i*p.Dsub:(i+1)*p.Dsub], c, t[(m*p.Ksub+i)*p.Ksub:(m*p.Ksub+i+1)*p.Ksub])
		}
	}
	return t
}

// SymmetricDistance is the squared L2 distance between the reconstructions
// of two codes, read from an SDCTable.
func (p *ProductQuantizer) SymmetricDistance(sdc []float32, a, b []byte) float32 {
	ia, ib := make([]byte, p.M), make([]byte, p.M)
	p.unpack(a, ia)
	p.unpack(b, ib)
	var s float32
	for m := 0; m < p.M; m++ {
		s += sdc[(m*p.Ksub+int(ia[m]))*p.Ksub+int(ib[m])]
	}
	return s
}
