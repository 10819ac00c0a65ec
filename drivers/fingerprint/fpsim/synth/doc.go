// Package synth generates synthetic fingerprints in the manner of SFinGe (Cappelli,
// Maio and Maltoni, "Synthetic fingerprint-image generation", ICPR 2000): one distinct
// finger per seed, and any number of impressions of it with natural variation.
//
// A finger (Master, 400×480 pixels at 500 ppi, a whole fingertip) is made in three
// steps:
//
//   - Orientation field from the singular points (Sherlock and Monro's zero-pole model:
//     the ridge angle is half the sum of the angles to the cores minus half the sum of
//     the angles to the deltas), with the class drawn at the natural frequencies (left
//     and right loops 34% and 32%: one core, one delta to the side; whorls 28%: two
//     cores, two deltas; arches 4%: no singular point, ridges rising towards the middle;
//     tented arches 3%: a delta right below the core), the points jittered per seed.
//   - Ridge period map: a mean of 8.2 to 10.5 pixels (0.42 to 0.53 mm) per finger,
//     varying smoothly by ±7% and widening towards the flexion crease.
//   - Ridge pattern: random seed spots grown by iterated filtering, each pixel with the
//     Gabor filter tuned to its orientation and period (a bank of 36 orientations × 16
//     periods), clipping after each pass so the pattern saturates into ridges. Where
//     growth fronts meet out of phase, ridges end or fork: the minutiae (60 to 80 in an
//     R307's 13×15 mm window). Pores are placed on the ridge crests 0.25 to 0.4 mm apart,
//     each with a fixed sweat activity; the skin's micro-texture is a fixed noise field.
//
// An Impression renders the finger on a sensor window: rotation, translation, the
// elastic distortion of a pressed fingertip (rigid in the middle of the contact,
// growing towards its edge, after SFinGe's model), the elliptic contact area with a
// ragged edge that grows with pressure, ridge width and darkness from pressure and
// moisture (dry: thin ridges broken by the micro-relief; wet: ridges merge, valleys
// fill), visible pores, sweat spreading from the pores, surface defects, and Gaussian
// sensor noise. NaturalImpression draws the variation of one live placement.
//
// Prints of synth score like good live captures under NFIQ 2 (see the tests). They are
// not real fingers: the ridge flow is smoother, minutiae are somewhat denser, and the
// pattern classes follow a simple model; they serve simulations and tests, never an
// accuracy claim about real fingerprints.
//
// Cost (BenchmarkGenerate, BenchmarkRender; a shared 2-core machine): a master about
// 0.2 s (16 filter passes over 192,000 pixels, on every core), a 320×360 impression
// about 20 ms.
package synth
