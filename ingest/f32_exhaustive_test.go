//go:build exhaustive

package ingest

import (
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// TestAppendFloat32Exhaustive checks appendFloat32 against strconv on every
// positive finite float32 (negatives differ only by the sign, which is
// written before the digits). Same rule as checkF32: identical, or an
// exact halfway tie of the same length that reads back to the same float.
// About 2 CPU-minutes per core pair, so it has its own tag:
// `go test -tags exhaustive -run Exhaustive ./ingest/` (make exhaustive-test,
// part of make test).
func TestAppendFloat32Exhaustive(t *testing.T) {
	workers := runtime.GOMAXPROCS(0)
	var mu sync.Mutex
	var bad []string
	ties := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var got, want []byte
			var myBad []string
			myTies := 0
			for u := uint64(1 + w); u < 0x7f800000; u += uint64(workers) {
				f := math.Float32frombits(uint32(u))
				got = appendFloat32(got[:0], f)
				want = strconv.AppendFloat(want[:0], float64(f), 'g', -1, 32)
				if string(got) == string(want) {
					continue
				}
				back, err := strconv.ParseFloat(string(got), 32)
				if err != nil || math.Float32bits(float32(back)) != uint32(u) || len(got) != len(want) {
					if len(myBad) < 10 {
						myBad = append(myBad, strconv.FormatUint(u, 16)+": "+string(got)+" vs strconv "+string(want))
					}
					continue
				}
				myTies++
			}
			mu.Lock()
			bad = append(bad, myBad...)
			ties += myTies
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	for _, b := range bad {
		t.Errorf("appendFloat32 %s", b)
	}
	t.Logf("2,139,095,039 positive finite float32 values: %d halfway ties rounded to even, %d wrong", ties, len(bad))
}
