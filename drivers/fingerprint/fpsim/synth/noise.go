package synth

import "math"

// splitmix is a 64-bit mixing function (SplitMix64's finaliser).
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// lattice returns a deterministic value in [0, 1) for integer lattice point (i, j).
func lattice(seed uint64, i, j int64) float64 {
	h := splitmix(seed ^ uint64(i)*0x632be59bd9b4e019 ^ uint64(j)*0x85157af5a2b1c3d7)
	return float64(h>>11) / (1 << 53)
}

// valueNoise is smooth lattice noise in [0, 1) with unit lattice spacing.
func valueNoise(seed uint64, x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	fx, fy = fx*fx*(3-2*fx), fy*fy*(3-2*fy)
	i, j := int64(x0), int64(y0)
	a, b := lattice(seed, i, j), lattice(seed, i+1, j)
	c, d := lattice(seed, i, j+1), lattice(seed, i+1, j+1)
	return a + (b-a)*fx + (c-a)*fy + (a-b-c+d)*fx*fy
}

// fbm is two octaves of value noise at scale s (pixels per lattice cell), centred on
// zero, in about [-0.5, 0.5].
func fbm(seed uint64, x, y, s float64) float64 {
	return (valueNoise(seed, x/s, y/s)-0.5)*0.67 + (valueNoise(seed^0x5bd1e995, 2*x/s+17.3, 2*y/s+5.1)-0.5)*0.33
}
