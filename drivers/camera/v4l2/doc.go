// Package v4l2 drives USB (UVC) cameras through the Linux V4L2 streaming API, using
// github.com/blackjack/webcam for the ioctls and mmap buffers.
//
// Facts this driver relies on (V4L2 API, kernel uvcvideo driver):
//
//   - Capture uses memory-mapped buffers: VIDIOC_REQBUFS, then each buffer is queued
//     (QBUF); the driver fills one, poll() reports POLLIN, DQBUF hands it to user space,
//     and it must be queued again (ReleaseFrame) before the driver can reuse it. A frame
//     is therefore copied out of the mmap buffer before the buffer is released; a Frame
//     never aliases driver memory.
//   - When the device is unplugged the kernel unregisters the video node: poll() returns
//     POLLERR|POLLHUP at once, and DQBUF and other ioctls fail with ENODEV. This driver
//     maps ENODEV, ENXIO, EIO and EBADF to camera.ErrGone, and a device that stops
//     sending frames without failing to camera.ErrTimeout after Opts.FrameTimeout. Either
//     way Stream.Next returns within FrameTimeout plus one wait slice (1 s: the webcam
//     package waits in whole seconds) and never hangs.
//   - UVC cameras offer YUYV (uncompressed 4:2:2, bandwidth-limited to a few frames/s at
//     1920x1080 on USB 2.0) and MJPEG (compressed, 30 frames/s at 1920x1080). A still or
//     stream without an explicit format uses MJPEG above 640x480 and YUYV at or below.
//   - Many UVC MJPEG frames carry no Huffman tables; package camera inserts the standard
//     ones when decoding.
//   - After STREAMON, auto-exposure needs a few frames to settle; Still discards
//     Opts.Warmup frames first.
//   - The webcam package does not expose the kernel's buffer timestamp; Frame.Time is the
//     time of DQBUF on Opts.Clock (monotonic with the real clock), a few milliseconds
//     after the end of exposure.
//
// Tests drive Dev through the Device interface with a fake device, so none of them needs
// hardware.
package v4l2
