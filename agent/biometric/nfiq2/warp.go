package nfiq2

import "math"

// rotSampler reproduces NIST's getRotatedBlock: OpenCV's getRotationMatrix2D about the
// centre of the (optionally zero-padded) window, then warpAffine with nearest-neighbour
// interpolation and a constant zero border into a window-sized image. OpenCV inverts the
// matrix and maps every destination pixel to a source pixel in fixed point with 10
// fractional bits: X = (round((M1·y + M2)·1024) + 512 + round(M0·x·1024)) >> 10.
type rotSampler struct {
	m [6]float64
}

// newRotSampler prepares the mapping for a rotation by angle (radians) of a window whose
// source, after padding, is srcSize×srcSize.
func newRotSampler(angle float64, srcSize int) rotSampler {
	// getRotationMatrix2D: NIST passes degrees, OpenCV converts back to radians.
	deg := angle * rad2Deg
	rad := deg * cvDeg2Rd
	alpha := math.Cos(rad)
	beta := math.Sin(rad)
	c := float64(float32(srcSize) / 2) // Point2f centre
	m := [6]float64{
		alpha, beta, float64((1-alpha)*c) - float64(beta*c),
		-beta, alpha, float64(beta*c) + float64((1-alpha)*c),
	}
	// warpAffine's inversion of the forward matrix.
	d := float64(m[0]*m[4]) - float64(m[1]*m[3])
	if d != 0 {
		d = 1 / d
	}
	a11, a22 := m[4]*d, m[0]*d
	m[0] = a11
	m[1] *= -d
	m[3] *= -d
	m[4] = a22
	b1 := float64(-m[0]*m[2]) - float64(m[1]*m[5])
	b2 := float64(-m[3]*m[2]) - float64(m[4]*m[5])
	m[2], m[5] = b1, b2
	return rotSampler{m: m}
}

// cvRound is OpenCV's saturate_cast<int>(double): round half to even.
func cvRound(v float64) int {
	r := math.RoundToEven(v)
	switch {
	case r > math.MaxInt32:
		return math.MaxInt32
	case r < math.MinInt32:
		return math.MinInt32
	}
	return int(r)
}

// sample writes the destination pixels (x0..x0+w-1, y0..y0+h-1) of the rotated window
// into dst (h rows of w). The unpadded window's top-left is (winX, winY) in img. The
// source is srcSize×srcSize starting pad pixels up and left of the window: NIST pads with
// copyMakeBorder on a region of the image, which takes the border from the surrounding
// image where there is one and zeros only outside the image. Samples outside the source
// are zero (warpAffine's constant border).
func (s *rotSampler) sample(img *gray, winX, winY, pad, srcSize, x0, y0, w, h int, dst []uint8) {
	const abBits = 10
	const abScale = 1 << abBits
	m := &s.m
	var adelta, bdelta [windowSize]int
	for x := 0; x < w; x++ {
		xx := float64(x0 + x)
		adelta[x] = cvRound(float64(m[0]*xx) * abScale)
		bdelta[x] = cvRound(float64(m[3]*xx) * abScale)
	}
	ox, oy := winX-pad, winY-pad
	for y := 0; y < h; y++ {
		yy := float64(y0 + y)
		X0 := cvRound((float64(m[1]*yy)+m[2])*abScale) + abScale/2
		Y0 := cvRound((float64(m[4]*yy)+m[5])*abScale) + abScale/2
		out := dst[y*w : y*w+w]
		for x := range out {
			sx := (X0 + adelta[x]) >> abBits
			sy := (Y0 + bdelta[x]) >> abBits
			ix, iy := ox+sx, oy+sy
			if uint(sx) < uint(srcSize) && uint(sy) < uint(srcSize) &&
				uint(ix) < uint(img.w) && uint(iy) < uint(img.h) {
				out[x] = img.pix[iy*img.w+ix]
			} else {
				out[x] = 0
			}
		}
	}
}
