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
