package native

import (
	"math"
	"slices"
)

// TopKSmallest returns the indices of the k smallest scores (distances),
// best first; equal scores keep ascending index order, and NaN scores rank
// after every number. It returns min(k, len(scores)) indices; k < 0 panics.
func TopKSmallest(scores []float32, k int) []int {
	return SelectSmallest(make([]int, min(max(k, 0), len(scores))), scores, checkK("TopKSmallest", k))
}

// TopKLargest is TopKSmallest for similarities: the k largest scores, best
// first, ties by ascending index, NaN last.
func TopKLargest(scores []float32, k int) []int {
	return SelectLargest(make([]int, min(max(k, 0), len(scores))), scores, checkK("TopKLargest", k))
}

func checkK(kernel string, k int) int {
	if k < 0 {
		panic("native." + kernel + ": negative k")
	}
	return k
}

// SelectSmallest is TopKSmallest into a caller's buffer: it writes the
// min(k, len(scores)) selected indices to dst[:n] and returns dst[:n]. It
// allocates nothing when cap(dst) ≥ n.
func SelectSmallest(dst []int, scores []float32, k int) []int {
	return selectK(dst, scores, checkK("SelectSmallest", k), false)
}

// SelectLargest is TopKLargest into a caller's buffer (see SelectSmallest).
func SelectLargest(dst []int, scores []float32, k int) []int {
	return selectK(dst, scores, checkK("SelectLargest", k), true)
}

// key maps a score to a uint32 whose unsigned order is the ranking order:
// the usual sign-flip trick for IEEE floats (-0 and +0 are made equal), with
// every NaN mapped past +Inf (or, for largest-first, past -Inf after
// inversion). Ranking on integers keeps comparisons exact and branch-light.
func key(v float32, largest bool) uint32 {
	if v != v {
		return math.MaxUint32
	}
	if v == 0 {
		v = 0 // fold -0 into +0
	}
	u := math.Float32bits(v)
	u ^= uint32(int32(u)>>31) | 0x80000000 // branch-free: scores have random signs
	if largest {
		u = ^u
		if u == math.MaxUint32 { // -Inf must still rank before NaN
			u--
		}
	}
	return u
}

// selectK keeps a max-heap (by key, then index) of the best k seen so far;
// a candidate that is not better than the heap's worst is rejected with one
// comparison, so the common case costs O(n) for k ≪ n.
func selectK(dst []int, scores []float32, k int, largest bool) []int {
	k = min(k, len(scores))
	if cap(dst) < k {
		dst = make([]int, k)
	}
	dst = dst[:k]
	if k == 0 {
		return dst
	}
	type ent struct {
		key uint32
		idx int
	}
	// worse reports whether x ranks after y.
	worse := func(x, y ent) bool { return x.key > y.key || (x.key == y.key && x.idx > y.idx) }
	h := make([]ent, 0, k)
	siftDown := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			w := l
			if r := l + 1; r < len(h) && worse(h[r], h[l]) {
				w = r
			}
			if !worse(h[w], h[i]) {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	// Fill with the first k, heapify, then scan the rest against a local copy
	// of the worst key: the common case is one key computation and one
	// compare per score.
	for i, s := range scores[:k] {
		h = append(h, ent{key(s, largest), i})
	}
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(i)
	}
	worst := h[0].key
	rest := scores[k:]
	for j, s := range rest {
		kk := key(s, largest)
		if kk >= worst { // equal key: the later index ranks after
			continue
		}
		h[0] = ent{kk, k + j}
		siftDown(0)
		worst = h[0].key
	}
	slices.SortFunc(h, func(x, y ent) int {
		if worse(y, x) {
			return -1
		}
		if worse(x, y) {
			return 1
		}
		return 0
	})
	for i, e := range h {
		dst[i] = e.idx
	}
	return dst
}
