package minutiae

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"
)

// Pipeline (all stages work on 500 ppi images; lengths below are in pixels at 500 ppi):
//
//  1. Gradients (Sobel) and a block orientation field: 8×8 blocks, the doubled-angle
//     gradient tensor smoothed over a Gaussian block neighbourhood; coherence per block.
//  2. Segmentation: local grey-level standard deviation per block against a threshold
//     relative to the image's own contrast, cleaned by block morphology, holes filled,
//     the largest region kept; a chamfer distance to the background per pixel.
//  3. Ridge period per block from the grey profile across the ridges, smoothed.
//  4. Contextual enhancement as a separable oriented Gabor filter: a Gaussian along the
//     ridges, then an even Gabor profile tuned to the local period across them.
//  5. Binarisation by the sign of the filter response, Zhang–Suen thinning.
//  6. Crossing-number detection of endings and bifurcations on the skeleton.
//  7. Clean-up: minutiae near the background, spurs, short ridges, bridges and lakes,
//     broken ridges, pairs closer than a ridge gap, dense clusters, low quality.
//  8. Direction from the skeleton branches, snapped to the orientation field; quality
//     from orientation coherence, contrast and distance to the background.

// Extraction errors.
var (
	// ErrResolution: the image is not at 500 ppi (the only resolution supported).
	ErrResolution = errors.New("minutiae: only 500 ppi images are supported")
	// ErrSize: the image is too small or too large to hold a fingerprint.
	ErrSize = errors.New("minutiae: image size out of range")
)

// Size limits of Extract, in pixels.
const (
	MinSide = 64
	MaxSide = 2048
)

// Options adjusts the extractor. The zero value (or nil) gives the defaults.
type Options struct {
	// MaxMinutiae caps the number of minutiae returned (the highest quality are kept,
	// ties broken by position). Zero means no cap.
	MaxMinutiae int
	// MinQuality drops minutiae whose quality is below it (1..100). Zero uses the
	// default of the extractor.
	MinQuality int
}

// params are the tuning parameters of the pipeline. Tests vary them; users see Options.
type params struct {
	blockSmoothSigma float64 // Gaussian σ, in blocks, for the orientation tensor
	segMinStd        float64 // absolute minimum block std for foreground
	segStdFrac       float64 // foreground if std ≥ frac × 90th percentile
	segCoherence     float64 // minimum coherence of a foreground block
	alongSigma       float64 // Gaussian σ along ridges
	acrossSigmaFrac  float64 // Gabor envelope σ across ridges, in periods
	borderMargin     float64 // minimum distance of a minutia to the background
	spurLen          int     // ending→bifurcation path shorter than this: spur
	shortRidgeLen    int     // ending→ending path shorter than this: short ridge
	bridgeLen        int     // bifurcation→bifurcation path shorter than this: bridge
	breakDist        float64 // facing endings closer than this: broken ridge
	pairDist         float64 // any two minutiae closer than this: both removed
	clusterRadius    float64
	clusterCount     int // minutiae with this many neighbours within the radius go
	minQuality       int
	angleLen         int // skeleton steps traced to measure a direction
}

func defaultParams() params {
	return params{
		blockSmoothSigma: 1.5,
		segMinStd:        8,
		segStdFrac:       0.3,
		segCoherence:     0.05,
		alongSigma:       3,
		acrossSigmaFrac:  0.55,
		borderMargin:     8,
		spurLen:          6,
		shortRidgeLen:    12,
		bridgeLen:        6,
		breakDist:        14,
		pairDist:         3,
		clusterRadius:    16,
		clusterCount:     4,
		minQuality:       5,
		angleLen:         12,
	}
}

// Extract finds the minutiae of an 8-bit grey fingerprint image with dark ridges at
// 500 ppi. It returns them sorted by position (top to bottom, then left to right). An
// image without a usable fingerprint area gives no minutiae and no error. Extract keeps
// no state between calls and is safe for concurrent use.
func Extract(img *image.Gray, ppi int) ([]Minutia, error) {
	return ExtractOpts(img, ppi, nil)
}

// ExtractOpts is Extract with options.
func ExtractOpts(img *image.Gray, ppi int, opts *Options) ([]Minutia, error) {
	p := defaultParams()
	if opts != nil && opts.MinQuality > 0 {
		p.minQuality = opts.MinQuality
	}
	ms, err := extract(img, ppi, &p)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.MaxMinutiae > 0 && len(ms) > opts.MaxMinutiae {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Quality > ms[j].Quality })
		ms = ms[:opts.MaxMinutiae]
		sortByPosition(ms)
	}
	return ms, nil
}

func sortByPosition(ms []Minutia) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Y != ms[j].Y {
			return ms[i].Y < ms[j].Y
		}
		if ms[i].X != ms[j].X {
			return ms[i].X < ms[j].X
		}
		return ms[i].Kind < ms[j].Kind
	})
}

// Tolerance on the resolution: scanners that report 490..510 ppi are taken as 500 ppi
// (a 2% scale error is below what the extractor's tolerances absorb).
const ppiTolerance = 10

func extract(img *image.Gray, ppi int, p *params) ([]Minutia, error) {
	if img == nil {
		return nil, fmt.Errorf("%w: no image", ErrSize)
	}
	if ppi < 500-ppiTolerance || ppi > 500+ppiTolerance {
		return nil, fmt.Errorf("%w (got %d ppi; resample the image first)", ErrResolution, ppi)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("%w: %dx%d (each side must be %d..%d)", ErrSize, w, h, MinSide, MaxSide)
	}
	x := newWork(w, h)
	for y := 0; y < h; y++ {
		row := img.Pix[(y)*img.Stride : (y)*img.Stride+w]
		if b.Min.X != 0 || b.Min.Y != 0 {
			off := img.PixOffset(b.Min.X, b.Min.Y+y)
			row = img.Pix[off : off+w]
		}
		copy(x.grey[y*w:(y+1)*w], row)
	}
	x.orientation(p)
	if !x.segment(p) {
		return nil, nil
	}
	x.period()
	x.enhance(p)
	x.binarise()
	x.thin()
	ms := x.detect(p)
	sortByPosition(ms)
	return ms, nil
}

// blockSize is the side of the orientation/segmentation blocks.
const blockSize = 8

// work holds the buffers of one extraction.
type work struct {
	w, h   int
	bw, bh int // blocks
	grey   []uint8

	// per block
	cos2, sin2 []float32 // smoothed doubled-angle orientation vector (ridge direction)
	coh        []float32 // coherence 0..1
	std        []float32 // local grey std
	fg         []bool    // foreground
	per        []float32 // ridge period in pixels
	obin       []uint8   // orientation bin of the ridge direction

	dist   []uint16 // per pixel: chamfer distance to background ×3 (3-4 metric)
	enh    []float32
	skel   []uint8 // 1 on the skeleton
	luts   *luts
	segThr float64 // foreground std threshold
}

func newWork(w, h int) *work {
	bw, bh := (w+blockSize-1)/blockSize, (h+blockSize-1)/blockSize
	nb := bw * bh
	return &work{
		w: w, h: h, bw: bw, bh: bh,
		grey: make([]uint8, w*h),
		cos2: make([]float32, nb), sin2: make([]float32, nb),
		coh: make([]float32, nb), std: make([]float32, nb),
		fg: make([]bool, nb), per: make([]float32, nb), obin: make([]uint8, nb),
	}
}

// orientation computes the block orientation field and coherence.
func (x *work) orientation(p *params) {
	w, h, bw, bh := x.w, x.h, x.bw, x.bh
	nb := bw * bh
	gxx := make([]float64, nb)
	gxy := make([]float64, nb)
	gmm := make([]float64, nb)
	g := x.grey
	for y := 1; y < h-1; y++ {
		by := y / blockSize
		r0, r1, r2 := (y-1)*w, y*w, (y+1)*w
		for xx := 1; xx < w-1; xx++ {
			a := int32(g[r0+xx-1])
			bq := int32(g[r0+xx])
			c := int32(g[r0+xx+1])
			d := int32(g[r1+xx-1])
			f := int32(g[r1+xx+1])
			gg := int32(g[r2+xx-1])
			hq := int32(g[r2+xx])
			i := int32(g[r2+xx+1])
			dx := (c + 2*f + i) - (a + 2*d + gg)
			dy := (gg + 2*hq + i) - (a + 2*bq + c)
			k := by*bw + xx/blockSize
			fx, fy := float64(dx), float64(dy)
			gxx[k] += fx*fx - fy*fy
			gxy[k] += 2 * fx * fy
			gmm[k] += fx*fx + fy*fy
		}
	}
	sx := smoothBlocks(gxx, bw, bh, p.blockSmoothSigma)
	sy := smoothBlocks(gxy, bw, bh, p.blockSmoothSigma)
	sm := smoothBlocks(gmm, bw, bh, p.blockSmoothSigma)
	for k := range nb {
		// The gradient's doubled angle is atan2(sy, sx); the ridge direction is
		// perpendicular, so its doubled angle is that plus π: negate the vector.
		n := math.Hypot(sx[k], sy[k])
		if n > 0 {
			x.cos2[k] = float32(-sx[k] / n)
			x.sin2[k] = float32(-sy[k] / n)
		} else {
			x.cos2[k], x.sin2[k] = 1, 0
		}
		if sm[k] > 0 {
			x.coh[k] = float32(n / sm[k])
		}
		th := 0.5 * math.Atan2(float64(x.sin2[k]), float64(x.cos2[k])) // (-π/2, π/2]
		if th < 0 {
			th += math.Pi
		}
		bin := int(math.Round(th/math.Pi*nOrient)) % nOrient
		x.obin[k] = uint8(bin)
	}
}

// smoothBlocks convolves a block field with a separable Gaussian (clamped edges).
func smoothBlocks(v []float64, bw, bh int, sigma float64) []float64 {
	r := int(math.Ceil(2 * sigma))
	kern := make([]float64, 2*r+1)
	for i := range kern {
		d := float64(i - r)
		kern[i] = math.Exp(-d * d / (2 * sigma * sigma))
	}
	tmp := make([]float64, len(v))
	out := make([]float64, len(v))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			s := 0.0
			for i, kv := range kern {
				xx := min(max(x+i-r, 0), bw-1)
				s += kv * v[y*bw+xx]
			}
			tmp[y*bw+x] = s
		}
	}
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			s := 0.0
			for i, kv := range kern {
				yy := min(max(y+i-r, 0), bh-1)
				s += kv * tmp[yy*bw+x]
			}
			out[y*bw+x] = s
		}
	}
	return out
}

// segment finds the foreground blocks and the pixel distance to the background. It
// reports false when there is no foreground.
func (x *work) segment(p *params) bool {
	w, h, bw, bh := x.w, x.h, x.bw, x.bh
	// Sums over 4×4 sub-blocks; a block's window is the 16×16 pixels centred on it
	// (4×4 sub-blocks), clipped at the image edges.
	const q = blockSize / 2
	qw, qh := (w+q-1)/q, (h+q-1)/q
	q1 := make([]int32, qw*qh)
	q2 := make([]int64, qw*qh)
	qn := make([]int32, qw*qh)
	for y := 0; y < h; y++ {
		qrow := (y / q) * qw
		row := x.grey[y*w : y*w+w]
		for xx, v := range row {
			k := qrow + xx/q
			q1[k] += int32(v)
			q2[k] += int64(v) * int64(v)
			qn[k]++
		}
	}
	stds := make([]float64, 0, bw*bh)
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			var a, b2, n int64
			for qy := 2*by - 1; qy <= 2*by+2; qy++ {
				if qy < 0 || qy >= qh {
					continue
				}
				for qx := 2*bx - 1; qx <= 2*bx+2; qx++ {
					if qx < 0 || qx >= qw {
						continue
					}
					k := qy*qw + qx
					a += int64(q1[k])
					b2 += q2[k]
					n += int64(qn[k])
				}
			}
			m := float64(a) / float64(n)
			v := float64(b2)/float64(n) - m*m
			sd := math.Sqrt(max(v, 0))
			x.std[by*bw+bx] = float32(sd)
			stds = append(stds, sd)
		}
	}
	sort.Float64s(stds)
	p90 := stds[len(stds)*9/10]
	thr := max(p.segMinStd, p.segStdFrac*p90)
	x.segThr = thr
	fg := make([]bool, bw*bh)
	for k := range fg {
		fg[k] = float64(x.std[k]) >= thr && float64(x.coh[k]) >= p.segCoherence
	}
	fg = blockClose(fg, bw, bh)
	fg = blockOpen(fg, bw, bh)
	fillHoles(fg, bw, bh)
	if !keepLargest(fg, bw, bh) {
		return false
	}
	copy(x.fg, fg)
	return true
}

func blockDilate(in []bool, bw, bh int) []bool {
	out := make([]bool, len(in))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			v := false
			for dy := -1; dy <= 1 && !v; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && yy >= 0 && xx < bw && yy < bh && in[yy*bw+xx] {
						v = true
						break
					}
				}
			}
			out[y*bw+x] = v
		}
	}
	return out
}

func blockErode(in []bool, bw, bh int) []bool {
	out := make([]bool, len(in))
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			v := true
			for dy := -1; dy <= 1 && v; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					// Outside the image counts as foreground so that erosion does not
					// eat a finger that touches the image edge.
					if xx >= 0 && yy >= 0 && xx < bw && yy < bh && !in[yy*bw+xx] {
						v = false
						break
					}
				}
			}
			out[y*bw+x] = v
		}
	}
	return out
}

func blockClose(in []bool, bw, bh int) []bool {
	return blockErode(blockDilate(in, bw, bh), bw, bh)
}

func blockOpen(in []bool, bw, bh int) []bool {
	return blockDilate(blockErode(in, bw, bh), bw, bh)
}

// fillHoles sets every background block not connected to the image edge.
func fillHoles(fg []bool, bw, bh int) {
	outside := make([]bool, len(fg))
	stack := make([]int, 0, 64)
	push := func(k int) {
		if !fg[k] && !outside[k] {
			outside[k] = true
			stack = append(stack, k)
		}
	}
	for x := 0; x < bw; x++ {
		push(x)
		push((bh-1)*bw + x)
	}
	for y := 0; y < bh; y++ {
		push(y * bw)
		push(y*bw + bw - 1)
	}
	for len(stack) > 0 {
		k := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := k%bw, k/bw
		if x > 0 {
			push(k - 1)
		}
		if x < bw-1 {
			push(k + 1)
		}
		if y > 0 {
			push(k - bw)
		}
		if y < bh-1 {
			push(k + bw)
		}
	}
	for k := range fg {
		if !outside[k] {
			fg[k] = true
		}
	}
}

// keepLargest keeps the largest 4-connected foreground region; false if there is none.
func keepLargest(fg []bool, bw, bh int) bool {
	label := make([]int32, len(fg))
	var best, bestN int32
	var next int32
	stack := make([]int, 0, 64)
	for k0 := range fg {
		if !fg[k0] || label[k0] != 0 {
			continue
		}
		next++
		n := int32(0)
		label[k0] = next
		stack = append(stack[:0], k0)
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := k%bw, k/bw
			for _, nk := range [4]int{k - 1, k + 1, k - bw, k + bw} {
				switch {
				case nk == k-1 && x == 0, nk == k+1 && x == bw-1, nk == k-bw && y == 0, nk == k+bw && y == bh-1:
					continue
				}
				if fg[nk] && label[nk] == 0 {
					label[nk] = next
					stack = append(stack, nk)
				}
			}
		}
		if n > bestN {
			best, bestN = next, n
		}
	}
	if bestN == 0 {
		return false
	}
	for k := range fg {
		fg[k] = label[k] == best
	}
	return true
}

// distAt is the Euclidean distance in pixels from (px, py) to the nearest background
// block or the image edge, searched up to distCap.
func (x *work) distAt(px, py int) float64 {
	d := float64(min(px+1, py+1, x.w-px, x.h-py))
	r := int(math.Ceil(distCap/blockSize)) + 1
	bx0, by0 := px/blockSize, py/blockSize
	for by := max(by0-r, 0); by <= min(by0+r, x.bh-1); by++ {
		for bx := max(bx0-r, 0); bx <= min(bx0+r, x.bw-1); bx++ {
			if x.fg[by*x.bw+bx] {
				continue
			}
			// Distance to the block's pixel rectangle.
			dx := max(bx*blockSize-px, 0, px-(bx*blockSize+blockSize-1))
			dy := max(by*blockSize-py, 0, py-(by*blockSize+blockSize-1))
			d = min(d, math.Hypot(float64(dx), float64(dy)))
		}
	}
	return min(d, distCap)
}

// distCap bounds distAt: farther than this from the background is "inside".
const distCap = 32.0
