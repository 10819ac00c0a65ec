package liveness

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// Finger PAD method names written into records.
const (
	FingerMethod       = "captura-finger-pad/2: two frames (perspiration, change, texture, ridge detail), replay history"
	FingerMethodSingle = "captura-finger-pad/2: one frame (texture, ridge detail), replay history"
)

// Finger cue names (protocol.PAD.Cues).
const (
	CueModuleFake  = "module-fake-finger"  // the module's own fake-finger signal
	CueReplayExact = "replay-exact"        // identical to an earlier capture at this station
	CueReplayNear  = "replay-near"         // a near copy of an earlier capture
	CueFrozen      = "frozen-frames"       // two frames of one placement are identical
	CueNoChange    = "no-change"           // nothing changed between the frames
	CueNoSweat     = "no-perspiration"     // no darkening from sweat or moisture
	CueNoFill      = "no-valley-filling"   // the valleys did not darken more than the ridges
	CueNoSpots     = "no-pore-spots"       // no localised change at the pores
	CueUniform     = "uniform-ridges"      // ridges too even for skin
	CueSoftEdges   = "soft-ridge-edges"    // ridge edges too soft for skin on the platen
	CueThinRidges  = "thin-ridges"         // ridges thin and light for the texture shown
	CueSmooth      = "smooth-along-ridges" // no detail along the ridges (pores, texture)
	CueSmoothCrest = "smooth-ridge-crests" // none on the ridge crests either
	CueOneFrame    = "one-frame-only"      // the finger left before the second frame
)

// FingerOpts configure a FingerPAD.
type FingerOpts struct {
	// SingleFrame judges the first image alone instead of taking a second one during
	// the same placement (weaker; for modules too slow to keep a finger down).
	SingleFrame bool
	Log         *slog.Logger
}

// FingerPAD judges finger presentations (session.FingerPAD). It is safe for use by one
// session at a time; the history is shared safely.
type FingerPAD struct {
	threshold float64
	hist      *History
	opts      FingerOpts
	warnOnce  sync.Once
}

var _ session.FingerPAD = (*FingerPAD)(nil)

// NewFingerPAD makes the finger PAD with the decision threshold (pad.finger_threshold)
// and the replay history (NewHistory with pad.history; nil: no replay check).
func NewFingerPAD(threshold float64, hist *History, o *FingerOpts) (*FingerPAD, error) {
	if err := checkThreshold(threshold); err != nil {
		return nil, err
	}
	p := &FingerPAD{threshold: threshold, hist: hist}
	if o != nil {
		p.opts = *o
	}
	if p.opts.Log == nil {
		p.opts.Log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Threshold is the decision threshold.
func (p *FingerPAD) Threshold() float64 { return p.threshold }

// AssessFinger implements session.FingerPAD. It checks the first image against the
// replay history, takes a second image while the finger stays (the module must keep
// the finger on the sensor: on a UART module that is one more full upload, 2 to 5 s),
// measures what changed, and remembers both images' hashes. A finger lifted before the
// second image gives a single-frame judgement.
func (p *FingerPAD) AssessFinger(ctx context.Context, r fingerprint.Reader, first *fingerprint.Image) (*protocol.PAD, error) {
	d, err := p.AssessDetail(ctx, r, first)
	if err != nil {
		return nil, err
	}
	return d.PAD, nil
}

// Detail is a PAD result with every measured cue, for evaluations and tools.
type Detail struct {
	PAD  *protocol.PAD
	Cues []Cue // every cue measured, fired or not
	// Features are the model's inputs (nil when a rule decided alone).
	Features []float64
	// Replay is the history lookup (finger only).
	Replay Match
}

// AssessDetail is AssessFinger with the details.
func (p *FingerPAD) AssessDetail(ctx context.Context, r fingerprint.Reader, first *fingerprint.Image) (*Detail, error) {
	if first == nil || first.Gray == nil {
		return nil, errors.New("liveness: no image")
	}
	var second *image.Gray
	var cues []Cue
	if !p.opts.SingleFrame && r != nil {
		img, err := r.Capture(ctx)
		switch {
		case err == nil:
			second = img.Gray
		case errors.Is(err, fingerprint.ErrFakeFinger):
			cues := []Cue{{Name: CueModuleFake, Value: 1, Fired: true}}
			return &Detail{PAD: verdict(1, p.threshold, FingerMethod, cues), Cues: cues}, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			p.opts.Log.Info("liveness: no second finger image; judging one frame", "err", err)
			cues = append(cues, Cue{Name: CueOneFrame, Value: 1, Fired: true})
		}
	}
	return p.Judge(first.Gray, second, cues), nil
}

// Judge scores a presentation from its first image and, when there is one, a second
// image of the same placement; extra cues are reported as given. It updates the history.
func (p *FingerPAD) Judge(a, b *image.Gray, extra []Cue) *Detail {
	var probes []*Probe
	var m Match
	sa := newStats(a)
	var sb *frameStats
	if b != nil {
		sb = newStats(b)
	}
	if p.hist != nil {
		pa := p.hist.prepare(a, sa)
		m = p.hist.Lookup(pa)
		probes = append(probes, pa)
		if b != nil {
			pb := p.hist.prepare(b, sb)
			mb := p.hist.Lookup(pb)
			m.Exact = m.Exact || mb.Exact
			m.Near = m.Near || mb.Near
			m.Agreement = max(m.Agreement, mb.Agreement)
			probes = append(probes, pb)
		}
	}
	score, cues, feats := p.score(sa, sb)
	cues = append(cues, extra...)
	method := FingerMethod
	if b == nil {
		method = FingerMethodSingle
	}
	if m.Exact {
		score = 1
		cues = append(cues, Cue{Name: CueReplayExact, Value: 1, Fired: true})
	} else if m.Near {
		score = max(score, 0.97)
		cues = append(cues, Cue{Name: CueReplayNear, Value: m.Agreement, Fired: true})
	}
	for _, pr := range probes {
		if err := p.hist.Add(pr); err != nil {
			p.opts.Log.Warn("liveness: history not updated", "err", err)
		}
	}
	return &Detail{PAD: verdict(score, p.threshold, method, cues), Cues: cues, Features: feats, Replay: m}
}

// score applies the finger model to the measured cues.
func (p *FingerPAD) score(a, b *frameStats) (float64, []Cue, []float64) {
	c := measureStats(a, b)
	ms, ok := modelsFor(a.p.w, a.p.h)
	if !ok {
		// Said once, loudly: an uncalibrated model can misjudge most presentations
		// (the R307's flagged every bona fide GT-521 image before it had its own).
		p.warnOnce.Do(func() {
			p.opts.Log.Warn("liveness: no finger PAD model fitted for this sensor; using the R307's, uncalibrated: expect false alarms", "width", a.p.w, "height", a.p.h)
		})
	}
	if b == nil {
		x := []float64{c.Texture, c.Soft, c.Ink, c.Detail, c.CrestDetail}
		s, cues := ms.one.eval(x)
		return s, cues, x
	}
	x := []float64{c.Change, c.Darkening, c.ValleyFill, c.Spots, c.Texture, c.Soft, c.Ink, c.Detail, c.CrestDetail}
	s, cues := ms.two.eval(x)
	if c.Frozen {
		s = 1
		cues = append(cues, Cue{Name: CueFrozen, Value: 1, Fired: true})
	}
	return s, cues, x
}

// String describes the PAD.
func (p *FingerPAD) String() string {
	n := 0
	if p.hist != nil {
		n = p.hist.Len()
	}
	return fmt.Sprintf("finger-pad(threshold %.2f, history %d)", p.threshold, n)
}
