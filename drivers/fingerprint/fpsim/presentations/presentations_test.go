package presentations

import (
	"bytes"
	"image"
	"math"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/synth"
)

var timing = R30xTiming(256, 288, 128, 115200, 300*time.Millisecond)

// testSynth makes the fingers faster to grow under the race detector.
var testSynth = func() *synth.Opts {
	if raceEnabled {
		return &synth.Opts{Iterations: 5}
	}
	return nil
}()

func mean(g *image.Gray) float64 {
	var s float64
	for _, v := range g.Pix {
		s += float64(v)
	}
	return s / float64(len(g.Pix))
}

func frame(t *testing.T, s interface {
	Frame(int, int) (*image.Gray, error)
}, p, f int) *image.Gray {
	t.Helper()
	g, err := s.Frame(p, f)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestTiming(t *testing.T) {
	// R307: 288 packets of 128 bytes + 11 overhead each, plus the 12-byte acknowledge,
	// at 115200 baud: 3.476 s; plus a 300 ms GenImg.
	if got, want := timing.FrameTime(2)-timing.FrameTime(1), 3776*time.Millisecond; got < want-2*time.Millisecond || got > want+2*time.Millisecond {
		t.Errorf("R307 frame interval %v, want about %v", got, want)
	}
	if timing.FrameTime(0) != 0 || timing.FrameTime(1) != 300*time.Millisecond {
		t.Errorf("R307 first frames at %v, %v", timing.FrameTime(0), timing.FrameTime(1))
	}
	r503 := R30xTiming(192, 192, 128, 115200, 150*time.Millisecond)
	if iv := r503.FrameTime(3) - r503.FrameTime(2); iv < 1800*time.Millisecond || iv > 2000*time.Millisecond {
		t.Errorf("R503 interval %v", iv)
	}
	gt := GT521Timing(115200, 500*time.Millisecond)
	if iv := gt.FrameTime(1) - gt.FrameTime(0); iv < 4900*time.Millisecond || iv > 5100*time.Millisecond {
		t.Errorf("GT-521 interval %v", iv)
	}
	if d := (Timing{}).FrameTime(3); d != 6*time.Second {
		t.Errorf("default timing: frame 3 at %v", d)
	}
}

func TestLiveVariesAndSweats(t *testing.T) {
	l := &Live{Seed: 1, PerFinger: 2, Timing: timing, Synth: testSynth}
	if l.Finger(0) != 0 || l.Finger(1) != 0 || l.Finger(2) != 1 {
		t.Fatal("placements per finger")
	}
	a, b := frame(t, l, 0, 1), frame(t, l, 0, 1)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("not deterministic")
	}
	if a.Bounds().Dx() != DefaultWidth || a.Bounds().Dy() != DefaultHeight {
		t.Fatalf("size %v", a.Bounds())
	}
	// Over a few fingers, the later frame of a placement is darker on average (sweat,
	// moisture), and never identical (noise, tremor).
	var darker float64
	for p := 0; p < 6; p += 2 {
		f1, f2 := frame(t, l, p, 1), frame(t, l, p, 2)
		if bytes.Equal(f1.Pix, f2.Pix) {
			t.Fatalf("placement %d: two identical frames", p)
		}
		darker += mean(f1) - mean(f2)
	}
	if darker <= 0 {
		t.Errorf("later frames not darker on average: %.2f", darker/3)
	}
	// Two placements of one finger differ (position, pressure).
	if p0, p1 := frame(t, l, 0, 1), frame(t, l, 1, 1); bytes.Equal(p0.Pix, p1.Pix) {
		t.Error("two placements identical")
	}
	if _, err := l.Frame(-1, 0); err == nil {
		t.Error("negative placement accepted")
	}
}

func TestMouldIsNotSkin(t *testing.T) {
	m := &MouldSource{Seed: 2, Timing: timing, Synth: testSynth}
	materials := map[Material]bool{}
	drying, conforming := -1, -1
	for p := 0; p < 60; p++ {
		c := m.cast(p)
		materials[c.material] = true
		// A cast keeps at most a trace of the pores, little texture, softened ridges.
		if c.pores > 0.25 || c.texture > 0.15 || c.smooth < 0.5 || c.moisture < 0 || c.moisture > 1 {
			t.Fatalf("cast %d: %+v", p, c)
		}
		if c.dryRate < 0 && c.material != Gelatine {
			t.Errorf("cast %d: %v gains moisture", p, c.material)
		}
		if c.dryRate > 0.02 && drying < 0 {
			drying = p
		}
		if c.dryRate < -0.015 && conforming < 0 {
			conforming = p
		}
	}
	if len(materials) != 4 || drying < 0 || conforming < 0 {
		t.Fatalf("materials %v, drying cast %d, conforming cast %d", materials, drying, conforming)
	}
	// A drying cast gets lighter during the placement, a conforming one darker.
	if d := mean(frame(t, m, drying, 1)) - mean(frame(t, m, drying, 2)); d >= 0 {
		t.Errorf("drying cast darkened by %.2f", d)
	}
	if d := mean(frame(t, m, conforming, 1)) - mean(frame(t, m, conforming, 2)); d <= 0 {
		t.Errorf("conforming cast lightened by %.2f", -d)
	}
}

func TestReplayKinds(t *testing.T) {
	l := &Live{Seed: 3, Timing: timing, Synth: testSynth}
	for _, kind := range []ReplayKind{ReplayExact, ReplayStatic, ReplayNear, ReplayNearStatic} {
		r := &ReplaySource{Of: l, Kind: kind, Seed: 5, Captured: 1, Victim: func(p int) int { return p + 4 }}
		v1, v2 := frame(t, l, 4, 1), frame(t, l, 4, 2)
		f1, f2 := frame(t, r, 0, 1), frame(t, r, 0, 2)
		switch kind {
		case ReplayExact:
			if !bytes.Equal(f1.Pix, v1.Pix) || !bytes.Equal(f2.Pix, v2.Pix) {
				t.Error("exact replay differs from the recording")
			}
		case ReplayStatic:
			if !bytes.Equal(f1.Pix, v1.Pix) || !bytes.Equal(f2.Pix, v1.Pix) {
				t.Error("static replay is not the captured frame every time")
			}
		default:
			if bytes.Equal(f1.Pix, v1.Pix) || bytes.Equal(f1.Pix, f2.Pix) {
				t.Errorf("%v: not altered or no fresh noise", kind)
			}
			// Still nearly the same picture: mean levels within the tone change.
			if d := math.Abs(mean(f1) - mean(v1)); d > 30 {
				t.Errorf("%v: mean level moved by %.1f", kind, d)
			}
		}
	}
	r := &ReplaySource{Of: l, Seed: 9}
	kinds := map[ReplayKind]int{}
	for p := 0; p < 40; p++ {
		kinds[r.KindAt(p)]++
	}
	if len(kinds) != 4 || kinds[ReplayMixed] != 0 {
		t.Errorf("mixed replay kinds %v", kinds)
	}
	if _, err := (&ReplaySource{}).Frame(0, 0); err == nil {
		t.Error("replay of nothing accepted")
	}
}
