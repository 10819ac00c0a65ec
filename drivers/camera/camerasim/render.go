package camerasim

import (
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Presentation holds what the seed drew for one presentation. It describes the scene,
// not the person: nothing in it is biometric. Lengths are in metres.
type Presentation struct {
	Species  Species
	Seed     uint64
	Portrait string // name of the embedded portrait, "" when Opts.Portrait was given

	Reflectance float64    // skin albedo factor (live, injected) or paper white (print)
	Distance    float64    // camera to face (or to the print or screen)
	Ambient     float64    // ambient irradiance, relative units
	Tint        [3]float64 // ambient colour
	LED         float64    // LED irradiance at the face when fully on, same units as Ambient
	LEDAbove    float64    // LED mounted this far above the camera
	LEDSide     float64    // and this far to the side
	Wall        float64    // distance to the background wall
	Specular    float64    // skin specular weight
	ReadNoise   float64    // sensor read noise, fraction of full scale
	ShotNoise   float64    // shot-noise variance per unit signal
	Defocus     float64    // blur sigma in pixels at 640 pixels of width
	Gain        float64    // exposure gain, fixed for the presentation

	Tilt [2]float64 // print or screen plane tilt about the y and x axes, radians

	HalftonePeriod float64 // print: screen period in pixels at 640 wide
	InkFloor       float64 // print: reflectance of full ink
	PaperTexture   float64 // print: amplitude of the paper's texture

	PixelPitch float64 // screen: sub-pixel triad pitch in camera pixels at 640 wide
	ScreenRoll float64 // screen: grid angle to the sensor rows, radians
	GridDepth  float64 // screen: visibility of the grid (focus)
	Luminance  float64 // screen: emitted white, relative to Ambient's units
	Glass      float64 // screen: diffuse reflectance of the glass
	Glare      float64 // screen: strength of the LED's mirror glare
	GlareX     float64 // screen: glare centre, fraction of width
	GlareY     float64 // screen: glare centre, fraction of height
	GlareSize  float64 // screen: glare radius, fraction of height
	BandAmp    float64 // screen: refresh band depth
	BandFreq   float64 // screen: bands per frame height
	BandSpeed  float64 // screen: band drift, frame heights per second

	RecordedLED    int     // injected: 0 off, 1 on, 2 toggling on the recording's own timing
	RecordedPeriod float64 // injected: mean dwell of the recording's toggles, seconds

	motion [3]motion // live (or recorded) motion, hand motion, spare
}

// motion is a sum of two sinusoids per axis, in fractions of the face height, plus roll
// and yaw in radians and a breathing scale.
type motion struct {
	amp, freq, phase [2][2]float64 // [axis x,y][component]
	roll, rollF      float64
	yaw, yawF        float64
	breath, breathF  float64
	ph               [3]float64
}

func (m *motion) at(t float64) (dx, dy, roll, yaw, scale float64) {
	for c := 0; c < 2; c++ {
		dx += m.amp[0][c] * math.Sin(2*math.Pi*m.freq[0][c]*t+m.phase[0][c])
		dy += m.amp[1][c] * math.Sin(2*math.Pi*m.freq[1][c]*t+m.phase[1][c])
	}
	roll = m.roll * math.Sin(2*math.Pi*m.rollF*t+m.ph[0])
	yaw = m.yaw * math.Sin(2*math.Pi*m.yawF*t+m.ph[1])
	scale = 1 + m.breath*math.Sin(2*math.Pi*m.breathF*t+m.ph[2])
	return
}

func uni(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func drawMotion(r *rand.Rand, ampLo, ampHi, fLo, fHi, roll, yaw, breath float64) motion {
	var m motion
	for a := 0; a < 2; a++ {
		for c := 0; c < 2; c++ {
			m.amp[a][c] = uni(r, ampLo, ampHi) / float64(c+1)
			m.freq[a][c] = uni(r, fLo, fHi) * float64(c+1)
			m.phase[a][c] = uni(r, 0, 2*math.Pi)
		}
	}
	m.roll, m.rollF = uni(r, 0.3, 1)*roll, uni(r, fLo, fHi)
	m.yaw, m.yawF = uni(r, 0.3, 1)*yaw, uni(r, fLo, fHi)
	m.breath, m.breathF = uni(r, 0.5, 1)*breath, uni(r, 0.2, 0.35)
	for i := range m.ph {
		m.ph[i] = uni(r, 0, 2*math.Pi)
	}
	return m
}

// drawPresentation draws the natural variation for seed. The common part (environment,
// subject) uses one stream, the species' own artefact another, so the same seed gives
// the same room and subject under every species.
func drawPresentation(sp Species, seed uint64, nominal bool) Presentation {
	r := rand.New(rand.NewPCG(seed, 0x63616d657261))
	a := rand.New(rand.NewPCG(seed, 0x61747461636b+uint64(sp)))
	p := Presentation{Species: sp, Seed: seed}
	p.Reflectance = uni(r, 0.75, 1.25)
	p.Distance = uni(r, 0.40, 0.75)
	p.Ambient = uni(r, 0.30, 1.0)
	for i := range p.Tint {
		p.Tint[i] = uni(r, 0.92, 1.08)
	}
	// LED irradiance: source strength over distance squared, relative to 0.5 m.
	p.LED = uni(r, 0.30, 0.85) * (0.5 * 0.5) / (p.Distance * p.Distance)
	p.LEDAbove = uni(r, 0.03, 0.12)
	p.LEDSide = uni(r, -0.04, 0.04)
	p.Wall = p.Distance + uni(r, 0.6, 2.0)
	p.Specular = uni(r, 0.03, 0.12)
	p.ReadNoise = uni(r, 0.002, 0.010)
	p.ShotNoise = uni(r, 0.0005, 0.003)
	p.Defocus = uni(r, 0.3, 0.9)
	p.motion[0] = drawMotion(r, 0.002, 0.008, 0.2, 1.2, 0.006, 0.010, 0.003)
	exposureJitter := uni(r, 0.85, 1.15)

	switch sp {
	case Print:
		p.Reflectance = uni(a, 0.70, 1.15) // paper white and ink, overlapping skin's range
		p.Tilt = [2]float64{uni(a, -0.18, 0.18), uni(a, -0.18, 0.18)}
		p.HalftonePeriod = uni(a, 1.1, 3.2)
		p.InkFloor = uni(a, 0.03, 0.08)
		p.PaperTexture = uni(a, 0.01, 0.04)
		p.Specular = uni(a, 0, 0.02) // broad sheen of the paper, no lobe at the eyes
		p.motion[1] = drawMotion(a, 0.001, 0.006, 2.5, 8, 0.006, 0, 0.002)
	case Screen:
		p.Tilt = [2]float64{uni(a, -0.15, 0.15), uni(a, -0.15, 0.15)}
		p.PixelPitch = uni(a, 0.55, 2.6)
		p.ScreenRoll = uni(a, -0.12, 0.12)
		p.GridDepth = uni(a, 0.25, 0.8)
		p.Luminance = uni(a, 0.5, 1.3) * p.Ambient * 1.5
		p.Glass = uni(a, 0.01, 0.05)
		p.Glare = uni(a, 0.05, 0.6)
		p.GlareX = uni(a, 0.25, 0.75)
		p.GlareY = uni(a, 0.1, 0.5)
		p.GlareSize = uni(a, 0.04, 0.15)
		p.BandAmp = uni(a, 0.01, 0.10)
		p.BandFreq = uni(a, 0.4, 3)
		p.BandSpeed = uni(a, -2, 2)
		p.motion[1] = drawMotion(a, 0.001, 0.006, 2.5, 8, 0.006, 0, 0.002)
		p.motion[2] = drawMotion(a, 0.002, 0.008, 0.2, 1.2, 0.006, 0.010, 0.003) // the recorded person
	case Injected:
		p.RecordedLED = a.IntN(3)
		p.RecordedPeriod = uni(a, 0.12, 0.6)
		p.motion[2] = drawMotion(a, 0.002, 0.008, 0.2, 1.2, 0.006, 0.010, 0.003)
	}
	if nominal {
		q := Presentation{Species: sp, Seed: seed, Reflectance: 1, Distance: 0.55, Ambient: 0.6, Tint: [3]float64{1, 1, 1},
			LED: 0.5 * 0.25 / (0.55 * 0.55), LEDAbove: 0.06, Wall: 1.8, Specular: 0.06, ReadNoise: 0.003, ShotNoise: 0.001,
			Defocus: 0.4, Tilt: [2]float64{}, HalftonePeriod: 2, InkFloor: 0.05, PaperTexture: 0.02,
			PixelPitch: 1.4, GridDepth: 0.5, Luminance: 0.9, Glass: 0.03, Glare: 0.3, GlareX: 0.5, GlareY: 0.25,
			GlareSize: 0.08, BandAmp: 0.04, BandFreq: 1, BandSpeed: 1, RecordedLED: 0, RecordedPeriod: 0.3}
		if sp == Print {
			q.Reflectance, q.Specular = 0.9, 0.01
		}
		p = q
		exposureJitter = 1
	}
	p.Gain = exposureJitter
	return p
}

// recordedLevel is the LED level baked into injected frames at scene time t.
func (p *Presentation) recordedLevel(t float64) float64 {
	switch p.RecordedLED {
	case 1:
		return 1
	case 2:
		// Toggles with dwell times drawn from the recording's own sequence.
		k := int64(math.Floor(t / p.RecordedPeriod))
		h := splitmix(p.Seed ^ uint64(k)*0x9e3779b97f4a7c15)
		return float64(h & 1)
	}
	return 0
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// base is a portrait prepared for rendering; it does not depend on the presentation, so
// embedded portraits are prepared once per process.
type base struct {
	w, h   int
	alb    []float32 // linear RGB albedo, 3 per pixel
	geo    Geometry  // in portrait pixels
	faceMu float64   // mean linear luma of the face region
	// Smoothed colours along each border, used beyond the portrait's edges so the
	// background continues without streaks: left/right per row, top/bottom per column.
	edgeL, edgeR, edgeT, edgeB [][3]float32
}

// scene is a prepared portrait under one presentation.
type scene struct {
	*base
	p       Presentation
	tanTilt [2]float64
}

func newScene(b *base, p Presentation) *scene {
	return &scene{base: b, p: p, tanTilt: [2]float64{math.Tan(p.Tilt[0]), math.Tan(p.Tilt[1])}}
}

var srgbToLinear = func() (t [256]float32) {
	for i := range t {
		c := float64(i) / 255
		if c <= 0.04045 {
			t[i] = float32(c / 12.92)
		} else {
			t[i] = float32(math.Pow((c+0.055)/1.055, 2.4))
		}
	}
	return
}()

var linearToSRGB = func() (t [4097]uint8) {
	for i := range t {
		c := float64(i) / 4096
		var v float64
		if c <= 0.0031308 {
			v = 12.92 * c
		} else {
			v = 1.055*math.Pow(c, 1/2.4) - 0.055
		}
		t[i] = uint8(math.Round(255 * max(0, min(1, v))))
	}
	return
}()

func newBase(img image.Image, g Geometry) *base {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	w, h := b.Dx(), b.Dy()
	sc := &base{w: w, h: h, alb: make([]float32, 3*w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := rgba.Pix[y*rgba.Stride+4*x:]
			i := 3 * (y*w + x)
			sc.alb[i], sc.alb[i+1], sc.alb[i+2] = srgbToLinear[s[0]], srgbToLinear[s[1]], srgbToLinear[s[2]]
		}
	}
	sc.edgeL, sc.edgeR = make([][3]float32, h), make([][3]float32, h)
	sc.edgeT, sc.edgeB = make([][3]float32, w), make([][3]float32, w)
	const band, win = 12, 24
	for y := 0; y < h; y++ {
		for yy := max(0, y-win); yy <= min(h-1, y+win); yy++ {
			for x := 0; x < min(band, w); x++ {
				for k := 0; k < 3; k++ {
					sc.edgeL[y][k] += sc.alb[3*(yy*w+x)+k]
					sc.edgeR[y][k] += sc.alb[3*(yy*w+w-1-x)+k]
				}
			}
		}
		n := float32((min(h-1, y+win) - max(0, y-win) + 1) * min(band, w))
		for k := 0; k < 3; k++ {
			sc.edgeL[y][k] /= n
			sc.edgeR[y][k] /= n
		}
	}
	for x := 0; x < w; x++ {
		for xx := max(0, x-win); xx <= min(w-1, x+win); xx++ {
			for y := 0; y < min(band, h); y++ {
				for k := 0; k < 3; k++ {
					sc.edgeT[x][k] += sc.alb[3*(y*w+xx)+k]
					sc.edgeB[x][k] += sc.alb[3*((h-1-y)*w+xx)+k]
				}
			}
		}
		n := float32((min(w-1, x+win) - max(0, x-win) + 1) * min(band, h))
		for k := 0; k < 3; k++ {
			sc.edgeT[x][k] /= n
			sc.edgeB[x][k] /= n
		}
	}
	fw, fh := float64(w), float64(h)
	sc.geo = Geometry{CX: g.CX * fw, CY: g.CY * fh, RX: g.RX * fw, RY: g.RY * fh, LeftEyeX: g.LeftEyeX * fw, RightEyeX: g.RightEyeX * fw, EyeY: g.EyeY * fh}
	// Mean luma of the inner face, for auto exposure.
	var sum, n float64
	for y := int(sc.geo.CY - 0.6*sc.geo.RY); y < int(sc.geo.CY+0.6*sc.geo.RY); y++ {
		for x := int(sc.geo.CX - 0.6*sc.geo.RX); x < int(sc.geo.CX+0.6*sc.geo.RX); x++ {
			if x < 0 || y < 0 || x >= w || y >= h {
				continue
			}
			i := 3 * (y*w + x)
			sum += 0.2126*float64(sc.alb[i]) + 0.7152*float64(sc.alb[i+1]) + 0.0722*float64(sc.alb[i+2])
			n++
		}
	}
	sc.faceMu = 0.2
	if n > 0 && sum > 0 {
		sc.faceMu = sum / n
	}
	return sc
}

// sample returns the bilinearly interpolated albedo at portrait coordinates (x, y).
// Beyond the edges it fades into the smoothed border colour.
func (sc *base) sample(x, y float64) (r, g, b float64) {
	fw, fh := float64(sc.w-1), float64(sc.h-1)
	if x < 0 || y < 0 || x > fw || y > fh {
		cx, cy := max(0, min(fw, x)), max(0, min(fh, y))
		r, g, b = sc.sample(cx, cy)
		// distance outside, and the border colour there
		var e [3]float32
		var d float64
		switch {
		case x < 0:
			e, d = sc.edgeL[int(cy)], -x
		case x > fw:
			e, d = sc.edgeR[int(cy)], x-fw
		case y < 0:
			e, d = sc.edgeT[int(cx)], -y
		default:
			e, d = sc.edgeB[int(cx)], y-fh
		}
		a := smoothstep(0, 30, d)
		return r + (float64(e[0])-r)*a, g + (float64(e[1])-g)*a, b + (float64(e[2])-b)*a
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, sc.w-1), min(y0+1, sc.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	i00, i01 := 3*(y0*sc.w+x0), 3*(y0*sc.w+x1)
	i10, i11 := 3*(y1*sc.w+x0), 3*(y1*sc.w+x1)
	a := sc.alb
	c := [3]float32{}
	for k := 0; k < 3; k++ {
		top := a[i00+k] + (a[i01+k]-a[i00+k])*fx
		bot := a[i10+k] + (a[i11+k]-a[i10+k])*fx
		c[k] = top + (bot-top)*fy
	}
	return float64(c[0]), float64(c[1]), float64(c[2])
}

// controls are the caller's adjustments on top of the seed's.
type controls struct {
	exposure, blur, noise, scale, shiftX, shiftY, roll, yaw float64
}

func smoothstep(e0, e1, x float64) float64 {
	t := max(0, min(1, (x-e0)/(e1-e0)))
	return t * t * (3 - 2*t)
}

// lighting is what every pixel of one frame shares: the geometry of camera and LED (in
// face units, z towards the camera), the light levels, and the frame's layout.
type lighting struct {
	L          [3]float64 // LED position relative to the face centre
	lenL, D    float64    // LED distance to the face centre; camera distance
	kBg        float64    // LED fall-off on the background wall relative to the face
	amb        [3]float64 // ambient irradiance per channel
	ledCol     [3]float64 // LED colour
	El         float64    // LED irradiance at the face now
	aspect     float64    // face ellipse height over width
	cyw, syw   float64    // cos and sin of the yaw
	glints     [2]glint
	fW, fH, t  float64 // frame size; scene time, seconds
	pixelScale float64 // frame width over 640
	unit640    float64 // one face unit in pixels of a 640-wide frame
}

// glint is a corneal reflection in face-local coordinates, with its spread.
type glint struct{ u, v, su, sv float64 }

// faceUnit is the physical half-width of a face, the unit of scene geometry.
const faceUnit = 0.075

// render draws frame seq at scene time t (seconds) with the LED at level led into dst.
func (sc *scene) render(dst *image.RGBA, seq uint64, t, led float64, c controls) {
	p := &sc.p
	W, H := dst.Rect.Dx(), dst.Rect.Dy()
	fW, fH := float64(W), float64(H)
	if p.Species == Injected {
		led = p.recordedLevel(t)
	}
	led = max(0, min(1, led))
	g := &sc.geo

	// Placement: face half-height in output pixels, inverse to distance.
	scale := c.scale
	if scale <= 0 {
		scale = 1
	}
	rOut := 0.20 * fH * (0.55 / p.Distance) * scale
	var mdx, mdy, mroll, myaw, mscale float64
	var hdx, hdy, hroll float64 = 0, 0, 0
	hscale := 1.0
	switch p.Species {
	case BonaFide:
		mdx, mdy, mroll, myaw, mscale = p.motion[0].at(t)
	case Injected:
		mdx, mdy, mroll, myaw, mscale = p.motion[2].at(t)
	case Screen:
		mdx, mdy, mroll, myaw, mscale = p.motion[2].at(t)
		hdx, hdy, hroll, _, hscale = p.motion[1].at(t)
	case Print:
		hdx, hdy, hroll, _, hscale = p.motion[1].at(t)
		mscale = 1
	}
	S := rOut * mscale * hscale / g.RY // output pixels per portrait pixel
	rx := g.RX * S                     // face half-width in output pixels: one face unit
	fcx := fW/2 + c.shiftX*fW + (mdx+hdx)*rOut*2
	fcy := 0.47*fH + c.shiftY*fH + (mdy+hdy)*rOut*2
	roll := c.roll*math.Pi/180 + mroll + hroll
	yaw := c.yaw*math.Pi/180 + myaw
	cr, sr := math.Cos(-roll), math.Sin(-roll)
	cyw, syw := math.Cos(yaw), math.Sin(yaw)

	D := p.Distance / faceUnit
	L := [3]float64{p.LEDSide / faceUnit, -p.LEDAbove / faceUnit, D}
	lenL := math.Sqrt(L[0]*L[0] + L[1]*L[1] + L[2]*L[2])
	kBg := (p.Distance / p.Wall) * (p.Distance / p.Wall)
	ledCol := [3]float64{0.97, 1.0, 1.04}
	amb := [3]float64{p.Ambient * p.Tint[0], p.Ambient * p.Tint[1], p.Ambient * p.Tint[2]}
	El := p.LED * led

	// Auto exposure, locked at LED off: the face's ambient radiance maps to mid grey.
	var base float64
	switch p.Species {
	case Screen:
		base = sc.faceMu*p.Luminance + p.Glass*p.Ambient
	case Print:
		base = sc.faceMu * p.Reflectance * p.Ambient
	default:
		base = sc.faceMu * p.Reflectance * p.Ambient
	}
	gain := 0.20 / base * p.Gain * math.Pow(2, c.exposure)

	// Eyes in face-local normalised coordinates (u, v: face ellipse radii).
	eyes := [2][2]float64{{(g.LeftEyeX - g.CX) / g.RX, (g.EyeY - g.CY) / g.RY}, {(g.RightEyeX - g.CX) / g.RX, (g.EyeY - g.CY) / g.RY}}
	aspect := g.RY / g.RX // physical height of the face ellipse in face units
	var glints [2]glint
	for i, e := range eyes {
		Xe, Ye := e[0], e[1]*aspect
		ld := norm3([3]float64{L[0] - Xe, L[1] - Ye, D})
		vd := norm3([3]float64{-Xe, -Ye, D})
		hv := norm3([3]float64{ld[0] + vd[0], ld[1] + vd[1], ld[2] + vd[2]})
		const cornea = 0.105 // corneal radius, face units
		glints[i] = glint{u: e[0] + cornea*hv[0], v: e[1] + cornea*hv[1]/aspect, su: 0.014, sv: 0.014 / aspect}
	}

	pixelScale := fW / 640
	lt := &lighting{L: L, lenL: lenL, D: D, kBg: kBg, amb: amb, ledCol: ledCol, El: El, aspect: aspect,
		cyw: cyw, syw: syw, glints: glints, fW: fW, fH: fH, t: t, pixelScale: pixelScale, unit640: rx / pixelScale}
	rad := make([]float32, 3*W*H)
	workers := min(runtime.GOMAXPROCS(0), 4)
	var wg sync.WaitGroup
	rows := (H + workers - 1) / workers
	for wk := 0; wk < workers; wk++ {
		y0, y1 := wk*rows, min(H, (wk+1)*rows)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for y := y0; y < y1; y++ {
				for x := 0; x < W; x++ {
					// Output pixel to the subject's plane, undoing roll.
					dx, dy := float64(x)+0.5-fcx, float64(y)+0.5-fcy
					qx, qy := dx*cr-dy*sr, dx*sr+dy*cr
					X, Y := qx/rx, qy/rx // face units
					var out [3]float64
					switch p.Species {
					case BonaFide, Injected:
						out = sc.shadeLive(X, Y, lt)
					case Print:
						out = sc.shadePrint(X, Y, lt)
					case Screen:
						out = sc.shadeScreen(X, Y, float64(x), float64(y), lt)
					}
					i := 3 * (y*W + x)
					rad[i], rad[i+1], rad[i+2] = float32(out[0]), float32(out[1]), float32(out[2])
				}
			}
		}()
	}
	wg.Wait()

	sigma := math.Hypot(p.Defocus*pixelScale, c.blur)
	if sigma >= 0.3 {
		gaussBlur(rad, W, H, sigma)
	}

	// Sensor: exposure, Poisson-Gaussian noise, gamma, 8 bits.
	for wk := 0; wk < workers; wk++ {
		y0, y1 := wk*rows, min(H, (wk+1)*rows)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for y := y0; y < y1; y++ {
				rng := rand.New(rand.NewPCG(p.Seed^splitmix(seq), uint64(y)))
				row := dst.Pix[y*dst.Stride : y*dst.Stride+4*W]
				for x := 0; x < W; x++ {
					i := 3 * (y*W + x)
					for k := 0; k < 3; k++ {
						v := float64(rad[i+k]) * gain
						sd := math.Sqrt(p.ReadNoise*p.ReadNoise + p.ShotNoise*max(v, 0))
						v += sd*rng.NormFloat64() + c.noise*rng.NormFloat64()
						v = max(0, min(1, v))
						row[4*x+k] = linearToSRGB[int(v*4096+0.5)]
					}
					row[4*x+3] = 255
				}
			}
		}()
	}
	wg.Wait()
}

func norm3(v [3]float64) [3]float64 {
	n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	return [3]float64{v[0] / n, v[1] / n, v[2] / n}
}

func dot3(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// shadeLive: an ellipsoidal head with a nose and eye sockets, lit by ambient light and
// the near LED; corneal glints and a skin specular lobe.
func (sc *scene) shadeLive(X, Y float64, lt *lighting) [3]float64 {
	g := &sc.geo
	L, lenL, D, kBg, amb, ledCol, El, aspect, cyw, syw := lt.L, lt.lenL, lt.D, lt.kBg, lt.amb, lt.ledCol, lt.El, lt.aspect, lt.cyw, lt.syw
	glints := lt.glints[:]
	// Yaw: a point of the head at depth z moves sideways by z*sin(yaw); undo it
	// approximately with the depth at the observed position.
	u0, v0 := X, Y/aspect
	const grow = 1.15 // the lit head is a little larger than the face ellipse (forehead, hair)
	zAt := func(u, v float64) float64 {
		r2 := (u*u + v*v) / (grow * grow)
		if r2 >= 1 {
			return 0
		}
		return 0.85 * grow * math.Sqrt(1-r2)
	}
	z0 := zAt(u0, v0)
	u := (u0 - z0*syw) / cyw
	v := v0
	// Portrait sample.
	pr, pg, pb := sc.sample(g.CX+u*g.RX, g.CY+v*g.RY)
	r := math.Sqrt(u*u + v*v)
	w := smoothstep(grow, grow*0.88, r) // on the head
	skin := smoothstep(1.0, 0.82, r)    // on the face
	refl := sc.p.Reflectance
	var ledF, spec, glint float64
	if w > 0 {
		// Ellipsoid point and normal (face units), then the nose and eye sockets.
		us, vs := u/grow, v/grow
		z := math.Sqrt(max(0, 1-us*us-vs*vs))
		a, b, c := grow, grow*aspect, 0.85*grow
		P := [3]float64{u, v * aspect, z * c}
		n := norm3([3]float64{us / a, vs / b, z/c + 1e-6})
		nose := 0.22 * math.Exp(-(u*u/(2*0.09*0.09) + (v-0.08)*(v-0.08)/(2*0.2*0.2)))
		dhdu := nose * (-u / (0.09 * 0.09))
		dhdv := nose * (-(v - 0.08) / (0.2 * 0.2))
		P[2] += nose
		for _, e := range glints {
			// eye sockets sit where the glints are, near the eye centres
			du, dv := u-e.u, v-e.v
			s := -0.07 * math.Exp(-(du*du+dv*dv)/(2*0.11*0.11))
			dhdu += s * (-du / (0.11 * 0.11))
			dhdv += s * (-dv / (0.11 * 0.11))
			P[2] += s
		}
		n = norm3([3]float64{n[0] - dhdu*n[2], n[1] - dhdv/aspect*n[2], n[2]})
		// Rotate by yaw about the vertical axis.
		n = [3]float64{n[0]*cyw + n[2]*syw, n[1], -n[0]*syw + n[2]*cyw}
		P = [3]float64{P[0]*cyw + P[2]*syw, P[1], -P[0]*syw + P[2]*cyw}
		Lv := [3]float64{L[0] - P[0], L[1] - P[1], L[2] - P[2]}
		d2 := dot3(Lv, Lv)
		l := norm3(Lv)
		fall := lenL * lenL / d2
		lam := max(0, dot3(n, l))
		ledF = w*lam*fall + (1-w)*kBg
		V := norm3([3]float64{-P[0], -P[1], D - P[2]})
		h := norm3([3]float64{l[0] + V[0], l[1] + V[1], l[2] + V[2]})
		nh := max(0, dot3(n, h))
		tzone := 0.6 + 1.0*math.Exp(-u*u/(2*0.18*0.18))
		nh2 := nh * nh
		nh4 := nh2 * nh2
		nh8 := nh4 * nh4
		nh16 := nh8 * nh8
		spec = sc.p.Specular * tzone * nh16 * nh8 * nh4 * fall * skin // (n.h)^28
		for _, e := range glints {
			du, dv := (u-e.u)/e.su, (v-e.v)/e.sv
			glint += 2.5 * math.Exp(-0.5*(du*du+dv*dv)) * fall
		}
		glint *= skin
	} else {
		ledF = kBg
	}
	var out [3]float64
	alb := [3]float64{pr * refl, pg * refl, pb * refl}
	for k := 0; k < 3; k++ {
		out[k] = alb[k]*(amb[k]+El*ledF*ledCol[k]) + El*(spec+glint)*ledCol[k]
	}
	return out
}

// planeLED is the LED's irradiance factor on a flat plane (print, screen) at face-unit
// position (X, Y): Lambert on a tilted plane with inverse-square fall-off.
func (sc *scene) planeLED(X, Y float64, L [3]float64, lenL, D float64) (ledF float64, n, l, V [3]float64) {
	tx, ty := sc.tanTilt[0], sc.tanTilt[1]
	P := [3]float64{X, Y, X*tx + Y*ty}
	n = norm3([3]float64{-tx, -ty, 1})
	Lv := [3]float64{L[0] - P[0], L[1] - P[1], L[2] - P[2]}
	d2 := dot3(Lv, Lv)
	l = norm3(Lv)
	V = norm3([3]float64{-P[0], -P[1], D - P[2]})
	return max(0, dot3(n, l)) * lenL * lenL / d2, n, l, V
}

// shadePrint: a halftoned, textured print of the portrait on a flat sheet.
func (sc *scene) shadePrint(X, Y float64, lt *lighting) [3]float64 {
	g := &sc.geo
	L, lenL, D, amb, ledCol, El, unit640 := lt.L, lt.lenL, lt.D, lt.amb, lt.ledCol, lt.El, lt.unit640
	p := &sc.p
	px, py := g.CX+X*g.RX, g.CY+Y*g.RX
	cr, cg, cb := sc.sample(px, py)
	ledF, n, l, V := sc.planeLED(X, Y, L, lenL, D)
	// Halftone cell coordinates move with the sheet: face units times the nominal scale.
	hx, hy := X*unit640, Y*unit640
	per := p.HalftonePeriod
	content := [3]float64{cr, cg, cb}
	tex := 1 + p.PaperTexture*(valueNoise(hx/2.5, hy/2.5, p.Seed)-0.5)*2
	white := p.Reflectance * 0.9
	var out [3]float64
	h := norm3([3]float64{l[0] + V[0], l[1] + V[1], l[2] + V[2]})
	nh := max(0, dot3(n, h))
	nh2 := nh * nh
	sheen := p.Specular * nh2 * nh2 * nh2 * ledF // broad, low: (n.h)^6
	for k := 0; k < 3; k++ {
		// Printer: the content's tone as ink coverage; an AM dot per screen cell.
		cov := 1 - min(1, content[k]/0.9)
		ca, sa := cosA[k], sinA[k]
		u := (hx*ca + hy*sa) / per
		v := (-hx*sa + hy*ca) / per
		spot := 0.5 + 0.25*(cos2pi(u)+cos2pi(v))
		ink := max(0, min(1, (cov-spot)/0.3+0.5))
		refl := white * (1 - ink*(1-p.InkFloor/white)) * tex
		out[k] = refl*(amb[k]+El*ledF*ledCol[k]) + El*sheen*ledCol[k]
	}
	return out
}

// Screen angles of the cyan, magenta and yellow dots: 15, 75 and 0 degrees.
var cosA, sinA = [3]float64{math.Cos(15 * math.Pi / 180), math.Cos(75 * math.Pi / 180), 1}, [3]float64{math.Sin(15 * math.Pi / 180), math.Sin(75 * math.Pi / 180), 0}

var cosTable = func() (t [1025]float64) {
	for i := range t {
		t[i] = math.Cos(2 * math.Pi * float64(i) / 1024)
	}
	return
}()

// cos2pi is cos(2 pi x) by table with linear interpolation (error below 5e-6).
func cos2pi(x float64) float64 {
	f := (x - math.Floor(x)) * 1024
	i := int(f)
	return cosTable[i] + (cosTable[i+1]-cosTable[i])*(f-float64(i))
}

// shadeScreen: a self-luminous replay on an RGB-stripe panel behind glass.
func (sc *scene) shadeScreen(X, Y, x, y float64, lt *lighting) [3]float64 {
	g := &sc.geo
	L, lenL, D, amb, ledCol, El, pixelScale, fW, fH, t := lt.L, lt.lenL, lt.D, lt.amb, lt.ledCol, lt.El, lt.pixelScale, lt.fW, lt.fH, lt.t
	p := &sc.p
	cr, cg, cb := sc.sample(g.CX+X*g.RX, g.CY+Y*g.RX)
	ledF, _, _, _ := sc.planeLED(X, Y, L, lenL, D)
	// Sub-pixel grid, box-filtered over the camera pixel by 2x2 supersampling.
	pitch := p.PixelPitch * pixelScale
	cs, sn := math.Cos(p.ScreenRoll), math.Sin(p.ScreenRoll)
	var m [3]float64
	const fill = 0.8 // stripe width within its third; the rest is black matrix
	const rowFill = 0.85
	for sy := 0; sy < 2; sy++ {
		for sx := 0; sx < 2; sx++ {
			ox, oy := x+0.25+0.5*float64(sx), y+0.25+0.5*float64(sy)
			gx := (ox*cs + oy*sn) / pitch
			gy := (-ox*sn + oy*cs) / pitch
			fx, fy := gx-math.Floor(gx), gy-math.Floor(gy)
			if fy >= rowFill {
				continue
			}
			ch := int(fx * 3)
			if fx*3-float64(ch) < fill {
				m[min(ch, 2)]++
			}
		}
	}
	norm := 4 * fill / 3 * rowFill
	band := 1 - p.BandAmp*(0.5+0.5*math.Sin(2*math.Pi*(y/fH*p.BandFreq+t*p.BandSpeed)))
	gdx, gdy := (x-p.GlareX*fW)/(p.GlareSize*fH), (y-p.GlareY*fH)/(p.GlareSize*fH)
	glare := p.Glare * math.Exp(-0.5*(gdx*gdx+gdy*gdy))
	content := [3]float64{cr, cg, cb}
	var out [3]float64
	for k := 0; k < 3; k++ {
		grid := 1 - p.GridDepth + p.GridDepth*m[k]/norm
		out[k] = p.Luminance*content[k]*grid*band + p.Glass*(amb[k]+El*ledF*ledCol[k]) + El*glare*ledCol[k]
	}
	return out
}

// valueNoise is smooth lattice noise in [0, 1).
func valueNoise(x, y float64, seed uint64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	fx, fy = fx*fx*(3-2*fx), fy*fy*(3-2*fy)
	h := func(i, j float64) float64 {
		return float64(splitmix(seed^uint64(int64(i))*0x632be59bd9b4e019^uint64(int64(j))*0x85157af5)>>11) / (1 << 53)
	}
	a, b := h(x0, y0), h(x0+1, y0)
	c, d := h(x0, y0+1), h(x0+1, y0+1)
	return a + (b-a)*fx + (c-a)*fy + (a-b-c+d)*fx*fy
}

// gaussBlur blurs an interleaved RGB float image in place with a separable Gaussian.
func gaussBlur(img []float32, w, h int, sigma float64) {
	rad := int(math.Ceil(2.5 * sigma))
	k := make([]float32, 2*rad+1)
	var sum float32
	for i := -rad; i <= rad; i++ {
		k[i+rad] = float32(math.Exp(-float64(i*i) / (2 * sigma * sigma)))
		sum += k[i+rad]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, len(img))
	workers := min(runtime.GOMAXPROCS(0), 4)
	par := func(n int, f func(lo, hi int)) {
		var wg sync.WaitGroup
		step := (n + workers - 1) / workers
		for lo := 0; lo < n; lo += step {
			wg.Add(1)
			go func(lo, hi int) { defer wg.Done(); f(lo, hi) }(lo, min(n, lo+step))
		}
		wg.Wait()
	}
	par(h, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			row := img[3*y*w : 3*(y+1)*w]
			out := tmp[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				var r, g, b float32
				for i := -rad; i <= rad; i++ {
					xx := min(max(x+i, 0), w-1)
					kv := k[i+rad]
					r += kv * row[3*xx]
					g += kv * row[3*xx+1]
					b += kv * row[3*xx+2]
				}
				out[3*x], out[3*x+1], out[3*x+2] = r, g, b
			}
		}
	})
	par(h, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			out := img[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				var r, g, b float32
				for i := -rad; i <= rad; i++ {
					yy := min(max(y+i, 0), h-1)
					kv := k[i+rad]
					j := 3 * (yy*w + x)
					r += kv * tmp[j]
					g += kv * tmp[j+1]
					b += kv * tmp[j+2]
				}
				out[3*x], out[3*x+1], out[3*x+2] = r, g, b
			}
		}
	})
}
