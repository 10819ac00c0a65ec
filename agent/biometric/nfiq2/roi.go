package nfiq2

import "math"

// NIST's image-processing region of interest (ImgProcROI): erode with a 5×5 square,
// Gaussian blur 41×41, Otsu threshold, Gaussian blur 91×91, Otsu threshold, fill the
// holes of the (dark) foreground, keep only its 4-connected component with the largest
// bounding box. The measure is the mean grey value of the foreground pixels; the
// foreground pixel count is the "sufficient foreground" feedback, and the 32×32 blocks
// holding at least one foreground pixel are the ones the coherence measures use.

var (
	kernel41 = gaussKernel8(41)
	kernel91 = gaussKernel8(91)
)

type roiResult struct {
	pixels    int     // foreground pixel count
	mean      float64 // mean grey value of the foreground (255 when there is none)
	blockCols int
	blocks    []bool // per 32×32 block (edge blocks partial): holds foreground
}

type roiScratch struct {
	a, b  []uint8
	tmp   []uint64
	label []int32
	queue []int32
}

func (s *roiScratch) grow(w, h int) {
	n, words := w*h, h*((w+1)/2)
	if cap(s.a) < n {
		s.a = make([]uint8, n)
		s.b = make([]uint8, n)
		s.label = make([]int32, n)
	}
	if cap(s.tmp) < words {
		s.tmp = make([]uint64, words)
	}
	s.a, s.b, s.tmp, s.label = s.a[:n], s.b[:n], s.tmp[:words], s.label[:n]
}

func computeROI(img *gray, s *roiScratch, par func(n int, f func(lo, hi int)), res *roiResult) {
	w, h := img.w, img.h
	s.grow(w, h)

	erode5(img.pix, w, h, s.b, s.a) // eroded image in s.a (s.b scratch)
	gaussBlur8(s.a, w, h, kernel41, false, s.tmp, s.b, par)
	threshold(s.b, otsu(s.b), s.a)
	gaussBlur8(s.a, w, h, kernel91, true, s.tmp, s.b, par)
	mask := s.a
	threshold(s.b, otsu(s.b), mask) // 0 = foreground (dark), 255 = background

	fillHoles(mask, w, h, s)
	keepLargest(mask, w, h, s)

	res.pixels = 0
	sum := 0.0
	for i, v := range mask {
		if v == 0 {
			res.pixels++
			sum += float64(img.pix[i])
		}
	}
	res.mean = 255
	if res.pixels > 0 {
		res.mean = sum / float64(res.pixels)
	}
	// A block is a region-of-interest block when OpenCV's mean of the mask over it,
	// sum×(1/n), is below 255. That is true of every block with a foreground pixel, and
	// also, through rounding, of some blocks without one (e.g. 255×506×(1/506) <
	// 255): NIST counts those too.
	res.blockCols = (w + blockSize - 1) / blockSize
	rows := (h + blockSize - 1) / blockSize
	res.blocks = resize(res.blocks, rows*res.blockCols)
	for by := 0; by < rows; by++ {
		y0, y1 := by*blockSize, min((by+1)*blockSize, h)
		for bx := 0; bx < res.blockCols; bx++ {
			x0, x1 := bx*blockSize, min((bx+1)*blockSize, w)
			sum := 0
			for y := y0; y < y1; y++ {
				for _, v := range mask[y*w+x0 : y*w+x1] {
					sum += int(v)
				}
			}
			res.blocks[by*res.blockCols+bx] = cvMean8(sum, (x1-x0)*(y1-y0)) < 255
		}
	}
}

// erode5 is the minimum over the 5×5 neighbourhood, ignoring pixels outside the image
// (OpenCV's erode with its default border). tmp and dst are w*h.
func erode5(src []uint8, w, h int, tmp, dst []uint8) {
	// Rows: min of 5 as min(min of 4, the fifth), the row padded with 255.
	pad := make([]uint8, w+4)
	pad[0], pad[1], pad[w+2], pad[w+3] = 255, 255, 255, 255
	m2 := make([]uint8, w+3)
	for y := 0; y < h; y++ {
		copy(pad[2:], src[y*w:(y+1)*w])
		for x := range m2 {
			m2[x] = min(pad[x], pad[x+1])
		}
		out := tmp[y*w : (y+1)*w]
		for x := range out {
			out[x] = min(m2[x], m2[x+2], pad[x+4])
		}
	}
	// Columns: the same over the row-eroded image.
	for y := 0; y < h; y++ {
		out := dst[y*w : (y+1)*w]
		y0, y1 := max(0, y-2), min(h-1, y+2)
		copy(out, tmp[y0*w:(y0+1)*w])
		for yy := y0 + 1; yy <= y1; yy++ {
			r := tmp[yy*w : (yy+1)*w]
			r = r[:len(out)]
			for x := range out {
				out[x] = min(out[x], r[x])
			}
		}
	}
}

// otsu is OpenCV's Otsu threshold of an 8-bit image.
func otsu(pix []uint8) int {
	var hist [256]int
	for _, v := range pix {
		hist[v]++
	}
	scale := 1 / float64(len(pix))
	mu := 0.0
	for i, c := range hist {
		mu += float64(i) * float64(c)
	}
	mu *= scale
	const fltEps = 1.1920928955078125e-07
	mu1, q1 := 0.0, 0.0
	maxSigma, maxVal := 0.0, 0
	for i, c := range hist {
		p := float64(c) * scale
		mu1 *= q1
		q1 += p
		q2 := 1 - q1
		if math.Min(q1, q2) < fltEps || math.Max(q1, q2) > 1-fltEps {
			continue
		}
		mu1 = (mu1 + float64(float64(i)*p)) / q1
		mu2 := (mu - float64(q1*mu1)) / q2
		d := mu1 - mu2
		sigma := float64(float64(float64(q1*q2)*d) * d)
		if sigma > maxSigma {
			maxSigma, maxVal = sigma, i
		}
	}
	return maxVal
}

// threshold is THRESH_BINARY with maximum 255: 255 above t, 0 otherwise.
func threshold(src []uint8, t int, dst []uint8) {
	for i, v := range src {
		if int(v) > t {
			dst[i] = 255
		} else {
			dst[i] = 0
		}
	}
}

// fillHoles sets to 0 every 4-connected region of 255 that does not touch the border:
// the holes of the 8-connected foreground, which NIST fills by drawing the inner
// contours that findContours(RETR_CCOMP) reports.
func fillHoles(mask []uint8, w, h int, s *roiScratch) {
	// Mark the background reachable from the border as 1, fill the rest, restore.
	const reached = 1
	q := s.queue[:0]
	seed := func(i int) {
		if mask[i] == 255 {
			mask[i] = reached
			q = append(q, int32(i))
		}
	}
	for x := 0; x < w; x++ {
		seed(x)
		seed((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		seed(y * w)
		seed(y*w + w - 1)
	}
	for len(q) > 0 {
		i := int(q[len(q)-1])
		q = q[:len(q)-1]
		x := i % w
		if x > 0 && mask[i-1] == 255 {
			mask[i-1] = reached
			q = append(q, int32(i-1))
		}
		if x < w-1 && mask[i+1] == 255 {
			mask[i+1] = reached
			q = append(q, int32(i+1))
		}
		if i >= w && mask[i-w] == 255 {
			mask[i-w] = reached
			q = append(q, int32(i-w))
		}
		if i+w < len(mask) && mask[i+w] == 255 {
			mask[i+w] = reached
			q = append(q, int32(i+w))
		}
	}
	for i, v := range mask {
		switch v {
		case 255:
			mask[i] = 0
		case reached:
			mask[i] = 255
		}
	}
	s.queue = q
}

// keepLargest keeps, of the 4-connected regions of 0, the first (in raster order of
// their first pixel) with the largest bounding box, and sets the others to 255: NIST's
// repeated flood fills.
func keepLargest(mask []uint8, w, h int, s *roiScratch) {
	lab := s.label
	clear(lab)
	q := s.queue[:0]
	best, bestArea := int32(0), 0
	next := int32(0)
	for start, v := range mask {
		if v != 0 || lab[start] != 0 {
			continue
		}
		next++
		minX, minY, maxX, maxY := w, h, -1, -1
		lab[start] = next
		q = append(q[:0], int32(start))
		for len(q) > 0 {
			i := int(q[len(q)-1])
			q = q[:len(q)-1]
			x, y := i%w, i/w
			minX, maxX = min(minX, x), max(maxX, x)
			minY, maxY = min(minY, y), max(maxY, y)
			if x > 0 && mask[i-1] == 0 && lab[i-1] == 0 {
				lab[i-1] = next
				q = append(q, int32(i-1))
			}
			if x < w-1 && mask[i+1] == 0 && lab[i+1] == 0 {
				lab[i+1] = next
				q = append(q, int32(i+1))
			}
			if y > 0 && mask[i-w] == 0 && lab[i-w] == 0 {
				lab[i-w] = next
				q = append(q, int32(i-w))
			}
			if y < h-1 && mask[i+w] == 0 && lab[i+w] == 0 {
				lab[i+w] = next
				q = append(q, int32(i+w))
			}
		}
		if area := (maxX - minX + 1) * (maxY - minY + 1); area > bestArea {
			best, bestArea = next, area
		}
	}
	for i, l := range lab {
		if l != 0 && l != best {
			mask[i] = 255
		}
	}
	s.queue = q
}

// coherence is NIST's orientation-map coherence over the region-of-interest blocks: for
// each 32×32 block (edge blocks partial) holding foreground, the coherence of the
// doubled-angle gradient field |Σ(gx²-gy², 2gx·gy)| / Σ|(gx²-gy², 2gx·gy)|. It returns
// the sum over those blocks and that sum divided by their number.
func coherence(img *gray, roi *roiResult) (sum, rel float64) {
	n := 0
	for by := 0; by*blockSize < img.h; by++ {
		for bx := 0; bx*blockSize < img.w; bx++ {
			if !roi.blocks[by*roi.blockCols+bx] {
				continue
			}
			n++
			x0, y0 := bx*blockSize, by*blockSize
			c := blockCoherence(img, x0, y0, min(blockSize, img.w-x0), min(blockSize, img.h-y0))
			if math.IsNaN(c) {
				c = 0
			}
			sum += c
		}
	}
	if n > 0 {
		rel = sum / float64(n)
	}
	return sum, rel
}

func blockCoherence(img *gray, x0, y0, bw, bh int) float64 {
	grad := func(v []uint8, i, stride, n int) float64 {
		if n < 2 {
			return 0
		}
		switch i {
		case 0:
			return float64(int(v[stride]) - int(v[0]))
		case n - 1:
			return float64(int(v[i*stride]) - int(v[(i-1)*stride]))
		}
		return float64(int(v[(i+1)*stride])-int(v[(i-1)*stride])) / 2
	}
	var sumY, sumX, coh2 float64
	w := img.w
	for k := 0; k < bh; k++ {
		rowStart := (y0+k)*w + x0
		row := img.pix[rowStart : rowStart+bw]
		col0 := img.pix[y0*w+x0:]
		for l := 0; l < bw; l++ {
			gx := grad(row, l, 1, bw)
			gy := grad(col0[l:], k, w, bh)
			gyy := float64(2*gx) * gy
			gxx := float64(gx*gx) - float64(gy*gy)
			sumY += gyy
			sumX += gxx
			coh2 += math.Sqrt(float64(gyy*gyy) + float64(gxx*gxx))
		}
	}
	coh1 := math.Sqrt(float64(sumX*sumX) + float64(sumY*sumY))
	if coh2 == 0 {
		return 0
	}
	return coh1 / coh2
}
