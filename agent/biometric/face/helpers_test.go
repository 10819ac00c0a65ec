package face

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// sharedDir finds ../shared beside the repository by walking up from the test's
// working directory; "" when absent.
func sharedDir() string {
	d, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(d, "..", "shared", "data", "faces")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return filepath.Join(d, "..", "shared")
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func toRGBA(m image.Image) *image.RGBA {
	b := m.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(x, y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// mapPixels applies fn to every colour channel of every pixel.
func mapPixels(src *image.RGBA, fn func(v float64) float64) *image.RGBA {
	out := image.NewRGBA(src.Rect)
	for i := 0; i < len(src.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			out.Pix[i+c] = clamp8(fn(float64(src.Pix[i+c])))
		}
		out.Pix[i+3] = 255
	}
	return out
}

func clamp8(v float64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// sampleRGBA reads src bilinearly at (x, y) with edge clamping.
func sampleRGBA(src *image.RGBA, x, y float64) [3]float64 {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	x = math.Max(0, math.Min(x, float64(w-1)))
	y = math.Max(0, math.Min(y, float64(h-1)))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	var out [3]float64
	for c := 0; c < 3; c++ {
		p := func(xx, yy int) float64 { return float64(src.Pix[yy*src.Stride+4*xx+c]) }
		out[c] = (p(x0, y0)*(1-fx)+p(x1, y0)*fx)*(1-fy) + (p(x0, y1)*(1-fx)+p(x1, y1)*fx)*fy
	}
	return out
}

// warp builds a w×h image whose pixel (x, y) is src at inv(x, y).
func warp(src *image.RGBA, w, h int, inv func(x, y float64) (float64, float64)) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := inv(float64(x), float64(y))
			v := sampleRGBA(src, sx, sy)
			i := y*out.Stride + 4*x
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = clamp8(v[0]), clamp8(v[1]), clamp8(v[2]), 255
		}
	}
	return out
}

// rotate turns src by deg degrees (counter-clockwise on screen) about (cx, cy).
func rotate(src *image.RGBA, deg, cx, cy float64) *image.RGBA {
	s, c := math.Sincos(deg * math.Pi / 180)
	return warp(src, src.Rect.Dx(), src.Rect.Dy(), func(x, y float64) (float64, float64) {
		dx, dy := x-cx, y-cy
		return cx + c*dx - s*dy, cy + s*dx + c*dy
	})
}

// shift moves the content by (dx, dy) pixels, repeating the edge pixels.
func shift(src *image.RGBA, dx, dy float64) *image.RGBA {
	return warp(src, src.Rect.Dx(), src.Rect.Dy(), func(x, y float64) (float64, float64) { return x - dx, y - dy })
}

// resize scales src by f with area averaging (f < 1) or bilinear interpolation.
func resize(src *image.RGBA, f float64) *image.RGBA {
	w, h := int(float64(src.Rect.Dx())*f), int(float64(src.Rect.Dy())*f)
	if f >= 1 {
		return warp(src, w, h, func(x, y float64) (float64, float64) { return (x+0.5)/f - 0.5, (y+0.5)/f - 0.5 })
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := int(float64(y)/f), max(int(float64(y+1)/f), int(float64(y)/f)+1)
		for x := 0; x < w; x++ {
			x0, x1 := int(float64(x)/f), max(int(float64(x+1)/f), int(float64(x)/f)+1)
			var acc [3]float64
			n := 0.0
			for yy := y0; yy < min(y1, src.Rect.Dy()); yy++ {
				for xx := x0; xx < min(x1, src.Rect.Dx()); xx++ {
					i := yy*src.Stride + 4*xx
					acc[0] += float64(src.Pix[i])
					acc[1] += float64(src.Pix[i+1])
					acc[2] += float64(src.Pix[i+2])
					n++
				}
			}
			i := y*out.Stride + 4*x
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = clamp8(acc[0]/n), clamp8(acc[1]/n), clamp8(acc[2]/n), 255
		}
	}
	return out
}

// gaussianBlur approximates a Gaussian blur of standard deviation sigma by three
// passes of a box filter in each direction (running sums, edge pixels repeated).
func gaussianBlur(src *image.RGBA, sigma float64) *image.RGBA {
	// Three boxes of width 2r+1 have variance 3·((2r+1)²−1)/12 = r(r+1).
	r := max(int(math.Round((math.Sqrt(1+4*sigma*sigma)-1)/2)), 1)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	buf := make([][3]float64, w*h)
	for i := range buf {
		p := src.Pix[(i/w)*src.Stride+4*(i%w):]
		buf[i] = [3]float64{float64(p[0]), float64(p[1]), float64(p[2])}
	}
	line := func(get func(i int) [3]float64, set func(i int, v [3]float64), n int) {
		tmp := make([][3]float64, n)
		for i := range tmp {
			tmp[i] = get(i)
		}
		var acc [3]float64
		at := func(i int) [3]float64 { return tmp[min(max(i, 0), n-1)] }
		for i := -r; i <= r; i++ {
			v := at(i)
			for c := range acc {
				acc[c] += v[c]
			}
		}
		for i := 0; i < n; i++ {
			var out [3]float64
			for c := range acc {
				out[c] = acc[c] / float64(2*r+1)
			}
			set(i, out)
			a, b := at(i+r+1), at(i-r)
			for c := range acc {
				acc[c] += a[c] - b[c]
			}
		}
	}
	for pass := 0; pass < 3; pass++ {
		for y := 0; y < h; y++ {
			line(func(i int) [3]float64 { return buf[y*w+i] }, func(i int, v [3]float64) { buf[y*w+i] = v }, w)
		}
		for x := 0; x < w; x++ {
			line(func(i int) [3]float64 { return buf[i*w+x] }, func(i int, v [3]float64) { buf[i*w+x] = v }, h)
		}
	}
	out := image.NewRGBA(src.Rect)
	for i, v := range buf {
		p := out.Pix[(i/w)*out.Stride+4*(i%w):]
		p[0], p[1], p[2], p[3] = clamp8(v[0]), clamp8(v[1]), clamp8(v[2]), 255
	}
	return out
}

// jpegRoundTrip encodes and decodes m, giving the *image.YCbCr a camera's MJPEG
// stream or a JPEG file decodes to.
func jpegRoundTrip(t testing.TB, m image.Image, q int) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canvas places m, scaled by f, centred on a w×h frame filled with a plain colour.
func canvas(m *image.RGBA, w, h int, f float64, bg color.RGBA) *image.RGBA {
	sm := m
	if f != 1 {
		sm = resize(m, f)
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(out.Pix); i += 4 {
		out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = bg.R, bg.G, bg.B, 255
	}
	ox, oy := (w-sm.Rect.Dx())/2, (h-sm.Rect.Dy())/2
	for y := 0; y < sm.Rect.Dy(); y++ {
		if y+oy < 0 || y+oy >= h {
			continue
		}
		for x := 0; x < sm.Rect.Dx(); x++ {
			if x+ox < 0 || x+ox >= w {
				continue
			}
			copy(out.Pix[(y+oy)*out.Stride+4*(x+ox):][:4], sm.Pix[y*sm.Stride+4*x:][:4])
		}
	}
	return out
}
