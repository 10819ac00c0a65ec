// Package panel drives a capture station's GPIO panel through periph.io: a status RGB
// LED with named states, a buzzer, a pairing button (debounced, short and long press), the
// finger-touch wake line of R503-style fingerprint readers, and the illumination LED that
// the face liveness challenge switches.
//
// Hardware facts this package relies on:
//
//   - Pins are named in the configuration the way periph's gpioreg names them ("GPIO17",
//     or a board alias such as "P1_11"); New resolves each through gpioreg.ByName after
//     host.Init, which it calls only when the panel is enabled. Nothing touches hardware
//     in init.
//   - The status LED is three lines (red, green, blue) switched on or off; a common-anode
//     LED is active-low (Config.LEDActiveLow).
//   - The pairing button is wired to ground with the SoC's pull-up (pressed = low) unless
//     Config.ButtonActiveHigh. Mechanical contacts bounce for a few milliseconds: a level
//     counts only after Config.Debounce without further edges. The button is watched with
//     edge interrupts (gpio.BothEdges and WaitForEdge), never by polling its level.
//   - R503-family readers raise their touch (wake) output while a finger rests on the
//     sensor ring; Config.TouchActiveLow inverts that for modules that pull it low.
//     WaitTouch waits for that edge with WaitForEdge.
//   - The illumination LED is driven by a MOSFET from a GPIO. On a pin with hardware PWM
//     (on a Raspberry Pi, GPIO12/13/18/19) Illuminate dims it with gpio.PinOut.PWM at
//     Config.IlluminationHz (default 25 kHz, above a camera's line rate, so no banding);
//     elsewhere PWM fails and the LED falls back to on/off.
//   - A passive buzzer needs a square wave (Config.BuzzerHz with PWM); an active buzzer
//     sounds when its line is high.
//
// WaitForEdge cannot be interrupted, so every wait is cut into slices of at most
// Opts.WaitSlice (default 100 ms): a cancelled context is noticed within one slice.
//
// Patterns and debounce timing use Opts.Clock (clockwork), so tests run them on a fake
// clock; the button's debounce state machine is a pure function of edge times.
package panel
