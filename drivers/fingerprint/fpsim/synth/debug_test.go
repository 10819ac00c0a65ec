package synth

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"testing"
	"time"
)

var dumpDir = flag.String("synth.dump", "", "write debug images to this directory")

func dumpGray(t *testing.T, name string, g *image.Gray) {
	f, err := os.Create(*dumpDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, g)
	f.Close()
}

func TestDumpMasters(t *testing.T) {
	if *dumpDir == "" {
		t.Skip("no -synth.dump")
	}
	for seed := uint64(1); seed <= 6; seed++ {
		t0 := time.Now()
		m := Generate(seed, nil)
		el := time.Since(t0)
		g := image.NewGray(image.Rect(0, 0, m.W, m.H))
		for i, v := range m.Ridge {
			g.Pix[i] = uint8(127.5 - 127.5*float64(v))
		}
		dumpGray(t, fmt.Sprintf("master%d.png", seed), g)
		t.Logf("seed %d class %v period %.1f pores %d in %v", seed, m.Class, m.Period, len(m.Pores), el)
	}
}

func TestDumpImpressions(t *testing.T) {
	if *dumpDir == "" {
		t.Skip("no -synth.dump")
	}
	m := Generate(1, nil)
	r := newRand(7)
	for i := 0; i < 4; i++ {
		imp := NaturalImpression(r)
		switch i {
		case 1:
			imp.Moisture = 0.1
		case 2:
			imp.Moisture = 0.85
		}
		t0 := time.Now()
		g := m.Render(imp, 320, 360)
		t.Logf("imp %d moisture %.2f texture %.2f in %v", i, imp.Moisture, imp.Texture, time.Since(t0))
		dumpGray(t, fmt.Sprintf("imp%d.png", i), g)
	}
}
