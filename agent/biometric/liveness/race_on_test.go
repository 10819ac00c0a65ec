//go:build race

package liveness

// Under the race detector rendering is about ten times slower: fewer presentations.
const raceEnabled = true
