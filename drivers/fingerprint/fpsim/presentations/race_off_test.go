//go:build !race

package presentations

const raceEnabled = false
