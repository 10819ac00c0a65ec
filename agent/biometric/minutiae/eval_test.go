package minutiae

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

var evalVerbose = flag.Bool("minutiae.table", false, "print the per-image comparison with FingerJetFX")

// refCase is one image with FingerJetFX's figures as NIST's NFIQ 2 reported them.
type refCase struct {
	name     string
	path     string
	count    int     // FingerJetFX_MinutiaeCount
	com200   int     // FingerJetFX_MinCount_COMMinRect200x200
	mu2      float64 // FJFXPos_Mu_MinutiaeQuality_2
	ocl80    float64 // FJFXPos_OCL_MinutiaeQuality_80
	score    int     // UnifiedQualityScore
	tuning   bool
	finger   string
	skipNote string
}

// Tuning split: the parameters were tuned on FVC2002 DB1_B fingers 101-103 and
// SFinGe_Test01-02; fingers 104-105 and SFinGe_Test03-05 are held out for reporting.
func isTuning(name string) bool {
	switch {
	case strings.HasPrefix(name, "101_"), strings.HasPrefix(name, "102_"), strings.HasPrefix(name, "103_"):
		return true
	case name == "SFinGe_Test01", name == "SFinGe_Test02":
		return true
	}
	return false
}

// sharedDir finds ../shared beside the repository by walking up from the test's
// directory; "" when absent.
func sharedDir() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		c := filepath.Join(filepath.Dir(d), "shared")
		if st, err := os.Stat(filepath.Join(c, "data")); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func sfingeCases(t testing.TB) []refCase {
	var cs []refCase
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("SFinGe_Test%02d", i)
		f, err := os.Open(filepath.Join("testdata", "sfinge", name+"_output.txt"))
		if err != nil {
			t.Fatal(err)
		}
		c := refCase{name: name, path: filepath.Join("testdata", "sfinge", name+".pgm"), tuning: isTuning(name), finger: name}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ": ")
			if !ok {
				continue
			}
			switch k {
			case "FingerJetFX_MinutiaeCount":
				c.count, _ = strconv.Atoi(v)
			case "FingerJetFX_MinCount_COMMinRect200x200":
				c.com200, _ = strconv.Atoi(v)
			case "FJFXPos_Mu_MinutiaeQuality_2":
				c.mu2, _ = strconv.ParseFloat(v, 64)
			case "FJFXPos_OCL_MinutiaeQuality_80":
				c.ocl80, _ = strconv.ParseFloat(v, 64)
			case "UnifiedQualityScore":
				c.score, _ = strconv.Atoi(v)
			}
		}
		f.Close()
		if c.count == 0 {
			t.Fatalf("%s: no FingerJetFX count in the reference output", name)
		}
		// The fractions are printed to six digits: restore k/n exactly.
		c.mu2 = math.Round(c.mu2*float64(c.count)) / float64(c.count)
		c.ocl80 = math.Round(c.ocl80*float64(c.count)) / float64(c.count)
		cs = append(cs, c)
	}
	return cs
}

// fvcCases lists the FVC2002 images with NIST's figures; images are read from
// ../shared (eval-only, never copied). It returns nil when they are absent.
func fvcCases(t testing.TB) []refCase {
	sh := sharedDir()
	if sh == "" {
		return nil
	}
	dir := filepath.Join(sh, "data", "fingerprints", "eval-only", "fvc2002-db1b")
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	f, err := os.Open(filepath.Join("testdata", "fvc2002", "fjfx-reference.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	var cs []refCase
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		name := strings.TrimSuffix(fs[0], ".pgm")
		score, _ := strconv.Atoi(fs[1])
		n, _ := strconv.Atoi(fs[2])
		c200, _ := strconv.Atoi(fs[3])
		mu2, _ := strconv.ParseFloat(fs[4], 64)
		ocl80, _ := strconv.ParseFloat(fs[5], 64)
		p := filepath.Join(dir, name+".tif")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		cs = append(cs, refCase{name: name, path: p, count: n, com200: c200, mu2: mu2, ocl80: ocl80, score: score, tuning: isTuning(name), finger: name[:3]})
	}
	return cs
}

// cropNearWhite removes rows and columns whose mean is above 250 from each side, as
// NIST's NFIQ 2 does before it runs FingerJetFX (so coordinates and the 200×200
// window are comparable).
func cropNearWhite(img *image.Gray) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	rowMean := func(y int) float64 {
		s := 0
		for x := 0; x < w; x++ {
			s += int(img.GrayAt(b.Min.X+x, b.Min.Y+y).Y)
		}
		return float64(s) / float64(w)
	}
	colMean := func(x int) float64 {
		s := 0
		for y := 0; y < h; y++ {
			s += int(img.GrayAt(b.Min.X+x, b.Min.Y+y).Y)
		}
		return float64(s) / float64(h)
	}
	top, bot, left, right := 0, h-1, 0, w-1
	for top < h && rowMean(top) > 250 {
		top++
	}
	for bot > top && rowMean(bot) > 250 {
		bot--
	}
	for left < w && colMean(left) > 250 {
		left++
	}
	for right > left && colMean(right) > 250 {
		right--
	}
	if top >= bot || left >= right {
		return img
	}
	out := image.NewGray(image.Rect(0, 0, right-left+1, bot-top+1))
	for y := top; y <= bot; y++ {
		for x := left; x <= right; x++ {
			out.Pix[(y-top)*out.Stride+x-left] = img.GrayAt(b.Min.X+x, b.Min.Y+y).Y
		}
	}
	return out
}

// com200 counts the minutiae inside the 200×200 window centred on their centre of
// mass, with NIST's integer arithmetic and clipping.
func com200(ms []Minutia, w, h int) int {
	if len(ms) == 0 {
		return 0
	}
	sx, sy := 0, 0
	for _, m := range ms {
		sx += m.X
		sy += m.Y
	}
	cx, cy := sx/len(ms), sy/len(ms)
	x0, y0 := max(cx-100, 0), max(cy-100, 0)
	x1, y1 := min(cx+100, w-1), min(cy+100, h-1)
	n := 0
	for _, m := range ms {
		if m.X >= x0 && m.X <= x1 && m.Y >= y0 && m.Y <= y1 {
			n++
		}
	}
	return n
}

type evalRow struct {
	c         refCase
	n, n200   int
	relN, rel float64
}

type evalStats struct {
	n                          int
	maeCount, mreCount, medRel float64
	mae200, mre200, medRel200  float64
}

func stats(rows []evalRow) evalStats {
	var s evalStats
	var rc, r2 []float64
	for _, r := range rows {
		s.n++
		s.maeCount += math.Abs(float64(r.n - r.c.count))
		s.mae200 += math.Abs(float64(r.n200 - r.c.com200))
		a := math.Abs(float64(r.n-r.c.count)) / float64(r.c.count)
		b := math.Abs(float64(r.n200-r.c.com200)) / math.Max(1, float64(r.c.com200))
		s.mreCount += a
		s.mre200 += b
		rc = append(rc, a)
		r2 = append(r2, b)
	}
	if s.n == 0 {
		return s
	}
	f := float64(s.n)
	s.maeCount /= f
	s.mae200 /= f
	s.mreCount /= f
	s.mre200 /= f
	s.medRel = median(rc)
	s.medRel200 = median(r2)
	return s
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func runEval(t testing.TB, cases []refCase, p *params) []evalRow {
	var rows []evalRow
	for _, c := range cases {
		img, err := fpimage.ReadFile(c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		img = cropNearWhite(img)
		ms, err := extract(img, 500, p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b := img.Bounds()
		rows = append(rows, evalRow{c: c, n: len(ms), n200: com200(ms, b.Dx(), b.Dy())})
	}
	return rows
}

func (s evalStats) String() string {
	return fmt.Sprintf("n=%d count: MAE %.1f, mean rel %.1f%%, median rel %.1f%% | COM200: MAE %.1f, mean rel %.1f%%, median rel %.1f%%",
		s.n, s.maeCount, 100*s.mreCount, 100*s.medRel, s.mae200, 100*s.mre200, 100*s.medRel200)
}

func splitRows(rows []evalRow) (tune, held []evalRow) {
	for _, r := range rows {
		if r.c.tuning {
			tune = append(tune, r)
		} else {
			held = append(held, r)
		}
	}
	return
}

// TestAgreementFingerJetFX compares the counts with FingerJetFX's on NIST's reference
// outputs and asserts the agreement reached on the held-out images.
func TestAgreementFingerJetFX(t *testing.T) {
	cases := sfingeCases(t)
	fvc := fvcCases(t)
	if fvc == nil {
		t.Log("FVC2002 images absent (../shared): SFinGe only")
	}
	cases = append(cases, fvc...)
	p := defaultParams()
	rows := runEval(t, cases, &p)
	if *evalVerbose || testing.Verbose() {
		for _, r := range rows {
			split := "held-out"
			if r.c.tuning {
				split = "tuning"
			}
			t.Logf("%-14s %-8s count %3d vs FJFX %3d   COM200 %3d vs FJFX %3d", r.c.name, split, r.n, r.c.count, r.n200, r.c.com200)
		}
	}
	tune, held := splitRows(rows)
	st, sh := stats(tune), stats(held)
	t.Logf("tuning:   %v", st)
	t.Logf("held-out: %v", sh)
	t.Logf("all:      %v", stats(rows))
	// Bounds met on the held-out images with some margin (measured: median relative
	// count error 8.0%, mean 8.4%, COM200 mean 11.9% with FVC; see the report).
	check := func(what string, got, limit float64) {
		if got > limit {
			t.Errorf("held-out %s = %.1f%%, want <= %.0f%%", what, 100*got, 100*limit)
		}
	}
	check("median relative count error", sh.medRel, 0.12)
	check("mean relative count error", sh.mreCount, 0.12)
	check("mean relative COM200 error", sh.mre200, 0.17)
	check("median relative COM200 error", sh.medRel200, 0.17)
	// NFIQ 2 sees the minutiae through four measures: the two counts above and the
	// fractions Mu2 and OCL80 (fjfx_test.go). Measured on the held-out images: mean
	// absolute error of Mu2 0.046, of OCL80 0.034; unified score identical to NIST's on
	// 8 of 19, worst difference 4 (TestUnifiedScoreWithExtractor in package nfiq2
	// asserts the figures on all 45).
	fr := evalFJFX(t, cases, &p)
	var heldFJFX []fjfxRow
	for _, r := range fr {
		if !r.c.tuning {
			heldFJFX = append(heldFJFX, r)
		}
	}
	sf := summarise(heldFJFX)
	t.Logf("held-out four measures: %v", sf)
	if sf.mae[2] > 0.05 || sf.mae[3] > 0.04 {
		t.Errorf("held-out mean absolute error of Mu2 %.3f (want <= 0.05), of OCL80 %.3f (want <= 0.04)", sf.mae[2], sf.mae[3])
	}
	if sf.haveScore && (float64(sf.same) < 8.0/19*float64(sf.n) || sf.worst > 4) {
		t.Errorf("held-out unified score identical on %d/%d, worst difference %d (want >= 8/19 and <= 4)", sf.same, sf.n, sf.worst)
	}
	// No single image may be far off: that would move NFIQ 2's score.
	for _, r := range rows {
		if e := math.Abs(float64(r.n-r.c.count)) / float64(r.c.count); e > 0.35 {
			t.Errorf("%s: %d minutiae, FingerJetFX %d (%.0f%% off)", r.c.name, r.n, r.c.count, 100*e)
		}
	}
}

func readGray(t testing.TB, path string) *image.Gray {
	t.Helper()
	img, err := fpimage.ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
