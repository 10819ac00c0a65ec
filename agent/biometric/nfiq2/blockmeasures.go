package nfiq2

import "math"

// Per-block measures on the rotated 36×36 window around each 32×32 block: FDA (frequency
// domain analysis), LCS (local clarity) and RVU (ridge-valley uniformity).

var (
	fdaLimits  = [9]float64{0.268, 0.304, 0.33, 0.355, 0.38, 0.407, 0.44, 0.50, 1}
	lcsLimits  = [9]float64{0, 0.70, 0.74, 0.77, 0.79, 0.81, 0.83, 0.85, 0.87}
	rvupLimits = [9]float64{0.5, 0.667, 0.8, 1, 1.25, 1.5, 2, 24, 30}
)

// blockScratch holds per-worker buffers.
type blockScratch struct {
	pix [slantedW * slantedW]uint8
	rv  ridgeValley
}

// window returns the top-left of the 36×36 window around grid block (i, j).
func window(i, j int) (x, y int) {
	return j * blockSize, i * blockSize // (2 + 32j) - 2
}

// fdaBlock is NIST's fda() for one block: the window is zero-padded by 2, rotated so
// that the ridges run horizontally, the central 32 rows × 16 columns are averaged along
// the rows into a 32-sample profile across the ridges, and the measure is the height of
// the dominant non-DC peak of its spectrum (with 0.3 of each neighbour) over the sum of
// the first 15 non-DC amplitudes.
func fdaBlock(img *gray, i, j int, orient float64, s *blockScratch) float64 {
	wx, wy := window(i, j)
	const pad, src = 2, windowSize + 4
	rs := newRotSampler(orient+halfPi, src)
	// Crop of the 36×36 result: rows 2..33, columns 10..25 (centre 18).
	const rows, cols = slantedW, slantedH
	rs.sample(img, wx, wy, pad, src, 18-slantedH/2, 18-slantedW/2, cols, rows, s.pix[:rows*cols])
	var t [rows]float64
	for r := 0; r < rows; r++ {
		sum := 0
		for _, v := range s.pix[r*cols : r*cols+cols] {
			sum += int(v)
		}
		t[r] = float64(sum) * (1.0 / cols)
	}
	amp := dft32Amplitudes(&t) // amp[k-1] = |X[k]|, k = 1..31
	const n = rows - 1
	best, loc := amp[0], 0
	for k := 1; k < n; k++ {
		if amp[k] > best {
			best, loc = amp[k], k
		}
	}
	denom := cvSum(amp[:n/2])
	if loc == 0 || loc+1 >= n {
		return 1
	}
	return (best + float64(0.3*(amp[loc-1]+amp[loc+1]))) / denom
}

// dft32 twiddles e^{-2πi k/32}.
var twiddle32 = func() (t [32]complex128) {
	for k := range t {
		a := -2 * math.Pi * float64(k) / 32
		t[k] = complex(math.Cos(a), math.Sin(a))
	}
	return t
}()

// dft32Amplitudes returns |X[k]| for k = 1..31 of the DFT of the real sequence t.
func dft32Amplitudes(t *[32]float64) (amp [31]float64) {
	// Radix-2 decimation in time.
	var x [32]complex128
	for i := 0; i < 32; i++ {
		// bit-reversed order
		r := 0
		for b, v := 0, i; b < 5; b++ {
			r = r<<1 | v&1
			v >>= 1
		}
		x[r] = complex(t[i], 0)
	}
	for size := 2; size <= 32; size <<= 1 {
		half, step := size/2, 32/size
		for start := 0; start < 32; start += size {
			for k := 0; k < half; k++ {
				w := twiddle32[k*step]
				a, b := x[start+k], x[start+k+half]*w
				x[start+k], x[start+k+half] = a+b, a-b
			}
		}
	}
	for k := 1; k < 32; k++ {
		re, im := real(x[k]), imag(x[k])
		amp[k-1] = math.Sqrt(float64(re*re) + float64(im*im)) // cv::magnitude
	}
	return amp
}

// Local clarity constants (NIST's loclar, for 500 ppi).
const (
	lcsScale = (500.0 / 125.0) * 5.0 // (scanner ppi / 125) × max ridge width at 125 ppi
	nwrMin   = 3.0 / lcsScale
	nwrMax   = 10.0 / lcsScale
	nwvMin   = 2.0 / lcsScale
	nwvMax   = 10.0 / lcsScale
)

// lcsBlock is NIST's loclar(): the unpadded window is rotated by the block orientation,
// the central 16 rows × 32 columns are split into ridge and valley columns, and when the
// mean normalised ridge and valley widths are plausible the clarity is one minus the
// mean of the fractions of ridge pixels above and valley pixels below the fitted line.
func lcsBlock(img *gray, i, j int, orient float64, s *blockScratch) float64 {
	wx, wy := window(i, j)
	rs := newRotSampler(orient, windowSize)
	const rows, cols = slantedH, slantedW
	rs.sample(img, wx, wy, 0, windowSize, 18-slantedW/2, 18-slantedH/2, cols, rows, s.pix[:rows*cols])
	rv := &s.rv
	rv.compute(s.pix[:rows*cols], rows)

	// Change points: index i-1 for each i in 1..31 where the class changes.
	var changes [rvCols]int
	nc := 0
	for i := 1; i < rvCols; i++ {
		if rv.ridge[i] != rv.ridge[i-1] {
			changes[nc] = i - 1
			nc++
		}
	}
	if nc == 0 {
		return 0
	}
	// Widths: the first change index, then the differences.
	var wrv [rvCols]int
	wrv[0] = changes[0]
	for k := 1; k < nc; k++ {
		wrv[k] = changes[k] - changes[k-1]
	}
	var nwr, nwv [rvCols]float64
	nr, nv := 0, 0
	if rv.ridge[0] {
		for k := 0; k < nc; k += 2 {
			nwr[nr] = float64(wrv[k]) / lcsScale
			nr++
		}
		for k := 0; k < nc-1; k += 2 {
			nwv[nv] = float64(wrv[k+1]) / lcsScale
			nv++
		}
	} else {
		for k := 0; k < nc; k += 2 {
			nwv[nv] = float64(wrv[k]) / lcsScale
			nv++
		}
		for k := 0; k < nc-1; k += 2 {
			nwr[nr] = float64(wrv[k+1]) / lcsScale
			nr++
		}
	}
	muR, muV := cvMean(nwr[:nr]), cvMean(nwv[:nv])
	if !(muR >= nwrMin && muR <= nwrMax && muV >= nwvMin && muV <= nwvMax) {
		return 0
	}
	ridgeGood, valleyGood, ridgeN, valleyN := 0, 0, 0, 0
	for c := 0; c < cols; c++ {
		dt := rv.dt[c]
		for r := 0; r < rows; r++ {
			v := float64(s.pix[r*cols+c])
			if rv.ridge[c] {
				if v >= dt {
					ridgeGood++
				}
			} else if v < dt {
				valleyGood++
			}
		}
		if rv.ridge[c] {
			ridgeN += rows
		} else {
			valleyN += rows
		}
	}
	alpha := float64(valleyGood) / float64(valleyN)
	beta := float64(ridgeGood) / float64(ridgeN)
	return 1 - (alpha+beta)/2
}

// rvuBlock is NIST's rvuhist(): the zero-padded window is rotated by the block
// orientation, the 16×32 centre is split into ridges and valleys, incomplete runs at
// both ends are dropped, and the ratios of consecutive run widths are appended to out
// (inverted for every other run so that each is ridge/valley).
func rvuBlock(img *gray, i, j int, orient float64, s *blockScratch, out []float64) []float64 {
	wx, wy := window(i, j)
	const pad, src = 2, windowSize + 4
	rs := newRotSampler(orient, src)
	const rows, cols = slantedH, slantedW
	rs.sample(img, wx, wy, pad, src, 18-slantedW/2, 18-slantedH/2, cols, rows, s.pix[:rows*cols])
	rv := &s.rv
	rv.compute(s.pix[:rows*cols], rows)

	// NIST compares only the first 31 classes with their predecessors here.
	var changes [rvCols]int
	nc := 0
	for i := 1; i < rvCols-1; i++ {
		if rv.ridge[i] != rv.ridge[i-1] {
			changes[nc] = i - 1
			nc++
		}
	}
	if nc == 0 {
		return out
	}
	first, last := changes[0]+1, changes[nc-1]
	if first >= last {
		return out // no complete ridge or valley
	}
	begRidge := rv.ridge[first]
	// Change indices relative to the first, without the first.
	var rel [rvCols]int
	nrel := 0
	for k := 1; k < nc; k++ {
		rel[nrel] = changes[k] - changes[0]
		nrel++
	}
	if nrel <= 1 {
		return out
	}
	// Run widths in reverse order.
	var widths [rvCols]int
	nw := 0
	for k := nrel - 1; k > 0; k-- {
		widths[nw] = rel[k] - rel[k-1]
		nw++
	}
	start := len(out)
	for m := 0; m < nw-1; m++ {
		out = append(out, float64(widths[m])/float64(widths[m+1]))
	}
	k0 := 0
	if begRidge {
		k0 = 1
	}
	for k := start + k0; k < len(out); k += 2 {
		out[k] = 1 / out[k]
	}
	return out
}
