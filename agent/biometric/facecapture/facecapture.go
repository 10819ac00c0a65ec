// Package facecapture takes the applicant's face photo for a session: it runs the
// camera's preview, checks each frame (package face), captures once the face passes and
// has held still (package autocapture), optionally runs a presentation-attack
// challenge on the live stream, takes a still at full size, and returns the token image
// as an ISO/IEC 19794-5 record with its quality.
package facecapture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/biometric/face/autocapture"
	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/protocol"
)

// Challenge is a presentation-attack check run on the live preview once a good face is
// in view (the illumination challenge of the liveness package).
type Challenge interface {
	Run(ctx context.Context, stream camera.Stream, rep *face.Report) (*protocol.PAD, error)
}

// Opts configure a Capturer.
type Opts struct {
	Preview    camera.Request // default 640x480 at 10 frames/s
	Still      camera.Size    // default 1280x720
	TokenWidth int            // token image width in pixels (default 480)
	Challenge  Challenge      // nil: no face PAD
	Hold       time.Duration  // how long a good face must hold still (default 1 s)
	Log        *slog.Logger
}

// Capturer implements session.FaceCapturer.
type Capturer struct {
	cam  func() (camera.Camera, error)
	opts Opts

	// The analysers hold the detection cascades (several MB); they are built on the
	// first capture, so a station that is idle or captures fingers only does not carry
	// them.
	once           sync.Once
	still, preview *face.Analyzer
	loadErr        error
}

var _ session.FaceCapturer = (*Capturer)(nil)

// Quality algorithm name and version written into records.
const (
	Alg = "captura-face-icao"
	Ver = "1"
)

// New builds a capturer over the camera returned by cam (the device supervisor's).
func New(cam func() (camera.Camera, error), o Opts) (*Capturer, error) {
	if o.Preview.Size == (camera.Size{}) {
		o.Preview = camera.Request{Size: camera.Size{W: 640, H: 480}, FPS: 10}
	}
	if o.Still == (camera.Size{}) {
		o.Still = camera.Size{W: 1280, H: 720}
	}
	if o.TokenWidth == 0 {
		o.TokenWidth = 480
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Capturer{cam: cam, opts: o}, nil
}

func (c *Capturer) load() error {
	c.once.Do(func() {
		if c.still, c.loadErr = face.NewAnalyzer(nil); c.loadErr != nil {
			return
		}
		// On the smaller preview the eye-distance limits scale with the width, so the
		// preview's verdict predicts the still's.
		f := float64(c.opts.Preview.Size.W) / float64(c.opts.Still.W)
		c.preview, c.loadErr = face.NewAnalyzer(&face.Options{MinInterEye: 90 * f, AdvisedInterEye: 120 * f})
	})
	return c.loadErr
}

// CaptureFace implements session.FaceCapturer.
func (c *Capturer) CaptureFace(ctx context.Context, hint func([]string)) (*session.FaceResult, error) {
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("face analysis: %w", err)
	}
	cam, err := c.cam()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", session.ErrNoCamera, err)
	}
	stream, err := cam.Preview(ctx, c.opts.Preview)
	if err != nil {
		return nil, fmt.Errorf("camera preview: %w", err)
	}
	var closeOnce sync.Once
	closeStream := func() { closeOnce.Do(func() { stream.Close() }) }
	defer closeStream()

	timeout := 25 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl) - 3*time.Second // leave time for the still
	}
	frames := make(chan autocapture.Frame, 1)
	fctx, stopFrames := context.WithCancel(ctx)
	var streamErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(frames)
		for {
			f, err := stream.Next(fctx)
			if err != nil {
				if fctx.Err() == nil {
					streamErr = err
				}
				return
			}
			img, err := f.Image()
			if err != nil {
				continue
			}
			select {
			case frames <- autocapture.Frame{Img: img, T: f.Time}:
			case <-fctx.Done():
				return
			}
		}
	}()
	var lastHint time.Time
	ac := autocapture.New(c.preview, &autocapture.Options{Hold: c.opts.Hold, Timeout: timeout,
		OnReport: func(_ autocapture.Frame, rep *face.Report) {
			if hint != nil && time.Since(lastHint) > time.Second && len(rep.Hints) > 0 {
				lastHint = time.Now()
				hint(rep.Hints)
			}
		}})
	tick := time.NewTicker(500 * time.Millisecond)
	res, err := ac.Run(ctx, frames, tick.C)
	tick.Stop()
	if err != nil {
		stopFrames()
		wg.Wait()
		return nil, err
	}
	if streamErr != nil && !res.Captured {
		stopFrames()
		wg.Wait()
		return nil, fmt.Errorf("camera: %w", streamErr)
	}
	var pad *protocol.PAD
	if res.Captured && c.opts.Challenge != nil {
		stopFrames() // the challenge reads the stream itself
		wg.Wait()
		if pad, err = c.opts.Challenge.Run(ctx, stream, res.Report); err != nil {
			return nil, fmt.Errorf("face presentation-attack check: %w", err)
		}
	}
	stopFrames()
	wg.Wait()
	closeStream()

	// The still at full size is the photo; the best preview frame is the fallback.
	img, rep := res.Frame.Img, (*face.Report)(nil)
	if res.Captured {
		if f, err := cam.Still(ctx, camera.Request{Size: c.opts.Still}); err == nil {
			if si, err := f.Image(); err == nil {
				if r, err := c.still.Analyze(si); err == nil && r.Found {
					img, rep = si, r
				}
			}
		} else {
			c.opts.Log.Warn("still capture failed; keeping the preview frame", "err", err)
		}
	}
	if img == nil {
		return nil, errors.New("no face in view: " + joinReasons(res.Reasons))
	}
	if rep == nil {
		if rep, err = c.still.Analyze(img); err != nil {
			return nil, err
		}
	}
	if !rep.Found {
		return nil, errors.New("no face found")
	}
	record, err := face.TokenRecord(img, rep, c.opts.TokenWidth)
	if err != nil {
		return nil, err
	}
	return &session.FaceResult{Record: record, Quality: Quality(rep), Native: Native(rep), Hints: rep.Hints, PAD: pad, Device: cam.String()}, nil
}

// Quality summarises a face report: the score is the mean of the checks' 0-100 scores
// and the photo passes when every check passes (the ICAO-style verdict).
func Quality(rep *face.Report) protocol.Quality {
	q := protocol.Quality{Alg: Alg, Ver: Ver, Pass: rep.Verdict == face.Pass}
	sum := 0
	for _, ch := range rep.Checks {
		sum += min(max(ch.Score, 0), 100)
	}
	if rep.Found && len(rep.Checks) > 0 {
		q.Score = uint((sum + len(rep.Checks)/2) / len(rep.Checks))
	}
	return q
}

// Native is each check's measured value, by check name (sealed in the record's body:
// values such as the forehead's skin fraction describe the applicant).
func Native(rep *face.Report) map[string]float64 {
	out := make(map[string]float64, len(rep.Checks))
	for _, ch := range rep.Checks {
		out[ch.Name] = ch.Value
	}
	return out
}

func joinReasons(r []string) string {
	if len(r) == 0 {
		return "timeout"
	}
	s := r[0]
	for _, x := range r[1:] {
		s += "; " + x
	}
	return s
}
