// Package minutiae defines fingerprint minutiae as the quality and template code share
// them. The extractor lives beside these types.
package minutiae

// Kind is a minutia type with ISO/IEC 19794-2:2005 codes.
type Kind uint8

const (
	Other       Kind = 0 // ISO code 00
	Ending      Kind = 1 // ridge ending, ISO code 01
	Bifurcation Kind = 2 // ISO code 10
)

// Minutia is one minutia point.
type Minutia struct {
	X, Y int // pixels, origin at the top-left corner of the image
	// Angle is the minutia direction in radians in [0, 2π), measured counter-clockwise
	// from the positive x axis as ISO/IEC 19794-2 defines it (for an ending, pointing
	// along the ridge away from its end... see the extractor's doc for the exact rule).
	Angle   float64
	Kind    Kind
	Quality int // 1..100, 0 when unknown (ISO/IEC 19794-2 semantics)
}
