package fpsim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/captura-claim/captura/drivers/fingerprint/fpimage"
)

// Source supplies what the simulated sensor sees. Frame returns the image for the given
// placement (0, 1, ... each time a finger comes down) and frame (0, 1, ... each image
// taken during that placement), in any size: the simulator fits it to the sensor (see
// Fit) and reduces it to the module's bit depth. A source may vary frames within a
// placement (a live finger moves and presses differently) or not (a static mould), and may
// serve any finger per placement, which is where presentation-attack models plug in.
type Source interface {
	Frame(placement, frame int) (*image.Gray, error)
}

// PPIer is implemented by sources whose images are not at DefaultSourcePPI.
type PPIer interface {
	PPI() int
}

// DefaultSourcePPI is the resolution assumed for source images (SFinGe and most
// fingerprint test sets are 500 ppi).
const DefaultSourcePPI = 500

// SourceFunc adapts a function to Source.
type SourceFunc func(placement, frame int) (*image.Gray, error)

// Frame implements Source.
func (f SourceFunc) Frame(placement, frame int) (*image.Gray, error) { return f(placement, frame) }

// Sensor is the geometry of a module's delivered image.
type Sensor struct {
	Width, Height int
	PPI           int
}

// SourcePPI is src's resolution.
func SourcePPI(src Source) int {
	if p, ok := src.(PPIer); ok && p.PPI() > 0 {
		return p.PPI()
	}
	return DefaultSourcePPI
}

// Fit maps img (at srcPPI) onto the sensor: it scales by sensor.PPI/srcPPI (bilinear) and
// keeps the centre, filling with white (no ridge) where the source is smaller than the
// sensor. At equal resolutions it is an exact centre crop.
func Fit(img *image.Gray, srcPPI int, s Sensor) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, s.Width, s.Height))
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if srcPPI <= 0 {
		srcPPI = DefaultSourcePPI
	}
	if s.PPI == srcPPI || s.PPI <= 0 {
		ox, oy := (sw-s.Width)/2, (sh-s.Height)/2
		for y := 0; y < s.Height; y++ {
			for x := 0; x < s.Width; x++ {
				sx, sy := x+ox, y+oy
				v := uint8(255)
				if sx >= 0 && sy >= 0 && sx < sw && sy < sh {
					v = img.Pix[sy*img.Stride+sx]
				}
				out.Pix[y*out.Stride+x] = v
			}
		}
		return out
	}
	f := float64(s.PPI) / float64(srcPPI)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= sw || y >= sh {
			return 255
		}
		return float64(img.GrayAt(b.Min.X+x, b.Min.Y+y).Y)
	}
	for y := 0; y < s.Height; y++ {
		fy := (float64(y)+0.5-float64(s.Height)/2)/f + float64(sh)/2 - 0.5
		y0 := int(math.Floor(fy))
		wy := fy - float64(y0)
		for x := 0; x < s.Width; x++ {
			fx := (float64(x)+0.5-float64(s.Width)/2)/f + float64(sw)/2 - 0.5
			x0 := int(math.Floor(fx))
			wx := fx - float64(x0)
			v := (1-wy)*((1-wx)*at(x0, y0)+wx*at(x0+1, y0)) + wy*((1-wx)*at(x0, y0+1)+wx*at(x0+1, y0+1))
			out.Pix[y*out.Stride+x] = uint8(math.Round(v))
		}
	}
	return out
}

// DirSource serves the images of a directory (PGM, PNG, TIFF; sorted by name): placement
// p shows file p modulo the number of files. With Jitter, frames after the first of a
// placement are shifted by up to 2 pixels and get a little sensor noise, deterministically
// from Seed, as a live finger pressed twice would.
type DirSource struct {
	Files  []string
	Res    int // resolution of the files, DefaultSourcePPI when 0
	Jitter bool
	Seed   uint64

	mu    sync.Mutex
	cache map[int]*image.Gray
}

// NewDirSource lists the images in dir.
func NewDirSource(dir string) (*DirSource, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fpsim: images: %w", err)
	}
	var files []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".pgm", ".png", ".tif", ".tiff":
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("fpsim: no PGM, PNG or TIFF images in %s", dir)
	}
	sort.Strings(files)
	return &DirSource{Files: files, Jitter: true}, nil
}

// PPI implements PPIer.
func (d *DirSource) PPI() int {
	if d.Res > 0 {
		return d.Res
	}
	return DefaultSourcePPI
}

// Frame implements Source.
func (d *DirSource) Frame(placement, frame int) (*image.Gray, error) {
	if len(d.Files) == 0 {
		return nil, errors.New("fpsim: directory source has no files")
	}
	i := placement % len(d.Files)
	if i < 0 {
		i += len(d.Files)
	}
	d.mu.Lock()
	if d.cache == nil {
		d.cache = map[int]*image.Gray{}
	}
	img, ok := d.cache[i]
	d.mu.Unlock()
	if !ok {
		var err error
		img, err = fpimage.ReadFile(d.Files[i], nil)
		if err != nil {
			return nil, fmt.Errorf("fpsim: %w", err)
		}
		d.mu.Lock()
		d.cache[i] = img
		d.mu.Unlock()
	}
	if !d.Jitter || frame == 0 {
		return img, nil
	}
	return jitter(img, d.Seed, placement, frame), nil
}

func jitter(img *image.Gray, seed uint64, placement, frame int) *image.Gray {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d", seed, placement, frame)
	r := rand.New(rand.NewPCG(h.Sum64(), seed))
	dx, dy := r.IntN(5)-2, r.IntN(5)-2
	b := img.Bounds()
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sx, sy := x-dx, y-dy
			v := 255
			if image.Pt(sx, sy).In(b) {
				v = int(img.GrayAt(sx, sy).Y) + r.IntN(7) - 3
			}
			out.Pix[(y-b.Min.Y)*out.Stride+(x-b.Min.X)] = uint8(max(0, min(255, v)))
		}
	}
	return out
}

// SyntheticSource draws a fingerprint-like pattern (ridges about 9 pixels apart at 500 ppi
// around a core, on an elliptic pad) that differs per placement. It needs no files and is
// the default when no image directory is configured. It is no substitute for real prints
// in quality or matching tests.
type SyntheticSource struct {
	Seed uint64
}

// Frame implements Source.
func (s SyntheticSource) Frame(placement, frame int) (*image.Gray, error) {
	const w, h = 416, 560
	r := rand.New(rand.NewPCG(s.Seed, uint64(placement)+1))
	cx := float64(w)/2 + r.Float64()*40 - 20 + float64(frame%3-1)
	cy := float64(h)/2 + r.Float64()*60 - 30 + float64(frame/3%3-1)
	period := 8.5 + r.Float64()*2
	twist := r.Float64()*0.004 - 0.002
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			ex, ey := dx/(float64(w)*0.42), dy/(float64(h)*0.45)
			if ex*ex+ey*ey > 1 {
				img.Pix[y*w+x] = 255
				continue
			}
			rr := math.Sqrt(dx*dx + 1.6*dy*dy)
			phase := 2*math.Pi*rr/period + twist*dx*dy/10
			v := 150 + 95*math.Cos(phase)
			img.Pix[y*w+x] = uint8(max(0, min(255, v)))
		}
	}
	return img, nil
}
