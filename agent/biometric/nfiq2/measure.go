package nfiq2

import (
	"fmt"
	"sync"
)

// scratch holds the buffers of one computation; Models pool them.
type scratch struct {
	grid     grid
	roi      roiScratch
	roiRes   roiResult
	fda, lcs []float64
	rvu, ocl []float64
	of       []float64
	// Per grid row, before merging in raster order: FDA and LCS values (at most one
	// per block), RVU ratios (at most rvuPerBlock per block), and their counts.
	rowFDA, rowLCS, rowRVU []float64
	rowN                   []int
}

// rvuPerBlock bounds the ratios one block gives (one per complete run).
const rvuPerBlock = rvCols

// nativeStats are the by-products of the measures that the feedback needs, and the
// error of a measure NIST computes after its minutiae extractor (it reports the
// extractor's failure first).
type nativeStats struct {
	mu, sigma float64
	roiPixels int
	lateErr   error
}

// par runs f over [0, n) split into at most m.workers contiguous ranges.
func (m *Model) par(n int, f func(lo, hi int)) {
	w := min(m.workers, n)
	if w <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		lo, hi := n*k/w, n*(k+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// measure computes every native measure that does not come from the minutiae. It
// returns an error when FDA cannot be computed (NIST's first measure); an empty
// histogram of a later measure is reported in the stats, in NIST's order.
func (m *Model) measure(img *gray, s *scratch, out *Measures) (nativeStats, error) {
	var st nativeStats
	var wg sync.WaitGroup

	// The region of interest (two large blurs) runs beside the block measures.
	roi := func() {
		computeROI(img, &s.roi, m.par, &s.roiRes)
		out[ROIMean] = s.roiRes.mean
		out[CoherenceSum], out[CoherenceRel] = coherence(img, &s.roiRes)
	}
	if m.workers > 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roi()
		}()
	} else {
		roi()
	}

	newGrid(img, &s.grid)
	g := &s.grid
	// FDA, LCS and RVU per foreground block; each grid row keeps its values apart so
	// that the merged lists are in NIST's (raster) order.
	cols := g.cols
	s.rowFDA = resize(s.rowFDA, g.rows*cols)
	s.rowLCS = resize(s.rowLCS, g.rows*cols)
	s.rowRVU = resize(s.rowRVU, g.rows*cols*rvuPerBlock)
	s.rowN = resize(s.rowN, 2*g.rows)
	m.par(g.rows, func(lo, hi int) {
		var bs blockScratch
		for i := lo; i < hi; i++ {
			fda := s.rowFDA[i*cols : i*cols : (i+1)*cols]
			lcs := s.rowLCS[i*cols : i*cols : (i+1)*cols]
			rvu := s.rowRVU[i*cols*rvuPerBlock : i*cols*rvuPerBlock : (i+1)*cols*rvuPerBlock]
			for j := 0; j < cols; j++ {
				fg, o := g.block(i, j)
				if !fg {
					continue
				}
				fda = append(fda, fdaBlock(img, i, j, o, &bs))
				lcs = append(lcs, lcsBlock(img, i, j, o, &bs))
				rvu = rvuBlock(img, i, j, o, &bs, rvu)
			}
			s.rowN[2*i], s.rowN[2*i+1] = len(fda), len(rvu)
		}
	})
	s.fda, s.lcs, s.rvu = s.fda[:0], s.lcs[:0], s.rvu[:0]
	for i := 0; i < g.rows; i++ {
		n, nr := s.rowN[2*i], s.rowN[2*i+1]
		s.fda = append(s.fda, s.rowFDA[i*cols:i*cols+n]...)
		s.lcs = append(s.lcs, s.rowLCS[i*cols:i*cols+n]...)
		s.rvu = append(s.rvu, s.rowRVU[i*cols*rvuPerBlock:i*cols*rvuPerBlock+nr]...)
	}
	s.of = orientationFlow(g, s.of[:0])
	s.ocl = orientationCertainty(img, s.ocl[:0])
	st.mu, st.sigma, out[MMB] = contrast(img)
	out[Mu] = st.mu
	wg.Wait()
	st.roiPixels = s.roiRes.pixels

	if len(s.fda) < 10 {
		return st, fmt.Errorf("nfiq2: %w: cannot compute frequency domain analysis (FDA): not enough data to generate histogram bins (is the image blank?)", ErrMeasure)
	}
	histogram(&fdaLimits, s.fda, out[FDABin0:FDABin0+12])
	// NIST's histogram statistics (cv::meanStdDev) refuse an empty list, which fails
	// the measure; LCS has as many values as FDA.
	for _, h := range []struct {
		name   string
		limits *[9]float64
		data   []float64
		at     int
	}{
		{"local clarity (LCS)", &lcsLimits, s.lcs, LCSBin0},
		{"orientation certainty (OCL)", &oclLimits, s.ocl, OCLBin0},
		{"orientation flow (OF)", &ofLimits, s.of, OFBin0},
		{"ridge valley uniformity (RVU)", &rvupLimits, s.rvu, RVUPBin0},
	} {
		if len(h.data) == 0 {
			if st.lateErr == nil {
				st.lateErr = fmt.Errorf("nfiq2: %w: cannot compute %s: no local values for the histogram", ErrMeasure, h.name)
			}
			continue
		}
		histogram(h.limits, h.data, out[h.at:h.at+12])
	}
	return st, nil
}
