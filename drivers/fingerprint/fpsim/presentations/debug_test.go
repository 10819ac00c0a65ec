package presentations

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"testing"
	"time"
)

var dumpDir = flag.String("pres.dump", "", "write debug images here")

func dump(t *testing.T, name string, g *image.Gray) {
	f, err := os.Create(*dumpDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, g)
	f.Close()
}

func TestDumpPresentations(t *testing.T) {
	if *dumpDir == "" {
		t.Skip()
	}
	tm := R30xTiming(256, 288, 128, 115200, 300*time.Millisecond)
	t.Logf("timing %v", tm)
	live := &Live{Seed: 3, Timing: tm}
	mould := &MouldSource{Seed: 3, Timing: tm}
	for p := 0; p < 3; p++ {
		for _, f := range []int{1, 2} {
			g, _ := live.Frame(p, f)
			dump(t, fmt.Sprintf("live%d_%d.png", p, f), g)
			g, _ = mould.Frame(p, f)
			dump(t, fmt.Sprintf("mould%d_%d.png", p, f), g)
		}
		mat, mo := mould.Cast(p)
		t.Logf("mould %d: %v %.2f", p, mat, mo)
	}
}

func zoom(g *image.Gray, x0, y0, n, k int) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, n*k, n*k))
	for y := 0; y < n*k; y++ {
		for x := 0; x < n*k; x++ {
			out.Pix[y*out.Stride+x] = g.GrayAt(x0+x/k, y0+y/k).Y
		}
	}
	return out
}

func TestDumpZoom(t *testing.T) {
	if *dumpDir == "" {
		t.Skip()
	}
	tm := R30xTiming(256, 288, 128, 115200, 300*time.Millisecond)
	live := &Live{Seed: 3, Timing: tm}
	mould := &MouldSource{Seed: 3, Timing: tm}
	for _, f := range []int{1, 2} {
		g, _ := live.Frame(0, f)
		dump(t, fmt.Sprintf("zl%d.png", f), zoom(g, 110, 130, 100, 3))
		g, _ = mould.Frame(0, f)
		dump(t, fmt.Sprintf("zm%d.png", f), zoom(g, 110, 130, 100, 3))
	}
}
