package liveness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/biometric/facecapture"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/protocol"
)

// FaceMethod is the face PAD method name written into records.
const FaceMethod = "captura-illumination-challenge/1: nonce-timed LED, sync, response, 3-D shading, corneal glints, spectrum"

// Face cue names (protocol.PAD.Cues).
const (
	CueOutOfStep  = "out-of-step"       // brightness does not follow the LED's timing
	CueWeak       = "weak-response"     // the face barely answers the LED (a screen)
	CueFlatScene  = "planar-response"   // the background answers like the face (one plane)
	CueFlatFace   = "flat-shading"      // no 3-D shading across the face
	CueNoGlints   = "no-corneal-glints" // no specular highlights at the eyes
	CueMoire      = "spectral-peaks"    // halftone, pixel grid or moiré energy
	CueNoFaceSeen = "face-lost"         // the face left the region during the challenge
)

// Illuminator is the illumination LED (panel.Dev satisfies it).
type Illuminator interface {
	Illuminate(level float64) error
}

// FaceOpts configure an IlluminationChallenge. Zero values take the defaults.
type FaceOpts struct {
	// Frames taken during the challenge (default 12: 1.2 s at 10 frames/s).
	Frames int
	// Rand supplies the nonce (default crypto/rand). Evaluations pass a seeded reader.
	Rand io.Reader
	Log  *slog.Logger
}

// IlluminationChallenge is the face PAD: a facecapture.Challenge that drives the
// illumination LED on and off with a timing drawn from a fresh random nonce while it
// takes preview frames, and judges how the scene answered.
type IlluminationChallenge struct {
	led       Illuminator
	threshold float64
	opts      FaceOpts
}

var _ facecapture.Challenge = (*IlluminationChallenge)(nil)

// NewIlluminationChallenge makes the face PAD over the panel's illumination LED with
// the decision threshold (pad.face_threshold).
func NewIlluminationChallenge(led Illuminator, threshold float64, o *FaceOpts) (*IlluminationChallenge, error) {
	if led == nil {
		return nil, errors.New("liveness: no illumination LED")
	}
	if err := checkThreshold(threshold); err != nil {
		return nil, err
	}
	c := &IlluminationChallenge{led: led, threshold: threshold}
	if o != nil {
		c.opts = *o
	}
	if c.opts.Frames <= 0 {
		c.opts.Frames = 12
	}
	if c.opts.Frames < 8 {
		return nil, fmt.Errorf("liveness: %d challenge frames is too few (at least 8)", c.opts.Frames)
	}
	if c.opts.Rand == nil {
		c.opts.Rand = rand.Reader
	}
	if c.opts.Log == nil {
		c.opts.Log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Threshold is the decision threshold.
func (c *IlluminationChallenge) Threshold() float64 { return c.threshold }

// Pattern draws the LED levels for n frames from a nonce: runs of 2 or 3 frames,
// alternating, starting at random, with at least three frames at each level.
func Pattern(nonce []byte, n int) []float64 {
	seed := sha256.Sum256(append([]byte("captura-illumination/v1"), nonce...))
	r := mrand.New(mrand.NewChaCha8(seed))
	for {
		p := make([]float64, 0, n)
		level := float64(r.IntN(2))
		for len(p) < n {
			run := 2 + r.IntN(2)
			for k := 0; k < run && len(p) < n; k++ {
				p = append(p, level)
			}
			level = 1 - level
		}
		on := 0
		for _, v := range p {
			if v > 0 {
				on++
			}
		}
		if on >= 3 && n-on >= 3 {
			return p
		}
	}
}

// Run implements facecapture.Challenge. rep locates the face and eyes on the stream's
// frames. The LED is off before the first frame and after the last.
func (c *IlluminationChallenge) Run(ctx context.Context, stream camera.Stream, rep *face.Report) (*protocol.PAD, error) {
	d, err := c.RunDetail(ctx, stream, rep)
	if err != nil {
		return nil, err
	}
	return d.PAD, nil
}

// RunDetail is Run with the details.
func (c *IlluminationChallenge) RunDetail(ctx context.Context, stream camera.Stream, rep *face.Report) (*Detail, error) {
	g, err := geometry(rep, stream.Request().Size)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(c.opts.Rand, nonce); err != nil {
		return nil, fmt.Errorf("liveness: nonce: %w", err)
	}
	pattern := Pattern(nonce, c.opts.Frames)
	if err := c.led.Illuminate(0); err != nil {
		return nil, fmt.Errorf("liveness: %w", err)
	}
	defer func() {
		if err := c.led.Illuminate(0); err != nil {
			c.opts.Log.Warn("liveness: illumination LED not switched off", "err", err)
		}
	}()
	frames := make([]faceFrame, 0, len(pattern))
	var lut *[256]float64
	for _, level := range pattern {
		if err := c.led.Illuminate(level); err != nil {
			return nil, fmt.Errorf("liveness: %w", err)
		}
		f, err := stream.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("liveness: challenge frame: %w", err)
		}
		img, err := f.Gray()
		if err != nil {
			return nil, fmt.Errorf("liveness: challenge frame: %w", err)
		}
		if lut == nil {
			if f.Format == camera.YUYV {
				lut = &lutLimited
			} else {
				lut = &lutFull
			}
		}
		frames = append(frames, g.extract(img, lut))
	}
	return c.judge(frames, pattern), nil
}

var lutLimited, lutFull = linearLUT(true), linearLUT(false)

// judge scores the measured frames.
func (c *IlluminationChallenge) judge(frames []faceFrame, pattern []float64) *Detail {
	x := measureFace(frames, pattern).vector()
	score, list := faceModel.eval(x)
	return &Detail{PAD: verdict(score, c.threshold, FaceMethod, list), Cues: list, Features: x}
}

// geometry takes the face box and the eyes from the report, scaled to the stream's
// frame size if the report was made on another size.
func geometry(rep *face.Report, size camera.Size) (*faceGeom, error) {
	if rep == nil || !rep.Found || rep.Face == nil {
		return nil, errors.New("liveness: no face located for the challenge")
	}
	sx, sy := 1.0, 1.0
	if rep.Width > 0 && rep.Height > 0 && size.W > 0 && size.H > 0 {
		sx, sy = float64(size.W)/float64(rep.Width), float64(size.H)/float64(rep.Height)
	}
	g := &faceGeom{cx: rep.Face.X * sx, cy: rep.Face.Y * sy, size: rep.Face.Size * (sx + sy) / 2}
	if g.size < 24 {
		return nil, fmt.Errorf("liveness: face of %.0f pixels is too small for the challenge", g.size)
	}
	for _, e := range []*face.Point{rep.RightEye, rep.LeftEye} {
		if e != nil {
			g.eyes = append(g.eyes, [2]float64{e.X * sx, e.Y * sy})
		}
	}
	g.interEye = rep.InterEye * (sx + sy) / 2
	if g.interEye <= 0 {
		g.interEye = 0.4 * g.size
	}
	return g, nil
}
