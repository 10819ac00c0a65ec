// Package fpimage reads and writes the grey image files fingerprint tools exchange:
// PGM (P2 and P5), PNG, TIFF and raw 8-bit grey of a known size. Colour inputs are
// converted to grey with ITU-R BT.601 luma, as image/color does.
package fpimage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/image/tiff"
)

// MaxPixels bounds the images this package decodes (a 16-megapixel image is far larger
// than any fingerprint sensor delivers); it keeps hostile headers from exhausting memory.
const MaxPixels = 16 << 20

// Opts says how to read files that do not describe themselves.
type Opts struct {
	// Width and Height are the size of raw files (no header). Zero means "not raw".
	Width, Height int
}

// ReadFile reads an image file; the format comes from the content (PGM, PNG, TIFF), or
// is raw when opts gives a size.
func ReadFile(path string, opts *Opts) (*image.Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := Decode(bufio.NewReader(f), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return img, nil
}

// Decode reads one image from r.
func Decode(r io.Reader, opts *Opts) (*image.Gray, error) {
	if opts != nil && (opts.Width > 0 || opts.Height > 0) {
		return decodeRaw(r, opts.Width, opts.Height)
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	magic, err := br.Peek(4)
	if err != nil && len(magic) < 2 {
		return nil, errors.New("fpimage: file too short to hold an image")
	}
	switch {
	case magic[0] == 'P' && (magic[1] == '5' || magic[1] == '2'):
		return decodePGM(br)
	case bytes.HasPrefix(magic, []byte("\x89PNG")):
		cfg, err := png.DecodeConfig(bytes.NewReader(mustPeekAll(br)))
		if err != nil {
			return nil, fmt.Errorf("fpimage: png: %w", err)
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, err
		}
		img, err := png.Decode(br)
		if err != nil {
			return nil, fmt.Errorf("fpimage: png: %w", err)
		}
		return ToGray(img), nil
	case bytes.HasPrefix(magic, []byte("II*\x00")) || bytes.HasPrefix(magic, []byte("MM\x00*")):
		data, err := io.ReadAll(io.LimitReader(br, 4*MaxPixels+1<<20))
		if err != nil {
			return nil, fmt.Errorf("fpimage: tiff: %w", err)
		}
		cfg, err := tiff.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("fpimage: tiff: %w", err)
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, err
		}
		img, err := tiff.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("fpimage: tiff: %w", err)
		}
		return ToGray(img), nil
	}
	return nil, errors.New("fpimage: unknown format (want PGM, PNG or TIFF, or raw with a size)")
}

// mustPeekAll returns what br has buffered so far (enough for a PNG header).
func mustPeekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	if len(b) < 33 {
		b, _ = br.Peek(33)
	}
	return b
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("fpimage: bad image size %dx%d", w, h)
	}
	// Each side first: the product of two sides read from a header can overflow.
	if w > MaxPixels || h > MaxPixels || int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("fpimage: image of %dx%d pixels exceeds the limit of %d", w, h, MaxPixels)
	}
	return nil
}

func decodeRaw(r io.Reader, w, h int) (*image.Gray, error) {
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	n, err := io.ReadFull(r, img.Pix)
	if err != nil {
		return nil, fmt.Errorf("fpimage: raw %dx%d needs %d bytes, got %d", w, h, w*h, n)
	}
	var extra [1]byte
	if m, _ := r.Read(extra[:]); m > 0 {
		return nil, fmt.Errorf("fpimage: raw file is longer than %dx%d = %d bytes", w, h, w*h)
	}
	return img, nil
}

// decodePGM reads a Netpbm grey map, binary (P5) or plain (P2), 8-bit or 16-bit.
func decodePGM(br *bufio.Reader) (*image.Gray, error) {
	var hdr [4]int // magic digit, width, height, maxval
	magic := make([]byte, 2)
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, errors.New("fpimage: pgm: truncated header")
	}
	hdr[0] = int(magic[1] - '0')
	for i := 1; i < 4; i++ {
		tok, err := pgmToken(br)
		if err != nil {
			return nil, fmt.Errorf("fpimage: pgm: header field %d: %w", i, err)
		}
		v, err := strconv.Atoi(tok)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("fpimage: pgm: header field %d is %q, want a positive integer", i, tok)
		}
		hdr[i] = v
	}
	w, h, maxval := hdr[1], hdr[2], hdr[3]
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	if maxval > 65535 {
		return nil, fmt.Errorf("fpimage: pgm: maxval %d out of range", maxval)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	scale := func(v int) uint8 {
		if maxval == 255 {
			return uint8(v)
		}
		return uint8((v*255 + maxval/2) / maxval)
	}
	if hdr[0] == 2 {
		for i := range img.Pix {
			tok, err := pgmToken(br)
			if err != nil {
				return nil, fmt.Errorf("fpimage: pgm: pixel %d of %d: %w", i, len(img.Pix), err)
			}
			v, err := strconv.Atoi(tok)
			if err != nil || v < 0 || v > maxval {
				return nil, fmt.Errorf("fpimage: pgm: pixel %d is %q, want 0..%d", i, tok, maxval)
			}
			img.Pix[i] = scale(v)
		}
		return img, nil
	}
	// P5: exactly one whitespace byte follows maxval (consumed by pgmToken).
	if maxval < 256 {
		if n, err := io.ReadFull(br, img.Pix); err != nil {
			return nil, fmt.Errorf("fpimage: pgm: truncated raster: %d of %d bytes", n, len(img.Pix))
		}
		if maxval != 255 {
			for i, v := range img.Pix {
				if int(v) > maxval {
					return nil, fmt.Errorf("fpimage: pgm: pixel %d is %d, above maxval %d", i, v, maxval)
				}
				img.Pix[i] = scale(int(v))
			}
		}
		return img, nil
	}
	buf := make([]byte, 2*w)
	for y := 0; y < h; y++ {
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("fpimage: pgm: truncated raster at row %d of %d", y, h)
		}
		for x := 0; x < w; x++ {
			v := int(buf[2*x])<<8 | int(buf[2*x+1])
			if v > maxval {
				return nil, fmt.Errorf("fpimage: pgm: pixel (%d,%d) is %d, above maxval %d", x, y, v, maxval)
			}
			img.Pix[y*w+x] = scale(v)
		}
	}
	return img, nil
}

// pgmToken reads one whitespace-separated token, skipping '#' comments, and consumes the
// single whitespace byte that ends it.
func pgmToken(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		c, err := br.ReadByte()
		if err != nil {
			if sb.Len() > 0 && err == io.EOF {
				return sb.String(), nil
			}
			return "", errors.New("unexpected end of file")
		}
		switch {
		case c == '#' && sb.Len() == 0:
			if _, err := br.ReadString('\n'); err != nil {
				return "", errors.New("unexpected end of file in a comment")
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			if sb.Len() > 0 {
				return sb.String(), nil
			}
		default:
			if sb.Len() >= 12 {
				return "", errors.New("token too long")
			}
			sb.WriteByte(c)
		}
	}
}

// ToGray converts any image to 8-bit grey with its origin at (0, 0).
func ToGray(img image.Image) *image.Gray {
	b := img.Bounds()
	if g, ok := img.(*image.Gray); ok && b.Min == (image.Point{}) && g.Stride == b.Dx() {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if _, ok := img.(*image.Gray); ok {
		draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
		return out
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Pix[y*out.Stride+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return out
}

// EncodePGM writes img as a binary (P5) 8-bit PGM.
func EncodePGM(w io.Writer, img *image.Gray) error {
	b := img.Bounds()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "P5\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		off := img.PixOffset(b.Min.X, y)
		bw.Write(img.Pix[off : off+b.Dx()])
	}
	return bw.Flush()
}
