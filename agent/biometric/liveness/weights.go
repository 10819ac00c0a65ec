package liveness

// fingerModels are the two-frame and one-frame models of one sensor.
type fingerModels struct{ two, one *model }

// sensorModels holds the finger models per sensor geometry (width × height of the
// delivered image): the cues depend on the sensor's resolution, bit depth and optics (a
// resampled 508 ppi capacitive image has softer edges than a 500 ppi optical one), so
// each module family has its own fit. Other geometries use the R307's, uncalibrated.
var sensorModels = map[[2]int]fingerModels{
	{256, 288}: {fingerModel, singleFingerModel},           // R307, AS608 (optical, 500 ppi, 4 bits)
	{192, 192}: {fingerModelR503, singleFingerModelR503},   // R503 (capacitive, 508 ppi, 4 bits)
	{202, 258}: {fingerModelGT521, singleFingerModelGT521}, // GT-521Fxx (optical, 450 ppi, 8 bits)
}

// modelsFor returns the models of a sensor geometry, and false when there is none and
// the R307's stand in, uncalibrated.
func modelsFor(w, h int) (fingerModels, bool) {
	if m, ok := sensorModels[[2]int{w, h}]; ok {
		return m, true
	}
	return sensorModels[[2]int{256, 288}], false
}

// Model weights. They were fitted by logistic regression on presentations from the
// training seeds only (go test ./agent/biometric/liveness/padeval -run TestFit -fit
// -fit.seeds ... -fit.n 100, which prints this file's models); evaluations report on
// other seeds.

// training: 1600 presentations (seeds 101 to 108, 100 bona fide and 100 moulds each,
// R307; replays left out: the history and the frozen-frame rule decide those: go test
// ./agent/biometric/liveness/padeval -run TestFit -fit -fit.mod finger -fit.seeds
// 101,102,103,104,105,106,107,108 -fit.n 100 -fit.folds 8); errors at threshold 0.5:
// bona fide 0.005, mould 0.006. Held out one seed at a time (trained on the other
// seven): bona fide 0.00 to 0.02, mould 0.00 to 0.02. The best single cue alone
// (Detail) errs on 2.4% of one class; the six cues of the first model (without ink and
// the two ridge-detail cues) erred on 0 to 5% of a held-out seed.
var fingerModel = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{-1.8478, 0.1507, 0.1520, 0.2266, 0.1980, 0.0633, 0.5000, 0.1102, 0.1388},
	Scale: []float64{0.2768, 0.1355, 0.1062, 0.0787, 0.0470, 0.0100, 0.0368, 0.0208, 0.0477},
	W:     []float64{-0.2904, -0.9923, -0.5331, -0.3194, -0.7167, 1.5308, -0.4831, -1.8157, -1.3583},
	Bias:  -5.8853,
	Fire:  1.5,
}

// training: the same 1600 presentations, first frame only; errors at threshold 0.5:
// bona fide 0.006, mould 0.006 (held out: 0.00 to 0.04). Used when the finger left
// before the second frame or pad.finger_frames is 1: without the temporal cues, but
// the ridge detail carries most of the judgement.
var singleFingerModel = &model{
	Names: []string{CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{0.1980, 0.0633, 0.5000, 0.1102, 0.1388},
	Scale: []float64{0.0470, 0.0100, 0.0368, 0.0208, 0.0477},
	W:     []float64{-0.7661, 1.7852, -0.8560, -2.1524, -1.6234},
	Bias:  -4.8170,
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
// -fit.mod finger -fit.seeds 101,102,103,104,105,106,107,108 -fit.n 100 -fit.folds 8).
// Its images are 1.9 s apart (a smaller upload), so less sweat shows, and its window is
// smaller: weaker than the R307's. training: 1600 presentations; errors at threshold
// 0.5: bona fide 0.014, mould 0.014; held out one seed at a time: bona fide 0.00 to
// 0.04, mould 0.00 to 0.03. (Fitted on seeds 101 to 104 alone it erred on 4 to 6% of
// the bona fide of unseen seeds.)
var fingerModelR503 = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{-2.0772, 0.0786, 0.1005, 0.1766, 0.2015, 0.1226, 0.4995, 0.0739, 0.0971},
	Scale: []float64{0.2268, 0.0737, 0.0591, 0.0441, 0.0427, 0.0100, 0.0313, 0.0179, 0.0385},
	W:     []float64{0.0347, -1.2786, -0.2964, -0.4628, -0.8311, 1.1023, -0.3527, -2.2558, -1.6748},
	Bias:  -6.2250,
	Fire:  1.5,
}

// training: the same, first frame only: bona fide 0.020, mould 0.022 (held out 0.01 to
// 0.05).
var singleFingerModelR503 = &model{
	Names: []string{CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{0.2015, 0.1226, 0.4995, 0.0739, 0.0971},
	Scale: []float64{0.0427, 0.0100, 0.0313, 0.0179, 0.0385},
	W:     []float64{-0.9271, 1.2189, -0.7019, -2.6376, -2.0081},
	Bias:  -6.1144,
	Fire:  1.5,
}

// GT-521Fxx (go test ./agent/biometric/liveness/padeval -run TestFit -fit -fit.reader
// GT-521F52 -fit.mod finger -fit.seeds 101,102,103,104 -fit.n 100 -fit.cache A, the same
// for 105 to 108 into B, then the two caches joined and fitted with -fit.folds 8). Its
// images are 4.5 s apart and 8-bit. Before it had this fit it used the R307's model,
// which flagged every bona fide presentation of an evaluation seed.
// training: 1600 presentations; errors at threshold 0.5: bona fide 0.004, mould 0.004;
// held out one seed at a time: bona fide 0.00 to 0.01, mould 0.00 to 0.02.
var fingerModelGT521 = &model{
	Names: []string{CueNoChange, CueNoSweat, CueNoFill, CueNoSpots, CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{-1.8409, 0.1990, 0.2009, 0.1978, 0.1783, 0.1302, 0.5185, 0.0804, 0.0946},
	Scale: []float64{0.2987, 0.1435, 0.1019, 0.0552, 0.0460, 0.0100, 0.0326, 0.0191, 0.0410},
	W:     []float64{-0.0761, -0.9954, -0.2577, -0.6952, -1.2725, 1.0222, -0.5407, -2.3286, -1.3055},
	Bias:  -7.4870,
	Fire:  1.5,
}

// training: the same, first frame only: bona fide 0.003, mould 0.004 (held out 0.00 to
// 0.01).
var singleFingerModelGT521 = &model{
	Names: []string{CueUniform, CueSoftEdges, CueThinRidges, CueSmooth, CueSmoothCrest},
	Mean:  []float64{0.1783, 0.1302, 0.5185, 0.0804, 0.0946},
	Scale: []float64{0.0460, 0.0100, 0.0326, 0.0191, 0.0410},
	W:     []float64{-1.4317, 1.1765, -1.0557, -2.9869, -1.5109},
	Bias:  -6.5826,
	Fire:  1.5,
}
