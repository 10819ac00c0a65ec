// Package sysclock tells whether the system clock is known to be right.
//
// A station is a Raspberry Pi-class board without a battery-backed clock: it boots with
// the time it saved at shutdown (fake-hwclock) or with 1970, and only NTP sets it right.
// Anything that acts on the age of data (the outbox's retention limit) must wait for
// that, or a stale clock followed by a correction would make records that were never
// sent look months old.
package sysclock

// Synchronised reports whether the kernel considers the system clock synchronised: an
// NTP client (systemd-timesyncd, chrony, ntpd) has disciplined it and the kernel's
// maximum error is bounded. On systems other than Linux it reports true.
func Synchronised() bool { return synchronised() }
