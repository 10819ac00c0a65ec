// Package camera is the station camera's interface, its shared types and the pixel
// conversions every consumer needs.
//
// A Camera gives a still at a requested size and a low-rate preview stream. Each Frame is
// an owned copy of the device's bytes (never a view into a driver buffer) with the
// capture time taken from the camera's clock (a monotonic reading when that clock is the
// real one) and a sequence number that counts every frame the device produced since the
// stream started, so a gap shows a dropped frame.
//
// Implementations: package v4l2 (USB UVC cameras through the Linux V4L2 API) and package
// camerasim (a deterministic renderer of faces and presentation attacks).
//
// Pixel formats, as UVC cameras deliver them:
//
//   - YUYV (V4L2_PIX_FMT_YUYV, fourcc "YUYV"): packed 4:2:2, two pixels in four bytes
//     Y0 U Y1 V; BT.601 "limited range" (Y 16..235, U/V 16..240) is what UVC cameras send.
//   - MJPEG (fourcc "MJPG"): each frame a baseline JPEG. Many UVC cameras leave out the
//     Huffman table segment (DHT) and rely on the standard tables of ITU-T T.81 Annex K.3
//     (the AVI1 convention); Frame.Decode inserts those tables when a frame has none.
//   - GREY (fourcc "GREY"): 8-bit luma only (monochrome and IR sensors).
//
// Conversions to grey, RGBA and YCbCr are in this package (Frame.Gray, Frame.RGBA,
// Frame.Image, YUYVToGray, YUYVToRGBA, YCbCrToRGBA); their benchmarks at 1920x1080 are in
// convert_test.go.
package camera
