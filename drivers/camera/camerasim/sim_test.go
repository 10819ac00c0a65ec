package camerasim

import (
	"bytes"
	"context"
	"errors"
	"image"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/captura-claim/captura/drivers/camera"
)

var small = camera.Size{W: 320, H: 240}

func mustNew(t testing.TB, o *Opts) *Dev {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// luma returns the linear-light luma of img at (x, y) (sRGB decoded).
func luma(img *image.RGBA, x, y int) float64 {
	i := img.PixOffset(x, y)
	return 0.2126*float64(srgbToLinear[img.Pix[i]]) + 0.7152*float64(srgbToLinear[img.Pix[i+1]]) + 0.0722*float64(srgbToLinear[img.Pix[i+2]])
}

// faceBox is the inner face region for a presentation at size s: where render puts it.
func faceBox(d *Dev, s camera.Size, frac float64) image.Rectangle {
	p := d.Presentation()
	rOut := 0.20 * float64(s.H) * (0.55 / p.Distance)
	cx, cy := float64(s.W)/2, 0.47*float64(s.H)
	rx := rOut * DefaultGeometry.RX / DefaultGeometry.RY * 440 / 360
	return image.Rect(int(cx-frac*rx), int(cy-frac*rOut), int(cx+frac*rx), int(cy+frac*rOut))
}

func meanLuma(img *image.RGBA, r image.Rectangle) float64 {
	var s float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			s += luma(img, x, y)
		}
	}
	return s / float64(r.Dx()*r.Dy())
}

// ledResponse renders frame 1 with the LED off and on and returns the relative change of
// the mean face luma, and the spread (coefficient of variation) of the per-cell
// on/off ratio over a 4x4 grid of the inner face: near zero for a flat sheet, large for a
// 3-D face under a near light.
func ledResponse(d *Dev) (rel, spread float64) {
	off := d.Render(small, 1, 0, 0)
	on := d.Render(small, 1, 0, 1)
	box := faceBox(d, small, 0.75)
	mOff, mOn := meanLuma(off, box), meanLuma(on, box)
	var ratios []float64
	for j := 0; j < 4; j++ {
		for i := 0; i < 4; i++ {
			c := image.Rect(box.Min.X+i*box.Dx()/4, box.Min.Y+j*box.Dy()/4, box.Min.X+(i+1)*box.Dx()/4, box.Min.Y+(j+1)*box.Dy()/4)
			a, b := meanLuma(off, c), meanLuma(on, c)
			ratios = append(ratios, (b-a)/math.Max(a, 1e-3))
		}
	}
	var mu, v float64
	for _, r := range ratios {
		mu += r
	}
	mu /= float64(len(ratios))
	for _, r := range ratios {
		v += (r - mu) * (r - mu)
	}
	return (mOn - mOff) / mOff, math.Sqrt(v/float64(len(ratios))) / math.Max(mu, 1e-3)
}

func TestDeterministicForSeed(t *testing.T) {
	for _, sp := range AllSpecies() {
		t.Run(sp.String(), func(t *testing.T) {
			schedule := []bool{false, true, true, false, true, false}
			run := func(seed uint64) [][]byte {
				i := 0
				light := LightFunc(func() float64 {
					if schedule[i%len(schedule)] {
						return 1
					}
					return 0
				})
				d := mustNew(t, &Opts{Species: sp, Seed: seed, Light: light, FreeRun: true, Clock: clockwork.NewFakeClockAt(time.Unix(0, 0))})
				s, err := d.Preview(context.Background(), camera.Request{Size: small, FPS: 15})
				if err != nil {
					t.Fatal(err)
				}
				var out [][]byte
				for ; i < len(schedule); i++ {
					f, err := s.Next(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if want := time.Unix(0, 0).Add(time.Duration(i) * time.Second / 15); f.Seq != uint64(i) || f.Time.Sub(want).Abs() > time.Microsecond {
						t.Fatalf("frame %d: seq %d time %v", i, f.Seq, f.Time)
					}
					out = append(out, f.Data)
				}
				return out
			}
			a, b, c := run(42), run(42), run(43)
			for i := range a {
				if !bytes.Equal(a[i], b[i]) {
					t.Fatalf("frame %d differs between two runs with seed 42", i)
				}
				if bytes.Equal(a[i], c[i]) {
					t.Fatalf("frame %d is the same for seeds 42 and 43", i)
				}
			}
			// The person moves: consecutive frames differ.
			if bytes.Equal(a[0], a[3]) {
				t.Error("frames 0 and 3 are identical")
			}
		})
	}
}

// seeds returns 1..n, or just 1 under the race detector.
func seeds(n uint64) []uint64 {
	if raceEnabled {
		n = 1
	}
	var s []uint64
	for i := uint64(1); i <= n; i++ {
		s = append(s, i)
	}
	return s
}

func TestLiveFaceAnswersLEDWithShadingAndGlints(t *testing.T) {
	for _, seed := range seeds(6) {
		live := mustNew(t, &Opts{Species: BonaFide, Seed: seed})
		rel, spread := ledResponse(live)
		if rel < 0.15 {
			t.Errorf("seed %d: live face brightens by %.2f with the LED, want a visible response", seed, rel)
		}
		// Shading across the 3-D face: the on/off ratio varies across the face far more
		// than on the print of the same scene.
		print := mustNew(t, &Opts{Species: Print, Seed: seed})
		prel, pspread := ledResponse(print)
		if prel < 0.15 {
			t.Errorf("seed %d: print brightens by %.2f, want a proportional response", seed, prel)
		}
		if spread < 2*pspread || spread < 0.15 {
			t.Errorf("seed %d: LED ratio spread across the face: live %.3f, print %.3f; want live clearly larger", seed, spread, pspread)
		}
		// Corneal glints: the brightest change near the eyes is far above the face's median
		// change for a live face, not for a print.
		if g, pg := glintContrast(live), glintContrast(print); g < 3 || pg > 0.6*g {
			t.Errorf("seed %d: eye glint contrast live %.2f, print %.2f", seed, g, pg)
		}
	}
}

// glintContrast is the largest LED-induced luma change in the eye band over the median
// change in the face.
func glintContrast(d *Dev) float64 {
	size := camera.Size{W: 640, H: 480}
	off := d.Render(size, 1, 0, 0)
	on := d.Render(size, 1, 0, 1)
	box := faceBox(d, size, 0.8)
	eyeY := int(0.47*480 + (DefaultGeometry.EyeY-DefaultGeometry.CY)/DefaultGeometry.RY*float64(box.Dy())/1.6)
	var diffs []float64
	peak := 0.0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			dd := luma(on, x, y) - luma(off, x, y)
			diffs = append(diffs, dd)
			if y > eyeY-box.Dy()/8 && y < eyeY+box.Dy()/8 && dd > peak {
				peak = dd
			}
		}
	}
	sort.Float64s(diffs)
	return peak / math.Max(diffs[len(diffs)/2], 1e-4)
}

func TestInjectedIgnoresLED(t *testing.T) {
	for _, seed := range seeds(8) {
		d := mustNew(t, &Opts{Species: Injected, Seed: seed})
		for _, tm := range []time.Duration{0, 700 * time.Millisecond, 2 * time.Second} {
			off := d.Render(small, 4, tm, 0)
			on := d.Render(small, 4, tm, 1)
			if !bytes.Equal(off.Pix, on.Pix) {
				t.Fatalf("seed %d: injected frame at %v changes with the real LED", seed, tm)
			}
		}
	}
	// Yet injected frames look live: they follow their own recording's LED, so some
	// seeds show the LED's effect at their own times.
	toggling := 0
	for seed := uint64(0); seed < 40; seed++ {
		if drawPresentation(Injected, seed, false).RecordedLED == 2 {
			toggling++
		}
	}
	if toggling == 0 {
		t.Error("no seed in 0..39 records a toggling LED")
	}
}

func TestScreenRespondsWeakly(t *testing.T) {
	var weaker, n int
	for _, seed := range seeds(6) {
		n++
		live, _ := ledResponse(mustNew(t, &Opts{Species: BonaFide, Seed: seed}))
		scr, _ := ledResponse(mustNew(t, &Opts{Species: Screen, Seed: seed}))
		if scr < live/2 {
			weaker++
		}
	}
	if weaker < n-1 || weaker == 0 {
		t.Errorf("screen response was weaker than half the live one for %d of %d seeds", weaker, n)
	}
}

// highFreq is the mean absolute Laplacian of the luma in the face box: halftone dots and
// sub-pixel grids raise it.
func highFreq(img *image.RGBA, r image.Rectangle) float64 {
	var s float64
	for y := r.Min.Y + 1; y < r.Max.Y-1; y++ {
		for x := r.Min.X + 1; x < r.Max.X-1; x++ {
			l := 4*luma(img, x, y) - luma(img, x-1, y) - luma(img, x+1, y) - luma(img, x, y-1) - luma(img, x, y+1)
			s += math.Abs(l)
		}
	}
	return s / float64(r.Dx()*r.Dy())
}

func TestArtefactTextures(t *testing.T) {
	size := camera.Size{W: 640, H: 480}
	var live, print, screen float64
	for _, sp := range []Species{BonaFide, Print, Screen} {
		d := mustNew(t, &Opts{Species: sp, Seed: 5, Nominal: true})
		v := highFreq(d.Render(size, 1, 0, 0), faceBox(d, size, 0.6))
		switch sp {
		case BonaFide:
			live = v
		case Print:
			print = v
		case Screen:
			screen = v
		}
	}
	if print < 1.3*live || screen < 1.3*live {
		t.Errorf("fine texture (mean |Laplacian|): live %.4f, print %.4f, screen %.4f; want halftone and pixel grid above the live face", live, print, screen)
	}
}

// TestNotSeparableByBrightness: over many seeds the overall LED response of live faces
// and prints overlaps, so no single brightness threshold tells them apart.
func TestNotSeparableByBrightness(t *testing.T) {
	var liveR, printR []float64
	count := uint64(16)
	if raceEnabled {
		count = 6
	}
	for seed := uint64(100); seed < 100+count; seed++ {
		l, _ := ledResponse(mustNew(t, &Opts{Species: BonaFide, Seed: seed}))
		p, _ := ledResponse(mustNew(t, &Opts{Species: Print, Seed: seed + 1000}))
		liveR, printR = append(liveR, l), append(printR, p)
	}
	sort.Float64s(liveR)
	sort.Float64s(printR)
	if liveR[len(liveR)-1] < printR[0] || printR[len(printR)-1] < liveR[0] {
		t.Errorf("LED responses do not overlap: live %.2f..%.2f, print %.2f..%.2f", liveR[0], liveR[len(liveR)-1], printR[0], printR[len(printR)-1])
	}
	if liveR[len(liveR)-1]/liveR[0] < 1.5 {
		t.Errorf("live responses vary too little across seeds: %.2f..%.2f", liveR[0], liveR[len(liveR)-1])
	}
}

func TestChallengeThroughGPIOFake(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO18", Num: 18}
	d := mustNew(t, &Opts{Species: BonaFide, Seed: 9, Light: PinLight(pin), FreeRun: true})
	s, err := d.Preview(context.Background(), camera.Request{Size: small, FPS: 15})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A nonce-like schedule; the "panel" sets the pin before each frame.
	schedule := []gpio.Level{gpio.Low, gpio.High, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.Low, gpio.High}
	box := image.Rectangle{}
	var lum []float64
	for _, lv := range schedule {
		if err := pin.Out(lv); err != nil {
			t.Fatal(err)
		}
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		img, err := f.RGBA()
		if err != nil {
			t.Fatal(err)
		}
		if box.Empty() {
			box = faceBox(d, small, 0.6)
		}
		lum = append(lum, meanLuma(img, box))
	}
	var on, off []float64
	for i, lv := range schedule {
		if lv == gpio.High {
			on = append(on, lum[i])
		} else {
			off = append(off, lum[i])
		}
	}
	sort.Float64s(on)
	sort.Float64s(off)
	if on[0] < off[len(off)-1]*1.1 {
		t.Errorf("frames do not follow the LED: on %v, off %v", on, off)
	}
	// PWM at half duty lights half as much as full on (linear units), within noise.
	pin.Out(gpio.Low)
	if err := pin.PWM(gpio.DutyHalf, 0); err != nil {
		t.Fatal(err)
	}
	if lv := PinLight(pin).Level(); math.Abs(lv-0.5) > 0.01 {
		t.Errorf("PinLight at half duty = %.3f", lv)
	}
}

func TestStreamPacingAndLifecycle(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Unix(1000, 0))
	d := mustNew(t, &Opts{Seed: 1, Clock: clk, FailAfter: 3})
	ctx := context.Background()
	s, err := d.Preview(ctx, camera.Request{Size: small, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Still(ctx, camera.Request{}); !errors.Is(err, camera.ErrBusy) {
		t.Fatalf("Still during a stream: %v", err)
	}
	got := make(chan *camera.Frame)
	go func() {
		f, err := s.Next(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	f := <-got // frame 0 is due at once
	if f.Seq != 0 || !f.Time.Equal(time.Unix(1000, 0)) {
		t.Fatalf("first frame seq %d at %v", f.Seq, f.Time)
	}
	go func() {
		f, _ := s.Next(ctx)
		got <- f
	}()
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(100 * time.Millisecond)
	if f := <-got; f.Seq != 1 || !f.Time.Equal(time.Unix(1000, 0).Add(100*time.Millisecond)) {
		t.Fatalf("second frame seq %d at %v", f.Seq, f.Time)
	}
	// A slow consumer skips frames.
	clk.Advance(350 * time.Millisecond)
	f, err = s.Next(ctx)
	if err != nil || f.Seq != 4 {
		t.Fatalf("after 350 ms: seq %d, %v; want 4", f.Seq, err)
	}
	// Cancellation while waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Next: %v", err)
	}
	// FailAfter 3: three frames were rendered; the camera is gone now.
	clk.Advance(time.Second)
	if _, err := s.Next(ctx); !errors.Is(err, camera.ErrGone) {
		t.Errorf("Next after FailAfter: %v, want ErrGone", err)
	}
	if err := d.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(ctx); !errors.Is(err, camera.ErrClosed) {
		t.Errorf("Next after Halt: %v", err)
	}
}

func TestStillAndControls(t *testing.T) {
	ctx := context.Background()
	d := mustNew(t, &Opts{Seed: 2, Nominal: true})
	f, err := d.Still(ctx, camera.Request{Size: camera.Size{W: 1000, H: 700}, Format: camera.MJPEG})
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != camera.MJPEG || f.Width != 1280 || f.Height != 720 {
		t.Fatalf("still %s %dx%d", f.Format, f.Width, f.Height)
	}
	if _, err := f.Gray(); err != nil {
		t.Fatal(err)
	}
	base := mustNew(t, &Opts{Seed: 2, Nominal: true})
	box := faceBox(base, small, 0.6)
	ref := base.Render(small, 1, 0, 0)
	bright := mustNew(t, &Opts{Seed: 2, Nominal: true, Exposure: 1}).Render(small, 1, 0, 0)
	if r := meanLuma(bright, box) / meanLuma(ref, box); r < 1.7 || r > 2.2 {
		t.Errorf("+1 EV changes face luma by %.2fx, want about 2x", r)
	}
	blurred := mustNew(t, &Opts{Seed: 2, Nominal: true, Blur: 3}).Render(small, 1, 0, 0)
	if highFreq(blurred, box) > 0.6*highFreq(ref, box) {
		t.Error("Blur 3 did not soften the frame")
	}
	noisy := mustNew(t, &Opts{Seed: 2, Nominal: true, Noise: 0.05}).Render(small, 1, 0, 0)
	if highFreq(noisy, box) < 1.5*highFreq(ref, box) {
		t.Error("Noise 0.05 did not add noise")
	}
	// Shift moves the face: its brightness centroid follows.
	shifted := mustNew(t, &Opts{Seed: 2, Nominal: true, ShiftX: 0.2}).Render(small, 1, 0, 0)
	if s := bestShift(ref, shifted, box); s < 60 || s > 68 {
		t.Errorf("ShiftX 0.2 moved the face by %d pixels, want 64", s)
	}
	// Yaw and roll change the picture.
	for _, o := range []Opts{{Yaw: 20}, {Roll: 10}, {Scale: 1.3}} {
		o.Seed, o.Nominal = 2, true
		img := mustNew(t, &o).Render(small, 1, 0, 0)
		if bytes.Equal(img.Pix, ref.Pix) {
			t.Errorf("%+v changed nothing", o)
		}
	}
}

// bestShift finds the horizontal shift of b against a that best matches the column
// profiles of the rows of box.
func bestShift(a, b *image.RGBA, box image.Rectangle) int {
	prof := func(img *image.RGBA) []float64 {
		p := make([]float64, img.Rect.Dx())
		for x := range p {
			for y := box.Min.Y; y < box.Max.Y; y++ {
				p[x] += luma(img, x, y)
			}
		}
		return p
	}
	pa, pb := prof(a), prof(b)
	best, bestErr := 0, math.Inf(1)
	for s := -100; s <= 100; s++ {
		var e float64
		n := 0
		for x := box.Min.X; x < box.Max.X; x++ {
			if x+s >= 0 && x+s < len(pb) {
				d := pa[x] - pb[x+s]
				e += d * d
				n++
			}
		}
		if n > 0 && e/float64(n) < bestErr {
			best, bestErr = s, e/float64(n)
		}
	}
	return best
}

func TestSpeciesNames(t *testing.T) {
	for _, sp := range AllSpecies() {
		got, err := ParseSpecies(sp.String())
		if err != nil || got != sp {
			t.Errorf("ParseSpecies(%q) = %v, %v", sp.String(), got, err)
		}
	}
	if _, err := ParseSpecies("mask"); err == nil {
		t.Error("ParseSpecies(mask) succeeded")
	}
	if _, err := New(&Opts{Species: Species(9)}); err == nil {
		t.Error("New with an unknown species succeeded")
	}
	if Print.IsAttack() != true || BonaFide.IsAttack() {
		t.Error("IsAttack")
	}
	if len(Portraits()) != 4 {
		t.Errorf("embedded portraits: %v", Portraits())
	}
}
