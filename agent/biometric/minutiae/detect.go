package minutiae

import "math"

// cand is a minutia candidate on the skeleton.
type cand struct {
	i      int32   // representative pixel
	pix    []int32 // the junction pixels of a bifurcation, or just i
	kind   Kind
	dx, dy float64 // direction, image coordinates (y down), unit length
	gone   bool
}

// Trace stop reasons.
const (
	stopLength = iota
	stopEnding
	stopJunction
)

type tracer struct {
	x    *work
	ring [8]int
	path []int32
}

func contains(s []int32, v int32) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// trace follows the skeleton from cur, never stepping onto a pixel of avoid, for at
// most n pixels. It stops on an ending or junction pixel. The pixels visited are in
// t.path (cur first).
func (t *tracer) trace(avoid []int32, cur int32, n int) (stop int) {
	s, l := t.x.skel, t.x.luts
	t.path = append(t.path[:0], cur)
	for {
		c := neighbourCode(s, int(cur), &t.ring)
		switch cn := l.cn[c]; {
		case cn == 1 && len(t.path) > 1:
			return stopEnding
		case cn >= 3:
			return stopJunction
		}
		if len(t.path) >= n {
			return stopLength
		}
		next := int32(-1)
		for b, o := range t.ring {
			if c&(1<<b) == 0 {
				continue
			}
			j := cur + int32(o)
			if contains(t.path, j) || contains(avoid, j) {
				continue
			}
			if next < 0 || b%2 == 0 { // prefer 4-neighbours
				next = j
				if b%2 == 0 {
					break
				}
			}
		}
		if next < 0 {
			return stopEnding
		}
		t.path = append(t.path, next)
		cur = next
	}
}

// detect finds, cleans and measures the minutiae on the skeleton.
func (x *work) detect(p *params) []Minutia {
	w, h := x.w, x.h
	s, l := x.skel, x.luts
	ring := ringOffsets(w)
	owner := make([]int32, w*h) // candidate index + 1 for ending and junction pixels
	var cs []cand
	junction := make([]bool, w*h)
	for y := 1; y < h-1; y++ {
		for xx := 1; xx < w-1; xx++ {
			i := y*w + xx
			if s[i] == 0 {
				continue
			}
			switch cn := l.cn[neighbourCode(s, i, &ring)]; {
			case cn == 1:
				cs = append(cs, cand{i: int32(i), pix: []int32{int32(i)}, kind: Ending})
				owner[i] = int32(len(cs))
			case cn >= 3:
				junction[i] = true
			}
		}
	}
	// Group 8-connected junction pixels into one bifurcation each.
	var stack []int32
	for i0, j := range junction {
		if !j || owner[i0] != 0 {
			continue
		}
		cs = append(cs, cand{i: int32(i0), kind: Bifurcation})
		id := int32(len(cs))
		owner[i0] = id
		stack = append(stack[:0], int32(i0))
		var pix []int32
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			pix = append(pix, i)
			for _, o := range ring {
				k := i + int32(o)
				if junction[k] && owner[k] == 0 {
					owner[k] = id
					stack = append(stack, k)
				}
			}
		}
		c := &cs[id-1]
		c.pix = pix
		// Representative: the cluster pixel nearest its centroid.
		var sx, sy float64
		for _, i := range pix {
			sx += float64(int(i) % w)
			sy += float64(int(i) / w)
		}
		sx /= float64(len(pix))
		sy /= float64(len(pix))
		best := math.Inf(1)
		for _, i := range pix {
			d := math.Hypot(float64(int(i)%w)-sx, float64(int(i)/w)-sy)
			if d < best {
				best, c.i = d, i
			}
		}
	}

	t := &tracer{x: x, ring: ring}
	maxEnd := max(p.spurLen, p.shortRidgeLen, p.angleLen) + 1
	maxBif := max(p.bridgeLen, p.angleLen) + 1
	var starts []int32
	for ci := range cs {
		c := &cs[ci]
		if c.kind == Ending {
			first := int32(-1)
			code := neighbourCode(s, int(c.i), &ring)
			for b, o := range ring {
				if code&(1<<b) != 0 {
					first = c.i + int32(o)
					break
				}
			}
			if first < 0 {
				c.gone = true
				continue
			}
			stop := t.trace(c.pix, first, maxEnd)
			n := len(t.path)
			last := t.path[n-1]
			switch {
			case stop == stopEnding && n < p.shortRidgeLen:
				c.gone = true
				if o := owner[last]; o > 0 {
					cs[o-1].gone = true
				}
			case stop == stopJunction && n < p.spurLen:
				c.gone = true
				if o := owner[last]; o > 0 {
					cs[o-1].gone = true
				}
			}
			a := t.path[min(n, p.angleLen)-1]
			c.dx, c.dy = x.unit(c.i, a)
			continue
		}
		// Bifurcation: trace every branch leaving the junction cluster.
		starts = starts[:0]
		for _, i := range c.pix {
			code := neighbourCode(s, int(i), &ring)
			for b, o := range ring {
				j := i + int32(o)
				if code&(1<<b) != 0 && !contains(c.pix, j) && !contains(starts, j) {
					starts = append(starts, j)
				}
			}
		}
		avoid := append(append([]int32(nil), c.pix...), starts...)
		var dirs [][2]float64
		for _, st := range starts {
			stop := t.trace(avoid, st, maxBif)
			n := len(t.path)
			last := t.path[n-1]
			if stop == stopJunction && n < p.bridgeLen {
				if o := owner[last]; o > 0 && int(o-1) != ci {
					c.gone = true
					cs[o-1].gone = true
				}
			}
			if n < 3 && stop != stopJunction {
				continue // a one- or two-pixel stub, not a branch
			}
			a := t.path[min(n, p.angleLen)-1]
			dx, dy := x.unit(c.i, a)
			dirs = append(dirs, [2]float64{dx, dy})
		}
		if len(dirs) < 3 {
			c.gone = true // not a true fork once stubs are ignored
			continue
		}
		// The two branches closest in angle are the fork; the direction bisects them.
		bi, bj, best := 0, 1, -2.0
		for i := range dirs {
			for j := i + 1; j < len(dirs); j++ {
				d := dirs[i][0]*dirs[j][0] + dirs[i][1]*dirs[j][1]
				if d > best {
					bi, bj, best = i, j, d
				}
			}
		}
		bx, by := dirs[bi][0]+dirs[bj][0], dirs[bi][1]+dirs[bj][1]
		if n := math.Hypot(bx, by); n > 0 {
			c.dx, c.dy = bx/n, by/n
		}
	}

	// Snap directions to the smoothed orientation field and drop border minutiae.
	for ci := range cs {
		c := &cs[ci]
		if c.gone {
			continue
		}
		cx, cy := int(c.i)%w, int(c.i)/w
		if x.distAt(cx, cy) < p.borderMargin {
			c.gone = true
			continue
		}
		k := (cy/blockSize)*x.bw + cx/blockSize
		th := 0.5 * math.Atan2(float64(x.sin2[k]), float64(x.cos2[k]))
		tx, ty := math.Cos(th), math.Sin(th)
		d := c.dx*tx + c.dy*ty
		if math.Abs(d) >= 0.5 {
			if d < 0 {
				tx, ty = -tx, -ty
			}
			c.dx, c.dy = tx, ty
		}
	}

	// Pairwise clean-up on the survivors.
	alive := make([]int, 0, len(cs))
	for ci := range cs {
		if !cs[ci].gone {
			alive = append(alive, ci)
		}
	}
	pos := func(c *cand) (float64, float64) { return float64(int(c.i) % w), float64(int(c.i) / w) }
	kill := make([]bool, len(cs))
	cos45 := math.Sqrt2 / 2
	for ai, a := range alive {
		ca := &cs[a]
		ax, ay := pos(ca)
		near := 0
		for bi, b := range alive {
			if a == b {
				continue
			}
			cb := &cs[b]
			bx, by := pos(cb)
			dx, dy := bx-ax, by-ay
			d := math.Hypot(dx, dy)
			if d < p.clusterRadius {
				near++
			}
			if bi <= ai {
				continue
			}
			if d < p.pairDist {
				kill[a], kill[b] = true, true
				continue
			}
			if ca.kind == Ending && cb.kind == Ending && d < p.breakDist && d > 0 {
				ux, uy := dx/d, dy/d
				// Each ending points into its own ridge, so across a gap both point
				// away from the other.
				if ca.dx*ux+ca.dy*uy < -cos45 && -(cb.dx*ux+cb.dy*uy) < -cos45 {
					kill[a], kill[b] = true, true
				}
			}
		}
		if near >= p.clusterCount {
			kill[a] = true
		}
	}

	out := make([]Minutia, 0, len(alive))
	for _, a := range alive {
		if kill[a] {
			continue
		}
		c := &cs[a]
		cx, cy := int(c.i)%w, int(c.i)/w
		q := x.quality(cx, cy, p)
		if q < p.minQuality {
			continue
		}
		ang := math.Atan2(-c.dy, c.dx)
		if ang < 0 {
			ang += 2 * math.Pi
		}
		if ang >= 2*math.Pi {
			ang = 0
		}
		out = append(out, Minutia{X: cx, Y: cy, Angle: ang, Kind: c.kind, Quality: q})
	}
	return out
}

// unit returns the unit vector from pixel a to pixel b.
func (x *work) unit(a, b int32) (float64, float64) {
	w := int32(x.w)
	dx := float64(b%w - a%w)
	dy := float64(b/w - a/w)
	n := math.Hypot(dx, dy)
	if n == 0 {
		return 0, 0
	}
	return dx / n, dy / n
}

// quality rates a minutia 1..100 from the orientation coherence and contrast of its
// block and its distance to the background.
func (x *work) quality(cx, cy int, p *params) int {
	k := (cy/blockSize)*x.bw + cx/blockSize
	coh := float64(x.coh[k])
	con := min(1, float64(x.std[k])/(2*x.segThr))
	bd := min(1, x.distAt(cx, cy)/(2*p.borderMargin))
	q := int(math.Round(100 * coh * con * bd))
	return min(max(q, 1), 100)
}
