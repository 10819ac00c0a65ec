package nfiq2

import (
	"math"
	"testing"
)

// A 300×260 test image: grey 200, a band of vertical stripes (high orientation
// certainty) in x 0..99, a dark square (grey 40) at x 150..199 y 150..199, and an
// isotropic checkerboard at x 220..299 y 0..79, and a slightly darker patch (grey
// 160, a little below the image mean) at x 220..299 y 100..149.
func minutiaeTestImage() *gray {
	g := &gray{w: 300, h: 260, pix: make([]uint8, 300*260)}
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			v := 200.0
			switch {
			case x < 100:
				v = 128 + 100*math.Sin(2*math.Pi*float64(x)/8)
			case x >= 150 && x < 200 && y >= 150 && y < 200:
				v = 40
			case x >= 220 && y >= 100 && y < 150:
				v = 160
			case x >= 220 && y < 80:
				if (x/2+y/2)%2 == 0 {
					v = 60
				} else {
					v = 180
				}
			}
			g.pix[y*g.w+x] = uint8(v)
		}
	}
	return g
}

// refStats is an independent two-pass mean and population standard deviation.
func refStats(g *gray) (mean, sd float64) {
	for _, v := range g.pix {
		mean += float64(v)
	}
	mean /= float64(len(g.pix))
	for _, v := range g.pix {
		sd += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(g.pix)))
}

func refBlockMean(g *gray, x0, y0, x1, y1 int) float64 {
	s, n := 0.0, 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			s += float64(g.pix[y*g.w+x])
			n++
		}
	}
	return s / float64(n)
}

func TestMinutiaeMeasures(t *testing.T) {
	g := minutiaeTestImage()
	mu, sigma := refStats(g)
	mins := []point{
		{50, 100},  // stripes: OCL 1
		{175, 175}, // dark square: (mean - m)/sd well above 0.5
		{290, 5},   // checkerboard, near the right edge: block shifted inside for OCL
		{250, 250}, // plain grey near the bottom: OCL 0 (no gradient)
		{0, 0},     // corner: stripes
		{260, 125}, // darker patch: 0 < (mean - m)/sd <= 0.5
	}
	var m Measures
	minutiaeMeasures(g, mins, mu, sigma, &m)

	if m[MinutiaeCount] != 6 {
		t.Errorf("count %v", m[MinutiaeCount])
	}
	// Centre of mass: integer means (1025/6, 655/6) = (170, 109); the rectangle
	// 70..270 × 9..209 holds (175,175) and (260,125).
	if m[MinutiaeCountCOM] != 2 {
		t.Errorf("COM count %v, want 2", m[MinutiaeCountCOM])
	}

	// Mu quality by hand: blocks start 16 up and left (clipped at 0) and are cut by the
	// image edge.
	blocks := [][4]int{{34, 84, 66, 116}, {159, 159, 191, 191}, {274, 0, 300, 32}, {234, 234, 266, 260}, {0, 0, 32, 32}, {244, 109, 276, 141}}
	wantMu2 := 0
	for _, b := range blocks {
		q := (mu - refBlockMean(g, b[0], b[1], b[2], b[3])) / sigma
		if math.Abs(q) < 1e-9 || math.Abs(q-0.5) < 1e-9 {
			t.Fatalf("test image puts a minutia on a bin edge (q=%v)", q)
		}
		if q > 0 && q <= 0.5 {
			wantMu2++
		}
	}
	if got := m[MinutiaeQualityMu2]; got != float64(wantMu2)/6 {
		t.Errorf("Mu2 %v, want %d/6", got, wantMu2)
	}

	// OCL quality: the stripes are certain (1), the dark square's and the grey block's
	// interiors have no gradient (0), the checkerboard is isotropic.
	wantOCL := 0
	for _, b := range [][2]int{{34, 84}, {159, 159}, {268, 0}, {234, 228}, {0, 0}, {244, 109}} {
		ocl := refOCL(g, b[0], b[1])
		if int(ocl*100+0.5) > 80 {
			wantOCL++
		}
	}
	if wantOCL < 1 || wantOCL == 6 {
		t.Fatalf("test image does not separate OCL classes (%d)", wantOCL)
	}
	t.Logf("Mu2 %d/6, OCL80 %d/6", wantMu2, wantOCL)
	if wantMu2 == 0 || wantMu2 == 6 {
		t.Fatalf("test image does not separate Mu classes (%d)", wantMu2)
	}
	if got := m[MinutiaeQualityOCL80]; got != float64(wantOCL)/6 {
		t.Errorf("OCL80 %v, want %d/6", got, wantOCL)
	}

	// No minutiae: NIST divides 0 by 0.
	minutiaeMeasures(g, nil, mu, sigma, &m)
	if m[MinutiaeCount] != 0 || m[MinutiaeCountCOM] != 0 || !math.IsNaN(m[MinutiaeQualityMu2]) || !math.IsNaN(m[MinutiaeQualityOCL80]) {
		t.Errorf("no minutiae: %v %v %v %v", m[MinutiaeCount], m[MinutiaeCountCOM], m[MinutiaeQualityMu2], m[MinutiaeQualityOCL80])
	}
}

// refOCL: 1 - λmin/λmax of the gradient covariance of the 32×32 block at (x0, y0),
// gradients by numpy-style centred differences, written independently of oclBlock.
func refOCL(g *gray, x0, y0 int) float64 {
	px := func(x, y int) float64 { return float64(g.pix[(y0+y)*g.w+x0+x]) }
	d := func(f func(int) float64, i int) float64 {
		switch i {
		case 0:
			return f(1) - f(0)
		case 31:
			return f(31) - f(30)
		}
		return (f(i+1) - f(i-1)) / 2
	}
	var a, b, c float64
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			gx := d(func(i int) float64 { return px(i, y) }, x)
			gy := d(func(i int) float64 { return px(x, i) }, y)
			a += gx * gx
			b += gy * gy
			c += gx * gy
		}
	}
	a, b, c = a/1024, b/1024, c/1024
	root := math.Sqrt((a-b)*(a-b) + 4*c*c)
	if a+b+root == 0 {
		return 0
	}
	return 1 - (a+b-root)/(a+b+root)
}

// TestCOMClipping: the rectangle is clipped to the image, inclusive at both ends.
func TestCOMClipping(t *testing.T) {
	g := minutiaeTestImage()
	mu, sigma := refStats(g)
	var m Measures
	// COM (0+0+200)/3 = 66, (0+259+259)/3 = 172: rectangle x 0..166, y 72..259.
	minutiaeMeasures(g, []point{{0, 0}, {0, 259}, {200, 259}}, mu, sigma, &m)
	if m[MinutiaeCountCOM] != 1 {
		t.Errorf("COM count %v, want 1 (only (0,259))", m[MinutiaeCountCOM])
	}
	// Exactly on the rectangle's edges: COM (100,100), edges 0 and 200 are inside.
	minutiaeMeasures(g, []point{{0, 100}, {200, 100}, {100, 0}, {100, 200}}, mu, sigma, &m)
	if m[MinutiaeCountCOM] != 4 {
		t.Errorf("COM count %v, want 4 (edges inclusive)", m[MinutiaeCountCOM])
	}
}
