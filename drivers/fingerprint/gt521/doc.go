// Package gt521 drives the ADH-Tech GT-521Fxx / GT-511Cx family of UART fingerprint
// modules (GT-521F32, GT-521F52, GT-511C3).
//
// # Datasheet facts
//
// Line: 8N1, factory 9600 baud; ChangeBaudrate (04) accepts 9600, 19200, 38400, 57600
// and 115200. The module acknowledges at the old speed and then switches; the host must
// close and reopen its port (tarm/serial cannot change speed on an open port). Public
// drivers probe every speed at start-up (some firmware keeps the speed, the datasheet's
// default is 9600 at power-on), and so does package detect; this driver negotiates the
// target speed (Opts.TargetBaud, 115200) at every open.
//
// Command and response packets are 12 bytes: 55 AA | device id 0001 | parameter (4) |
// command or response (2) | checksum (2), little-endian; the checksum is the 16-bit sum of
// the ten bytes before it. Responses are ACK 0030 (parameter = result) or NACK 0031
// (parameter = error code): 1001 timeout, 1002 bad baud rate, 1003 id outside the
// database, 1004 id not used, 1005 id already used, 1006 communication error, 1007 1:1
// failed, 1008 1:N failed, 1009 database full, 100A database empty, 100B enrollment out of
// order, 100C bad finger, 100D enrollment failed, 100E command not supported, 100F device
// error, 1010 capture cancelled, 1011 invalid parameter, 1012 finger not pressed; a
// parameter below 1000 during enrollment is the id of a duplicate.
//
// Data packets: 5A A5 | device id | data | checksum (sum of everything before it). They
// carry no length: the command says how much comes. Open (01) with a non-zero parameter
// is followed by 24 bytes of device information (firmware version, ISO area size, 16-byte
// serial number), 30 bytes on the wire. GetImage (62) sends the last captured image,
// 202×258 at 8 bits (52,116 bytes; datasheets write "258x202"), 450 ppi, in one packet:
// 52,122 bytes, 9.05 s at 57600 and 4.52 s at 115200. GetRawImage (63) captures and sends
// a 160×120 subsampled frame (19,200 bytes). MakeTemplate (61) sends a 498-byte template
// of the last capture.
//
// Other commands used: CmosLed (12; the optical sensor sees nothing without its LED, so
// IsPressFinger and CaptureFinger need it on), IsPressFinger (26; ACK parameter 0 when a
// finger is on), CaptureFinger (60; parameter non-zero for the slower best-image mode the
// datasheet recommends for enrollment), CheckEnrolled (21; used on id 2999 to tell a
// 3000-print GT-521F52, which answers "not used", from a 200-print one, which answers "id
// outside the database").
//
// # Errata and what users of other drivers hit
//
//   - IsPressFinger reports a finger on some boards whatever is on the sensor. When
//     IsPressFinger says "pressed" the driver confirms with a fast CaptureFinger; after two
//     contradictions it polls with CaptureFinger alone (PressUnreliable).
//   - Drivers that read the 52 KB image without checking its checksum, or hang when the
//     module goes quiet: every read here has a deadline and every packet is checked.
//
// # Integrity of images
//
// One 16-bit additive checksum covers 52 KB: by our estimate for single-bit errors, at a
// damage rate of 3e-5 per byte one image in eight that passes its checksum is wrong; at 1e-3 no upload is ever clean. The module
// keeps its image, so the driver repeats GetImage and votes byte by byte: a byte (header
// and checksum included) is taken when at least two uploads agree on it and it has two
// votes more than any other value; the voted packet must then pass its checksum. A copy
// that lost bytes is shorter than the command implies and is dropped whole. This is
// uart.VerifyStrict, and VerifyAuto means the same here: at least two uploads per image
// (about 9 s at 115200). VerifyChecksum takes the first copy that passes, for clean lines.
// With 1e-3 bit noise an image takes about four uploads (see TestNoiseIntegrity); after
// Opts.MaxUploads (12) the capture fails with ErrCorrupt.
package gt521
