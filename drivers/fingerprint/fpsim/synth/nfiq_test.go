package synth

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/fingerq"
	"github.com/captura-claim/captura/drivers/fingerprint"
)

// TestNFIQ2Plausible: natural impressions of synthetic fingers, cut to an R307's
// 256×288 window, score like good live captures under NIST NFIQ 2 (the project's
// implementation, with its minutiae extractor): usable, with minutiae, and with scores
// in the range real optical captures get (NIST's SFinGe examples score 40 to 80).
func TestNFIQ2Plausible(t *testing.T) {
	a, err := fingerq.New()
	if err != nil {
		t.Fatal(err)
	}
	var scores []int
	seeds := uint64(4)
	if raceEnabled || testing.Short() {
		seeds = 1
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		m := Generate(seed, nil)
		r := rand.New(rand.NewPCG(seed, 2))
		for k := 0; k < 2; k++ {
			imp := NaturalImpression(r)
			res, err := a.AssessFinger(&fingerprint.Image{Gray: m.Render(imp, 256, 288), PPI: 500})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seed %d (%v) impression %d: NFIQ 2 %d, %d minutiae", seed, m.Class, k, res.Quality.Score, len(res.Minutiae))
			if !res.Usable || len(res.Minutiae) < 15 {
				t.Errorf("seed %d impression %d: usable %v, %d minutiae", seed, k, res.Usable, len(res.Minutiae))
			}
			scores = append(scores, int(res.Quality.Score))
		}
	}
	sort.Ints(scores)
	if scores[0] < 20 || scores[len(scores)-1] > 95 || scores[len(scores)/2] < 40 {
		t.Errorf("NFIQ 2 scores %v: want 20..95 with a median of at least 40", scores)
	}
}
