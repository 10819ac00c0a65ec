package minutiae

import "math"

// SameFingerThreshold is the Similarity at which the sequence check says two captures
// are the same finger. On the FVC2002 DB1 impressions of fingers 101-105 (40 images;
// TestMatchingSanity) no pair of different fingers reaches it (the highest scores 0.25)
// and 67% of same-finger pairs do: a finger presented twice is caught about two times in
// three. The threshold was chosen on that same data; a larger evaluation would refine it.
const SameFingerThreshold = 0.28

// Similarity compares two minutiae sets of 500 ppi impressions: it finds the rigid
// transform most minutia pairs agree on (a Hough vote over rotation and translation,
// using each pair's directions) and counts the minutiae that then coincide (within 12 px
// and 25°). The score is that count over the mean number of minutiae, in [0, 1].
//
// It is a small matcher for the capture station's sequence check (is this the finger
// already captured for another position?), not an identification matcher: see
// TestMatchingSanity for how well it separates same-finger from different-finger pairs.
func Similarity(a, b []Minutia) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	const rotBins, tBin = 36, 10.0
	type key struct{ r, x, y int }
	votes := map[key]int{}
	for _, p := range a {
		for _, q := range b {
			rot := math.Mod(q.Angle-p.Angle+4*math.Pi, 2*math.Pi)
			r := int(rot / (2 * math.Pi) * rotBins)
			c, s := math.Cos(rot), math.Sin(rot)
			// Image y points down: rotating by rot counter-clockwise on the page.
			px, py := float64(p.X), -float64(p.Y)
			tx := float64(q.X) - (c*px - s*py)
			ty := -float64(q.Y) - (s*px + c*py)
			votes[key{r, int(math.Floor(tx / tBin)), int(math.Floor(ty / tBin))}]++
		}
	}
	var best key
	bv := -1
	for k, v := range votes {
		if v > bv || (v == bv && (k.r < best.r || k.r == best.r && (k.x < best.x || k.x == best.x && k.y < best.y))) {
			best, bv = k, v
		}
	}
	rot := (float64(best.r) + 0.5) / rotBins * 2 * math.Pi
	c, s := math.Cos(rot), math.Sin(rot)
	// Refine the translation as the mean over the pairs that voted for the bin.
	var sx, sy, n float64
	for _, p := range a {
		for _, q := range b {
			r := math.Mod(q.Angle-p.Angle+4*math.Pi, 2*math.Pi)
			if int(r/(2*math.Pi)*rotBins) != best.r {
				continue
			}
			// The same arithmetic as the vote, so that the best bin's pairs are found.
			cr, sr := math.Cos(r), math.Sin(r)
			px, py := float64(p.X), -float64(p.Y)
			tx := float64(q.X) - (cr*px - sr*py)
			ty := -float64(q.Y) - (sr*px + cr*py)
			if int(math.Floor(tx/tBin)) == best.x && int(math.Floor(ty/tBin)) == best.y {
				sx += tx
				sy += ty
				n++
			}
		}
	}
	if n == 0 {
		return 0
	}
	tx, ty := sx/n, sy/n
	used := make([]bool, len(b))
	matched := 0
	for _, p := range a {
		px, py := float64(p.X), -float64(p.Y)
		x := c*px - s*py + tx
		y := -(s*px + c*py + ty)
		ang := p.Angle + rot
		for j, q := range b {
			if used[j] || math.Hypot(float64(q.X)-x, float64(q.Y)-y) > 12 || angleDiff(q.Angle, ang) > 25*math.Pi/180 {
				continue
			}
			used[j] = true
			matched++
			break
		}
	}
	return float64(matched) / (float64(len(a)+len(b)) / 2)
}

// angleDiff is the absolute difference of two directions, in [0, π].
func angleDiff(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 2*math.Pi)
	return min(d, 2*math.Pi-d)
}
