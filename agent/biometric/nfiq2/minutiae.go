package nfiq2

import "math"

// point is a minutia position in the cropped image.
type point struct{ x, y int }

// minutiaeMeasures computes NIST's four minutiae measures from the minutiae found in
// the cropped image:
//
//   - FingerJetFX_MinutiaeCount: the number of minutiae;
//   - FingerJetFX_MinCount_COMMinRect200x200: how many lie in the 200×200 rectangle
//     (inclusive, clipped to the image) centred on their centre of mass, which is the
//     integer mean of their coordinates;
//   - FJFXPos_Mu_MinutiaeQuality_2: the fraction whose 32×32 block (top-left 16 pixels up
//     and left of the minutia, clipped at 0 and cut by the image edge) has a mean m with
//     0 < (image mean - m) / image standard deviation <= 0.5;
//   - FJFXPos_OCL_MinutiaeQuality_80: the fraction whose full 32×32 block (placed as
//     above but shifted back inside the image) has an orientation certainty that rounds
//     (×100, +0.5, truncated) to more than 80.
//
// With no minutiae the two fractions are 0/0 (NaN), as in NIST's code.
func minutiaeMeasures(img *gray, mins []point, mu, sigma float64, m *Measures) {
	n := len(mins)
	m[MinutiaeCount] = float64(n)
	if n == 0 {
		m[MinutiaeCountCOM] = 0
		m[MinutiaeQualityMu2] = math.NaN()
		m[MinutiaeQualityOCL80] = math.NaN()
		return
	}
	var sx, sy uint64
	for _, p := range mins {
		sx += uint64(p.x)
		sy += uint64(p.y)
	}
	cx, cy := int(sx/uint64(n)), int(sy/uint64(n))
	x0, y0 := max(cx-100, 0), max(cy-100, 0)
	x1, y1 := min(cx+100, img.w-1), min(cy+100, img.h-1)
	inRect := 0
	for _, p := range mins {
		if p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1 {
			inRect++
		}
	}
	m[MinutiaeCountCOM] = float64(inRect)

	const half = blockSize / 2
	mu2, ocl80 := 0, 0
	for _, p := range mins {
		left, top := max(p.x-half, 0), max(p.y-half, 0)
		bw, bh := blockSize, blockSize
		if left+blockSize > img.w {
			bw = img.w - left
		}
		if top+blockSize > img.h {
			bh = img.h - top
		}
		q := (mu - blockMean(img, left, top, bw, bh)) / sigma
		if q > 0 && q <= 0.5 {
			mu2++
		}

		if left+blockSize > img.w {
			left = img.w - blockSize
		}
		if top+blockSize > img.h {
			top = img.h - blockSize
		}
		ocl, _ := oclBlock(img, left, top)
		if int(float64(ocl*100)+0.5) > 80 {
			ocl80++
		}
	}
	m[MinutiaeQualityMu2] = float64(mu2) / float64(n)
	m[MinutiaeQualityOCL80] = float64(ocl80) / float64(n)
}
