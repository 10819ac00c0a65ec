package minutiae

import (
	"sort"
	"testing"
)

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
			s := Similarity(items[i].ms, items[j].ms)
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
	// The sequence check's threshold: how often different fingers reach it (false
	// alarms) and how often the same finger does (detections).
	fm, hit := 0, 0
	for _, s := range imp {
		if s >= SameFingerThreshold {
			fm++
		}
	}
	for _, s := range gen {
		if s >= SameFingerThreshold {
			hit++
		}
	}
	fmr, tmr := float64(fm)/float64(len(imp)), float64(hit)/float64(len(gen))
	t.Logf("sequence check at %.2f: different fingers flagged %.2f%% (%d/%d), same finger flagged %.1f%% (%d/%d)",
		SameFingerThreshold, 100*fmr, fm, len(imp), 100*tmr, hit, len(gen))
	if fmr > 0.005 || tmr < 0.6 {
		t.Errorf("sequence-check threshold: false alarms %.2f%% (want <= 0.5%%), detections %.1f%% (want >= 60%%)", 100*fmr, 100*tmr)
	}
	if auc < 0.9 {
		t.Errorf("ROC area %.3f: same-finger impressions are not told apart from different fingers", auc)
	}
}
