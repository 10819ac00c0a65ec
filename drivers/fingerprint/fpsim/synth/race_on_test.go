//go:build race

package synth

// The race detector makes the ridge growth about ten times slower: tests use fewer
// and smaller fingers under it.
const raceEnabled = true
