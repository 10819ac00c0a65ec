package nfiq2

import "math"

// Local regions are 32×32 (ISO/IEC 29794-4); after rotation to align the ridges a
// 32×16 region is analysed, which needs a window of ceil(sqrt(32²+16²)) = 36 pixels,
// so the analysed blocks start 2 pixels in and overlap their neighbours by 2.
const (
	blockSize  = 32
	slantedW   = 32
	slantedH   = 16
	segThresh  = 0.1 // ridge segmentation: block std of the normalised image above this
	windowSize = 36
	blkOffset  = 2 // (windowSize - blockSize) / 2, rounded up
)

// Floating-point constants computed as NIST's C++ computes them (each operation
// rounded to double), not as Go's exact constant arithmetic would.
var (
	piF      = math.Pi
	rad2Deg  = 180.0 / piF
	cvDeg2Rd = piF / 180
	halfPi   = piF / 2
	dblEps   = math.Nextafter(1, 2) - 1
)

// grid is the block map shared by FDA, LCS, OF and RVUP: for the blocks of 32×32
// starting at (2+32i, 2+32j), whether all of the block is foreground by NIST's ridge
// segmentation, and the ridge orientation estimated from its gradient covariance.
type grid struct {
	rows, cols int
	fg         []bool
	orient     []float64
}

func (g *grid) block(i, j int) (fg bool, orient float64) {
	return g.fg[i*g.cols+j], g.orient[i*g.cols+j]
}

// newGrid computes the block map of img. scratch is reused when large enough.
func newGrid(img *gray, gr *grid) {
	diff := math.Ceil(math.Sqrt(slantedW*slantedW+slantedH*slantedH)) - blockSize
	gr.rows = int((float64(img.h) - diff) / blockSize)
	gr.cols = int((float64(img.w) - diff) / blockSize)
	if gr.rows < 0 {
		gr.rows = 0
	}
	if gr.cols < 0 {
		gr.cols = 0
	}
	n := gr.rows * gr.cols
	gr.fg = resize(gr.fg, n)
	gr.orient = resize(gr.orient, n)

	seg := segmentation(img)
	segCols := (img.w + blockSize - 1) / blockSize
	for i := 0; i < gr.rows; i++ {
		r := blkOffset + i*blockSize
		for j := 0; j < gr.cols; j++ {
			c := blkOffset + j*blockSize
			// The block spans segmentation blocks r/32..(r+31)/32 and the same for c.
			all := true
			for si := r / blockSize; si <= (r+blockSize-1)/blockSize && all; si++ {
				for sj := c / blockSize; sj <= (c+blockSize-1)/blockSize; sj++ {
					if !seg[si*segCols+sj] {
						all = false
						break
					}
				}
			}
			gr.fg[i*gr.cols+j] = all
			gr.orient[i*gr.cols+j] = blockOrientation(img, r, c)
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// segmentation is NIST's ridgesegment mask at the level of its 32×32 blocks (the last
// row and column of blocks may be smaller): the image is normalised to zero mean and
// unit standard deviation, and a block is foreground when the standard deviation of
// its normalised pixels is above 0.1.
func segmentation(img *gray) []bool {
	var s, sq uint64
	for _, v := range img.pix {
		s += uint64(v)
		sq += uint64(v) * uint64(v)
	}
	_, sd := meanStdDev8(len(img.pix), s, sq)
	rows := (img.h + blockSize - 1) / blockSize
	cols := (img.w + blockSize - 1) / blockSize
	out := make([]bool, rows*cols)
	for bi := 0; bi < rows; bi++ {
		y0, y1 := bi*blockSize, min((bi+1)*blockSize, img.h)
		for bj := 0; bj < cols; bj++ {
			x0, x1 := bj*blockSize, min((bj+1)*blockSize, img.w)
			var bs, bsq int64
			for y := y0; y < y1; y++ {
				for _, v := range img.pix[y*img.w+x0 : y*img.w+x1] {
					bs += int64(v)
					bsq += int64(v) * int64(v)
				}
			}
			n := int64((y1 - y0) * (x1 - x0))
			// Variance of the block, exactly, then scaled by the image's deviation.
			v := float64(n*bsq-bs*bs) / float64(n*n)
			out[bi*cols+bj] = math.Sqrt(v)/sd > segThresh
		}
	}
	return out
}

// blockOrientation is NIST's covcoef (centred differences, one-sided at the block's
// edges) followed by ridgeorient for the 32×32 block at (r, c). The gradient moments are
// sums of multiples of 1/4 well below 2^50, so they are exact whatever the order.
func blockOrientation(img *gray, r, c int) float64 {
	var a, b, cc float64
	w := img.w
	for y := 0; y < blockSize; y++ {
		row := img.pix[(r+y)*w+c : (r+y)*w+c+blockSize]
		var up, down []uint8
		yUp, yDown := y-1, y+1
		scaleY := 0.5
		if y == 0 {
			yUp, scaleY = 0, 1
		}
		if y == blockSize-1 {
			yDown, scaleY = blockSize-1, 1
		}
		up = img.pix[(r+yUp)*w+c : (r+yUp)*w+c+blockSize]
		down = img.pix[(r+yDown)*w+c : (r+yDown)*w+c+blockSize]
		for x := 0; x < blockSize; x++ {
			var gx float64
			switch x {
			case 0:
				gx = float64(int(row[1]) - int(row[0]))
			case blockSize - 1:
				gx = float64(int(row[x]) - int(row[x-1]))
			default:
				gx = float64(int(row[x+1])-int(row[x-1])) / 2
			}
			gy := float64(int(down[x])-int(up[x])) * scaleY
			a += float64(gx * gx)
			b += float64(gy * gy)
			cc += float64(gx * gy)
		}
	}
	const inv = 1.0 / (blockSize * blockSize)
	return ridgeOrient(a*inv, b*inv, cc*inv)
}

// ridgeOrient is the angle of the line perpendicular to the ridges from the gradient
// covariance [a c; c b].
func ridgeOrient(a, b, c float64) float64 {
	t := a - b
	denom := float64(c*c) + float64(t*t) + dblEps
	return math.Atan2(c/denom, t/denom) / 2
}
