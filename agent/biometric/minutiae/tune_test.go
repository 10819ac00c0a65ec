package minutiae

import (
	"flag"
	"math"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

var tuneFlag = flag.Bool("minutiae.tune", false, "search the clean-up parameters on the tuning split (slow; prints the result)")

type prepared struct {
	c    refCase
	x    *work
	w, h int
}

// TestTune runs a coordinate search of the post-processing parameters on the tuning
// split only (FVC2002 fingers 101-103, SFinGe 01-02). It is a development tool, run
// with -minutiae.tune; the defaults in defaultParams come from it.
func TestTune(t *testing.T) {
	if !*tuneFlag {
		t.Skip("development tool: -minutiae.tune")
	}
	var cases []refCase
	for _, c := range append(sfingeCases(t), fvcCases(t)...) {
		if c.tuning {
			cases = append(cases, c)
		}
	}
	base := defaultParams()
	var preps []prepared
	for _, c := range cases {
		img, err := fpimage.ReadFile(c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		img = cropNearWhite(img)
		b := img.Bounds()
		x := newWork(b.Dx(), b.Dy())
		copy(x.grey, img.Pix)
		x.orientation(&base)
		x.segment(&base)
		x.period()
		x.enhance(&base)
		x.binarise()
		x.thin()
		preps = append(preps, prepared{c: c, x: x, w: b.Dx(), h: b.Dy()})
	}
	cost := func(p *params) float64 {
		var rows []evalRow
		for _, pr := range preps {
			ms := pr.x.detect(p)
			rows = append(rows, evalRow{c: pr.c, n: len(ms), n200: com200(ms, pr.w, pr.h)})
		}
		s := stats(rows)
		return s.mreCount + s.mre200
	}
	type knob struct {
		name string
		set  func(p *params, v float64)
		vals []float64
	}
	knobs := []knob{
		{"clusterCount", func(p *params, v float64) { p.clusterCount = int(v) }, []float64{3, 4, 5, 6, 1000}},
		{"borderMargin", func(p *params, v float64) { p.borderMargin = v }, []float64{4, 6, 8, 10, 12, 14, 16}},
		{"spurLen", func(p *params, v float64) { p.spurLen = int(v) }, []float64{4, 6, 8, 10, 12, 14, 16}},
		{"shortRidgeLen", func(p *params, v float64) { p.shortRidgeLen = int(v) }, []float64{4, 8, 12, 16, 20, 24}},
		{"bridgeLen", func(p *params, v float64) { p.bridgeLen = int(v) }, []float64{4, 6, 8, 10, 12, 14, 16}},
		{"breakDist", func(p *params, v float64) { p.breakDist = v }, []float64{0, 6, 8, 10, 12, 14, 18}},
		{"pairDist", func(p *params, v float64) { p.pairDist = v }, []float64{0, 3, 4, 5, 6, 8}},
		{"clusterCount", func(p *params, v float64) { p.clusterCount = int(v) }, []float64{2, 3, 4, 5, 6, 8, 100}},
		{"clusterRadius", func(p *params, v float64) { p.clusterRadius = v }, []float64{10, 12, 14, 16, 20, 24}},
		{"minQuality", func(p *params, v float64) { p.minQuality = int(v) }, []float64{1, 5, 10, 15, 20, 30}},
	}
	p := base
	best := cost(&p)
	t.Logf("start cost %.4f", best)
	for round := 0; round < 3; round++ {
		for _, k := range knobs {
			bv := math.NaN()
			for _, v := range k.vals {
				q := p
				k.set(&q, v)
				if c := cost(&q); c < best-1e-9 {
					best, bv = c, v
				}
			}
			if !math.IsNaN(bv) {
				k.set(&p, bv)
				t.Logf("round %d %s=%v cost %.4f", round, k.name, bv, best)
			}
		}
	}
	t.Logf("result %+v", p)
}

var tuneFJFXFlag = flag.Bool("minutiae.tunefjfx", false, "search the parameters for agreement of NFIQ 2's four minutiae measures with FingerJet FX's on the tuning split (slow)")

// measureCost is, approximately, how many unified scores the errors of the four
// measures change: the per-unit rates of score change measured on NIST's conformance
// set (TestForestSensitivity: one minutia of count 7.5%, of COM200 17%, 0.01 of Mu2
// 11%, 0.01 of OCL80 30%).
func measureCost(rows []fjfxRow) float64 {
	c := 0.0
	for _, r := range rows {
		c += 0.075*math.Abs(r.ours[0]-r.nist[0]) + 0.17*math.Abs(r.ours[1]-r.nist[1]) +
			11*math.Abs(r.ours[2]-r.nist[2]) + 30*math.Abs(r.ours[3]-r.nist[3])
	}
	return c / float64(len(rows))
}

var tuneShifts = [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 0}, {0, 2}, {2, 2}, {3, 1}}

// TestTuneFJFX runs a coordinate search of the parameters on the tuning split only,
// minimising measureCost. Development tool (-minutiae.tunefjfx); the defaults in
// defaultParams come from it.
func TestTuneFJFX(t *testing.T) {
	if !*tuneFJFXFlag {
		t.Skip("development tool: -minutiae.tunefjfx")
	}
	var tune, held []refCase
	for _, c := range append(sfingeCases(t), fvcCases(t)...) {
		if c.tuning {
			tune = append(tune, c)
		} else {
			held = append(held, c)
		}
	}
	type knob struct {
		name string
		set  func(p *params, v float64)
		vals []float64
	}
	knobs := []knob{
		{"clusterCount", func(p *params, v float64) { p.clusterCount = int(v) }, []float64{3, 4, 5, 6, 1000}},
		{"borderMargin", func(p *params, v float64) { p.borderMargin = v }, []float64{5, 6, 7, 8, 10, 12}},
		{"spurLen", func(p *params, v float64) { p.spurLen = int(v) }, []float64{0, 3, 6, 9, 12}},
		{"shortRidgeLen", func(p *params, v float64) { p.shortRidgeLen = int(v) }, []float64{0, 6, 12, 18, 24}},
		{"bridgeLen", func(p *params, v float64) { p.bridgeLen = int(v) }, []float64{0, 3, 6, 9, 12}},
		{"breakDist", func(p *params, v float64) { p.breakDist = v }, []float64{0, 8, 14, 20}},
		{"clusterCount", func(p *params, v float64) { p.clusterCount = int(v) }, []float64{3, 4, 5, 6, 1000}},
		{"clusterRadius", func(p *params, v float64) { p.clusterRadius = v }, []float64{10, 13, 16, 20}},
		{"minQuality", func(p *params, v float64) { p.minQuality = int(v) }, []float64{1, 5, 10, 20}},
		{"segStdFrac", func(p *params, v float64) { p.segStdFrac = v }, []float64{0.25, 0.3, 0.35}},
	}
	p := defaultParams()
	// Shifted copies of each image average out the chance in which minutiae survive.
	cost := func(q *params) float64 { return measureCost(evalFJFXShifted(t, tune, q, tuneShifts)) }
	best := cost(&p)
	t.Logf("start: tuning cost %.4f, held-out cost %.4f", best, measureCost(evalFJFXShifted(t, held, &p, tuneShifts)))
	for round := 0; round < 2; round++ {
		improved := false
		for _, k := range knobs {
			bv := math.NaN()
			for _, v := range k.vals {
				q := p
				k.set(&q, v)
				if c := cost(&q); c < best-1e-9 {
					best, bv = c, v
				}
			}
			if !math.IsNaN(bv) {
				k.set(&p, bv)
				improved = true
				t.Logf("round %d %s=%v: tuning cost %.4f", round, k.name, bv, best)
			}
		}
		if !improved {
			break
		}
	}
	t.Logf("result %+v", p)
	t.Logf("tuning:   cost %.4f %v", best, summarise(evalFJFXShifted(t, tune, &p, tuneShifts)))
	hr := evalFJFXShifted(t, held, &p, tuneShifts)
	t.Logf("held-out: cost %.4f %v", measureCost(hr), summarise(hr))
}
