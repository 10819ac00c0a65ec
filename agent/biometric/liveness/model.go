package liveness

import (
	"math"

	"github.com/captura-claim/captura/protocol"
)

// Cue is one measured presentation-attack cue: its value, in the units its doc states,
// and whether it points towards an attack on its own.
type Cue struct {
	Name  string
	Value float64
	Fired bool
}

// model is a logistic combination of cues: logit = Bias + Σ W[i]·(x[i]-Mean[i])/Scale[i].
// Weights are fitted on training seeds only (see fit_test.go); a cue fires when its own
// term pushes the logit up by more than Fire.
type model struct {
	Names []string
	Mean  []float64
	Scale []float64
	W     []float64
	Bias  float64
	Fire  float64
}

// eval returns the attack probability and the cues that fired.
func (m *model) eval(x []float64) (float64, []Cue) {
	z := m.Bias
	cues := make([]Cue, len(x))
	for i, v := range x {
		if math.IsNaN(v) { // not measured: no evidence either way
			cues[i] = Cue{Name: m.Names[i], Value: v}
			continue
		}
		t := m.W[i] * (v - m.Mean[i]) / m.Scale[i]
		z += t
		cues[i] = Cue{Name: m.Names[i], Value: v, Fired: t > m.Fire}
	}
	return sigmoid(z), cues
}

func sigmoid(z float64) float64 {
	if z > 40 {
		return 1
	}
	if z < -40 {
		return 0
	}
	return 1 / (1 + math.Exp(-z))
}

// verdict builds the protocol result: the decision at threshold (a score at or above it
// is an attack) and the names of the cues that fired.
func verdict(score, threshold float64, method string, cues []Cue) *protocol.PAD {
	score = math.Max(0, math.Min(1, score))
	if math.IsNaN(score) {
		score = 1
	}
	p := &protocol.PAD{Score: score, Decision: protocol.PADBonaFide, Method: method}
	if score >= threshold {
		p.Decision = protocol.PADAttack
	}
	for _, c := range cues {
		if c.Fired {
			p.Cues = append(p.Cues, c.Name)
		}
	}
	return p
}

// checkThreshold validates a configured threshold.
func checkThreshold(t float64) error {
	if math.IsNaN(t) || t <= 0 || t > 1 {
		return errThreshold
	}
	return nil
}
