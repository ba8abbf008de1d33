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
// *[256]float32 lets the compiler drop every bounds check on the byte index,
// and four vectors at a time keep four independent add chains in flight
// (the same shape as faiss's PQ distance scanner); a gather instruction is no
// faster than scalar loads on current x86 cores for this access pattern.
func pq8Lookup256(tables []float32, M int, codes []byte, out []float32) {
	n := len(out)
	i := 0
	for ; i+4 <= n; i += 4 {
		c0 := codes[i*M : i*M+M]
		c1 := codes[(i+1)*M : (i+1)*M+M][:len(c0)] // same length: no bounds checks below
		c2 := codes[(i+2)*M : (i+2)*M+M][:len(c0)]
		c3 := codes[(i+3)*M : (i+3)*M+M][:len(c0)]
		tb := tables[:len(c0)*256]
		var s0, s1, s2, s3 float32
		for m := range c0 {
			t := (*[256]float32)(tb[m*256:])
			s0 += t[c0[m]]
			s1 += t[c1[m]]
			s2 += t[c2[m]]
			s3 += t[c3[m]]
		}
		out[i], out[i+1], out[i+2], out[i+3] = s0, s1, s2, s3
	}
	for ; i < n; i++ {
		c := codes[i*M : i*M+M]
		var s float32
		for m := 0; m < M; m++ {
			t := (*[256]float32)(tables[m*256 : m*256+256])
			s += t[c[m]]
		}
		out[i] = s
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
