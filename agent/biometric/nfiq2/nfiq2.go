package nfiq2

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"slices"
	"sync"

	"github.com/captura-claim/captura/agent/biometric/minutiae"
	"github.com/captura-claim/captura/agent/biometric/nfiq2/model"
)

// Error classes, matching NIST's error codes for images it cannot score. Test with
// errors.Is; the message says what was wrong (never anything about the print itself
// beyond the image geometry).
var (
	// ErrInvalidImageSize: the image is blank, or too small or too large once its
	// near-white frame is cropped (NIST's InvalidImageSize).
	ErrInvalidImageSize = errors.New("invalid image size")
	// ErrMeasure: a native quality measure cannot be computed, e.g. too little ridge
	// structure for the FDA histogram, or a resolution other than 500 ppi (NIST's
	// QualityMeasureCalculationError).
	ErrMeasure = errors.New("quality measure cannot be computed")
	// ErrFeatureSet: the minutiae extractor failed (NIST's FJFX_CannotCreateFeatureSet).
	ErrFeatureSet = errors.New("minutiae extraction failed")
	// ErrBadArguments: no image.
	ErrBadArguments = errors.New("bad arguments")
)

// Resolution is the only resolution NFIQ 2 supports, in pixels per inch.
const Resolution = 500

// Extractor finds minutiae in an 8-bit grey image of the given resolution. Positions
// are pixels in img's coordinates.
type Extractor func(img *image.Gray, ppi int) ([]minutiae.Minutia, error)

// Actionable feedback thresholds (NIST's Thresholds::ActionableQualityFeedback).
const (
	ThresholdUniformImage                    = 1.0     // standard deviation below this: uniform image
	ThresholdEmptyImageOrContrastTooLow      = 250.0   // mean above this: empty image or contrast too low
	ThresholdFingerprintImageWithMinutiae    = 5.0     // fewer minutiae than this: too few minutiae
	ThresholdSufficientFingerprintForeground = 50000.0 // fewer foreground pixels than this: too little print
)

// Feedback is one actionable quality value and whether it passes NIST's threshold.
type Feedback struct {
	Value     float64
	Threshold float64
	OK        bool
}

// Actionable is NIST's actionable quality feedback.
type Actionable struct {
	// UniformImage is the standard deviation of the grey values; OK when >= 1.
	UniformImage Feedback
	// EmptyImageOrContrastTooLow is the mean grey value; OK when <= 250.
	EmptyImageOrContrastTooLow Feedback
	// FingerprintImageWithMinutiae is the number of minutiae; OK when >= 5.
	FingerprintImageWithMinutiae Feedback
	// SufficientFingerprintForeground is the number of foreground pixels; OK when >= 50000.
	SufficientFingerprintForeground Feedback
}

// Result is the quality of one image.
type Result struct {
	// UnifiedQualityScore is NFIQ 2's score, 0 (worst) to 100 (best).
	UnifiedQualityScore int
	// Measures are the native quality measures; MeasureNames gives their NIST names.
	Measures Measures
	// Actionable is the actionable feedback.
	Actionable Actionable
	// Crop is the part of the input left after removing the near-white frame; every
	// measure is computed on it.
	Crop image.Rectangle
}

// Opts configures a Model.
type Opts struct {
	// Workers is how many goroutines a pass of one computation is split over (0:
	// min(GOMAXPROCS, 4)). The region of interest, the block measures and the
	// minutiae extractor run side by side, so a computation runs at most 2×Workers+1
	// goroutines; 1 computes the measures serially (the extractor still runs beside).
	Workers int
}

// Model computes NFIQ 2 with NIST's random forest. It is safe for concurrent use.
type Model struct {
	forest  *model.Forest
	workers int
	pool    sync.Pool
}

// Load decodes the embedded NIST forest (nist_plain_tir-ink, 100 trees, 69 features).
func Load() (*Model, error) { return New(nil) }

// New is Load with options.
func New(opts *Opts) (*Model, error) {
	f, err := model.LoadNISTPlainTIRInk()
	if err != nil {
		return nil, fmt.Errorf("nfiq2: %w", err)
	}
	return newModel(f, opts), nil
}

func newModel(f *model.Forest, opts *Opts) *Model {
	w := 0
	if opts != nil {
		w = opts.Workers
	}
	if w <= 0 {
		w = min(runtime.GOMAXPROCS(0), 4)
	}
	m := &Model{forest: f, workers: w}
	m.pool.New = func() any { return new(scratch) }
	return m
}

var (
	defaultOnce  sync.Once
	defaultModel *Model
	defaultErr   error
)

// Default returns a Model shared by the process, loaded on first use.
func Default() (*Model, error) {
	defaultOnce.Do(func() {
		f, err := model.Default()
		if err != nil {
			defaultErr = fmt.Errorf("nfiq2: %w", err)
			return
		}
		defaultModel = newModel(f, nil)
	})
	return defaultModel, defaultErr
}

// String describes the model.
func (m *Model) String() string {
	return fmt.Sprintf("nfiq2{forest: %d trees, %d features, source md5 %s; workers %d}",
		m.forest.Trees(), m.forest.Features(), m.forest.SourceMD5(), m.workers)
}

// Score returns the unified quality score for the measures (NIST's vote arithmetic).
func (m *Model) Score(ms *Measures) (int, error) {
	s, err := m.forest.Score(ms[:])
	if err != nil {
		return 0, fmt.Errorf("nfiq2: %w", err)
	}
	return s, nil
}

// Compute scores img (8-bit grey at ppi, which must be 500) with the given minutiae,
// whose positions are in img's coordinates. NIST crops the near-white frame first and
// runs its extractor on the cropped image; minutiae outside the crop are ignored.
func (m *Model) Compute(img *image.Gray, ppi int, mins []minutiae.Minutia) (*Result, error) {
	return m.compute(img, ppi, func(crop image.Rectangle, _ *gray) ([]point, error) {
		pts := make([]point, 0, len(mins))
		for _, mn := range mins {
			p := image.Pt(mn.X, mn.Y)
			if p.In(crop) {
				pts = append(pts, point{p.X - crop.Min.X, p.Y - crop.Min.Y})
			}
		}
		return pts, nil
	})
}

// ComputeWith scores img, finding its minutiae with extract. As NIST does with its
// extractor, extract is given the cropped image (origin 0,0) and runs concurrently with
// the other measures; an FDA failure takes precedence over an extractor failure, as in
// NIST's order of computation.
func (m *Model) ComputeWith(img *image.Gray, ppi int, extract Extractor) (*Result, error) {
	if extract == nil {
		return nil, fmt.Errorf("nfiq2: %w: no minutiae extractor", ErrBadArguments)
	}
	return m.compute(img, ppi, func(_ image.Rectangle, g *gray) ([]point, error) {
		// The extractor gets its own copy: it runs while the measures read g.
		own := &gray{w: g.w, h: g.h, pix: slices.Clone(g.pix)}
		mins, err := extract(own.toImage(), ppi)
		if err != nil {
			return nil, fmt.Errorf("nfiq2: %w: %w", ErrFeatureSet, err)
		}
		pts := make([]point, 0, len(mins))
		for _, mn := range mins {
			if mn.X >= 0 && mn.Y >= 0 && mn.X < g.w && mn.Y < g.h {
				pts = append(pts, point{mn.X, mn.Y})
			}
		}
		return pts, nil
	})
}

type minutiaeSource func(crop image.Rectangle, g *gray) ([]point, error)

func (m *Model) compute(img *image.Gray, ppi int, src minutiaeSource) (*Result, error) {
	if img == nil {
		return nil, fmt.Errorf("nfiq2: %w: no image", ErrBadArguments)
	}
	g, crop, err := cropWhiteFrame(img)
	if err != nil {
		return nil, err
	}
	if ppi != Resolution {
		return nil, fmt.Errorf("nfiq2: %w: only %d ppi images are supported, not %d", ErrMeasure, Resolution, ppi)
	}
	type minRes struct {
		pts []point
		err error
	}
	minCh := make(chan minRes, 1)
	go func() {
		pts, err := src(crop, g)
		minCh <- minRes{pts, err}
	}()

	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	res := &Result{Crop: crop}
	native, err := m.measure(g, s, &res.Measures)
	mr := <-minCh
	if err != nil {
		return nil, err
	}
	if mr.err != nil {
		return nil, mr.err
	}
	if native.lateErr != nil {
		return nil, native.lateErr
	}
	minutiaeMeasures(g, mr.pts, native.mu, native.sigma, &res.Measures)

	a := &res.Actionable
	a.UniformImage = Feedback{native.sigma, ThresholdUniformImage, native.sigma >= ThresholdUniformImage}
	a.EmptyImageOrContrastTooLow = Feedback{native.mu, ThresholdEmptyImageOrContrastTooLow, native.mu <= ThresholdEmptyImageOrContrastTooLow}
	nm := res.Measures[MinutiaeCount]
	a.FingerprintImageWithMinutiae = Feedback{nm, ThresholdFingerprintImageWithMinutiae, nm >= ThresholdFingerprintImageWithMinutiae}
	fg := float64(native.roiPixels)
	a.SufficientFingerprintForeground = Feedback{fg, ThresholdSufficientFingerprintForeground, fg >= ThresholdSufficientFingerprintForeground}

	if res.UnifiedQualityScore, err = m.Score(&res.Measures); err != nil {
		return nil, err
	}
	return res, nil
}
