package face

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/captura-claim/captura/protocol/iso19794/fac"
)

// TestPortraits runs the 32 public-domain portraits of ../shared: a face is found
// in every one, and the manifest's non-compliant cases fail the right check.
func TestPortraits(t *testing.T) {
	sh := sharedDir()
	if sh == "" {
		t.Skip("../shared/data/faces not present")
	}
	dir := filepath.Join(sh, "data", "faces", "portraits")
	f, err := os.Open(filepath.Join(dir, "manifest.csv"))
	if err != nil {
		t.Skip(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAnalyzer(t)
	// The manifest's non-compliant portraits and the check each must fail.
	mustFail := map[string]string{
		"A000370.jpg": CheckHeadCovering, // wide-brim hat
		"D000629.jpg": CheckInterEye,     // office scene, small face
		"J000298.jpg": CheckInterEye,     // low resolution
		"G000386.jpg": CheckInterEye,     // low resolution
		"S000033.jpg": CheckInterEye,     // low resolution
	}
	found := 0
	for _, row := range rows[1:] {
		name := row[0]
		r, err := a.Analyze(loadImage(t, filepath.Join(dir, name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !r.Found || r.Faces != 1 {
			t.Errorf("%s: found=%v faces=%d", name, r.Found, r.Faces)
			continue
		}
		found++
		if d := r.InterEye; d < 30 || d > 0.5*float64(r.Width) {
			t.Errorf("%s: implausible inter-eye distance %.1f", name, d)
		}
		if !(r.RightEye.X < r.LeftEye.X) {
			t.Errorf("%s: subject's right eye %v not on the image left of %v", name, r.RightEye, r.LeftEye)
		}
		if want, ok := mustFail[name]; ok {
			c, _ := r.Checks.Get(want)
			if c.Pass || r.Verdict != Fail {
				t.Errorf("%s (%s): %s passed (value %v)", name, row[9], want, c.Value)
			}
			if want == CheckHeadCovering && !strings.Contains(c.Hint, "remove hat") {
				t.Errorf("%s: hint %q", name, c.Hint)
			}
			if want == CheckInterEye && c.Hint != hintCloser {
				t.Errorf("%s: hint %q", name, c.Hint)
			}
		}
	}
	if found != 32 || len(rows) != 33 {
		t.Errorf("face found in %d of %d portraits, want 32 of 32", found, len(rows)-1)
	}
}

// TestNegatives: no face in at least 8 of the 9 images without one.
func TestNegatives(t *testing.T) {
	sh := sharedDir()
	if sh == "" {
		t.Skip("../shared/data/faces not present")
	}
	paths, _ := filepath.Glob(filepath.Join(sh, "data", "faces", "negatives", "*"))
	if len(paths) != 9 {
		t.Fatalf("%d negatives, want 9", len(paths))
	}
	a := newTestAnalyzer(t)
	none := 0
	for _, p := range paths {
		r, err := a.Analyze(loadImage(t, p))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Found {
			none++
			if r.Verdict != Fail || r.Checks[0].Name != CheckSingleFace || r.Checks[0].Pass {
				t.Errorf("%s: no face but %+v", p, r)
			}
		} else {
			t.Logf("%s: false face at %+v", filepath.Base(p), r.Face)
		}
	}
	if none < 8 {
		t.Errorf("no face in %d of 9 negatives, want at least 8", none)
	}
}

// TestRecordDogFace: the NIST 19794-5 vector parses and its image (a dog) has no
// face.
func TestRecordDogFace(t *testing.T) {
	b, err := os.ReadFile("../../../protocol/iso19794/fac/testdata/face01.iso2005")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := fac.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rec.Images[0].DecodeImage()
	if err != nil {
		t.Fatal(err)
	}
	r, err := newTestAnalyzer(t).Analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Found {
		t.Errorf("face found in the dog picture: %+v", r.Face)
	}
}

func TestTestdataPortraitsPass(t *testing.T) {
	a := newTestAnalyzer(t)
	for _, p := range []string{"testdata/portrait-h001042.jpg", "testdata/portrait-t000472.jpg"} {
		img := loadImage(t, p)
		r, err := a.Analyze(img)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != Pass || len(r.Hints) != 0 {
			t.Errorf("%s: verdict %s, failed %v", p, r.Verdict, r.Failed())
		}
		if len(r.Checks) != 16 {
			t.Errorf("%s: %d checks", p, len(r.Checks))
		}
		// The same picture as RGBA, NRGBA-free generic and grey paths agrees on the eyes.
		r2, err := a.Analyze(toRGBA(img))
		if err != nil || !r2.Found {
			t.Fatalf("%s as RGBA: %v", p, err)
		}
		if d := math.Hypot(r2.LeftEye.X-r.LeftEye.X, r2.LeftEye.Y-r.LeftEye.Y); d > 0.05*r.InterEye {
			t.Errorf("%s: RGBA left eye %v vs YCbCr %v", p, r2.LeftEye, r.LeftEye)
		}
	}
}

func TestAnalyzeEmpty(t *testing.T) {
	a := newTestAnalyzer(t)
	if _, err := a.Analyze(nil); err != ErrEmptyImage {
		t.Errorf("nil image: %v", err)
	}
	if _, err := a.Analyze(image.NewGray(image.Rect(0, 0, 0, 5))); err != ErrEmptyImage {
		t.Errorf("empty image: %v", err)
	}
	r, err := a.Analyze(image.NewGray(image.Rect(0, 0, 64, 48)))
	if err != nil || r.Found || r.Verdict != Fail || len(r.Hints) != 1 {
		t.Errorf("blank image: %+v %v", r, err)
	}
	if _, err := NewAnalyzer(&Options{MinScore: 200}); err == nil {
		t.Error("MinScore 200 accepted")
	}
}

func TestReportJSON(t *testing.T) {
	a := newTestAnalyzer(t)
	r, err := a.Analyze(loadImage(t, "testdata/portrait-t000472.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"found", "right_eye", "left_eye", "inter_eye_distance", "checks", "verdict"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	checks := m["checks"].(map[string]any)
	ied := checks[CheckInterEye].(map[string]any)
	if _, ok := ied["score"]; !ok || ied["pass"] != true {
		t.Errorf("inter_eye_distance: %v", ied)
	}
	// Check order is kept in the encoding.
	if i, j := bytes.Index(b, []byte(`"single_face"`)), bytes.Index(b, []byte(`"background_uniformity"`)); i < 0 || j < i {
		t.Errorf("checks out of order: %s", b)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Checks) != len(r.Checks) {
		t.Errorf("round trip: %d checks", len(back.Checks))
	}
	if c, ok := back.Checks.Get(CheckSharpness); !ok || c.Score != mustGet(r.Checks, CheckSharpness).Score {
		t.Errorf("round trip sharpness %+v", c)
	}
}

func mustGet(cs Checks, name string) Check {
	c, _ := cs.Get(name)
	return c
}

// TestTokenCrop: the eyes land where ISO/IEC 19794-5 puts them, the image has
// the token's proportions, and parts outside the source are padded.
func TestTokenCrop(t *testing.T) {
	a := newTestAnalyzer(t)
	src := toRGBA(loadImage(t, "testdata/portrait-h001042.jpg"))
	for _, tc := range []struct {
		name string
		img  *image.RGBA
	}{
		{"upright", src},
		{"rolled 10°", rotate(src, 10, float64(src.Rect.Dx())/2, float64(src.Rect.Dy())/2.5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := a.Analyze(tc.img)
			if err != nil || !r.Found {
				t.Fatal(err)
			}
			tok, err := TokenCrop(tc.img, r, 480)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Rect.Dx() != 480 || tok.Rect.Dy() != 640 {
				t.Fatalf("token is %v", tok.Rect)
			}
			rt, err := a.Analyze(tok)
			if err != nil || !rt.Found {
				t.Fatalf("no face in the token image: %v", err)
			}
			for _, e := range []struct {
				got  *Point
				x, y float64
			}{{rt.RightEye, 0.375 * 480, 0.6 * 480}, {rt.LeftEye, 0.625*480 - 1, 0.6 * 480}} {
				if d := math.Hypot(e.got.X-e.x, e.got.Y-e.y); d > 6 {
					t.Errorf("eye at %v, want (%.0f, %.0f) (off by %.1f px)", *e.got, e.x, e.y, d)
				}
			}
			if math.Abs(rt.Roll) > 2 {
				t.Errorf("token roll %.1f°", rt.Roll)
			}
		})
	}
	// Native width is four times the inter-eye distance.
	r, _ := a.Analyze(src)
	tok, err := TokenCrop(src, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w := tok.Rect.Dx(); math.Abs(float64(w)-4*r.InterEye) > 1 {
		t.Errorf("native token width %d for IED %.1f", w, r.InterEye)
	}
	// The portrait's top edge is close above the head: the token's top rows
	// come out padded.
	if got := tok.RGBAAt(tok.Rect.Dx()/2, 0); got != TokenPad {
		t.Logf("top row is %v (portrait has room above the head)", got)
	}
	small, _ := TokenCrop(src, r, 10)
	if small.Rect.Dx() != MinTokenWidth {
		t.Errorf("width 10 gave %d", small.Rect.Dx())
	}
	// A report for another image or without a face is refused.
	if _, err := TokenCrop(src, &Report{}, 0); err != ErrNoFace {
		t.Errorf("no face: %v", err)
	}
	if _, err := TokenCrop(image.NewRGBA(image.Rect(0, 0, 10, 10)), r, 0); err == nil {
		t.Error("mismatched image accepted")
	}
	// Fully outside: a report whose eyes are far off the image pads everything.
	far := *r
	far.RightEye = &Point{-5000, -5000}
	far.LeftEye = &Point{-4900, -5000}
	pad, err := TokenCrop(src, &far, 240)
	if err != nil {
		t.Fatal(err)
	}
	if pad.RGBAAt(120, 160) != TokenPad {
		t.Errorf("outside pixel %v, want pad", pad.RGBAAt(120, 160))
	}
}

func TestTokenRecord(t *testing.T) {
	a := newTestAnalyzer(t)
	img := loadImage(t, "testdata/portrait-t000472.jpg")
	r, _ := a.Analyze(img)
	b, err := TokenRecord(img, r, 480)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := fac.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	im := rec.Images[0]
	if im.FaceImageType != fac.TypeTokenFrontal || im.Width != 480 || im.Height != 640 || len(im.FeaturePoints) != 2 {
		t.Errorf("record image %+v", im.FeaturePoints)
	}
	if fp := im.FeaturePoints[0]; fp.Code != fac.PointLeftEyeCentre || fp.X != 299 || fp.Y != 288 {
		t.Errorf("left eye point %v", fp)
	}
	m, err := im.DecodeImage()
	if err != nil {
		t.Fatal(err)
	}
	if rr, _ := a.Analyze(m); !rr.Found {
		t.Error("no face in the record's image")
	}
	var buf bytes.Buffer
	if err := WriteTokenJPEG(&buf, img, r, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := jpeg.Decode(&buf); err != nil {
		t.Fatal(err)
	}
	_ = color.RGBA{}
	_ = slices.Contains[[]string]
}
