package daemon_test

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/liveness"
	"github.com/captura-claim/captura/agent/biometric/liveness/padeval"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
	"github.com/captura-claim/captura/protocol"
)

// The agent's tests run whole sessions, many times (the crash test, the RSS
// benchmark), with the finger PAD on. They need bona fide placements of two frames
// each that the PAD accepts, and cannot afford to synthesise fingers under the race
// detector (2 s a finger). So ten placements, rendered once by the presentation
// simulator exactly as a simulated R307 delivers them (256×288, 16 grey levels), are
// kept in testdata/live and served in a cycle. Regenerate them after the finger model
// or the simulator changes: go test ./agent/daemon -run TestLiveTestdata -update-live
var updateLive = flag.Bool("update-live", false, "re-render testdata/live from the presentation simulator")

const (
	liveDir        = "testdata/live"
	livePlacements = 10
	liveSeed       = 20261127
)

func liveFile(p, k int) string { return filepath.Join(liveDir, fmt.Sprintf("p%02d-f%d.png", p, k)) }

// renderLive renders placement p's two uploaded frames as the R307 simulator would.
func renderLive(t *testing.T, live *presentations.Live, first, p int) [2]*image.Gray {
	var out [2]*image.Gray
	for k := range out {
		img, err := live.Frame(p, first+k)
		if err != nil {
			t.Fatal(err)
		}
		fit := fpsim.Fit(img, fpsim.SourcePPI(live), fpsim.Sensor{Width: 256, Height: 288, PPI: 500})
		for i, v := range fit.Pix {
			fit.Pix[i] = v >> 4 << 4 // the R307 uploads 4 bits per pixel
		}
		out[k] = fit
	}
	return out
}

func loadLive(t testing.TB) [][2]*image.Gray {
	t.Helper()
	var out [][2]*image.Gray
	for p := range livePlacements {
		var pair [2]*image.Gray
		for k := range pair {
			f, err := os.Open(liveFile(p, k))
			if err != nil {
				t.Fatalf("live test data (regenerate with -update-live): %v", err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", liveFile(p, k), err)
			}
			g := image.NewGray(img.Bounds())
			draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
			pair[k] = g
		}
		out = append(out, pair)
	}
	return out
}

// grey16 stores a 16-level image as a 4-bit palette PNG (half the size of 8-bit grey).
func grey16(g *image.Gray) *image.Paletted {
	pal := make(color.Palette, 16)
	for i := range pal {
		pal[i] = color.Gray{Y: uint8(i << 4)}
	}
	p := image.NewPaletted(g.Rect, pal)
	for i, v := range g.Pix {
		p.Pix[i] = v >> 4
	}
	return p
}

// liveSource serves the recorded placements in a cycle: the first image taken during a
// placement (the one the session captures, or the presence check before it) is frame
// 0 of the pair, every later one frame 1 (the PAD's second image).
func liveSource(t testing.TB) fpsim.Source {
	pairs := loadLive(t)
	return fpsim.SourceFunc(func(placement, frame int) (*image.Gray, error) {
		pair := pairs[placement%len(pairs)]
		if frame <= 1 {
			return pair[0], nil
		}
		return pair[1], nil
	})
}

// TestLiveTestdata checks that the recorded placements are what the finger PAD judges
// bona fide (if the model is refitted and this fails, regenerate them), and with
// -update-live renders them.
func TestLiveTestdata(t *testing.T) {
	pad, err := liveness.NewFingerPAD(0.5, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *updateLive {
		timing, first, err := padeval.ReaderTiming("R307")
		if err != nil {
			t.Fatal(err)
		}
		live := &presentations.Live{Seed: liveSeed, Timing: timing}
		if err := os.MkdirAll(liveDir, 0o755); err != nil {
			t.Fatal(err)
		}
		// Keep the first ten placements the PAD accepts (the simulation's bona fide
		// error rate is a few per cent; these tests are about the spine, not PAD).
		n := 0
		for p := 0; n < livePlacements; p++ {
			if p > 3*livePlacements {
				t.Fatal("too many placements judged attacks: is the finger model out of step with the simulator?")
			}
			pair := renderLive(t, live, first, p)
			if d := pad.Judge(pair[0], pair[1], nil); d.PAD.Decision != protocol.PADBonaFide {
				t.Logf("placement %d judged an attack (%.2f); skipped", p, d.PAD.Score)
				continue
			}
			for k, img := range pair {
				var buf bytes.Buffer
				if err := png.Encode(&buf, grey16(img)); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(liveFile(n, k), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n++
		}
	}
	for p, pair := range loadLive(t) {
		d := pad.Judge(pair[0], pair[1], nil)
		if d.PAD.Decision != protocol.PADBonaFide {
			t.Errorf("%s: judged an attack (score %.2f, cues %v); regenerate with -update-live", liveFile(p, 0), d.PAD.Score, d.PAD.Cues)
		}
	}
}
