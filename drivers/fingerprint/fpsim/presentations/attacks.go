package presentations

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/synth"
)

// Material of a cast.
type Material int

const (
	Silicone Material = iota
	Gelatine
	Latex
	WoodGlue
)

var materialNames = []string{"silicone", "gelatine", "latex", "wood-glue"}

func (m Material) String() string {
	if m >= 0 && int(m) < len(materialNames) {
		return materialNames[m]
	}
	return fmt.Sprintf("Material(%d)", int(m))
}

// MouldSource is a stream of mould attacks: placement p presents a cast of a distinct
// victim's finger, of a material drawn from the seed.
type MouldSource struct {
	Seed   uint64
	Timing Timing
	// Width and Height of the rendered images (default 320×360).
	Width, Height int
	// Synth configures the synthetic fingers (nil: synth's defaults).
	Synth *synth.Opts

	cache masters
}

var _ fpsim.Source = (*MouldSource)(nil)

// cast is what stays fixed for one mould presentation.
type cast struct {
	material   Material
	victimSeed uint64
	moisture   float64 // at the start of the placement
	dryRate    float64 // moisture loss per second (gelatine, a breathed-on mould); negative: gain
	smooth     float64
	texture    float64
	pores      float64
	contrast   float64
	spots      []synth.Spot
	creepP     float64
	creepD     float64
	creepT     float64
	tremor     float64
}

// Cast describes the cast shown at placement p (for tests and reports).
func (s *MouldSource) Cast(p int) (Material, float64) {
	c := s.cast(p)
	return c.material, c.moisture
}

// Describe summarises the cast at placement p (for evaluation reports).
func (s *MouldSource) Describe(p int) string {
	c := s.cast(p)
	return fmt.Sprintf("%s moisture %.2f%+.3f/s pressure%+.2f texture %.2f pores %.2f", c.material, c.moisture, -c.dryRate, c.creepP, c.texture, c.pores)
}

func (s *MouldSource) cast(p int) cast {
	r := rand.New(rand.NewPCG(seedFor(s.Seed, 0x63617374, p), 3))
	var c cast
	c.material = Material(r.IntN(4))
	c.victimSeed = seedFor(s.Seed, 0x76696374, p)
	switch c.material {
	case Silicone:
		c.moisture = 0.15 + 0.3*r.Float64()
		c.contrast = 0.45 + 0.45*r.Float64()
	case Gelatine:
		c.moisture = 0.45 + 0.35*r.Float64()
		c.dryRate = 0.004 + 0.03*r.Float64()
		c.contrast = 0.6 + 0.35*r.Float64()
	case Latex:
		c.moisture = 0.25 + 0.3*r.Float64()
		c.contrast = 0.5 + 0.4*r.Float64()
	case WoodGlue:
		c.moisture = 0.3 + 0.3*r.Float64()
		c.contrast = 0.55 + 0.4*r.Float64()
	}
	// Some attackers breathe on the cast first: a thin film that evaporates.
	if r.Float64() < 0.3 {
		c.moisture = clamp01(c.moisture + 0.15 + 0.15*r.Float64())
		c.dryRate += 0.01 + 0.03*r.Float64()
	}
	// Half the gelatine casts conform instead: the soft gel flattens under the
	// attacker's finger and its surface water spreads over the platen, so the image
	// darkens over the seconds like a sweating finger's, but evenly.
	conform := c.material == Gelatine && r.Float64() < 0.5
	c.smooth = 0.5 + 0.9*r.Float64()
	c.texture = 0.15 * r.Float64()
	if r.Float64() < 0.3 {
		c.pores = 0.25 * r.Float64() // a fine cast keeps some pores
	}
	for i, n := 0, r.IntN(7); i < n; i++ {
		c.spots = append(c.spots, synth.Spot{X: 60 + 280*r.Float64(), Y: 80 + 320*r.Float64(), R: 1.5 + 3.5*r.Float64()})
	}
	for i, n := 0, r.IntN(3); i < n; i++ {
		c.spots = append(c.spots, synth.Spot{X: 60 + 280*r.Float64(), Y: 80 + 320*r.Float64(), R: 1 + 2.5*r.Float64(), Dark: true})
	}
	// The attacker's own finger behind the cast creeps a little; the cast is elastic.
	c.creepP = -0.05 + 0.17*r.Float64()
	if conform {
		c.dryRate = -(0.005 + 0.025*r.Float64())
		c.creepP = 0.05 + 0.1*r.Float64()
	}
	c.creepD = 0.8 * r.Float64()
	c.creepT = 0.8 + 2*r.Float64()
	c.tremor = 0.15 + 0.5*r.Float64()
	return c
}

// Frame implements fpsim.Source.
func (s *MouldSource) Frame(placement, frame int) (*image.Gray, error) {
	if placement < 0 || frame < 0 {
		return nil, fmt.Errorf("presentations: placement %d frame %d", placement, frame)
	}
	c := s.cast(placement)
	m := s.cache.get(c.victimSeed, s.Synth)
	r := rand.New(rand.NewPCG(seedFor(s.Seed, 0x706c6163, placement), 4))
	imp := synth.NaturalImpression(r)
	tau := s.Timing.FrameTime(frame).Seconds()
	creep := 1 - math.Exp(-tau/c.creepT)
	imp.Moisture = clamp01(c.moisture - c.dryRate*tau)
	imp.Texture = c.texture
	imp.Pores = c.pores
	imp.Sweat = 0
	imp.Smooth = c.smooth
	imp.Contrast = c.contrast
	imp.Spots = c.spots
	imp.Pressure = clamp01(imp.Pressure + c.creepP*creep)
	imp.Distortion += c.creepD * creep
	tr := rand.New(rand.NewPCG(seedFor(s.Seed, 0x7472656d, placement), uint64(frame)))
	if frame > 0 {
		imp.DX += c.tremor * tr.NormFloat64() * math.Sqrt(float64(frame))
		imp.DY += c.tremor * tr.NormFloat64() * math.Sqrt(float64(frame))
		imp.Rotation += 0.002 * tr.NormFloat64()
	}
	imp.NoiseSeed = seedFor(imp.NoiseSeed, 0x6e6f6973, frame)
	w, h := size(s.Width, s.Height)
	return m.Render(imp, w, h), nil
}

// ReplayKind is how an earlier capture is replayed.
type ReplayKind int

const (
	// ReplayMixed draws one of the kinds below per placement.
	ReplayMixed ReplayKind = iota
	// ReplayExact: the recorded frames of an earlier placement, byte for byte.
	ReplayExact
	// ReplayStatic: the earlier captured frame for every image the host asks for.
	ReplayStatic
	// ReplayNear: each recorded frame shifted, cropped, re-encoded and re-noised.
	ReplayNear
	// ReplayNearStatic: the captured frame, altered as ReplayNear, fresh noise per frame.
	ReplayNearStatic
)

var replayNames = []string{"mixed", "exact", "static", "near", "near-static"}

func (k ReplayKind) String() string {
	if k >= 0 && int(k) < len(replayNames) {
		return replayNames[k]
	}
	return fmt.Sprintf("ReplayKind(%d)", int(k))
}

// ReplaySource replays images of Of, an earlier stream of presentations at the station:
// placement p replays Of's placement Victim(p).
type ReplaySource struct {
	Of     fpsim.Source
	Victim func(p int) int // default: the same placement number
	Kind   ReplayKind
	Seed   uint64
	// Captured is the frame index of a placement's first uploaded image (1 on R30x
	// modules polled by GenImg, 0 on a GT-521).
	Captured int
}

var _ fpsim.Source = (*ReplaySource)(nil)

// PPI implements fpsim.PPIer: the replayed images keep Of's resolution.
func (s *ReplaySource) PPI() int { return fpsim.SourcePPI(s.Of) }

// KindAt is the kind of replay at placement p.
func (s *ReplaySource) KindAt(p int) ReplayKind {
	if s.Kind != ReplayMixed {
		return s.Kind
	}
	r := rand.New(rand.NewPCG(seedFor(s.Seed, 0x6b696e64, p), 5))
	return ReplayKind(1 + r.IntN(4))
}

// Frame implements fpsim.Source.
func (s *ReplaySource) Frame(placement, frame int) (*image.Gray, error) {
	if s.Of == nil {
		return nil, fmt.Errorf("presentations: replay of nothing")
	}
	v := placement
	if s.Victim != nil {
		v = s.Victim(placement)
	}
	kind := s.KindAt(placement)
	src := frame
	if kind == ReplayStatic || kind == ReplayNearStatic {
		src = s.Captured
	}
	img, err := s.Of.Frame(v, src)
	if err != nil {
		return nil, err
	}
	if kind == ReplayExact || kind == ReplayStatic {
		return img, nil
	}
	return alter(img, seedFor(s.Seed, 0x616c74, placement), frame), nil
}

// alter makes a near copy of img: a shift of up to 3 pixels, a crop of up to 4 pixels
// per side rescaled back to the full size, another tone curve, a little blur, coarser
// quantisation and fresh noise (per frame; everything else per placement).
func alter(img *image.Gray, seed uint64, frame int) *image.Gray {
	r := rand.New(rand.NewPCG(seed, 6))
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dx, dy := (r.Float64()*2-1)*3, (r.Float64()*2-1)*3
	cl, cr := r.Float64()*4, r.Float64()*4
	ct, cb := r.Float64()*4, r.Float64()*4
	if r.IntN(2) == 0 { // half of them only shift
		cl, cr, ct, cb = 0, 0, 0, 0
	}
	gamma := 0.85 + 0.35*r.Float64()
	gain := 0.9 + 0.2*r.Float64()
	offset := (r.Float64()*2 - 1) * 12
	blur := 0.8 * r.Float64()
	levels := []float64{16, 32, 64, 256}[r.IntN(4)]
	sigma := 1 + 4*r.Float64()
	nr := rand.New(rand.NewPCG(seed, uint64(frame)+7))
	sx := (float64(w) - cl - cr) / float64(w)
	sy := (float64(h) - ct - cb) / float64(h)
	src := img
	if blur > 0.3 {
		src = blurGray(img, blur)
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx := cl + (float64(x)+0.5)*sx - 0.5 - dx
			fy := ct + (float64(y)+0.5)*sy - 0.5 - dy
			v := sampleGray(src, fx, fy) / 255
			v = math.Pow(math.Max(v, 0), gamma)*255*gain + offset
			v = math.Round(v/256*levels) * 256 / levels
			v += sigma * nr.NormFloat64()
			out.Pix[y*out.Stride+x] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return out
}

func sampleGray(g *image.Gray, x, y float64) float64 {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(xx, yy int) float64 {
		if xx < 0 || yy < 0 || xx >= w || yy >= h {
			return 255
		}
		return float64(g.Pix[yy*g.Stride+xx])
	}
	a, bb, c, d := at(x0, y0), at(x0+1, y0), at(x0, y0+1), at(x0+1, y0+1)
	return a + (bb-a)*fx + (c-a)*fy + (a-bb-c+d)*fx*fy
}

func blurGray(g *image.Gray, sigma float64) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	rad := int(math.Ceil(2.5 * sigma))
	k := make([]float64, 2*rad+1)
	var sum float64
	for i := -rad; i <= rad; i++ {
		k[i+rad] = math.Exp(-float64(i*i) / (2 * sigma * sigma))
		sum += k[i+rad]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a float64
			for i := -rad; i <= rad; i++ {
				xx := min(max(x+i, 0), w-1)
				a += k[i+rad] * float64(g.Pix[y*g.Stride+xx])
			}
			tmp[y*w+x] = a
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a float64
			for i := -rad; i <= rad; i++ {
				yy := min(max(y+i, 0), h-1)
				a += k[i+rad] * tmp[yy*w+x]
			}
			out.Pix[y*out.Stride+x] = uint8(math.Round(a))
		}
	}
	return out
}
