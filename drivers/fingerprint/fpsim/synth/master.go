package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Class is the pattern class of a finger (Henry's classes as SFinGe draws them).
type Class int

// Pattern classes. ClassRandom draws one with the natural frequencies (loops about two
// thirds, whorls about a quarter, arches the rest).
const (
	ClassRandom Class = iota
	Arch
	TentedArch
	LeftLoop
	RightLoop
	Whorl
)

var classNames = []string{"random", "arch", "tented-arch", "left-loop", "right-loop", "whorl"}

func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Point is a position in master pixels.
type Point struct{ X, Y float64 }

// Singular is a core or a delta of the orientation field.
type Singular struct {
	Point
	Delta bool
}

// Opts configure Generate. Zero values take the defaults.
type Opts struct {
	// Width and Height of the master in pixels at 500 ppi; default 400×480 (20×24 mm,
	// a whole fingertip). Impressions are cut from it.
	Width, Height int
	Class         Class
	// Iterations of the Gabor growth; default 12.
	Iterations int
}

// Master is one synthetic finger: its ridge pattern and the skin features that do not
// change between impressions (pores, texture). It is immutable once made and safe for
// concurrent use.
type Master struct {
	Seed     uint64
	Class    Class
	W, H     int
	Period   float64 // mean ridge period in pixels (at 500 ppi)
	Singular []Singular
	Pores    []Point

	// Ridge is the ridge profile, row-major W×H: about +1 on ridge crests, -1 in valleys.
	Ridge []float32
	// poreMap and sweat maps: sums of small Gaussians at the pores (σ 0.9, 1.6 and 3 px).
	poreMap, sweatSmall, sweatLarge []float32
	// texture is the skin's fixed micro-texture, about [-0.5, 0.5]; micro is its finest
	// scale (the micro-relief that breaks a dry ridge's contact into patches), [0, 1].
	texture, micro []float32
	// orient is the ridge orientation in radians [0, π), kept for tests.
	orient []float32

	blurMu sync.Mutex
	blurs  map[float64][]float32
}

// Natural class frequencies (per cent): left loop, right loop, whorl, arch, tented arch.
var classFreq = []struct {
	c Class
	p float64
}{{LeftLoop, 33.8}, {RightLoop, 31.7}, {Whorl, 27.9}, {Arch, 3.7}, {TentedArch, 2.9}}

// Generate makes the master finger for seed. Different seeds give different fingers
// (different singular points, ridge periods and minutiae); the same seed and options
// give the same finger on a given architecture.
func Generate(seed uint64, o *Opts) *Master {
	var opts Opts
	if o != nil {
		opts = *o
	}
	if opts.Width <= 0 {
		opts.Width = 400
	}
	if opts.Height <= 0 {
		opts.Height = 480
	}
	if opts.Iterations <= 0 {
		opts.Iterations = 16
	}
	r := rand.New(rand.NewPCG(seed, 0x66696e676572))
	cls := opts.Class
	if cls == ClassRandom {
		cls = drawClass(r)
	}
	W, H := opts.Width, opts.Height
	m := &Master{Seed: seed, Class: cls, W: W, H: H}
	m.Singular = singularPoints(r, cls, W, H)
	m.Period = 8.2 + 2.3*r.Float64()
	theta0 := (r.Float64() - 0.5) * 0.25
	archAmp := 0.5 + 0.5*r.Float64()

	orient := make([]float32, W*H)
	period := make([]float32, W*H)
	fseed := splitmix(seed ^ 0x70657269)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			fx, fy := float64(x), float64(y)
			var th float64
			if cls == Arch {
				th = archOrientation(fx, fy, W, H, archAmp)
			} else {
				th = theta0
				for _, s := range m.Singular {
					a := math.Atan2(fy-s.Y, fx-s.X)
					if s.Delta {
						th -= a / 2
					} else {
						th += a / 2
					}
				}
			}
			th = math.Mod(th, math.Pi)
			if th < 0 {
				th += math.Pi
			}
			orient[y*W+x] = float32(th)
			// Ridges are a little wider apart towards the flexion crease.
			t := m.Period * (1 + 0.07*fbm(fseed, fx, fy, 110)*2) * (1 + 0.06*fy/float64(H))
			period[y*W+x] = float32(t)
		}
	}
	m.orient = orient
	m.Ridge = grow(r, orient, period, W, H, opts.Iterations)
	m.placePores(r)
	m.texture = make([]float32, W*H)
	m.micro = make([]float32, W*H)
	tseed := splitmix(seed ^ 0x74657874)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			v := 0.6*fbm(tseed, float64(x), float64(y), 5) + 0.4*fbm(tseed^1, float64(x), float64(y), 14)
			m.texture[y*W+x] = float32(v)
			m.micro[y*W+x] = float32(valueNoise(tseed^2, float64(x)/2.2, float64(y)/2.2))
		}
	}
	return m
}

// drawClass draws a class with the natural frequencies.
func drawClass(r *rand.Rand) Class {
	u := r.Float64() * 100
	for _, f := range classFreq {
		if u < f.p {
			return f.c
		}
		u -= f.p
	}
	return classFreq[len(classFreq)-1].c
}

// singularPoints places cores and deltas for class cls, with jitter.
func singularPoints(r *rand.Rand, cls Class, W, H int) []Singular {
	w, h := float64(W), float64(H)
	cx := w/2 + (r.Float64()-0.5)*0.12*w
	cy := h*0.45 + (r.Float64()-0.5)*0.12*h
	j := func(s float64) float64 { return (r.Float64() - 0.5) * 2 * s }
	switch cls {
	case TentedArch:
		return []Singular{{Point: Point{cx, cy}}, {Point: Point{cx + j(0.02*w), cy + h*(0.12+0.08*r.Float64())}, Delta: true}}
	case LeftLoop, RightLoop:
		dx := w * (0.22 + 0.14*r.Float64())
		if cls == RightLoop {
			dx = -dx
		}
		return []Singular{{Point: Point{cx, cy}}, {Point: Point{cx + dx, cy + h*(0.22+0.14*r.Float64())}, Delta: true}}
	case Whorl:
		sep := h * (0.03 + 0.05*r.Float64())
		tilt := j(0.04 * w)
		return []Singular{
			{Point: Point{cx - tilt/2, cy - sep/2}}, {Point: Point{cx + tilt/2, cy + sep/2}},
			{Point: Point{cx - w*(0.28+0.1*r.Float64()), cy + h*(0.25+0.1*r.Float64())}, Delta: true},
			{Point: Point{cx + w*(0.28+0.1*r.Float64()), cy + h*(0.25+0.1*r.Float64())}, Delta: true},
		}
	}
	return nil
}

// archOrientation is a plain arch: ridges run across the finger and rise towards the
// middle, more so in the upper part.
func archOrientation(x, y float64, W, H int, amp float64) float64 {
	w, h := float64(W), float64(H)
	u := (x - w/2) / (0.3 * w)
	s := amp * math.Max(0, math.Min(1, (0.85*h-y)/(0.6*h)))
	slope := s * 2 * u * math.Exp(-u*u) * 0.9
	return math.Atan(slope)
}

// Gabor filter bank over orientation and period bins.
const (
	kRad    = 5
	kSize   = 2*kRad + 1
	nTheta  = 36
	tMin    = 6.5
	tStep   = 0.5
	nPeriod = 16
)

var bank = func() [][]float32 {
	b := make([][]float32, nTheta*nPeriod)
	for ti := 0; ti < nTheta; ti++ {
		th := (float64(ti) + 0.5) * math.Pi / nTheta
		c, s := math.Cos(th), math.Sin(th)
		for pi := 0; pi < nPeriod; pi++ {
			T := tMin + float64(pi)*tStep
			sa, sl := 0.30*T, 0.50*T // across and along the ridge
			k := make([]float32, kSize*kSize)
			var sum, wsum float64
			for dy := -kRad; dy <= kRad; dy++ {
				for dx := -kRad; dx <= kRad; dx++ {
					along := float64(dx)*c + float64(dy)*s
					across := -float64(dx)*s + float64(dy)*c
					g := math.Exp(-0.5 * (across*across/(sa*sa) + along*along/(sl*sl)))
					v := g * math.Cos(2*math.Pi*across/T)
					k[(dy+kRad)*kSize+dx+kRad] = float32(v)
					sum += v
					wsum += g
				}
			}
			// Zero DC: subtract the envelope times the mean so flat areas stay flat.
			for dy := -kRad; dy <= kRad; dy++ {
				for dx := -kRad; dx <= kRad; dx++ {
					along := float64(dx)*c + float64(dy)*s
					across := -float64(dx)*s + float64(dy)*c
					g := math.Exp(-0.5 * (across*across/(sa*sa) + along*along/(sl*sl)))
					k[(dy+kRad)*kSize+dx+kRad] -= float32(g * sum / wsum)
				}
			}
			b[ti*nPeriod+pi] = k
		}
	}
	return b
}()

// grow starts from random seeds and filters iteratively with the Gabor filter matching
// each pixel's orientation and period; each pass clips the result so the pattern
// saturates into ridges and grows outwards until it covers the area. Where growth
// fronts meet out of phase, ridges end or fork: the minutiae.
func grow(r *rand.Rand, orient, period []float32, W, H, iters int) []float32 {
	kidx := make([]uint16, W*H)
	for i := range kidx {
		ti := int(float64(orient[i]) / math.Pi * nTheta)
		ti = min(max(ti, 0), nTheta-1)
		pi := int(math.Round((float64(period[i]) - tMin) / tStep))
		pi = min(max(pi, 0), nPeriod-1)
		kidx[i] = uint16(ti*nPeriod + pi)
	}
	PW, PH := W+2*kRad, H+2*kRad
	cur := make([]float32, PW*PH)
	// Seeds: small spots of random sign, about one per 30×30 pixels, on faint noise.
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			cur[(y+kRad)*PW+x+kRad] = float32((r.Float64() - 0.5) * 0.05)
		}
	}
	nSeeds := W * H / 1600
	for i := 0; i < nSeeds; i++ {
		x, y := kRad+r.IntN(W), kRad+r.IntN(H)
		v := float32(1)
		if r.IntN(2) == 0 {
			v = -1
		}
		cur[y*PW+x] = v
	}
	next := make([]float32, W*H)
	workers := min(runtime.GOMAXPROCS(0), 4)
	for it := 0; it < iters; it++ {
		var wg sync.WaitGroup
		rows := (H + workers - 1) / workers
		for w := 0; w < workers; w++ {
			y0, y1 := w*rows, min(H, (w+1)*rows)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for y := y0; y < y1; y++ {
					for x := 0; x < W; x++ {
						k := bank[kidx[y*W+x]]
						var acc float32
						for dy := 0; dy < kSize; dy++ {
							row := cur[(y+dy)*PW+x : (y+dy)*PW+x+kSize]
							kr := k[dy*kSize : dy*kSize+kSize]
							for dx, kv := range kr {
								acc += kv * row[dx]
							}
						}
						next[y*W+x] = acc
					}
				}
			}()
		}
		wg.Wait()
		// Normalise by the robust amplitude and clip: ridges saturate.
		var s2 float64
		for _, v := range next {
			s2 += float64(v) * float64(v)
		}
		sd := math.Sqrt(s2/float64(len(next))) + 1e-12
		last := it == iters-1
		g := float32(1 / (0.6 * sd))
		if last {
			g = float32(1 / (1.0 * sd))
		}
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				v := next[y*W+x] * g
				if v > 1 {
					v = 1
				} else if v < -1 {
					v = -1
				}
				cur[(y+kRad)*PW+x+kRad] = v
			}
		}
	}
	out := make([]float32, W*H)
	for y := 0; y < H; y++ {
		copy(out[y*W:(y+1)*W], cur[(y+kRad)*PW+kRad:(y+kRad)*PW+kRad+W])
	}
	return out
}

// placePores puts sweat pores on ridge crests, about one every 0.25–0.5 mm along each
// ridge (Poisson-disc spacing), and renders the pore and sweat maps.
func (m *Master) placePores(r *rand.Rand) {
	W, H := m.W, m.H
	const cell = 4
	gw, gh := (W+cell-1)/cell, (H+cell-1)/cell
	grid := make([]int32, gw*gh)
	for i := range grid {
		grid[i] = -1
	}
	minD := 5.5 + 2*r.Float64()
	tries := W * H / 12
	for i := 0; i < tries; i++ {
		x, y := r.Float64()*float64(W), r.Float64()*float64(H)
		xi, yi := int(x), int(y)
		if m.Ridge[yi*W+xi] < 0.75 {
			continue
		}
		gx, gy := xi/cell, yi/cell
		ok := true
		for cy := max(0, gy-2); cy <= min(gh-1, gy+2) && ok; cy++ {
			for cx := max(0, gx-2); cx <= min(gw-1, gx+2); cx++ {
				if k := grid[cy*gw+cx]; k >= 0 {
					p := m.Pores[k]
					if (p.X-x)*(p.X-x)+(p.Y-y)*(p.Y-y) < minD*minD {
						ok = false
						break
					}
				}
			}
		}
		if !ok {
			continue
		}
		grid[gy*gw+gx] = int32(len(m.Pores))
		m.Pores = append(m.Pores, Point{x, y})
	}
	m.poreMap = splat(m.Pores, W, H, 0.9, nil)
	// Not every pore sweats as much: a fixed activity per pore.
	act := make([]float32, len(m.Pores))
	for i := range act {
		act[i] = float32(0.3 + 0.7*r.Float64())
	}
	m.sweatSmall = splat(m.Pores, W, H, 1.6, act)
	m.sweatLarge = splat(m.Pores, W, H, 3.0, act)
}

// splat sums Gaussians of width sigma (peak weight w[i], 1 when w is nil) at pts.
func splat(pts []Point, W, H int, sigma float64, w []float32) []float32 {
	out := make([]float32, W*H)
	rad := int(math.Ceil(3 * sigma))
	for i, p := range pts {
		a := float32(1)
		if w != nil {
			a = w[i]
		}
		x0, y0 := int(p.X), int(p.Y)
		for y := max(0, y0-rad); y <= min(H-1, y0+rad); y++ {
			for x := max(0, x0-rad); x <= min(W-1, x0+rad); x++ {
				dx, dy := float64(x)+0.5-p.X, float64(y)+0.5-p.Y
				out[y*W+x] += a * float32(math.Exp(-(dx*dx+dy*dy)/(2*sigma*sigma)))
			}
		}
	}
	for i, v := range out {
		out[i] = min(v, 1)
	}
	return out
}

// Orientation returns the ridge orientation at (x, y) in radians [0, π).
func (m *Master) Orientation(x, y int) float64 {
	x = min(max(x, 0), m.W-1)
	y = min(max(y, 0), m.H-1)
	return float64(m.orient[y*m.W+x])
}

// blurred returns the ridge profile smoothed by a Gaussian of width sigma (cached):
// what a cast of the finger keeps of it.
func (m *Master) blurred(sigma float64) []float32 {
	if sigma < 0.05 {
		return m.Ridge
	}
	key := math.Round(sigma*20) / 20
	m.blurMu.Lock()
	defer m.blurMu.Unlock()
	if b, ok := m.blurs[key]; ok {
		return b
	}
	if m.blurs == nil {
		m.blurs = map[float64][]float32{}
	}
	b := gaussBlur(m.Ridge, m.W, m.H, key)
	m.blurs[key] = b
	return b
}

// gaussBlur returns src blurred by a separable Gaussian.
func gaussBlur(src []float32, W, H int, sigma float64) []float32 {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*rad+1)
	var sum float32
	for i := -rad; i <= rad; i++ {
		k[i+rad] = float32(math.Exp(-float64(i*i) / (2 * sigma * sigma)))
		sum += k[i+rad]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, W*H)
	out := make([]float32, W*H)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			var a float32
			for i := -rad; i <= rad; i++ {
				xx := min(max(x+i, 0), W-1)
				a += k[i+rad] * src[y*W+xx]
			}
			tmp[y*W+x] = a
		}
	}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			var a float32
			for i := -rad; i <= rad; i++ {
				yy := min(max(y+i, 0), H-1)
				a += k[i+rad] * tmp[yy*W+x]
			}
			out[y*W+x] = a
		}
	}
	return out
}
