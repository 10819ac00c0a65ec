//go:build !race

package camerasim

const raceEnabled = false
