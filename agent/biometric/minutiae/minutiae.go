// Package minutiae defines fingerprint minutiae as the quality and template code share
// them, and extracts them from 500 ppi grey images (see Extract; the pipeline is
// described in extract.go).
//
// The extractor is Captura's own design. NIST's NFIQ 2 uses FingerJetFX, and four of its
// measures come from FingerJetFX's minutiae: the count, the count in the 200×200 window
// centred on their centre of mass, and the fractions whose 32×32 neighbourhood is
// slightly darker than the image (Mu2) or has a clear orientation (OCL80). The clean-up
// parameters were tuned for counts close to FingerJetFX's on FVC2002 DB1_B fingers
// 101-103 and SFinGe_Test01-02; fingers 104-105 and SFinGe_Test03-05 are held out. On
// the held-out images the median relative count error is 8% and the mean relative
// error of the centre-of-mass count 12%; the mean absolute error of Mu2 is 0.046 and of
// OCL80 0.034 (TestAgreementFingerJetFX asserts bounds). NFIQ 2 runs FingerJetFX on the
// image after removing near-white rows and columns; call Extract on that same cropped
// image so that positions and the 200×200 window compare.
//
// NFIQ 2's unified score with these minutiae is NIST's on 18 of the 45 reference images
// (40%; 8 of the 19 held out) and within 4 on all. Averaged over shifted copies of the
// images (TestExplore), which removes the luck of one sampling, it is identical on 34%
// and within 2 on 88%, and no variant of the parameters tried does better on both
// splits. The forest is the limit: on NIST's own measures, one minutia more or less in
// the count changes the score of 6-9% of images, in the window 16-19%, a change of
// 0.01 in OCL80 28-33% (TestForestSensitivity), and an extractor that found exactly
// FingerJetFX's minutiae but missed 1% and added 1% more would give NIST's score on only
// about 78% of the reference images. Matching NIST on 90% would take FingerJetFX's own
// algorithm, which Captura does not copy.
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
