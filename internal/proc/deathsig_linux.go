package proc

import "syscall"

// SetDeathSignal makes the kernel kill a server when the process that
// started it dies, so that a crashed test or scimgate dev leaves no server behind.
func SetDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
