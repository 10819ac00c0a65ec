package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Impression describes one image of a finger (or of a cast of it) on a sensor: where
// and how it lies, how hard it is pressed, the skin's state, and the sensor's noise.
// Geometry is in pixels at 500 ppi; levels are in [0, 1] unless stated.
type Impression struct {
	// Rotation of the finger on the sensor, radians (counter-clockwise in the image).
	Rotation float64
	// DX, DY move the finger's centre from the window's centre.
	DX, DY float64
	// Pressure: 0 barely touching, 1 pressed hard. Harder presses widen the contact
	// area and the ridges and flatten the finger (a slight expansion).
	Pressure float64
	// Moisture: 0 dry (thin, broken ridges), 1 wet (ridges merge, valleys fill).
	Moisture float64
	// Texture is the amplitude of the skin's micro-texture (dryness mottling along the
	// ridges): high on dry skin, low on smooth, hydrated skin.
	Texture float64
	// Pores is how visible the sweat pores are on the ridge crests (0 for casts).
	Pores float64
	// Sweat is the perspiration emitted at the pores since the finger came down: dark
	// spots that grow from the pores into the valleys.
	Sweat float64
	// Distortion is the amplitude of the elastic distortion in pixels at the contact's
	// edge (the centre of the contact is held rigid by friction); DistortSeed draws its
	// shape, so two impressions with the same seed and amplitudes distort alike.
	Distortion  float64
	DistortSeed uint64
	// Contrast is the ridge darkness against the background (0..1).
	Contrast float64
	// Background is the grey level where nothing touches (0..255, default 235).
	Background float64
	// Noise is the sensor's Gaussian noise in grey levels; NoiseSeed draws it.
	Noise     float64
	NoiseSeed uint64
	// Smooth blurs the ridge profile (pixels): a cast keeps less detail than skin.
	Smooth float64
	// Spots are surface defects fixed to the finger or cast (air bubbles, dirt), in
	// master coordinates.
	Spots []Spot
	// Contact semi-axes in pixels at Pressure 0.5; default 165×210.
	ContactA, ContactB float64
}

// Spot is a round surface defect: Dark spots add ink (dirt, glue), light ones remove
// contact (air bubbles).
type Spot struct {
	X, Y, R float64
	Dark    bool
}

// NaturalImpression draws the natural variation of one live placement: position,
// rotation, pressure, skin moisture and texture, distortion, sensor noise. Callers
// change fields afterwards for casts or to follow a placement over time.
func NaturalImpression(r *rand.Rand) Impression {
	return Impression{
		Rotation:    r.NormFloat64() * 0.1,
		DX:          r.NormFloat64() * 20,
		DY:          r.NormFloat64() * 22,
		Pressure:    clamp01(0.5 + r.NormFloat64()*0.18),
		Moisture:    clamp01(0.45 + r.NormFloat64()*0.17),
		Texture:     0.25 + 0.5*r.Float64(),
		Pores:       0.3 + 0.5*r.Float64(),
		Distortion:  1 + 3*r.Float64(),
		DistortSeed: r.Uint64(),
		Contrast:    0.65 + 0.3*r.Float64(),
		Background:  225 + 20*r.Float64(),
		Noise:       2 + 4*r.Float64(),
		NoiseSeed:   r.Uint64(),
	}
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// Render draws the impression into a w×h image at 500 ppi, dark ridges on a light
// background. The master's centre lies at the window's centre plus (DX, DY).
func (m *Master) Render(imp Impression, w, h int) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, w, h))
	bg := imp.Background
	if bg <= 0 {
		bg = 235
	}
	ca, cb := imp.ContactA, imp.ContactB
	if ca <= 0 {
		ca = 165
	}
	if cb <= 0 {
		cb = 210
	}
	scale := 0.8 + 0.4*imp.Pressure
	ca, cb = ca*scale, cb*scale
	expand := 1 + 0.02*(imp.Pressure-0.5) // a harder press flattens the pad
	ridge := m.blurred(imp.Smooth)
	cr, sr := math.Cos(imp.Rotation), math.Sin(imp.Rotation)
	mcx, mcy := float64(m.W)/2, float64(m.H)*0.47
	wcx, wcy := float64(w)/2+imp.DX, float64(h)/2+imp.DY
	// Contact centre in master coordinates: the pad sits a little below the core area.
	ccx, ccy := mcx, mcy+10
	dseed := imp.DistortSeed
	thr0 := 0.35 - 0.75*imp.Moisture - 0.3*(imp.Pressure-0.5)
	noise := rand.New(rand.NewPCG(imp.NoiseSeed, 0x6e6f697365))
	eseed := splitmix(m.Seed ^ 0x65646765)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Window to master: undo translation, rotation and flattening.
			qx, qy := (float64(x)+0.5-wcx)/expand, (float64(y)+0.5-wcy)/expand
			px := mcx + cr*qx + sr*qy
			py := mcy - sr*qx + cr*qy
			// Elastic distortion grows from the rigid centre of the contact outwards.
			if imp.Distortion > 0 {
				ex, ey := (px-ccx)/ca, (py-ccy)/cb
				rr := math.Min(1, math.Sqrt(ex*ex+ey*ey))
				a := imp.Distortion * rr * rr
				px += a * 2 * fbm(dseed, px, py, 90)
				py += a * 2 * fbm(dseed^0xabcdef, px, py, 90)
			}
			// Contact: an ellipse with a ragged edge.
			ex, ey := (px-ccx)/ca, (py-ccy)/cb
			rho := math.Sqrt(ex*ex+ey*ey) + 0.06*fbm(eseed, px, py, 25)
			contact := clamp01((1 - rho) / 0.06)
			v := bg
			if contact > 0 && px >= 0 && py >= 0 && px < float64(m.W-1) && py < float64(m.H-1) {
				rv := bilinear(ridge, m.W, px, py)
				tex := bilinear(m.texture, m.W, px, py)
				thr := thr0 + imp.Texture*0.9*tex*(1-0.6*imp.Moisture)
				d := clamp01((rv-thr)/0.45 + 0.5)
				// Uneven contact along the ridges: the skin's micro-relief, flattened by
				// moisture.
				d *= 1 - imp.Texture*0.45*(tex+0.5)*(1-0.7*imp.Moisture)
				// The micro-relief: on dry skin patches of the ridge do not touch.
				if imp.Texture > 0 {
					mr := bilinear(m.micro, m.W, px, py)
					d *= 1 - clamp01(imp.Texture*1.6*(mr-0.45))*(1-0.8*imp.Moisture)
				}
				if imp.Pores > 0 {
					d *= 1 - imp.Pores*bilinear(m.poreMap, m.W, px, py)*(1-imp.Moisture*0.7)
				}
				if imp.Sweat > 0 {
					s := imp.Sweat
					sw := (1-s)*bilinear(m.sweatSmall, m.W, px, py) + s*bilinear(m.sweatLarge, m.W, px, py)
					d = math.Max(d, clamp01(s*1.6)*sw)
				}
				// Wet skin leaves moisture in the valleys too.
				if wet := imp.Moisture - 0.6; wet > 0 {
					d += wet * 0.8 * (1 - d)
				}
				for _, sp := range imp.Spots {
					dx, dy := px-sp.X, py-sp.Y
					if q := (dx*dx + dy*dy) / (sp.R * sp.R); q < 1.5 {
						f := math.Exp(-q * q * 2)
						if sp.Dark {
							d = math.Max(d, f)
						} else {
							d *= 1 - f
						}
					}
				}
				v = bg * (1 - imp.Contrast*d*contact)
			}
			if imp.Noise > 0 {
				v += imp.Noise * noise.NormFloat64()
			}
			out.Pix[y*out.Stride+x] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return out
}

func bilinear(f []float32, W int, x, y float64) float64 {
	x -= 0.5
	y -= 0.5
	if x < 0 {
		x = 0
	}
	if y < 0 {
		y = 0
	}
	x0, y0 := int(x), int(y)
	H := len(f) / W
	if x0 >= W-1 {
		x0 = W - 2
	}
	if y0 >= H-1 {
		y0 = H - 2
	}
	fx, fy := x-float64(x0), y-float64(y0)
	i := y0*W + x0
	a, b, c, d := float64(f[i]), float64(f[i+1]), float64(f[i+W]), float64(f[i+W+1])
	return a + (b-a)*fx + (c-a)*fy + (a-b-c+d)*fx*fy
}
