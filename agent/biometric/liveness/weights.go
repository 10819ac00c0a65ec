package liveness

// Model weights. They were fitted by logistic regression on presentations from the
// training seeds only (go test ./agent/biometric/liveness/padeval -run TestFit -fit
// -fit.seeds 101,102,103,104 -fit.n 100, which prints this file's models);
// evaluations report on other seeds.

// training: 800 presentations (seeds 101 to 104, 100 bona fide and 100 moulds each,
// R307; replays left out: the history and the frozen-frame rule decide those);
// errors at threshold 0.5: bona fide 0.020, mould 0.018. Held out one seed at a time
// (trained on the other three): bona fide 0.01 to 0.03, mould 0.01 to 0.04. The best
// single cue alone (darkening) would err on 16% of one class.
var fingerModel = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges},
	Mean:  []float64{-1.8399, 0.1612, 0.1593, 0.2264, 0.1970, 0.0631},
	Scale: []float64{0.2886, 0.1418, 0.1119, 0.0774, 0.0460, 0.0100},
	W:     []float64{-0.2798, -1.7618, -0.7654, -0.7233, -2.7083, 1.6821},
	Bias:  -5.5805,
	Fire:  1.5,
}

// training: the same 800 presentations, first frame only; errors at threshold 0.5:
// bona fide 0.060, mould 0.062 (held out: 0.04 to 0.12). A weak judgement, used only
// when the finger left before the second frame.
var singleFingerModel = &model{
	Names: []string{CueUniform, CueSoftEdges},
	Mean:  []float64{0.1970, 0.0631},
	Scale: []float64{0.0460, 0.0100},
	W:     []float64{-2.8538, 2.1051},
	Bias:  -3.5563,
	Fire:  1.5,
}

// training: 452 presentations (seeds 101 and 102, 60 per species; 23 prints and 3
// screens not acquired); no training errors at threshold 0.5.
var faceModel = &model{
	Names: []string{CueOutOfStep, CueWeak, CueFlatScene, CueFlatFace, CueNoGlints, CueMoire},
	Mean:  []float64{0.9999, -0.1789, 0.1000, 1.5164, 4.6995, 1.6014},
	Scale: []float64{0.0500, 0.2401, 0.1000, 0.2671, 0.6508, 0.3593},
	W:     []float64{-1.2822, -0.3935, 0.1576, -1.1981, -0.3520, 0.7970},
	Bias:  -4.7189,
	Fire:  1.5,
}
