package liveness

// fingerModels are the two-frame and one-frame models of one sensor.
type fingerModels struct{ two, one *model }

// sensorModels holds the finger models per sensor geometry (width × height of the
// delivered image): the cues depend on the sensor's resolution, bit depth and optics (a
// resampled 508 ppi capacitive image has softer edges than a 500 ppi optical one), so
// each module family has its own fit. Other geometries use the R307's, uncalibrated.
var sensorModels = map[[2]int]fingerModels{
	{256, 288}: {fingerModel, singleFingerModel},         // R307, AS608 (optical, 500 ppi, 4 bits)
	{192, 192}: {fingerModelR503, singleFingerModelR503}, // R503 (capacitive, 508 ppi, 4 bits)
}

func modelsFor(w, h int) fingerModels {
	if m, ok := sensorModels[[2]int{w, h}]; ok {
		return m
	}
	return sensorModels[[2]int{256, 288}]
}

// Model weights. They were fitted by logistic regression on presentations from the
// training seeds only (go test ./agent/biometric/liveness/padeval -run TestFit -fit
// -fit.seeds 101,102,103,104 -fit.n 100, which prints this file's models);
// evaluations report on other seeds.

// training: 1600 presentations (seeds 101 to 108, 100 bona fide and 100 moulds each,
// R307; replays left out: the history and the frozen-frame rule decide those: go test
// ./agent/biometric/liveness/padeval -run TestFit -fit -fit.mod finger -fit.seeds
// 101,102,103,104,105,106,107,108 -fit.n 100 -fit.folds 8); errors at threshold 0.5:
// bona fide 0.019, mould 0.022. Held out one seed at a time (trained on the other
// seven): bona fide 0.00 to 0.05, mould 0.01 to 0.05. The best single cue alone would
// err on 20% of one class. (The first fit, on seeds 101 to 104, erred on 3 to 7% of the
// bona fide of unseen seeds: four seeds were too few.)
var fingerModel = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges},
	Mean:  []float64{-1.8478, 0.1507, 0.1520, 0.2266, 0.1980, 0.0633},
	Scale: []float64{0.2768, 0.1355, 0.1062, 0.0787, 0.0470, 0.0100},
	W:     []float64{-0.2470, -1.7960, -0.7133, -0.6916, -2.5182, 1.6473},
	Bias:  -5.4165,
	Fire:  1.5,
}

// training: the same 1600 presentations, first frame only; errors at threshold 0.5:
// bona fide 0.069, mould 0.064 (held out: 0.04 to 0.14). A weak judgement, used when
// the finger left before the second frame or pad.finger_frames is 1.
var singleFingerModel = &model{
	Names: []string{CueUniform, CueSoftEdges},
	Mean:  []float64{0.1980, 0.0633},
	Scale: []float64{0.0470, 0.0100},
	W:     []float64{-2.6712, 1.9930},
	Bias:  -3.3648,
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

// R503 (go test ./agent/biometric/liveness/padeval -run TestFit -fit -fit.reader R503
// -fit.mod finger -fit.seeds 101,102,103,104 -fit.n 100). Its images are 1.9 s apart
// (a smaller upload), so less sweat shows, and its window is smaller: weaker.
// training: 800 presentations; errors at threshold 0.5: bona fide 0.043, mould 0.043;
// held out one seed at a time: bona fide 0.02 to 0.07, mould 0.03 to 0.06.
var fingerModelR503 = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges},
	Mean:  []float64{-2.0776, 0.0840, 0.1036, 0.1757, 0.2006, 0.1226},
	Scale: []float64{0.2354, 0.0762, 0.0617, 0.0453, 0.0417, 0.0100},
	W:     []float64{0.1865, -2.2727, -0.4489, -1.1020, -2.6029, 1.2301},
	Bias:  -4.2747,
	Fire:  1.5,
}

// training: the same, first frame only: bona fide 0.133, mould 0.133 (held out 0.09 to
// 0.17).
var singleFingerModelR503 = &model{
	Names: []string{CueUniform, CueSoftEdges},
	Mean:  []float64{0.2006, 0.1226},
	Scale: []float64{0.0417, 0.0100},
	W:     []float64{-2.5119, 1.3409},
	Bias:  -2.2431,
	Fire:  1.5,
}
