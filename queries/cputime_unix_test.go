//go:build unix

package queries

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system). On a
// machine shared with other work, CPU time per operation is a steadier
// figure than wall time, which also counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
