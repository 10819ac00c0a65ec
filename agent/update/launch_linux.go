package update

import "syscall"

// childAttr makes a trial child die with its launcher: if the launcher is killed
// (kill -9, OOM), no unwatched trial keeps running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
