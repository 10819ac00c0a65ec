// Package fingerq is the agent's finger quality check: NIST NFIQ 2 (package nfiq2) with
// the minutiae extractor, turned into a quality record, the minutiae for the template,
// and hints a technician can act on.
package fingerq

import (
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2"
	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// Assessor scores finger images. It is safe for concurrent use.
type Assessor struct {
	model *nfiq2.Model
}

var _ session.FingerQuality = (*Assessor)(nil)

// New loads NFIQ 2's model (shared by the process).
func New() (*Assessor, error) {
	m, err := nfiq2.Default()
	if err != nil {
		return nil, fmt.Errorf("fingerq: %w", err)
	}
	return &Assessor{model: m}, nil
}

// AssessFinger scores img. Images that NFIQ 2 cannot score (blank, too small) are
// reported as unusable with score 0 and a hint, not as an error: the attempt is kept and
// the technician decides.
func (a *Assessor) AssessFinger(img *fingerprint.Image) (*session.FingerAssessment, error) {
	g := img.Gray
	ppi := img.PPI
	if ppi == 0 {
		ppi = nfiq2.Resolution
	}
	if ppi != nfiq2.Resolution {
		if ppi < 450 || ppi > 550 {
			return nil, fmt.Errorf("fingerq: a %d ppi image cannot be scored (NFIQ 2 is defined at 500 ppi)", ppi)
		}
		g = Resample(g, float64(nfiq2.Resolution)/float64(ppi))
	}
	out := &session.FingerAssessment{Quality: protocol.Quality{Alg: "NFIQ2", Ver: "2.3"}}
	if b := g.Bounds(); b.Dx() < nfiq2.MinWidth || b.Dy() < nfiq2.MinHeight {
		// Not the applicant's fault: no placement can help. Say so, so the technician
		// overrides (or the station gets a larger sensor) instead of retrying.
		out.Hints = []string{fmt.Sprintf("this reader's images (%d×%d) are smaller than NFIQ 2's minimum of %d×%d pixels: quality cannot be scored; override with a reason", b.Dx(), b.Dy(), nfiq2.MinWidth, nfiq2.MinHeight)}
		return out, nil
	}
	var mins []minutiae.Minutia
	res, err := a.model.ComputeWith(g, nfiq2.Resolution, func(c *image.Gray, ppi int) ([]minutiae.Minutia, error) {
		ms, err := minutiae.Extract(c, ppi)
		mins = ms
		return ms, err
	})
	if err != nil {
		if errors.Is(err, nfiq2.ErrInvalidImageSize) || errors.Is(err, nfiq2.ErrMeasure) {
			out.Hints = []string{"no usable fingerprint: place the finger flat in the centre of the sensor"}
			return out, nil
		}
		return nil, fmt.Errorf("fingerq: %w", err)
	}
	out.Usable = true
	out.Quality.Score = uint(res.UnifiedQualityScore)
	out.Native = make(map[string]float64, nfiq2.NumMeasures+4)
	for i, v := range res.Measures {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out.Native[nfiq2.MeasureName(i)] = v
		}
	}
	act := res.Actionable
	for name, f := range map[string]nfiq2.Feedback{
		"UniformImage": act.UniformImage, "EmptyImageOrContrastTooLow": act.EmptyImageOrContrastTooLow,
		"FingerprintImageWithMinutiae": act.FingerprintImageWithMinutiae, "SufficientFingerprintForeground": act.SufficientFingerprintForeground,
	} {
		out.Native[name] = f.Value
	}
	out.Hints = Hints(res)
	// The extractor saw the cropped image; the template is in the capture's coordinates.
	off := res.Crop.Min
	scale := 1.0
	if ppi != nfiq2.Resolution {
		scale = float64(ppi) / float64(nfiq2.Resolution)
	}
	b := img.Gray.Bounds()
	for _, m := range mins {
		m.X = int(math.Round(float64(m.X+off.X) * scale))
		m.Y = int(math.Round(float64(m.Y+off.Y) * scale))
		if m.X < b.Dx() && m.Y < b.Dy() {
			out.Minutiae = append(out.Minutiae, m)
		}
	}
	return out, nil
}

// Hints turns NFIQ 2's result into guidance for the technician, most useful first: the
// hints of the actionable feedback that fails NIST's thresholds, then what the native
// measures add (a very dark image: a wet finger or too much pressure).
func Hints(res *nfiq2.Result) []string {
	var h []string
	for _, x := range res.Actionable.Hints() {
		h = append(h, string(x))
	}
	if res.Actionable.UniformImage.OK && res.Measures[nfiq2.Mu] < 60 {
		h = append(h, "too dark: press more lightly, or dry a wet finger")
	}
	if len(h) == 0 && res.UnifiedQualityScore < 30 {
		h = append(h, "clean the sensor and the finger, then place it flat")
	}
	return h
}

// Resample scales a grey image by f with bilinear interpolation (readers at 508 ppi to
// NFIQ 2's 500).
func Resample(src *image.Gray, f float64) *image.Gray {
	b := src.Bounds()
	w := int(math.Round(float64(b.Dx()) * f))
	h := int(math.Round(float64(b.Dy()) * f))
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		sy := (float64(y)+0.5)/f - 0.5
		y0 := int(math.Floor(sy))
		fy := sy - float64(y0)
		y0c, y1c := clamp(y0, b.Dy()-1), clamp(y0+1, b.Dy()-1)
		for x := 0; x < w; x++ {
			sx := (float64(x)+0.5)/f - 0.5
			x0 := int(math.Floor(sx))
			fx := sx - float64(x0)
			x0c, x1c := clamp(x0, b.Dx()-1), clamp(x0+1, b.Dx()-1)
			p := func(xx, yy int) float64 { return float64(src.Pix[src.PixOffset(b.Min.X+xx, b.Min.Y+yy)]) }
			v := (1-fy)*((1-fx)*p(x0c, y0c)+fx*p(x1c, y0c)) + fy*((1-fx)*p(x0c, y1c)+fx*p(x1c, y1c))
			dst.Pix[y*dst.Stride+x] = uint8(math.Round(v))
		}
	}
	return dst
}

func clamp(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}
