package facecapture

import (
	"context"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/protocol/iso19794/fac"
)

func simCamera(t *testing.T, o camerasim.Opts) func() (camera.Camera, error) {
	t.Helper()
	d, err := camerasim.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return func() (camera.Camera, error) { return d, nil }
}

func TestCapturesAGoodFace(t *testing.T) {
	c, err := New(simCamera(t, camerasim.Opts{Seed: 3, Nominal: true}), Opts{Hold: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var hints int
	res, err := c.CaptureFace(ctx, func([]string) { hints++ })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Quality.Pass || res.Quality.Alg != Alg || res.Quality.Score == 0 {
		t.Fatalf("quality = %+v", res.Quality)
	}
	r, err := fac.Decode(res.Record)
	if err != nil {
		t.Fatalf("face record: %v", err)
	}
	if len(r.Images) != 1 {
		t.Fatalf("%d images in the record", len(r.Images))
	}
}

func TestPoorFaceKeepsBestFrameWithReasons(t *testing.T) {
	// Too far away: the face never passes; at the timeout the best frame is kept and
	// the quality says why.
	c, err := New(simCamera(t, camerasim.Opts{Seed: 3, Nominal: true, Scale: 0.45}), Opts{Hold: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	res, err := c.CaptureFace(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Quality.Pass {
		t.Fatalf("a small face passed: %+v", res.Quality)
	}
	if len(res.Hints) == 0 {
		t.Error("no hint for the technician")
	}
}

func TestCameraVanishes(t *testing.T) {
	c, _ := New(simCamera(t, camerasim.Opts{Seed: 1, FailAfter: 3}), Opts{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.CaptureFace(ctx, nil); err == nil {
		t.Fatal("a vanished camera gave a face")
	}
}
