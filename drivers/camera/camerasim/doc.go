// Package camerasim is a simulated station camera: it renders a face, or a presentation
// attack on the face, as a UVC camera would deliver it, and it satisfies camera.Camera.
//
// Everything is deterministic for a seed: the same Opts (seed included), the same calls
// and the same illumination-LED level at each frame give byte-identical frames on a given
// architecture (the Go compiler fuses multiply-adds on arm64, so an arm64 frame may differ
// from an amd64 one in the last bit of some pixels). Natural
// variation between presentations comes only from the seed: which portrait, skin or paper
// reflectance, distance to the camera (face size and LED strength, inverse square),
// ambient light level and tint, LED placement, sensor noise, defocus, and the small
// motions of a person or of a hand. The attack species do not differ by any single
// constant: their LED responses overlap in overall strength and differ in structure.
//
// # Scene models
//
// Light is handled in linear units: a frame is exposure * (ambient + LED) light reflected
// (or emitted) by the scene, blurred by the optics, with Poisson-Gaussian sensor noise,
// then gamma-encoded and packed as YUYV (or MJPEG). Exposure is fixed for a stream (auto
// exposure locked from the LED-off scene, as a liveness check needs), so turning the LED
// on brightens what reflects it.
//
//   - BonaFide (live face): the portrait is the albedo; the head is an ellipsoid with a
//     nose ridge and eye sockets. The LED is a near point light just above the camera:
//     its Lambertian shading falls off across the face (bright centre, darker sides and
//     under the chin) with inverse-square fall-off; skin has a Blinn-Phong specular lobe
//     that is stronger on the forehead and nose; each cornea reflects the LED as a small
//     glint next to the pupil. The background wall is far and barely answers the LED.
//     The head sways, rolls and breathes slightly (a few tenths of a percent of its size,
//     0.2 to 1.2 Hz).
//   - Print: the same portrait printed on paper: a flat plane (slightly tilted) that
//     answers the LED in proportion everywhere (only the smooth fall-off of a plane under
//     a point light), no corneal glints and no skin lobe, printer tone compression, an AM
//     halftone screen of cyan/magenta/yellow dots and paper texture; moved rigidly by a
//     hand with tremor.
//   - Screen: the portrait replayed on a phone or tablet: self-luminous content (with the
//     recorded person's own motion), an RGB sub-pixel grid whose pitch near the camera's
//     pixel pitch aliases into moiré, rolling refresh bands, and a weak LED response: a
//     few percent of diffuse reflection plus a broad, defocused glare spot where the glass
//     mirrors the LED.
//   - Injected: frames of a live face recorded earlier and fed into the pipeline: it
//     looks live (shading, glints, motion) but follows the recording's own LED schedule
//     (off, on, or toggling on its own timing) and ignores the real LED.
//
// The illumination LED is read at each frame through a Light, usually PinLight over the
// very gpio.PinIO (a periph gpiotest.Pin in tests) that the panel drives, so a
// challenge-response runs end to end.
//
// Pacing: a stream waits for each frame's due time on Opts.Clock (real time by default).
// With Opts.FreeRun, frames are produced as fast as Next is called and stamped with
// virtual times start + n/fps, which lets an evaluation run many presentations quickly;
// a challenge then sets the LED for frame n+1 after receiving frame n.
package camerasim
