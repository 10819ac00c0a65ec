package nfiq2

import (
	"fmt"
	"image"
)

// gray is an 8-bit image with rows packed one after the other.
type gray struct {
	w, h int
	pix  []uint8
}

func (g *gray) at(x, y int) uint8 { return g.pix[y*g.w+x] }

// MinWidth and MinHeight are the smallest fingerprint area, in pixels at 500 ppi after
// the white frame is cropped, that NFIQ 2 scores (NIST's limits: a smaller image is an
// ErrInvalidImageSize). A 192×192 capacitive sensor such as the R503 is below them.
const (
	MinWidth  = 196
	MinHeight = 196
)

// NIST's white-frame cropping and the size limits of its minutiae extractor.
const (
	nearWhite = 250 // a border row or column whose mean is above this is cropped
	minWidth  = MinWidth
	maxWidth  = 800
	minHeight = MinHeight
	maxHeight = 1000
)

// cropWhiteFrame removes the near-white rows and columns around the print as NIST does:
// rows (then columns, both over the whole image) are dropped from each edge while their
// mean grey value is above 250. The result must be 196..800 wide and 196..1000 high.
func cropWhiteFrame(img *image.Gray) (*gray, image.Rectangle, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: empty image", ErrInvalidImageSize)
	}
	row := func(y int) []uint8 {
		o := img.PixOffset(b.Min.X, b.Min.Y+y)
		return img.Pix[o : o+w]
	}
	// NIST sums in an unsigned int and divides as double: exact for our sizes.
	rowMean := func(y int) float64 {
		s := uint64(0)
		for _, v := range row(y) {
			s += uint64(v)
		}
		return float64(s) / float64(w)
	}
	colSum := make([]uint64, w)
	for y := 0; y < h; y++ {
		for x, v := range row(y) {
			colSum[x] += uint64(v)
		}
	}
	colMean := func(x int) float64 { return float64(colSum[x]) / float64(h) }

	top := 0
	for ; top < h; top++ {
		if rowMean(top) <= nearWhite {
			break
		}
	}
	if top >= h {
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: all image rows appear to be blank", ErrInvalidImageSize)
	}
	bottom := h - 1
	for ; bottom >= top; bottom-- {
		if rowMean(bottom) <= nearWhite {
			break
		}
	}
	if bottom <= 0 {
		bottom = 0
	}
	left := 0
	for ; left < w; left++ {
		if colMean(left) <= nearWhite {
			break
		}
	}
	if left >= w {
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: all image columns appear to be blank", ErrInvalidImageSize)
	}
	right := w - 1
	for ; right >= left; right-- {
		if colMean(right) <= nearWhite {
			break
		}
	}
	if right <= 0 {
		right = 0
	}
	if right <= left || bottom <= top {
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: asked to inclusively crop from (%d,%d) to (%d,%d)",
			ErrInvalidImageSize, left, top, right, bottom)
	}
	cw, ch := right-left+1, bottom-top+1
	switch {
	case cw < minWidth:
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: width is too small after trimming whitespace (%dx%d, minimum width %d)", ErrInvalidImageSize, cw, ch, minWidth)
	case cw > maxWidth:
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: width is too large after trimming whitespace (%dx%d, maximum width %d)", ErrInvalidImageSize, cw, ch, maxWidth)
	case ch < minHeight:
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: height is too small after trimming whitespace (%dx%d, minimum height %d)", ErrInvalidImageSize, cw, ch, minHeight)
	case ch > maxHeight:
		return nil, image.Rectangle{}, fmt.Errorf("nfiq2: %w: height is too large after trimming whitespace (%dx%d, maximum height %d)", ErrInvalidImageSize, cw, ch, maxHeight)
	}
	g := &gray{w: cw, h: ch, pix: make([]uint8, cw*ch)}
	for y := 0; y < ch; y++ {
		copy(g.pix[y*cw:(y+1)*cw], row(top + y)[left:left+cw])
	}
	return g, image.Rect(b.Min.X+left, b.Min.Y+top, b.Min.X+right+1, b.Min.Y+bottom+1), nil
}

// toImage returns g as an *image.Gray sharing its pixels.
func (g *gray) toImage() *image.Gray {
	return &image.Gray{Pix: g.pix, Stride: g.w, Rect: image.Rect(0, 0, g.w, g.h)}
}
