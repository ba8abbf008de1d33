package native

import "fmt"

// PQLookupSum computes asymmetric PQ distances: for each of the n codes
// (M bytes each, codes[i*M:(i+1)*M]) it sums tables[m*ksub+code[m]] over the
// M sub-quantizers and writes the result to out[i]. ksub must be at most 256
// (codes are bytes); a code ≥ ksub panics.
func PQLookupSum(tables []float32, M, ksub int, codes []byte, out []float32) {
	if M < 0 || ksub <= 0 || ksub > 256 || len(tables) != M*ksub || len(codes) != M*len(out) {
		panic(fmt.Sprintf("native.PQLookupSum: M=%d ksub=%d: tables %d (want %d), codes %d (want %d)", M, ksub, len(tables), M*ksub, len(codes), M*len(out)))
	}
	if ksub == 256 {
		if M > 0 && len(out) > 0 {
			cur.Load().pq8(tables, M, codes, out)
		} else {
			clear(out)
		}
		return
	}
	for i := range out {
		c := codes[i*M : (i+1)*M]
		var s float32
		for m, code := range c {
			if int(code) >= ksub {
				panic(fmt.Sprintf("native.PQLookupSum: code %d of vector %d sub-quantizer %d out of range [0,%d)", code, i, m, ksub))
			}
			s += tables[m*ksub+int(code)]
		}
		out[i] = s
	}
}

// pq8Lookup256 is the common 8-bit case. Viewing each sub-table as a
// *[256]float32 lets the compiler drop every bounds check on the byte index.
// Four vectors at a time, each with two add chains (even sub-quantizers in
// one, odd in the other, added at the end): eight independent chains hide
// the latency of the float additions. The assembly kernels add in exactly
// this order, so every level returns bit-identical sums.
func pq8Lookup256(tables []float32, M int, codes []byte, out []float32) {
	n := len(out)
	M2 := M &^ 1
	i := 0
	for ; i+4 <= n; i += 4 {
		c0 := codes[i*M : i*M+M]
		c1 := codes[(i+1)*M : (i+1)*M+M][:len(c0)] // same length: no bounds checks below
		c2 := codes[(i+2)*M : (i+2)*M+M][:len(c0)]
		c3 := codes[(i+3)*M : (i+3)*M+M][:len(c0)]
		tb := tables[:len(c0)*256]
		var e0, e1, e2, e3, o0, o1, o2, o3 float32
		for m := 0; m < M2; m += 2 {
			t := (*[512]float32)(tb[m*256:])
			e0 += t[c0[m]]
			e1 += t[c1[m]]
			e2 += t[c2[m]]
			e3 += t[c3[m]]
			o0 += t[256+int(c0[m+1])]
			o1 += t[256+int(c1[m+1])]
			o2 += t[256+int(c2[m+1])]
			o3 += t[256+int(c3[m+1])]
		}
		if M2 < M {
			t := (*[256]float32)(tb[M2*256:])
			e0 += t[c0[M2]]
			e1 += t[c1[M2]]
			e2 += t[c2[M2]]
			e3 += t[c3[M2]]
		}
		out[i], out[i+1], out[i+2], out[i+3] = e0+o0, e1+o1, e2+o2, e3+o3
	}
	for ; i < n; i++ {
		c := codes[i*M : i*M+M]
		var e, o float32
		for m := 0; m < M2; m += 2 {
			t := (*[512]float32)(tables[m*256 : m*256+512])
			e += t[c[m]]
			o += t[256+int(c[m+1])]
		}
		if M2 < M {
			e += (*[256]float32)(tables[M2*256 : M2*256+256])[c[M2]]
		}
		out[i] = e + o
	}
}

// Madd computes dst[i] = a[i] + s*b[i] (faiss's fvec_madd), the step that
// adds an IVF list's precomputed table to a query's table in faiss. (pq
// no longer needs it: it caches each code's term 2 instead.) The
// assembly rounds once (fused multiply-add); the Go twin may round twice, so
// levels agree to within one rounding of s*b[i]. dst may be a or b itself but
// must not overlap them otherwise. Lengths must match (else a panic naming
// them).
func Madd(dst, a []float32, s float32, b []float32) {
	if len(a) != len(dst) || len(b) != len(dst) {
		panic(fmt.Sprintf("native.Madd: length mismatch: dst %d, a %d, b %d", len(dst), len(a), len(b)))
	}
	if len(dst) > 0 {
		cur.Load().madd(dst, a, s, b)
	}
}

func maddGeneric(dst, a []float32, s float32, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + s*b[i]
	}
}

// PQ4LookupSum is PQLookupSum for 4-bit codes (ksub = 16): tables has M*16
// floats; each vector's codes take (M+1)/2 bytes, sub-quantizer 2j in the low
// nibble of byte j and 2j+1 in the high nibble (the high nibble of the last
// byte is ignored when M is odd).
func PQ4LookupSum(tables []float32, M int, codes []byte, out []float32) {
	cb := (M + 1) / 2
	if M < 0 || len(tables) != M*16 || len(codes) != cb*len(out) {
		panic(fmt.Sprintf("native.PQ4LookupSum: M=%d: tables %d (want %d), codes %d (want %d)", M, len(tables), M*16, len(codes), cb*len(out)))
	}
	if len(out) == 0 {
		return
	}
	cur.Load().pq4(tables, M, codes, out)
}

// ArgminAdd returns the index of the smallest a[j]+b[j] that is strictly
// below `below`, and that sum; the first such index on ties, and (-1, below)
// when no sum is below (NaN sums never are). k-means and PQ encoding assign
// each point with it: a = the centroids' squared norms, b = −2·x·c from a
// matrix product, below = the best so far (+Inf to start). Lengths must
// match (else a panic naming them).
func ArgminAdd(a, b []float32, below float32) (int, float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("native.ArgminAdd: length mismatch %d != %d", len(a), len(b)))
	}
	return cur.Load().argminAdd(a, b, below)
}

func argminAddGeneric(a, b []float32, below float32) (int, float32) {
	b = b[:len(a)]
	idx := -1
	for j, v := range a {
		if s := v + b[j]; s < below {
			below, idx = s, j
		}
	}
	return idx, below
}
