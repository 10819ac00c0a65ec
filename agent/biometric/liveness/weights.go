package liveness

// Model weights. They were fitted by logistic regression on presentations from the
// training seeds only (go test ./agent/biometric/liveness/padeval -run TestFit -fit,
// which prints this file's models); evaluations report on other seeds.

// training: 308 presentations (seeds 101 and 102, 60 per species, R307; replays of
// recorded placements left out: the history catches those); errors at threshold 0.5:
// bona fide 0.008, mould 0.008, static replays 0.
var fingerModel = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges},
	Mean:  []float64{-1.8416, 0.1589, 0.1549, 0.2276, 0.2000, 0.0631},
	Scale: []float64{0.2785, 0.1437, 0.1043, 0.0851, 0.0451, 0.0100},
	W:     []float64{-0.8308, -1.4014, -0.8555, -0.2226, -2.2295, 1.5822},
	Bias:  -5.7254,
	Fire:  1.5,
}

// training: 240 presentations (bona fide and moulds of the same runs, first frame
// only); errors at threshold 0.5: bona fide 0.042, mould 0.042.
var singleFingerModel = &model{
	Names: []string{CueUniform, CueSoftEdges},
	Mean:  []float64{0.2000, 0.0631},
	Scale: []float64{0.0451, 0.0100},
	W:     []float64{-2.9764, 2.2566},
	Bias:  -3.9477,
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
