package nfiq2

// Capture policy helpers for the agent (DESIGN.md §8, after BSI TR-03121): NFIQ 2 is
// judged per finger, never averaged.

// MinimumScore returns the default minimum unified quality score for a finger
// position coded as in ISO/IEC 19794-4 (1 right thumb, 2 right index, 3 right middle,
// 4 right ring, 5 right little, 6..10 the same on the left): 30 for thumbs and index
// fingers, 20 for middle fingers, 10 for ring and little fingers. ok is false for other
// positions (unknown finger, plain or slap codes).
func MinimumScore(position int) (score int, ok bool) {
	if position < 1 || position > 10 {
		return 0, false
	}
	switch (position-1)%5 + 1 {
	case 1, 2:
		return 30, true
	case 3:
		return 20, true
	default:
		return 10, true
	}
}

// Hint is a corrective action suggested by the actionable feedback.
type Hint string

// Hints, in the order a technician should address them.
const (
	HintUniformImage    Hint = "uniform image: clean the sensor and place the finger again"
	HintEmptyImage      Hint = "empty image or contrast too low: press the finger on the sensor"
	HintSmallForeground Hint = "too little of the finger on the sensor: place it flat and centred"
	HintFewMinutiae     Hint = "too few minutiae: roll less, press evenly, clean or moisten the finger"
)

// Hints returns the hints for the feedback values that fail NIST's thresholds.
func (a *Actionable) Hints() []Hint {
	var h []Hint
	if !a.UniformImage.OK {
		h = append(h, HintUniformImage)
	}
	if !a.EmptyImageOrContrastTooLow.OK {
		h = append(h, HintEmptyImage)
	}
	if !a.SufficientFingerprintForeground.OK {
		h = append(h, HintSmallForeground)
	}
	if !a.FingerprintImageWithMinutiae.OK {
		h = append(h, HintFewMinutiae)
	}
	return h
}
