package session

import (
	"fmt"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/protocol"
	"github.com/captura-claim/captura/protocol/iso19794/fir"
	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

// bodyItems encodes an item's kept attempt as standard records: for a finger an
// ISO/IEC 19794-4 image record (PNG, lossless) and an ISO/IEC 19794-2 minutiae record;
// for the face the ISO/IEC 19794-5 record the face capturer made.
func bodyItems(it Item, a *attempt) ([]protocol.BodyItem, error) {
	if it.Mod == protocol.ModFace {
		if len(a.face) == 0 {
			return nil, fmt.Errorf("session: face attempt %d has no record", a.rec.N)
		}
		return []protocol.BodyItem{{Mod: protocol.ModFace, Format: protocol.FormatFAC, Data: a.face}}, nil
	}
	g := a.finger.Gray
	im, err := fir.ImageOf(g, fir.PNG)
	if err != nil {
		return nil, fmt.Errorf("session: %s image record: %w", it, err)
	}
	im.Position, im.ViewCount, im.ViewNumber, im.Impression = uint8(it.Pos), 1, 1, 0 // live-scan plain
	im.Quality = uint8(min(a.rec.Q.Score, 100))
	ppi := uint16(a.finger.PPI)
	if ppi == 0 {
		ppi = 500
	}
	rec := &fir.Record{AcquisitionLevel: 31, ScaleUnits: fir.PixelsPerInch, ScanXRes: ppi, ScanYRes: ppi,
		ImageXRes: ppi, ImageYRes: ppi, PixelDepth: 8, Compression: fir.PNG, Images: []fir.Image{im}}
	firBytes, err := fir.Encode(rec)
	if err != nil {
		return nil, fmt.Errorf("session: %s image record: %w", it, err)
	}
	out := []protocol.BodyItem{{Mod: protocol.ModFinger, Pos: it.Pos, Format: protocol.FormatFIR, Data: firBytes}}
	b := g.Bounds()
	tmpl, err := minutiae.FMR(a.minutiae, b.Dx(), b.Dy(), uint8(it.Pos), uint8(min(a.rec.Q.Score, 100)))
	if err != nil {
		return nil, fmt.Errorf("session: %s template: %w", it, err)
	}
	fmrBytes, err := fmr.Encode(tmpl)
	if err != nil {
		return nil, fmt.Errorf("session: %s template: %w", it, err)
	}
	return append(out, protocol.BodyItem{Mod: protocol.ModFinger, Pos: it.Pos, Format: protocol.FormatFMR, Data: fmrBytes}), nil
}
