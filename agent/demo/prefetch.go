package demo

import (
	"image"
	"sync"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
)

// prefetch renders a synthetic source's first placements ahead, in the background, and
// keeps every frame it has rendered. A synthetic finger takes a quarter of a second to
// grow (seconds under the race detector) and the simulated module renders its image
// while it answers GenImg, which a real module does in about half a second: without
// this the module's answer could be late and the driver time out.
type prefetch struct {
	src  fpsim.Source
	mu   sync.Mutex
	m    map[[2]int]*frameOnce
	done chan struct{} // closed once every prefetched frame is rendered
}

type frameOnce struct {
	once sync.Once
	img  *image.Gray
	err  error
}

// newPrefetch starts rendering frames 0 to frames-1 of placements 0 to n-1 on two
// goroutines; they stop when done.
func newPrefetch(src fpsim.Source, n, frames int) *prefetch {
	p := &prefetch{src: src, m: map[[2]int]*frameOnce{}, done: make(chan struct{})}
	next := make(chan int)
	go func() {
		for i := range n {
			next <- i
		}
		close(next)
	}()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for pl := range next {
				for f := range frames {
					p.Frame(pl, f)
				}
			}
		})
	}
	go func() { wg.Wait(); close(p.done) }()
	return p
}

// Frame implements fpsim.Source.
func (p *prefetch) Frame(placement, frame int) (*image.Gray, error) {
	k := [2]int{placement, frame}
	p.mu.Lock()
	e, ok := p.m[k]
	if !ok {
		e = &frameOnce{}
		p.m[k] = e
	}
	p.mu.Unlock()
	e.once.Do(func() { e.img, e.err = p.src.Frame(placement, frame) })
	return e.img, e.err
}

// PPI implements fpsim.PPIer.
func (p *prefetch) PPI() int { return fpsim.SourcePPI(p.src) }
