// Package presentations models what lies on a simulated fingerprint sensor: live
// fingers with natural variation, and the presentation-attack species a station must
// notice: a static mould (cast) of someone's finger and a replayed image. Each model is
// an fpsim.Source, so the r30xsim and gt521sim simulators serve it byte for byte over
// their pseudo-terminals, and the agent's reader, quality and PAD code see it exactly as
// they would see a module.
//
// All ridge patterns come from package synth (one distinct finger per seed). Every
// source is deterministic: the same options give the same images for the same
// (placement, frame) on a given architecture, which is what lets a replay model replay
// the very bytes an earlier bona fide capture produced.
//
// # Time within a placement
//
// A source does not see a clock: frame k of a placement is taken to happen at
// FrameTime(k) after the finger came down. The simulators count every image the module
// takes (an R30x GenImg poll while waiting for the finger is frame 0, the capture's
// GenImg frame 1, a second capture for PAD frame 2; a GT-521 CaptureFinger is frame 0),
// so Timing holds the module's own schedule: R30xTiming and GT521Timing compute it from
// the line speed (an UpImage of an R307 takes 3.5 s at 115200 baud, so two frames of one
// placement are about 3.8 s apart; 1.9 s on the R503, about 5 s on a GT-521).
//
// # Bona fide (Live)
//
// A person's finger keeps its ridges, pores and skin texture (the synth.Master); each
// placement draws position, rotation, pressure, skin moisture, distortion and sensor
// noise (synth.NaturalImpression), and each person a perspiration rate and skin type.
// During one placement the occluded fingertip sweats: moisture rises (ridges darken and
// widen), the pores fill and then spill into the valleys as dark bridges near active
// pores (the perspiration pattern of Derakhshani et al. and Parthasaradhi et al., seen
// between captures 2 to 5 s apart), the pad flattens under steady pressure or the person
// relaxes (creep: the contact area and ridge width change, a small non-rigid change of
// the distortion), and the hand trembles
// by a fraction of a pixel. Perspiration rates are drawn log-normally and one finger in
// ten barely sweats (cold or dry skin), so some live placements change little or get
// lighter.
//
// # Mould (static cast)
//
// A cast of another person's finger (silicone, gelatine, latex or wood glue) pressed on
// the sensor by an attacker. It keeps the victim's ridge flow and minutiae but not the
// skin: the ridge profile is smoothed (casting loses fine detail), the surface is
// uniform (little texture, pores mostly lost), it may carry air bubbles and dirt, and its
// moisture is the material's: silicone and latex are dry-like and constant; a mould the
// attacker breathed on is wet and dries out during the placement (the opposite of
// sweat); gelatine either dries, or (half the gelatine casts) conforms: the soft gel
// flattens under the attacker's finger and its surface water spreads over the platen,
// so the image darkens over the seconds as a sweating finger's does, but evenly. It is elastic, so it distorts when pressed and creeps a little under the
// attacker's finger, and the sensor noise is as real as for a finger. No single number
// separates it from a live finger: a dry live finger changes little, a conforming
// gelatine cast darkens, a silicone cast may have a live-like contrast.
//
// # Replay
//
// An image of an earlier capture fed to the host instead of the sensor's (a device on
// the UART line, or a tampered module): exactly the bytes of an earlier capture at this
// station (ReplayExact, both frames of a recorded placement; ReplayStatic, the captured
// frame for every request), or a near copy meant to dodge an exact hash (ReplayNear,
// ReplayNearStatic: shifted by up to 3 pixels, cropped by up to 4 and rescaled, re-encoded with
// another tone curve, blur and quantisation, fresh noise per frame).
//
// What the models leave out: the sensor's optics (an FTIR prism's response to a cast's
// refractive index, a capacitive sensor's response to its conductivity: a non-conductive
// silicone cast gives no image at all on an R503, which stops that attack before any
// PAD), latent prints left on the platen, and replays of images captured elsewhere.
package presentations
