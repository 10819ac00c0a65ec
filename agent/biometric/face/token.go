package face

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"

	"github.com/captura-claim/captura/protocol/iso19794/fac"
)

// TokenJPEGQuality is the JPEG quality the token image is written with: 90 keeps
// skin texture and eye detail at a token of 480×640 in roughly 40–60 kB.
const TokenJPEGQuality = 90

// MinTokenWidth is the smallest token image ISO/IEC 19794-5 allows (240 pixels,
// i.e. 60 pixels between the eyes).
const MinTokenWidth = 240

// TokenPad is the neutral grey that fills token pixels falling outside the
// source image.
var TokenPad = color.RGBA{128, 128, 128, 255}

// ErrNoFace is returned by TokenCrop for a report without a face.
var ErrNoFace = errors.New("face: no face in the report")

// TokenCrop cuts the ISO/IEC 19794-5 token frontal image out of img using the
// eye centres of rep (which must come from analysing img): width W, height
// W/0.75, the subject's right eye at (0.375·W, 0.6·W) and the left eye at
// (0.625·W − 1, 0.6·W), x to the right and y down from the top-left corner, so
// the eyes are 0.25·W apart and level (the crop undoes the head's roll). W is
// width when positive, else four times the measured inter-eye distance (the
// native resolution), and never below MinTokenWidth. Pixels outside img are
// TokenPad.
func TokenCrop(img image.Image, rep *Report, width int) (*image.RGBA, error) {
	if rep == nil || !rep.Found || rep.RightEye == nil || rep.LeftEye == nil {
		return nil, ErrNoFace
	}
	if img == nil || img.Bounds().Empty() {
		return nil, ErrEmptyImage
	}
	if b := img.Bounds(); b.Dx() != rep.Width || b.Dy() != rep.Height {
		return nil, fmt.Errorf("face: image is %dx%d but the report is for %dx%d", b.Dx(), b.Dy(), rep.Width, rep.Height)
	}
	w := width
	if w <= 0 {
		w = int(math.Round(4 * rep.InterEye))
	}
	w = max(w, MinTokenWidth)
	if w > 8192 {
		return nil, fmt.Errorf("face: token width %d too large", w)
	}
	h := int(math.Round(float64(w) / 0.75))
	// Destination eye positions and the similarity transform dst → src.
	dr := Point{0.375 * float64(w), 0.6 * float64(w)}
	dl := Point{0.625*float64(w) - 1, 0.6 * float64(w)}
	sr, sl := *rep.RightEye, *rep.LeftEye
	dd := math.Hypot(dl.X-dr.X, dl.Y-dr.Y)
	sd := math.Hypot(sl.X-sr.X, sl.Y-sr.Y)
	if sd == 0 {
		return nil, errors.New("face: the eyes coincide")
	}
	scale := sd / dd
	ang := math.Atan2(sl.Y-sr.Y, sl.X-sr.X)
	cs, sn := scale*math.Cos(ang), scale*math.Sin(ang)
	// src = sr + R·(dst − dr)
	sample := colourSampler(img)
	b := img.Bounds()
	iw, ih := b.Dx(), b.Dy()
	n := min(max(int(math.Ceil(scale)), 1), 4) // supersampling when shrinking
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc [3]float64
			cnt := 0.0
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					dx := float64(x) + (float64(sx)+0.5)/float64(n) - 0.5 - dr.X
					dy := float64(y) + (float64(sy)+0.5)/float64(n) - 0.5 - dr.Y
					px := sr.X + cs*dx - sn*dy
					py := sr.Y + sn*dx + cs*dy
					r, g, bb, ok := bilinearRGB(sample, iw, ih, px, py)
					if !ok {
						r, g, bb = float64(TokenPad.R), float64(TokenPad.G), float64(TokenPad.B)
					}
					acc[0] += r
					acc[1] += g
					acc[2] += bb
					cnt++
				}
			}
			i := y*out.Stride + 4*x
			out.Pix[i] = uint8(acc[0]/cnt + 0.5)
			out.Pix[i+1] = uint8(acc[1]/cnt + 0.5)
			out.Pix[i+2] = uint8(acc[2]/cnt + 0.5)
			out.Pix[i+3] = 255
		}
	}
	return out, nil
}

func bilinearRGB(sample func(x, y int) (uint8, uint8, uint8), w, h int, x, y float64) (r, g, b float64, ok bool) {
	if x < -0.5 || y < -0.5 || x > float64(w)-0.5 || y > float64(h)-0.5 {
		return 0, 0, 0, false
	}
	x = math.Max(0, math.Min(x, float64(w-1)))
	y = math.Max(0, math.Min(y, float64(h-1)))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	r00, g00, b00 := sample(x0, y0)
	r10, g10, b10 := sample(x1, y0)
	r01, g01, b01 := sample(x0, y1)
	r11, g11, b11 := sample(x1, y1)
	mix := func(a, b, c, d uint8) float64 {
		return (float64(a)*(1-fx)+float64(b)*fx)*(1-fy) + (float64(c)*(1-fx)+float64(d)*fx)*fy
	}
	return mix(r00, r10, r01, r11), mix(g00, g10, g01, g11), mix(b00, b10, b01, b11), true
}

// WriteTokenJPEG crops the token image and writes it as a JPEG at
// TokenJPEGQuality.
func WriteTokenJPEG(w io.Writer, img image.Image, rep *Report, width int) error {
	t, err := TokenCrop(img, rep, width)
	if err != nil {
		return err
	}
	if err := jpeg.Encode(w, t, &jpeg.Options{Quality: TokenJPEGQuality}); err != nil {
		return fmt.Errorf("face: %w", err)
	}
	return nil
}

// TokenRecord crops the token image, encodes it as JPEG at TokenJPEGQuality and
// wraps it in an ISO/IEC 19794-5:2005 record: face image type token frontal,
// source "digital video frame", the eye centres as feature points 3.5 (left) and
// 3.6 (right) in token coordinates, pose and subject attributes unspecified.
func TokenRecord(img image.Image, rep *Report, width int) ([]byte, error) {
	var buf bytes.Buffer
	t, err := TokenCrop(img, rep, width)
	if err != nil {
		return nil, err
	}
	if err := jpeg.Encode(&buf, t, &jpeg.Options{Quality: TokenJPEGQuality}); err != nil {
		return nil, fmt.Errorf("face: %w", err)
	}
	w := t.Rect.Dx()
	right := image.Point{int(math.Round(0.375 * float64(w))), int(math.Round(0.6 * float64(w)))}
	left := image.Point{int(math.Round(0.625*float64(w))) - 1, right.Y}
	im, err := fac.NewJPEGImage(buf.Bytes(), fac.TypeTokenFrontal, &left, &right)
	if err != nil {
		return nil, err
	}
	im.SourceType = fac.SourceDigitalVideo
	return fac.Encode(&fac.Record{Images: []fac.Image{im}})
}
