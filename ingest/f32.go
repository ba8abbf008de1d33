package ingest

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// appendFloat32 appends the shortest decimal that parses back to exactly
// f, what strconv.AppendFloat(b, float64(f), 'g', -1, 32) writes (but for
// exact ties, which Ryu rounds to even: same length, same float), at a third
// to a half of its cost: formatting vectors is most of the
// loader's CPU (issue 7 profile: strconv's generic path, 2/3 of it), and
// on a machine the loader shares with the cluster every cycle saved goes to
// indexing.
//
// The digits come from Ryu (Ulf Adams, "Ryū: fast float-to-string
// conversion", PLDI 2018; the reference f2s.c of github.com/ulfjack/ryu),
// specialised to float32 and 32-bit arithmetic; the layout follows
// strconv's %g with shortest precision (exponent form when the decimal
// exponent is < -4 or >= 6, strconv's eprec for shortest output).
// TestAppendFloat32MatchesStrconv compares both on millions of values,
// including every power of two, every subnormal boundary and the extremes.
func appendFloat32(b []byte, f float32) []byte {
	u := math.Float32bits(f)
	ieeeMant := u & (1<<23 - 1)
	ieeeExp := (u >> 23) & 0xff
	if ieeeExp == 0xff || (ieeeExp == 0 && ieeeMant == 0) {
		// NaN, ±Inf (never sent: the checks reject them) and ±0.
		return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	if u>>31 != 0 {
		b = append(b, '-')
	}
	m, e := f2d(ieeeMant, ieeeExp)
	// m has nd digits; the value is m × 10^e.
	var digs [10]byte
	nd := 0
	for v := m; ; {
		digs[9-nd] = byte('0' + v%10)
		nd++
		v /= 10
		if v == 0 {
			break
		}
	}
	d := digs[10-nd:]
	dp := nd + int(e) // position of the decimal point within the digits
	exp := dp - 1
	if exp < -4 || exp >= 6 {
		// %e: d.ddde±XX
		b = append(b, d[0])
		if nd > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			return append(b, '0', byte('0'+exp))
		}
		if exp < 100 {
			return append(b, byte('0'+exp/10), byte('0'+exp%10))
		}
		return append(b, byte('0'+exp/100), byte('0'+exp/10%10), byte('0'+exp%10))
	}
	// %f
	if dp <= 0 {
		b = append(b, '0', '.')
		for range -dp {
			b = append(b, '0')
		}
		return append(b, d...)
	}
	if dp >= nd {
		b = append(b, d...)
		for range dp - nd {
			b = append(b, '0')
		}
		return b
	}
	b = append(b, d[:dp]...)
	b = append(b, '.')
	return append(b, d[dp:]...)
}

const (
	f32MantBits      = 23
	f32Bias          = 127
	f32Pow5InvBitcnt = 59
	f32Pow5Bitcnt    = 61
)

// Ryu's tables, computed once instead of transcribed:
// pow5InvSplit[q] = floor(2^(bitlen(5^q)−1+59) / 5^q) + 1 and
// pow5Split[i] = floor(5^i / 2^(bitlen(5^i)−61)) (f2s.c's
// FLOAT_POW5_INV_SPLIT and FLOAT_POW5_SPLIT, a few entries longer).
var pow5InvSplit, pow5Split = ryuTables()

func ryuTables() (inv, pow [64]uint64) {
	p := big.NewInt(1)
	five := big.NewInt(5)
	for i := range 64 {
		l := p.BitLen()
		j := l - 1 + f32Pow5InvBitcnt
		t := new(big.Int).Lsh(big.NewInt(1), uint(j))
		t.Quo(t, p)
		t.Add(t, big.NewInt(1))
		if t.IsUint64() {
			inv[i] = t.Uint64()
		}
		s := new(big.Int)
		if l > f32Pow5Bitcnt {
			s.Rsh(p, uint(l-f32Pow5Bitcnt))
		} else {
			s.Lsh(p, uint(f32Pow5Bitcnt-l))
		}
		if s.IsUint64() {
			pow[i] = s.Uint64()
		}
		p.Mul(p, five)
	}
	return inv, pow
}

// pow5bits is ceil(log2(5^e)) for e > 0, 1 for e == 0.
func pow5bits(e int32) int32 { return int32((uint32(e)*1217359)>>19) + 1 }

// log10Pow2 is floor(log10(2^e)); log10Pow5 is floor(log10(5^e)).
func log10Pow2(e int32) uint32 { return (uint32(e) * 78913) >> 18 }
func log10Pow5(e int32) uint32 { return (uint32(e) * 732923) >> 20 }

func pow5Factor32(v uint32) uint32 {
	n := uint32(0)
	for v%5 == 0 {
		v /= 5
		n++
	}
	return n
}

func mulShift32(m uint32, factor uint64, shift int32) uint32 {
	hi, lo := bits.Mul64(uint64(m), factor)
	// (m × factor) >> shift, shift in 32..95 here
	if shift >= 64 {
		return uint32(hi >> uint(shift-64))
	}
	return uint32(lo>>uint(shift) | hi<<uint(64-shift))
}

// f2d is f2s.c's f2d: the shortest decimal m × 10^e in the rounding
// interval of the float32 with the given IEEE fields (finite, nonzero).
func f2d(ieeeMant, ieeeExp uint32) (uint32, int32) {
	var e2 int32
	var m2 uint32
	if ieeeExp == 0 {
		e2 = 1 - f32Bias - f32MantBits - 2
		m2 = ieeeMant
	} else {
		e2 = int32(ieeeExp) - f32Bias - f32MantBits - 2
		m2 = 1<<f32MantBits | ieeeMant
	}
	acceptBounds := m2&1 == 0
	mv := 4 * m2
	mp := 4*m2 + 2
	var mmShift uint32
	if ieeeMant != 0 || ieeeExp <= 1 {
		mmShift = 1
	}
	mm := 4*m2 - 1 - mmShift

	var vr, vp, vm uint32
	var e10 int32
	vmTrailingZeros, vrTrailingZeros := false, false
	var lastRemoved uint32
	if e2 >= 0 {
		q := log10Pow2(e2)
		e10 = int32(q)
		k := f32Pow5InvBitcnt + pow5bits(int32(q)) - 1
		i := -e2 + int32(q) + k
		vr = mulShift32(mv, pow5InvSplit[q], i)
		vp = mulShift32(mp, pow5InvSplit[q], i)
		vm = mulShift32(mm, pow5InvSplit[q], i)
		if q != 0 && (vp-1)/10 <= vm/10 {
			l := f32Pow5InvBitcnt + pow5bits(int32(q-1)) - 1
			lastRemoved = mulShift32(mv, pow5InvSplit[q-1], -e2+int32(q)-1+l) % 10
		}
		if q <= 9 {
			switch {
			case mv%5 == 0:
				vrTrailingZeros = pow5Factor32(mv) >= q
			case acceptBounds:
				vmTrailingZeros = pow5Factor32(mm) >= q
			default:
				if pow5Factor32(mp) >= q {
					vp--
				}
			}
		}
	} else {
		q := log10Pow5(-e2)
		e10 = int32(q) + e2
		i := -e2 - int32(q)
		k := pow5bits(i) - f32Pow5Bitcnt
		j := int32(q) - k
		vr = mulShift32(mv, pow5Split[i], j)
		vp = mulShift32(mp, pow5Split[i], j)
		vm = mulShift32(mm, pow5Split[i], j)
		if q != 0 && (vp-1)/10 <= vm/10 {
			j = int32(q) - 1 - (pow5bits(i+1) - f32Pow5Bitcnt)
			lastRemoved = mulShift32(mv, pow5Split[i+1], j) % 10
		}
		if q <= 1 {
			vrTrailingZeros = true
			if acceptBounds {
				vmTrailingZeros = mmShift == 1
			} else {
				vp--
			}
		} else if q < 31 {
			vrTrailingZeros = mv&(1<<(q-1)-1) == 0
		}
	}

	removed := int32(0)
	var out uint32
	if vmTrailingZeros || vrTrailingZeros {
		for vp/10 > vm/10 {
			vmTrailingZeros = vmTrailingZeros && vm%10 == 0
			vrTrailingZeros = vrTrailingZeros && lastRemoved == 0
			lastRemoved = vr % 10
			vr /= 10
			vp /= 10
			vm /= 10
			removed++
		}
		if vmTrailingZeros {
			for vm%10 == 0 {
				vrTrailingZeros = vrTrailingZeros && lastRemoved == 0
				lastRemoved = vr % 10
				vr /= 10
				vp /= 10
				vm /= 10
				removed++
			}
		}
		if vrTrailingZeros && lastRemoved == 5 && vr%2 == 0 {
			lastRemoved = 4 // round half to even
		}
		out = vr
		if (vr == vm && (!acceptBounds || !vmTrailingZeros)) || lastRemoved >= 5 {
			out++
		}
	} else {
		for vp/10 > vm/10 {
			lastRemoved = vr % 10
			vr /= 10
			vp /= 10
			vm /= 10
			removed++
		}
		out = vr
		if vr == vm || lastRemoved >= 5 {
			out++
		}
	}
	return out, e10 + removed
}
