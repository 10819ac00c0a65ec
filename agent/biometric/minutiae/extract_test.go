package minutiae

import (
	"errors"
	"image"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

// synthetic draws horizontal ridges of period 9 px on a 256×256 image with one phase
// dislocation at (x0, y0): one side of it has one ridge more than the other, so a
// ridge ends there (or, in the negative image, two ridges join: a bifurcation).
func synthetic(negative bool, x0, y0 int) *image.Gray {
	const n, period = 256, 9.0
	g := image.NewGray(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			ph := 2*math.Pi*float64(y-y0)/period + math.Atan2(float64(y-y0), float64(x-x0))
			c := math.Cos(ph)
			if negative {
				c = -c
			}
			v := 128 - 90*c + 6*math.Sin(float64(x)*0.7+float64(y)*1.3)
			g.Pix[y*n+x] = uint8(min(max(v, 0), 255))
		}
	}
	return g
}

// darkRuns counts the ridges crossing column x.
func darkRuns(g *image.Gray, x int) int {
	n, in := 0, false
	for y := 0; y < g.Bounds().Dy(); y++ {
		d := g.GrayAt(x, y).Y < 100
		if d && !in {
			n++
		}
		in = d
	}
	return n
}

func nearest(ms []Minutia, x, y int) (Minutia, float64) {
	best, bd := Minutia{}, math.Inf(1)
	for _, m := range ms {
		if d := math.Hypot(float64(m.X-x), float64(m.Y-y)); d < bd {
			best, bd = m, d
		}
	}
	return best, bd
}

// TestSyntheticMinutiae: the dislocation is found where it is, as an ending in one
// image and a bifurcation in its negative, with a direction along the ridges that
// points, as ISO/IEC 19794-2 says, to the side holding the extra line (into the ridge
// that ends; into the valley between the two branches); clean ridges give nothing else.
func TestSyntheticMinutiae(t *testing.T) {
	kinds := map[Kind]bool{}
	for _, neg := range []bool{false, true} {
		g := synthetic(neg, 128, 127)
		want := 0.0 // the extra ridge is on the right
		if darkRuns(g, 20) > darkRuns(g, 236) {
			want = math.Pi
		}
		ms, err := Extract(g, 500)
		if err != nil {
			t.Fatal(err)
		}
		m, d := nearest(ms, 128, 127)
		if d > 6 {
			t.Fatalf("negative=%v: no minutia near the dislocation: %+v", neg, ms)
		}
		kinds[m.Kind] = true
		if e := angleDiff(m.Angle, want); e > 20*math.Pi/180 {
			t.Errorf("negative=%v: %v angle %.0f°, want %.0f°", neg, m.Kind, m.Angle*180/math.Pi, want*180/math.Pi)
		}
		if m.Quality < 50 || m.Quality > 100 {
			t.Errorf("negative=%v: quality %d on a clean image", neg, m.Quality)
		}
		if len(ms) != 1 {
			t.Errorf("negative=%v: %d minutiae on an image with one: %+v", neg, len(ms), ms)
		}
	}
	if !kinds[Ending] || !kinds[Bifurcation] {
		t.Errorf("kinds found %v, want an ending and a bifurcation", kinds)
	}
}

func TestRejects(t *testing.T) {
	g := synthetic(false, 128, 127)
	for _, ppi := range []int{0, 300, 489, 511, 1000} {
		if _, err := Extract(g, ppi); !errors.Is(err, ErrResolution) {
			t.Errorf("%d ppi: %v, want ErrResolution", ppi, err)
		}
	}
	if _, err := Extract(g, 508); err != nil {
		t.Errorf("508 ppi (within tolerance): %v", err)
	}
	for _, r := range []image.Rectangle{image.Rect(0, 0, 10, 300), image.Rect(0, 0, 3000, 100)} {
		if _, err := Extract(image.NewGray(r), 500); !errors.Is(err, ErrSize) {
			t.Errorf("%v: %v, want ErrSize", r, err)
		}
	}
	if _, err := Extract(nil, 500); !errors.Is(err, ErrSize) {
		t.Errorf("nil image: %v", err)
	}
}

// TestBlank: images without ridges give no minutiae and no error.
func TestBlank(t *testing.T) {
	for _, v := range []uint8{0, 128, 255} {
		g := image.NewGray(image.Rect(0, 0, 200, 240))
		for i := range g.Pix {
			g.Pix[i] = v
		}
		ms, err := Extract(g, 500)
		if err != nil || len(ms) != 0 {
			t.Errorf("uniform %d: %d minutiae, %v", v, len(ms), err)
		}
	}
}

// TestDeterministicAndSubimage: the same pixels give the same minutiae, whatever the
// image's origin and stride, and concurrent calls do not interfere.
func TestDeterministicAndSubimage(t *testing.T) {
	cases := sfingeCases(t)
	img := readGray(t, cases[0].path)
	want, err := Extract(img, 500)
	if err != nil || len(want) == 0 {
		t.Fatal(err, len(want))
	}
	// Embed in a larger image and take the sub-image back.
	b := img.Bounds()
	big := image.NewGray(image.Rect(-7, -5, b.Dx()+20, b.Dy()+9))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			big.SetGray(x, y, img.GrayAt(x, y))
		}
	}
	sub := big.SubImage(image.Rect(0, 0, b.Dx(), b.Dy())).(*image.Gray)
	var wg sync.WaitGroup
	res := make([][]Minutia, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := img
			if i%2 == 1 {
				src = sub
			}
			res[i], _ = Extract(src, 500)
		}()
	}
	wg.Wait()
	for i, r := range res {
		if !reflect.DeepEqual(r, want) {
			t.Errorf("run %d differs (%d vs %d minutiae)", i, len(r), len(want))
		}
	}
}

func TestOptions(t *testing.T) {
	img := readGray(t, sfingeCases(t)[0].path)
	all, _ := Extract(img, 500)
	top, err := ExtractOpts(img, 500, &Options{MaxMinutiae: 10})
	if err != nil || len(top) != 10 {
		t.Fatalf("MaxMinutiae 10: %d, %v", len(top), err)
	}
	minQ := 100
	for _, m := range top {
		minQ = min(minQ, m.Quality)
	}
	better := 0
	for _, m := range all {
		if m.Quality > minQ {
			better++
		}
	}
	if better > 10 {
		t.Errorf("kept quality ≥ %d but %d others are better", minQ, better)
	}
	strict, _ := ExtractOpts(img, 500, &Options{MinQuality: 60})
	for _, m := range strict {
		if m.Quality < 60 {
			t.Errorf("quality %d kept with MinQuality 60", m.Quality)
		}
	}
	if len(strict) >= len(all) {
		t.Errorf("MinQuality 60 kept %d of %d", len(strict), len(all))
	}
}

// TestFMR: the extracted minutiae go into an ISO record and come back unchanged
// (angles to the record's 1.4° step).
func TestFMR(t *testing.T) {
	img := readGray(t, sfingeCases(t)[0].path)
	ms, _ := Extract(img, 500)
	b := img.Bounds()
	rec, err := FMR(ms, b.Dx(), b.Dy(), 2, 60)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := fmr.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := fmr.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	got := back.Views[0].Minutiae
	if back.Format != fmr.ISO2005 || len(got) != len(ms) || back.Views[0].Position != 2 {
		t.Fatalf("record: %v, %d minutiae", back.Format, len(got))
	}
	for i, m := range ms {
		g := got[i]
		a := back.Format.AngleDegrees(g.Angle) * math.Pi / 180
		if int(g.X) != m.X || int(g.Y) != m.Y || Kind(g.Type) != m.Kind || int(g.Quality) != m.Quality || angleDiff(a, m.Angle) > 0.7*math.Pi/180 {
			t.Errorf("minutia %d: %+v from %+v", i, g, m)
		}
	}
	if _, err := FMR(ms, 10, 10, 2, 60); err == nil {
		t.Error("minutiae outside the image accepted")
	}
}
