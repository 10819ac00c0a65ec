package fingerq

import (
	"image"
	"strings"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

// The SFinGe prints copied by the nfiq2 package, with NIST's scores in their outputs.
var prints = []struct{ file string }{
	{"../nfiq2/testdata/sfinge/SFinGe_Test01.pgm"},
	{"../nfiq2/testdata/sfinge/SFinGe_Test03.pgm"},
}

func TestAssessRealPrints(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prints {
		g, err := fpimage.ReadFile(p.file, nil)
		if err != nil {
			t.Skipf("test print not found: %v", err)
		}
		res, err := a.AssessFinger(&fingerprint.Image{Gray: g, PPI: 500})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Usable || res.Quality.Score == 0 || res.Quality.Alg != "NFIQ2" || len(res.Native) != 73 {
			t.Fatalf("%s: %+v", p.file, res.Quality)
		}
		if len(res.Minutiae) < 10 {
			t.Errorf("%s: %d minutiae", p.file, len(res.Minutiae))
		}
		for _, m := range res.Minutiae {
			if m.X < 0 || m.Y < 0 || m.X >= g.Bounds().Dx() || m.Y >= g.Bounds().Dy() {
				t.Fatalf("minutia outside the image: %+v", m)
			}
		}
	}
}

func TestBlankImageIsUnusableNotAnError(t *testing.T) {
	a, _ := New()
	g := image.NewGray(image.Rect(0, 0, 256, 288))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	res, err := a.AssessFinger(&fingerprint.Image{Gray: g, PPI: 500})
	if err != nil {
		t.Fatal(err)
	}
	if res.Usable || res.Quality.Score != 0 || len(res.Hints) == 0 || !strings.Contains(res.Hints[0], "place") {
		t.Fatalf("blank image: %+v", res)
	}
}

func TestResample508(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 192, 192))
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 251)
	}
	r := Resample(g, 500.0/508)
	if r.Bounds().Dx() != 189 || r.Bounds().Dy() != 189 {
		t.Fatalf("size %v", r.Bounds())
	}
	if _, err := (&Assessor{}).AssessFinger(&fingerprint.Image{Gray: g, PPI: 1000}); err == nil {
		t.Fatal("1000 ppi accepted")
	}
}

// An R503's 192×192 image is below NFIQ 2's size limit: the hint must say that no
// placement helps, rather than ask the applicant to try again.
func TestSensorTooSmallForNFIQ2(t *testing.T) {
	a, _ := New()
	g, err := fpimage.ReadFile(prints[0].file, nil)
	if err != nil {
		t.Skipf("test print not found: %v", err)
	}
	small := image.NewGray(image.Rect(0, 0, 192, 192))
	b := g.Bounds()
	for y := range 192 {
		copy(small.Pix[y*192:(y+1)*192], g.Pix[(b.Dy()/2-96+y)*g.Stride+b.Dx()/2-96:])
	}
	res, err := a.AssessFinger(&fingerprint.Image{Gray: small, PPI: 500})
	if err != nil {
		t.Fatal(err)
	}
	if res.Usable || res.Quality.Score != 0 || len(res.Hints) != 1 || !strings.Contains(res.Hints[0], "192×192") || strings.Contains(res.Hints[0], "place") {
		t.Fatalf("192×192 image: %+v", res)
	}
}
