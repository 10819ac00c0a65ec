//go:build linux

package sysclock

import (
	"os"

	"golang.org/x/sys/unix"
)

// timesyncFlag is the file systemd-timesyncd creates once it has synchronised the clock.
const timesyncFlag = "/run/systemd/timesync/synchronized"

// synchronised reads the kernel clock's state with adjtimex(2) (a read-only call:
// Modes is zero). The kernel answers TIME_ERROR while STA_UNSYNC is set, which it is
// from boot until an NTP client clears it, and again once the maximum error grows past
// 16 s without a correction. Where a seccomp filter refuses adjtimex (systemd's
// ProtectClock=), systemd-timesyncd's flag file answers instead.
func synchronised() bool {
	var t unix.Timex
	state, err := unix.Adjtimex(&t)
	if err != nil {
		_, err := os.Stat(timesyncFlag)
		return err == nil
	}
	return state != unix.TIME_ERROR && t.Status&unix.STA_UNSYNC == 0
}
