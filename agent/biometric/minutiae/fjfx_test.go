package minutiae

import (
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

// NFIQ 2 uses FingerJet FX's minutiae only through four measures (see
// agent/biometric/nfiq2/minutiae.go): the count, the count in the 200×200 window
// centred on their centre of mass, and the fractions whose 32×32 neighbourhood has a
// mean slightly darker than the image (Mu2) or a clear orientation (OCL80). The
// helpers below compute them for our minutiae, so that the extractor can be compared
// with FingerJet FX measure by measure. TestFourMeasuresMatchNFIQ2 (package
// minutiae_test) checks that they equal package nfiq2's.

const nfiqBlock = 32

// fourMeasures returns count, COM200, Mu2 and OCL80 for minutiae on the cropped image.
func fourMeasures(g *image.Gray, ms []Minutia) [4]float64 {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	n := len(ms)
	if n == 0 {
		return [4]float64{0, 0, math.NaN(), math.NaN()}
	}
	var s, sq uint64
	for y := 0; y < h; y++ {
		for _, v := range g.Pix[y*g.Stride : y*g.Stride+w] {
			s += uint64(v)
			sq += uint64(v) * uint64(v)
		}
	}
	scale := 1 / float64(w*h)
	mu := float64(s) * scale
	sigma := math.Sqrt(math.Max(float64(sq)*scale-mu*mu, 0))
	out := [4]float64{float64(n), float64(com200(ms, w, h))}
	mu2, ocl80 := 0, 0
	for _, m := range ms {
		f2, f8 := minutiaFlags(g, m.X, m.Y, mu, sigma)
		if f2 {
			mu2++
		}
		if f8 {
			ocl80++
		}
	}
	out[2] = float64(mu2) / float64(n)
	out[3] = float64(ocl80) / float64(n)
	return out
}

// minutiaFlags tells whether a minutia at (x, y) counts for Mu2 and for OCL80.
func minutiaFlags(g *image.Gray, x, y int, mu, sigma float64) (mu2, ocl80 bool) {
	w, h := g.Bounds().Dx(), g.Bounds().Dy()
	const half = nfiqBlock / 2
	left, top := max(x-half, 0), max(y-half, 0)
	bw, bh := nfiqBlock, nfiqBlock
	if left+nfiqBlock > w {
		bw = w - left
	}
	if top+nfiqBlock > h {
		bh = h - top
	}
	sum := 0
	for r := top; r < top+bh; r++ {
		for _, v := range g.Pix[r*g.Stride+left : r*g.Stride+left+bw] {
			sum += int(v)
		}
	}
	q := (mu - float64(sum)*(1/float64(bw*bh))) / sigma
	mu2 = q > 0 && q <= 0.5
	if left+nfiqBlock > w {
		left = w - nfiqBlock
	}
	if top+nfiqBlock > h {
		top = h - nfiqBlock
	}
	ocl80 = int(oclOf(g, left, top)*100+0.5) > 80
	return
}

// oclOf is NFIQ 2's orientation certainty of the 32×32 block at (x, y).
func oclOf(g *image.Gray, x, y int) float64 {
	var a, b, c float64
	px := func(r, k int) int { return int(g.Pix[(y+r)*g.Stride+x+k]) }
	for r := 0; r < nfiqBlock; r++ {
		up, down, sy := r-1, r+1, 0.5
		if r == 0 {
			up, sy = 0, 1
		}
		if r == nfiqBlock-1 {
			down, sy = nfiqBlock-1, 1
		}
		for k := 0; k < nfiqBlock; k++ {
			var gx float64
			switch k {
			case 0:
				gx = float64(px(r, 1) - px(r, 0))
			case nfiqBlock - 1:
				gx = float64(px(r, k) - px(r, k-1))
			default:
				gx = float64(px(r, k+1)-px(r, k-1)) / 2
			}
			gy := float64(px(down, k)-px(up, k)) * sy
			a += gx * gx
			b += gy * gy
			c += gx * gy
		}
	}
	const n = nfiqBlock * nfiqBlock
	a, b, c = a/n, b/n, c/n
	root := math.Sqrt((a-b)*(a-b) + 4*c*c)
	hi := ((a + b) + root) / 2
	lo := ((a + b) - root) / 2
	if hi == 0 {
		return 0
	}
	return 1 - lo/hi
}

// fjfxRow is one image: our four measures and score against NIST's.
type fjfxRow struct {
	c     refCase
	ours  [4]float64
	nist  [4]float64
	score int // -1 when no scorer is wired in
}

var (
	scorerMu    sync.Mutex
	scorerCache = map[string]func([4]float64) int{}
	cropCache   = map[string]*image.Gray{}
)

func croppedImage(t testing.TB, path string) *image.Gray {
	scorerMu.Lock()
	defer scorerMu.Unlock()
	if g, ok := cropCache[path]; ok {
		return g
	}
	img, err := fpimage.ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := cropNearWhite(img)
	cropCache[path] = g
	return g
}

func scorerOf(t testing.TB, path string) func([4]float64) int {
	if ScorerFor == nil {
		return nil
	}
	scorerMu.Lock()
	defer scorerMu.Unlock()
	if f, ok := scorerCache[path]; ok {
		return f
	}
	f := ScorerFor(t, path)
	scorerCache[path] = f
	return f
}

func nistFour(c refCase) [4]float64 {
	return [4]float64{float64(c.count), float64(c.com200), c.mu2, c.ocl80}
}

// evalFJFX extracts every case with p and compares the four measures and the score.
func evalFJFX(t testing.TB, cases []refCase, p *params) []fjfxRow {
	return evalFJFXShift(t, cases, p, 0, 0)
}

// evalFJFXShifted is evalFJFX on the images shifted by each of the given offsets (the
// extractor sees the crop without its first dx columns and dy rows; the positions are
// shifted back): the spread over shifts shows how much of the agreement is chance.
func evalFJFXShifted(t testing.TB, cases []refCase, p *params, shifts [][2]int) []fjfxRow {
	var rows []fjfxRow
	for _, s := range shifts {
		rows = append(rows, evalFJFXShift(t, cases, p, s[0], s[1])...)
	}
	return rows
}

func evalFJFXShift(t testing.TB, cases []refCase, p *params, dx, dy int) []fjfxRow {
	rows := make([]fjfxRow, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			g := croppedImage(t, c.path)
			sub := g
			if dx != 0 || dy != 0 {
				sub = g.SubImage(image.Rect(dx, dy, g.Bounds().Dx(), g.Bounds().Dy())).(*image.Gray)
			}
			ms, err := extract(sub, 500, p)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				return
			}
			for i := range ms {
				ms[i].X += dx
				ms[i].Y += dy
			}
			r := fjfxRow{c: c, ours: fourMeasures(g, ms), nist: nistFour(c), score: -1}
			if f := scorerOf(t, c.path); f != nil {
				r.score = f(r.ours)
			}
			rows[i] = r
		}()
	}
	wg.Wait()
	return rows
}

// fjfxSummary aggregates rows.
type fjfxSummary struct {
	n           int
	bias, mae   [4]float64 // mean signed and absolute error per measure
	same, worst int        // score identical, worst |difference|
	sumAbs      int
	within2     int
	haveScore   bool
}

func summarise(rows []fjfxRow) fjfxSummary {
	var s fjfxSummary
	for _, r := range rows {
		s.n++
		for j := range 4 {
			d := r.ours[j] - r.nist[j]
			s.bias[j] += d
			s.mae[j] += math.Abs(d)
		}
		if r.score >= 0 {
			s.haveScore = true
			d := r.score - r.c.score
			if d < 0 {
				d = -d
			}
			if d == 0 {
				s.same++
			}
			if d <= 2 {
				s.within2++
			}
			s.sumAbs += d
			s.worst = max(s.worst, d)
		}
	}
	if s.n > 0 {
		for j := range 4 {
			s.bias[j] /= float64(s.n)
			s.mae[j] /= float64(s.n)
		}
	}
	return s
}

func (s fjfxSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d", s.n)
	for j, name := range [4]string{"count", "com200", "mu2", "ocl80"} {
		fmt.Fprintf(&b, " | %s bias %+.3f MAE %.3f", name, s.bias[j], s.mae[j])
	}
	if s.haveScore {
		fmt.Fprintf(&b, " | score identical %d/%d (%.0f%%), within 2: %d, sum|Δ| %d, worst %d", s.same, s.n, 100*float64(s.same)/float64(s.n), s.within2, s.sumAbs, s.worst)
	}
	return b.String()
}
