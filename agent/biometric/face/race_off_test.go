//go:build !race

package face

const raceEnabled = false
