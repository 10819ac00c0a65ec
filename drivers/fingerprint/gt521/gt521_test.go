package gt521_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
	"github.com/captura-claim/captura/drivers/fingerprint/uart/uarttest"
)

var long = flag.Bool("long", false, "run the long faithful-pacing tests (minutes)")

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// vectors: packets worked out by hand (little-endian, sum of the first ten bytes).
var vectors = []struct {
	name string
	raw  string
	p    gt521.Packet
}{
	{"Open", "55AA 0100 00000000 0100 0101", gt521.Packet{Param: 0, Cmd: gt521.CmdOpen}},
	{"Open with info", "55AA 0100 01000000 0100 0201", gt521.Packet{Param: 1, Cmd: gt521.CmdOpen}},
	{"CmosLed on", "55AA 0100 01000000 1200 1301", gt521.Packet{Param: 1, Cmd: gt521.CmdCmosLed}},
	{"ChangeBaudrate 115200", "55AA 0100 00C20100 0400 C701", gt521.Packet{Param: 115200, Cmd: gt521.CmdChangeBaudrate}},
	{"ACK", "55AA 0100 00000000 3000 3001", gt521.Packet{Param: 0, Cmd: gt521.Ack}},
	{"NACK finger not pressed", "55AA 0100 12100000 3100 5301", gt521.Packet{Param: 0x1012, Cmd: gt521.Nack}},
}

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		raw := unhex(v.raw)
		if got := v.p.Encode(); !bytes.Equal(got, raw) {
			t.Errorf("%s: Encode = % X, want % X", v.name, got, raw)
		}
		p, n, err := gt521.Decode(raw)
		if err != nil || n != 12 || p != v.p {
			t.Errorf("%s: Decode = %+v, %d, %v", v.name, p, n, err)
		}
	}
	data := unhex("5AA5 0100 01 02 03 0601")
	if got := gt521.EncodeData([]byte{1, 2, 3}); !bytes.Equal(got, data) {
		t.Errorf("EncodeData = % X, want % X", got, data)
	}
	if b, err := gt521.DecodeData(data, 3); err != nil || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("DecodeData = % X, %v", b, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want error
	}{
		{"", gt521.ErrShort},
		{"55", gt521.ErrShort},
		{"56", gt521.ErrSync},
		{"55AB", gt521.ErrSync},
		{"55AA 0200", gt521.ErrHeader},
		{"55AA 0100 00000000 30", gt521.ErrShort},
		{"55AA 0100 00000000 3000 3101", gt521.ErrChecksum},
	} {
		if _, _, err := gt521.Decode(unhex(tc.raw)); !errors.Is(err, tc.want) {
			t.Errorf("Decode(%s) = %v, want %v", tc.raw, err, tc.want)
		}
	}
	for _, tc := range []struct {
		raw  string
		size int
		want error
	}{
		{"5AA5 0100 01 02", 3, gt521.ErrShort},
		{"5AA6 0100 01 02 03 0601", 3, gt521.ErrSync},
		{"5AA5 0100 01 02 03 0701", 3, gt521.ErrChecksum},
	} {
		if _, err := gt521.DecodeData(unhex(tc.raw), tc.size); !errors.Is(err, tc.want) {
			t.Errorf("DecodeData(%s) = %v, want %v", tc.raw, err, tc.want)
		}
	}
}

// FuzzDecode: never panics; a decoded packet encodes back to its bytes.
func FuzzDecode(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(v.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := gt521.Decode(b)
		if err != nil {
			return
		}
		if n != 12 || !bytes.Equal(p.Encode(), b[:12]) {
			t.Fatalf("decode/encode mismatch: % X -> %+v", b[:n], p)
		}
		if q, _, err := gt521.Decode(p.Encode()); err != nil || q != p {
			t.Fatalf("decode(encode(p)) = %+v, %v", q, err)
		}
	})
}

// FuzzDecodeData: never panics; decoded data re-encodes to the packet.
func FuzzDecodeData(f *testing.F) {
	f.Add(unhex("5AA5 0100 01 02 03 0601"), 3)
	f.Add(gt521.EncodeData(make([]byte, 24)), 24)
	f.Add([]byte{0x5A}, 0)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		data, err := gt521.DecodeData(b, size)
		if err != nil {
			return
		}
		if len(data) != size || !bytes.Equal(gt521.EncodeData(data), b[:size+6]) {
			t.Fatalf("size %d: % X does not re-encode", size, b)
		}
	})
}

const images = "../fpsim/testdata/sfinge"

func startSim(t *testing.T, cfg gt521sim.Config) *gt521sim.Sim {
	t.Helper()
	if cfg.Images == "" && cfg.Source == nil {
		cfg.Images = images
	}
	s, err := gt521sim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, ctx context.Context, s *gt521sim.Sim, baud int, o *gt521.Opts) *gt521.Dev {
	t.Helper()
	d, err := gt521.Open(ctx, s.Path(), baud, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestCapture: factory 9600, the upgrade to 115200, identification, a capture verified
// by two identical uploads, a template and the CMOS LED.
func TestCapture(t *testing.T) {
	s := startSim(t, gt521sim.Config{Model: "GT-521F32"})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 9600, nil)
	info := d.Info()
	if info.Model != "GT-521F32" || info.Capacity != 200 || info.Baud != 115200 || info.Width != 202 || info.Height != 258 || info.BitDepth != 8 {
		t.Fatalf("Info = %+v", info)
	}
	if err := d.WaitFinger(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.LEDOn() {
		t.Error("LED off while waiting for a finger")
	}
	img, err := d.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Gray.Pix, s.LastImage().Pix) {
		t.Fatal("captured image differs from the module's")
	}
	if tr := d.LastTransfer(); tr.Uploads != 2 || tr.BoundBytes != 202*258+6 {
		t.Errorf("transfer %+v, want 2 uploads of 52122 bytes", tr)
	}
	if tmpl, err := d.Template(ctx); err != nil || len(tmpl) != 498 {
		t.Fatalf("Template = %d bytes, %v", len(tmpl), err)
	}
	if err := d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDBreathing}); !errors.Is(err, fingerprint.ErrUnsupported) {
		t.Errorf("breathing LED = %v, want ErrUnsupported", err)
	}
	if err := d.Halt(); err != nil || s.LEDOn() {
		t.Errorf("Halt = %v, LED on = %v", err, s.LEDOn())
	}
}

// TestNoiseIntegrity: with 1e-3 bit noise both ways, every image equals the module's or
// the capture fails with ErrCorrupt. The image is one 52 KB packet that is never clean
// at this rate, so only the byte vote over repeated uploads can deliver it.
func TestNoiseIntegrity(t *testing.T) {
	captures := 1
	if *long {
		captures = 4
	}
	s := startSim(t, gt521sim.Config{Baud: 115200, LineConfig: fpsim.LineConfig{Noise: 1e-3, Seed: 11}})
	ctx := ctxT(t, 5*time.Minute)
	d := open(t, ctx, s, 115200, nil)
	ok := 0
	for i := 0; i < captures; i++ {
		if err := d.WaitFinger(ctx); err != nil {
			t.Fatal(err)
		}
		img, err := d.Capture(ctx)
		tr := d.LastTransfer()
		switch {
		case err == nil:
			if !bytes.Equal(img.Gray.Pix, s.LastImage().Pix) {
				t.Fatalf("capture %d: silently corrupted image", i)
			}
			ok++
			t.Logf("capture %d: identical after %d uploads, %v", i, tr.Uploads, tr.Elapsed.Round(time.Millisecond))
		case errors.Is(err, fingerprint.ErrCorrupt):
			t.Logf("capture %d: failed cleanly: %v", i, err)
		default:
			t.Fatalf("capture %d: %v", i, err)
		}
		if err := d.WaitLift(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.NoiseTx == 0 {
		t.Fatal("no noise injected")
	} else {
		t.Logf("%d bytes damaged towards the host, %d lost to host overruns", st.NoiseTx, st.Overruns)
	}
	if ok == 0 {
		t.Error("no capture succeeded")
	}
}

// TestPressErratum: on boards whose IsPressFinger always says "pressed", the driver
// notices and waits with captures instead.
func TestPressErratum(t *testing.T) {
	s := startSim(t, gt521sim.Config{Baud: 115200, PressAlwaysTrue: true, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	done := make(chan error, 1)
	go func() { done <- d.WaitFinger(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("WaitFinger returned %v with no finger on the sensor", err)
	case <-time.After(1500 * time.Millisecond):
	}
	s.Place()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !d.PressUnreliable() {
		t.Error("erratum not detected")
	}
	s.Lift()
	if err := d.WaitLift(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUnplugDuringUpload: the image upload (4.5 s at 115200) fails within 2 s of the
// pty vanishing.
func TestUnplugDuringUpload(t *testing.T) {
	s := startSim(t, gt521sim.Config{Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	s.Place()
	errc := make(chan error, 1)
	go func() { _, err := d.Capture(ctx); errc <- err }()
	time.Sleep(2 * time.Second)
	s.Unplug()
	t0 := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, fingerprint.ErrUnplugged) {
			t.Fatalf("Capture = %v, want ErrUnplugged", err)
		}
		if el := time.Since(t0); el > 2*time.Second {
			t.Fatalf("failed %v after the unplug", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Capture still running 5 s after the unplug")
	}
}

// TestSilent: a module that stops answering never hangs a call.
func TestSilent(t *testing.T) {
	s := startSim(t, gt521sim.Config{Baud: 115200})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, &gt521.Opts{Timeout: 200 * time.Millisecond})
	s.SetSilent(true)
	t0 := time.Now()
	if err := d.WaitFinger(ctx); !errors.Is(err, fingerprint.ErrSilent) {
		t.Fatalf("WaitFinger = %v, want ErrSilent", err)
	}
	if _, err := d.Capture(ctx); !errors.Is(err, fingerprint.ErrSilent) {
		t.Fatalf("Capture = %v, want ErrSilent", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("two calls on a silent module took %v", el)
	}
}

// TestHaltWait: Halt ends a WaitFinger at once and switches the LED off.
func TestHaltWait(t *testing.T) {
	s := startSim(t, gt521sim.Config{Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	errc := make(chan error, 1)
	go func() { errc <- d.WaitFinger(ctx) }()
	time.Sleep(300 * time.Millisecond)
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, uart.ErrHalted) {
		t.Fatalf("WaitFinger = %v, want ErrHalted", err)
	}
	if s.LEDOn() {
		t.Error("LED still on after Halt")
	}
}

// TestHaltDuringUpload: Halt in the middle of an image upload stops it and still
// switches the LED off once the rest of the image has drained (about 4.5 s at 115200).
func TestHaltDuringUpload(t *testing.T) {
	s := startSim(t, gt521sim.Config{Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 115200, nil)
	s.Place()
	errc := make(chan error, 1)
	go func() { _, err := d.Capture(ctx); errc <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for s.Captures() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(800 * time.Millisecond) // into the upload
	if err := d.Halt(); err != nil {
		t.Fatalf("Halt during an upload: %v", err)
	}
	if err := <-errc; !errors.Is(err, uart.ErrHalted) {
		t.Fatalf("Capture = %v, want ErrHalted", err)
	}
	if s.LEDOn() {
		t.Error("LED still on after Halt")
	}
}

// TestLostBaudAck: the module changed speed but its ACK was damaged; the driver finds it
// at the new speed instead of failing.
func TestLostBaudAck(t *testing.T) {
	s := startSim(t, gt521sim.Config{})
	ctx := ctxT(t, 60*time.Second)
	dmg := &uarttest.Damage{Arm: func(w []byte) bool { return len(w) == gt521.PacketLen && w[8] == byte(gt521.CmdChangeBaudrate) }, Hit: uarttest.FlipLast}
	line := uarttest.Open(t, s.Path(), 9600, dmg)
	d, err := gt521.New(ctx, line, nil)
	if err != nil {
		t.Fatalf("New after a damaged ChangeBaudrate ACK: %v (module at %d, line at %d)", err, s.Baud(), line.Baud())
	}
	if !dmg.Fired() {
		t.Fatal("no ACK was damaged; the test proves nothing")
	}
	if line.Baud() != s.Baud() || line.Baud() == 9600 || d.Info().Baud != line.Baud() {
		t.Fatalf("line %d, module %d, info %d", line.Baud(), s.Baud(), d.Info().Baud)
	}
}
