// Package autocapture decides when to take the face photo from a stream of
// preview frames: once the face passes every check and has stayed still (eye
// positions and inter-eye distance) for a hold time, it captures; at the
// deadline it returns the best frame seen and why it failed. It knows nothing
// about cameras: frames come from a channel, time from an injected clock.
package autocapture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
)

// Frame is one preview image and the time it was taken.
type Frame struct {
	Img image.Image
	T   time.Time
}

// Analyzer is what the capturer needs of face.Analyzer.
type Analyzer interface {
	Analyze(img image.Image) (*face.Report, error)
}

var _ Analyzer = (*face.Analyzer)(nil)

// Options tunes the capturer; zero fields take the defaults.
type Options struct {
	// Hold is how long the face must pass and stay still (default 1 s).
	Hold time.Duration
	// Timeout is the time from the first frame after which the best frame is
	// returned (default 10 s).
	Timeout time.Duration
	// MaxMove is the largest movement of either eye between consecutive passing
	// frames, as a fraction of the inter-eye distance (default 0.08); MaxScale
	// the largest relative change of the inter-eye distance (default 0.05).
	MaxMove, MaxScale float64
	// Now is the clock (default time.Now); it is read only for the timeout when
	// frames stop coming.
	Now func() time.Time
	// OnReport, if set, is called with every analysed frame (for live feedback).
	OnReport func(Frame, *face.Report)
}

// Result is the outcome of a capture.
type Result struct {
	// Captured is true when a stable, passing face was captured; false when the
	// timeout came first (Frame is then the best frame seen, if any).
	Captured bool
	Frame    Frame
	Report   *face.Report
	// Reasons lists the failed checks' hints of the returned frame (empty when
	// captured); "no face found" when no frame had a face.
	Reasons []string
	Frames  int // frames analysed
}

// ReasonNotStill is the reason given when frames passed but the face never
// stayed still for the hold time.
const ReasonNotStill = "hold still: the face did not stay still long enough"

// ErrNoFrames is returned when the stream ends before any frame arrived.
var ErrNoFrames = errors.New("autocapture: no frames")

// Capturer runs the decision.
type Capturer struct {
	a    Analyzer
	opts Options
}

// New returns a capturer using a.
func New(a Analyzer, opts *Options) *Capturer {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Hold <= 0 {
		o.Hold = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxMove <= 0 {
		o.MaxMove = 0.08
	}
	if o.MaxScale <= 0 {
		o.MaxScale = 0.05
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Capturer{a: a, opts: o}
}

func (c *Capturer) String() string {
	return fmt.Sprintf("autocapture: hold %v, timeout %v", c.opts.Hold, c.opts.Timeout)
}

// Run consumes frames until it captures, the timeout passes (measured on the
// frames' timestamps, or on the clock when a timer tick arrives on tick), the
// channel closes or ctx ends. tick may be nil; the caller feeds it (e.g. from a
// time.Ticker) so that a stalled camera still ends the capture at the timeout.
// On timeout, close or cancellation it returns the best frame seen: the one
// with the fewest failed checks, ties broken by the higher sum of scores.
func (c *Capturer) Run(ctx context.Context, frames <-chan Frame, tick <-chan time.Time) (*Result, error) {
	res := &Result{}
	var start time.Time
	var best *scored
	var stableSince time.Time
	var prev *face.Report
	finish := func(err error) (*Result, error) {
		if best == nil {
			if res.Frames == 0 && err == nil {
				return nil, ErrNoFrames
			}
			res.Reasons = []string{"no face found"}
			return res, err
		}
		res.Frame, res.Report = best.f, best.r
		res.Reasons = best.r.Hints
		switch {
		case !best.r.Found:
			res.Reasons = []string{"no face found"}
		case best.r.Verdict == face.Pass:
			res.Reasons = []string{ReasonNotStill}
		}
		return res, err
	}
	for {
		select {
		case <-ctx.Done():
			return finish(ctx.Err())
		case now := <-tick:
			if !start.IsZero() && now.Sub(start) >= c.opts.Timeout {
				return finish(nil)
			}
		case f, ok := <-frames:
			if !ok {
				return finish(nil)
			}
			if f.T.IsZero() {
				f.T = c.opts.Now()
			}
			if start.IsZero() {
				start = f.T
			}
			r, err := c.a.Analyze(f.Img)
			if err != nil {
				continue // an unreadable frame is skipped
			}
			res.Frames++
			if c.opts.OnReport != nil {
				c.opts.OnReport(f, r)
			}
			s := score(f, r)
			if best == nil || s.better(best) {
				best = s
			}
			if r.Verdict == face.Pass && prev != nil && stable(prev, r, c.opts) {
				if f.T.Sub(stableSince) >= c.opts.Hold {
					res.Captured = true
					res.Frame, res.Report = f, r
					return res, nil
				}
			} else if r.Verdict == face.Pass {
				stableSince = f.T
			} else {
				stableSince = time.Time{}
			}
			if r.Verdict == face.Pass {
				prev = r
			} else {
				prev = nil
			}
			if f.T.Sub(start) >= c.opts.Timeout {
				return finish(nil)
			}
		}
	}
}

type scored struct {
	f      Frame
	r      *face.Report
	failed int
	sum    int
}

func score(f Frame, r *face.Report) *scored {
	s := &scored{f: f, r: r, failed: len(r.Failed())}
	if !r.Found {
		s.failed = 1 << 20
	}
	for _, c := range r.Checks {
		s.sum += c.Score
	}
	return s
}

func (s *scored) better(o *scored) bool {
	if s.failed != o.failed {
		return s.failed < o.failed
	}
	return s.sum > o.sum
}

// stable reports whether the face moved little between two passing frames.
func stable(a, b *face.Report, o Options) bool {
	if a.RightEye == nil || b.RightEye == nil || a.InterEye <= 0 {
		return false
	}
	d := a.InterEye
	move := math.Max(math.Hypot(a.RightEye.X-b.RightEye.X, a.RightEye.Y-b.RightEye.Y), math.Hypot(a.LeftEye.X-b.LeftEye.X, a.LeftEye.Y-b.LeftEye.Y))
	return move <= o.MaxMove*d && math.Abs(b.InterEye-d) <= o.MaxScale*d
}
