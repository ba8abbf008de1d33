//go:build !(amd64 || arm64) || purego || noasm

package native

// registerAsm has nothing to register without assembly kernels.
func registerAsm() {}

func gemmKernels() []gemmKernel { return []gemmKernel{gemmGeneric} }
