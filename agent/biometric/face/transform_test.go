package face

import (
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// transform is a degradation applied to a compliant portrait: the checks in
// mustFail have to fail on the result, those in mayFail may, and every other
// check has to keep passing.
type transform struct {
	name     string
	apply    func(m *image.RGBA, r *Report) *image.RGBA
	mustFail []string
	mayFail  []string
}

var transforms = []transform{
	{
		name: "darkened",
		// ×0.4 on the sRGB values: about 2.6 stops under-exposed.
		apply: func(m *image.RGBA, _ *Report) *image.RGBA {
			return mapPixels(m, func(v float64) float64 { return 0.4 * v })
		},
		mustFail: []string{CheckLuminanceMean},
		mayFail:  []string{CheckUnderExposure, CheckDynamicRange, CheckLuminanceSpread},
	},
	{
		name: "over-exposed",
		// Exposure raised in linear light until the face's mean luminance would
		// be 0.75 of white, then clipped: a fair face needs less, a dark one more.
		apply: func(m *image.RGBA, r *Report) *image.RGBA {
			c, _ := r.Checks.Get(CheckLuminanceMean)
			k := 0.75 / c.Value
			return mapPixels(m, func(v float64) float64 { return 255 * linearToSRGB(k*srgbToLinear[uint8(v)]) })
		},
		mustFail: []string{CheckOverExposure},
		mayFail:  []string{CheckLuminanceMean, CheckDynamicRange, CheckLuminanceSpread},
	},
	{
		name: "blurred",
		// Gaussian defocus of 4 % of the inter-eye distance.
		apply:    func(m *image.RGBA, r *Report) *image.RGBA { return gaussianBlur(m, 0.04*r.InterEye) },
		mustFail: []string{CheckSharpness},
	},
	{
		name: "rotated 15°",
		apply: func(m *image.RGBA, r *Report) *image.RGBA {
			return rotate(m, 15, (r.LeftEye.X+r.RightEye.X)/2, (r.LeftEye.Y+r.RightEye.Y)/2)
		},
		mustFail: []string{CheckRoll},
	},
	{
		name: "shifted off-centre",
		// 15 % of the width to the right (three times the tolerance).
		apply:    func(m *image.RGBA, _ *Report) *image.RGBA { return shift(m, 0.15*float64(m.Rect.Dx()), 0) },
		mustFail: []string{CheckCentring},
	},
	{
		name: "downscaled",
		// To 80 pixels between the eyes.
		apply:    func(m *image.RGBA, r *Report) *image.RGBA { return resize(m, 80/r.InterEye) },
		mustFail: []string{CheckInterEye},
	},
}

// maxSharedBases bounds the test's run time: it analyses each base seven times,
// and under the race detector an analysis takes about a second.
func maxSharedBases() int {
	if raceEnabled {
		return 2
	}
	return 6
}

// basePortraits returns compliant portraits: the two in testdata always, and
// (unless -short) the first maxSharedBases shared ones of at most a megapixel
// that pass every check, when ../shared is present.
func basePortraits(t *testing.T, a *Analyzer) map[string]*image.RGBA {
	out := map[string]*image.RGBA{}
	paths, _ := filepath.Glob("testdata/portrait-*.jpg")
	shared := 0
	if sh := sharedDir(); sh != "" && !testing.Short() {
		more, _ := filepath.Glob(filepath.Join(sh, "data", "faces", "portraits", "*.jpg"))
		paths = append(paths, more...)
	}
	for _, p := range paths {
		fromShared := !strings.Contains(p, "testdata")
		if fromShared && shared >= maxSharedBases() {
			break
		}
		m := toRGBA(loadImage(t, p))
		r, err := a.Analyze(m)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != Pass {
			if !fromShared {
				t.Fatalf("%s: testdata portrait fails %v", p, r.Failed())
			}
			continue
		}
		if fromShared {
			if m.Rect.Dx()*m.Rect.Dy() > 1<<20 {
				continue
			}
			shared++
		}
		out[filepath.Base(p)] = m
	}
	return out
}

func TestTransformsFlipTheMatchingCheck(t *testing.T) {
	a := newTestAnalyzer(t)
	bases := basePortraits(t, a)
	if len(bases) < 2 {
		t.Fatalf("only %d compliant base portraits", len(bases))
	}
	t.Logf("%d compliant base portraits", len(bases))
	names := make([]string, 0, len(bases))
	for n := range bases {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, tr := range transforms {
		t.Run(tr.name, func(t *testing.T) {
			for _, n := range names {
				m := bases[n]
				r0, _ := a.Analyze(m)
				out := tr.apply(m, r0)
				r, err := a.Analyze(out)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Found {
					t.Errorf("%s: no face after %s", n, tr.name)
					continue
				}
				failed := r.Failed()
				for _, want := range tr.mustFail {
					if !slices.Contains(failed, want) {
						c, _ := r.Checks.Get(want)
						t.Errorf("%s: %s did not fail %s (value %v, score %d)", n, tr.name, want, c.Value, c.Score)
					}
				}
				for _, f := range failed {
					if !slices.Contains(tr.mustFail, f) && !slices.Contains(tr.mayFail, f) {
						c, _ := r.Checks.Get(f)
						c0, _ := r0.Checks.Get(f)
						if marginal(a, c0) {
							t.Logf("%s: %s also failed %s, which was within its estimation error of the limit (%v → %v)", n, tr.name, f, c0.Value, c.Value)
							continue
						}
						t.Errorf("%s: %s also failed %s (value %v → %v)", n, tr.name, f, c0.Value, c.Value)
					}
				}
				if r.Verdict != Fail {
					t.Errorf("%s: verdict %s after %s", n, r.Verdict, tr.name)
				}
				if testing.Verbose() {
					t.Logf("%s: failed %v hints %q", n, failed, r.Hints)
				}
			}
		})
	}
}

func newTestAnalyzer(t testing.TB) *Analyzer {
	t.Helper()
	a, err := NewAnalyzer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// marginal reports whether a passing check's value lies within the estimation
// error of its limit, so that any change of the image may flip it: head pose
// angles from landmarks (pitch ±4°, yaw ±3°, roll ±1.5°), the head size (±0.05)
// and the background gradient (±5 %).
func marginal(a *Analyzer, c Check) bool {
	o := a.Options()
	switch c.Name {
	case CheckPitch:
		return math.Abs(math.Abs(c.Value)-o.MaxPitch) < 4
	case CheckYaw:
		return math.Abs(math.Abs(c.Value)-o.MaxYaw) < 3
	case CheckRoll:
		return math.Abs(math.Abs(c.Value)-o.MaxRoll) < 1.5
	case CheckHeadSize:
		// The chin is extrapolated from the lower lip: about ±0.1 IED.
		return math.Abs(c.Value-o.HeadHeightMin) < 0.05 || math.Abs(c.Value-o.HeadHeightMax) < 0.05
	case CheckBackground:
		return math.Abs(c.Value-backgroundMaxGradient) < 0.05*backgroundMaxGradient
	}
	return false
}

func linearToSRGB(v float64) float64 {
	if v >= 1 {
		return 1
	}
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

var _ = fmt.Sprint
