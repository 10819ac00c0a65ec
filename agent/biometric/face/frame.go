package face

import (
	"image"
	"image/color"
	"math"
)

// frame holds the views of one input image the analyser needs: 8-bit luma (BT.601
// Y′, what JPEG and camera YCbCr frames carry) at full resolution, a pyramid of
// 2×2 box-averaged copies, and a colour sampler for the luminance measures.
type frame struct {
	w, h    int
	src     image.Image
	min     image.Point
	levels  []*image.Gray // levels[k] is 2^k times smaller than the image
	sampleC func(x, y int) (r, g, b uint8)
}

func newFrame(img image.Image) *frame {
	b := img.Bounds()
	f := &frame{w: b.Dx(), h: b.Dy(), src: img, min: b.Min}
	f.levels = []*image.Gray{lumaOf(img)}
	f.sampleC = colourSampler(img)
	return f
}

// level returns the pyramid level k (0 = full resolution), building it on demand.
func (f *frame) level(k int) *image.Gray {
	for len(f.levels) <= k {
		f.levels = append(f.levels, halve(f.levels[len(f.levels)-1]))
	}
	return f.levels[k]
}

// lumaOf returns the BT.601 luma plane of img with its origin at (0, 0). For a
// YCbCr or Gray image it shares the pixels (no copy).
func lumaOf(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		return &image.Gray{Pix: m.Y[m.YOffset(b.Min.X, b.Min.Y):], Stride: m.YStride, Rect: image.Rect(0, 0, w, h)}
	case *image.Gray:
		return &image.Gray{Pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], Stride: m.Stride, Rect: image.Rect(0, 0, w, h)}
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	switch m := img.(type) {
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := g.Pix[y*g.Stride : y*g.Stride+w]
			for x := range out {
				p := row[4*x : 4*x+3 : 4*x+3]
				out[x] = luma8(p[0], p[1], p[2])
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			out := g.Pix[y*g.Stride : y*g.Stride+w]
			for x := range out {
				p := row[4*x : 4*x+3 : 4*x+3]
				out[x] = luma8(p[0], p[1], p[2])
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
				g.Pix[y*g.Stride+x] = c.Y
			}
		}
	}
	return g
}

// luma8 is the JFIF (BT.601, full range) luma of an sRGB pixel.
func luma8(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// colourSampler returns a fast per-pixel sRGB reader for img in frame coordinates
// (origin at the image's top-left). Coordinates must be inside the image.
func colourSampler(img image.Image) func(x, y int) (r, g, b uint8) {
	min := img.Bounds().Min
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) {
			x, y = x+min.X, y+min.Y
			return color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x+min.X, y+min.Y)
			return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	case *image.NRGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x+min.X, y+min.Y)
			return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x+min.X, y+min.Y)]
			return v, v, v
		}
	}
	return func(x, y int) (uint8, uint8, uint8) {
		c := color.RGBAModel.Convert(img.At(x+min.X, y+min.Y)).(color.RGBA)
		return c.R, c.G, c.B
	}
}

// halve box-averages 2×2 blocks (odd trailing rows and columns are dropped).
func halve(src *image.Gray) *image.Gray {
	w, h := src.Rect.Dx()/2, src.Rect.Dy()/2
	dst := image.NewGray(image.Rect(0, 0, max(w, 1), max(h, 1)))
	if w == 0 || h == 0 {
		return dst
	}
	for y := 0; y < h; y++ {
		r0 := src.Pix[2*y*src.Stride:]
		r1 := src.Pix[(2*y+1)*src.Stride:]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x := range out {
			out[x] = uint8((uint32(r0[2*x]) + uint32(r0[2*x+1]) + uint32(r1[2*x]) + uint32(r1[2*x+1]) + 2) >> 2)
		}
	}
	return dst
}

// bilinear samples g at real coordinates (pixel centres at integer+0.5 is NOT
// used: pixel (i, j) is at (i, j)), clamping to the border.
func bilinear(g *image.Gray, x, y float64) float64 {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	if x < 0 {
		x = 0
	} else if x > float64(w-1) {
		x = float64(w - 1)
	}
	if y < 0 {
		y = 0
	} else if y > float64(h-1) {
		y = float64(h - 1)
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	p := g.Pix
	s := g.Stride
	a := float64(p[y0*s+x0])*(1-fx) + float64(p[y0*s+x1])*fx
	c := float64(p[y1*s+x0])*(1-fx) + float64(p[y1*s+x1])*fx
	return a*(1-fy) + c*fy
}

// srgbToLinear maps an 8-bit sRGB value to linear light in [0, 1] (IEC 61966-2-1).
var srgbToLinear = func() (t [256]float64) {
	for i := range t {
		v := float64(i) / 255
		if v > 0.04045 {
			t[i] = math.Pow((v+0.055)/1.055, 2.4)
		} else {
			t[i] = v / 12.92
		}
	}
	return t
}()

// relLuminance is the relative luminance Y (BT.709 primaries, linear light) of an
// sRGB pixel quantised to 0..255, as ISO/IEC 29794-5 (OFIQ) computes it.
func relLuminance(r, g, b uint8) uint8 {
	y := 0.2126*srgbToLinear[r] + 0.7152*srgbToLinear[g] + 0.0722*srgbToLinear[b]
	return uint8(math.Floor(y*255 + 0.5))
}
