package hotcall

import "unsafe"

// trampolineABI0 is the address of the assembly trampoline (trampoline_amd64.s).
var trampolineABI0 uintptr

// runtime.cgocall switches to the system stack and runs fn(arg) with the C
// calling convention, the goroutine marked as in a system call. purego
// reaches it the same way, and it needs what purego provides in a
// CGO_ENABLED=0 build: the runtime set up as for cgo (purego's internal
// replacement for the cgo runtime, linked in by importing purego).
//
//go:linkname runtime_cgocall runtime.cgocall
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

func call(c *Call) { runtime_cgocall(trampolineABI0, unsafe.Pointer(c)) }

// authCycleABI0 is the address of the assembly cycle (trampoline_amd64.s).
var authCycleABI0 uintptr

func runAuthCycle(c *AuthCycle) { runtime_cgocall(authCycleABI0, unsafe.Pointer(c)) }

// faultHandlerABI0 and recoveringTrampolineABI0 are the addresses of the
// fault handler and the recovering trampoline (recover_amd64.s).
var faultHandlerABI0, recoveringTrampolineABI0 uintptr

func faultHandlerAddr() uintptr { return faultHandlerABI0 }

func callRecovering(c *Call) { runtime_cgocall(recoveringTrampolineABI0, unsafe.Pointer(c)) }

// keepsRegistersABI0 is a test's check of recoveringTrampoline
// (recover_amd64.s, export_test.go).
var keepsRegistersABI0 uintptr
