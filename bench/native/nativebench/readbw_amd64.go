package main

import "golang.org/x/sys/cpu"

//go:noescape
func readSumAVX2(p []byte) uint64

func readSum(p []byte) uint64 {
	if cpu.X86.HasAVX2 {
		return readSumAVX2(p)
	}
	return readSumGo(p)
}
