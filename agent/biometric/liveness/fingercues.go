package liveness

import (
	"image"
	"math"
	"sort"
)

// plane is a grey image as float32, row-major.
type plane struct {
	w, h int
	v    []float32
}

func toPlane(g *image.Gray) plane {
	b := g.Bounds()
	p := plane{w: b.Dx(), h: b.Dy(), v: make([]float32, b.Dx()*b.Dy())}
	for y := 0; y < p.h; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+p.w]
		for x, c := range row {
			p.v[y*p.w+x] = float32(c)
		}
	}
	return p
}

// boxMean returns the mean over a (2r+1)² box at every pixel (clamped at the edges).
func boxMean(p plane, r int) []float32 {
	w, h := p.w, p.h
	tmp := make([]float32, w*h)
	out := make([]float32, w*h)
	for y := 0; y < h; y++ {
		row := p.v[y*w : (y+1)*w]
		var acc float32
		n := 0
		for x := 0; x <= min(r, w-1); x++ {
			acc += row[x]
			n++
		}
		for x := 0; x < w; x++ {
			tmp[y*w+x] = acc / float32(n)
			if x+r+1 < w {
				acc += row[x+r+1]
				n++
			}
			if x-r >= 0 {
				acc -= row[x-r]
				n--
			}
		}
	}
	for x := 0; x < w; x++ {
		var acc float32
		n := 0
		for y := 0; y <= min(r, h-1); y++ {
			acc += tmp[y*w+x]
			n++
		}
		for y := 0; y < h; y++ {
			out[y*w+x] = acc / float32(n)
			if y+r+1 < h {
				acc += tmp[(y+r+1)*w+x]
				n++
			}
			if y-r >= 0 {
				acc -= tmp[(y-r)*w+x]
				n--
			}
		}
	}
	return out
}

// frameStats are the local statistics of a frame that the hashes and the cues share:
// 3×3 and 11×11 means and the 11×11 mean of squares.
type frameStats struct {
	p            plane
	m3, m11, q11 []float32
}

func newStats(g *image.Gray) *frameStats {
	p := toPlane(g)
	sq := plane{w: p.w, h: p.h, v: make([]float32, len(p.v))}
	for i, v := range p.v {
		sq.v[i] = v * v
	}
	return &frameStats{p: p, m3: boxMean(p, 1), m11: boxMean(p, 5), q11: boxMean(sq, 5)}
}

// band is the 3×3 mean minus the 11×11 mean: ridges negative, valleys positive.
func (st *frameStats) band() []float32 {
	out := make([]float32, len(st.m3))
	for i := range out {
		out[i] = st.m3[i] - st.m11[i]
	}
	return out
}

// fingerMask marks the pixels of 8×8 blocks with the contrast of a fingerprint (block
// standard deviation above 12 grey levels), eroded by one block so that the edge of the
// contact is left out.
func fingerMask(p plane) []bool {
	const bs = 8
	bw, bh := p.w/bs, p.h/bs
	blk := make([]bool, bw*bh)
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			var s, s2 float64
			for y := by * bs; y < by*bs+bs; y++ {
				for x := bx * bs; x < bx*bs+bs; x++ {
					v := float64(p.v[y*p.w+x])
					s += v
					s2 += v * v
				}
			}
			m := s / (bs * bs)
			blk[by*bw+bx] = s2/(bs*bs)-m*m > 12*12
		}
	}
	out := make([]bool, p.w*p.h)
	for by := 1; by < bh-1; by++ {
		for bx := 1; bx < bw-1; bx++ {
			ok := true
			for dy := -1; dy <= 1 && ok; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if !blk[(by+dy)*bw+bx+dx] {
						ok = false
						break
					}
				}
			}
			if !ok {
				continue
			}
			for y := by * bs; y < by*bs+bs; y++ {
				for x := bx * bs; x < bx*bs+bs; x++ {
					out[y*p.w+x] = true
				}
			}
		}
	}
	return out
}

// register finds the translation (dx, dy) that maps a onto b (b(x+dx, y+dy) ≈ a(x, y))
// within ±maxShift pixels, to a tenth of a pixel, from the normalised correlation of
// their band-passed images over the mask.
func register(ba, bb []float32, w, h int, mask []bool, maxShift int) (float64, float64, float64) {
	n := 2*maxShift + 1
	score := make([]float64, n*n)
	m := maxShift + 2
	for sy := -maxShift; sy <= maxShift; sy++ {
		for sx := -maxShift; sx <= maxShift; sx++ {
			var sab, saa, sbb float64
			for y := m; y < h-m; y += 2 {
				for x := m; x < w-m; x += 2 {
					i := y*w + x
					if !mask[i] {
						continue
					}
					va, vb := float64(ba[i]), float64(bb[(y+sy)*w+x+sx])
					sab += va * vb
					saa += va * va
					sbb += vb * vb
				}
			}
			if saa > 0 && sbb > 0 {
				score[(sy+maxShift)*n+sx+maxShift] = sab / math.Sqrt(saa*sbb)
			}
		}
	}
	bi := 0
	for i, s := range score {
		if s > score[bi] {
			bi = i
		}
	}
	bx, by := bi%n, bi/n
	dx, dy := float64(bx-maxShift), float64(by-maxShift)
	// Parabolic refinement along each axis.
	if bx > 0 && bx < n-1 {
		l, c, r := score[by*n+bx-1], score[by*n+bx], score[by*n+bx+1]
		if d := l - 2*c + r; d < 0 {
			dx += math.Max(-0.5, math.Min(0.5, 0.5*(l-r)/d))
		}
	}
	if by > 0 && by < n-1 {
		u, c, d0 := score[(by-1)*n+bx], score[by*n+bx], score[(by+1)*n+bx]
		if d := u - 2*c + d0; d < 0 {
			dy += math.Max(-0.5, math.Min(0.5, 0.5*(u-d0)/d))
		}
	}
	return dx, dy, score[bi]
}

// shifted samples p at (x+dx, y+dy), bilinearly, clamping at the edges.
func shifted(p plane, dx, dy float64) plane {
	out := plane{w: p.w, h: p.h, v: make([]float32, len(p.v))}
	ix, iy := int(math.Floor(dx)), int(math.Floor(dy))
	fx, fy := float32(dx-float64(ix)), float32(dy-float64(iy))
	at := func(x, y int) float32 {
		x = min(max(x, 0), p.w-1)
		y = min(max(y, 0), p.h-1)
		return p.v[y*p.w+x]
	}
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			a, b := at(x+ix, y+iy), at(x+ix+1, y+iy)
			c, d := at(x+ix, y+iy+1), at(x+ix+1, y+iy+1)
			out.v[y*p.w+x] = a + (b-a)*fx + (c-a)*fy + (a-b-c+d)*fx*fy
		}
	}
	return out
}

// fingerCues are the measurements of one finger presentation. Units: grey levels
// divided by the first frame's ridge contrast (its standard deviation inside the
// fingerprint), so they do not depend on the sensor's gain.
type fingerCues struct {
	// Change: log10 of the energy of the smoothed difference between the two frames
	// after registration (structure that changed: sweat, pressure, distortion), per unit
	// of contrast energy. About -5 when nothing but noise changed.
	Change float64
	// Darkening: how much darker the second frame is inside the fingerprint (sweat and
	// moisture darken and widen ridges; a cast stays or dries, getting lighter).
	Darkening float64
	// ValleyFill: how much more the valleys darkened than the ridges (medians): sweat
	// and moisture spread from the ridges into the valleys; light or pressure changes
	// move both alike.
	ValleyFill float64
	// Spots: how localised the darkening in the valleys is (98th percentile minus the
	// median): sweat bridges valleys near active pores; a drying or pressed cast changes
	// evenly.
	Spots float64
	// Texture: the spread of ridge-centre intensities relative to their surroundings:
	// skin is mottled and shows pores, casts are uniform.
	Texture float64
	// Soft: the fraction of fingerprint pixels half-way between ridge and valley (within
	// half a local standard deviation of the local mean): skin gives sharp ridge
	// edges, a cast has lost them (its ridges are moulded, then smoothed).
	Soft float64
	// Ink: the fraction of fingerprint pixels darker than their 11×11 surroundings,
	// i.e. the ridges' share of the ridge period. Wet skin and a firm press widen the
	// ridges, and moisture also hides the skin's texture: the model uses Ink to weigh
	// Texture and Detail.
	Ink float64
	// Detail: the energy of the second difference along the local ridge direction
	// (2.5 pixels, 0.13 mm, each way), per unit of local contrast energy, over the
	// fingerprint. Along a ridge the ridge pattern cancels; what remains is what lies on
	// it — pores, the skin's micro-texture, breaks in a dry ridge — and sensor noise. A
	// cast reproduces the ridges but loses that detail (the casting material's
	// resolution, smoothing as it sets).
	Detail float64
	// CrestDetail is Detail over ridge pixels only, where pores and contact breaks lie.
	CrestDetail float64
	// Frozen: the two frames are identical, which no real sensor delivers.
	Frozen bool
	// Area: fraction of the image inside the fingerprint mask.
	Area float64
	// Match: correlation of the registered band-passed frames.
	Match float64
}

// textureCue measures the ridge-centre intensity spread of one frame, the fraction of
// soft (intermediate) pixels, the fraction of dark (ink) pixels, and the fraction of
// the frame in the fingerprint.
func textureCue(st *frameStats, mask []bool) (texture, soft, ink, area float64) {
	p, m11, s11, m3 := st.p, st.m11, st.q11, st.m3
	var vals []float64
	var fg, mid, dark int
	for i := range p.v {
		if !mask[i] {
			continue
		}
		fg++
		if p.v[i] < m11[i] {
			dark++
		}
		sd := math.Sqrt(math.Max(1, float64(s11[i]-m11[i]*m11[i])))
		if math.Abs(float64(p.v[i]-m11[i])) < 0.5*sd {
			mid++
		}
		z := float64(m3[i]-m11[i]) / sd
		if z < -0.9 { // a ridge centre
			vals = append(vals, float64(p.v[i]-m11[i])/sd)
		}
	}
	area = float64(fg) / float64(len(p.v))
	if fg > 0 {
		soft = float64(mid) / float64(fg)
		ink = float64(dark) / float64(fg)
	}
	if len(vals) < 50 {
		return 0, soft, ink, area
	}
	var s, s2 float64
	for _, v := range vals {
		s += v
		s2 += v * v
	}
	n := float64(len(vals))
	return math.Sqrt(math.Max(0, s2/n-(s/n)*(s/n))), soft, ink, area
}

// tensor holds the summed-area tables of the gradient products g_x², g_y² and g_x·g_y
// (central differences), from which the structure tensor over any box is four lookups.
type tensor struct {
	w          int // table width: image width + 1
	xx, yy, xy []float64
}

func newTensor(p plane) *tensor {
	w, h := p.w, p.h
	t := &tensor{w: w + 1, xx: make([]float64, (w+1)*(h+1)), yy: make([]float64, (w+1)*(h+1)), xy: make([]float64, (w+1)*(h+1))}
	for y := 0; y < h; y++ {
		var rxx, ryy, rxy float64
		for x := 0; x < w; x++ {
			if x > 0 && y > 0 && x < w-1 && y < h-1 {
				i := y*w + x
				gx := float64(p.v[i+1] - p.v[i-1])
				gy := float64(p.v[i+w] - p.v[i-w])
				rxx += gx * gx
				ryy += gy * gy
				rxy += gx * gy
			}
			j := (y+1)*t.w + x + 1
			t.xx[j] = t.xx[j-t.w] + rxx
			t.yy[j] = t.yy[j-t.w] + ryy
			t.xy[j] = t.xy[j-t.w] + rxy
		}
	}
	return t
}

// tangent returns the unit ridge direction at (x, y): perpendicular to the dominant
// gradient of the (2r+1)² box around it, which must lie inside the image.
func (t *tensor) tangent(x, y, r int) (float32, float32) {
	a, b := (y-r)*t.w+x-r, (y-r)*t.w+x+r+1
	c, d := (y+r+1)*t.w+x-r, (y+r+1)*t.w+x+r+1
	sxx := t.xx[d] - t.xx[b] - t.xx[c] + t.xx[a]
	syy := t.yy[d] - t.yy[b] - t.yy[c] + t.yy[a]
	sxy := t.xy[d] - t.xy[b] - t.xy[c] + t.xy[a]
	// The gradient's doubled angle is (sxx-syy, 2sxy); halve it without trigonometry.
	c2, s2 := sxx-syy, 2*sxy
	n := math.Hypot(c2, s2)
	if n == 0 {
		return 1, 0
	}
	c2 /= n
	gc := math.Sqrt(math.Max(0, (1+c2)/2))
	gs := math.Sqrt(math.Max(0, (1-c2)/2))
	if s2 < 0 {
		gs = -gs
	}
	return float32(-gs), float32(gc)
}

// at samples p bilinearly at (x, y), clamped to the image.
func (p plane) at(x, y float32) float32 {
	ix, iy := int(math.Floor(float64(x))), int(math.Floor(float64(y)))
	ix, iy = min(max(ix, 0), p.w-2), min(max(iy, 0), p.h-2)
	fx, fy := min(max(x-float32(ix), 0), 1), min(max(y-float32(iy), 0), 1)
	i := iy*p.w + ix
	a, b, c, d := p.v[i], p.v[i+1], p.v[i+p.w], p.v[i+p.w+1]
	return a + (b-a)*fx + (c-a)*fy + (a-b-c+d)*fx*fy
}

// detailStep is how far along the ridge detailCue looks each way, in pixels: longer
// than a pore (about 0.1 mm) and short enough that a curved ridge stays straight.
const detailStep = 2.5

// detailCue measures Detail and CrestDetail (see fingerCues) on one frame, at every
// other pixel of every other row (a quarter of the pixels is plenty for an average and
// keeps the PAD within its time budget).
func detailCue(st *frameStats, mask []bool) (detail, crest float64) {
	p := st.p
	const r = 5 // the 11×11 box of the structure tensor
	tn := newTensor(p)
	var e, n, ec, nc float64
	for y := r; y < p.h-r-1; y += 2 {
		for x := r; x < p.w-r-1; x += 2 {
			i := y*p.w + x
			if !mask[i] {
				continue
			}
			tx, ty := tn.tangent(x, y, r)
			dx, dy := detailStep*tx, detailStep*ty
			fx, fy := float32(x), float32(y)
			d := float64(p.v[i] - 0.5*(p.at(fx+dx, fy+dy)+p.at(fx-dx, fy-dy)))
			sd2 := math.Max(1, float64(st.q11[i]-st.m11[i]*st.m11[i]))
			e += d * d / sd2
			n++
			if st.m3[i] < st.m11[i] {
				ec += d * d / sd2
				nc++
			}
		}
	}
	if n > 0 {
		detail = e / n
	}
	if nc > 0 {
		crest = ec / nc
	}
	return detail, crest
}

// measureFinger computes the cues of a presentation from its first and second frame
// (b may be nil: single-frame cues only).
func measureFinger(a, b *image.Gray) fingerCues {
	var sb *frameStats
	if b != nil {
		sb = newStats(b)
	}
	return measureStats(newStats(a), sb)
}

// measureStats is measureFinger on the frames' statistics.
func measureStats(sa, sb *frameStats) fingerCues {
	pa := sa.p
	mask := fingerMask(pa)
	var c fingerCues
	c.Texture, c.Soft, c.Ink, c.Area = textureCue(sa, mask)
	c.Detail, c.CrestDetail = detailCue(sa, mask)
	if sb == nil || sb.p.w != pa.w || sb.p.h != pa.h {
		return c
	}
	pb := sb.p
	c.Frozen = true
	for i := range pa.v {
		if pa.v[i] != pb.v[i] {
			c.Frozen = false
			break
		}
	}
	var sum, sum2, n float64
	for i, v := range pa.v {
		if mask[i] {
			sum += float64(v)
			sum2 += float64(v) * float64(v)
			n++
		}
	}
	if n < 400 {
		c.Change = -5
		return c
	}
	contrast := math.Sqrt(math.Max(1, sum2/n-(sum/n)*(sum/n)))
	ba, bb := sa.band(), sb.band()
	dx, dy, match := register(ba, bb, pa.w, pa.h, mask, 4)
	c.Match = match
	pbs := shifted(pb, dx, dy)
	d := plane{w: pa.w, h: pa.h, v: make([]float32, len(pa.v))}
	for i := range d.v {
		d.v[i] = pbs.v[i] - pa.v[i]
	}
	ld := boxMean(plane{w: d.w, h: d.h, v: boxMean(d, 1)}, 1) // ≈ Gaussian, σ 1.15
	// Exclude a margin the shift may have pulled in from outside.
	mg := 6
	var md, es float64
	var cnt float64
	for y := mg; y < pa.h-mg; y++ {
		for x := mg; x < pa.w-mg; x++ {
			i := y*pa.w + x
			if !mask[i] {
				continue
			}
			md += float64(ld[i])
			cnt++
		}
	}
	if cnt < 400 {
		c.Change = -5
		return c
	}
	md /= cnt
	var valley, ridge []float64
	for y := mg; y < pa.h-mg; y++ {
		for x := mg; x < pa.w-mg; x++ {
			i := y*pa.w + x
			if !mask[i] {
				continue
			}
			e := float64(ld[i]) - md
			es += e * e
			if ba[i] > 0.3*float32(contrast) {
				valley = append(valley, -float64(ld[i]))
			} else if ba[i] < -0.3*float32(contrast) {
				ridge = append(ridge, -float64(ld[i]))
			}
		}
	}
	c.Change = math.Log10(es/cnt/(contrast*contrast) + 1e-5)
	c.Darkening = -md / contrast
	if len(valley) > 100 && len(ridge) > 100 {
		sort.Float64s(valley)
		sort.Float64s(ridge)
		c.Spots = (valley[len(valley)*98/100] - valley[len(valley)/2]) / contrast
		c.ValleyFill = (valley[len(valley)/2] - ridge[len(ridge)/2]) / contrast
	}
	return c
}
