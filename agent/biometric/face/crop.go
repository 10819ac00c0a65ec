package face

import (
	"math"
	"sync"
)

// faceCrop is the face resampled into the ISO/IEC 19794-5 token geometry at a
// fixed scale of canonIED pixels between the eyes: 4 IED wide, 16/3 IED high,
// eyes on the row 2.4 IED from the top. Measures computed on it do not depend on
// the camera distance, the image size or the head's roll.
type faceCrop struct {
	w, h  int
	gray  []float32 // luma, sampled from the pyramid level nearest above the scale
	valid []bool    // the pixel lies inside the source image
	// In the colour box (|u| ≤ colourHalfW, colourTop ≤ v ≤ colourBottom) the
	// source colour is sampled too: relative luminance (0–255, −1 outside the
	// image) and chroma.
	lum    []int16
	cb, cr []float32
}

const (
	colourHalfW  = 1.2
	colourTop    = -1.2
	colourBottom = 1.9
)

// uv returns the face coordinates of crop pixel (i, j).
func (c *faceCrop) uv(i, j int) (float64, float64) {
	return -tokenHalfWidth + (float64(i)+0.5)/canonIED, -tokenTop + (float64(j)+0.5)/canonIED
}

// ij returns the crop pixel holding face coordinates (u, v).
func (c *faceCrop) ij(u, v float64) (int, int) {
	return int(math.Floor((u + tokenHalfWidth) * canonIED)), int(math.Floor((v + tokenTop) * canonIED))
}

func (a *Analyzer) buildCrop(f *frame, ef eyeFrame) *faceCrop {
	gm := cropGeom()
	w, h := gm.w, gm.h
	c := &faceCrop{w: w, h: h, gray: make([]float32, w*h), valid: make([]bool, w*h), lum: make([]int16, w*h), cb: make([]float32, w*h), cr: make([]float32, w*h)}
	k := 0
	for ef.ied/float64(int(1)<<(k+1)) >= canonIED && k < 8 {
		k++
	}
	g := f.level(k)
	sc := float64(int(1) << k)
	// Image position of crop pixel (i, j) is o + i·di + j·dj.
	ox, oy := ef.toImage(c.uv(0, 0))
	x1, y1 := ef.toImage(c.uv(1, 0))
	x2, y2 := ef.toImage(c.uv(0, 1))
	dix, diy := x1-ox, y1-oy
	djx, djy := x2-ox, y2-oy
	fw, fh := float64(f.w)-0.5, float64(f.h)-0.5
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			x := ox + float64(i)*dix + float64(j)*djx
			y := oy + float64(i)*diy + float64(j)*djy
			p := j*w + i
			c.lum[p] = -1
			if x < -0.5 || y < -0.5 || x > fw || y > fh {
				continue
			}
			c.valid[p] = true
			c.gray[p] = float32(bilinear(g, (x+0.5)/sc-0.5, (y+0.5)/sc-0.5))
			if gm.colour[p] {
				xi, yi := min(max(int(x+0.5), 0), f.w-1), min(max(int(y+0.5), 0), f.h-1)
				r, gg, b := f.sampleC(xi, yi)
				c.lum[p] = int16(relLuminance(r, gg, b))
				fr, fg, fb := float32(r), float32(gg), float32(b)
				c.cb[p] = 128 - 0.168736*fr - 0.331264*fg + 0.5*fb
				c.cr[p] = 128 + 0.5*fr - 0.418688*fg - 0.081312*fb
			}
		}
	}
	return c
}

// cropGeometry lists, once, the crop pixels of each fixed region of the face
// frame, so the measures visit only the pixels they need.
type cropGeometry struct {
	w, h                                 int
	colour                               []bool
	face, right, left, forehead, backgnd []int32
}

var cropGeom = sync.OnceValue(func() *cropGeometry {
	w := int(2 * tokenHalfWidth * canonIED)
	h := int(math.Round(tokenHeight * canonIED))
	gm := &cropGeometry{w: w, h: h, colour: make([]bool, w*h)}
	c := &faceCrop{w: w, h: h}
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			u, v := c.uv(i, j)
			p := int32(j*w + i)
			gm.colour[p] = math.Abs(u) <= colourHalfW && v >= colourTop && v <= colourBottom
			if inFace(u, v) {
				gm.face = append(gm.face, p)
			}
			if inRightCheek(u, v) {
				gm.right = append(gm.right, p)
			}
			if inLeftCheek(u, v) {
				gm.left = append(gm.left, p)
			}
			if inForehead(u, v) {
				gm.forehead = append(gm.forehead, p)
			}
			if inBackground(u, v) && i > 0 && j > 0 && i < w-1 && j < h-1 {
				gm.backgnd = append(gm.backgnd, p)
			}
		}
	}
	return gm
})

// inEllipse reports whether (u, v) lies in the ellipse centred (cu, cv) with
// semi-axes (au, av).
func inEllipse(u, v, cu, cv, au, av float64) bool {
	du, dv := (u-cu)/au, (v-cv)/av
	return du*du+dv*dv <= 1
}

// The inner face region used for the luminance measures: an ellipse from mid
// forehead to just above the chin and cheek to cheek.
const (
	faceCU, faceCV, faceAU, faceAV = 0, 0.5, 0.8, 1.05
)

// region visits the valid pixels of a precomputed region.
func (c *faceCrop) region(list []int32, visit func(p int)) {
	for _, p := range list {
		if c.valid[p] {
			visit(int(p))
		}
	}
}

func inFace(u, v float64) bool { return inEllipse(u, v, faceCU, faceCV, faceAU, faceAV) }

// luminanceChecks computes, on the inner face region, the ISO/IEC 29794-5
// luminance mean and variance, dynamic range (entropy) and the under- and
// over-exposed fractions.
func (a *Analyzer) luminanceChecks(c *faceCrop) []Check {
	var hist [256]float64
	n := 0.0
	c.region(cropGeom().face, func(p int) {
		if l := c.lum[p]; l >= 0 {
			hist[l]++
			n++
		}
	})
	if n < 50 {
		miss := func(name string) Check { return Check{Name: name, Pass: false, Hint: hintCentre} }
		return []Check{miss(CheckLuminanceMean), miss(CheckLuminanceSpread), miss(CheckDynamicRange), miss(CheckUnderExposure), miss(CheckOverExposure)}
	}
	var mean, entropy, dark, bright float64
	for i, h := range hist {
		p := h / n
		mean += p * float64(i) / 255
		if p > 0 {
			entropy -= p * math.Log2(p)
		}
		if i <= 25 {
			dark += p
		}
		if i >= 247 {
			bright += p
		}
	}
	var variance float64
	for i, h := range hist {
		d := float64(i)/255 - mean
		variance += h / n * d * d
	}
	ms := a.opts.MinScore
	out := make([]Check, 0, 5)

	// Mean: OFIQ 100·σ(μ; 0.2, 0.05)·(1 − σ(μ; 0.8, 0.05)) on linear luminance,
	// passing inside [lumMeanLow, lumMeanHigh].
	{
		ch := Check{Name: CheckLuminanceMean, Value: round3(mean), Score: clampScore(100 * sigmoid(mean, 0.2, 0.05) * (1 - sigmoid(mean, 0.8, 0.05)))}
		ch.Pass = mean >= lumMeanLow && mean <= lumMeanHigh
		if mean < lumMeanLow {
			ch.Hint = hintMoreLight
		} else if mean > lumMeanHigh {
			ch.Hint = hintLessLight
		}
		out = append(out, ch)
	}
	// Variance: OFIQ 100·sin(π·60v/(60v+1)); fails only when the face is flat
	// (variance below lumVarLow).
	{
		ch := Check{Name: CheckLuminanceSpread, Value: round5(variance), Score: clampScore(100 * math.Sin(math.Pi*60*variance/(60*variance+1)))}
		ch.Pass = variance >= lumVarLow
		if !ch.Pass {
			ch.Hint = hintContrast
		}
		out = append(out, ch)
	}
	// Dynamic range: entropy of the luminance histogram in bits, score 12.5·H.
	{
		ch := Check{Name: CheckDynamicRange, Value: round3(entropy), Score: clampScore(12.5 * entropy)}
		ch.Pass = ch.Score >= ms
		if !ch.Pass {
			ch.Hint = hintContrast
		}
		out = append(out, ch)
	}
	// Under-exposure: fraction of face pixels with luminance ≤ 25; OFIQ mapping
	// 120·(0.832 − σ(x; 0.92, 0.05)).
	{
		ch := Check{Name: CheckUnderExposure, Value: round3(dark), Score: clampScore(120 * (0.832 - sigmoid(dark, 0.92, 0.05)))}
		ch.Pass = ch.Score >= ms
		if !ch.Pass {
			ch.Hint = hintMoreLight
		}
		out = append(out, ch)
	}
	// Over-exposure: fraction of face pixels with luminance ≥ 247; OFIQ mapping
	// 1/(x + 0.01), passing at most overExposedMax.
	{
		ch := Check{Name: CheckOverExposure, Value: round3(bright), Score: clampScore(1 / (bright + 0.01))}
		ch.Pass = bright <= overExposedMax
		if !ch.Pass {
			ch.Hint = hintLessLight
		}
		out = append(out, ch)
	}
	return out
}

const (
	lumMeanLow     = 0.08
	lumMeanHigh    = 0.75
	lumVarLow      = 0.002
	overExposedMax = 0.03
)

func round5(v float64) float64 { return math.Round(v*1e5) / 1e5 }

// Cheek zones for the illumination uniformity: below each eye, between the eye
// line and the mouth, away from glasses.
func inRightCheek(u, v float64) bool { return u >= -0.75 && u <= -0.25 && v >= 0.35 && v <= 0.85 }
func inLeftCheek(u, v float64) bool  { return u >= 0.25 && u <= 0.75 && v >= 0.35 && v <= 0.85 }

// illumination compares the luminance histograms (32 bins) of the two cheek
// zones: the raw value is their intersection (1 = identical), the score
// 100·raw^0.3 as in ISO/IEC 29794-5.
func (a *Analyzer) illumination(c *faceCrop) Check {
	var hl, hr [32]float64
	var nl, nr float64
	c.region(cropGeom().right, func(p int) {
		if l := c.lum[p]; l >= 0 {
			hr[l>>3]++
			nr++
		}
	})
	c.region(cropGeom().left, func(p int) {
		if l := c.lum[p]; l >= 0 {
			hl[l>>3]++
			nl++
		}
	})
	ch := Check{Name: CheckIllumination}
	if nl < 20 || nr < 20 {
		ch.Hint = hintCentre
		return ch
	}
	var inter float64
	for i := range hl {
		inter += math.Min(hl[i]/nl, hr[i]/nr)
	}
	ch.Value = round3(inter)
	ch.Score = clampScore(100 * math.Pow(inter, 0.3))
	ch.Pass = ch.Score >= a.opts.MinScore
	if !ch.Pass {
		ch.Hint = hintEvenLight
	}
	return ch
}

// Forehead strip above the eyebrows, and the skin reference below the eyes.
func inForehead(u, v float64) bool { return math.Abs(u) <= 0.45 && v >= -0.75 && v <= -0.45 }
func inCheeks(u, v float64) bool   { return inRightCheek(u, v) || inLeftCheek(u, v) }

// headCovering measures the fraction of the forehead strip whose colour matches
// the cheeks' skin (chroma within 2.5 standard deviations, at least ±10, and
// luminance within a factor 0.4–2.5 of the cheeks' mean). A hat brim, cap or
// scarf over the forehead, or its shadow, lowers it.
func (a *Analyzer) headCovering(c *faceCrop) Check {
	var sb, sr, sb2, sr2, sl, n float64
	cheek := func(p int) {
		if c.lum[p] < 0 {
			return
		}
		b, r := float64(c.cb[p]), float64(c.cr[p])
		sb += b
		sr += r
		sb2 += b * b
		sr2 += r * r
		sl += float64(c.lum[p])
		n++
	}
	c.region(cropGeom().right, cheek)
	c.region(cropGeom().left, cheek)
	ch := Check{Name: CheckHeadCovering}
	if n < 20 {
		ch.Hint = hintCentre
		return ch
	}
	mb, mr, ml := sb/n, sr/n, sl/n
	tb := math.Max(2.5*math.Sqrt(math.Max(sb2/n-mb*mb, 0)), 10)
	tr := math.Max(2.5*math.Sqrt(math.Max(sr2/n-mr*mr, 0)), 10)
	var skin, tot float64
	c.region(cropGeom().forehead, func(p int) {
		if c.lum[p] < 0 {
			return
		}
		tot++
		l := float64(c.lum[p])
		if math.Abs(float64(c.cb[p])-mb) <= tb && math.Abs(float64(c.cr[p])-mr) <= tr && l >= 0.4*ml && l <= 2.5*ml+8 {
			skin++
		}
	})
	if tot < 20 {
		ch.Hint = hintCentre
		return ch
	}
	fr := skin / tot
	ch.Value = round3(fr)
	ch.Score = clampScore(100 * fr)
	ch.Pass = fr >= foreheadSkinMin
	if !ch.Pass {
		ch.Hint = hintHat
	}
	return ch
}

const foreheadSkinMin = 0.6

// sharpness is the ratio of the RMS Laplacian to the RMS gradient of the luma on
// the inner face region at the canonical scale. It does not depend on contrast
// or exposure; blur lowers it (a Gaussian blur of σ pixels scales it about as
// 1/σ once σ exceeds the detail size).
func (a *Analyzer) sharpness(c *faceCrop) Check {
	var sl, sg float64
	w := c.w
	c.region(cropGeom().face, func(p int) {
		i, j := p%w, p/w
		if i < 1 || j < 1 || i >= w-1 || j >= c.h-1 || !c.valid[p-1] || !c.valid[p+1] || !c.valid[p-w] || !c.valid[p+w] {
			return
		}
		g := c.gray
		lap := float64(g[p-1] + g[p+1] + g[p-w] + g[p+w] - 4*g[p])
		gx := float64(g[p+1]-g[p-1]) / 2
		gy := float64(g[p+w]-g[p-w]) / 2
		sl += lap * lap
		sg += gx*gx + gy*gy
	})
	ch := Check{Name: CheckSharpness}
	if sg <= 0 {
		ch.Hint = hintSharp
		return ch
	}
	s := math.Sqrt(sl / sg)
	ch.Value = round3(s)
	ch.Score = clampScore(100 * sigmoid(s, sharpnessMid, sharpnessWidth))
	ch.Pass = ch.Score >= a.opts.MinScore
	if !ch.Pass {
		ch.Hint = hintSharp
	}
	return ch
}

const (
	sharpnessMid   = 0.5
	sharpnessWidth = 0.1
)

// Background: the token frame outside an ellipse enclosing head and hair, above
// the shoulders.
func inBackground(u, v float64) bool { return v < 1.6 && !inEllipse(u, v, 0, -0.1, 1.45, 2.15) }

// background is the mean Sobel gradient magnitude of the luma over the
// background at the canonical scale (the ISO/IEC 29794-5 BackgroundUniformity
// measure), divided by the background's mean luma and multiplied by 128, scored
// with OFIQ's mapping 190·(1 − σ(m; 10, 100)).
func (a *Analyzer) background(c *faceCrop) Check {
	w := c.w
	var sum, lsum, n float64
	c.region(cropGeom().backgnd, func(p int) {
		for _, q := range [...]int{p - w - 1, p - w, p - w + 1, p - 1, p + 1, p + w - 1, p + w, p + w + 1} {
			if !c.valid[q] {
				return
			}
		}
		g := c.gray
		gx := float64(g[p-w+1] + 2*g[p+1] + g[p+w+1] - g[p-w-1] - 2*g[p-1] - g[p+w-1])
		gy := float64(g[p+w-1] + 2*g[p+w] + g[p+w+1] - g[p-w-1] - 2*g[p-w] - g[p-w+1])
		sum += math.Hypot(gx, gy)
		lsum += float64(g[p])
		n++
	})
	ch := Check{Name: CheckBackground}
	if n < minBackgroundPixels {
		// Too little background in the picture to judge: not counted against
		// the capture (the value −1 says it was not assessed).
		ch.Value, ch.Score, ch.Pass = -1, 0, true
		return ch
	}
	// Gradients are taken relative to the background's mean level (scaled to a
	// mid-grey of 128), so exposure does not change the measure.
	m := sum / n * 128 / math.Max(lsum/n, 16)
	ch.Value = round1(m)
	ch.Score = clampScore(190 * (1 - sigmoid(m, 10, 100)))
	ch.Pass = m <= backgroundMaxGradient
	if !ch.Pass {
		ch.Hint = hintBackground
	}
	return ch
}

const (
	minBackgroundPixels   = 2000
	backgroundMaxGradient = 45
)
