//go:build !amd64

package membw

// ReadSum reads every byte of p once (len a multiple of 256) and returns a
// checksum, so the reads cannot be optimized away.
func ReadSum(p []byte) uint64 { return readSumGo(p) }
