package liveness

import (
	"image"
	"math"
	"math/cmplx"
	"sort"
)

// Geometry of the face measurements, from the face report (preview pixels).
type faceGeom struct {
	cx, cy, size float64      // face box centre and side
	eyes         [][2]float64 // pupil centres found (0, 1 or 2)
	interEye     float64
}

const (
	faceGrid  = 16 // cells per side over the face box
	specSize  = 64 // side of the spectral patch (a power of two)
	eyeRadius = 0.2
)

// faceFrame is what one challenge frame contributes, in linear light.
type faceFrame struct {
	cells []float64   // faceGrid² cell means over the face box
	bg    float64     // background beside the head (NaN when out of frame)
	eye   [][]float64 // a (2r+1)² window around each eye
	spec  []float64   // power spectrum of the spectral patch, specSize²
}

// linearLUT maps 8-bit luma to linear light; limited is BT.601 limited range (16..235,
// YUYV from UVC cameras), else full range (JPEG).
func linearLUT(limited bool) [256]float64 {
	var t [256]float64
	for i := range t {
		c := float64(i) / 255
		if limited {
			c = (float64(i) - 16) / 219
		}
		c = math.Max(0, math.Min(1, c))
		if c <= 0.04045 {
			t[i] = c / 12.92
		} else {
			t[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return t
}

// extract measures one frame.
func (g *faceGeom) extract(img *image.Gray, lut *[256]float64) faceFrame {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	at := func(x, y int) float64 {
		x = min(max(x, 0), W-1)
		y = min(max(y, 0), H-1)
		return lut[img.Pix[y*img.Stride+x]]
	}
	var f faceFrame
	f.cells = make([]float64, faceGrid*faceGrid)
	x0, y0 := g.cx-g.size/2, g.cy-g.size/2
	cs := g.size / faceGrid
	step := max(1, int(cs/4))
	for j := 0; j < faceGrid; j++ {
		for i := 0; i < faceGrid; i++ {
			var s float64
			var n int
			for y := int(y0 + float64(j)*cs); y < int(y0+float64(j+1)*cs); y += step {
				for x := int(x0 + float64(i)*cs); x < int(x0+float64(i+1)*cs); x += step {
					s += at(x, y)
					n++
				}
			}
			if n > 0 {
				f.cells[j*faceGrid+i] = s / float64(n)
			}
		}
	}
	// Background: squares beside the head, where they fit in the frame.
	var bs float64
	var bn int
	half := 0.2 * g.size
	for _, dx := range []float64{-1.15, 1.15} {
		bx := g.cx + dx*g.size
		if bx-half < 0 || bx+half >= float64(W) {
			continue
		}
		for y := int(g.cy - half); y < int(g.cy+half); y += 2 {
			for x := int(bx - half); x < int(bx+half); x += 2 {
				bs += at(x, y)
				bn++
			}
		}
	}
	f.bg = math.NaN()
	if bn > 0 {
		f.bg = bs / float64(bn)
	}
	r := int(math.Ceil(eyeRadius * g.interEye))
	for _, e := range g.eyes {
		win := make([]float64, (2*r+1)*(2*r+1))
		ex, ey := int(math.Round(e[0])), int(math.Round(e[1]))
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				win[(dy+r)*(2*r+1)+dx+r] = at(ex+dx, ey+dy)
			}
		}
		f.eye = append(f.eye, win)
	}
	f.spec = patchSpectrum(img, int(g.cx), int(g.cy+0.05*g.size))
	return f
}

var hann64 = func() []float64 {
	w := make([]float64, specSize)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*(float64(i)+0.5)/specSize)
	}
	return w
}()

// patchSpectrum is the power spectrum of the specSize² luma patch centred at (cx, cy),
// mean removed and Hann-windowed.
func patchSpectrum(img *image.Gray, cx, cy int) []float64 {
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	x0 := min(max(cx-specSize/2, 0), max(0, W-specSize))
	y0 := min(max(cy-specSize/2, 0), max(0, H-specSize))
	buf := make([]complex128, specSize*specSize)
	var mean float64
	for y := 0; y < specSize; y++ {
		for x := 0; x < specSize; x++ {
			xx, yy := min(x0+x, W-1), min(y0+y, H-1)
			v := float64(img.Pix[yy*img.Stride+xx])
			buf[y*specSize+x] = complex(v, 0)
			mean += v
		}
	}
	mean /= specSize * specSize
	for y := 0; y < specSize; y++ {
		for x := 0; x < specSize; x++ {
			i := y*specSize + x
			buf[i] = complex((real(buf[i])-mean)*hann64[x]*hann64[y], 0)
		}
	}
	fft2(buf, specSize)
	out := make([]float64, len(buf))
	for i, c := range buf {
		a := cmplx.Abs(c)
		out[i] = a * a
	}
	return out
}

// fft2 transforms an n×n array in place (n a power of two).
func fft2(a []complex128, n int) {
	row := make([]complex128, n)
	for y := 0; y < n; y++ {
		fft(a[y*n : (y+1)*n])
	}
	for x := 0; x < n; x++ {
		for y := 0; y < n; y++ {
			row[y] = a[y*n+x]
		}
		fft(row)
		for y := 0; y < n; y++ {
			a[y*n+x] = row[y]
		}
	}
}

// fft is an in-place iterative radix-2 transform.
func fft(a []complex128) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := 0; k < size/2; k++ {
				u, v := a[start+k], a[start+k+size/2]*wk
				a[start+k], a[start+k+size/2] = u+v, u-v
				wk *= w
			}
		}
	}
}

// faceCues are the measurements of one illumination challenge.
type faceCues struct {
	// Sync: correlation of the face's brightness with the LED pattern (after a linear
	// trend), at the best of lags 0..2 frames. A live face and a print follow the
	// pattern (about 1); injected frames do not.
	Sync float64
	// Lag is that best lag in frames.
	Lag int
	// Response: log10 of the face's relative brightening with the LED on. Live skin and
	// paper answer strongly; a screen emits its own light and answers weakly.
	Response float64
	// Background: the background's relative brightening over the face's. A live head is
	// near and the wall far (about 0.1); a print or a screen is one plane (about 1).
	Background float64
	// Shape: horizontal curvature of the LED's relative irradiance across the face
	// (centre over sides): positive on a 3-D face, near 0 on a flat print or screen.
	Shape float64
	// Glint: corneal highlights: the brightest LED response near the pupils over the
	// face's typical response.
	Glint float64
	// Moire: log10 of the strongest high-frequency peak of the face patch's spectrum
	// over the band's median (halftone dots, sub-pixel grids and their moiré).
	Moire float64
}

// vector lists the cues in model order.
func (c faceCues) vector() []float64 {
	return []float64{c.Sync, c.Response, c.Background, c.Shape, c.Glint, c.Moire}
}

// measureFace computes the cues from the frames and the LED level set before each.
func measureFace(frames []faceFrame, pattern []float64) faceCues {
	n := len(frames)
	var c faceCues
	face := make([]float64, n)
	bg := make([]float64, n)
	inner := innerCells()
	for i, f := range frames {
		var s float64
		for _, k := range inner {
			s += f.cells[k]
		}
		face[i] = s / float64(len(inner))
		bg[i] = f.bg
	}
	best := math.Inf(-1)
	var onOff []float64 // the LED state each frame saw, at the best lag
	for lag := 0; lag <= 2; lag++ {
		s := lagged(pattern, lag)
		r, _, _ := trendFit(face, s)
		if r > best {
			best, c.Lag, onOff = r, lag, s
		}
	}
	c.Sync = best
	_, a, b := trendFit(face, onOff)
	rho := b / math.Max(a, 1e-9)
	c.Response = math.Log10(math.Max(rho, 1e-3))
	c.Background = math.NaN()
	if !math.IsNaN(bg[0]) {
		_, ab, bb := trendFit(bg, onOff)
		rb := bb / math.Max(ab, 1e-9)
		c.Background = math.Max(-1, math.Min(3, rb/math.Max(rho, 1e-3)))
	}
	// On and off means per cell.
	on, off := meanBy(frames, onOff)
	if on == nil {
		return c
	}
	c.Shape = shapeCue(on.cells, off.cells)
	c.Glint = glintCue(on, off)
	// Spectrum averaged over all frames.
	spec := make([]float64, specSize*specSize)
	for _, f := range frames {
		for i, v := range f.spec {
			spec[i] += v
		}
	}
	c.Moire = moireCue(spec)
	return c
}

// innerCells are the face cells inside the inner ellipse of the face box.
func innerCells() []int {
	var out []int
	for j := 0; j < faceGrid; j++ {
		for i := 0; i < faceGrid; i++ {
			u := (float64(i)+0.5)/faceGrid*2 - 1
			v := (float64(j)+0.5)/faceGrid*2 - 1
			if u*u/0.6/0.6+v*v/0.7/0.7 <= 1 {
				out = append(out, j*faceGrid+i)
			}
		}
	}
	return out
}

// lagged is the LED state seen by each frame when frames lag the pattern by lag (the
// LED was off before the challenge).
func lagged(p []float64, lag int) []float64 {
	out := make([]float64, len(p))
	for i := range p {
		if i-lag >= 0 {
			out[i] = p[i-lag]
		}
	}
	return out
}

// trendFit fits y = a + b·s + c·(t - t̄) and returns the partial correlation of y with
// s (the trend removed), a (the LED-off level at mid time) and b.
func trendFit(y, s []float64) (r, a, b float64) {
	n := float64(len(y))
	var tm, sm, ym float64
	for i := range y {
		tm += float64(i)
		sm += s[i]
		ym += y[i]
	}
	tm, sm, ym = tm/n, sm/n, ym/n
	// Residualise y and s on t.
	var tt, ty, ts float64
	for i := range y {
		dt := float64(i) - tm
		tt += dt * dt
		ty += dt * (y[i] - ym)
		ts += dt * (s[i] - sm)
	}
	var ry, rs []float64
	for i := range y {
		dt := float64(i) - tm
		ry = append(ry, y[i]-ym-ty/tt*dt)
		rs = append(rs, s[i]-sm-ts/tt*dt)
	}
	var sy, ss, syy float64
	for i := range ry {
		sy += ry[i] * rs[i]
		ss += rs[i] * rs[i]
		syy += ry[i] * ry[i]
	}
	if ss == 0 {
		return 0, ym, 0
	}
	b = sy / ss
	if syy > 0 {
		r = sy / math.Sqrt(ss*syy)
	}
	a = ym - b*sm
	return r, a, b
}

// meanBy averages the frames seen with the LED on and with it off.
func meanBy(frames []faceFrame, s []float64) (on, off *faceFrame) {
	var non, noff int
	for _, v := range s {
		if v > 0.5 {
			non++
		} else {
			noff++
		}
	}
	if non == 0 || noff == 0 {
		return nil, nil
	}
	mk := func() *faceFrame {
		f := &faceFrame{cells: make([]float64, faceGrid*faceGrid)}
		for _, e := range frames[0].eye {
			f.eye = append(f.eye, make([]float64, len(e)))
		}
		return f
	}
	on, off = mk(), mk()
	for i, fr := range frames {
		dst, k := off, float64(noff)
		if s[i] > 0.5 {
			dst, k = on, float64(non)
		}
		for j, v := range fr.cells {
			dst.cells[j] += v / k
		}
		for e := range fr.eye {
			for j, v := range fr.eye[e] {
				dst.eye[e][j] += v / k
			}
		}
	}
	return on, off
}

// shapeCue fits the relative LED irradiance R = (on-off)/off over the face cells with a
// quadratic surface and returns -δ/α, the horizontal curvature.
func shapeCue(on, off []float64) float64 {
	var offMean float64
	for _, v := range off {
		offMean += v
	}
	offMean /= float64(len(off))
	// Normal equations for R = α + βu + γv + δu² + εv².
	var A [5][5]float64
	var B [5]float64
	for j := 0; j < faceGrid; j++ {
		for i := 0; i < faceGrid; i++ {
			u := (float64(i)+0.5)/faceGrid*2 - 1
			v := (float64(j)+0.5)/faceGrid*2 - 1
			if u*u/0.8/0.8+v*v/0.85/0.85 > 1 {
				continue
			}
			k := j*faceGrid + i
			R := (on[k] - off[k]) / (off[k] + 0.05*offMean)
			x := [5]float64{1, u, v, u * u, v * v}
			for p := 0; p < 5; p++ {
				for q := 0; q < 5; q++ {
					A[p][q] += x[p] * x[q]
				}
				B[p] += x[p] * R
			}
		}
	}
	sol, ok := solve5(A, B)
	if !ok {
		return 0
	}
	// Relative to the mean response, floored so that a scene that barely answers (a
	// screen, injected frames) reads as flat rather than as noise over nothing.
	return math.Max(-3, math.Min(3, -sol[3]/math.Max(sol[0], 0.05)))
}

// solve5 solves a 5×5 linear system by Gaussian elimination with partial pivoting.
func solve5(A [5][5]float64, B [5]float64) ([5]float64, bool) {
	const n = 5
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(A[r][c]) > math.Abs(A[p][c]) {
				p = r
			}
		}
		if math.Abs(A[p][c]) < 1e-12 {
			return B, false
		}
		A[c], A[p] = A[p], A[c]
		B[c], B[p] = B[p], B[c]
		for r := c + 1; r < n; r++ {
			f := A[r][c] / A[c][c]
			for k := c; k < n; k++ {
				A[r][k] -= f * A[c][k]
			}
			B[r] -= f * B[c]
		}
	}
	var x [5]float64
	for r := n - 1; r >= 0; r-- {
		s := B[r]
		for k := r + 1; k < n; k++ {
			s -= A[r][k] * x[k]
		}
		x[r] = s / A[r][r]
	}
	return x, true
}

// glintCue: corneal glints are specular, so they stand out in the ratio of the LED's
// contribution to the ambient-lit scene (on-off)/off, where the albedo of a light sclera
// or teeth cancels. Per eye window, the second-largest ratio (one hot pixel is not a
// glint) over the median ratio of the face cells, minus one; the mean over the eyes.
// The denominators are floored at a tenth of the face's off level so the dark pupil's
// noise is not mistaken for a highlight.
func glintCue(on, off *faceFrame) float64 {
	inner := innerCells()
	var offs []float64
	for _, k := range inner {
		offs = append(offs, off.cells[k])
	}
	sort.Float64s(offs)
	floor := 0.1 * offs[len(offs)/2]
	if floor <= 1e-9 {
		return 0
	}
	var rs []float64
	for _, k := range inner {
		rs = append(rs, (on.cells[k]-off.cells[k])/math.Max(off.cells[k], floor))
	}
	sort.Float64s(rs)
	// The face's typical ratio, floored: a scene that does not answer the LED has no
	// glints, not noise divided by nothing.
	ref := math.Max(rs[len(rs)/2], 0.02)
	if len(on.eye) == 0 {
		return math.NaN()
	}
	var sum float64
	for e := range on.eye {
		r := make([]float64, len(on.eye[e]))
		for i := range r {
			r[i] = (on.eye[e][i] - off.eye[e][i]) / math.Max(off.eye[e][i], floor)
		}
		sort.Float64s(r)
		sum += r[len(r)-2]/ref - 1
	}
	// Saturated: beyond a few times the skin's response the evidence for a live eye
	// does not grow (a screen's glare or a recording's own glints can be brighter).
	return math.Max(-1, math.Min(sum/float64(len(on.eye)), 5))
}

// moireCue: log10 of the largest power in the band 0.15–0.5 cycles/pixel over the
// band's median power.
func moireCue(spec []float64) float64 {
	var band []float64
	maxV := 0.0
	for ky := 0; ky < specSize; ky++ {
		fy := float64(ky)
		if ky > specSize/2 {
			fy = float64(ky - specSize)
		}
		for kx := 0; kx < specSize/2+1; kx++ {
			f := math.Hypot(float64(kx), fy) / specSize
			if f < 0.15 || f > 0.5 {
				continue
			}
			v := spec[ky*specSize+kx]
			band = append(band, v)
			maxV = math.Max(maxV, v)
		}
	}
	if len(band) == 0 {
		return 0
	}
	sort.Float64s(band)
	med := band[len(band)/2]
	if med <= 0 {
		return 0
	}
	return math.Log10(maxV / med)
}
