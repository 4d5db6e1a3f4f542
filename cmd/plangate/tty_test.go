package main_test

import "syscall"

// noControllingTTY starts a child in a new session, without a controlling
// terminal, as CI runs it.
func noControllingTTY() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
