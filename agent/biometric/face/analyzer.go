package face

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"

	"github.com/captura-claim/captura/agent/biometric/face/pico"
)

// Options tunes the analyser. The zero value of a field selects its default
// (DefaultOptions); thresholds are documented in doc.go.
type Options struct {
	// MinInterEye is the required distance between the eye centres in pixels
	// (default 90, ISO/IEC 19794-5 full frontal / ICAO); AdvisedInterEye the
	// advised one (default 120).
	MinInterEye, AdvisedInterEye float64
	// MaxRoll, MaxYaw and MaxPitch bound the head pose in degrees (defaults 8, 10, 20).
	MaxRoll, MaxYaw, MaxPitch float64
	// CentreTolerance is the allowed horizontal offset of the eye midpoint from the
	// image centre as a fraction of the width (default 0.05: 45–55 %).
	CentreTolerance float64
	// EyeLineMin and EyeLineMax bound the eye line's distance from the top as a
	// fraction of the image height (defaults 0.30 and 0.50, i.e. 50–70 % from the
	// bottom as in ISO/IEC 19794-5 full frontal).
	EyeLineMin, EyeLineMax float64
	// HeadHeightMin and HeadHeightMax bound the estimated crown-to-chin height as a
	// fraction of the image height (defaults 0.35 and 0.90).
	HeadHeightMin, HeadHeightMax float64
	// MinScore is the score (0–100) a check needs to pass where the check is a
	// score threshold (default 50).
	MinScore int

	// DetectMinSide is the shorter side, in pixels, the image is reduced to (by
	// halving) before the face scan (default 400); MinFaceFraction the smallest
	// face searched as a fraction of that side (default 1/12).
	DetectMinSide   int
	MinFaceFraction float64
	// DetectEvidence is the summed cascade confidence a candidate needs in the
	// dense verification to count as a face (default 50).
	DetectEvidence float64
	// Perturbations is the number of randomised starts per eye for the pupil
	// localiser (default 63; landmarks use half).
	Perturbations int
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		MinInterEye: 90, AdvisedInterEye: 120,
		MaxRoll: 8, MaxYaw: 10, MaxPitch: 20,
		CentreTolerance: 0.05, EyeLineMin: 0.30, EyeLineMax: 0.50,
		HeadHeightMin: 0.35, HeadHeightMax: 0.90,
		MinScore:        50,
		DetectMinSide:   400,
		MinFaceFraction: 1.0 / 12,
		DetectEvidence:  50,
		Perturbations:   63,
	}
}

func (o *Options) fill() {
	d := DefaultOptions()
	setF := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	setF(&o.MinInterEye, d.MinInterEye)
	setF(&o.AdvisedInterEye, d.AdvisedInterEye)
	setF(&o.MaxRoll, d.MaxRoll)
	setF(&o.MaxYaw, d.MaxYaw)
	setF(&o.MaxPitch, d.MaxPitch)
	setF(&o.CentreTolerance, d.CentreTolerance)
	setF(&o.EyeLineMin, d.EyeLineMin)
	setF(&o.EyeLineMax, d.EyeLineMax)
	setF(&o.HeadHeightMin, d.HeadHeightMin)
	setF(&o.HeadHeightMax, d.HeadHeightMax)
	setF(&o.MinFaceFraction, d.MinFaceFraction)
	setF(&o.DetectEvidence, d.DetectEvidence)
	if o.MinScore == 0 {
		o.MinScore = d.MinScore
	}
	if o.DetectMinSide == 0 {
		o.DetectMinSide = d.DetectMinSide
	}
	if o.Perturbations == 0 {
		o.Perturbations = d.Perturbations
	}
}

// Analyzer finds the face in an image and runs the capture-quality checks. It
// is safe for concurrent use.
type Analyzer struct {
	opts   Options
	models *pico.Models
}

// NewAnalyzer returns an analyser using the embedded pico models. opts may be
// nil for the defaults.
func NewAnalyzer(opts *Options) (*Analyzer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.fill()
	if o.MinInterEye < 0 || o.MinScore < 0 || o.MinScore > 100 || o.MinFaceFraction >= 1 || o.DetectMinSide < 24 || o.Perturbations < 1 {
		return nil, errors.New("face: invalid options")
	}
	m, err := pico.Embedded()
	if err != nil {
		return nil, fmt.Errorf("face: %w", err)
	}
	return &Analyzer{opts: o, models: m}, nil
}

// Options returns the options in use (defaults filled in).
func (a *Analyzer) Options() Options { return a.opts }

// Verdict is the overall outcome of an analysis.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
)

// Check is the outcome of one quality check.
type Check struct {
	Name string `json:"-"`
	// Value is the check's native measure (units in doc.go).
	Value float64 `json:"value"`
	// Score maps Value to 0–100, higher is better.
	Score int  `json:"score"`
	Pass  bool `json:"pass"`
	// Hint tells the technician what to change; empty when there is nothing to do.
	Hint string `json:"hint,omitempty"`
}

// Checks is an ordered list of checks; it encodes to JSON as an object keyed by
// check name, in order.
type Checks []Check

// MarshalJSON encodes the checks as {"name": {...}, ...} in list order.
func (cs Checks) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, c := range cs {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, _ := json.Marshal(c.Name)
		v, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON decodes the object form written by MarshalJSON (order is lost;
// checks come back sorted by name).
func (cs *Checks) UnmarshalJSON(b []byte) error {
	var m map[string]Check
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*cs = (*cs)[:0]
	for k, v := range m {
		v.Name = k
		*cs = append(*cs, v)
	}
	for i := 1; i < len(*cs); i++ {
		for j := i; j > 0 && (*cs)[j].Name < (*cs)[j-1].Name; j-- {
			(*cs)[j], (*cs)[j-1] = (*cs)[j-1], (*cs)[j]
		}
	}
	return nil
}

// Get returns the check called name.
func (cs Checks) Get(name string) (Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Check names, in report order.
const (
	CheckSingleFace      = "single_face"
	CheckInterEye        = "inter_eye_distance"
	CheckRoll            = "head_roll"
	CheckYaw             = "head_yaw"
	CheckPitch           = "head_pitch"
	CheckHeadSize        = "head_size"
	CheckCentring        = "centring"
	CheckHeadCovering    = "head_covering"
	CheckLuminanceMean   = "luminance_mean"
	CheckLuminanceSpread = "luminance_spread"
	CheckDynamicRange    = "dynamic_range"
	CheckUnderExposure   = "under_exposure"
	CheckOverExposure    = "over_exposure"
	CheckIllumination    = "illumination_uniformity"
	CheckSharpness       = "sharpness"
	CheckBackground      = "background_uniformity"
)

// Report is the result of analysing one image. Eye and landmark positions are
// in pixels of the analysed image; "left" and "right" are the subject's (the
// subject's right eye appears on the image's left).
type Report struct {
	Width  int  `json:"width"`
	Height int  `json:"height"`
	Found  bool `json:"found"`
	// Faces is the number of faces counted: the main one and every other
	// unambiguous one.
	Faces int `json:"faces"`
	// Face is pico's square face window (centre and side) of the main face.
	Face *FaceBox `json:"face,omitempty"`
	// RightEye and LeftEye are the pupil centres.
	RightEye *Point `json:"right_eye,omitempty"`
	LeftEye  *Point `json:"left_eye,omitempty"`
	// InterEye is the distance between the eye centres in pixels.
	InterEye float64 `json:"inter_eye_distance"`
	// Roll, Yaw and Pitch are the estimated head pose in degrees: roll positive
	// when the subject's left eye (image right) is lower, yaw positive when the
	// face turns towards the image's right, pitch positive when the face turns
	// down. Yaw and pitch are coarse estimates from landmarks (see doc.go).
	Roll      float64    `json:"roll"`
	Yaw       float64    `json:"yaw"`
	Pitch     float64    `json:"pitch"`
	Landmarks *Landmarks `json:"landmarks,omitempty"`
	Checks    Checks     `json:"checks"`
	Verdict   Verdict    `json:"verdict"`
	// Hints lists, most important first and without repeats, the hints of the
	// failed checks.
	Hints []string `json:"hints,omitempty"`
}

// FaceBox is the detector's square face window.
type FaceBox struct {
	X, Y, Size float64
	// Evidence is the summed detector confidence from the verification scan.
	Evidence float64
}

// MarshalJSON writes the box with lower-case keys.
func (b FaceBox) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		X        float64 `json:"x"`
		Y        float64 `json:"y"`
		Size     float64 `json:"size"`
		Evidence float64 `json:"evidence"`
	}{round1(b.X), round1(b.Y), round1(b.Size), round1(b.Evidence)})
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// Failed returns the names of the failed checks.
func (r *Report) Failed() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}

// ErrEmptyImage is returned for an image without pixels.
var ErrEmptyImage = errors.New("face: empty image")

// Analyze detects the face in img, locates the eyes and landmarks and runs every
// check. A face that is not found is not an error: the report says Found false
// and verdict fail.
func (a *Analyzer) Analyze(img image.Image) (*Report, error) {
	if img == nil || img.Bounds().Empty() {
		return nil, ErrEmptyImage
	}
	f := newFrame(img)
	rep := &Report{Width: f.w, Height: f.h}
	cands := a.detect(f)
	// The main face is the largest candidate whose landmarks have a human
	// face's layout (plausibleLayout); rejected candidates are dropped.
	var right, left Point
	var lm Landmarks
	for len(cands) > 0 {
		right, left, lm = a.locate(f, cands[0])
		if plausibleLayout(cands[0], right, left, lm) {
			break
		}
		cands = cands[1:]
	}
	if len(cands) == 0 {
		rep.Checks = Checks{{Name: CheckSingleFace, Score: 0, Pass: false, Hint: hintNoFace}}
		rep.finish()
		return rep, nil
	}
	main := cands[0]
	// Other faces count when they are unambiguous (evidence at the
	// verification cap: a weaker candidate is more often a face-like pattern
	// such as hands, a badge or a flag's stars than a second person) and have a
	// human layout too.
	var others []candidate
	for _, c := range cands[1:] {
		if c.evidence < evidenceCap {
			continue
		}
		if r2, l2, lm2 := a.locate(f, c); plausibleLayout(c, r2, l2, lm2) {
			others = append(others, c)
		}
	}
	rep.Faces = 1 + len(others)
	rep.Found = true
	rep.Face = &FaceBox{X: main.col, Y: main.row, Size: main.size, Evidence: main.evidence}
	rep.RightEye, rep.LeftEye, rep.Landmarks = &right, &left, &lm
	a.runChecks(f, rep, others, main)
	// Positions to 0.1 pixel: the localisers are not more precise than that.
	for _, p := range []*Point{rep.RightEye, rep.LeftEye, &lm.Nose, &lm.MouthRight, &lm.MouthLeft, &lm.LowerLip} {
		p.X, p.Y = round1(p.X), round1(p.Y)
	}
	rep.InterEye = round1(rep.InterEye)
	rep.finish()
	return rep, nil
}

func (r *Report) finish() {
	r.Verdict = Pass
	seen := map[string]bool{}
	for _, c := range r.Checks {
		if c.Pass {
			continue
		}
		r.Verdict = Fail
		if c.Hint != "" && !seen[c.Hint] {
			seen[c.Hint] = true
			r.Hints = append(r.Hints, c.Hint)
		}
	}
	if len(r.Checks) == 0 {
		r.Verdict = Fail
	}
}

// plausibleLayout checks that a candidate's eyes and landmarks have the layout
// of a human face, in the eye frame (IED units):
//   - the pupils are 0.22–0.5 of the detector's window apart (pico's face
//     window puts them 0.35 apart; the 32 reference portraits measure 0.3–0.37);
//   - the tip of the nose lies between the eye line and the lower lip, 0.33 to
//     0.75 of the way down (0.45–0.6 on the portraits; the bounds allow some
//     20° of pitch);
//   - the mouth corners lie on either side of the midline, 0.5–1.6 apart.
//
// Animal faces and face-like patterns (a collar, a badge) that fool the
// detector rarely satisfy all three.
func plausibleLayout(c candidate, right, left Point, lm Landmarks) bool {
	ef := newEyeFrame(right, left)
	if r := ef.ied / c.size; r < 0.22 || r > 0.5 {
		return false
	}
	_, nv := ef.fromImage(lm.Nose.X, lm.Nose.Y)
	_, lv := ef.fromImage(lm.LowerLip.X, lm.LowerLip.Y)
	if lv <= 0.3 || nv <= 0 {
		return false
	}
	if r := nv / lv; r < 0.33 || r > 0.75 {
		return false
	}
	ur, _ := ef.fromImage(lm.MouthRight.X, lm.MouthRight.Y)
	ul, _ := ef.fromImage(lm.MouthLeft.X, lm.MouthLeft.Y)
	return ur < 0 && ul > 0 && ul-ur >= 0.5 && ul-ur <= 1.6
}
