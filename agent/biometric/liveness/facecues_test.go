package liveness

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// craftedFrames builds challenge frames directly: a face of faceGrid² cells whose LED
// response is given per cell, a background, two eye windows and a flat spectral patch.
type scene struct {
	ambient  float64                    // LED-off level of every face cell
	response func(u, v float64) float64 // LED-on increase at face cell (u, v) in [-1, 1]
	bgResp   float64                    // LED-on increase of the background
	glint    float64                    // extra LED-on increase at one pixel of each eye
	follows  func(i int, led float64) float64
}

func (s scene) frames(pattern []float64, seed uint64) []faceFrame {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []faceFrame
	for i, p := range pattern {
		led := p
		if s.follows != nil {
			led = s.follows(i, p)
		}
		f := faceFrame{cells: make([]float64, faceGrid*faceGrid)}
		for j := 0; j < faceGrid; j++ {
			for k := 0; k < faceGrid; k++ {
				u := (float64(k)+0.5)/faceGrid*2 - 1
				v := (float64(j)+0.5)/faceGrid*2 - 1
				f.cells[j*faceGrid+k] = s.ambient + led*s.response(u, v) + 0.002*r.NormFloat64()
			}
		}
		f.bg = 0.2 + led*s.bgResp + 0.002*r.NormFloat64()
		for e := 0; e < 2; e++ {
			win := make([]float64, 15*15)
			for q := range win {
				win[q] = s.ambient + led*s.response(0, 0) + 0.002*r.NormFloat64()
			}
			win[7*15+7] += led * s.glint
			win[7*15+8] += led * s.glint
			f.eye = append(f.eye, win)
		}
		f.spec = make([]float64, specSize*specSize)
		for q := range f.spec {
			f.spec[q] = r.ExpFloat64()
		}
		out = append(out, f)
	}
	return out
}

var (
	// A live face: the LED's relative irradiance falls from the centre to the sides
	// (a curved surface), the far wall barely answers, the corneas mirror the LED.
	liveScene = scene{ambient: 0.2, response: func(u, v float64) float64 { return 0.2 * (1 - 0.5*u*u) }, bgResp: 0.01, glint: 0.6}
	// A print: the same strength everywhere, background included (one sheet), no glints.
	printScene = scene{ambient: 0.2, response: func(u, v float64) float64 { return 0.16 }, bgResp: 0.16}
)

func testPattern() []float64 { return Pattern([]byte("test nonce"), 12) }

func TestPattern(t *testing.T) {
	p := testPattern()
	if len(p) != 12 {
		t.Fatalf("%d levels", len(p))
	}
	on := 0
	run := 1
	for i, v := range p {
		if v != 0 && v != 1 {
			t.Fatalf("level %v", v)
		}
		on += int(v)
		if i > 0 {
			if v == p[i-1] {
				run++
			} else {
				if run > 3 || (run < 2 && i-run > 0) {
					t.Errorf("run of %d frames in %v", run, p)
				}
				run = 1
			}
		}
	}
	if on < 3 || on > 9 {
		t.Errorf("%d of 12 frames lit", on)
	}
	if q := Pattern([]byte("test nonce"), 12); !equal(p, q) {
		t.Error("same nonce, different pattern")
	}
	differ := 0
	for i := 0; i < 20; i++ {
		if !equal(p, Pattern([]byte{byte(i)}, 12)) {
			differ++
		}
	}
	if differ < 18 {
		t.Errorf("only %d of 20 nonces change the pattern", differ)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSyncCue(t *testing.T) {
	p := testPattern()
	c := measureFace(liveScene.frames(p, 1), p)
	if c.Sync < 0.99 || c.Lag != 0 {
		t.Errorf("live face in step: sync %.3f lag %d", c.Sync, c.Lag)
	}
	// A camera one frame late: found at lag 1.
	late := liveScene
	late.follows = func(i int, _ float64) float64 {
		if i == 0 {
			return 0
		}
		return p[i-1]
	}
	if c := measureFace(late.frames(p, 2), p); c.Sync < 0.99 || c.Lag != 1 {
		t.Errorf("one frame late: sync %.3f lag %d", c.Sync, c.Lag)
	}
	// Injected frames toggling on their own timing.
	inj := liveScene
	inj.follows = func(i int, _ float64) float64 { return float64(i / 4 % 2) }
	if c := measureFace(inj.frames(p, 3), p); c.Sync > 0.8 {
		t.Errorf("own timing: sync %.3f", c.Sync)
	}
	// Injected frames recorded without the LED: no response at all.
	dark := liveScene
	dark.follows = func(int, float64) float64 { return 0 }
	if c := measureFace(dark.frames(p, 4), p); c.Response > -2 {
		t.Errorf("no response: response %.2f", c.Response)
	}
}

func TestResponseAndBackgroundCues(t *testing.T) {
	p := testPattern()
	live := measureFace(liveScene.frames(p, 1), p)
	print := measureFace(printScene.frames(p, 1), p)
	screen := scene{ambient: 0.2, response: func(u, v float64) float64 { return 0.004 }, bgResp: 0.004}
	sc := measureFace(screen.frames(p, 1), p)
	// Live ≈ 0.2·(1-0.5·u²)/0.2 ≈ 0.9: log10 ≈ -0.05; screen 0.02: -1.7.
	if live.Response < -0.2 || sc.Response > -1.5 {
		t.Errorf("response live %.2f, screen %.2f", live.Response, sc.Response)
	}
	if live.Background > 0.2 || print.Background < 0.8 {
		t.Errorf("background over face: live %.2f, print %.2f", live.Background, print.Background)
	}
	// Background out of frame: not measured.
	fs := liveScene.frames(p, 5)
	for i := range fs {
		fs[i].bg = math.NaN()
	}
	if c := measureFace(fs, p); !math.IsNaN(c.Background) {
		t.Errorf("background out of frame measured as %.2f", c.Background)
	}
}

func TestShapeCue(t *testing.T) {
	p := testPattern()
	live := measureFace(liveScene.frames(p, 1), p)
	print := measureFace(printScene.frames(p, 1), p)
	// A tilted sheet: a linear gradient of the response is not curvature.
	tilted := scene{ambient: 0.2, response: func(u, v float64) float64 { return 0.16 * (1 + 0.3*u + 0.2*v) }, bgResp: 0.16}
	tl := measureFace(tilted.frames(p, 1), p)
	if live.Shape < 0.3 {
		t.Errorf("curved face: shape %.3f, want about 0.5", live.Shape)
	}
	if math.Abs(print.Shape) > 0.05 || math.Abs(tl.Shape) > 0.05 {
		t.Errorf("flat sheet: shape %.3f, tilted %.3f, want about 0", print.Shape, tl.Shape)
	}
}

func TestGlintCue(t *testing.T) {
	p := testPattern()
	live := measureFace(liveScene.frames(p, 1), p)
	print := measureFace(printScene.frames(p, 1), p)
	if live.Glint < 2 {
		t.Errorf("corneal glints: %.2f, want well above 1", live.Glint)
	}
	if print.Glint > 0.3 {
		t.Errorf("no glints: %.2f, want about 0", print.Glint)
	}
}

func TestMoireCue(t *testing.T) {
	noise := image.NewGray(image.Rect(0, 0, 128, 128))
	grid := image.NewGray(image.Rect(0, 0, 128, 128))
	r := rand.New(rand.NewPCG(9, 9))
	for y := 0; y < 128; y++ {
		for x := 0; x < 128; x++ {
			n := 128 + 6*r.NormFloat64()
			noise.Pix[y*128+x] = uint8(n)
			// A pixel grid of pitch 3 pixels, slightly rotated.
			g := n + 20*math.Cos(2*math.Pi*(float64(x)*0.995+float64(y)*0.1)/3)
			grid.Pix[y*128+x] = uint8(math.Max(0, math.Min(255, g)))
		}
	}
	avg := func(img *image.Gray) float64 {
		spec := make([]float64, specSize*specSize)
		for k := 0; k < 6; k++ {
			for i, v := range patchSpectrum(img, 64+k, 64) {
				spec[i] += v
			}
		}
		return moireCue(spec)
	}
	mn, mg := avg(noise), avg(grid)
	if mn > 1.3 || mg < 2.5 {
		t.Errorf("spectral peaks: noise %.2f, grid %.2f", mn, mg)
	}
}

func TestFFT(t *testing.T) {
	// A single cosine lands in bins k and n-k with half the energy each.
	n := 16
	a := make([]complex128, n)
	for i := range a {
		a[i] = complex(math.Cos(2*math.Pi*3*float64(i)/float64(n)), 0)
	}
	fft(a)
	for k, v := range a {
		want := 0.0
		if k == 3 || k == n-3 {
			want = float64(n) / 2
		}
		if math.Abs(real(v)-want) > 1e-9 || math.Abs(imag(v)) > 1e-9 {
			t.Fatalf("bin %d = %v, want %v", k, v, want)
		}
	}
}

func TestLinearLUT(t *testing.T) {
	l, f := linearLUT(true), linearLUT(false)
	if l[16] != 0 || l[235] != 1 || f[0] != 0 || f[255] != 1 {
		t.Fatalf("ends: limited %v %v, full %v %v", l[16], l[235], f[0], f[255])
	}
	if math.Abs(f[128]-0.2158) > 0.001 {
		t.Errorf("sRGB 128 → %.4f, want 0.2158", f[128])
	}
	_ = bytes.Equal
}
