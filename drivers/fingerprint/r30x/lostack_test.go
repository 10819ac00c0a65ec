package r30x_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
	"github.com/captura-claim/captura/drivers/fingerprint/uart/uarttest"
)

// TestWaitLiftAfterLostNoFinger: the one "no finger" answer that ends WaitLift is damaged
// on the line; the driver retries only after its timeout, by which time the simulated
// person has put the finger back. That placement gets no image, so the person lifts
// again after a while (fpsim Patience) and WaitLift ends — it used to wait for ever.
func TestWaitLiftAfterLostNoFinger(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200})
	ctx := ctxT(t, 2*time.Minute)
	// Damage the checksum of the first "no finger" acknowledgement (PID 07, length 3,
	// code 02) once armed.
	var armed atomic.Bool
	dmg := &uarttest.Damage{Hit: func(b []byte) bool {
		if !armed.Load() {
			return false
		}
		i := bytes.Index(b, []byte{0x07, 0x00, 0x03, 0x02})
		if i < 0 || i+5 >= len(b) {
			return false
		}
		b[i+5] ^= 0x01
		return true
	}}
	line := uarttest.Open(t, s.Path(), 115200, dmg)
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
	if !dmg.Fired() {
		t.Fatal("no answer was damaged; the test proves nothing")
	}
	t.Logf("WaitLift ended %v after the damaged answer", time.Since(t0).Round(time.Millisecond))
}

// TestLateAnswerAfterCancel: a WaitFinger whose context ends while GenImg is in flight
// leaves the module's answer to come; with a module slower than the 250 ms quiet window
// (600 ms per image, within the family's datasheets), that answer must not be taken for
// the next command's. It used to be: Capture with a finger on the sensor said "no finger".
func TestLateAnswerAfterCancel(t *testing.T) {
	m := r30xsim.Models["R307"]
	m.Name = "R307"
	m.GenImgEmpty, m.GenImgFinger = 600*time.Millisecond, 600*time.Millisecond
	r30xsim.Models["R307-slow-test"] = m
	s := startSim(t, r30xsim.Config{Model: "R307-slow-test", Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 115200, &r30x.Opts{Model: "R307"})
	if err := d.WaitLift(ctx); err != nil { // a clean line to start from
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	err := d.WaitFinger(wctx) // no finger; GenImg is in flight when the context ends
	cancel()
	if err == nil {
		t.Fatal("WaitFinger without a finger returned nil")
	}
	s.Place()
	if _, err := d.Capture(ctx); err != nil {
		t.Fatalf("Capture with the finger on the sensor after an interrupted GenImg: %v", err)
	}
	if _, err := d.Capture(ctx); err != nil || d.LastTransfer().Uploads != 1 {
		t.Fatalf("next Capture: %v, %d uploads (answers still off by one?)", err, d.LastTransfer().Uploads)
	}
}

// TestHaltDuringUploadSwitchesLEDOff: Halt in the middle of an image upload stops it and
// still switches the LED off, once the rest of the upload has drained (3.5 s at 57600).
func TestHaltDuringUploadSwitchesLEDOff(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 57600, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 57600, &r30x.Opts{TargetBaud: -1})
	if err := d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOn}); err != nil {
		t.Fatal(err)
	}
	s.Place()
	errc := make(chan error, 1)
	go func() { _, err := d.Capture(ctx); errc <- err }()
	time.Sleep(600 * time.Millisecond) // GenImg, then the upload has begun
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt during an upload: %v", err)
	}
	if err := <-errc; !errors.Is(err, uart.ErrHalted) {
		t.Fatalf("Capture = %v, want ErrHalted", err)
	}
	if c := s.LED().Control; c != 4 {
		t.Fatalf("aura control %d after Halt, want 4 (off)", c)
	}
}

// TestProdInfoNoiseOnOldModule: an R307 answers ReadProdInfo with "error receiving the
// packet" (it does not know it); one of those answers damaged by noise must not make
// opening the module fail.
func TestProdInfoNoiseOnOldModule(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R307", Baud: 115200})
	ctx := ctxT(t, 60*time.Second)
	dmg := &uarttest.Damage{Arm: func(w []byte) bool { return len(w) > 9 && w[9] == r30x.InsReadProdInfo }, Hit: uarttest.FlipLast}
	line := uarttest.Open(t, s.Path(), 115200, dmg)
	d, err := r30x.New(ctx, line, &r30x.Opts{Model: "R307", TargetBaud: -1})
	if err != nil {
		t.Fatalf("R307 with one damaged answer to ReadProdInfo: %v", err)
	}
	if !dmg.Fired() {
		t.Fatal("no answer was damaged; the test proves nothing")
	}
	if info := d.Info(); info.Model != "R307" || info.Width != 256 {
		t.Fatalf("info %+v", info)
	}
}

// TestInfoDuringUpload: Info answers at once while an upload holds the module (the
// station's status report must not wait seconds for it).
func TestInfoDuringUpload(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 57600, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 57600, &r30x.Opts{TargetBaud: -1})
	s.Place()
	errc := make(chan error, 1)
	go func() { _, err := d.Capture(ctx); errc <- err }()
	time.Sleep(600 * time.Millisecond) // GenImg, then the upload has begun
	t0 := time.Now()
	info := d.Info()
	if el := time.Since(t0); el > 200*time.Millisecond || info.Model == "" {
		t.Errorf("Info during an upload took %v (%+v)", el, info)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestLostBaudAck: the module switched speed but its acknowledge was damaged; the driver
// finds it at the new speed instead of failing (and leaving it unreachable at the old).
func TestLostBaudAck(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R307"})
	ctx := ctxT(t, 60*time.Second)
	dmg := &uarttest.Damage{Arm: func(w []byte) bool { return bytes.Index(w, []byte{r30x.InsSetSysPara, r30x.RegBaud}) == 9 }, Hit: uarttest.FlipLast}
	line := uarttest.Open(t, s.Path(), 57600, dmg)
	d, err := r30x.New(ctx, line, &r30x.Opts{Model: "R307"})
	if err != nil {
		t.Fatalf("New after a damaged speed-change acknowledge: %v (module at %d baud, line at %d)", err, s.Baud(), line.Baud())
	}
	if !dmg.Fired() {
		t.Fatal("no acknowledge was damaged; the test proves nothing")
	}
	if line.Baud() != 115200 || s.Baud() != 115200 || d.Info().Baud != 115200 {
		t.Fatalf("line %d, module %d, info %d; want 115200", line.Baud(), s.Baud(), d.Info().Baud)
	}
}
