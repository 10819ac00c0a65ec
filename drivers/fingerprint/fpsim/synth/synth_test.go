package synth

import (
	"math"
	"math/rand/v2"
	"testing"
)

func corr(a, b []float32) float64 {
	var sa, sb, sab, saa, sbb float64
	n := float64(len(a))
	for i := range a {
		sa += float64(a[i])
		sb += float64(b[i])
	}
	ma, mb := sa/n, sb/n
	for i := range a {
		x, y := float64(a[i])-ma, float64(b[i])-mb
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	return sab / math.Sqrt(saa*sbb)
}

var small = &Opts{Width: 200, Height: 240}

func TestDeterministicAndDistinct(t *testing.T) {
	a, b := Generate(1, small), Generate(1, small)
	for i := range a.Ridge {
		if a.Ridge[i] != b.Ridge[i] {
			t.Fatal("same seed, different ridges")
		}
	}
	for seed := uint64(2); seed <= 4; seed++ {
		c := Generate(seed, small)
		if r := corr(a.Ridge, c.Ridge); math.Abs(r) > 0.2 {
			t.Errorf("seeds 1 and %d correlate %.2f", seed, r)
		}
	}
}

func TestSingularPoints(t *testing.T) {
	want := map[Class][2]int{Arch: {0, 0}, TentedArch: {1, 1}, LeftLoop: {1, 1}, RightLoop: {1, 1}, Whorl: {2, 2}}
	for cls, n := range want {
		m := Generate(9, &Opts{Width: 200, Height: 240, Class: cls, Iterations: 2})
		cores, deltas := 0, 0
		for _, s := range m.Singular {
			if s.Delta {
				deltas++
			} else {
				cores++
			}
		}
		if m.Class != cls || cores != n[0] || deltas != n[1] {
			t.Errorf("%v: %d cores, %d deltas", cls, cores, deltas)
		}
	}
	// Random classes follow the natural frequencies roughly: loops most often.
	count := map[Class]int{}
	for s := uint64(0); s < 1000; s++ {
		count[drawClass(rand.New(rand.NewPCG(s, 0x66696e676572)))]++
	}
	if loops := count[LeftLoop] + count[RightLoop]; loops < 600 || loops > 710 || count[Whorl] < 230 || count[Whorl] > 330 || count[Arch]+count[TentedArch] > 100 {
		t.Errorf("class counts %v", count)
	}
	if m := Generate(3, &Opts{Width: 64, Height: 64, Iterations: 1}); m.Class != drawClass(rand.New(rand.NewPCG(3, 0x66696e676572))) {
		t.Error("Generate draws its class differently")
	}
}

// TestRidgePeriod: along a vertical line near the top, where ridges run across the
// finger, the pattern crosses zero twice per ridge period.
func TestRidgePeriod(t *testing.T) {
	seeds := uint64(3)
	if raceEnabled || testing.Short() {
		seeds = 1
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		m := Generate(seed, nil)
		x := m.W / 2
		crossings := 0
		y0, y1 := 20, 120
		for y := y0 + 1; y < y1; y++ {
			if (m.Ridge[y*m.W+x] > 0) != (m.Ridge[(y-1)*m.W+x] > 0) {
				crossings++
			}
		}
		got := 2 * float64(y1-y0) / float64(crossings)
		// Ridges near the top are not exactly horizontal: allow 25%.
		if got < m.Period*0.75 || got > m.Period*1.25 {
			t.Errorf("seed %d: period %.1f along the line, %.1f in the map", seed, got, m.Period)
		}
		if len(m.Pores) < 500 {
			t.Errorf("seed %d: %d pores", seed, len(m.Pores))
		}
		for _, p := range m.Pores[:50] {
			if m.Ridge[int(p.Y)*m.W+int(p.X)] < 0.75 {
				t.Errorf("pore off the ridge crest at %v", p)
			}
		}
	}
}

// meanInside returns the image's mean grey level and the fraction of dark pixels.
func meanInside(t *testing.T, m *Master, imp Impression) (float64, float64) {
	t.Helper()
	g := m.Render(imp, 256, 288)
	var s float64
	var n int
	for _, v := range g.Pix {
		s += float64(v)
		if v < 200 {
			n++
		}
	}
	return s / float64(len(g.Pix)), float64(n) / float64(len(g.Pix))
}

func TestImpressionPhysics(t *testing.T) {
	m := Generate(5, nil)
	base := Impression{Pressure: 0.5, Moisture: 0.4, Texture: 0.5, Pores: 0.5, Contrast: 0.8, Background: 230}
	dry, wet := base, base
	dry.Moisture, wet.Moisture = 0.1, 0.8
	md, _ := meanInside(t, m, dry)
	mw, _ := meanInside(t, m, wet)
	if mw >= md-10 {
		t.Errorf("wet skin not darker: dry %.1f, wet %.1f", md, mw)
	}
	light, hard := base, base
	light.Pressure, hard.Pressure = 0.1, 0.9
	light.DY, hard.DY = 60, 60 // the edge of the contact in view
	_, al := meanInside(t, m, light)
	_, ah := meanInside(t, m, hard)
	if ah <= al {
		t.Errorf("harder press, no larger contact: %.3f vs %.3f", ah, al)
	}
	// Sweat darkens around the pores.
	sw := base
	sw.Sweat = 0.8
	ms, _ := meanInside(t, m, sw)
	mb, _ := meanInside(t, m, base)
	if ms >= mb-3 {
		t.Errorf("sweat did not darken: %.1f vs %.1f", ms, mb)
	}
	// A rotated impression differs; the same parameters render the same image.
	a := m.Render(base, 128, 128)
	b := m.Render(base, 128, 128)
	rot := base
	rot.Rotation = 0.2
	c := m.Render(rot, 128, 128)
	same, diff := 0, 0
	for i := range a.Pix {
		if a.Pix[i] == b.Pix[i] {
			same++
		}
		if a.Pix[i] != c.Pix[i] {
			diff++
		}
	}
	if same != len(a.Pix) || diff < len(a.Pix)/3 {
		t.Errorf("determinism %d/%d, rotation changed %d pixels", same, len(a.Pix), diff)
	}
}

func BenchmarkGenerate(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		Generate(uint64(i), nil)
	}
}

func BenchmarkRender(b *testing.B) {
	m := Generate(1, nil)
	imp := NaturalImpression(rand.New(rand.NewPCG(1, 1)))
	for b.Loop() {
		m.Render(imp, 320, 360)
	}
}
