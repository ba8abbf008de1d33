//go:build purego

package embed

// puregoBuild is true under -tags purego, where the kernels are the scalar
// fallback: the embedding parity test then checks a subset to stay fast.
const puregoBuild = true
