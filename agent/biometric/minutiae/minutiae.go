// Package minutiae defines fingerprint minutiae as the quality and template code share
// them, and extracts them from 500 ppi grey images (see Extract; the pipeline is
// described in extract.go).
//
// The extractor is Captura's own design. NIST's NFIQ 2 uses FingerJetFX, and two of its
// measures count FingerJetFX minutiae (all, and those in the 200×200 window centred on
// their centre of mass), so the clean-up parameters were tuned for counts close to
// FingerJetFX's, on FVC2002 DB1_B fingers 101-103 and SFinGe_Test01-02; fingers 104-105
// and SFinGe_Test03-05 are held out. On the held-out images the median relative count
// error is 8% (mean 8.4%) and the mean relative error of the centre-of-mass count 12%
// (TestAgreementFingerJetFX asserts bounds). NFIQ 2 runs FingerJetFX on the image after
// removing near-white rows and columns; call Extract on that same cropped image so that
// positions and the 200×200 window compare.
//
// FMR converts minutiae to an ISO/IEC 19794-2:2005 record (package
// protocol/iso19794/fmr).
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
