package camera_test

import (
	"context"
	"fmt"

	"github.com/jonboulle/clockwork"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
)

// A preview loop as the face-quality work runs it: frames at a requested rate, each
// with its sequence number and capture time, converted to grey for analysis; then a still
// at full size. Any camera.Camera works the same (v4l2.Open for a real one).
func Example() {
	var cam camera.Camera
	cam, err := camerasim.New(&camerasim.Opts{Seed: 7, FreeRun: true, Clock: clockwork.NewFakeClock()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cam.Close()
	ctx := context.Background()
	s, err := cam.Preview(ctx, camera.Request{Size: camera.Size{W: 640, H: 480}, FPS: 5})
	if err != nil {
		fmt.Println(err)
		return
	}
	var first *camera.Frame
	for range 3 {
		f, err := s.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		if first == nil {
			first = f
		}
		g, err := f.Gray()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("frame %d at +%v: %s %v grey\n", f.Seq, f.Time.Sub(first.Time), f.Format, g.Bounds().Size())
	}
	s.Close()
	still, err := cam.Still(ctx, camera.Request{Size: camera.Size{W: 1280, H: 720}, Format: camera.MJPEG})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("still: %s %dx%d\n", still.Format, still.Width, still.Height)
	// Output:
	// frame 0 at +0s: YUYV (640,480) grey
	// frame 1 at +200ms: YUYV (640,480) grey
	// frame 2 at +400ms: YUYV (640,480) grey
	// still: MJPG 1280x720
}
