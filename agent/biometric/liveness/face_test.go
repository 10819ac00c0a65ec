package liveness

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
	"github.com/captura-claim/captura/protocol"
)

// challenge runs the illumination challenge end to end: the panel drives the
// illumination pin of a simulated board, the simulated camera reads that pin.
func challenge(t *testing.T, sp camerasim.Species, seed uint64) (*Detail, *panelsim.Board) {
	t.Helper()
	board := panelsim.New()
	dev, err := panel.New(&panel.Opts{Config: board.Config(), Enabled: true, Lookup: board.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := camerasim.New(&camerasim.Opts{Species: sp, Seed: seed, Light: camerasim.PinLight(board.Illumination), FreeRun: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cam.Preview(context.Background(), camera.Request{Size: camera.Size{W: 640, H: 480}, FPS: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	an, _ := face.NewAnalyzer(&face.Options{MinInterEye: 45, AdvisedInterEye: 60})
	var rep *face.Report
	for k := 0; k < 8 && rep == nil; k++ {
		f, _ := s.Next(context.Background())
		img, _ := f.Image()
		if r, err := an.Analyze(img); err == nil && r.Found {
			rep = r
		}
	}
	if rep == nil {
		t.Fatalf("%v seed %d: no face", sp, seed)
	}
	c, err := NewIlluminationChallenge(dev, 0.5, &FaceOpts{Rand: rand.NewChaCha8([32]byte{byte(seed)})})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.RunDetail(context.Background(), s, rep)
	if err != nil {
		t.Fatal(err)
	}
	return d, board
}

func TestChallengeEndToEnd(t *testing.T) {
	live, board := challenge(t, camerasim.BonaFide, 11)
	if st := board.Illumination.State(); st != "Low" {
		t.Errorf("LED left %s after the challenge", st)
	}
	ch := board.Changes()
	if len(ch) < 4 {
		t.Errorf("LED changes: %v", ch)
	}
	if live.PAD.Method != FaceMethod || live.PAD.Decision != protocol.PADBonaFide || len(live.Features) != 6 {
		t.Errorf("live face: %+v features %v", live.PAD, live.Features)
	}
	inj, _ := challenge(t, camerasim.Injected, 11)
	if inj.PAD.Decision != protocol.PADAttack || inj.PAD.Score <= live.PAD.Score {
		t.Errorf("injected frames: %+v", inj.PAD)
	}
}

// failingStream fails after n frames.
type failingStream struct {
	camera.Stream
	n int
}

func (s *failingStream) Next(ctx context.Context) (*camera.Frame, error) {
	if s.n == 0 {
		return nil, camera.ErrGone
	}
	s.n--
	return s.Stream.Next(ctx)
}

func TestChallengeErrors(t *testing.T) {
	led := &nopLED{}
	if _, err := NewIlluminationChallenge(nil, 0.5, nil); err == nil {
		t.Error("no LED accepted")
	}
	if _, err := NewIlluminationChallenge(led, 0, nil); err == nil {
		t.Error("threshold 0 accepted")
	}
	if _, err := NewIlluminationChallenge(led, 0.5, &FaceOpts{Frames: 4}); err == nil {
		t.Error("4 frames accepted")
	}
	c, _ := NewIlluminationChallenge(led, 0.5, nil)
	cam, _ := camerasim.New(&camerasim.Opts{FreeRun: true})
	s, _ := cam.Preview(context.Background(), camera.Request{Size: camera.Size{W: 320, H: 240}})
	defer s.Close()
	if _, err := c.Run(context.Background(), s, nil); err == nil {
		t.Error("no face report accepted")
	}
	rep := &face.Report{Found: true, Width: 320, Height: 240, Face: &face.FaceBox{X: 160, Y: 110, Size: 90}, InterEye: 30}
	_, err := c.Run(context.Background(), &failingStream{Stream: s, n: 3}, rep)
	if !errors.Is(err, camera.ErrGone) {
		t.Errorf("camera gone mid-challenge: %v", err)
	}
	if n := len(led.levels); n == 0 || led.levels[n-1] != 0 {
		t.Errorf("LED not switched off after a failure: %v", led.levels)
	}
}
