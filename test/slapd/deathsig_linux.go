package slapd

import "syscall"

// setDeathSignal makes the kernel kill slapd when the process that started
// it dies, so that a crashed test leaves no server behind.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
