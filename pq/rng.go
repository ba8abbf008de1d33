package pq

// faiss draws every random choice of its k-means (sub-sampling, the random
// initial centroids, the empty-cluster splits) from faiss::RandomGenerator, a
// std::mt19937 seeded with (unsigned int)seed (faiss utils/random.cpp). We
// reproduce it bit for bit so that, for the same seed, our sub-sample and our
// random initial centroids are exactly faiss's: results can be compared with
// faiss run for run instead of only on average.

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// mt19937 is the 32-bit Mersenne Twister of the C++ standard library.
type mt19937 struct {
	state [mtN]uint32
	index int
}

func newMT19937(seed uint32) *mt19937 {
	m := &mt19937{}
	m.state[0] = seed
	for i := 1; i < mtN; i++ {
		prev := m.state[i-1]
		m.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	m.index = mtN
	return m
}

func (m *mt19937) next() uint32 {
	if m.index >= mtN {
		for i := 0; i < mtN; i++ {
			y := (m.state[i] & mtUpperMask) | (m.state[(i+1)%mtN] & mtLowerMask)
			v := m.state[(i+mtM)%mtN] ^ (y >> 1)
			if y&1 != 0 {
				v ^= mtMatrixA
			}
			m.state[i] = v
		}
		m.index = 0
	}
	y := m.state[m.index]
	m.index++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// faissRNG mirrors faiss::RandomGenerator.
type faissRNG struct{ mt *mt19937 }

// newFaissRNG seeds like faiss: the int64 seed is truncated to unsigned int.
func newFaissRNG(seed int64) *faissRNG { return &faissRNG{mt: newMT19937(uint32(seed))} }

// randInt returns mt() % max, as faiss's rand_int(int max).
func (r *faissRNG) randInt(max int) int { return int(r.mt.next() % uint32(max)) }

// randFloat returns mt() / float(mt.max()) computed in float32 like faiss.
func (r *faissRNG) randFloat() float32 { return float32(r.mt.next()) / float32(uint32(0xffffffff)) }

// randDouble returns mt() / double(mt.max()).
func (r *faissRNG) randDouble() float64 { return float64(r.mt.next()) / float64(uint32(0xffffffff)) }

// randPerm is faiss::rand_perm: a Fisher-Yates shuffle of 0..n-1.
func randPerm(n int, seed int64) []int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := newFaissRNG(seed)
	for i := 0; i+1 < n; i++ {
		i2 := i + rng.randInt(n-i)
		perm[i], perm[i2] = perm[i2], perm[i]
	}
	return perm
}
