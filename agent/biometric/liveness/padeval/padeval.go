// Package padeval evaluates the station's presentation-attack detection on simulated
// presentations, through the same code a capture session runs: the face illumination
// challenge drives the panel's illumination LED (panel.Dev over panelsim's GPIO pins)
// while camerasim renders a live face or an attack lit by that very pin; the finger PAD
// reads a simulated reader module over its pseudo-terminal with the real driver, the
// module serving bona fide and attack presentations from package presentations.
//
// It reports per species the number of presentations and, in ISO/IEC 30107-3 terms,
// APCER (the proportion of attack presentations of the species classified as bona
// fide) and BPCER (the proportion of bona fide presentations classified as attacks) at
// the configured thresholds. Presentations that could not be captured at all (no face
// found, the reader refusing the image) are counted apart, as failures to acquire.
//
// The figures describe the simulated presentations only: they are not the result of
// an evaluation with real artefacts by an accredited laboratory.
package padeval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/captura-claim/captura/agent/biometric/face"
	"github.com/captura-claim/captura/agent/biometric/liveness"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/fpsim/presentations"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
	"github.com/captura-claim/captura/drivers/panel"
	"github.com/captura-claim/captura/drivers/panel/panelsim"
)

// Modalities.
const (
	Face   = "face"
	Finger = "finger"
)

// Options configure an evaluation.
type Options struct {
	Seed uint64
	// N is the number of presentations per species (default 20).
	N int
	// Thresholds (pad.face_threshold, pad.finger_threshold); default 0.5.
	FaceThreshold, FingerThreshold float64
	// History is pad.history (default 2000; negative: none).
	History int
	// FingerFrames is pad.finger_frames: images per finger placement, 2 (default) or 1
	// (the first image judged alone).
	FingerFrames int
	// Modalities to run; both when empty.
	Modalities []string
	// Reader is the simulated module: "R307" (default), "R503" or "GT-521F52".
	Reader string
	// Preview is the camera preview size (default 640x480, as facecapture uses).
	Preview camera.Size
	// Progress, when set, is called after each presentation.
	Progress func(done, total int)
	Log      *slog.Logger
}

// Result is one presentation.
type Result struct {
	Seed     uint64 // the evaluation's seed
	Modality string
	Species  string
	Attack   bool
	Index    int
	Score    float64
	Decision string
	Cues     []string
	// Features are the PAD model's inputs (for fitting).
	Features []float64
	// Replay is the history lookup (finger).
	Replay liveness.Match
	// Kind is the attack variant where the species has several (replay kinds, mould
	// materials).
	Kind string
	// Err is why the presentation could not be acquired ("" when it was).
	Err string
}

// Row summarises one species.
type Row struct {
	Modality    string
	Species     string
	Attack      bool
	N           int // presentations judged
	Wrong       int // attacks judged bona fide, or bona fide judged attacks
	NotAcquired int
}

// Rate is APCER for an attack species, BPCER for bona fide.
func (r Row) Rate() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.Wrong) / float64(r.N)
}

// Report is an evaluation's outcome.
type Report struct {
	Options Options
	Rows    []Row
	Results []Result
	Elapsed time.Duration
}

func (o *Options) fill() {
	if o.N <= 0 {
		o.N = 20
	}
	if o.FaceThreshold == 0 {
		o.FaceThreshold = 0.5
	}
	if o.FingerThreshold == 0 {
		o.FingerThreshold = 0.5
	}
	if o.History == 0 {
		o.History = 2000
	}
	if o.FingerFrames != 1 {
		o.FingerFrames = 2
	}
	if o.History < 0 { // no replay history
		o.History = 0
	}
	if len(o.Modalities) == 0 {
		o.Modalities = []string{Face, Finger}
	}
	if o.Reader == "" {
		o.Reader = "R307"
	}
	if o.Preview == (camera.Size{}) {
		o.Preview = camera.Size{W: 640, H: 480}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Run evaluates. It stops early, with the error, when ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.fill()
	for _, m := range o.Modalities {
		if m != Face && m != Finger {
			return nil, fmt.Errorf("padeval: unknown modality %q (want face or finger)", m)
		}
	}
	start := time.Now()
	rep := &Report{Options: o}
	total := 0
	if slices.Contains(o.Modalities, Face) {
		total += 4 * o.N
	}
	if slices.Contains(o.Modalities, Finger) {
		total += 3 * o.N
	}
	done := 0
	step := func() {
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	if slices.Contains(o.Modalities, Face) {
		res, err := runFace(ctx, &o, step)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			return rep, err
		}
	}
	if slices.Contains(o.Modalities, Finger) {
		res, err := runFinger(ctx, &o, step)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			return rep, err
		}
	}
	rep.summarise()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func (r *Report) summarise() {
	idx := map[[2]string]int{}
	for _, res := range r.Results {
		k := [2]string{res.Modality, res.Species}
		i, ok := idx[k]
		if !ok {
			i = len(r.Rows)
			idx[k] = i
			r.Rows = append(r.Rows, Row{Modality: res.Modality, Species: res.Species, Attack: res.Attack})
		}
		row := &r.Rows[i]
		if res.Err != "" {
			row.NotAcquired++
			continue
		}
		row.N++
		if (res.Decision == "attack") != res.Attack {
			row.Wrong++
		}
	}
}

// Write prints the report as a table.
func (r *Report) Write(w io.Writer) error {
	o := r.Options
	var b strings.Builder
	fmt.Fprintf(&b, "PAD evaluation on simulated presentations: seed %d, %d per species\n", o.Seed, o.N)
	fmt.Fprintf(&b, "thresholds: face %.2f, finger %.2f; finger module %s (simulated), %d image(s) per placement\n\n", o.FaceThreshold, o.FingerThreshold, o.Reader, o.FingerFrames)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "modality\tspecies\tpresentations\tnot acquired\tmisclassified\tAPCER\tBPCER\t")
	for _, row := range r.Rows {
		apcer, bpcer := "-", "-"
		rate := fmt.Sprintf("%.1f%%", 100*row.Rate())
		if row.Attack {
			apcer = rate
		} else {
			bpcer = rate
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t\n", row.Modality, row.Species, row.N, row.NotAcquired, row.Wrong, apcer, bpcer)
	}
	tw.Flush()
	b.WriteString("\nAPCER: attack presentations of the species classified as bona fide; BPCER: bona fide\n")
	b.WriteString("presentations classified as attacks (ISO/IEC 30107-3). Simulated presentations only.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// seedFor derives the seed of presentation i of a modality.
func seedFor(seed uint64, what string, i int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", what, seed, i)
	return h.Sum64()
}

// runFace runs every face species through the illumination challenge.
func runFace(ctx context.Context, o *Options, step func()) ([]Result, error) {
	board := panelsim.New()
	dev, err := panel.New(&panel.Opts{Config: board.Config(), Enabled: true, Lookup: board.Lookup, Logger: o.Log})
	if err != nil {
		return nil, err
	}
	defer dev.Halt()
	nonce := rand.NewChaCha8(seed32(o.Seed, "nonce"))
	ch, err := liveness.NewIlluminationChallenge(dev, o.FaceThreshold, &liveness.FaceOpts{Rand: nonce, Log: o.Log})
	if err != nil {
		return nil, err
	}
	// The preview analyser, as facecapture configures it for this preview size.
	f := float64(o.Preview.W) / 1280
	an, err := face.NewAnalyzer(&face.Options{MinInterEye: 90 * f, AdvisedInterEye: 120 * f})
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, sp := range camerasim.AllSpecies() {
		name := sp.String()
		if sp == camerasim.BonaFide {
			name = "bona-fide"
		}
		for i := 0; i < o.N; i++ {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			res := Result{Seed: o.Seed, Modality: Face, Species: name, Attack: sp.IsAttack(), Index: i}
			cam, err := camerasim.New(&camerasim.Opts{Species: sp, Seed: seedFor(o.Seed, Face, i),
				Light: camerasim.PinLight(board.Illumination), FreeRun: true})
			if err != nil {
				return out, err
			}
			d, err := facePresentation(ctx, cam, an, ch, o.Preview)
			cam.Close()
			if err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				res.Err = err.Error()
			} else {
				res.Score, res.Decision, res.Cues, res.Features = d.PAD.Score, d.PAD.Decision, d.PAD.Cues, d.Features
			}
			out = append(out, res)
			step()
		}
	}
	return out, nil
}

// errNoFace is a presentation in which no face was found: not acquired.
var errNoFace = errors.New("no face found in the preview")

func facePresentation(ctx context.Context, cam camera.Camera, an *face.Analyzer, ch *liveness.IlluminationChallenge, size camera.Size) (*liveness.Detail, error) {
	s, err := cam.Preview(ctx, camera.Request{Size: size, FPS: 10})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var rep *face.Report
	for k := 0; k < 8 && rep == nil; k++ {
		f, err := s.Next(ctx)
		if err != nil {
			return nil, err
		}
		img, err := f.Image()
		if err != nil {
			return nil, err
		}
		r, err := an.Analyze(img)
		if err != nil {
			return nil, err
		}
		if r.Found {
			rep = r
		}
	}
	if rep == nil {
		return nil, errNoFace
	}
	return ch.RunDetail(ctx, s, rep)
}

func seed32(seed uint64, what string) [32]byte {
	var s [32]byte
	for i := 0; i < 4; i++ {
		v := seedFor(seed, what, i)
		for k := 0; k < 8; k++ {
			s[8*i+k] = byte(v >> (8 * k))
		}
	}
	return s
}

// reader is a started simulator and the driver over it.
type reader struct {
	dev      fingerprint.Reader
	close    func()
	timing   presentations.Timing
	captured int
}

// startReader powers a simulated module serving src and opens the real driver on it.
func startReader(ctx context.Context, model string, src fpsim.Source, seed uint64, frames int) (*reader, error) {
	line := fpsim.LineConfig{Unpaced: true, Seed: seed}
	finger := fpsim.FingerConfig{Mode: fpsim.FingerAuto, FramesPerPlacement: frames}
	switch model {
	case "R307", "AS608", "R503":
		sim, err := r30xsim.Start(r30xsim.Config{LineConfig: line, Model: model, Baud: 115200, Source: src, Finger: finger})
		if err != nil {
			return nil, err
		}
		dev, err := r30x.Open(ctx, sim.Path(), 115200, &r30x.Opts{PollInterval: 2 * time.Millisecond})
		if err != nil {
			sim.Close()
			return nil, err
		}
		return &reader{dev: dev, close: func() { dev.Close(); sim.Close() }}, nil
	case "GT-521F52", "GT-521F32":
		sim, err := gt521sim.Start(gt521sim.Config{LineConfig: line, Model: model, Baud: 115200, Source: src, Finger: finger})
		if err != nil {
			return nil, err
		}
		dev, err := gt521.Open(ctx, sim.Path(), 115200, &gt521.Opts{PollInterval: 2 * time.Millisecond})
		if err != nil {
			sim.Close()
			return nil, err
		}
		return &reader{dev: dev, close: func() { dev.Close(); sim.Close() }}, nil
	}
	return nil, fmt.Errorf("padeval: unknown reader %q (want R307, R503 or GT-521F52)", model)
}

// ReaderTiming is the image schedule of a simulated module at 115200 baud, and the
// frame index of a placement's first captured image.
func ReaderTiming(model string) (presentations.Timing, int, error) {
	switch model {
	case "R307", "AS608":
		return presentations.R30xTiming(256, 288, 128, 115200, 300*time.Millisecond), 1, nil
	case "R503":
		return presentations.R30xTiming(192, 192, 128, 115200, 150*time.Millisecond), 1, nil
	case "GT-521F52", "GT-521F32":
		return presentations.GT521Timing(115200, 500*time.Millisecond), 0, nil
	}
	return presentations.Timing{}, 0, fmt.Errorf("padeval: unknown reader %q (want R307, R503 or GT-521F52)", model)
}

// runFinger presents bona fide fingers first (they fill the station's history), then
// moulds, then replays of the bona fide captures.
func runFinger(ctx context.Context, o *Options, step func()) ([]Result, error) {
	timing, captured, err := ReaderTiming(o.Reader)
	if err != nil {
		return nil, err
	}
	key := seed32(o.Seed, "history")
	hist, err := liveness.NewHistory(nil, o.History, key[:])
	if err != nil {
		return nil, err
	}
	pad, err := liveness.NewFingerPAD(o.FingerThreshold, hist, &liveness.FingerOpts{Log: o.Log, SingleFrame: o.FingerFrames == 1})
	if err != nil {
		return nil, err
	}
	seed := seedFor(o.Seed, Finger, 0)
	newLive := func() *presentations.Live {
		return &presentations.Live{Seed: seed, PerFinger: 2, Timing: timing}
	}
	vr := rand.New(rand.NewPCG(seed, 9))
	victims := make([]int, o.N)
	for i := range victims {
		victims[i] = vr.IntN(o.N)
	}
	replay := &presentations.ReplaySource{Of: newLive(), Victim: func(p int) int { return victims[p%len(victims)] },
		Seed: seed ^ 0x7265706c, Captured: captured}
	mould := &presentations.MouldSource{Seed: seed ^ 0x6d6f756c, Timing: timing}
	live := newLive()
	species := []struct {
		name string
		src  fpsim.Source
		kind func(i int) string
	}{
		{"bona-fide", live, live.Describe},
		{"mould", mould, mould.Describe},
		{"replay", replay, func(i int) string { return replay.KindAt(i).String() }},
	}
	var out []Result
	for _, sp := range species {
		rd, err := startReader(ctx, o.Reader, sp.src, seed, o.FingerFrames)
		if err != nil {
			return out, err
		}
		for i := 0; i < o.N; i++ {
			if err := ctx.Err(); err != nil {
				rd.close()
				return out, err
			}
			res := Result{Seed: o.Seed, Modality: Finger, Species: sp.name, Attack: sp.name != "bona-fide", Index: i, Kind: sp.kind(i)}
			d, err := fingerPresentation(ctx, rd.dev, pad)
			if err != nil {
				if ctx.Err() != nil {
					rd.close()
					return out, ctx.Err()
				}
				res.Err = err.Error()
			} else {
				res.Score, res.Decision, res.Cues, res.Features, res.Replay = d.PAD.Score, d.PAD.Decision, d.PAD.Cues, d.Features, d.Replay
			}
			out = append(out, res)
			step()
		}
		rd.close()
	}
	return out, nil
}

// fingerPresentation is what a session does for one attempt: wait for the previous
// finger to lift, wait for a finger, capture, judge.
func fingerPresentation(ctx context.Context, r fingerprint.Reader, pad *liveness.FingerPAD) (*liveness.Detail, error) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.WaitLift(wctx); err != nil {
		return nil, fmt.Errorf("wait for lift: %w", err)
	}
	if err := r.WaitFinger(wctx); err != nil {
		return nil, fmt.Errorf("wait for finger: %w", err)
	}
	img, err := r.Capture(ctx)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return pad.AssessDetail(ctx, r, img)
}
