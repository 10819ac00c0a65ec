package r30x_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

var long = flag.Bool("long", false, "run the long faithful-pacing tests (minutes)")

const images = "../fpsim/testdata/sfinge"

func startSim(t *testing.T, cfg r30xsim.Config) *r30xsim.Sim {
	t.Helper()
	if cfg.Images == "" && cfg.Source == nil {
		cfg.Images = images
	}
	s, err := r30xsim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t *testing.T, ctx context.Context, s *r30xsim.Sim, baud int, o *r30x.Opts) *r30x.Dev {
	t.Helper()
	d, err := r30x.Open(ctx, s.Path(), baud, o)
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

// TestCapture runs the driver against the simulator over a real pty at the real line rate:
// every packet size, both sensor geometries, the automatic speed upgrade, templates and
// the aura LED. Images must be bit-identical to what the module had in its buffer.
func TestCapture(t *testing.T) {
	tests := []struct {
		name       string
		cfg        r30xsim.Config
		opts       r30x.Opts
		wantBaud   int
		wantSize   [2]int
		wantModel  string
		packetSize int
	}{
		{"R307 factory, upgraded", r30xsim.Config{Model: "R307"}, r30x.Opts{Model: "R307"}, 115200, [2]int{256, 288}, "R307", 128},
		{"R503 packets of 32", r30xsim.Config{Model: "R503", Baud: 115200, PacketSize: 32}, r30x.Opts{}, 115200, [2]int{192, 192}, "R503", 32},
		{"R503 packets of 64", r30xsim.Config{Model: "R503", Baud: 115200, PacketSize: 64}, r30x.Opts{}, 115200, [2]int{192, 192}, "R503", 64},
		{"R503 packets of 256", r30xsim.Config{Model: "R503", Baud: 115200, PacketSize: 256}, r30x.Opts{}, 115200, [2]int{192, 192}, "R503", 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			s := startSim(t, tc.cfg)
			d := open(t, ctx, s, tc.cfg.Baud, &tc.opts)
			info := d.Info()
			if info.Baud != tc.wantBaud || info.Width != tc.wantSize[0] || info.Height != tc.wantSize[1] || info.Model != tc.wantModel || info.PacketSize != tc.packetSize {
				t.Fatalf("Info = %+v", info)
			}
			if err := d.WaitFinger(ctx); err != nil {
				t.Fatal(err)
			}
			img, err := d.Capture(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := s.LastImage()
			if !bytes.Equal(img.Gray.Pix, want.Pix) || img.Gray.Bounds() != want.Bounds() {
				t.Fatal("captured image differs from the module's buffer")
			}
			if img.PPI != info.PPI {
				t.Errorf("PPI %d, want %d", img.PPI, info.PPI)
			}
			tr := d.LastTransfer()
			if tr.Uploads != 1 || tr.BoundBytes != want.Bounds().Dx()*want.Bounds().Dy()/2+tr.BoundBytes/(tc.packetSize+r30x.Overhead)*r30x.Overhead {
				t.Errorf("transfer %+v", tr)
			}
			tmpl, err := d.Template(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if wantLen := map[string]int{"R307": 512, "R503": 1536}[tc.cfg.Model]; len(tmpl) != wantLen {
				t.Errorf("template of %d bytes, want %d", len(tmpl), wantLen)
			}
			err = d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDBreathing, Colour: fingerprint.ColourPurple})
			if tc.cfg.Model == "R503" {
				if err != nil || s.LED() != (r30xsim.LED{Control: 1, Speed: 0x40, Colour: 3}) {
					t.Errorf("SetLED = %v, module LED %+v", err, s.LED())
				}
			} else if !errors.Is(err, fingerprint.ErrUnsupported) {
				t.Errorf("SetLED on %s = %v, want ErrUnsupported", tc.cfg.Model, err)
			}
		})
	}
}

// TestNoiseIntegrity is the must-show property: with a bit flipped in one byte in a
// thousand, in both directions, every image is bit-identical to the module's buffer, or
// the capture fails with ErrCorrupt after its bounded uploads. Never a silently wrong
// image.
func TestNoiseIntegrity(t *testing.T) {
	captures := 2
	if *long {
		captures = 8
	}
	for _, seed := range []uint64{7, 8} {
		s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200,
			LineConfig: fpsim.LineConfig{Noise: 1e-3, Seed: seed}})
		ctx := ctxT(t, 5*time.Minute)
		d := open(t, ctx, s, 115200, nil)
		ok := 0
		for i := 0; i < captures/2; i++ {
			if err := d.WaitFinger(ctx); err != nil {
				t.Fatal(err)
			}
			img, err := d.Capture(ctx)
			tr := d.LastTransfer()
			switch {
			case err == nil:
				if !bytes.Equal(img.Gray.Pix, s.LastImage().Pix) {
					t.Fatalf("seed %d capture %d: silently corrupted image (%d uploads)", seed, i, tr.Uploads)
				}
				ok++
				t.Logf("seed %d capture %d: identical after %d uploads, %d wire bytes, %v", seed, i, tr.Uploads, tr.WireBytes, tr.Elapsed.Round(time.Millisecond))
			case errors.Is(err, fingerprint.ErrCorrupt):
				t.Logf("seed %d capture %d: failed cleanly: %v", seed, i, err)
			default:
				t.Fatalf("seed %d capture %d: %v", seed, i, err)
			}
			if err := d.WaitLift(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st := s.Stats()
		t.Logf("seed %d: line noise: %d bytes damaged to the host, %d to the module", seed, st.NoiseTx, st.NoiseRx)
		if st.NoiseTx == 0 {
			t.Fatal("no noise was injected")
		}
		if ok == 0 {
			t.Errorf("seed %d: no capture succeeded at 1e-3 noise", seed)
		}
	}
}

// TestUnplugDuringUpload: the pty vanishes mid-image; Capture fails with ErrUnplugged
// within 2 s.
func TestUnplugDuringUpload(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R307", Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	s.Place()
	errc := make(chan error, 1)
	go func() {
		_, err := d.Capture(ctx)
		errc <- err
	}()
	// GenImg takes 0.3 s, the upload 3.5 s: unplug in the middle of the upload.
	time.Sleep(1500 * time.Millisecond)
	s.Unplug()
	t0 := time.Now()
	select {
	case err := <-errc:
		if !errors.Is(err, fingerprint.ErrUnplugged) {
			t.Fatalf("Capture after unplug = %v, want ErrUnplugged", err)
		}
		if el := time.Since(t0); el > 2*time.Second {
			t.Fatalf("Capture failed %v after the unplug, want < 2 s", el)
		}
		t.Logf("Capture failed %v after the unplug: %v", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("Capture still running 5 s after the unplug")
	}
	if err := d.WaitLift(ctx); !errors.Is(err, fingerprint.ErrUnplugged) {
		t.Fatalf("next call = %v, want ErrUnplugged", err)
	}
}

// TestSilent: a module that stops answering makes calls fail with ErrSilent after the
// bounded retries; nothing hangs.
func TestSilent(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, &r30x.Opts{Timeout: 200 * time.Millisecond})
	s.SetSilent(true)
	for _, op := range []struct {
		name string
		f    func() error
	}{
		{"WaitFinger", func() error { return d.WaitFinger(ctx) }},
		{"Capture", func() error { _, err := d.Capture(ctx); return err }},
		{"SetLED", func() error { return d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOn}) }},
	} {
		t0 := time.Now()
		err := op.f()
		if !errors.Is(err, fingerprint.ErrSilent) {
			t.Fatalf("%s on a silent module = %v, want ErrSilent", op.name, err)
		}
		if el := time.Since(t0); el > 5*time.Second {
			t.Errorf("%s took %v", op.name, el)
		}
	}
	s.SetSilent(false)
	if err := d.WaitFinger(ctx); err != nil {
		t.Fatalf("after the module speaks again: %v", err)
	}
}

// TestHalt: Halt stops a WaitFinger in progress and switches the aura off.
func TestHalt(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	if err := d.SetLED(ctx, fingerprint.LED{Mode: fingerprint.LEDOn}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- d.WaitFinger(ctx) }()
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, uart.ErrHalted) {
		t.Fatalf("WaitFinger after Halt = %v, want ErrHalted", err)
	}
	if el := time.Since(t0); el > time.Second {
		t.Errorf("Halt took %v", el)
	}
	if got := s.LED().Control; got != 4 {
		t.Errorf("aura control after Halt = %d, want 4 (off)", got)
	}
}

// TestBaudErrata: modules that store a speed but apply it only after a power cycle, and
// clones that ignore it.
func TestBaudErrata(t *testing.T) {
	t.Run("after power cycle", func(t *testing.T) {
		s := startSim(t, r30xsim.Config{Model: "R503"}) // the R503 manual's behaviour
		ctx := ctxT(t, 30*time.Second)
		d, err := r30x.Open(ctx, s.Path(), 57600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Info().Baud != 57600 || s.StoredBaud() != 115200 {
			t.Fatalf("after the upgrade attempt: driver at %d, module stored %d", d.Info().Baud, s.StoredBaud())
		}
		if err := d.SetBaud(ctx, 115200); !errors.Is(err, r30x.ErrBaudPending) {
			t.Fatalf("SetBaud = %v, want ErrBaudPending", err)
		}
		d.Close()
		s.Unplug()
		if err := s.Replug(); err != nil {
			t.Fatal(err)
		}
		d2 := open(t, ctx, s, 115200, nil)
		if d2.Info().Baud != 115200 {
			t.Fatalf("after the power cycle: %d baud", d2.Info().Baud)
		}
	})
	t.Run("ignored", func(t *testing.T) {
		s := startSim(t, r30xsim.Config{Model: "R307", BaudApply: r30xsim.BaudIgnored})
		ctx := ctxT(t, 30*time.Second)
		d := open(t, ctx, s, 57600, &r30x.Opts{TargetBaud: -1})
		if err := d.SetBaud(ctx, 115200); !errors.Is(err, r30x.ErrBaudIgnored) || !errors.Is(err, fingerprint.ErrUnsupported) {
			t.Fatalf("SetBaud = %v, want ErrBaudIgnored", err)
		}
		if err := d.WaitLift(ctx); err != nil {
			t.Fatalf("module unusable after the failed change: %v", err)
		}
	})
}

// TestImageFail: the module's own rejection is a typed error in the ErrBadImage category.
func TestImageFail(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R503", Baud: 115200, ImageFail: 1, Finger: fpsim.FingerConfig{Mode: fpsim.FingerManual}})
	ctx := ctxT(t, 30*time.Second)
	d := open(t, ctx, s, 115200, nil)
	s.Place()
	_, err := d.Capture(ctx)
	var ce *r30x.CodeError
	if !errors.As(err, &ce) || ce.Code != r30x.ErrEnrollFail || !errors.Is(err, fingerprint.ErrBadImage) {
		t.Fatalf("Capture = %v, want CodeError 0x03 wrapping ErrBadImage", err)
	}
	s.Lift()
	if _, err := d.Capture(ctx); !errors.Is(err, fingerprint.ErrNoFinger) {
		t.Fatalf("Capture without a finger = %v, want ErrNoFinger", err)
	}
}

// TestUnattendedSession runs ten placements with the automatic finger (unpaced, as the
// agent's long tests do): each image is the module's, and consecutive placements differ.
func TestUnattendedSession(t *testing.T) {
	s := startSim(t, r30xsim.Config{Model: "R307", LineConfig: fpsim.LineConfig{Unpaced: true}})
	ctx := ctxT(t, 60*time.Second)
	d := open(t, ctx, s, 57600, nil)
	var prev []byte
	for i := 0; i < 10; i++ {
		if err := d.WaitFinger(ctx); err != nil {
			t.Fatal(err)
		}
		img, err := d.Capture(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.Gray.Pix, s.LastImage().Pix) {
			t.Fatalf("placement %d: image differs", i)
		}
		if bytes.Equal(img.Gray.Pix, prev) {
			t.Fatalf("placement %d: same image as the previous placement", i)
		}
		prev = img.Gray.Pix
		if err := d.WaitLift(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Finger().Placements(); n != 10 {
		t.Errorf("%d placements, want 10", n)
	}
}
