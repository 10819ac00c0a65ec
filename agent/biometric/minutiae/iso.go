package minutiae

import (
	"fmt"
	"sort"

	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

// FMR builds an ISO/IEC 19794-2:2005 record of one finger view from minutiae found on
// a width×height image at 500 ppi (197 pixels per centimetre). position is the ISO
// finger position code (0 unknown, 1 right thumb ... 10 left little) and quality the
// finger quality 0..100. A view holds at most 255 minutiae: above that the highest
// quality are kept.
func FMR(ms []Minutia, width, height int, position, quality uint8) (*fmr.Record, error) {
	if width <= 0 || height <= 0 || width > fmr.MaxCoord || height > fmr.MaxCoord {
		return nil, fmt.Errorf("minutiae: image size %dx%d does not fit a minutiae record", width, height)
	}
	if position > 10 || quality > 100 {
		return nil, fmt.Errorf("minutiae: finger position %d (0..10) or quality %d (0..100) out of range", position, quality)
	}
	if len(ms) > 255 {
		ms = append([]Minutia(nil), ms...)
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Quality > ms[j].Quality })
		ms = ms[:255]
		sortByPosition(ms)
	}
	v := fmr.View{Position: position, Quality: quality}
	for _, m := range ms {
		if m.X < 0 || m.Y < 0 || m.X >= width || m.Y >= height {
			return nil, fmt.Errorf("minutiae: a minutia lies outside the %dx%d image", width, height)
		}
		v.Minutiae = append(v.Minutiae, fmr.Minutia{
			Type:    uint8(m.Kind), // Kind uses the ISO codes
			X:       uint16(m.X),
			Y:       uint16(m.Y),
			Angle:   fmr.ISO2005.AngleFromRadians(m.Angle),
			Quality: uint8(min(max(m.Quality, 0), 100)),
		})
	}
	return &fmr.Record{
		Format: fmr.ISO2005, Width: uint16(width), Height: uint16(height),
		XRes: 197, YRes: 197, Views: []fmr.View{v},
	}, nil
}
