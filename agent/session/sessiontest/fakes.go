// Package sessiontest has fakes of a session's devices and algorithms for tests: a
// reader that presents a finger on demand, a quality scorer that follows a script, and
// a face capturer.
package sessiontest

import (
	"context"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// Reader presents a finger a moment after each wait, unless NoFinger is set; Reject
// makes that many captures fail as the module's own "bad image".
type Reader struct {
	mu       sync.Mutex
	NoFinger bool
	Reject   int
	Captures int
}

var _ fingerprint.Reader = (*Reader)(nil)

func (r *Reader) SetNoFinger(v bool) { r.mu.Lock(); r.NoFinger = v; r.mu.Unlock() }

func (r *Reader) Info() fingerprint.Info { return fingerprint.Info{Family: "fake", Model: "FAKE-1"} }
func (r *Reader) WaitFinger(ctx context.Context) error {
	r.mu.Lock()
	never := r.NoFinger
	r.mu.Unlock()
	if never {
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case <-time.After(time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (r *Reader) WaitLift(ctx context.Context) error { return nil }
func (r *Reader) Capture(ctx context.Context) (*fingerprint.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Reject > 0 {
		r.Reject--
		return nil, fmt.Errorf("fake: image too messy: %w", fingerprint.ErrBadImage)
	}
	r.Captures++
	g := image.NewGray(image.Rect(0, 0, 64, 80))
	for i := range g.Pix {
		g.Pix[i] = uint8(i*7 + r.Captures)
	}
	return &fingerprint.Image{Gray: g, PPI: 500, Captured: time.Now()}, nil
}
func (r *Reader) Template(context.Context) ([]byte, error)      { return nil, fingerprint.ErrUnsupported }
func (r *Reader) SetLED(context.Context, fingerprint.LED) error { return fingerprint.ErrUnsupported }
func (r *Reader) String() string                                { return "fake" }
func (r *Reader) Halt() error                                   { return nil }
func (r *Reader) Close() error                                  { return nil }

// Quality returns Scores in order, then the last one forever.
type Quality struct {
	mu     sync.Mutex
	Scores []uint
	n      int
}

var _ session.FingerQuality = (*Quality)(nil)

func (q *Quality) AssessFinger(img *fingerprint.Image) (*session.FingerAssessment, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	sc := q.Scores[min(q.n, len(q.Scores)-1)]
	q.n++
	ms := []minutiae.Minutia{{X: 10, Y: 12, Angle: 1, Kind: minutiae.Ending, Quality: 60}, {X: 30, Y: 40, Angle: 2, Kind: minutiae.Bifurcation, Quality: 70}}
	var hints []string
	if sc < 30 {
		hints = []string{"press harder"}
	}
	return &session.FingerAssessment{Quality: protocol.Quality{Alg: "NFIQ2", Ver: "2.3", Score: sc},
		Native: map[string]float64{"FingerJetFX_MinutiaeCount": float64(len(ms))}, Hints: hints, Minutiae: ms, Usable: true}, nil
}

// Face returns a face record of the given score.
type Face struct{ Score uint }

var _ session.FaceCapturer = (*Face)(nil)

func (f *Face) CaptureFace(ctx context.Context, hint func([]string)) (*session.FaceResult, error) {
	hint([]string{"look at the camera"})
	return &session.FaceResult{Record: []byte("FAC\x00 010\x00 fake face record"),
		Quality: protocol.Quality{Alg: "captura-face-icao", Ver: "1", Score: f.Score, Pass: true},
		Native:  map[string]float64{"head_covering": 0.02}, Device: "fake-camera"}, nil
}
