//go:build race

package camerasim

// Under the race detector the renderer runs about ten times slower; the physics tests
// then use fewer seeds (the race detector is there for the concurrency, not the optics).
const raceEnabled = true
