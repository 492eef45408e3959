#include "textflag.h"
#include "go_asm.h"
#include "call_amd64.h"

// The functions here are entered from runtime·asmcgocall with the C calling
// convention: DI holds their argument, the stack is 16-byte aligned minus
// the return address.

// trampoline makes one Call (DI).
TEXT trampoline<>(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ	BX	// callee-saved in C; the push also realigns SP to 16
	MOVQ	DI, BX
	CALL_BX
	POPQ	BX
	RET

DATA ·trampolineABI0(SB)/8, $trampoline<>(SB)
GLOBL ·trampolineABI0(SB), NOPTR, $8

// FAIL records in the AuthCycle (R12) that step failed with result AX,
// and errno as the step left it.
#define FAIL(step) \
	MOVL	$step, AuthCycle_Failed(R12); \
	MOVQ	AX, AuthCycle_Result(R12); \
	MOVQ	AuthCycle_Errno(R12), CX; \
	MOVL	(CX), CX; \
	MOVL	CX, AuthCycle_FailErrno(R12)

// authCycle runs one AuthCycle (DI); cycle.go says what it does, and
// AuthCycle.runEach does the same one call at a time. The C functions keep
// R12 (the AuthCycle), R13 (the credential), R14 (the buffer's offset) and
// R15 (the unpacked copy) for it.
TEXT authCycle<>(SB), NOSPLIT|NOFRAME, $0-0
	// Callee-saved in C; five pushes realign SP to 16.
	PUSHQ	BX
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	MOVQ	DI, R12
	MOVL	$0, AuthCycle_Failed(R12)
	MOVQ	AuthCycle_Errno(R12), AX
	MOVL	$0, (AX)

	MOVQ	AuthCycle_Create(R12), BX
	CALL_BX
	TESTQ	AX, AX
	JZ	createFailed
	MOVQ	AX, R13
	MOVL	$0, (R13)	// the index

	MOVQ	AuthCycle_Processed(R12), R14
	MOVL	$0, (R14)
	MOVQ	AuthCycle_Pack(R12), BX
	MOVQ	R13, (Call_Args+0)(BX)
	CALL_BX
	TESTL	AX, AX
	JNZ	packFailed

	MOVL	$0, (R14)
	MOVQ	AuthCycle_Unpack(R12), BX
	CALL_BX
	TESTQ	AX, AX
	JZ	unpackFailed
	MOVQ	AX, R15
	MOVL	$0, (R15)	// the index

	MOVQ	AuthCycle_Verify(R12), BX
	MOVQ	R15, (Call_Args+0)(BX)
	CALL_BX
	TESTL	AX, AX
	JNZ	verifyFailed

	MOVQ	(AuthCycle_IDs+0)(R12), BX
	MOVQ	R15, (Call_Args+0)(BX)
	CALL_BX
	MOVQ	(AuthCycle_IDs+8)(R12), BX
	TESTQ	BX, BX
	JZ	destroyBoth
	MOVQ	R15, (Call_Args+0)(BX)
	CALL_BX

destroyBoth:
	MOVQ	AuthCycle_Destroy(R12), BX
	MOVQ	R15, (Call_Args+0)(BX)
	CALL_BX
destroyCred:
	MOVQ	AuthCycle_Destroy(R12), BX
	MOVQ	R13, (Call_Args+0)(BX)
	CALL_BX
done:
	POPQ	R15
	POPQ	R14
	POPQ	R13
	POPQ	R12
	POPQ	BX
	RET

createFailed:
	FAIL(const_StepCreate)
	JMP	done
packFailed:
	FAIL(const_StepPack)
	JMP	destroyCred
unpackFailed:
	FAIL(const_StepUnpack)
	JMP	destroyCred
verifyFailed:
	FAIL(const_StepVerify)
	JMP	destroyBoth

DATA ·authCycleABI0(SB)/8, $authCycle<>(SB)
GLOBL ·authCycleABI0(SB), NOPTR, $8
