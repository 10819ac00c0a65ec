package liveness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
	"github.com/captura-claim/captura/protocol"
)

// fakeReader serves the second frame of a placement, or an error.
type fakeReader struct {
	next     *image.Gray
	err      error
	captures int
}

func (r *fakeReader) Info() fingerprint.Info           { return fingerprint.Info{Family: "fake", Model: "FAKE"} }
func (r *fakeReader) WaitFinger(context.Context) error { return nil }
func (r *fakeReader) WaitLift(context.Context) error   { return nil }
func (r *fakeReader) Template(context.Context) ([]byte, error) {
	return nil, fingerprint.ErrUnsupported
}
func (r *fakeReader) SetLED(context.Context, fingerprint.LED) error {
	return fingerprint.ErrUnsupported
}
func (r *fakeReader) String() string { return "fake" }
func (r *fakeReader) Halt() error    { return nil }
func (r *fakeReader) Close() error   { return nil }
func (r *fakeReader) Capture(context.Context) (*fingerprint.Image, error) {
	r.captures++
	if r.err != nil {
		return nil, r.err
	}
	return &fingerprint.Image{Gray: r.next, PPI: 500}, nil
}

var r307Timing = presentations.R30xTiming(256, 288, 128, 115200, 300*time.Millisecond)

// frames returns the R307 captures (frames 1 and 2) of placement p of src.
func frames(t testing.TB, src fpsim.Source, p int) (*image.Gray, *image.Gray) {
	t.Helper()
	a, err := src.Frame(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Frame(p, 2)
	if err != nil {
		t.Fatal(err)
	}
	return r307(a), r307(b)
}

func assess(t *testing.T, pad *FingerPAD, a, b *image.Gray) *protocol.PAD {
	t.Helper()
	r := &fakeReader{next: b}
	res, err := pad.AssessFinger(context.Background(), r, &fingerprint.Image{Gray: a, PPI: 500})
	if err != nil {
		t.Fatal(err)
	}
	if r.captures != 1 {
		t.Fatalf("%d second captures", r.captures)
	}
	if res.Score < 0 || res.Score > 1 || res.Method != FingerMethod {
		t.Fatalf("result %+v", res)
	}
	return res
}

func TestFingerPADPresentations(t *testing.T) {
	hist, _ := NewHistory(nil, 100, testKey)
	pad, err := NewFingerPAD(0.5, hist, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A well-sweating live finger is bona fide; replaying its capture is an attack.
	live := &presentations.Live{Seed: 42, Timing: r307Timing}
	a, b := frames(t, live, 0)
	if res := assess(t, pad, a, b); res.Decision != protocol.PADBonaFide {
		t.Errorf("live finger (%s): %+v", live.Describe(0), res)
	}
	res := assess(t, pad, a, a)
	if res.Decision != protocol.PADAttack || res.Score != 1 || !slices.Contains(res.Cues, CueReplayExact) || !slices.Contains(res.Cues, CueFrozen) {
		t.Errorf("replayed capture: %+v", res)
	}
	near := &presentations.ReplaySource{Of: live, Kind: presentations.ReplayNear, Seed: 1, Captured: 1}
	na, nb := frames(t, near, 0)
	if res := assess(t, pad, na, nb); res.Decision != protocol.PADAttack || !slices.Contains(res.Cues, CueReplayNear) {
		t.Errorf("near replay of a recorded placement: %+v", res)
	}
}

func TestFingerPADStaticCast(t *testing.T) {
	pad, _ := NewFingerPAD(0.5, nil, nil)
	// Casts that do not change while pressed: judged on the frames alone (no history).
	mould := &presentations.MouldSource{Seed: 7, Timing: r307Timing}
	n := 6
	if raceEnabled {
		n = 2
	}
	attacks := 0
	for p := 0; p < n; p++ {
		a, b := frames(t, mould, p)
		if assess(t, pad, a, b).Decision == protocol.PADAttack {
			attacks++
		}
	}
	if attacks < n-1 {
		t.Errorf("%d of %d casts judged attacks", attacks, n)
	}
}

func TestFingerPADModuleSignals(t *testing.T) {
	pad, _ := NewFingerPAD(0.5, nil, nil)
	img := ridges(256, 288, 0.3, 0, 0, 3, 1)
	// The module's own fake-finger signal decides.
	res, err := pad.AssessFinger(context.Background(), &fakeReader{err: fmt.Errorf("r30x: %w", fingerprint.ErrFakeFinger)}, &fingerprint.Image{Gray: img})
	if err != nil || res.Decision != protocol.PADAttack || res.Score != 1 || !slices.Contains(res.Cues, CueModuleFake) {
		t.Errorf("fake-finger signal: %+v, %v", res, err)
	}
	// The finger left before the second frame: one frame judged, said so.
	res, err = pad.AssessFinger(context.Background(), &fakeReader{err: fingerprint.ErrNoFinger}, &fingerprint.Image{Gray: img})
	if err != nil || res.Method != FingerMethodSingle || !slices.Contains(res.Cues, CueOneFrame) {
		t.Errorf("lifted early: %+v, %v", res, err)
	}
	// A cancelled session is an error, not a judgement.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pad.AssessFinger(ctx, &fakeReader{err: context.Canceled}, &fingerprint.Image{Gray: img}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := pad.AssessFinger(context.Background(), &fakeReader{}, nil); err == nil {
		t.Error("no image accepted")
	}
	for _, th := range []float64{0, -0.1, 1.5} {
		if _, err := NewFingerPAD(th, nil, nil); err == nil {
			t.Errorf("threshold %v accepted", th)
		}
	}
}

// TestUncalibratedSensorWarnsOnce: a sensor geometry without a fitted model is judged
// with the R307's, and the log says so once, not on every finger.
func TestUncalibratedSensorWarnsOnce(t *testing.T) {
	var buf bytes.Buffer
	pad, err := NewFingerPAD(0.5, nil, &FingerOpts{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		pad.Judge(ridges(240, 240, 0.3, 0, 0, 2, uint64(i)), ridges(240, 240, 0.3, 1, 0, 2, uint64(i+10)), nil)
	}
	if n := strings.Count(buf.String(), "no finger PAD model fitted for this sensor"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, buf.String())
	}
	buf.Reset()
	pad.Judge(ridges(256, 288, 0.3, 0, 0, 2, 1), ridges(256, 288, 0.3, 1, 0, 2, 2), nil)
	if strings.Contains(buf.String(), "no finger PAD model") {
		t.Error("warned for the R307's own geometry")
	}
}
