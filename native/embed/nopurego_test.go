//go:build !purego

package embed

const puregoBuild = false
