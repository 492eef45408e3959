package hotcall

import "unsafe"

func registersLost(c *Call) int { return int(runtime_cgocall(keepsRegistersABI0, unsafe.Pointer(c))) }
