//go:build !linux

package slapd

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
