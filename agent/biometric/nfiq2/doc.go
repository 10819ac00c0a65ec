// Package nfiq2 computes NIST Fingerprint Image Quality 2 (NFIQ 2.3, the reference
// implementation of ISO/IEC 29794-4) in pure Go: the 69 native quality measures under
// NIST's names and in NIST's order, the four actionable feedback values with NIST's
// thresholds, and the unified quality score from NIST's random forest (package model)
// with NIST's vote arithmetic.
//
// Facts from NIST's implementation (usnistgov/NFIQ2 v2.3, OpenCV 4) that this package
// reproduces, so that its measures match NIST's to rounding:
//
//   - Input is 8-bit grey at 500 ppi. Rows, then columns, whose mean is above 250 are
//     cropped from each edge; the result must be 196..800 pixels wide and 196..1000
//     high, else the image cannot be scored (ErrInvalidImageSize). Every measure is
//     computed on the cropped image.
//   - Local regions are 32×32. FDA, LCS, OF and RVU use the blocks starting 2 pixels in
//     (a 36×36 window around each), the ridge segmentation (block standard deviation of
//     the normalised image above 0.1) and the ridge orientation from the gradient
//     covariance (centred differences). Windows are rotated with OpenCV's warpAffine
//     (nearest neighbour, 10-bit fixed-point coordinates, zero border); FDA and RVU pad
//     the window by 2 pixels first with copyMakeBorder, which on a region of the image
//     takes the surrounding image pixels and uses zeros only outside the image.
//     Ridge/valley classes come from a least-squares line (OpenCV's Householder QR)
//     rounded to 10 decimals.
//   - FDA is the spectral peak of the 32-sample profile across the ridges; at least 10
//     foreground blocks are needed (ErrMeasure otherwise).
//   - OCL uses the full 32×32 blocks aligned at 0; Mu is the image mean and MMB the mean
//     of the block means (edge blocks partial).
//   - The region of interest is OpenCV's bit-exact 8-bit Gaussian blurs (41 and 91,
//     sigma from the size) with Otsu thresholds after a 5×5 erosion, holes filled, and
//     the 4-connected component with the largest bounding box kept. A 32×32 block is a
//     region-of-interest block (for the coherence measures) when OpenCV's mean of the
//     mask over it, sum×(1/n), is below 255, which rounding makes true of some blocks
//     without foreground (e.g. 23×22 edge blocks).
//   - Histograms have 10 bins with NIST's limits; the mean and standard deviation are
//     OpenCV's (population, sum of squares) over the sorted values. An empty list fails
//     the measure (ErrMeasure), as cv::meanStdDev refuses it.
//   - The minutiae measures follow NIST's FingerJetFX module from the minutiae the
//     caller supplies or its extractor finds (package minutiae); NIST uses FingerJet FX.
//
// Errors are reported in NIST's order of computation: cropping, FDA, the minutiae
// extractor, then LCS, OCL, OF and RVU.
//
// A Model is safe for concurrent use; see Opts.Workers for the goroutines one
// computation uses.
package nfiq2
