package camerasim_test

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
)

// An attack presentation for a liveness evaluation: the species and seed choose the
// scene; the camera reads the illumination LED from the pin the panel drives.
func Example() {
	led := &gpiotest.Pin{N: "GPIO18", Num: 18}
	cam, err := camerasim.New(&camerasim.Opts{
		Species: camerasim.Print,
		Seed:    1234,
		Light:   camerasim.PinLight(led),
		FreeRun: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cam.Presentation()
	fmt.Println(p.Species, p.Species.IsAttack(), p.Portrait != "")
	s, err := cam.Preview(context.Background(), camera.Request{Size: camera.Size{W: 320, H: 240}, FPS: 15})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for _, lv := range []gpio.Level{gpio.Low, gpio.High} {
		_ = led.Out(lv)
		f, err := s.Next(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(f.Seq, lv, f.Format, f.Width, f.Height)
	}
	// Output:
	// print true true
	// 0 Low YUYV 320 240
	// 1 High YUYV 320 240
}

func ExampleParseSpecies() {
	for _, name := range []string{"live", "print", "screen", "injected"} {
		sp, _ := camerasim.ParseSpecies(name)
		fmt.Print(int(sp), " ")
	}
	fmt.Println()
	// Output: 0 1 2 3
}
