package demo

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/sheet"
	"github.com/captura-claim/captura/protocol"
)

var sheetOut = flag.String("sheet.out", "", "also write the demo session's contact sheet to this PNG file (to look at it)")

// TestDemoSessionAndContactSheet runs the demo (reader unpaced, to keep the suite fast)
// and renders the verified record's contact sheet.
func TestDemoSessionAndContactSheet(t *testing.T) {
	var rec *protocol.Record
	var body *protocol.Body
	var events []string
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := Run(ctx, &out, Options{Dir: t.TempDir(), Fast: true, Seed: 1, FaceSeed: 3,
		Fingers: []protocol.FingerPos{1, 2, 7}, Face: true,
		Progress: func(p *protocol.Progress) { events = append(events, p.Event) },
		Record:   func(r *protocol.Record, _ *protocol.Envelope, b *protocol.Body) { rec, body = r, b },
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s\nevents: %v", err, out.String(), events)
	}
	if rec == nil || len(rec.Items) != 4 || len(body.Items) != 7 {
		t.Fatalf("record: %+v", rec)
	}
	for _, want := range []string{"paired", "session committed", "gateway verified the record"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	an, err := face.NewAnalyzer(nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := sheet.Render(rec, body, an)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() < 1000 || img.Bounds().Dy() < 600 {
		t.Fatalf("sheet size %v", img.Bounds())
	}
	// The captured fingers' cells are not blank; a finger that was not captured is grey.
	// blank: a 40x40 patch at (x, y) has (almost) no variation.
	blank := func(x, y int) bool {
		var sum, sq float64
		for dy := 0; dy < 40; dy++ {
			for dx := 0; dx < 40; dx++ {
				r, _, _, _ := img.At(x+dx, y+dy).RGBA()
				v := float64(r >> 8)
				sum += v
				sq += v * v
			}
		}
		mean := sum / 1600
		return sq/1600-mean*mean < 4
	}
	if blank(60, 80) {
		t.Error("right thumb cell is blank")
	}
	if !blank(2*220+60, 80) {
		t.Error("right middle was not captured but its cell is not grey")
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	path := filepath.Join(t.TempDir(), "sheet.png")
	if *sheetOut != "" {
		path = *sheetOut
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("contact sheet: %s (%d bytes)", path, buf.Len())
}
