package face

import (
	"fmt"
	"math"
)

// Hints, worded for the technician at the counter.
const (
	hintNoFace      = "no face found: ask the applicant to face the camera"
	hintOneFace     = "only the applicant may be in the picture"
	hintCloser      = "come closer"
	hintCloserAdv   = "come a little closer (120 px between the eyes advised)"
	hintBack        = "move back"
	hintCentre      = "move to the centre"
	hintRoll        = "keep the head straight (not tilted)"
	hintYaw         = "look at the camera (face turned sideways)"
	hintChinUp      = "look at the camera (raise the chin)"
	hintChinDown    = "look at the camera (lower the chin)"
	hintHat         = "remove hat or anything covering the forehead"
	hintMoreLight   = "more light"
	hintLessLight   = "less light"
	hintContrast    = "improve the lighting (face looks flat)"
	hintEvenLight   = "light both sides of the face evenly"
	hintSharp       = "hold still and check the focus"
	hintBackground  = "use a plain background"
	canonIED        = 96.0
	tokenTop        = 2.4        // eye line below the top edge, in IED (0.6 W with W = 4 IED)
	tokenHeight     = 4.0 / 0.75 // image height in IED
	tokenHalfWidth  = 2.0        // eye midpoint to side edge, in IED
	poseNoseDepth   = 0.6        // nose tip in front of the eyes' plane, in IED
	poseMouthDepth  = 0.3        // mouth in front of the eyes' plane, in IED
	poseNoseDown    = 0.6        // nose tip below the eye line, frontal pose, in IED
	poseMouthDown   = 0.95       // mouth corners below the eye line, frontal pose, in IED
	chinBelowLowLip = 0.55       // lower lip to chin, in IED
)

func (a *Analyzer) runChecks(f *frame, rep *Report, others []candidate, main candidate) {
	o := a.opts
	right, left := *rep.RightEye, *rep.LeftEye
	ef := newEyeFrame(right, left)
	rep.InterEye = ef.ied
	var cs Checks

	// Single face (ISO/IEC 29794-5 SingleFacePresent): f = sqrt(a2/a1) for the two
	// largest faces counted, score 100·(1−f).
	{
		c := Check{Name: CheckSingleFace, Value: float64(rep.Faces), Score: 100, Pass: rep.Faces == 1}
		if len(others) > 0 {
			c.Score = clampScore(100 * (1 - others[0].size/main.size))
			c.Hint = hintOneFace
		}
		cs = append(cs, c)
	}

	// Inter-eye distance: OFIQ mapping 100·sigmoid(d; 70, 20).
	{
		d := ef.ied
		c := Check{Name: CheckInterEye, Value: round1(d), Score: clampScore(100 * sigmoid(d, 70, 20)), Pass: d >= o.MinInterEye}
		switch {
		case !c.Pass:
			c.Hint = hintCloser
		case d < o.AdvisedInterEye:
			c.Hint = hintCloserAdv
		}
		cs = append(cs, c)
	}

	// Pose.
	u := func(p Point) (float64, float64) { return ef.fromImage(p.X, p.Y) }
	lm := rep.Landmarks
	rep.Roll = math.Atan2(left.Y-right.Y, left.X-right.X) * 180 / math.Pi
	nu, nv := u(lm.Nose)
	_, mv1 := u(lm.MouthRight)
	_, mv2 := u(lm.MouthLeft)
	mv := (mv1 + mv2) / 2
	rep.Yaw = math.Atan2(nu, poseNoseDepth) * 180 / math.Pi
	if mv > 0.1 {
		rho := nv / mv
		rep.Pitch = math.Atan2(rho*poseMouthDown-poseNoseDown, poseNoseDepth-rho*poseMouthDepth) * 180 / math.Pi
	}
	rep.Roll, rep.Yaw, rep.Pitch = round1(rep.Roll), round1(rep.Yaw), round1(rep.Pitch)
	pose := func(name string, v, limit float64, hint string) Check {
		cc := math.Cos(v * math.Pi / 180)
		c := Check{Name: name, Value: v, Score: clampScore(100 * cc * cc), Pass: math.Abs(v) <= limit}
		if !c.Pass {
			c.Hint = hint
		}
		return c
	}
	cs = append(cs, pose(CheckRoll, rep.Roll, o.MaxRoll, hintRoll))
	cs = append(cs, pose(CheckYaw, rep.Yaw, o.MaxYaw, hintYaw))
	pitchHint := hintChinUp
	if rep.Pitch < 0 {
		pitchHint = hintChinDown
	}
	cs = append(cs, pose(CheckPitch, rep.Pitch, o.MaxPitch, pitchHint))

	// Head size: crown-to-chin ≈ 2·(eye line to chin), chin estimated below the
	// lower lip.
	{
		_, lv := u(lm.LowerLip)
		t := (lv + chinBelowLowLip) * ef.ied
		r := 2 * t / float64(f.h)
		c := Check{Name: CheckHeadSize, Value: round3(r), Score: bandScore(r, o.HeadHeightMin, o.HeadHeightMax)}
		c.Pass = r >= o.HeadHeightMin && r <= o.HeadHeightMax
		if r < o.HeadHeightMin {
			c.Hint = hintCloser
		} else if r > o.HeadHeightMax {
			c.Hint = hintBack
		}
		cs = append(cs, c)
	}

	// Centring: eye midpoint horizontally within 50 % ± tolerance, eye line
	// between EyeLineMin and EyeLineMax of the height from the top.
	{
		xr, yr := ef.mx/float64(f.w), ef.my/float64(f.h)
		sx := bandScore(xr, 0.5-o.CentreTolerance, 0.5+o.CentreTolerance)
		sy := bandScore(yr, o.EyeLineMin, o.EyeLineMax)
		c := Check{Name: CheckCentring, Value: round3(math.Max(math.Abs(xr-0.5), distOutside(yr, o.EyeLineMin, o.EyeLineMax))), Score: min(sx, sy)}
		c.Pass = math.Abs(xr-0.5) <= o.CentreTolerance && yr >= o.EyeLineMin && yr <= o.EyeLineMax
		if !c.Pass {
			var where string
			switch {
			case xr < 0.5-o.CentreTolerance:
				where = "face too far left in the picture"
			case xr > 0.5+o.CentreTolerance:
				where = "face too far right in the picture"
			case yr < o.EyeLineMin:
				where = "face too high in the picture"
			default:
				where = "face too low in the picture"
			}
			c.Hint = fmt.Sprintf("%s (%s)", hintCentre, where)
		}
		cs = append(cs, c)
	}

	cr := a.buildCrop(f, ef)
	cs = append(cs, a.headCovering(cr))
	cs = append(cs, a.luminanceChecks(cr)...)
	cs = append(cs, a.illumination(cr))
	cs = append(cs, a.sharpness(cr))
	cs = append(cs, a.background(cr))
	rep.Checks = cs
}

func sigmoid(x, x0, w float64) float64 { return 1 / (1 + math.Exp((x0-x)/w)) }

func clampScore(v float64) int {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	if v > 100 {
		return 100
	}
	return int(math.Round(v))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// bandScore is 100 at the centre of [lo, hi], 50 at its edges and falls to 0 at
// half the band's width outside it.
func bandScore(x, lo, hi float64) int {
	c, half := (lo+hi)/2, (hi-lo)/2
	if half <= 0 {
		return 0
	}
	d := math.Abs(x - c)
	if d <= half {
		return clampScore(100 - 50*d/half)
	}
	return clampScore(50 - 50*(d-half)/half)
}

func distOutside(x, lo, hi float64) float64 {
	switch {
	case x < lo:
		return lo - x
	case x > hi:
		return x - hi
	}
	return 0
}
