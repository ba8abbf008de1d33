//go:build !unix

package queries

import "time"

// cpuTime is not measured here; the cpu-µs/op metric then reads 0.
func cpuTime() time.Duration { return 0 }
