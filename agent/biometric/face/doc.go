// Package face checks the quality of a face photo the way a capture station
// needs it: find the face, locate the eyes and a few landmarks, run
// ICAO / ISO/IEC 19794-5 style checks with a score, a pass/fail and a hint the
// technician can act on, and cut the ISO/IEC 19794-5 token image.
//
// # Pipeline
//
// The image's BT.601 luma is halved until its shorter side would drop below 400
// pixels; pico's facefinder scans it (faces down to 1/12 of the shorter side,
// windows may overhang the border by 1/8). The four strongest clusters are
// verified by a dense re-scan (pico.Evidence: 2420 windows around the
// detection, plain and mirrored; summed confidence, capped at 300); a face
// needs 50. The largest verified face is the main one; another face counts
// only when it is unambiguous (evidence at the cap). On the pyramid level where
// the face is 150–300 pixels wide, puploc finds the pupils (63 perturbed
// starts, median) and lps cascades the nose tip, mouth corners and lower lip.
// A candidate whose landmarks do not have a human face's layout (pupil distance
// against window size, nose between eyes and lower lip, mouth corners either
// side of the midline) is dropped: this rejects e.g. a dog and a shirt collar.
//
// Measures on the face region use a face-aligned crop in the token geometry at
// 96 pixels between the eyes (so they do not depend on distance or roll): luma
// from the pyramid (bilinear), and near the face the relative luminance
// Y = 0.2126 R + 0.7152 G + 0.0722 B of linearised sRGB quantised to 0–255 (as
// ISO/IEC 29794-5 / OFIQ computes it). The inner face region is the ellipse
// centred 0.5 IED below the eye midpoint with semi-axes 0.8 and 1.05 IED (IED =
// inter-eye distance; face coordinates u along the eye line, v down the face).
//
// # Checks
//
// Each check has a Value (native measure), a Score 0–100 (higher is better), a
// Pass and, when it fails, a Hint. OFIQ (ISO/IEC 29794-5 draft reference
// implementation) mappings are used where a classical definition exists;
// σ(x; x0, w) = 1/(1 + exp((x0 − x)/w)).
//
//	single_face  number of faces. Score 100·(1 − √(a2/a1)) with a1, a2 the
//	  areas of the two largest (OFIQ SingleFacePresent); pass: exactly one.
//	  Hints "no face found: ask the applicant to face the camera", "only the
//	  applicant may be in the picture".
//	inter_eye_distance  pixels between the pupils. Score 100·σ(d; 70, 20)
//	  (OFIQ); pass d ≥ 90 (ISO/IEC 19794-5 / ICAO), hint "come closer"; below
//	  120 (advised) it passes with the hint "come a little closer".
//	head_roll  angle of the eye line in degrees (positive: the subject's left
//	  eye, on the image's right, lower). Score 100·cos²(angle) (OFIQ); pass
//	  |roll| ≤ 8°; hint "keep the head straight".
//	head_yaw  atan(u_nose / 0.6) in degrees, u_nose the nose tip's offset along
//	  the eye line in IED and 0.6 IED the typical depth of the nose tip in front
//	  of the eyes. Score 100·cos²; pass |yaw| ≤ 10°; hint "look at the camera".
//	  Estimation error is about ±3°: ISO's ±5° cannot be enforced with it.
//	head_pitch  from ρ = v_nose / v_mouth (nose tip and mouth corners below the
//	  eye line, IED): tan φ = (0.95 ρ − 0.6)/(0.6 − 0.3 ρ), a frontal face having
//	  the nose 0.6 and the mouth 0.95 IED below the eyes and 0.6 / 0.3 IED in
//	  front of them; positive = face turned down. Score 100·cos²; pass
//	  |pitch| ≤ 20°; hints "raise/lower the chin". Population spread of the
//	  proportions makes this a coarse estimate (about ±4°, larger for unusual
//	  faces): it catches a clearly tilted head only.
//	head_size  estimated crown-to-chin height over image height: 2·T/H with T the
//	  eye line to chin distance, chin taken 0.55 IED below the lower lip. Score
//	  100 at the centre of [0.35, 0.90], 50 at its edges, 0 half a band outside;
//	  hints "come closer" / "move back".
//	centring  eye midpoint x within 50 % ± 5 % of the width and eye line
//	  30–50 % of the height from the top (ISO/IEC 19794-5 full frontal: eyes
//	  50–70 % from the bottom). Value: largest offset outside the bands; score
//	  as head_size; hint "move to the centre (face too far left/right/high/low
//	  in the picture)" — left and right as seen in the picture.
//	head_covering  fraction of a forehead strip (|u| ≤ 0.45, v from −0.75 to
//	  −0.45) whose colour matches the cheeks' skin (Cb and Cr within 2.5 standard
//	  deviations of the cheeks', at least ±10; luminance 0.4–2.5 times theirs).
//	  Score 100·fraction; pass ≥ 0.6; hint "remove hat or anything covering the
//	  forehead". It detects what covers or shades the forehead: hat brims, caps,
//	  scarves worn low, and also a thick fringe of hair. It cannot see a hat or
//	  head covering that leaves the forehead free (religious head coverings that
//	  show the face are accepted by ICAO and pass here).
//	luminance_mean  mean relative luminance μ ∈ [0, 1] of the inner face. Score
//	  100·σ(μ; 0.2, 0.05)·(1 − σ(μ; 0.8, 0.05)) (OFIQ); pass 0.08 ≤ μ ≤ 0.75
//	  (OFIQ's score would fail well-exposed dark skin, so the pass band is on μ);
//	  hints "more light" / "less light".
//	luminance_spread  variance v of the luminance (in [0, 1] units). Score
//	  100·sin(π·60v/(60v + 1)) (OFIQ); pass v ≥ 0.002 (a flat, washed-out or
//	  very dark face); hint "improve the lighting (face looks flat)".
//	dynamic_range  entropy H of the 256-bin luminance histogram in bits. Score
//	  12.5·H (OFIQ); pass score ≥ 50 (H ≥ 4 bits); same hint.
//	under_exposure  fraction x of face pixels with luminance ≤ 25. Score
//	  120·(0.832 − σ(x; 0.92, 0.05)) (OFIQ); pass score ≥ 50 (x ≲ 0.88, so dark
//	  skin is not penalised); hint "more light".
//	over_exposure  fraction x of face pixels with luminance ≥ 247. Score
//	  1/(x + 0.01) (OFIQ); pass x ≤ 0.03; hint "less light".
//	illumination_uniformity  intersection of the normalised 32-bin luminance
//	  histograms of the two cheek zones (|u| 0.25–0.75, v 0.35–0.85; OFIQ uses
//	  smaller zones and 256 bins, too noisy at this scale). Score 100·x^0.3
//	  (OFIQ); pass score ≥ 50 (x ≥ 0.1); hint "light both sides of the face
//	  evenly".
//	sharpness  √(Σ L² / Σ |∇|²) over the inner face of the aligned luma: RMS
//	  4-neighbour Laplacian over RMS central-difference gradient. It ignores
//	  contrast and exposure and falls steeply with blur, to a floor near 0.3.
//	  (OFIQ uses a random forest on Laplacian-type features; this is a classical
//	  stand-in.) Score 100·σ(s; 0.5, 0.1); pass score ≥ 50 (s ≥ 0.5). The
//	  reference portraits measure 0.85–2.7 (the low-resolution ones, upsampled
//	  to the canonical scale, 0.85–1.0); a Gaussian blur of σ = 1 % of the IED
//	  brings a sharp one to about 0.7 and 2 % below 0.5. Hint "hold still and
//	  check the focus".
//	background_uniformity  mean 3×3 Sobel gradient magnitude of the luma over
//	  the background (the token frame outside an ellipse around head and hair,
//	  above the shoulders), times 128 over the background's mean luma (so
//	  exposure does not change it). Score 190·(1 − σ(m; 10, 100)) (OFIQ's
//	  mapping); pass m ≤ 45 (plain and softly graded backdrops measure 4–40,
//	  flags and offices more); hint "use a plain background". With fewer than
//	  2000 background pixels in view (face filling the picture) it is not
//	  assessed: value −1, pass.
//
// The verdict is pass when every check passes. Report.Hints lists the failed
// checks' hints in the order above (geometry and pose before lighting), once
// each.
//
// # Token image
//
// TokenCrop follows ISO/IEC 19794-5:2005 token frontal geometry: width W,
// height W/0.75, eyes on the row 0.6·W from the top, the subject's right eye at
// x = 0.375·W and the left at 0.625·W − 1 (0.25·W apart). The crop removes roll,
// samples bilinearly (supersampled when shrinking) and pads outside the source
// with grey 128. WriteTokenJPEG and TokenRecord encode it at JPEG quality 90
// (TokenJPEGQuality); TokenRecord wraps it in a 19794-5:2005 record
// (package protocol/iso19794/fac) with feature points 3.5 and 3.6 at the eyes.
//
// Biometric data never goes into errors or logs: errors name files and
// conditions only.
package face
