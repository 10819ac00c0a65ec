package panel_test

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/jonboulle/clockwork"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
)

// TestIlluminationChallengeEndToEnd: the panel drives the illumination pin on a
// nonce-driven schedule, the simulated camera reads the same pin at each frame. A live
// face follows the schedule; injected frames do not.
func TestIlluminationChallengeEndToEnd(t *testing.T) {
	nonce := rand.New(rand.NewPCG(0xc0ffee, 7))
	schedule := make([]bool, 12)
	for i := range schedule {
		schedule[i] = nonce.IntN(2) == 1
	}
	schedule[0], schedule[1] = false, true // both levels occur

	corr := func(sp camerasim.Species, seed uint64) float64 {
		d, b := newSim(t, clockwork.NewFakeClock(), nil)
		cam, err := camerasim.New(&camerasim.Opts{Species: sp, Seed: seed, Light: camerasim.PinLight(b.Illumination), FreeRun: true})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cam.Preview(context.Background(), camera.Request{Size: camera.Size{W: 256, H: 192}, FPS: 12})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var lum []float64
		for _, on := range schedule {
			level := 0.0
			if on {
				level = 1
			}
			if err := d.Illuminate(level); err != nil {
				t.Fatal(err)
			}
			f, err := s.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			g, err := f.Gray()
			if err != nil {
				t.Fatal(err)
			}
			lum = append(lum, centreMean(g))
		}
		return correlation(schedule, lum)
	}
	for seed := uint64(1); seed <= 2; seed++ {
		if c := corr(camerasim.BonaFide, seed); c < 0.9 {
			t.Errorf("seed %d: live face correlates %.2f with the LED schedule, want > 0.9", seed, c)
		}
		if c := corr(camerasim.Injected, seed); c > 0.6 {
			t.Errorf("seed %d: injected frames correlate %.2f with the LED schedule, want low", seed, c)
		}
	}
}

func centreMean(g *image.Gray) float64 {
	b := g.Bounds()
	var s, n float64
	for y := b.Dy() / 3; y < b.Dy()*2/3; y++ {
		for x := b.Dx() / 3; x < b.Dx()*2/3; x++ {
			s += float64(g.GrayAt(x, y).Y)
			n++
		}
	}
	return s / n
}

// correlation is Pearson's r between the schedule (0/1) and the luma series.
func correlation(on []bool, v []float64) float64 {
	n := float64(len(v))
	var mx, my float64
	for i := range v {
		if on[i] {
			mx++
		}
		my += v[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range v {
		x := -mx
		if on[i] {
			x = 1 - mx
		}
		y := v[i] - my
		sxy += x * y
		sxx += x * x
		syy += y * y
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / (sqrt(sxx) * sqrt(syy))
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
