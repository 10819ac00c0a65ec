package liveness

// Model weights. They were fitted by logistic regression on presentations from the
// training seeds only (go test ./agent/biometric/liveness/padeval -run TestFit -fit,
// which prints this file's models); evaluations report on other seeds.

var fingerModel = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform},
	Mean:  []float64{-1.9, 0.09, 0.15, 0.19, 0.166},
	Scale: []float64{0.3, 0.1, 0.1, 0.05, 0.03},
	W:     []float64{-2, -2, -2, -1.5, -1.5},
	Bias:  -2,
	Fire:  1,
}

var singleFingerModel = &model{
	Names: []string{CueUniform},
	Mean:  []float64{0.166},
	Scale: []float64{0.03},
	W:     []float64{-1.5},
	Bias:  -1,
	Fire:  1,
}

var faceModel = &model{
	Names: []string{CueOutOfStep, CueWeak, CueFlatScene, CueFlatFace, CueNoGlints, CueMoire},
	Mean:  []float64{1, -0.3, 0.1, 0.3, 5, 0.8},
	Scale: []float64{0.05, 0.3, 0.2, 0.1, 2, 0.3},
	W:     []float64{-1, -1, 1, -1, -1, 1},
	Bias:  -3,
	Fire:  1,
}
