package pq

import (
	"math"
	"runtime"
	"sync"
)

// topK keeps the k smallest (score, id) pairs seen so far in a binary
// max-heap: the worst kept candidate sits at the root, so a new candidate is
// compared with one value and most are rejected without touching the heap.
// Scores are always "lower is better"; inner-product searches push -dot.
type topK struct {
	k   int
	s   []float32
	ids []int64
}

func newTopK(k int) *topK {
	return &topK{k: k, s: make([]float32, 0, k), ids: make([]int64, 0, k)}
}

func (h *topK) reset() { h.s, h.ids = h.s[:0], h.ids[:0] }

// worst is the admission threshold: +Inf until the heap is full.
func (h *topK) worst() float32 {
	if len(h.s) < h.k {
		return float32(math.Inf(1))
	}
	return h.s[0]
}

func (h *topK) push(s float32, id int64) {
	if len(h.s) < h.k {
		h.s = append(h.s, s)
		h.ids = append(h.ids, id)
		i := len(h.s) - 1
		for i > 0 {
			p := (i - 1) / 2
			if h.s[p] >= h.s[i] {
				break
			}
			h.s[p], h.s[i] = h.s[i], h.s[p]
			h.ids[p], h.ids[i] = h.ids[i], h.ids[p]
			i = p
		}
		return
	}
	if s >= h.s[0] {
		return
	}
	h.s[0], h.ids[0] = s, id
	i, n := 0, len(h.s)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.s[l] > h.s[m] {
			m = l
		}
		if r < n && h.s[r] > h.s[m] {
			m = r
		}
		if m == i {
			break
		}
		h.s[m], h.s[i] = h.s[i], h.s[m]
		h.ids[m], h.ids[i] = h.ids[i], h.ids[m]
		i = m
	}
}

// drain writes the kept pairs best first into s and ids (len k each),
// padding with id -1 and score +Inf (externalScores turns that into faiss's
// sentinel); the heap is left empty.
func (h *topK) drain(s []float32, ids []int64) {
	n := len(h.s)
	for i := n; i < h.k; i++ {
		s[i], ids[i] = float32(math.Inf(1)), -1
	}
	for n > 0 {
		s[n-1], ids[n-1] = h.s[0], h.ids[0]
		n--
		h.s[0], h.ids[0] = h.s[n], h.ids[n]
		h.s, h.ids = h.s[:n], h.ids[:n]
		i := 0
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < n && h.s[l] > h.s[m] {
				m = l
			}
			if r < n && h.s[r] > h.s[m] {
				m = r
			}
			if m == i {
				break
			}
			h.s[m], h.s[i] = h.s[i], h.s[m]
			h.ids[m], h.ids[i] = h.ids[i], h.ids[m]
			i = m
		}
	}
	h.reset()
}

// threadsOrDefault maps 0 (or less) to the number of usable cores.
func threadsOrDefault(t int) int {
	if t <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return t
}

// parallelChunks splits [0,n) into at most threads contiguous chunks and runs
// fn on each concurrently. Chunk boundaries depend only on n and threads, so
// work that writes disjoint outputs stays deterministic.
func parallelChunks(n, threads int, fn func(worker, lo, hi int)) {
	threads = threadsOrDefault(threads)
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		lo, hi := n*w/threads, n*(w+1)/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
}

// parallelDynamic hands out [0,n) in blocks of size bs to threads workers as
// they become free; used where the per-item cost varies (IVF lists).
func parallelDynamic(n, bs, threads int, fn func(worker, lo, hi int)) {
	threads = threadsOrDefault(threads)
	nb := (n + bs - 1) / bs
	if threads > nb {
		threads = nb
	}
	if threads <= 1 {
		for lo := 0; lo < n; lo += bs {
			fn(0, lo, min(lo+bs, n))
		}
		return
	}
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += bs
				mu.Unlock()
				if lo >= n {
					return
				}
				fn(w, lo, min(lo+bs, n))
			}
		}()
	}
	wg.Wait()
}

var inf32 = float32(math.Inf(1))
