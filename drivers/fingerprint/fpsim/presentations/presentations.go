package presentations

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/synth"
)

// Species of finger presentation (ISO/IEC 30107 terms).
type Species int

const (
	BonaFide Species = iota // a live finger
	Mould                   // a cast of another person's finger
	Replay                  // an earlier capture replayed to the host
)

var speciesNames = []string{"bona-fide", "mould", "replay"}

func (s Species) String() string {
	if s >= 0 && int(s) < len(speciesNames) {
		return speciesNames[s]
	}
	return fmt.Sprintf("Species(%d)", int(s))
}

// IsAttack reports whether s is an attack species.
func (s Species) IsAttack() bool { return s != BonaFide }

// Default rendered size: the sensor window (at most 256×288 at 500 ppi) plus margin.
const (
	DefaultWidth  = 320
	DefaultHeight = 360
)

// Timing is when the module takes each image of a placement, counted from the moment
// the finger came down.
type Timing struct {
	// Times of frames 0, 1, ... len(Times)-1.
	Times []time.Duration
	// Interval between later frames (default 2 s).
	Interval time.Duration
}

// FrameTime is the time of frame k.
func (t Timing) FrameTime(k int) time.Duration {
	iv := t.Interval
	if iv <= 0 {
		iv = 2 * time.Second
	}
	if k < len(t.Times) {
		return t.Times[k]
	}
	var last time.Duration
	n := len(t.Times)
	if n > 0 {
		last = t.Times[n-1]
	} else {
		return time.Duration(k) * iv
	}
	return last + time.Duration(k-n+1)*iv
}

// wire is the time of n bytes at baud (8N1: ten bit times per byte).
func wire(n, baud int) time.Duration {
	return time.Duration(int64(n) * 10 * int64(time.Second) / int64(baud))
}

// R30xTiming is the image schedule of an R30x/R50x module polled by the r30x driver: the
// GenImg that finds the finger (frame 0), the capture's GenImg right after it (frame 1),
// then one frame per further capture, each after a GenImg and the full UpImage of the
// previous one. genImg is the module's GenImg time (300 ms on an R307, 150 ms on an R503);
// w×h the sensor; packet the data packet size.
func R30xTiming(w, h, packet, baud int, genImg time.Duration) Timing {
	if packet <= 0 {
		packet = 128
	}
	size := w * h / 2
	packets := (size + packet - 1) / packet
	upload := wire(12+size+11*packets, baud)
	return Timing{Times: []time.Duration{0, genImg}, Interval: genImg + upload}
}

// GT521Timing is the image schedule of a GT-521Fxx module: CaptureFinger takes frame 0
// when the finger is found; each further capture follows the 52,116-byte GetImage upload
// and another CaptureFinger.
func GT521Timing(baud int, capture time.Duration) Timing {
	upload := wire(12+52116+6, baud)
	return Timing{Times: []time.Duration{capture}, Interval: capture + upload}
}

// seedFor derives a sub-seed.
func seedFor(seed uint64, what uint64, i int) uint64 {
	return splitmix(seed ^ splitmix(what^uint64(i)*0x9e3779b97f4a7c15))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// masters caches a few synth masters (they take a few hundred milliseconds to make).
type masters struct {
	mu    sync.Mutex
	order []uint64
	m     map[uint64]*synth.Master
}

func (c *masters) get(seed uint64, o *synth.Opts) *synth.Master {
	c.mu.Lock()
	if m, ok := c.m[seed]; ok {
		c.mu.Unlock()
		return m
	}
	c.mu.Unlock()
	m := synth.Generate(seed, o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[uint64]*synth.Master{}
	}
	if _, ok := c.m[seed]; !ok {
		c.m[seed] = m
		c.order = append(c.order, seed)
		if len(c.order) > 8 {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
	}
	return c.m[seed]
}

func size(w, h int) (int, int) {
	if w <= 0 {
		w = DefaultWidth
	}
	if h <= 0 {
		h = DefaultHeight
	}
	return w, h
}

// Live is a stream of bona fide presentations: placement p shows finger p/PerFinger,
// each finger a distinct synthetic finger of its own person.
type Live struct {
	Seed      uint64
	PerFinger int // placements per finger (default 1)
	Timing    Timing
	// Width and Height of the rendered images at 500 ppi (default 320×360).
	Width, Height int
	// Synth configures the synthetic fingers (nil: synth's defaults).
	Synth *synth.Opts

	cache masters
}

var _ fpsim.Source = (*Live)(nil)

// Finger is the index of the finger shown at placement p.
func (l *Live) Finger(p int) int {
	if l.PerFinger > 1 {
		return p / l.PerFinger
	}
	return p
}

// person holds what belongs to the person rather than to one placement.
type person struct {
	sweat      float64 // pore perspiration rate, 1/s
	moistRate  float64 // moisture rise, 1/s
	skin       float64 // moisture offset of the skin type
	texture    float64 // skin texture scale
	creepP     float64 // pressure creep
	creepD     float64 // distortion creep, pixels
	creepT     float64 // creep time constant, seconds
	tremor     float64 // hand tremor, pixels per frame
	poreVis    float64
	fingerSeed uint64
}

func (l *Live) person(f int) person {
	r := rand.New(rand.NewPCG(seedFor(l.Seed, 0x706572736f6e, f), 1))
	var p person
	p.fingerSeed = seedFor(l.Seed, 0x66696e676572, f)
	// Log-normal perspiration, median 0.06/s; one finger in ten is cold or dry and
	// barely sweats at all.
	p.sweat = 0.06 * math.Exp(0.65*r.NormFloat64())
	if r.Float64() < 0.1 {
		p.sweat *= 0.1
	}
	p.moistRate = p.sweat * (0.1 + 0.6*r.Float64())
	p.skin = 0.12 * r.NormFloat64()
	p.texture = 0.6 + 0.8*r.Float64()
	p.creepP = -0.06 + 0.21*r.Float64() // most press a little harder, some relax
	p.creepD = 0.2 + 1.3*r.Float64()
	p.creepT = 0.8 + 2*r.Float64()
	p.tremor = 0.15 + 0.5*r.Float64()
	p.poreVis = 0.5 + 0.8*r.Float64()
	return p
}

// Frame implements fpsim.Source.
func (l *Live) Frame(placement, frame int) (*image.Gray, error) {
	if placement < 0 || frame < 0 {
		return nil, fmt.Errorf("presentations: placement %d frame %d", placement, frame)
	}
	f := l.Finger(placement)
	per := l.person(f)
	m := l.cache.get(per.fingerSeed, l.Synth)
	imp := l.impression(per, placement, frame)
	w, h := size(l.Width, l.Height)
	return m.Render(imp, w, h), nil
}

// impression is the state of the finger at frame k of placement p.
func (l *Live) impression(per person, p, k int) synth.Impression {
	r := rand.New(rand.NewPCG(seedFor(l.Seed, 0x706c6163, p), 2))
	imp := synth.NaturalImpression(r)
	imp.Moisture = clamp01(imp.Moisture + per.skin)
	imp.Texture = clamp01(imp.Texture * per.texture)
	imp.Pores = clamp01(imp.Pores * per.poreVis)
	tau := l.Timing.FrameTime(k).Seconds()
	creep := 1 - math.Exp(-tau/per.creepT)
	imp.Moisture = clamp01(imp.Moisture + per.moistRate*tau)
	imp.Sweat = clamp01(1 - math.Exp(-per.sweat*tau))
	imp.Pressure = clamp01(imp.Pressure + per.creepP*creep)
	imp.Distortion += per.creepD * creep
	// Tremor: a random walk of the hand, fresh per frame.
	tr := rand.New(rand.NewPCG(seedFor(l.Seed, 0x7472656d, p), uint64(k)))
	if k > 0 {
		imp.DX += per.tremor * tr.NormFloat64() * math.Sqrt(float64(k))
		imp.DY += per.tremor * tr.NormFloat64() * math.Sqrt(float64(k))
		imp.Rotation += 0.002 * tr.NormFloat64()
	}
	imp.NoiseSeed = seedFor(imp.NoiseSeed, 0x6e6f6973, k)
	return imp
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// Describe summarises what placement p presents (for evaluation reports): the person's
// perspiration and the placement's starting moisture and pressure. Nothing in it is
// biometric.
func (l *Live) Describe(p int) string {
	per := l.person(l.Finger(p))
	imp := l.impression(per, p, 0)
	return fmt.Sprintf("sweat %.3f/s moisture %.2f+%.3f/s pressure %.2f%+.2f texture %.2f", per.sweat, imp.Moisture, per.moistRate, imp.Pressure, per.creepP, imp.Texture)
}
