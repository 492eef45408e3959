#include "textflag.h"

// trampoline is entered from runtime·asmcgocall with the C calling
// convention: DI holds the *Call, the stack is 16-byte aligned minus the
// return address. It loads the six argument registers from the Call, calls
// Call.fn and stores RAX in Call.ret.
TEXT trampoline<>(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BX               // callee-saved in C; the push also realigns SP to 16
	MOVQ  DI, BX           // BX: the Call, kept across the call
	MOVQ  8(BX), DI
	MOVQ  16(BX), SI
	MOVQ  24(BX), DX
	MOVQ  32(BX), CX
	MOVQ  40(BX), R8
	MOVQ  48(BX), R9
	XORL  AX, AX           // no vector registers used, for variadic callees
	MOVQ  0(BX), R10
	CALL  R10
	MOVQ  AX, 56(BX)
	POPQ  BX
	RET

DATA ·trampolineABI0(SB)/8, $trampoline<>(SB)
GLOBL ·trampolineABI0(SB), NOPTR, $8
