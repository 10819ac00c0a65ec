package minutiae_test

import (
	"flag"
	"fmt"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

var scoreTable = flag.Bool("minutiae.scoretable", false, "print the per-image NFIQ 2 comparison with NIST (FingerJet FX minutiae)")

var minutiaeIdx = [4]int{nfiq2.MinutiaeCount, nfiq2.MinutiaeCountCOM, nfiq2.MinutiaeQualityMu2, nfiq2.MinutiaeQualityOCL80}

func init() {
	minutiae.ScorerFor = func(t testing.TB, path string) func([4]float64) int {
		m := model(t)
		img, err := fpimage.ReadFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Compute(img, 500, nil)
		if err != nil {
			t.Fatal(err)
		}
		base := res.Measures
		return func(four [4]float64) int {
			ms := base
			for j, i := range minutiaeIdx {
				ms[i] = four[j]
			}
			s, err := m.Score(&ms)
			if err != nil {
				return -1000
			}
			return s
		}
	}
}

var (
	modelOnce sync.Once
	theModel  *nfiq2.Model
	modelErr  error
)

func model(t testing.TB) *nfiq2.Model {
	modelOnce.Do(func() { theModel, modelErr = nfiq2.Default() })
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return theModel
}

// TestFourMeasuresMatchNFIQ2: the test helpers compute the four minutiae measures
// exactly as package nfiq2 does, on the crop it makes.
func TestFourMeasuresMatchNFIQ2(t *testing.T) {
	m := model(t)
	for _, c := range minutiae.RefCases(t) {
		img, err := fpimage.ReadFile(c.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []minutiae.Minutia
		var gotImg *image.Gray
		res, err := m.ComputeWith(img, 500, func(g *image.Gray, ppi int) ([]minutiae.Minutia, error) {
			ms, err := minutiae.Extract(g, ppi)
			got, gotImg = ms, g
			return ms, err
		})
		if err != nil {
			t.Fatal(err)
		}
		crop := minutiae.CropNearWhite(img)
		if !crop.Bounds().Eq(gotImg.Bounds()) || string(crop.Pix) != string(gotImg.Pix) {
			t.Fatalf("%s: test crop %v differs from NFIQ 2's %v", c.Name, crop.Bounds(), gotImg.Bounds())
		}
		four := minutiae.FourMeasures(crop, got)
		for j, i := range minutiaeIdx {
			if four[j] != res.Measures[i] && !(math.IsNaN(four[j]) && math.IsNaN(res.Measures[i])) {
				t.Errorf("%s: %s = %v, nfiq2 %v", c.Name, nfiq2.MeasureName(i), four[j], res.Measures[i])
			}
		}
		if s := minutiae.ScorerFor(t, c.Path)(four); s != res.UnifiedQualityScore {
			t.Errorf("%s: scorer gives %d, nfiq2 %d", c.Name, s, res.UnifiedQualityScore)
		}
	}
}

func abs(v int) int { return max(v, -v) }

// TestScoreTable prints, per image, our four minutiae measures against NIST's and the
// score with each of NIST's values substituted in turn (-minutiae.scoretable).
func TestScoreTable(t *testing.T) {
	if !*scoreTable {
		t.Skip("development tool: -minutiae.scoretable")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-14s %-4s %5s %5s | %9s %9s %11s %11s | %5s %5s %5s %5s %5s\n", "image", "set", "NIST", "ours",
		"count", "com200", "mu2", "ocl80", "+cnt", "+com", "+mu2", "+ocl", "+all")
	type agg struct{ same, errSum int }
	var tot [2][5]agg
	var base [2]agg
	var n [2]int
	for _, c := range minutiae.RefCases(t) {
		g := minutiae.CropNearWhite(readImage(t, c.Path))
		ms, err := minutiae.Extract(g, 500)
		if err != nil {
			t.Fatal(err)
		}
		ours := minutiae.FourMeasures(g, ms)
		score := minutiae.ScorerFor(t, c.Path)
		set := 1
		if c.Tuning {
			set = 0
		}
		n[set]++
		s0 := score(ours)
		e0 := abs(s0 - c.Score)
		base[set].errSum += e0
		if e0 == 0 {
			base[set].same++
		}
		fmt.Fprintf(&b, "%-14s %-4s %5d %5d | %4.0f/%-4.0f %4.0f/%-4.0f %5.3f/%-5.3f %5.3f/%-5.3f |", c.Name,
			map[bool]string{true: "tune", false: "held"}[c.Tuning], c.Score, s0,
			ours[0], c.NIST[0], ours[1], c.NIST[1], ours[2], c.NIST[2], ours[3], c.NIST[3])
		for j := range 5 {
			four := ours
			if j < 4 {
				four[j] = c.NIST[j]
			} else {
				four = c.NIST
			}
			d := score(four) - c.Score
			tot[set][j].errSum += abs(d)
			if d == 0 {
				tot[set][j].same++
			}
			fmt.Fprintf(&b, " %+5d", d)
		}
		b.WriteByte('\n')
	}
	for set, name := range []string{"tuning", "held-out"} {
		fmt.Fprintf(&b, "%s (%d images): ours identical %d, sum|Δ| %d", name, n[set], base[set].same, base[set].errSum)
		for j, s := range []string{"count", "com200", "mu2", "ocl80", "all four"} {
			fmt.Fprintf(&b, "; NIST's %s: identical %d, sum|Δ| %d", s, tot[set][j].same, tot[set][j].errSum)
		}
		b.WriteByte('\n')
	}
	t.Log(b.String())
}

func readImage(t testing.TB, path string) *image.Gray {
	t.Helper()
	img, err := fpimage.ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func flagBool(name, usage string) *bool { return flag.Bool(name, false, usage) }
