package autocapture

import (
	"context"
	"errors"
	"image"
	"slices"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
)

// fakeAnalyzer returns the report scripted for each frame image.
type fakeAnalyzer map[image.Image]*face.Report

func (f fakeAnalyzer) Analyze(img image.Image) (*face.Report, error) {
	r, ok := f[img]
	if !ok {
		return nil, errors.New("unknown frame")
	}
	return r, nil
}

// report builds a report with the eyes at x±d/2 and the given failed checks.
func report(x, d float64, failed ...string) *face.Report {
	r := &face.Report{Found: true, Faces: 1, InterEye: d,
		RightEye: &face.Point{X: x - d/2, Y: 100}, LeftEye: &face.Point{X: x + d/2, Y: 100}}
	for _, name := range []string{face.CheckSingleFace, face.CheckInterEye, face.CheckSharpness} {
		c := face.Check{Name: name, Score: 90, Pass: !slices.Contains(failed, name)}
		if !c.Pass {
			c.Score, c.Hint = 20, "fix "+name
			r.Hints = append(r.Hints, c.Hint)
		}
		r.Checks = append(r.Checks, c)
	}
	r.Verdict = face.Pass
	if len(failed) > 0 {
		r.Verdict = face.Fail
	}
	return r
}

type step struct {
	at time.Duration
	r  *face.Report
}

// feed sends the scripted frames (10 per second unless given) and closes.
func feed(t0 time.Time, steps []step) (fakeAnalyzer, chan Frame) {
	fa := fakeAnalyzer{}
	ch := make(chan Frame, len(steps))
	for _, s := range steps {
		img := image.NewGray(image.Rect(0, 0, 1, 1))
		fa[img] = s.r
		ch <- Frame{Img: img, T: t0.Add(s.at)}
	}
	close(ch)
	return fa, ch
}

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

func seq(n int, every time.Duration, mk func(i int) *face.Report) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = step{time.Duration(i) * every, mk(i)}
	}
	return out
}

func TestCaptureAfterHold(t *testing.T) {
	// 5 failing frames (too far), then the face passes and stays still.
	steps := seq(40, 100*time.Millisecond, func(i int) *face.Report {
		if i < 5 {
			return report(320, 60, face.CheckInterEye)
		}
		return report(320+float64(i%2), 120)
	})
	fa, ch := feed(t0, steps)
	res, err := New(fa, nil).Run(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Captured {
		t.Fatalf("not captured: %+v", res)
	}
	// First passing frame at 0.5 s, hold 1 s: captured at 1.5 s.
	if got := res.Frame.T.Sub(t0); got != 1500*time.Millisecond {
		t.Errorf("captured at %v, want 1.5s", got)
	}
	if res.Frames != 16 || len(res.Reasons) != 0 {
		t.Errorf("frames %d reasons %v", res.Frames, res.Reasons)
	}
}

func TestFailureResetsHold(t *testing.T) {
	steps := seq(40, 100*time.Millisecond, func(i int) *face.Report {
		if i == 8 { // one bad frame in the middle (a blink of blur)
			return report(320, 120, face.CheckSharpness)
		}
		return report(320, 120)
	})
	fa, ch := feed(t0, steps)
	res, err := New(fa, nil).Run(context.Background(), ch, nil)
	if err != nil || !res.Captured {
		t.Fatalf("%+v %v", res, err)
	}
	if got := res.Frame.T.Sub(t0); got != 1900*time.Millisecond {
		t.Errorf("captured at %v, want 1.9s (hold restarted at 0.9s)", got)
	}
}

func TestMovingFaceTimesOut(t *testing.T) {
	// Passing but drifting 20 % of the inter-eye distance per frame.
	steps := seq(120, 100*time.Millisecond, func(i int) *face.Report { return report(200+24*float64(i%10), 120) })
	fa, ch := feed(t0, steps)
	res, err := New(fa, &Options{Timeout: 5 * time.Second}).Run(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Captured {
		t.Fatal("captured a moving face")
	}
	if res.Frame.T.Sub(t0) > 5*time.Second || res.Report == nil || !slices.Equal(res.Reasons, []string{ReasonNotStill}) {
		t.Errorf("result %+v", res)
	}
	if res.Frames != 51 {
		t.Errorf("analysed %d frames, want 51 (0 … 5 s)", res.Frames)
	}
}

func TestTimeoutReturnsBestFrame(t *testing.T) {
	steps := seq(100, 100*time.Millisecond, func(i int) *face.Report {
		switch {
		case i == 30:
			return report(320, 80, face.CheckInterEye) // best: one failure
		case i%7 == 0:
			return &face.Report{Verdict: face.Fail, Checks: face.Checks{{Name: face.CheckSingleFace}}, Hints: []string{"no face"}}
		}
		return report(320, 60, face.CheckInterEye, face.CheckSharpness)
	})
	fa, ch := feed(t0, steps)
	res, err := New(fa, &Options{Timeout: 4 * time.Second}).Run(context.Background(), ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Captured || res.Frame.T.Sub(t0) != 3*time.Second {
		t.Fatalf("got frame at %v captured=%v", res.Frame.T.Sub(t0), res.Captured)
	}
	if !slices.Equal(res.Reasons, []string{"fix inter_eye_distance"}) {
		t.Errorf("reasons %v", res.Reasons)
	}
}

func TestStalledCameraTimesOutOnClock(t *testing.T) {
	fa := fakeAnalyzer{}
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	fa[img] = report(320, 60, face.CheckInterEye)
	frames := make(chan Frame, 1)
	frames <- Frame{Img: img, T: t0}
	tick := make(chan time.Time)
	done := make(chan *Result)
	go func() {
		res, _ := New(fa, &Options{Timeout: 2 * time.Second}).Run(context.Background(), frames, tick)
		done <- res
	}()
	tick <- t0.Add(time.Second) // not yet
	tick <- t0.Add(2 * time.Second)
	res := <-done
	if res.Captured || res.Frames != 1 || res.Reasons[0] != "fix inter_eye_distance" {
		t.Errorf("%+v", res)
	}
}

func TestNoFramesAndCancel(t *testing.T) {
	ch := make(chan Frame)
	close(ch)
	if _, err := New(fakeAnalyzer{}, nil).Run(context.Background(), ch, nil); err != ErrNoFrames {
		t.Errorf("closed stream: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := New(fakeAnalyzer{}, nil).Run(ctx, make(chan Frame), nil)
	if !errors.Is(err, context.Canceled) || res.Captured {
		t.Errorf("cancelled: %+v %v", res, err)
	}
}

func TestOnReportAndZeroTimestamps(t *testing.T) {
	fa := fakeAnalyzer{}
	ch := make(chan Frame, 30)
	clock := t0
	for i := 0; i < 30; i++ {
		img := image.NewGray(image.Rect(0, 0, 1, 1))
		fa[img] = report(320, 120)
		ch <- Frame{Img: img} // no timestamp: the clock is used
	}
	close(ch)
	n := 0
	res, err := New(fa, &Options{
		Now:      func() time.Time { clock = clock.Add(100 * time.Millisecond); return clock },
		OnReport: func(Frame, *face.Report) { n++ },
	}).Run(context.Background(), ch, nil)
	if err != nil || !res.Captured || n != res.Frames || n != 11 {
		t.Errorf("captured=%v frames=%d callbacks=%d err=%v", res.Captured, res.Frames, n, err)
	}
}
