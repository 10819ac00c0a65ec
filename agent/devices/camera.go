package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/v4l2"
	"github.com/captura-claim/captura/protocol"
)

// Camera opens the station camera when a capture needs it and reopens it after it
// vanished (a USB camera pulled out and plugged back).
type Camera struct {
	open func() (camera.Camera, error)
	name string
	log  *slog.Logger

	mu    sync.Mutex
	cam   camera.Camera
	state protocol.DeviceStatus
}

// NewV4L2Camera manages the V4L2 camera at path.
func NewV4L2Camera(path string, log *slog.Logger) *Camera {
	return NewCamera(path, func() (camera.Camera, error) { return v4l2.Open(path, &v4l2.Opts{Logger: log}) }, log)
}

// NewCamera manages the camera that open returns (a simulator in demos and tests).
func NewCamera(name string, open func() (camera.Camera, error), log *slog.Logger) *Camera {
	return &Camera{open: open, name: name, log: log, state: protocol.DeviceStatus{Kind: "camera", Name: name, State: "absent"}}
}

// Get returns the open camera, opening it if needed.
func (c *Camera) Get() (camera.Camera, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cam != nil {
		return &watched{Camera: c.cam, owner: c}, nil
	}
	cam, err := c.open()
	if err != nil {
		c.state = protocol.DeviceStatus{Kind: "camera", Name: c.name, State: "absent", Detail: err.Error()}
		return nil, fmt.Errorf("camera %s: %w", c.name, err)
	}
	c.cam = cam
	c.state = protocol.DeviceStatus{Kind: "camera", Name: cam.String(), State: "ok"}
	c.log.Info("camera open", "camera", cam.String())
	return &watched{Camera: cam, owner: c}, nil
}

// gone forgets a camera that vanished, so the next Get reopens it.
func (c *Camera) gone(cam camera.Camera) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cam == cam {
		cam.Close()
		c.cam = nil
		c.state = protocol.DeviceStatus{Kind: "camera", Name: c.name, State: "absent", Detail: "vanished"}
		c.log.Warn("camera vanished", "camera", c.name)
	}
}

// Status reports the camera.
func (c *Camera) Status() protocol.DeviceStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Close closes the camera.
func (c *Camera) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cam != nil {
		c.cam.Close()
		c.cam = nil
	}
}

// watched notices ErrGone on stills and previews.
type watched struct {
	camera.Camera
	owner *Camera
}

func (w *watched) check(err error) error {
	if errors.Is(err, camera.ErrGone) {
		w.owner.gone(w.Camera)
	}
	return err
}

func (w *watched) Still(ctx context.Context, r camera.Request) (*camera.Frame, error) {
	f, err := w.Camera.Still(ctx, r)
	return f, w.check(err)
}

func (w *watched) Preview(ctx context.Context, r camera.Request) (camera.Stream, error) {
	s, err := w.Camera.Preview(ctx, r)
	if err != nil {
		return nil, w.check(err)
	}
	return &watchedStream{Stream: s, w: w}, nil
}

type watchedStream struct {
	camera.Stream
	w *watched
}

func (s *watchedStream) Next(ctx context.Context) (*camera.Frame, error) {
	f, err := s.Stream.Next(ctx)
	return f, s.w.check(err)
}
