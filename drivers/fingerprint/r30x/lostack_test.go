package r30x_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// flipNoFinger damages the checksum of the first "no finger" acknowledgement (PID 07,
// length 3, code 02) read after it is armed.
type flipNoFinger struct {
	uart.Port
	armed, fired *atomic.Bool
}

func (p *flipNoFinger) Read(b []byte) (int, error) {
	n, err := p.Port.Read(b)
	if n > 0 && p.armed.Load() && !p.fired.Load() {
		if i := bytes.Index(b[:n], []byte{0x07, 0x00, 0x03, 0x02}); i >= 0 && i+5 < n {
			b[i+5] ^= 0x01
			p.fired.Store(true)
		}
	}
	return n, err
}

// TestWaitLiftAfterLostNoFinger: the one "no finger" answer that ends WaitLift is damaged
// on the line; the driver retries only after its timeout, by which time the simulated
// person has put the finger back. That placement gets no image, so the person lifts
// again after a while (fpsim Patience) and WaitLift ends — it used to wait for ever.
func TestWaitLiftAfterLostNoFinger(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200})
	ctx := ctxT(t, 2*time.Minute)
	var armed, fired atomic.Bool
	line, err := uart.Open(s.Path(), 115200, &uart.Opts{Opener: func(path string, baud int) (uart.Port, error) {
		p, err := uart.TarmOpener(path, baud)
		if err != nil {
			return nil, err
		}
		return &flipNoFinger{Port: p, armed: &armed, fired: &fired}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r30x.New(ctx, line, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WaitFinger(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Capture(ctx); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := d.WaitLift(lctx); err != nil {
		t.Fatalf("WaitLift after one damaged answer: %v after %v", err, time.Since(t0).Round(time.Millisecond))
	}
	if !fired.Load() {
		t.Fatal("no answer was damaged; the test proves nothing")
	}
	t.Logf("WaitLift ended %v after the damaged answer", time.Since(t0).Round(time.Millisecond))
}
