package autocapture

import (
	"context"
	"image"
	"image/draw"
	_ "image/jpeg"
	"os"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
)

func portrait(t *testing.T) *image.RGBA {
	f, err := os.Open("../testdata/portrait-t000472.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewRGBA(m.Bounds())
	draw.Draw(out, out.Rect, m, m.Bounds().Min, draw.Src)
	return out
}

// shifted returns m moved right by dx pixels (edge column repeated).
func shifted(m *image.RGBA, dx int) *image.RGBA {
	out := image.NewRGBA(m.Rect)
	w := m.Rect.Dx()
	for y := 0; y < m.Rect.Dy(); y++ {
		for x := 0; x < w; x++ {
			sx := min(max(x-dx, 0), w-1)
			copy(out.Pix[y*out.Stride+4*x:][:4], m.Pix[y*m.Stride+4*sx:][:4])
		}
	}
	return out
}

// TestRealAnalyzer drives the capturer with the real analyser: the subject first
// sits far off-centre, then settles in the middle with a pixel or two of jitter;
// the capture comes one hold time after settling. A blank stream times out with
// "no face found".
func TestRealAnalyzer(t *testing.T) {
	a, err := face.NewAnalyzer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := portrait(t)
	off := shifted(p, 110)
	jitter := []*image.RGBA{p, shifted(p, 1), shifted(p, -1)}
	frames := make(chan Frame, 16)
	for i := 0; i < 3; i++ {
		frames <- Frame{Img: off, T: t0.Add(time.Duration(i) * 250 * time.Millisecond)}
	}
	for i := 3; i < 12; i++ {
		frames <- Frame{Img: jitter[i%3], T: t0.Add(time.Duration(i) * 250 * time.Millisecond)}
	}
	close(frames)
	var failedOff bool
	res, err := New(a, &Options{OnReport: func(f Frame, r *face.Report) {
		if f.Img == off {
			c, _ := r.Checks.Get(face.CheckCentring)
			failedOff = failedOff || !c.Pass
		}
	}}).Run(context.Background(), frames, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !failedOff {
		t.Error("off-centre frames passed the centring check")
	}
	if !res.Captured || res.Frame.T.Sub(t0) != 1750*time.Millisecond {
		t.Fatalf("captured=%v at %v (reasons %v)", res.Captured, res.Frame.T.Sub(t0), res.Reasons)
	}

	blank := make(chan Frame, 3)
	for i := 0; i < 3; i++ {
		blank <- Frame{Img: image.NewGray(image.Rect(0, 0, 320, 240)), T: t0.Add(time.Duration(i) * time.Second)}
	}
	close(blank)
	res, err = New(a, &Options{Timeout: 2 * time.Second}).Run(context.Background(), blank, nil)
	if err != nil || res.Captured || len(res.Reasons) != 1 || res.Reasons[0] != "no face found" {
		t.Errorf("blank stream: %+v %v", res, err)
	}
}
