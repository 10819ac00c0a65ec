package fpsim_test

import (
	"bytes"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// echo is an engine that sends back what it receives. (No greeting at power-on: the
// host's open flushes whatever arrived before it, as on a real line.)
type echo struct {
	mu  sync.Mutex
	got []byte
	m   *fpsim.Module
}

func (e *echo) PowerOn() (int, []byte) { return 9600, nil }
func (e *echo) Feed(b []byte) {
	e.mu.Lock()
	e.got = append(e.got, b...)
	e.mu.Unlock()
	if e.m != nil {
		e.m.Send(b)
	}
}
func (e *echo) Idle() {}

func start(t *testing.T, cfg fpsim.LineConfig) (*fpsim.Module, *echo) {
	t.Helper()
	e := &echo{}
	m, err := fpsim.NewModule(cfg, nil, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() { m.Close() })
	return m, e
}

func readN(t *testing.T, l *uart.Line, n int, within time.Duration) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(within)
	for len(out) < n {
		k, err := l.Read(t.Context(), buf, deadline)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(out), n, err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// TestPacing: bytes never reach the host faster than the line rate (10 bit times per
// byte at 9600 baud). Only the lower bound is asserted: a busy machine may be slower.
func TestPacing(t *testing.T) {
	m, _ := start(t, fpsim.LineConfig{})
	l, err := uart.Open(m.Path(), 9600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 480
	payload := bytes.Repeat([]byte{0xA5}, n)
	t0 := time.Now()
	m.Send(payload)
	got := readN(t, l, n, 5*time.Second)
	el := time.Since(t0)
	if !bytes.Equal(got, payload) {
		t.Fatal("bytes changed on a clean line")
	}
	if min := uart.WireTime(n, 9600); el < min*98/100 {
		t.Fatalf("%d bytes at 9600 baud arrived in %v, faster than the line allows (%v)", n, el, min)
	}
	t.Logf("%d bytes in %v (line rate %v)", n, el.Round(time.Millisecond), uart.WireTime(n, 9600))
}

// TestReceive: the module gets the host's bytes; at the wrong host speed, it gets garbage.
func TestReceive(t *testing.T) {
	m, e := start(t, fpsim.LineConfig{Unpaced: true})
	l, err := uart.Open(m.Path(), 9600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, l, 5, 2*time.Second); string(got) != "hello" {
		t.Fatalf("echo %q", got)
	}
	if err := l.SetBaud(57600); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.got = nil
	e.mu.Unlock()
	msg := bytes.Repeat([]byte("0123456789"), 10)
	if err := l.Write(msg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	e.mu.Lock()
	got := append([]byte(nil), e.got...)
	e.mu.Unlock()
	if bytes.Contains(got, []byte("0123456789")) {
		t.Fatalf("module read the host's bytes at the wrong speed: %q", got)
	}
	if m.Stats().Garbled == 0 {
		t.Fatal("no garbling counted")
	}
}

// TestUnplugReplug: the link follows the module; the host's port sees the unplug.
func TestUnplugReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "reader")
	m, _ := start(t, fpsim.LineConfig{Link: link, Unpaced: true})
	tty := m.TTY()
	if target, err := os.Readlink(link); err != nil || target != tty {
		t.Fatalf("link -> %q (%v), want %q", target, err, tty)
	}
	l, err := uart.Open(link, 9600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m.Unplug()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link still there after unplug: %v", err)
	}
	buf := make([]byte, 16)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := l.Read(t.Context(), buf, deadline)
		if err == nil {
			continue
		}
		if !errors.Is(err, errUnplugged()) {
			t.Fatalf("read after unplug = %v", err)
		}
		break
	}
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != m.TTY() {
		t.Fatalf("link after replug -> %q, %v", target, err)
	}
	l2, err := uart.Open(link, 9600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestFit(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 10, 8))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	crop := fpsim.Fit(src, 500, fpsim.Sensor{Width: 4, Height: 2, PPI: 500})
	// Centre crop: columns 3..6, rows 3..4.
	want := []uint8{33, 34, 35, 36, 43, 44, 45, 46}
	if !bytes.Equal(crop.Pix, want) {
		t.Fatalf("crop %v, want %v", crop.Pix, want)
	}
	pad := fpsim.Fit(src, 500, fpsim.Sensor{Width: 12, Height: 8, PPI: 500})
	if pad.Pix[0] != 255 || pad.Pix[1] != 0 || pad.Pix[11] != 255 {
		t.Fatalf("padding: %v", pad.Pix[:12])
	}
	scaled := fpsim.Fit(image.NewGray(image.Rect(0, 0, 500, 500)), 500, fpsim.Sensor{Width: 202, Height: 258, PPI: 450})
	if scaled.Bounds().Dx() != 202 || scaled.Bounds().Dy() != 258 {
		t.Fatalf("scaled to %v", scaled.Bounds())
	}
	// 500 px at 500 ppi is 450 px at 450 ppi: the sensor's 258 rows are all inside.
	if scaled.Pix[0] != 0 || scaled.Pix[len(scaled.Pix)-1] != 0 {
		t.Fatal("scaled image padded where the source covers the sensor")
	}
}

func TestDirSource(t *testing.T) {
	ds, err := fpsim.NewDirSource("testdata/sfinge")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ds.Frame(0, 0)
	b, _ := ds.Frame(3, 0)
	c, _ := ds.Frame(0, 1)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("placement 3 of 3 files is not the first file")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("a second frame of a placement is identical despite jitter")
	}
	if _, err := fpsim.NewDirSource(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
}

func TestFingerAuto(t *testing.T) {
	f := fpsim.NewFinger(fpsim.FingerConfig{ArriveDelay: 50 * time.Millisecond, LiftDelay: 20 * time.Millisecond}, false)
	if f.Present() {
		t.Fatal("finger present before anyone asked")
	}
	time.Sleep(60 * time.Millisecond)
	if !f.Present() {
		t.Fatal("finger did not arrive after the host polled")
	}
	if p, fr, ok := f.Capture(); !ok || p != 0 || fr != 0 {
		t.Fatalf("Capture = %d, %d, %v", p, fr, ok)
	}
	f.Uploaded()
	time.Sleep(30 * time.Millisecond)
	if f.Present() {
		t.Fatal("finger still there after the upload")
	}
	time.Sleep(60 * time.Millisecond)
	if !f.Present() || f.Placements() != 2 {
		t.Fatalf("second placement: present %v, placements %d", f.Present(), f.Placements())
	}
}

func errUnplugged() error { return fingerprint.ErrUnplugged }

// A host that dies mid-placement never uploads: with MaxDwell the person still lifts.
func TestFingerAutoMaxDwell(t *testing.T) {
	f := fpsim.NewFinger(fpsim.FingerConfig{ArriveDelay: 10 * time.Millisecond, FramesPerPlacement: 2, MaxDwell: 80 * time.Millisecond}, false)
	f.Present()
	time.Sleep(20 * time.Millisecond)
	if !f.Present() {
		t.Fatal("finger did not arrive")
	}
	f.Capture()
	f.Uploaded() // one of two uploads, then the host is gone
	time.Sleep(30 * time.Millisecond)
	if !f.Present() {
		t.Fatal("finger lifted before MaxDwell with uploads outstanding")
	}
	time.Sleep(70 * time.Millisecond)
	if f.Present() {
		t.Fatal("finger still on the sensor after MaxDwell")
	}
}

// A driver that reads every image twice (the GT-521's strict verification) has uploaded
// one image, not two: the person waits for the second image before lifting.
func TestFingerAutoRereadIsOneImage(t *testing.T) {
	f := fpsim.NewFinger(fpsim.FingerConfig{ArriveDelay: 10 * time.Millisecond, LiftDelay: 10 * time.Millisecond, FramesPerPlacement: 2}, false)
	f.Present()
	time.Sleep(20 * time.Millisecond)
	if !f.Present() {
		t.Fatal("finger did not arrive")
	}
	f.Capture() // a presence check by capture, never uploaded (the GT-521 driver's)
	f.Capture()
	f.Uploaded()
	f.Uploaded() // the same image again
	time.Sleep(30 * time.Millisecond)
	if !f.Present() {
		t.Fatal("finger lifted after one image read twice")
	}
	if _, fr, ok := f.Capture(); !ok || fr != 2 {
		t.Fatalf("second capture: frame %d, ok %v", fr, ok)
	}
	f.Uploaded()
	time.Sleep(30 * time.Millisecond)
	if f.Present() {
		t.Fatal("finger still there after its second image")
	}
}

// TestFingerAutoPatience: a placement that gets no image uploaded ends after Patience
// presence queries (the host's "lift" answer was lost on the line and the finger came
// back; a person does not stay for ever), and an upload restarts the count.
func TestFingerAutoPatience(t *testing.T) {
	f := fpsim.NewFinger(fpsim.FingerConfig{ArriveDelay: time.Microsecond, Patience: 20}, false)
	f.Present()
	time.Sleep(time.Millisecond)
	if !f.Present() {
		t.Fatal("finger did not arrive")
	}
	first := f.Placements()
	for range 10 {
		f.Capture()
	}
	f.Uploaded()
	f.Capture() // frame uploaded: the count starts again; FramesPerPlacement 1 lifts it
	time.Sleep(200 * time.Millisecond)
	if f.Present() {
		t.Fatal("finger still there after its image was uploaded")
	}
	// A placement with no upload at all: lifted after 20 queries, not before.
	time.Sleep(time.Millisecond)
	for !f.Present() {
		time.Sleep(time.Millisecond)
	}
	placed := f.Placements()
	if placed == first {
		t.Fatal("no new placement")
	}
	n := 1
	for ; n < 100 && f.Present() && f.Placements() == placed; n++ {
	}
	if n < 20 || n > 22 {
		t.Fatalf("an idle placement lasted %d presence queries, want about 20", n)
	}
	never := fpsim.NewFinger(fpsim.FingerConfig{ArriveDelay: time.Microsecond, Patience: -1}, false)
	never.Present()
	time.Sleep(time.Millisecond)
	for i := 0; i < 500; i++ {
		if !never.Present() {
			t.Fatalf("a finger with Patience -1 lifted after %d queries", i)
		}
	}
}

// baudEngine is a module that powers on at baud and ignores the host.
type baudEngine struct{ baud int }

func (e *baudEngine) PowerOn() (int, []byte) { return e.baud, nil }
func (e *baudEngine) Feed([]byte)            {}
func (e *baudEngine) Idle()                  {}

// TestStallRatePerByte: StallRate is a rate per byte at any speed (a stall drawn inside
// a chunk used to be thrown away, so at 115200 baud only about 1 in 20 happened).
func TestStallRatePerByte(t *testing.T) {
	for _, baud := range []int{9600, 115200} {
		n := baud / 10 / 2 // half a second of bytes
		m, err := fpsim.NewModule(fpsim.LineConfig{StallRate: 0.01, Stall: 100 * time.Microsecond, Seed: 3}, nil, &baudEngine{baud}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := uart.Open(m.Path(), baud, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.Send(bytes.Repeat([]byte{0x5A}, n))
		readN(t, l, n, 20*time.Second)
		st := m.Stats()
		l.Close()
		m.Close()
		// Binomial(n, 0.01): mean n/100, sd about sqrt(n/100).
		want := float64(n) / 100
		if sd := math.Sqrt(want); math.Abs(float64(st.Stalls)-want) > 4*sd+1 {
			t.Errorf("baud %d: %d stalls in %d bytes, want about %.0f", baud, st.Stalls, n, want)
		}
	}
}
