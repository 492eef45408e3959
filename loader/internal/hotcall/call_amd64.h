// CALL_BX calls the Call in BX with its six argument registers loaded from
// Call.Args, and stores the result (also left in AX) in Call.ret. AL is 0:
// no vector registers, for variadic callees.
#define CALL_BX \
	MOVQ	(Call_Args+0)(BX), DI; \
	MOVQ	(Call_Args+8)(BX), SI; \
	MOVQ	(Call_Args+16)(BX), DX; \
	MOVQ	(Call_Args+24)(BX), CX; \
	MOVQ	(Call_Args+32)(BX), R8; \
	MOVQ	(Call_Args+40)(BX), R9; \
	XORL	AX, AX; \
	MOVQ	Call_fn(BX), R10; \
	CALL	R10; \
	MOVQ	AX, Call_ret(BX)

// PUSH_CALLEE_SAVED and POP_CALLEE_SAVED save and restore the registers
// the C convention has a callee keep, BP included: six pushes.
#define PUSH_CALLEE_SAVED \
	PUSHQ	BX; \
	PUSHQ	BP; \
	PUSHQ	R12; \
	PUSHQ	R13; \
	PUSHQ	R14; \
	PUSHQ	R15

#define POP_CALLEE_SAVED \
	POPQ	R15; \
	POPQ	R14; \
	POPQ	R13; \
	POPQ	R12; \
	POPQ	BP; \
	POPQ	BX
