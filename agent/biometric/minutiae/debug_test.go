package minutiae

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

var overlayDir = flag.String("minutiae.overlay", "", "write PNG overlays of the extraction of the reference images to this directory")

// TestOverlay draws the skeleton and minutiae of the reference images for a visual
// check (only with -minutiae.overlay). The images stay outside the repository.
func TestOverlay(t *testing.T) {
	if *overlayDir == "" {
		t.Skip("no -minutiae.overlay directory")
	}
	cases := append(sfingeCases(t), fvcCases(t)...)
	for _, c := range cases {
		img, err := fpimage.ReadFile(c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		img = cropNearWhite(img)
		p := defaultParams()
		b := img.Bounds()
		x := newWork(b.Dx(), b.Dy())
		copy(x.grey, img.Pix)
		x.orientation(&p)
		if !x.segment(&p) {
			continue
		}
		x.period()
		x.enhance(&p)
		x.binarise()
		x.thin()
		ms := x.detect(&p)
		out := image.NewRGBA(b)
		for i, v := range img.Pix {
			g := v/2 + 100
			c := color.RGBA{g, g, g, 255}
			if !x.fg[(i/x.w/blockSize)*x.bw+(i%x.w)/blockSize] {
				c = color.RGBA{g, g, 160, 255}
			}
			if x.skel[i] != 0 {
				c = color.RGBA{0, 140, 0, 255}
			}
			out.Set(i%x.w, i/x.w, c)
		}
		for _, m := range ms {
			col := color.RGBA{255, 0, 0, 255}
			if m.Kind == Bifurcation {
				col = color.RGBA{0, 0, 255, 255}
			}
			for d := -2; d <= 2; d++ {
				out.Set(m.X+d, m.Y-2, col)
				out.Set(m.X+d, m.Y+2, col)
				out.Set(m.X-2, m.Y+d, col)
				out.Set(m.X+2, m.Y+d, col)
			}
			for r := 3.0; r < 12; r++ {
				out.Set(m.X+int(math.Round(r*math.Cos(m.Angle))), m.Y-int(math.Round(r*math.Sin(m.Angle))), col)
			}
		}
		f, err := os.Create(filepath.Join(*overlayDir, c.name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, out)
		f.Close()
	}
}
