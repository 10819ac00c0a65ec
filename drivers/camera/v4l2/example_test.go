package v4l2_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/v4l2"
)

// Opening a UVC camera and saving a still (needs the device, so not run as a test).
func ExampleOpen() {
	cam, err := v4l2.Open("/dev/video0", &v4l2.Opts{FrameTimeout: 2 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cam.Close()
	f, err := cam.Still(context.Background(), camera.Request{Size: camera.Size{W: 1920, H: 1080}})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := os.Create("still.jpg")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer out.Close()
	if err := f.EncodeJPEG(out, 92); err != nil {
		fmt.Println(err)
	}
}
