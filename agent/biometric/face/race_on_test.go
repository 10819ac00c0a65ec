//go:build race

package face

// raceEnabled: the race detector slows analysis about tenfold.
const raceEnabled = true
