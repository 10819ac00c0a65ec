package fw

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/captura-claim/captura/agent/cli"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
	"github.com/captura-claim/captura/drivers/camera/v4l2"
)

func init() {
	Program.Register(&cli.Command{
		Name:    "camera snap",
		Args:    "--out FILE.jpg",
		Summary: "take a still from the station camera (or the simulator) and save it as JPEG",
		Run:     runCameraSnap,
	})
	Program.Register(&cli.Command{
		Name:    "camera formats",
		Args:    "",
		Summary: "list the pixel formats and frame sizes the camera offers",
		Run:     runCameraFormats,
	})
}

// cameraFlags are the flags shared by the camera commands.
type cameraFlags struct {
	device  *string
	sim     *bool
	scene   *string
	seed    *uint64
	led     *float64
	timeout *time.Duration
}

func addCameraFlags(fs *flag.FlagSet) *cameraFlags {
	return &cameraFlags{
		device:  fs.String("device", "/dev/video0", "V4L2 `device` of the camera"),
		sim:     fs.Bool("sim", false, "use the simulated camera instead of a device"),
		scene:   fs.String("scene", "live", "simulator scene: live, print, screen or injected"),
		seed:    fs.Uint64("seed", 1, "simulator seed (same seed, same picture)"),
		led:     fs.Float64("led", 0, "simulator: illumination LED level, 0 to 1"),
		timeout: fs.Duration("timeout", 10*time.Second, "give up after this long"),
	}
}

func (c *cameraFlags) open() (camera.Camera, error) {
	if *c.sim {
		sp, err := camerasim.ParseSpecies(*c.scene)
		if err != nil {
			return nil, cli.Usagef("%v", err)
		}
		if *c.led < 0 || *c.led > 1 {
			return nil, cli.Usagef("--led must be between 0 and 1")
		}
		level := *c.led
		return camerasim.New(&camerasim.Opts{Species: sp, Seed: *c.seed, Light: camerasim.LightFunc(func() float64 { return level })})
	}
	cam, err := v4l2.Open(*c.device, nil)
	if err != nil {
		return nil, cli.WithHint(err, "is the camera plugged in? list video devices with: ls -l /dev/video*")
	}
	return cam, nil
}

func runCameraSnap(env *cli.Env, fs *flag.FlagSet, args []string) error {
	cf := addCameraFlags(fs)
	out := fs.String("out", "", "write the JPEG to `FILE`")
	sizeFlag := fs.String("size", "", "frame size WxH (default: the largest the camera offers)")
	formatFlag := fs.String("format", "", "pixel format: mjpeg or yuyv (default: the camera's best for the size)")
	quality := fs.Int("quality", 92, "JPEG quality when the frame must be encoded (YUYV)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return cli.Usagef("--out FILE.jpg is required")
	}
	var req camera.Request
	if *sizeFlag != "" {
		s, err := camera.ParseSize(*sizeFlag)
		if err != nil {
			return cli.Usagef("--size: %v", err)
		}
		req.Size = s
	}
	if *formatFlag != "" {
		p, err := camera.ParsePixelFormat(*formatFlag)
		if err != nil {
			return cli.Usagef("--format: %v", err)
		}
		req.Format = p
	}
	if *quality < 1 || *quality > 100 {
		return cli.Usagef("--quality must be 1..100")
	}
	cam, err := cf.open()
	if err != nil {
		return err
	}
	defer cam.Close()
	ctx, cancel := context.WithTimeout(env.Ctx, *cf.timeout)
	defer cancel()
	f, err := cam.Still(ctx, req)
	if err != nil {
		if errors.Is(err, camera.ErrGone) {
			return cli.WithHint(err, "the camera disappeared; check its USB cable")
		}
		return err
	}
	if err := writeSnapAtomic(*out, func(w io.Writer) error { return f.EncodeJPEG(w, *quality) }); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %dx%d %s from %s\n", *out, f.Width, f.Height, f.Format, cam)
	return nil
}

func runCameraFormats(env *cli.Env, fs *flag.FlagSet, args []string) error {
	cf := addCameraFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	cam, err := cf.open()
	if err != nil {
		return err
	}
	defer cam.Close()
	formats, err := cam.Formats()
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, cam)
	for _, f := range formats {
		note := ""
		if !f.Pixel.Supported() {
			note = " (not used by Captura)"
		}
		fmt.Fprintf(env.Stdout, "%s %q%s:", f.Pixel, f.Description, note)
		for _, s := range f.Sizes {
			fmt.Fprintf(env.Stdout, " %s", s)
		}
		fmt.Fprintln(env.Stdout)
	}
	return nil
}

// writeSnapAtomic writes a file through a temporary file in the same directory, synced
// and renamed into place, so a reader never sees half a file.
func writeSnapAtomic(name string, write func(io.Writer) error) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
