package detect_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/detect"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
)

const images = "../fpsim/testdata/sfinge"

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type closer interface{ Close() error }

// TestOpen: detection finds each family at a speed other than its factory one.
func TestOpen(t *testing.T) {
	tests := []struct {
		name     string
		start    func() (string, closer, error)
		family   string
		wantBaud int
	}{
		{"R307 already at 115200", func() (string, closer, error) {
			s, err := r30xsim.Start(r30xsim.Config{Model: "R307", Baud: 115200, Images: images})
			if err != nil {
				return "", nil, err
			}
			return s.Path(), s, nil
		}, "r30x", 115200},
		{"AS608 at 19200", func() (string, closer, error) {
			s, err := r30xsim.Start(r30xsim.Config{Model: "AS608", Baud: 19200, BaudApply: r30xsim.BaudIgnored, Images: images})
			if err != nil {
				return "", nil, err
			}
			return s.Path(), s, nil
		}, "r30x", 19200},
		{"GT-521F52 left at 57600", func() (string, closer, error) {
			s, err := gt521sim.Start(gt521sim.Config{Baud: 57600, BaudPersists: true, Images: images})
			if err != nil {
				return "", nil, err
			}
			return s.Path(), s, nil
		}, "gt521", 115200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, s, err := tc.start()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := ctxT(t, 60*time.Second)
			t0 := time.Now()
			r, err := detect.Open(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			info := r.Info()
			if info.Family != tc.family || info.Baud != tc.wantBaud {
				t.Fatalf("found %s: %+v", r, info)
			}
			switch r.(type) {
			case *r30x.Dev, *gt521.Dev:
			default:
				t.Fatalf("Open returned %T", r)
			}
			t.Logf("%s found in %v", r, time.Since(t0).Round(time.Millisecond))
		})
	}
}

func TestOpenNothing(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	if _, err := detect.Open(ctx, filepath.Join(t.TempDir(), "none"), nil); !errors.Is(err, fingerprint.ErrUnplugged) {
		t.Fatalf("Open of a missing path = %v, want ErrUnplugged", err)
	}
	s, err := r30xsim.Start(r30xsim.Config{Images: images})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetSilent(true)
	t0 := time.Now()
	if _, err := detect.Open(ctx, s.Path(), nil); !errors.Is(err, fingerprint.ErrSilent) {
		t.Fatalf("Open of a silent module = %v, want ErrSilent", err)
	}
	t.Logf("gave up after %v", time.Since(t0).Round(time.Millisecond))
}

type events struct {
	mu sync.Mutex
	ev []detect.Event
	ch chan detect.Event
}

func (e *events) add(ev detect.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

func (e *events) wait(t *testing.T, st detect.State) detect.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.State == st {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", st)
		}
	}
}

// TestHotplug: a capture in progress fails within 2 s of the unplug with ErrUnplugged;
// when the link reappears the wrapper reopens the reader without being restarted and the
// next capture works. Every change is reported.
func TestHotplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "captura-reader")
	s, err := r30xsim.Start(r30xsim.Config{Model: "R503", Baud: 115200, Images: images,
		LineConfig: fpsim.LineConfig{Link: link}, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := &events{ch: make(chan detect.Event, 16)}
	h := detect.NewHotplug(link, &detect.HotplugOpts{OnState: ev.add, Poll: 200 * time.Millisecond})
	defer h.Close()
	ctx := ctxT(t, 2*time.Minute)
	go h.Run(ctx)
	if got := ev.wait(t, detect.StateReady); got.Info.Model != "R503" || got.Path != link {
		t.Fatalf("ready event %+v", got)
	}
	s.Place()
	errc := make(chan error, 1)
	go func() { _, err := h.Capture(ctx); errc <- err }()
	time.Sleep(900 * time.Millisecond) // GenImg 0.15 s, then 1.7 s of upload
	s.Unplug()
	t0 := time.Now()
	if err := <-errc; !errors.Is(err, fingerprint.ErrUnplugged) {
		t.Fatalf("Capture = %v, want ErrUnplugged", err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("Capture failed %v after the unplug", el)
	}
	ev.wait(t, detect.StateUnplugged)
	if _, err := h.Capture(ctx); !errors.Is(err, fingerprint.ErrUnplugged) {
		t.Fatalf("Capture while unplugged = %v, want ErrUnplugged", err)
	}
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, detect.StateReady)
	img, err := h.Capture(ctx)
	if err != nil {
		t.Fatalf("Capture after replug: %v", err)
	}
	if !bytes.Equal(img.Gray.Pix, s.LastImage().Pix) {
		t.Fatal("image after replug differs from the module's")
	}
}

// TestHotplugLazy: without Run, the first call after the replug reopens.
func TestHotplugLazy(t *testing.T) {
	link := filepath.Join(t.TempDir(), "reader")
	s, err := gt521sim.Start(gt521sim.Config{Images: images, LineConfig: fpsim.LineConfig{Link: link, Unpaced: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := detect.NewHotplug(link, nil)
	defer h.Close()
	ctx := ctxT(t, time.Minute)
	if err := h.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOn}); err != nil {
		t.Fatal(err)
	}
	s.Unplug()
	if err := h.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOff}); !errors.Is(err, fingerprint.ErrUnplugged) {
		t.Fatalf("SetLED unplugged = %v", err)
	}
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	if err := h.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOn}); err != nil {
		t.Fatalf("first call after replug: %v", err)
	}
	if !s.LEDOn() || h.State() != detect.StateReady {
		t.Fatalf("LED %v, state %s", s.LEDOn(), h.State())
	}
}

func openWithRetry(ctx context.Context, path string) (fingerprint.Reader, error) {
	var err error
	for i := 0; i < 5; i++ {
		var r fingerprint.Reader
		if r, err = detect.Open(ctx, path, nil); err == nil {
			return r, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, err
}
