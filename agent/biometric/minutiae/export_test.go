package minutiae

import (
	"image"
	"testing"
)

// Hooks for the external tests (package minutiae_test), which score with NFIQ 2, a
// package that imports this one.

// RefCase is an exported view of a reference image and NIST's figures for it.
type RefCase struct {
	Name, Path string
	Tuning     bool
	Finger     string
	Score      int        // NIST's unified score
	NIST       [4]float64 // count, COM200, Mu2, OCL80 from FingerJet FX's minutiae
}

// RefCases lists the reference images (SFinGe always, FVC2002 when ../shared holds it).
func RefCases(t testing.TB) []RefCase {
	var out []RefCase
	for _, c := range append(sfingeCases(t), fvcCases(t)...) {
		out = append(out, RefCase{Name: c.name, Path: c.path, Tuning: c.tuning, Finger: c.finger, Score: c.score,
			NIST: [4]float64{float64(c.count), float64(c.com200), c.mu2, c.ocl80}})
	}
	return out
}

// FourMeasures exposes fourMeasures to the cross-check against package nfiq2.
func FourMeasures(cropped *image.Gray, ms []Minutia) [4]float64 { return fourMeasures(cropped, ms) }

// CropNearWhite exposes the test's copy of NIST's white-frame crop.
func CropNearWhite(img *image.Gray) *image.Gray { return cropNearWhite(img) }

// ScorerFor, set by the external tests, returns for an image file a function that
// gives NFIQ 2's unified score from the image's own native measures and the four
// minutiae measures passed to it (nil when unset).
var ScorerFor func(t testing.TB, path string) func(four [4]float64) int
