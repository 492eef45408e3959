#include "textflag.h"
#include "go_asm.h"
#include "call_amd64.h"

// Offsets in the kernel's siginfo_t and ucontext_t on x86-64 (glibc's
// sys/ucontext.h: uc_flags, uc_link and the 24-byte uc_stack come before
// uc_mcontext.gregs, whose REG_RSP is 15, REG_RIP 16 and REG_ERR 19).
#define SI_CODE	8
#define SI_ADDR	16
#define UC_R12	72
#define UC_R13	80
#define UC_R14	88
#define UC_R15	96
#define UC_RBP	120
#define UC_RBX	128
#define UC_RSP	160
#define UC_RIP	168
#define UC_ERR	192
// The page-fault error code's bit for a write access.
#define PF_WRITE	2

#define SYS_rt_sigaction	13
#define SYS_gettid	186

// IN_GUARD jumps to inGuard when R8 lies in guard n.
#define IN_GUARD(n) \
	CMPQ	R8, ·recovery+(recoveryState_guards+n*Guard__size+Guard_Lo)(SB); \
	JLO	4(PC); \
	CMPQ	R8, ·recovery+(recoveryState_guards+n*Guard__size+Guard_Hi)(SB); \
	JHS	2(PC); \
	JMP	inGuard

// faultHandler is the SIGSEGV and SIGBUS handler while recovery is set
// (recover.go says when it recovers). It is entered by the kernel with the
// C calling convention, sig in DI, the siginfo in SI and the ucontext in
// DX, on the thread's signal stack. To recover, it points the interrupted
// context at recovered<>, with the recovering trampoline's stack pointer
// and the callee-saved registers the trampoline pushed, disarms, and
// returns: the kernel's sigreturn then resumes there, with the signal mask
// of before the fault.
TEXT faultHandler<>(SB), NOSPLIT|NOFRAME, $0-0
	CMPQ	·recovery+recoveryState_armed(SB), $0
	JEQ	die
	CMPL	SI_CODE(SI), $0
	JLE	die	// sent by a process, not raised by an access
	TESTQ	$PF_WRITE, UC_ERR(DX)
	JNE	die
	MOVQ	SI_ADDR(SI), R8
	IN_GUARD(0)
	IN_GUARD(1)
	IN_GUARD(2)
	IN_GUARD(3)
	JMP	die
inGuard:
	// The system call keeps DI, SI, DX and R8.
	MOVL	$SYS_gettid, AX
	SYSCALL
	CMPQ	AX, ·recovery+recoveryState_tid(SB)
	JNE	die
	MOVQ	$0, ·recovery+recoveryState_armed(SB)
	MOVQ	DI, ·recovery+recoveryState_sig(SB)
	MOVQ	R8, ·recovery+recoveryState_addr(SB)
	MOVQ	·recovery+recoveryState_sp(SB), CX
	MOVQ	CX, UC_RSP(DX)
	MOVQ	$recovered<>(SB), AX
	MOVQ	AX, UC_RIP(DX)
	// The pushes of recoveringTrampoline, from the top: the Call, R15,
	// R14, R13, R12, BP, BX.
	MOVQ	8(CX), AX
	MOVQ	AX, UC_R15(DX)
	MOVQ	16(CX), AX
	MOVQ	AX, UC_R14(DX)
	MOVQ	24(CX), AX
	MOVQ	AX, UC_R13(DX)
	MOVQ	32(CX), AX
	MOVQ	AX, UC_R12(DX)
	MOVQ	40(CX), AX
	MOVQ	AX, UC_RBP(DX)
	MOVQ	48(CX), AX
	MOVQ	AX, UC_RBX(DX)
	RET
die:
	// As the handler raise(3) with SA_RESETHAND was: the default action
	// back, then the same signal, let in at once by SA_NODEFER.
	MOVQ	DI, R12	// the process ends here: nobody needs R12 back
	LEAQ	·recovery+recoveryState_dfl(SB), SI
	XORL	DX, DX
	MOVL	$8, R10	// sizeof(sigset_t) for the kernel
	MOVL	$SYS_rt_sigaction, AX
	SYSCALL
	MOVQ	R12, DI
	MOVQ	·recovery+recoveryState_raise(SB), AX
	JMP	AX

DATA ·faultHandlerABI0(SB)/8, $faultHandler<>(SB)
GLOBL ·faultHandlerABI0(SB), NOPTR, $8

// recoveringTrampoline makes one Call (DI) as trampoline<> does, armed:
// it saves every register the C convention has the callee keep, so that
// recovered<> can give them back to runtime·asmcgocall however far the
// callee got.
TEXT recoveringTrampoline<>(SB), NOSPLIT|NOFRAME, $0-0
	PUSH_CALLEE_SAVED
	PUSHQ	DI	// the Call, for recovered<>; seven pushes realign SP to 16
	MOVQ	SP, ·recovery+recoveryState_sp(SB)
	MOVQ	$1, ·recovery+recoveryState_armed(SB)
	MOVQ	DI, BX
	CALL_BX
	MOVQ	$0, ·recovery+recoveryState_armed(SB)
	MOVB	$0, Call_faulted(BX)
	POPQ	CX	// the Call
	POP_CALLEE_SAVED
	RET

// recovered<> is where a recovered fault resumes, with SP as the
// recovering trampoline left it after its pushes and the callee-saved
// registers as it pushed them (faultHandler sets both in the context the
// kernel resumes). The callee may have left the direction flag set; the C
// convention (and Go) want it clear.
TEXT recovered<>(SB), NOSPLIT|NOFRAME, $0-0
	CLD
	MOVQ	0(SP), AX
	MOVB	$1, Call_faulted(AX)
	// The trampoline's pops: the handler already put the registers back.
	// An SP adjustment, not POPs, as there were no PUSHes here for the
	// assembler to balance them with.
	ADDQ	$56, SP
	RET

DATA ·recoveringTrampolineABI0(SB)/8, $recoveringTrampoline<>(SB)
GLOBL ·recoveringTrampolineABI0(SB), NOPTR, $8

// keepsRegisters, for the tests (export_test.go), calls
// recoveringTrampoline<> with the Call in DI and every callee-saved
// register set to a known value, and returns in AX how many of them came
// back different: a recovered fault must give back what a return would.
TEXT keepsRegisters<>(SB), NOSPLIT|NOFRAME, $0-0
	// The pushes written out: go vet's frame pointer check reads no macros.
	PUSHQ	BX
	PUSHQ	BP
	PUSHQ	R12
	PUSHQ	R13
	PUSHQ	R14
	PUSHQ	R15
	PUSHQ	DI	// seven pushes realign SP to 16
	MOVQ	$0x1b1b1b1b, BX
	MOVQ	$0x2b2b2b2b, BP
	MOVQ	$0x3c3c3c3c, R12
	MOVQ	$0x4d4d4d4d, R13
	MOVQ	$0x5e5e5e5e, R14
	MOVQ	$0x6f6f6f6f, R15
	CALL	recoveringTrampoline<>(SB)
	XORL	AX, AX
	CMPQ	BX, $0x1b1b1b1b
	JEQ	2(PC)
	INCQ	AX
	CMPQ	BP, $0x2b2b2b2b
	JEQ	2(PC)
	INCQ	AX
	CMPQ	R12, $0x3c3c3c3c
	JEQ	2(PC)
	INCQ	AX
	CMPQ	R13, $0x4d4d4d4d
	JEQ	2(PC)
	INCQ	AX
	CMPQ	R14, $0x5e5e5e5e
	JEQ	2(PC)
	INCQ	AX
	CMPQ	R15, $0x6f6f6f6f
	JEQ	2(PC)
	INCQ	AX
	POPQ	DI
	POP_CALLEE_SAVED
	RET

DATA ·keepsRegistersABI0(SB)/8, $keepsRegisters<>(SB)
GLOBL ·keepsRegistersABI0(SB), NOPTR, $8
