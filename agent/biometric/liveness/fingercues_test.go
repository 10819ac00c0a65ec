package liveness

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// ridges draws a crafted fingerprint-like frame: straight ridges of period 9 pixels at
// angle theta, inside an ellipse, dark ridges (level 60) on a light background (220),
// shifted by (dx, dy), with Gaussian noise.
func ridges(w, h int, theta, dx, dy, noise float64, seed uint64) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 1))
	c, s := math.Cos(theta), math.Sin(theta)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)-dx, float64(y)-dy
			ex, ey := (fx-float64(w)/2)/(0.45*float64(w)), (fy-float64(h)/2)/(0.45*float64(h))
			v := 220.0
			if ex*ex+ey*ey < 1 {
				// A slowly curving ridge flow so that registration is unambiguous.
				ph := 2 * math.Pi * (-fx*s + fy*c + 0.004*fx*fx) / 9
				v = 140 + 80*math.Cos(ph)
			}
			v += noise * r.NormFloat64()
			g.Pix[y*g.Stride+x] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return g
}

// edit returns a copy of g with f applied to every pixel inside the fingerprint, given
// whether the pixel is a valley (lighter than the mid level).
func edit(g *image.Gray, f func(x, y int, v float64, valley bool) float64) *image.Gray {
	out := image.NewGray(g.Bounds())
	copy(out.Pix, g.Pix)
	for y := 0; y < g.Bounds().Dy(); y++ {
		for x := 0; x < g.Bounds().Dx(); x++ {
			i := y*g.Stride + x
			v := float64(g.Pix[i])
			if v < 215 { // inside the print
				v = f(x, y, v, v > 140)
			}
			out.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return out
}

func TestRegister(t *testing.T) {
	a := newStats(ridges(256, 288, 0.4, 0, 0, 2, 1))
	for _, sh := range [][2]float64{{0, 0}, {2, -1}, {-3, 2}, {1.5, 0.5}} {
		b := newStats(ridges(256, 288, 0.4, sh[0], sh[1], 2, 2))
		dx, dy, m := register(a.band(), b.band(), a.p.w, a.p.h, fingerMask(a.p), 4)
		// Whole pixels exactly; fractions to within 0.6 (parabolic refinement).
		tol := 0.6
		if sh[0] == math.Round(sh[0]) && sh[1] == math.Round(sh[1]) {
			tol = 0.05
		}
		if math.Abs(dx-sh[0]) > tol || math.Abs(dy-sh[1]) > tol || m < 0.8 {
			t.Errorf("shift %v: found (%.2f, %.2f) with correlation %.2f", sh, dx, dy, m)
		}
	}
}

func TestFrozenFrames(t *testing.T) {
	a := ridges(256, 288, 0.3, 0, 0, 3, 1)
	c := measureFinger(a, a)
	if !c.Frozen || c.Change > -4 {
		t.Fatalf("identical frames: %+v", c)
	}
	b := ridges(256, 288, 0.3, 0, 0, 3, 2) // same scene, fresh noise
	c = measureFinger(a, b)
	if c.Frozen {
		t.Fatal("frames with independent noise reported frozen")
	}
	if c.Change > -2.7 {
		t.Errorf("noise alone reads as a structural change: %.2f", c.Change)
	}
	if math.Abs(c.Darkening) > 0.02 || math.Abs(c.ValleyFill) > 0.03 {
		t.Errorf("noise alone reads as darkening %.3f or valley filling %.3f", c.Darkening, c.ValleyFill)
	}
}

func TestDarkeningCue(t *testing.T) {
	a := ridges(256, 288, 0.3, 0, 0, 3, 1)
	darker := edit(ridges(256, 288, 0.3, 0, 0, 3, 2), func(_, _ int, v float64, _ bool) float64 { return v - 12 })
	lighter := edit(ridges(256, 288, 0.3, 0, 0, 3, 2), func(_, _ int, v float64, _ bool) float64 { return v + 12 })
	cd, cl := measureFinger(a, darker), measureFinger(a, lighter)
	// 12 grey levels over a contrast of about 57 (80/√2).
	if cd.Darkening < 0.15 || cd.Darkening > 0.3 {
		t.Errorf("darker second frame: darkening %.3f, want about 0.21", cd.Darkening)
	}
	if cl.Darkening > -0.15 {
		t.Errorf("lighter second frame (a drying cast): darkening %.3f, want about -0.21", cl.Darkening)
	}
	// Uniform changes do not fill the valleys.
	if math.Abs(cd.ValleyFill) > 0.05 || math.Abs(cl.ValleyFill) > 0.05 {
		t.Errorf("uniform change reads as valley filling: %.3f, %.3f", cd.ValleyFill, cl.ValleyFill)
	}
}

func TestValleyFillCue(t *testing.T) {
	a := ridges(256, 288, 0.3, 0, 0, 3, 1)
	wet := edit(ridges(256, 288, 0.3, 0, 0, 3, 2), func(_, _ int, v float64, valley bool) float64 {
		if valley {
			return v - 15
		}
		return v
	})
	c := measureFinger(a, wet)
	// 15 grey levels in the valleys, partly smoothed into the ridges by the cue's
	// low-pass filter, over a contrast of about 57.
	if c.ValleyFill < 0.08 {
		t.Errorf("valleys darkened: valley filling %.3f, want > 0.08", c.ValleyFill)
	}
	if c.Darkening <= 0 {
		t.Errorf("valleys darkened: darkening %.3f, want > 0", c.Darkening)
	}
}

func TestSpotsCue(t *testing.T) {
	a := ridges(256, 288, 0.3, 0, 0, 3, 1)
	r := rand.New(rand.NewPCG(3, 3))
	type spot struct{ x, y float64 }
	var spots []spot
	for i := 0; i < 60; i++ {
		spots = append(spots, spot{60 + 136*r.Float64(), 60 + 168*r.Float64()})
	}
	// Sweat: dark blobs of radius 3 scattered over the print.
	sweat := edit(ridges(256, 288, 0.3, 0, 0, 3, 2), func(x, y int, v float64, _ bool) float64 {
		for _, s := range spots {
			if d := math.Hypot(float64(x)-s.x, float64(y)-s.y); d < 3 {
				return v - 60
			}
		}
		return v
	})
	// The same amount of darkening spread evenly over the valleys.
	even := edit(ridges(256, 288, 0.3, 0, 0, 3, 2), func(_, _ int, v float64, valley bool) float64 {
		if valley {
			return v - 2
		}
		return v
	})
	cs, ce := measureFinger(a, sweat), measureFinger(a, even)
	if cs.Spots < 2*ce.Spots || cs.Spots < 0.3 {
		t.Errorf("localised sweat spots %.3f, even change %.3f: want the spots well above", cs.Spots, ce.Spots)
	}
}

func TestTextureCue(t *testing.T) {
	smooth := ridges(256, 288, 0.3, 0, 0, 2, 1)
	// Skin: ridge contact broken into patches (dry micro-relief).
	r := rand.New(rand.NewPCG(5, 5))
	patch := make([]float64, 64*72)
	for i := range patch {
		patch[i] = r.Float64()
	}
	mottled := edit(smooth, func(x, y int, v float64, valley bool) float64 {
		if !valley && patch[(y/4)*64+x/4] > 0.6 {
			return v + 60
		}
		return v
	})
	ss, sm := newStats(smooth), newStats(mottled)
	ts, _, _, _ := textureCue(ss, fingerMask(ss.p))
	tm, _, _, _ := textureCue(sm, fingerMask(sm.p))
	if tm < ts+0.1 {
		t.Errorf("mottled ridges %.3f, uniform ridges %.3f: want the mottled ones higher", tm, ts)
	}
}

func TestMaskIgnoresBackground(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 128, 128))
	for i := range g.Pix {
		g.Pix[i] = 230
	}
	m := fingerMask(toPlane(g))
	for _, v := range m {
		if v {
			t.Fatal("blank image has a fingerprint area")
		}
	}
	c := measureFinger(g, g)
	if c.Area != 0 || c.Change != -5 {
		t.Errorf("blank frames: %+v", c)
	}
}

func TestSoftEdgesCue(t *testing.T) {
	// Square ridges (skin pressed flat on the platen) against the same ridges blurred
	// (a cast that lost its edges).
	sharp := edit(ridges(256, 288, 0.3, 0, 0, 2, 1), func(_, _ int, v float64, valley bool) float64 {
		if valley {
			return 200
		}
		return 70
	})
	soft := ridges(256, 288, 0.3, 0, 0, 2, 1) // sinusoidal profile
	ss, so := newStats(sharp), newStats(soft)
	_, fs, _, _ := textureCue(ss, fingerMask(ss.p))
	_, fo, _, _ := textureCue(so, fingerMask(so.p))
	if fo < fs+0.1 {
		t.Errorf("soft edges %.3f, sharp edges %.3f: want soft well above", fo, fs)
	}
}

func TestInkCue(t *testing.T) {
	// The same ridges, thin (dry, light press) and widened (wet, firm press).
	base := ridges(256, 288, 0.3, 0, 0, 2, 1)
	thin := edit(base, func(_, _ int, v float64, _ bool) float64 { return 3*(v-140) + 240 })
	wide := edit(base, func(_, _ int, v float64, _ bool) float64 { return 3*(v-140) + 40 })
	ink := func(g *image.Gray) float64 {
		st := newStats(g)
		_, _, k, _ := textureCue(st, fingerMask(st.p))
		return k
	}
	// A steep, offset tone curve saturates the profile into ridges about a third
	// (thin) or two thirds (wide) of the period.
	it, ib, iw := ink(thin), ink(base), ink(wide)
	if !(it < ib-0.05 && iw > ib+0.05) || ib < 0.45 || ib > 0.55 {
		t.Errorf("ink thin %.3f, base %.3f, wide %.3f: want thin < base (about 0.5) < wide", it, ib, iw)
	}
}

func TestDetailCue(t *testing.T) {
	// Along straight or gently curving ridges of any direction the pattern cancels:
	// without noise the detail is small, and sensor noise adds about its own energy.
	for _, theta := range []float64{0, 0.4, 0.8, 1.2, math.Pi / 2, 2.3} {
		st := newStats(ridges(256, 288, theta, 0, 0, 0, 1))
		d, c := detailCue(st, fingerMask(st.p))
		if d > 0.03 || c > 0.03 {
			t.Errorf("clean ridges at %.1f rad: detail %.4f, crest %.4f, want < 0.03", theta, d, c)
		}
	}
	clean := ridges(256, 288, 0.6, 0, 0, 0, 1)
	// Pores: small light dots on the ridge crests, about one every 7 pixels.
	r := rand.New(rand.NewPCG(7, 7))
	type dot struct{ x, y float64 }
	var dots []dot
	for i := 0; i < 900; i++ {
		dots = append(dots, dot{20 + 216*r.Float64(), 20 + 248*r.Float64()})
	}
	pores := edit(clean, func(x, y int, v float64, valley bool) float64 {
		if valley {
			return v
		}
		for _, d := range dots {
			if q := math.Hypot(float64(x)-d.x, float64(y)-d.y); q < 1.5 {
				return v + 70*math.Exp(-q*q)
			}
		}
		return v
	})
	sc, sp := newStats(clean), newStats(pores)
	dc, cc := detailCue(sc, fingerMask(sc.p))
	dp, cp := detailCue(sp, fingerMask(sp.p))
	if dp < dc+0.015 || cp < cc+0.03 || cp < dp {
		t.Errorf("pores: detail %.4f crest %.4f; clean: %.4f %.4f; want pores well above, most on the crests", dp, cp, dc, cc)
	}
	// A cast: the pored ridges smoothed along and across (3×3 mean twice) lose it.
	sm := newStats(pores)
	cast := image.NewGray(pores.Bounds())
	blur := boxMean(plane{w: sm.p.w, h: sm.p.h, v: boxMean(sm.p, 1)}, 1)
	for i, v := range blur {
		cast.Pix[i] = uint8(math.Round(float64(v)))
	}
	sk := newStats(cast)
	dk, ck := detailCue(sk, fingerMask(sk.p))
	if dk > dp/2 || ck > cp/2 {
		t.Errorf("smoothed cast: detail %.4f crest %.4f, pored skin %.4f %.4f: want under half", dk, ck, dp, cp)
	}
}
