package pico

import (
	"embed"
	"fmt"
	"sync"
)

// The model files are MIT-licensed (models/LICENSE-pico, models/LICENSE-pigo);
// models/PROVENANCE says where each came from and its sha256.
//
//go:embed models/facefinder models/puploc models/lps
var modelFS embed.FS

// Models is the set of cascades the face analyser uses.
type Models struct {
	Face  *Cascade   // facefinder: frontal face detector
	Pupil *Localizer // puploc: eye centre (pupil) localiser
	// Landmarks maps an lps cascade name (e.g. "lp93") to its localiser.
	Landmarks map[string]*Localizer
}

var (
	modelsOnce sync.Once
	models     *Models
	modelsErr  error
)

// LandmarkNames lists the embedded lps cascades: lp93 the tip of the nose, lp84
// the subject's right mouth corner (mirrored: the left one), lp82 the centre of
// the lower lip.
var LandmarkNames = []string{"lp82", "lp84", "lp93"}

// Embedded returns the embedded models, decoded once and shared (they are
// read-only after decoding, so safe for concurrent use).
func Embedded() (*Models, error) {
	modelsOnce.Do(func() { models, modelsErr = loadEmbedded() })
	return models, modelsErr
}

func loadEmbedded() (*Models, error) {
	m := &Models{Landmarks: map[string]*Localizer{}}
	b, err := modelFS.ReadFile("models/facefinder")
	if err != nil {
		return nil, fmt.Errorf("pico: %w", err)
	}
	if m.Face, err = ParseCascade(b); err != nil {
		return nil, fmt.Errorf("facefinder: %w", err)
	}
	if b, err = modelFS.ReadFile("models/puploc"); err != nil {
		return nil, fmt.Errorf("pico: %w", err)
	}
	if m.Pupil, err = ParseLocalizer(b); err != nil {
		return nil, fmt.Errorf("puploc: %w", err)
	}
	for _, name := range LandmarkNames {
		if b, err = modelFS.ReadFile("models/lps/" + name); err != nil {
			return nil, fmt.Errorf("pico: %w", err)
		}
		l, err := ParseLocalizer(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m.Landmarks[name] = l
	}
	return m, nil
}
