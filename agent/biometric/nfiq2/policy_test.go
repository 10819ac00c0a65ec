package nfiq2_test

import (
	"slices"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/nfiq2"
)

func TestMinimumScore(t *testing.T) {
	want := map[int]int{1: 30, 2: 30, 3: 20, 4: 10, 5: 10, 6: 30, 7: 30, 8: 20, 9: 10, 10: 10}
	for pos := -1; pos <= 16; pos++ {
		got, ok := nfiq2.MinimumScore(pos)
		w, known := want[pos]
		if ok != known || got != w {
			t.Errorf("position %d: %d %v, want %d %v", pos, got, ok, w, known)
		}
	}
}

func TestHints(t *testing.T) {
	var a nfiq2.Actionable
	all := a.Hints()
	if !slices.Equal(all, []nfiq2.Hint{nfiq2.HintUniformImage, nfiq2.HintEmptyImage, nfiq2.HintSmallForeground, nfiq2.HintFewMinutiae}) {
		t.Errorf("all failing: %v", all)
	}
	a.UniformImage.OK, a.EmptyImageOrContrastTooLow.OK, a.SufficientFingerprintForeground.OK = true, true, true
	if h := a.Hints(); !slices.Equal(h, []nfiq2.Hint{nfiq2.HintFewMinutiae}) {
		t.Errorf("few minutiae: %v", h)
	}
	a.FingerprintImageWithMinutiae.OK = true
	if h := a.Hints(); len(h) != 0 {
		t.Errorf("all passing: %v", h)
	}
}
