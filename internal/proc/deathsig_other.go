//go:build !linux

package proc

import "syscall"

// SetDeathSignal does nothing where the kernel cannot do it.
func SetDeathSignal(*syscall.SysProcAttr) {}
