package minutiae

import (
	"math"
	"sort"
	"testing"
)

// matchScore is a small test-only matcher: it finds the rigid transform most minutia
// pairs agree on (a Hough vote over rotation and translation, using each pair's
// directions) and counts the minutiae that then coincide (within 12 px and 25°).
// The score is that count over the mean number of minutiae.
func matchScore(a, b []Minutia) float64 {
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

// TestMatchingSanity: impressions of the same finger share far more minutiae (after
// alignment) than impressions of different fingers. Needs the FVC2002 images.
func TestMatchingSanity(t *testing.T) {
	cases := fvcCases(t)
	if cases == nil {
		t.Skip("FVC2002 images absent (../shared)")
	}
	p := defaultParams()
	type item struct {
		finger string
		ms     []Minutia
	}
	var items []item
	for _, c := range cases {
		ms, err := extract(cropNearWhite(readGray(t, c.path)), 500, &p)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{c.finger, ms})
	}
	var gen, imp []float64
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			s := matchScore(items[i].ms, items[j].ms)
			if items[i].finger == items[j].finger {
				gen = append(gen, s)
			} else {
				imp = append(imp, s)
			}
		}
	}
	// Probability that a genuine pair outscores an impostor pair (ROC area).
	sort.Float64s(imp)
	wins := 0.0
	for _, g := range gen {
		k := sort.SearchFloat64s(imp, g)
		eq := 0
		for k+eq < len(imp) && imp[k+eq] == g {
			eq++
		}
		wins += float64(k) + float64(eq)/2
	}
	auc := wins / float64(len(gen)*len(imp))
	t.Logf("genuine pairs %d (median score %.2f), impostor pairs %d (median %.2f), ROC area %.3f",
		len(gen), median(gen), len(imp), median(imp), auc)
	if auc < 0.9 {
		t.Errorf("ROC area %.3f: same-finger impressions are not told apart from different fingers", auc)
	}
}
