package nfiq2

import "math"

var (
	oclLimits = [9]float64{0.337, 0.479, 0.579, 0.655, 0.716, 0.766, 0.81, 0.852, 0.898}
	ofLimits  = [9]float64{1.715e-2, 3.5e-2, 5.57e-2, 8.1e-2, 1.15e-1, 1.718e-1, 2.569e-1, 4.758e-1, 7.48e-1}
)

// Orientation flow (NIST's OF): for each grid block, the mean over its 8 neighbours of
// the absolute orientation difference (taken the short way round 2π; neighbours outside
// the grid count as orientation 0). Blocks whose 3×3 neighbourhood is all foreground and
// whose difference exceeds 4° contribute (difference - 4°)/(90° - 4°).
var (
	ofAngleMin    = 4.0 * cvDeg2Rd
	ofAngleDiff   = (90.0 - 4.0) * cvDeg2Rd
	threeSixtyRad = cvDeg2Rd * 360.0
)

func orientationFlow(g *grid, out []float64) []float64 {
	at := func(i, j int) (fg bool, o float64) {
		if i < 0 || j < 0 || i >= g.rows || j >= g.cols {
			return false, 0
		}
		return g.block(i, j)
	}
	for i := 0; i < g.rows; i++ {
		for j := 0; j < g.cols; j++ {
			_, c := g.block(i, j)
			sum := 0.0
			allFG := true
			for di := -1; di <= 1; di++ {
				for dj := -1; dj <= 1; dj++ {
					fg, o := at(i+di, j+dj)
					allFG = allFG && fg
					d := math.Abs(c - o)
					sum += math.Min(d, threeSixtyRad-d)
				}
			}
			loq := sum / 8
			if allFG && loq > ofAngleMin {
				out = append(out, (loq-ofAngleMin)/ofAngleDiff)
			}
		}
	}
	return out
}

// oclBlock is NIST's orientation certainty of a 32×32 block at (x, y): from the
// covariance of the numerical gradients (centred inside, one-sided at the edges),
// 1 - λmin/λmax. ok is false when λmax is 0 (the block is not used).
func oclBlock(img *gray, x, y int) (ocl float64, ok bool) {
	var a, b, c float64
	w := img.w
	for r := 0; r < blockSize; r++ {
		row := img.pix[(y+r)*w+x : (y+r)*w+x+blockSize]
		rUp, rDown, sy := r-1, r+1, 0.5
		if r == 0 {
			rUp, sy = 0, 1
		}
		if r == blockSize-1 {
			rDown, sy = blockSize-1, 1
		}
		up := img.pix[(y+rUp)*w+x : (y+rUp)*w+x+blockSize]
		down := img.pix[(y+rDown)*w+x : (y+rDown)*w+x+blockSize]
		for k := 0; k < blockSize; k++ {
			var gx float64
			switch k {
			case 0:
				gx = float64(int(row[1]) - int(row[0]))
			case blockSize - 1:
				gx = float64(int(row[k]) - int(row[k-1]))
			default:
				gx = float64(int(row[k+1])-int(row[k-1])) / 2
			}
			gy := float64(int(down[k])-int(up[k])) * sy
			// Exact: multiples of 1/4 far below 2^50.
			a += float64(gx * gx)
			b += float64(gy * gy)
			c += float64(gx * gy)
		}
	}
	const n = blockSize * blockSize
	a, b, c = a/n, b/n, c/n
	root := math.Sqrt(float64((a-b)*(a-b)) + float64(4*float64(c*c)))
	max := ((a + b) + root) / 2
	min := ((a + b) - root) / 2
	if max == 0 {
		return 0, false
	}
	return 1 - min/max, true
}

// orientationCertainty collects the OCL of every full 32×32 block aligned at 0.
func orientationCertainty(img *gray, out []float64) []float64 {
	for y := 0; y+blockSize <= img.h; y += blockSize {
		for x := 0; x+blockSize <= img.w; x += blockSize {
			if v, ok := oclBlock(img, x, y); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// contrast returns NIST's Mu (image mean), its standard deviation (for the uniform
// image feedback) and MMB (mean of the means of the 32×32 blocks, edge blocks partial).
func contrast(img *gray) (mu, sigma, mmb float64) {
	var s, sq uint64
	for _, v := range img.pix {
		s += uint64(v)
		sq += uint64(v) * uint64(v)
	}
	mu, sigma = meanStdDev8(len(img.pix), s, sq)
	nby := (img.h + blockSize - 1) / blockSize
	nbx := (img.w + blockSize - 1) / blockSize
	count := float64(nby * nbx)
	for by := 0; by < nby; by++ {
		y0, y1 := by*blockSize, min((by+1)*blockSize, img.h)
		for bx := 0; bx < nbx; bx++ {
			x0, x1 := bx*blockSize, min((bx+1)*blockSize, img.w)
			mmb += blockMean(img, x0, y0, x1-x0, y1-y0) / count
		}
	}
	return mu, sigma, mmb
}

// blockMean is the mean of a w×h block of img at (x, y).
func blockMean(img *gray, x, y, w, h int) float64 {
	s := 0
	for r := y; r < y+h; r++ {
		for _, v := range img.pix[r*img.w+x : r*img.w+x+w] {
			s += int(v)
		}
	}
	return cvMean8(s, w*h)
}

// cvMean8 is OpenCV's cv::mean of n 8-bit values summing to s: s×(1/n).
func cvMean8(s, n int) float64 { return float64(s) * (1 / float64(n)) }
