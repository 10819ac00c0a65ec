// Package minutiae defines fingerprint minutiae as the quality and template code share
// them, and extracts them from 500 ppi grey images (see Extract).
package minutiae

// Kind is a minutia type with ISO/IEC 19794-2:2005 codes.
type Kind uint8

const (
	Other       Kind = 0 // ISO code 00
	Ending      Kind = 1 // ridge ending, ISO code 01
	Bifurcation Kind = 2 // ISO code 10
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Ending:
		return "ending"
	case Bifurcation:
		return "bifurcation"
	}
	return "other"
}

// Minutia is one minutia point.
type Minutia struct {
	X, Y int // pixels, origin at the top-left corner of the image
	// Angle is the minutia direction in radians in [0, 2π), measured counter-clockwise
	// from the positive x axis (x to the right, y up on the page, as ISO/IEC 19794-2
	// draws it). Following ISO/IEC 19794-2 and ANSI INCITS 378, a ridge ending points
	// from the end into the ridge it terminates, and a bifurcation points from the fork
	// into the valley between its two branches: in both cases the direction bisects the
	// two lines that lie close together.
	Angle   float64
	Kind    Kind
	Quality int // 1..100, 0 when unknown (ISO/IEC 19794-2 semantics)
}
