package camera

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
)

// MaxDecodePixels bounds the size a JPEG frame may declare before it is decoded, so a
// corrupt or hostile frame cannot make the decoder allocate without limit.
const MaxDecodePixels = 8192 * 8192

// checkPacked validates a packed frame of bpp bytes per pixel and returns its stride.
func (f *Frame) checkPacked(bpp int) (int, error) {
	if f.Width <= 0 || f.Height <= 0 || f.Width > 16384 || f.Height > 16384 {
		return 0, fmt.Errorf("camera: %s frame has invalid size %dx%d", f.Format, f.Width, f.Height)
	}
	if f.Format == YUYV && f.Width%2 != 0 {
		return 0, fmt.Errorf("camera: YUYV frame width %d is odd", f.Width)
	}
	stride := f.Stride
	if stride == 0 {
		stride = bpp * f.Width
	}
	if stride < bpp*f.Width {
		return 0, fmt.Errorf("camera: %s frame stride %d is less than %d bytes per row", f.Format, stride, bpp*f.Width)
	}
	need := stride*(f.Height-1) + bpp*f.Width
	if len(f.Data) < need {
		return 0, fmt.Errorf("camera: %s frame has %d bytes, %dx%d needs %d", f.Format, len(f.Data), f.Width, f.Height, need)
	}
	return stride, nil
}

// Image decodes f: YUYV gives an *image.YCbCr (4:2:2, no colour conversion), MJPEG
// whatever image/jpeg returns (usually *image.YCbCr), GREY an *image.Gray.
func (f *Frame) Image() (image.Image, error) {
	switch f.Format {
	case YUYV:
		stride, err := f.checkPacked(2)
		if err != nil {
			return nil, err
		}
		dst := image.NewYCbCr(image.Rect(0, 0, f.Width, f.Height), image.YCbCrSubsampleRatio422)
		YUYVToYCbCr(dst, f.Data, stride)
		return dst, nil
	case MJPEG, JPEG:
		return DecodeJPEG(f.Data)
	case GREY:
		g, err := f.Gray()
		return g, err
	}
	return nil, fmt.Errorf("camera: cannot decode pixel format %s", f.Format)
}

// Gray returns the frame's luma as a new *image.Gray.
func (f *Frame) Gray() (*image.Gray, error) { return f.GrayTo(nil) }

// GrayTo writes the frame's luma into dst when dst has the frame's size (a preview loop
// reuses one buffer), else into a new image, and returns the image written.
func (f *Frame) GrayTo(dst *image.Gray) (*image.Gray, error) {
	switch f.Format {
	case YUYV, GREY:
		bpp := 2
		if f.Format == GREY {
			bpp = 1
		}
		stride, err := f.checkPacked(bpp)
		if err != nil {
			return nil, err
		}
		dst = reuseGray(dst, f.Width, f.Height)
		if bpp == 2 {
			YUYVToGray(dst, f.Data, stride)
		} else {
			for y := 0; y < f.Height; y++ {
				copy(dst.Pix[y*dst.Stride:y*dst.Stride+f.Width], f.Data[y*stride:])
			}
		}
		return dst, nil
	case MJPEG, JPEG:
		img, err := DecodeJPEG(f.Data)
		if err != nil {
			return nil, err
		}
		b := img.Bounds()
		switch m := img.(type) {
		case *image.Gray:
			if dst == nil {
				return m, nil
			}
			dst = reuseGray(dst, b.Dx(), b.Dy())
			draw.Draw(dst, dst.Rect, m, b.Min, draw.Src)
			return dst, nil
		case *image.YCbCr:
			if dst == nil {
				// The luma plane is the grey image; share it (the decoded image is ours).
				return &image.Gray{Pix: m.Y, Stride: m.YStride, Rect: image.Rect(0, 0, b.Dx(), b.Dy())}, nil
			}
			dst = reuseGray(dst, b.Dx(), b.Dy())
			for y := 0; y < b.Dy(); y++ {
				copy(dst.Pix[y*dst.Stride:y*dst.Stride+b.Dx()], m.Y[y*m.YStride:])
			}
			return dst, nil
		default:
			dst = reuseGray(dst, b.Dx(), b.Dy())
			draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
			return dst, nil
		}
	}
	return nil, fmt.Errorf("camera: cannot convert pixel format %s to grey", f.Format)
}

// RGBA returns the frame converted to a new *image.RGBA.
func (f *Frame) RGBA() (*image.RGBA, error) { return f.RGBATo(nil) }

// RGBATo converts the frame into dst when dst has the frame's size, else into a new
// image, and returns the image written.
func (f *Frame) RGBATo(dst *image.RGBA) (*image.RGBA, error) {
	switch f.Format {
	case YUYV:
		stride, err := f.checkPacked(2)
		if err != nil {
			return nil, err
		}
		dst = reuseRGBA(dst, f.Width, f.Height)
		YUYVToRGBA(dst, f.Data, stride)
		return dst, nil
	case GREY:
		g, err := f.Gray()
		if err != nil {
			return nil, err
		}
		dst = reuseRGBA(dst, f.Width, f.Height)
		draw.Draw(dst, dst.Rect, g, image.Point{}, draw.Src)
		return dst, nil
	case MJPEG, JPEG:
		img, err := DecodeJPEG(f.Data)
		if err != nil {
			return nil, err
		}
		b := img.Bounds()
		dst = reuseRGBA(dst, b.Dx(), b.Dy())
		if m, ok := img.(*image.YCbCr); ok {
			if YCbCrToRGBA(dst, m) {
				return dst, nil
			}
		}
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
		return dst, nil
	}
	return nil, fmt.Errorf("camera: cannot convert pixel format %s to RGBA", f.Format)
}

// EncodeJPEG writes f as a JPEG file: an MJPEG frame as it came (with the standard
// Huffman tables added when it has none), anything else encoded at quality.
func (f *Frame) EncodeJPEG(w io.Writer, quality int) error {
	if f.Format == MJPEG || f.Format == JPEG {
		data, err := WithStandardHuffman(f.Data)
		if err != nil {
			return err
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil {
			return fmt.Errorf("camera: MJPEG frame: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	img, err := f.Image()
	if err != nil {
		return err
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: quality})
}

func reuseGray(dst *image.Gray, w, h int) *image.Gray {
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		return image.NewGray(image.Rect(0, 0, w, h))
	}
	if dst.Rect.Min != (image.Point{}) {
		dst = &image.Gray{Pix: dst.Pix, Stride: dst.Stride, Rect: image.Rect(0, 0, w, h)}
	}
	return dst
}

func reuseRGBA(dst *image.RGBA, w, h int) *image.RGBA {
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h || dst.Rect.Min != (image.Point{}) {
		return image.NewRGBA(image.Rect(0, 0, w, h))
	}
	return dst
}

// DecodeJPEG decodes one MJPEG frame or JPEG file. Frames without Huffman tables get the
// standard ones; a frame declaring more than MaxDecodePixels is refused before decoding.
func DecodeJPEG(data []byte) (image.Image, error) {
	data, err := WithStandardHuffman(data)
	if err != nil {
		return nil, err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("camera: MJPEG frame: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxDecodePixels {
		return nil, fmt.Errorf("camera: MJPEG frame declares %dx%d, over the %d-pixel limit", cfg.Width, cfg.Height, MaxDecodePixels)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("camera: MJPEG frame: %w", err)
	}
	return img, nil
}

// YUYVToGray copies the luma of a packed YUYV image (stride bytes per row) into dst,
// whose bounds give the size.
func YUYVToGray(dst *image.Gray, src []byte, stride int) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	for y := 0; y < h; y++ {
		s := src[y*stride : y*stride+2*w]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		// Four pixels per step: the compiler keeps this free of bounds checks.
		x := 0
		for ; x+4 <= w; x += 4 {
			q := s[2*x : 2*x+8 : 2*x+8]
			e := d[x : x+4 : x+4]
			e[0], e[1], e[2], e[3] = q[0], q[2], q[4], q[6]
		}
		for ; x < w; x++ {
			d[x] = s[2*x]
		}
	}
}

// YUYVToYCbCr splits a packed YUYV image into dst's planes; dst must be 4:2:2.
func YUYVToYCbCr(dst *image.YCbCr, src []byte, stride int) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	for y := 0; y < h; y++ {
		s := src[y*stride : y*stride+2*w]
		yp := dst.Y[y*dst.YStride : y*dst.YStride+w]
		cb := dst.Cb[y*dst.CStride : y*dst.CStride+w/2]
		cr := dst.Cr[y*dst.CStride : y*dst.CStride+w/2]
		for i := range cb {
			q := s[4*i : 4*i+4 : 4*i+4]
			yp[2*i], cb[i], yp[2*i+1], cr[i] = q[0], q[1], q[2], q[3]
		}
	}
	// YUYV from UVC cameras is BT.601 limited range, image.YCbCr expects full range
	// (JFIF). Expand in place so colours are right when the image is re-encoded.
	expandLimitedRange(dst)
}

// lumaFull and chromaFull map limited (studio) range to full range.
var lumaFull, chromaFull = rangeTables()

func rangeTables() (l, c [256]uint8) {
	for i := range 256 {
		// Rounded: 255*(i-16)/219 and 128 + 255*(i-128)/224.
		l[i] = clamp8(int32((2*255*(i-16) + 219) / (2 * 219)))
		c[i] = clamp8(int32(128 + roundDiv(255*(i-128), 224)))
	}
	return l, c
}

func roundDiv(a, b int) int {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}

func expandLimitedRange(m *image.YCbCr) {
	for i, v := range m.Y {
		m.Y[i] = lumaFull[v]
	}
	for i, v := range m.Cb {
		m.Cb[i] = chromaFull[v]
	}
	for i, v := range m.Cr {
		m.Cr[i] = chromaFull[v]
	}
}

func clamp8(x int32) uint8 {
	if uint32(x) <= 255 {
		return uint8(x)
	}
	if x < 0 {
		return 0
	}
	return 255
}

// YUYVToRGBA converts a packed YUYV image (BT.601 limited range, stride bytes per row)
// into dst, whose bounds give the size. Alpha is opaque.
func YUYVToRGBA(dst *image.RGBA, src []byte, stride int) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	for y := 0; y < h; y++ {
		s := src[y*stride : y*stride+2*w]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for i := 0; i+1 < w; i += 2 {
			q := s[2*i : 2*i+4 : 2*i+4]
			e := d[4*i : 4*i+8 : 4*i+8]
			// Integer BT.601: R = 1.164(Y-16) + 1.596(V-128), etc., in 8.8 fixed point.
			du, dv := int32(q[1])-128, int32(q[3])-128
			rv := 409*dv + 128
			guv := -100*du - 208*dv + 128
			bu := 516*du + 128
			c0 := 298 * (int32(q[0]) - 16)
			c1 := 298 * (int32(q[2]) - 16)
			e[0], e[1], e[2], e[3] = clamp8((c0+rv)>>8), clamp8((c0+guv)>>8), clamp8((c0+bu)>>8), 255
			e[4], e[5], e[6], e[7] = clamp8((c1+rv)>>8), clamp8((c1+guv)>>8), clamp8((c1+bu)>>8), 255
		}
	}
}

// YCbCrToRGBA converts a full-range (JFIF) YCbCr image to RGBA in dst, which must have
// src's size. It handles the 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1 and 4:1:0 layouts and
// returns false for anything else (the caller then falls back to image/draw).
func YCbCrToRGBA(dst *image.RGBA, src *image.YCbCr) bool {
	var hs, vs int
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 0, 0
	case image.YCbCrSubsampleRatio422:
		hs, vs = 1, 0
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		hs, vs = 0, 1
	case image.YCbCrSubsampleRatio411:
		hs, vs = 2, 0
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		return false
	}
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	if dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		return false
	}
	// Chroma sample of pixel (x, y) relative to b.Min, as image.YCbCr.COffset defines it.
	cx0, cy0 := b.Min.X>>hs, b.Min.Y>>vs
	for y := 0; y < h; y++ {
		yrow := src.Y[(y)*src.YStride : (y)*src.YStride+w]
		crow := ((b.Min.Y+y)>>vs - cy0) * src.CStride
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		for x := 0; x < w; x++ {
			ci := crow + ((b.Min.X+x)>>hs - cx0)
			yy := int32(yrow[x]) << 16
			cb, cr := int32(src.Cb[ci])-128, int32(src.Cr[ci])-128
			// JFIF: R = Y + 1.402 Cr, G = Y - 0.344136 Cb - 0.714136 Cr, B = Y + 1.772 Cb.
			r := (yy + 91881*cr + 1<<15) >> 16
			g := (yy - 22554*cb - 46802*cr + 1<<15) >> 16
			bb := (yy + 116130*cb + 1<<15) >> 16
			e := d[4*x : 4*x+4 : 4*x+4]
			e[0], e[1], e[2], e[3] = clamp8(r), clamp8(g), clamp8(bb), 255
		}
	}
	return true
}

// FromImage builds a frame of format p from img (YUYV, GREY or MJPEG at quality 90),
// the inverse of the conversions above. Simulators and tests use it.
func FromImage(img image.Image, p PixelFormat) (*Frame, error) {
	b := img.Bounds()
	f := &Frame{Format: p, Width: b.Dx(), Height: b.Dy()}
	switch p {
	case YUYV:
		if f.Width%2 != 0 {
			return nil, fmt.Errorf("camera: YUYV needs an even width, got %d", f.Width)
		}
		f.Data = make([]byte, 2*f.Width*f.Height)
		rgba, ok := img.(*image.RGBA)
		if !ok {
			rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
			draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		}
		RGBAToYUYV(f.Data, rgba)
	case GREY:
		f.Data = make([]byte, f.Width*f.Height)
		g := &image.Gray{Pix: f.Data, Stride: f.Width, Rect: image.Rect(0, 0, f.Width, f.Height)}
		draw.Draw(g, g.Rect, img, b.Min, draw.Src)
	case MJPEG, JPEG:
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			return nil, fmt.Errorf("camera: encode JPEG: %w", err)
		}
		f.Data = buf.Bytes()
	default:
		return nil, fmt.Errorf("camera: cannot encode pixel format %s", p)
	}
	return f, nil
}

// RGBAToYUYV packs src (even width, Min at the origin) into dst as BT.601 limited-range
// YUYV, averaging the chroma of each horizontal pair.
func RGBAToYUYV(dst []byte, src *image.RGBA) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y++ {
		s := src.Pix[y*src.Stride : y*src.Stride+4*w]
		d := dst[y*2*w : y*2*w+2*w]
		for i := 0; i+1 < w; i += 2 {
			p := s[4*i : 4*i+8 : 4*i+8]
			r0, g0, b0 := int32(p[0]), int32(p[1]), int32(p[2])
			r1, g1, b1 := int32(p[4]), int32(p[5]), int32(p[6])
			// Y = 16 + (66R + 129G + 25B)/256; chroma from the pair's mean.
			y0 := (66*r0 + 129*g0 + 25*b0 + 128) >> 8
			y1 := (66*r1 + 129*g1 + 25*b1 + 128) >> 8
			r, g, b := r0+r1, g0+g1, b0+b1
			u := (-38*r - 74*g + 112*b + 256) >> 9
			v := (112*r - 94*g - 18*b + 256) >> 9
			q := d[2*i : 2*i+4 : 2*i+4]
			q[0], q[1], q[2], q[3] = clamp8(y0+16), clamp8(u+128), clamp8(y1+16), clamp8(v+128)
		}
	}
}
