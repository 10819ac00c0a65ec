package padeval

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
)

// TestRunSmall runs one presentation per species through both pipelines and checks the
// report's shape (the rates are the subject of capturactl pad-eval, not of this test).
func TestRunSmall(t *testing.T) {
	var steps int
	o := Options{Seed: 3, N: 1}
	want := []string{"face/bona-fide", "face/print", "face/screen", "face/injected", "finger/bona-fide", "finger/mould", "finger/replay"}
	if raceEnabled { // rendering faces is ten times slower under the race detector
		o.Modalities, want = []string{Finger}, want[4:]
	}
	o.Progress = func(done, total int) {
		steps++
		if total != len(want) || done != steps {
			t.Errorf("progress %d/%d", done, total)
		}
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("rows %+v", rep.Rows)
	}
	for i, row := range rep.Rows {
		if row.Modality+"/"+row.Species != want[i] || row.N+row.NotAcquired != 1 || row.Attack != (row.Species != "bona-fide") {
			t.Errorf("row %d: %+v", i, row)
		}
	}
	for _, r := range rep.Results {
		if r.Err == "" && (r.Score < 0 || r.Score > 1 || (r.Decision != "attack" && r.Decision != "bona-fide") || len(r.Features) == 0) {
			t.Errorf("result %+v", r)
		}
	}
	var b bytes.Buffer
	rep.Write(&b)
	for _, s := range []string{"seed 3, 1 per species", "APCER", "BPCER", "finger    replay"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
}

// TestRunSingleFrame: with pad.finger_frames = 1 every finger is judged on its first
// image alone (the one-frame model's five inputs), and the report says so.
func TestRunSingleFrame(t *testing.T) {
	rep, err := Run(context.Background(), Options{Seed: 5, N: 2, Modalities: []string{Finger}, FingerFrames: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Errorf("%s %d: %s", r.Species, r.Index, r.Err)
			continue
		}
		if r.Species != "replay" && len(r.Features) != 5 {
			t.Errorf("%s %d: %d features, want the one-frame model's 5", r.Species, r.Index, len(r.Features))
		}
	}
	var b bytes.Buffer
	rep.Write(&b)
	if !strings.Contains(b.String(), "1 image(s) per placement") {
		t.Errorf("report does not say one image:\n%s", b.String())
	}
}

// TestGT521TwoFrames: the GT-521 driver reads every image twice to verify it; the
// simulated person must still wait for the PAD's second image (a re-read is not a new
// image), so every placement is judged on two frames.
func TestGT521TwoFrames(t *testing.T) {
	rep, err := Run(context.Background(), Options{Seed: 4, N: 1, Reader: "GT-521F52", Modalities: []string{Finger}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Species, r.Err)
			continue
		}
		for _, c := range r.Cues {
			if c == "one-frame-only" {
				t.Errorf("%s: judged on one frame: the finger left before the second image", r.Species)
			}
		}
	}
}

// TestReplayBytesIdentical: what the driver uploads from the simulator is exactly what
// the source rendered, fitted and reduced to 4 bits, so a replay of the source's frame
// reproduces an earlier capture byte for byte (the exact-hash case).
func TestReplayBytesIdentical(t *testing.T) {
	timing, captured, _ := ReaderTiming("R307")
	live := &presentations.Live{Seed: 5, Timing: timing}
	rd, err := startReader(context.Background(), "R307", live, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rd.dev.WaitFinger(ctx); err != nil {
		t.Fatal(err)
	}
	img, err := rd.dev.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Frame `captured` normally; a later one when a slow machine made the driver
	// repeat a GenImg that timed out (the module took that image too).
	match := false
	for k := captured; k < captured+3 && !match; k++ {
		src, _ := live.Frame(0, k)
		want := fpsim.Fit(src, 500, fpsim.Sensor{Width: 256, Height: 288, PPI: 500})
		for i, v := range want.Pix {
			want.Pix[i] = (v >> 4) * 17
		}
		match = bytes.Equal(img.Gray.Pix, want.Pix)
	}
	if !match {
		t.Fatal("captured image differs from the source's frames")
	}
	if _, err := Run(context.Background(), Options{N: 1, Modalities: []string{"iris"}}); err == nil {
		t.Error("unknown modality accepted")
	}
	if _, err := Run(context.Background(), Options{N: 1, Modalities: []string{Finger}, Reader: "X1"}); err == nil {
		t.Error("unknown reader accepted")
	}
}
