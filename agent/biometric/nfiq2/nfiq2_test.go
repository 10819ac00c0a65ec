package nfiq2_test

import (
	"errors"
	"image"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

func mustModel(t testing.TB) *nfiq2.Model {
	t.Helper()
	m, err := nfiq2.Default()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readGray(t testing.TB, path string) *image.Gray {
	t.Helper()
	img, err := fpimage.ReadFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestScoreWithNISTMinutiaeMeasures: our native measures with NIST's four minutiae
// measures (from FingerJet FX, which we do not have) give exactly NIST's unified score
// on all 45 reference images. The score from our own extractor is tested once the
// extractor is wired in.
func TestScoreWithNISTMinutiaeMeasures(t *testing.T) {
	m := mustModel(t)
	imgs := sfingeImages(t)
	if dir := fvcPathOrEmpty(); dir != "" {
		imgs = append(imgs, fvcImages(t)...)
	}
	same := 0
	for _, ri := range imgs {
		ms := computeRef(t, ri).Measures
		for i, name := range nfiq2.MeasureNames() {
			if nfiq2.FromMinutiae(i) {
				ms[i] = ri.row.Values[name]
			}
		}
		got, err := m.Score(&ms)
		if err != nil {
			t.Fatal(err)
		}
		if got == ri.row.Score {
			same++
		} else {
			t.Errorf("%s: score %d, NIST %d", ri.row.Name, got, ri.row.Score)
		}
	}
	t.Logf("score identical to NIST's on %d/%d images (NIST's minutiae measures)", same, len(imgs))
}

// TestActionableFeedback checks the feedback values and NIST's thresholds.
func TestActionableFeedback(t *testing.T) {
	m := mustModel(t)
	for _, ri := range sfingeImages(t) {
		mins := []minutiae.Minutia{{X: 200, Y: 280}, {X: 210, Y: 300}}
		res, err := m.Compute(readGray(t, ri.path), 500, mins)
		if err != nil {
			t.Fatal(err)
		}
		a := res.Actionable
		if a.FingerprintImageWithMinutiae.Value != 2 || a.FingerprintImageWithMinutiae.OK ||
			a.FingerprintImageWithMinutiae.Threshold != 5 {
			t.Errorf("%s: minutiae feedback %+v, want 2 (fails, threshold 5)", ri.row.Name, a.FingerprintImageWithMinutiae)
		}
		if !a.UniformImage.OK || a.UniformImage.Threshold != 1 || !a.EmptyImageOrContrastTooLow.OK ||
			a.EmptyImageOrContrastTooLow.Threshold != 250 {
			t.Errorf("%s: %+v", ri.row.Name, a)
		}
		fg := a.SufficientFingerprintForeground
		if fg.Value != ri.row.Values["SufficientFingerprintForeground"] || fg.OK != (fg.Value >= 50000) {
			t.Errorf("%s: foreground %+v, NIST %v", ri.row.Name, fg, ri.row.Values["SufficientFingerprintForeground"])
		}
	}
}

// uniformImage returns a w×h image of one grey level with an optional pattern.
func testImage(w, h int, f func(x, y int) uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Pix[y*img.Stride+x] = f(x, y)
		}
	}
	return img
}

// ridges is a synthetic print: sinusoidal ridges of period 9 px in a disc.
func ridges(w, h int) func(x, y int) uint8 {
	return func(x, y int) uint8 {
		dx, dy := float64(x-w/2), float64(y-h/2)
		if dx*dx+dy*dy > float64(min(w, h)*min(w, h))/5 {
			return 255
		}
		v := 128 + 100*math.Sin(2*math.Pi*(0.8*float64(x)+0.6*float64(y)+0.002*dx*dx)/9)
		return uint8(v)
	}
}

func TestErrorClasses(t *testing.T) {
	m := mustModel(t)
	solid := func(v uint8) func(x, y int) uint8 { return func(int, int) uint8 { return v } }
	for _, tc := range []struct {
		name string
		img  *image.Gray
		ppi  int
		want error
		msg  string
	}{
		{"white", testImage(400, 400, solid(255)), 500, nfiq2.ErrInvalidImageSize, "all image rows appear to be blank"},
		{"too wide", testImage(801, 1000, solid(0)), 500, nfiq2.ErrInvalidImageSize, "width is too large"},
		{"too high", testImage(800, 1001, solid(0)), 500, nfiq2.ErrInvalidImageSize, "height is too large"},
		{"too narrow", testImage(195, 400, solid(0)), 500, nfiq2.ErrInvalidImageSize, "width is too small"},
		{"too low", testImage(400, 195, solid(0)), 500, nfiq2.ErrInvalidImageSize, "height is too small"},
		{"small print in white", testImage(600, 600, func(x, y int) uint8 {
			if x > 250 && x < 350 && y > 250 && y < 350 {
				return 0
			}
			return 255
		}), 500, nfiq2.ErrInvalidImageSize, "too small"},
		{"uniform grey", testImage(400, 400, solid(128)), 500, nfiq2.ErrMeasure, "frequency domain analysis"},
		{"1000 ppi", testImage(400, 400, ridges(400, 400)), 1000, nfiq2.ErrMeasure, "only 500 ppi"},
		// Ridges in one row of blocks only: FDA has its 10 blocks, but no block has a
		// foreground neighbourhood for orientation flow.
		{"ridge band", testImage(560, 260, func(x, y int) uint8 {
			if y >= 32 && y < 96 {
				return uint8(128 + 100*math.Sin(2*math.Pi*float64(x+y/3)/9))
			}
			return 128
		}), 500, nfiq2.ErrMeasure, "orientation flow"},
		{"nil", nil, 500, nfiq2.ErrBadArguments, "no image"},
	} {
		_, err := m.Compute(tc.img, tc.ppi, nil)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v containing %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// TestCropRemovesWhiteFrame: a white frame does not change the measures, and the crop
// is reported in the input's coordinates.
func TestCropRemovesWhiteFrame(t *testing.T) {
	m := mustModel(t)
	src := readGray(t, "testdata/sfinge/SFinGe_Test01.pgm")
	a, err := m.Compute(src, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	framed := image.NewGray(image.Rect(-7, 3, b.Dx()+30, b.Dy()+25))
	for i := range framed.Pix {
		framed.Pix[i] = 255
	}
	// The print goes 10 right and 5 down of the frame's corner (-7, 3).
	for y := 0; y < b.Dy(); y++ {
		copy(framed.Pix[framed.PixOffset(-7+10, 3+5+y):], src.Pix[src.PixOffset(0, y):src.PixOffset(b.Dx(), y)])
	}
	c, err := m.Compute(framed, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Crop != a.Crop.Add(image.Pt(3, 8)) || !nanEqual(c.Measures, a.Measures) {
		t.Errorf("framed image: crop %v (unframed %v), measures equal: %v", c.Crop, a.Crop, nanEqual(c.Measures, a.Measures))
	}
}

// TestUARTReader: a 256×288 image quantised to 16 grey levels (as 4-bit UART readers
// deliver, expanded by ×17) is scored or refused with one of NIST's error classes.
func TestUARTReader(t *testing.T) {
	m := mustModel(t)
	f := ridges(256, 288)
	img := testImage(256, 288, func(x, y int) uint8 { return f(x, y) >> 4 * 17 })
	res, err := m.Compute(img, 500, nil)
	if err != nil {
		if !errors.Is(err, nfiq2.ErrInvalidImageSize) && !errors.Is(err, nfiq2.ErrMeasure) {
			t.Fatalf("unexpected error class: %v", err)
		}
		return
	}
	if res.UnifiedQualityScore < 0 || res.UnifiedQualityScore > 100 {
		t.Errorf("score %d", res.UnifiedQualityScore)
	}
	if res.Measures[nfiq2.MinutiaeCount] != 0 || !math.IsNaN(res.Measures[nfiq2.MinutiaeQualityMu2]) {
		t.Errorf("no minutiae: count %v, Mu2 %v (NIST: 0 and 0/0)", res.Measures[nfiq2.MinutiaeCount], res.Measures[nfiq2.MinutiaeQualityMu2])
	}
}

func TestComputeWithExtractor(t *testing.T) {
	m := mustModel(t)
	src := readGray(t, "testdata/sfinge/SFinGe_Test02.pgm")
	plain, err := m.Compute(src, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen image.Rectangle
	mins := []minutiae.Minutia{{X: 100, Y: 100}, {X: 150, Y: 200}, {X: 5000, Y: 1}}
	res, err := m.ComputeWith(src, 500, func(img *image.Gray, ppi int) ([]minutiae.Minutia, error) {
		seen = img.Bounds()
		if ppi != 500 {
			t.Errorf("ppi %d", ppi)
		}
		return mins, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != image.Rect(0, 0, plain.Crop.Dx(), plain.Crop.Dy()) {
		t.Errorf("extractor saw %v, want the cropped image at the origin (%v)", seen, plain.Crop.Size())
	}
	if res.Measures[nfiq2.MinutiaeCount] != 2 {
		t.Errorf("count %v, want 2 (the minutia outside the image is dropped)", res.Measures[nfiq2.MinutiaeCount])
	}
	// The same minutiae given in the input's coordinates.
	shifted := []minutiae.Minutia{{X: 100 + plain.Crop.Min.X, Y: 100 + plain.Crop.Min.Y}, {X: 150 + plain.Crop.Min.X, Y: 200 + plain.Crop.Min.Y}}
	direct, err := m.Compute(src, 500, shifted)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Measures != res.Measures {
		t.Error("Compute with shifted minutiae differs from ComputeWith")
	}

	// An extractor that writes into its image does not disturb the measures.
	scribble, err := m.ComputeWith(src, 500, func(img *image.Gray, _ int) ([]minutiae.Minutia, error) {
		clear(img.Pix)
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range scribble.Measures {
		if !nfiq2.FromMinutiae(i) && scribble.Measures[i] != plain.Measures[i] {
			t.Fatalf("%s changed by the extractor writing its image", nfiq2.MeasureName(i))
		}
	}

	boom := errors.New("sensor says no")
	_, err = m.ComputeWith(src, 500, func(*image.Gray, int) ([]minutiae.Minutia, error) { return nil, boom })
	if !errors.Is(err, nfiq2.ErrFeatureSet) || !errors.Is(err, boom) {
		t.Errorf("extractor failure: %v", err)
	}
	// An FDA failure takes precedence over the extractor's, as in NIST's order.
	grey := testImage(300, 300, func(int, int) uint8 { return 100 })
	_, err = m.ComputeWith(grey, 500, func(*image.Gray, int) ([]minutiae.Minutia, error) { return nil, boom })
	if !errors.Is(err, nfiq2.ErrMeasure) {
		t.Errorf("FDA failure with failing extractor: %v", err)
	}
	if _, err := m.ComputeWith(src, 500, nil); !errors.Is(err, nfiq2.ErrBadArguments) {
		t.Errorf("nil extractor: %v", err)
	}
}

// TestConcurrentUse runs computations from several goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	m, err := nfiq2.New(&nfiq2.Opts{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	img := readGray(t, "testdata/sfinge/SFinGe_Test03.pgm")
	want, err := m.Compute(img, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 2; k++ {
				got, err := m.Compute(img, 500, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if got.Measures != want.Measures && !nanEqual(got.Measures, want.Measures) {
					t.Error("concurrent result differs")
				}
			}
		}()
	}
	wg.Wait()
	serial, err := nfiq2.New(&nfiq2.Opts{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := serial.Compute(img, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !nanEqual(got.Measures, want.Measures) {
		t.Error("one worker gives different measures")
	}
}

func nanEqual(a, b nfiq2.Measures) bool {
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestMeasureNames(t *testing.T) {
	names := nfiq2.MeasureNames()
	if len(names) != 69 || names[0] != "FDA_Bin10_0" || names[68] != "RVUP_Bin10_StdDev" ||
		names[nfiq2.MinutiaeCountCOM] != "FingerJetFX_MinCount_COMMinRect200x200" ||
		names[nfiq2.CoherenceRel] != "OrientationMap_ROIFilter_CoherenceRel" || names[nfiq2.Mu] != "Mu" {
		t.Errorf("names: %v", names)
	}
	// NIST's CSV header order.
	row, err := readHeader("testdata/conformance/conformance_expected_output-v2.3.0.csv")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(row, ",") != strings.Join(names, ",") {
		t.Errorf("order differs from NIST's CSV:\n%v\n%v", row, names)
	}
	var ms nfiq2.Measures
	ms[nfiq2.MMB] = 3
	if v, ok := ms.Get("MMB"); !ok || v != 3 {
		t.Error("Get")
	}
}
