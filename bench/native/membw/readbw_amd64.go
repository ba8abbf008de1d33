package membw

import "golang.org/x/sys/cpu"

//go:noescape
func readSumAVX2(p []byte) uint64

// ReadSum reads every byte of p once (len a multiple of 256) and returns a
// checksum, so the reads cannot be optimized away.
func ReadSum(p []byte) uint64 {
	if cpu.X86.HasAVX2 {
		return readSumAVX2(p)
	}
	return readSumGo(p)
}
