package synth

import "math/rand/v2"

func newRand(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, 1)) }
