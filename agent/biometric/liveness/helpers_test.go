package liveness

import (
	"image"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
)

// r307 is what an R307 makes of a source image: the centre 256×288 at 500 ppi, reduced
// to 4 bits and widened back as v×17 (as r30xsim and the r30x driver do over the wire).
func r307(img *image.Gray) *image.Gray {
	g := fpsim.Fit(img, 500, fpsim.Sensor{Width: 256, Height: 288, PPI: 500})
	for i, v := range g.Pix {
		g.Pix[i] = (v >> 4) * 17
	}
	return g
}
