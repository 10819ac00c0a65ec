package minutiae

import "math/bits"

// Neighbour codes: bit i is set when the i-th neighbour, clockwise from north, is on:
// 0 N, 1 NE, 2 E, 3 SE, 4 S, 5 SW, 6 W, 7 NW.

// ringOffsets returns the index offsets of the eight neighbours in code order.
func ringOffsets(w int) [8]int {
	return [8]int{-w, -w + 1, 1, w + 1, w, w - 1, -1, -w - 1}
}

func neighbourCode(s []uint8, i int, ring *[8]int) uint8 {
	// Skeleton values are 0 or 1; ring holds the offsets in code order.
	_ = s[i+ring[3]] // the largest offset: one bounds check for all
	return s[i+ring[0]] | s[i+ring[1]]<<1 | s[i+ring[2]]<<2 | s[i+ring[3]]<<3 |
		s[i+ring[4]]<<4 | s[i+ring[5]]<<5 | s[i+ring[6]]<<6 | s[i+ring[7]]<<7
}

// Lookup tables over neighbour codes. They are pure functions of the code, computed on
// demand per extraction (a few hundred operations), so the package keeps no state.
type luts struct {
	zs1, zs2 [256]bool  // Zhang–Suen deletable in sub-iteration 1 and 2
	simple   [256]bool  // redundant on an 8-connected skeleton: B ≥ 2 and Yokoi N8 = 1
	cn       [256]uint8 // Rutovitz crossing number
}

func newLUTs() *luts {
	l := &luts{}
	for c := range 256 {
		p := func(i int) int { return (c >> (i & 7)) & 1 }
		b := bits.OnesCount8(uint8(c))
		a := 0
		for i := range 8 {
			if p(i) == 0 && p(i+1) == 1 {
				a++
			}
		}
		n, e, s, wst := p(0), p(2), p(4), p(6)
		if b >= 2 && b <= 6 && a == 1 {
			l.zs1[c] = n*e*s == 0 && e*s*wst == 0
			l.zs2[c] = n*e*wst == 0 && n*s*wst == 0
		}
		// Yokoi 8-connectivity number. Counter-clockwise from east: x1 E, x2 NE,
		// x3 N, x4 NW, x5 W, x6 SW, x7 S, x8 SE.
		x := [10]int{0, p(2), p(1), p(0), p(7), p(6), p(5), p(4), p(3), p(2)}
		n8 := 0
		for _, k := range [4]int{1, 3, 5, 7} {
			a1, a2, a3 := 1-x[k], 1-x[k+1], 1-x[(k+2-1)%8+1]
			n8 += a1 - a1*a2*a3
		}
		l.simple[c] = b >= 2 && n8 == 1
		t := 0
		for i := range 8 {
			if p(i) != p(i+1) {
				t++
			}
		}
		l.cn[c] = uint8(t / 2)
	}
	return l
}

// thin reduces the binary ridge map to a one-pixel-wide, 8-connected skeleton
// (Zhang–Suen, then removal of the remaining redundant staircase pixels).
func (x *work) thin() {
	w, h := x.w, x.h
	s := x.skel
	ring := ringOffsets(w)
	l := newLUTs()
	// The one-pixel image border is always off (binarise leaves it so).
	active := make([]int32, 0, w*h/4)
	for i, v := range s {
		if v != 0 {
			active = append(active, int32(i))
		}
	}
	del := make([]int32, 0, len(active)/2)
	for {
		changed := false
		for sub := 0; sub < 2; sub++ {
			tab := &l.zs1
			if sub == 1 {
				tab = &l.zs2
			}
			del = del[:0]
			for _, i := range active {
				if tab[neighbourCode(s, int(i), &ring)] {
					del = append(del, i)
				}
			}
			for _, i := range del {
				s[i] = 0
			}
			if len(del) > 0 {
				changed = true
				k := 0
				for _, i := range active {
					if s[i] != 0 {
						active[k] = i
						k++
					}
				}
				active = active[:k]
			}
		}
		if !changed {
			break
		}
	}
	for _, i := range active {
		if l.simple[neighbourCode(s, int(i), &ring)] {
			s[i] = 0
		}
	}
	_ = h
	x.luts = l
}
