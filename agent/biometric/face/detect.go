package face

import (
	"math"

	"github.com/captura-claim/captura/agent/biometric/face/pico"
)

// candidate is a face hypothesis in full-resolution pixel coordinates: the centre
// and side of pico's square face window, and the verification evidence.
type candidate struct {
	row, col, size float64
	evidence       float64
}

// detectionLevel picks the pyramid level for the face scan: the coarsest level
// whose shorter side still has at least detectMinSide pixels.
func detectionLevel(w, h, detectMinSide int) int {
	k := 0
	for min(w, h)>>(k+1) >= detectMinSide {
		k++
	}
	return k
}

// detect finds faces: a coarse multi-scale pico scan at a reduced resolution,
// clustering, then a dense re-scan of the strongest clusters (pico.Evidence)
// whose summed confidence is the evidence. Candidates with less
// evidence than opts.DetectEvidence are dropped, as are those whose centre lies
// inside a larger accepted face (parts of a face detected on their own). The
// result is sorted by decreasing size.
func (a *Analyzer) detect(f *frame) []candidate {
	k := detectionLevel(f.w, f.h, a.opts.DetectMinSide)
	g := f.level(k)
	w, h := g.Rect.Dx(), g.Rect.Dy()
	minSize := max(24, int(float64(min(w, h))*a.opts.MinFaceFraction))
	dets := a.models.Face.Scan(nil, g, pico.ScanParams{MinSize: minSize, MaxSize: min(w, h), ShiftFactor: 0.1, ScaleFactor: 1.1})
	clusters := pico.Cluster(dets, 0.2)
	if len(clusters) > maxCandidates {
		clusters = clusters[:maxCandidates]
	}
	var out []candidate
	for _, d := range clusters {
		ev := a.models.Face.Evidence(g, d, evidenceCap)
		if ev < a.opts.DetectEvidence {
			continue
		}
		scale := float64(int(1) << k)
		out = append(out, candidate{
			row:      (d.Row+0.5)*scale - 0.5,
			col:      (d.Col+0.5)*scale - 0.5,
			size:     d.Size * scale,
			evidence: ev,
		})
	}
	// Largest first; drop candidates centred inside a larger one.
	sortCandidates(out)
	var kept []candidate
	for _, c := range out {
		inside := false
		for _, o := range kept {
			if math.Abs(c.row-o.row) < o.size/2 && math.Abs(c.col-o.col) < o.size/2 {
				inside = true
				break
			}
		}
		if !inside {
			kept = append(kept, c)
		}
	}
	return kept
}

const (
	maxCandidates = 4
	// evidenceCap bounds the verification work for clear faces (see pico.Evidence).
	evidenceCap = 300
)

func sortCandidates(c []candidate) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].size > c[j-1].size; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// Point is a position in image pixels (x to the right, y down, origin at the
// image's top-left corner).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// eyeFrame is the face-aligned coordinate system: origin at the midpoint of the
// eyes, u along the line from the subject's right eye (image left) to the left
// eye, v perpendicular to it pointing down the face, both in units of the
// inter-eye distance.
type eyeFrame struct {
	mx, my float64 // eye midpoint in image pixels
	ux, uy float64 // unit vector along the eye line
	ied    float64
}

func newEyeFrame(right, left Point) eyeFrame {
	dx, dy := left.X-right.X, left.Y-right.Y
	d := math.Hypot(dx, dy)
	if d == 0 {
		d = 1
	}
	return eyeFrame{mx: (left.X + right.X) / 2, my: (left.Y + right.Y) / 2, ux: dx / d, uy: dy / d, ied: d}
}

// toImage maps face coordinates (u, v) to image pixels.
func (e eyeFrame) toImage(u, v float64) (float64, float64) {
	return e.mx + e.ied*(u*e.ux-v*e.uy), e.my + e.ied*(u*e.uy+v*e.ux)
}

// fromImage maps image pixels to face coordinates.
func (e eyeFrame) fromImage(x, y float64) (float64, float64) {
	dx, dy := (x-e.mx)/e.ied, (y-e.my)/e.ied
	return dx*e.ux + dy*e.uy, -dx*e.uy + dy*e.ux
}

// Landmarks are the facial points located after the eyes (pico lps cascades),
// in image pixels. "Right" and "left" are the subject's.
type Landmarks struct {
	Nose       Point `json:"nose"`        // tip of the nose (lp93)
	MouthRight Point `json:"mouth_right"` // mouth corners (lp84)
	MouthLeft  Point `json:"mouth_left"`
	LowerLip   Point `json:"lower_lip"` // centre of the lower lip (lp82)
}

// locate finds the eyes of a detected face and then the landmark points. It works
// on the pyramid level where the face is 150–300 pixels wide, which is the range
// the cascades were trained for, and maps the results back to full resolution.
func (a *Analyzer) locate(f *frame, c candidate) (right, left Point, lm Landmarks) {
	k := 0
	for c.size/float64(int(1)<<(k+1)) >= 150 && k < 6 {
		k++
	}
	g := f.level(k)
	sc := float64(int(1) << k)
	toL := func(v float64) float64 { return (v+0.5)/sc - 0.5 }
	fromL := func(v float64) float64 { return (v+0.5)*sc - 0.5 }
	row, col, s := toL(c.row), toL(c.col), c.size/sc
	n := a.opts.Perturbations
	// Start windows from pico's sample: eyes 7.5 % of the face size above its
	// centre and 17.5 % to either side, window 35 % of the face size. The
	// image-left eye is the subject's right eye.
	rr, rc := a.models.Pupil.LocateMedian(g, row-0.075*s, col-0.175*s, 0.35*s, n, 1, false)
	lr, lc := a.models.Pupil.LocateMedian(g, row-0.075*s, col+0.175*s, 0.35*s, n, 2, false)
	right = Point{fromL(rc), fromL(rr)}
	left = Point{fromL(lc), fromL(lr)}

	// lps cascades start from a window 3×IED wide, a quarter IED below the eye
	// midpoint (as in pigo); "mirror" runs a cascade on the other half of the face.
	d := math.Hypot(lr-rr, lc-rc)
	mr, mc := (lr+rr)/2, (lc+rc)/2
	nl := max(n/3, 1)
	run := func(name string, mirror bool, seed uint64) Point {
		pr, pc := a.models.Landmarks[name].LocateMedian(g, mr+0.25*d, mc+0.15*d, 3*d, nl, seed, mirror)
		return Point{fromL(pc), fromL(pr)}
	}
	avg := func(p, q Point) Point { return Point{(p.X + q.X) / 2, (p.Y + q.Y) / 2} }
	lm.Nose = avg(run("lp93", false, 3), run("lp93", true, 4))
	lm.LowerLip = avg(run("lp82", false, 7), run("lp82", true, 8))
	lm.MouthRight = run("lp84", false, 9)
	lm.MouthLeft = run("lp84", true, 10)
	return right, left, lm
}
