package nfiq2

import (
	"math"
	"slices"
)

// Arithmetic helpers that reproduce OpenCV's summation orders and conventions where
// NIST relies on them. Products are wrapped in float64() so that no compiler fuses a
// multiply and an add (Go may do so on arm64): each operation rounds as in NIST's build.

// cvSum adds doubles in the order of OpenCV's sum over a continuous array: groups of
// four are added together first, then to the running sum; the tail one by one.
func cvSum(v []float64) float64 {
	s := 0.0
	i := 0
	for ; i <= len(v)-4; i += 4 {
		s += v[i] + v[i+1] + v[i+2] + v[i+3]
	}
	for ; i < len(v); i++ {
		s += v[i]
	}
	return s
}

// cvMean is OpenCV's mean of a continuous array of doubles: the sum times 1/n.
func cvMean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return cvSum(v) * (1 / float64(len(v)))
}

// cvMeanStdDev is OpenCV's meanStdDev of a continuous array of doubles: sums in order,
// mean = sum/n as sum*(1/n), sd = sqrt(max(sumsq/n - mean², 0)) (population).
func cvMeanStdDev(v []float64) (mean, sd float64) {
	s, sq := 0.0, 0.0
	for _, x := range v {
		s += x
		sq += float64(x * x)
	}
	scale := 0.0
	if len(v) > 0 {
		scale = 1 / float64(len(v))
	}
	mean = s * scale
	sd = math.Sqrt(math.Max(float64(sq*scale)-float64(mean*mean), 0))
	return mean, sd
}

// meanStdDev8 is the mean and population standard deviation of 8-bit values given
// their exact sum and sum of squares.
func meanStdDev8(n int, s, sq uint64) (mean, sd float64) {
	if n == 0 {
		return 0, 0
	}
	scale := 1 / float64(n)
	mean = float64(s) * scale
	sd = math.Sqrt(math.Max(float64(float64(sq)*scale)-float64(mean*mean), 0))
	return mean, sd
}

// histogram fills out[0:10] with the counts of data in the ten bins bounded by limits
// (the last bin is open above), out[10] with the mean and out[11] with the standard
// deviation, as NIST's addHistogramFeatures does: the data is sorted, a value moves to
// the next bin while it is >= that bin's upper limit (+Inf never moves), and the
// statistics are OpenCV's over the sorted data. data is sorted in place.
func histogram(limits *[9]float64, data []float64, out []float64) {
	slices.Sort(data)
	var bins [10]int
	bucket := 0
	bound := limits[0]
	for _, v := range data {
		for !math.IsInf(v, 0) && v >= bound {
			bucket++
			if bucket < 9 {
				bound = limits[bucket]
			} else {
				bound = math.Inf(1)
			}
		}
		bins[bucket]++
	}
	for i, c := range bins {
		out[i] = float64(c)
	}
	out[10], out[11] = cvMeanStdDev(data)
}
