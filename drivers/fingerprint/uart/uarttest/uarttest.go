// Package uarttest damages chosen bytes on a real serial line, for driver tests that need
// one fault at one exact place (an acknowledge lost, an answer corrupted) rather than
// the simulator's random noise.
package uarttest

import (
	"sync/atomic"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// Damage wraps a port: once Arm has seen a written command (nil: from the start), the
// first read for which Hit returns true is changed by it, and no other.
type Damage struct {
	uart.Port
	Arm func(written []byte) bool
	// Hit may change the n bytes read into b; it reports whether it did.
	Hit func(b []byte) bool

	armed, fired atomic.Bool
}

// Fired reports whether the damage was done (a test that never fired proves nothing).
func (d *Damage) Fired() bool { return d.fired.Load() }

func (d *Damage) Write(b []byte) (int, error) {
	if d.Arm != nil && !d.fired.Load() && d.Arm(b) {
		d.armed.Store(true)
	}
	return d.Port.Write(b)
}

func (d *Damage) Read(b []byte) (int, error) {
	n, err := d.Port.Read(b)
	if n > 0 && (d.Arm == nil || d.armed.Load()) && !d.fired.Load() && d.Hit(b[:n]) {
		d.fired.Store(true)
	}
	return n, err
}

// Open opens path at baud with every port the line opens wrapped by d.
func Open(t testing.TB, path string, baud int, d *Damage) *uart.Line {
	t.Helper()
	l, err := uart.Open(path, baud, &uart.Opts{Opener: func(path string, baud int) (uart.Port, error) {
		p, err := uart.TarmOpener(path, baud)
		if err != nil {
			return nil, err
		}
		d.Port = p
		return d, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// FlipLast flips the lowest bit of the last byte read (a checksum byte, for an answer
// read whole).
func FlipLast(b []byte) bool {
	b[len(b)-1] ^= 0x01
	return true
}
