//go:build amd64 && !purego && !noasm

#include "textflag.h"

// func cpuidVendorFamily() (ebx, ecx, edx, eax1 uint32)
// CPUID leaf 0 (vendor string in EBX, EDX, ECX) and leaf 1 EAX (family).
TEXT ·cpuidVendorFamily(SB), NOSPLIT, $0-16
	XORL AX, AX
	XORL CX, CX
	CPUID
	MOVL BX, ebx+0(FP)
	MOVL CX, ecx+4(FP)
	MOVL DX, edx+8(FP)
	MOVL $1, AX
	XORL CX, CX
	CPUID
	MOVL AX, eax1+12(FP)
	RET
