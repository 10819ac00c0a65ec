//go:build race

package padeval

const raceEnabled = true
