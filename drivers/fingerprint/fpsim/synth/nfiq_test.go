package synth_test

import (
	"math/rand/v2"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/fingerq"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/synth"
)

func TestNFIQ2Plausible(t *testing.T) {
	a, err := fingerq.New()
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 8; seed++ {
		m := synth.Generate(seed, nil)
		r := rand.New(rand.NewPCG(seed, 2))
		for k := 0; k < 2; k++ {
			imp := synth.NaturalImpression(r)
			g := m.Render(imp, 256, 288)
			res, err := a.AssessFinger(&fingerprint.Image{Gray: g, PPI: 500})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seed %d imp %d class %v: NFIQ2 %d usable %v minutiae %d moist %.2f press %.2f", seed, k, m.Class, res.Quality.Score, res.Usable, len(res.Minutiae), imp.Moisture, imp.Pressure)
		}
	}
}
