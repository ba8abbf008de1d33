//go:build unix

package bridge

import (
	"errors"
	"syscall"
)

// processGone: signal 0 checks existence without touching the process.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
