// Package liveness is the station's presentation-attack detection (PAD, ISO/IEC 30107):
// a score in [0, 1] per captured item (higher means more likely an attack), a decision
// at the configured threshold (pad.face_threshold, pad.finger_threshold: a score at or
// above it is an attack), the method, and the cues that fired. The session keeps the
// sample either way, records the result and alarms the technician; nothing reaches the
// applicant (package session).
//
// No deep learning: a Pi-class box uses the hardware it controls.
//
// # Face: the illumination challenge
//
// IlluminationChallenge (a facecapture.Challenge) runs once auto-capture has a good face
// in the preview. It draws a fresh 128-bit nonce (crypto/rand) and from it an on/off
// pattern for the panel's illumination LED, runs of 2 or 3 frames (12 frames, 1.2 s at
// 10 frames/s), sets the LED before each frame, and measures in linear light:
//
//   - sync (out-of-step): the face's brightness against the pattern, after a linear
//     trend, at the best of lags 0 to 2 frames (a camera delivers a frame or two late).
//     Injected frames follow their recording's timing, not the nonce's.
//   - response (weak-response): the face's relative brightening with the LED. A screen
//     emits its own light and reflects a few per cent; skin and paper reflect.
//   - background (planar-response): the background beside the head against the face. A
//     head is near the LED and the wall far (inverse square: about 0.1); a print or a
//     screen is one plane (about 1). Not measured when the frame has no background.
//   - shape (flat-shading): the horizontal curvature of the LED's relative irradiance
//     (on-off)/off across the face, where the albedo cancels: a curved face is lit
//     most where it faces the LED and less towards the sides; a sheet's response only
//     tilts (the fit's linear terms absorb a tilt).
//   - glints (no-corneal-glints): the cornea mirrors the LED as a small highlight near
//     the pupil; in the ratio (on-off)/off a light sclera does not stand out, a specular
//     glint does. Prints have none; saturated so a screen's glare cannot vouch.
//   - spectrum (spectral-peaks): the strongest peak of the face patch's spectrum between
//     0.15 and 0.5 cycles per pixel over the band's median, averaged over the frames:
//     halftone dots, sub-pixel grids and their moiré are periodic; skin, noise and blur
//     are not. (An MJPEG preview adds 8-pixel block peaks: previews should be YUYV, as
//     facecapture requests at 640×480.)
//
// A logistic model combines the cues; its weights were fitted on training seeds only
// (package padeval, weights.go), so no single cue decides. A cue "fires" when its own
// term raises the log-odds by more than 1.5.
//
// # Finger: two frames of one placement, and the replay history
//
// FingerPAD (a session.FingerPAD) takes a second image while the finger stays on the
// sensor. On these UART modules an image is a full upload: 3.5 s for an R307 at
// 115200 baud, 1.7 s for an R503, 4.5 s for a GT-521, so "several frames over 1 to 2 s"
// is not possible; two frames 2 to 5 s apart are, during one longer placement (the
// panel keeps the applicant's finger down until the second beep). That is the interval
// of the perspiration-based liveness methods (Derakhshani et al. 2003, Parthasaradhi et
// al. 2005): an occluded live fingertip sweats, so its ridges darken and the sweat
// spreads from the pores into the valleys; a cast stays as it was, dries, or (a soft
// gelatine cast) darkens evenly as it flattens. Cues:
//
//   - change (no-change): energy of the smoothed difference after registering the
//     frames (sub-pixel), over the ridge contrast.
//   - darkening (no-perspiration): how much darker the second frame is.
//   - valley filling (no-valley-filling): how much more the valleys darkened than the
//     ridges (sweat spreads into the valleys; light or pressure moves both).
//   - spots (no-pore-spots): how localised the valley darkening is (sweat bridges near
//     active pores, not an even film).
//   - texture (uniform-ridges): the spread of ridge-centre intensities: skin's
//     micro-relief breaks a ridge's contact into patches, a cast is uniform.
//   - soft edges (soft-ridge-edges): the fraction of fingerprint pixels half-way
//     between ridge and valley: skin pressed on the platen gives sharp ridge edges, a
//     cast has lost them.
//   - ridge detail (smooth-along-ridges, smooth-ridge-crests): the energy of the second
//     difference along the local ridge direction (structure tensor over 11×11 pixels),
//     2.5 pixels (0.13 mm) each way, over the local contrast energy; over the whole
//     print and over ridge pixels only. Along a ridge the ridge pattern cancels and what
//     lies on the ridge remains: pores, the skin's micro-texture, breaks in a dry ridge's
//     contact (the "ridge signal" of Tan and Schuckers' wavelet methods, 2006–2008). A
//     cast reproduces the ridges but not that detail (the material's resolution,
//     smoothing as it sets). Unlike sweat it needs no time to show, so it holds for the
//     fingers that barely sweat (cold or dry skin), which the temporal cues miss.
//   - ink (thin-ridges): the fraction of the print darker than its surroundings (the
//     ridges' share of the period). Moisture and pressure widen ridges and moisture
//     also hides texture; with ink the model asks less texture of a wet finger.
//   - frozen-frames: two identical frames, which no real sensor delivers (score 1).
//
// A logistic model fitted on training seeds combines them (weights.go): alone, the best
// of them (ridge detail) would misjudge 2.4% of the bona fide or the casts of the R307
// training runs, the best temporal cue 14%; together they misjudged 0 to 2% of a
// held-out seed's presentations (the README has the evaluation on unseen seeds).
// The cues depend on the sensor (resolution, bit depth, optics, the interval between
// frames), so there is one model per sensor geometry: the R307/AS608 (256×288), the
// R503 (192×192; its frames are only 1.9 s apart; it misjudged 0 to 4% of a held-out
// seed's presentations) and the GT-521 (202×258 at 450 ppi, 8 bits, frames 4.5 s
// apart; 0 to 2%). Other geometries use the R307's model, uncalibrated, and the agent
// logs a warning once: uncalibrated models are not usable — the R307's flagged every
// bona fide GT-521 presentation of an evaluation seed before the GT-521 had its own
// fit. A new sensor needs its own training runs (padeval TestFit -fit.reader).
//
// A finger lifted before the second image, or every finger when pad.finger_frames is 1,
// is judged on the first alone (texture, soft edges, ink, ridge detail and history;
// method "one frame", cue one-frame-only): 0 to 4% errors on held-out training seeds
// (R307; R503 0 to 5%), against 0 to 2% with two frames — the ridge detail carries
// most of the judgement — but it misses what only time shows, and says so.
//
// What is physically out of reach here and what better hardware adds: the R30x and
// GT-521 protocols have no fake-finger signal and no way to read a partial or
// low-resolution frame quickly (the GT-521's 160×120 raw preview still takes 1.7 s at
// 115200 baud and is not in the reader interface), so ridge motion within one second,
// blood flow or skin impedance cannot be seen. GenImg's own timing and quality codes do
// not distinguish a cast. A capacitive R503 does not image a non-conductive silicone
// cast at all (no finger), which stops that attack before PAD; a conductive or
// gelatine cast does image. Modules with a fake-finger detector (multispectral optical
// sensors, some capacitive modules reporting skin impedance) signal it through
// fingerprint.ErrFakeFinger on Capture; FingerPAD then scores 1 with the cue
// module-fake-finger.
//
// # Replay and injection: the history
//
// An image fed to the host instead of the sensor's (a device on the UART line, a
// tampered module) is recognised when it is identical or nearly identical to an
// earlier capture at this station. History remembers the last pad.history captures (both
// frames of every presentation) in the agent's store (bucket "pad"), each as:
//
//   - an exact hash: HMAC-SHA-256 under a station secret of the image size and pixels
//     (truncated to 128 bits);
//   - a robust sketch: the ridge/valley sign of the band-passed image at 512 secret
//     positions near the centre of the image (drawn from the secret), with a
//     foreground flag per position, the signs masked with a keyed stream. A probe is
//     compared at shifts of up to 5 pixels and scales of 1 to 1/0.97, so a copy
//     shifted by up to 3 pixels, cropped by up to 4 and rescaled, re-toned, blurred,
//     requantised or re-noised still agrees at 82 to 99% of the positions (240 such
//     copies in the tuning runs, 88 to 99% for the 201 near replays of the training
//     evaluations), while a new placement of the same finger (rotated, distorted,
//     pressed differently) agrees at 50 to 65%, like any other image. 80% or more is
//     a near copy. A new placement that happens to land within about 5 pixels and 2
//     degrees of an earlier one can exceed it: a bona fide presentation then raises a
//     replay alarm (2 of the 200 re-placements of the same finger in the training
//     evaluations).
//
// Why this is acceptable under GDPR (Art. 5(1)(c), 25, 32): the history holds no image,
// no template and no minutiae. The exact hash is keyed, so it cannot be recomputed from
// an image without the station's secret and reveals nothing about the print. The sketch
// is 512 bits of one image at secret places: too little to reconstruct a fingerprint,
// masked without the key, and by design it does not identify a finger — two placements
// of the same finger do not match (see the tests), only copies of one image do; so it
// cannot be used to recognise a person, within the station or across stations (every
// station has its own secret). Entries are bounded by count (pad.history, default 2000,
// about a week of captures at a busy counter) and leave the station never. The secret
// is not in the database beside the entries: the daemon derives it from the station's
// signing key (HKDF-SHA-256, its own label), so a copy of captura.db alone cannot test an
// image against the history, and a new station key makes every entry meaningless at
// once. (Versions before this kept the secret in the database; the first start with the
// derived secret erases it and the entries it keyed.)
//
// Limits, stated plainly: a replay of an image never captured at this station (taken
// elsewhere, or a recorded placement from another station) is not in the history; if
// both frames of a live placement were recorded and replayed, the temporal cues look
// live too. Only an authenticated sensor channel (a module that signs or encrypts its
// images with a key the station verifies) closes that.
//
// # Evaluation
//
// Package padeval runs simulated bona fide and attack presentations through these
// components and the real drivers and reports APCER per species and BPCER (ISO/IEC
// 30107-3); capturactl pad-eval is its command. The figures describe the simulations
// (camerasim, fpsim/presentations), not real artefacts.
package liveness
