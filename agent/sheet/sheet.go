// Package sheet renders a capture record as a contact sheet for quality assurance: each
// finger image with its position, NFIQ 2 score and minutiae drawn on it, and the face
// token image with its eye points and face box. The sheet shows biometric data: it is
// for QA only, written with owner-only permissions, and deleted after use.
package sheet

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/protocol"
	"github.com/captura-claim/captura/protocol/iso19794/fac"
	"github.com/captura-claim/captura/protocol/iso19794/fir"
	"github.com/captura-claim/captura/protocol/iso19794/fmr"
)

const (
	cellW, cellH = 220, 310
	imgW, imgH   = 200, 240
	faceW        = 330
	header       = 46
)

var (
	red    = color.RGBA{220, 30, 30, 255}
	blue   = color.RGBA{30, 90, 230, 255}
	green  = color.RGBA{20, 170, 60, 255}
	orange = color.RGBA{240, 140, 0, 255}
	grey   = color.RGBA{235, 235, 235, 255}
	black  = color.RGBA{0, 0, 0, 255}
)

// Render draws the sheet of rec, whose opened body is body. analyzer may be nil (no face
// box). An item whose records cannot be drawn gets a cell that says why, and the rest
// of the sheet is drawn: a damaged item is what QA needs to see. The error then lists
// every such item, and the image is still returned.
func Render(rec *protocol.Record, body *protocol.Body, analyzer *face.Analyzer) (*image.RGBA, error) {
	W, H := 5*cellW+faceW, header+2*cellH
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 8, 16, black, fmt.Sprintf("record %s   txn %s   station %s/%s   seq %d", rec.ID, rec.Txn, rec.Centre, rec.Station, rec.Seq))
	text(img, 8, 34, black, "QA CONTACT SHEET: contains biometric data. Delete after use.")

	items := map[protocol.FingerPos]*protocol.Item{}
	var faceItem *protocol.Item
	for i := range rec.Items {
		it := &rec.Items[i]
		if it.Mod == protocol.ModFace {
			faceItem = it
		} else {
			items[it.Pos] = it
		}
	}
	missing := map[protocol.FingerPos]string{}
	for _, e := range rec.Exceptions {
		missing[e.Pos] = e.Reason
	}
	firs, fmrs := map[protocol.FingerPos][]byte{}, map[protocol.FingerPos][]byte{}
	var facData []byte
	for _, b := range body.Items {
		switch b.Format {
		case protocol.FormatFIR:
			firs[b.Pos] = b.Data
		case protocol.FormatFMR:
			fmrs[b.Pos] = b.Data
		case protocol.FormatFAC:
			facData = b.Data
		}
	}
	var errs []error
	for p := protocol.FingerPos(1); p <= 10; p++ {
		x0 := int(p-1) % 5 * cellW
		y0 := header + int(p-1)/5*cellH
		if err := fingerCell(img, x0, y0, p, items[p], missing[p], firs[p], fmrs[p]); err != nil {
			errorCell(img, image.Rect(x0+10, y0+4, x0+10+imgW, y0+4+imgH), err)
			errs = append(errs, fmt.Errorf("sheet: %s: %w", p, err))
		}
	}
	if err := faceCell(img, 5*cellW, header, faceItem, facData, analyzer); err != nil {
		errorCell(img, image.Rect(5*cellW+10, header+4, 5*cellW+faceW-10, header+2*cellH-40), err)
		errs = append(errs, fmt.Errorf("sheet: face: %w", err))
	}
	return img, errors.Join(errs...)
}

// errorCell marks box as not drawable and prints why, wrapped to the box's width.
func errorCell(img *image.RGBA, box image.Rectangle, err error) {
	draw.Draw(img, box, image.NewUniform(color.RGBA{255, 225, 225, 255}), image.Point{}, draw.Src)
	const charW, lineH = 7, 15
	perLine := max(box.Dx()/charW-2, 8)
	y := box.Min.Y + 20
	text(img, box.Min.X+6, y, red, "CANNOT DRAW:")
	msg := []rune(err.Error())
	for len(msg) > 0 && y+lineH < box.Max.Y {
		n := min(perLine, len(msg))
		y += lineH
		text(img, box.Min.X+6, y, red, string(msg[:n]))
		msg = msg[n:]
	}
}

func fingerCell(img *image.RGBA, x0, y0 int, p protocol.FingerPos, it *protocol.Item, missing string, firData, fmrData []byte) error {
	box := image.Rect(x0+10, y0+4, x0+10+imgW, y0+4+imgH)
	text(img, x0+10, y0+imgH+22, black, p.String())
	if it == nil {
		draw.Draw(img, box, image.NewUniform(grey), image.Point{}, draw.Src)
		msg := "not captured"
		if missing != "" {
			msg = "missing: " + missing
		}
		text(img, x0+20, y0+imgH/2, black, msg)
		return nil
	}
	a := it.Attempts[it.Chosen]
	verdict := "pass"
	col := green
	if !a.Q.Pass {
		verdict, col = "below threshold", orange
	}
	if it.Forced != nil {
		verdict = "forced"
	}
	text(img, x0+10, y0+imgH+38, col, fmt.Sprintf("%s %d %s", a.Q.Alg, a.Q.Score, verdict))
	if len(firData) == 0 {
		return fmt.Errorf("no image record")
	}
	r, err := fir.Decode(firData)
	if err != nil {
		return err
	}
	g, err := r.Gray(&r.Images[0])
	if err != nil {
		return err
	}
	scale := math.Min(float64(imgW)/float64(g.Bounds().Dx()), float64(imgH)/float64(g.Bounds().Dy()))
	dst := image.Rect(0, 0, int(float64(g.Bounds().Dx())*scale), int(float64(g.Bounds().Dy())*scale)).Add(box.Min)
	xdraw.CatmullRom.Scale(img, dst, g, g.Bounds(), draw.Src, nil)
	n := 0
	if len(fmrData) > 0 {
		m, err := fmr.Decode(fmrData)
		if err != nil {
			return err
		}
		for _, v := range m.Views {
			for _, mi := range v.Minutiae {
				c := red
				if mi.Type == 2 {
					c = blue
				}
				cx := dst.Min.X + int(float64(mi.X)*scale)
				cy := dst.Min.Y + int(float64(mi.Y)*scale)
				ang := m.Format.AngleDegrees(mi.Angle) * math.Pi / 180
				circle(img, cx, cy, 3, c)
				line(img, cx, cy, cx+int(9*math.Cos(ang)), cy-int(9*math.Sin(ang)), c)
				n++
			}
		}
	}
	text(img, x0+10, y0+imgH+54, black, fmt.Sprintf("%d minutiae, attempt %d of %d", n, a.N, len(it.Attempts)))
	if a.PAD != nil && a.PAD.Decision == protocol.PADAttack {
		text(img, x0+10, y0+imgH+68, red, fmt.Sprintf("PAD alarm %.2f", a.PAD.Score))
	}
	return nil
}

func faceCell(img *image.RGBA, x0, y0 int, it *protocol.Item, data []byte, an *face.Analyzer) error {
	text(img, x0+10, y0+14, black, "face")
	if it == nil || len(data) == 0 {
		draw.Draw(img, image.Rect(x0+10, y0+24, x0+faceW-10, y0+424), image.NewUniform(grey), image.Point{}, draw.Src)
		text(img, x0+40, y0+200, black, "not captured")
		return nil
	}
	r, err := fac.Decode(data)
	if err != nil {
		return err
	}
	fi := &r.Images[0]
	tok, err := fi.DecodeImage()
	if err != nil {
		return err
	}
	b := tok.Bounds()
	scale := float64(faceW-20) / float64(b.Dx())
	dst := image.Rect(0, 0, int(float64(b.Dx())*scale), int(float64(b.Dy())*scale)).Add(image.Pt(x0+10, y0+24))
	xdraw.CatmullRom.Scale(img, dst, tok, b, draw.Src, nil)
	at := func(x, y float64) (int, int) {
		return dst.Min.X + int(x*scale), dst.Min.Y + int(y*scale)
	}
	for _, fp := range fi.FeaturePoints {
		if fp.Code == 0x35 || fp.Code == 0x36 {
			cx, cy := at(float64(fp.X), float64(fp.Y))
			line(img, cx-6, cy, cx+6, cy, green)
			line(img, cx, cy-6, cx, cy+6, green)
		}
	}
	if an != nil {
		if rep, err := an.Analyze(tok); err == nil && rep.Face != nil {
			half := rep.Face.Size / 2
			x1, y1 := at(rep.Face.X-half, rep.Face.Y-half)
			x2, y2 := at(rep.Face.X+half, rep.Face.Y+half)
			rect(img, x1, y1, x2, y2, orange)
		}
	}
	a := it.Attempts[it.Chosen]
	y := dst.Max.Y + 18
	text(img, x0+10, y, black, fmt.Sprintf("%s %d pass=%v  token %dx%d", a.Q.Alg, a.Q.Score, a.Q.Pass, b.Dx(), b.Dy()))
	if a.PAD != nil {
		c := green
		if a.PAD.Decision == protocol.PADAttack {
			c = red
		}
		text(img, x0+10, y+16, c, fmt.Sprintf("PAD %.2f %s", a.PAD.Score, a.PAD.Decision))
	}
	return nil
}

func text(img *image.RGBA, x, y int, c color.Color, s string) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func circle(img *image.RGBA, cx, cy, r int, c color.RGBA) {
	for a := 0; a < 32; a++ {
		t := float64(a) * 2 * math.Pi / 32
		img.SetRGBA(cx+int(math.Round(float64(r)*math.Cos(t))), cy+int(math.Round(float64(r)*math.Sin(t))), c)
	}
}

func rect(img *image.RGBA, x1, y1, x2, y2 int, c color.RGBA) {
	line(img, x1, y1, x2, y1, c)
	line(img, x2, y1, x2, y2, c)
	line(img, x2, y2, x1, y2, c)
	line(img, x1, y2, x1, y1, c)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
