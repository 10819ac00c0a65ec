// Package pico evaluates the cascades of the pico method (N. Markus, M. Frljak,
// I. S. Pandžić, J. Ahlberg, R. Forchheimer, "Object Detection with Pixel
// Intensity Comparisons Organized in Decision Trees", arXiv:1305.4537): binary
// decision trees whose internal nodes compare two pixel intensities at positions
// given relative to a square window, so no image features are computed and the
// detector needs only an 8-bit grey image.
//
// Two file layouts exist, both little-endian.
//
// Object detection cascade (facefinder):
//
//	int32  version
//	int8×4 training bounding-box descriptor (unused at run time)
//	int32  tree depth d
//	int32  number of trees n
//	n × { int8×4 × (2^d − 1) node tests (r1, c1, r2, c2), in units of window/256, heap order from node 1
//	      float32 × 2^d leaf outputs
//	      float32 rejection threshold }
//
// A window of side s centred on (r, c) walks each tree from node 1: at node k
// it compares I(r + r1·s/256, c + c1·s/256) ≤ I(r + r2·s/256, c + c2·s/256) and
// goes to 2k or 2k+1; the leaf's output is added to the running sum, and the
// window is rejected as soon as the sum is at or below the tree's threshold.
// An accepted window's confidence is the final sum minus the last threshold.
// Detection scans windows over positions (step 10 % of the side) and scales
// (×1.1), then merges overlapping accepted windows (IoU > 0.2) into clusters.
//
// Landmark localiser (puploc, lps/*):
//
//	int32   number of stages S
//	float32 window scale multiplier applied after each stage
//	int32   trees per stage T
//	int32   tree depth d
//	S × T × { int8×4 × (2^d − 1) node tests, heap order from node 0
//	          float32×2 × 2^d leaf outputs (Δrow, Δcol) in units of the window size }
//
// Starting from a window (r, c, s), each stage sums its trees' outputs (here the
// test is I(p1) > I(p2), pixel reads clamped to the image), moves the estimate
// by that sum times s and shrinks s. Running from several randomly perturbed
// starts and taking the per-axis median makes the estimate robust. Mirroring the
// column offsets and outputs runs a cascade trained for one side of the face on
// the other side.
//
// The embedded models (models/, MIT, see models/PROVENANCE) are facefinder,
// puploc and three lps cascades (lp93 nose tip, lp84 mouth corner, lp82 lower
// lip). This package is our own implementation from the layouts above.
package pico
