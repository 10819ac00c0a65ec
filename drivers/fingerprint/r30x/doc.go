// Package r30x drives the R30x / R50x / ZFM / AS608 family of UART fingerprint modules
// (Hangzhou Grow R307, R503 and kin, ZhianTec ZFM-20, Synochip AS608 boards).
//
// # Datasheet facts
//
// Line: 8N1, factory 57600 baud; the speed is 9600×N for N = 1..12 (register 4). The host
// UART and tarm/serial set only standard rates, so this package uses N = 1, 2, 4, 6, 12.
// R50x modules send one byte 0x55 when they are ready after power-on (about 50 ms).
//
// Packet: EF 01 | address (4, factory FFFFFFFF) | PID (1) | length (2) | payload | sum (2),
// all big-endian. PID 01 command, 02 data, 07 acknowledge, 08 end of data. Length counts
// the payload and the checksum (so payload+2) and is at most 258 (256-byte data packets).
// The checksum is the 16-bit sum of PID, both length bytes and the payload; the header and
// the address are not covered, so this driver checks the address itself. A module answers
// only packets carrying its address.
//
// Acknowledge payload: confirmation code, then results. Codes (see Code): 00 OK, 01 error
// receiving the packet, 02 no finger, 03 failed to take the image, 06 image too messy,
// 07 too few features, 08 no match, 09 not found, 0A combine failed, 0B bad page id,
// 0C template read error, 0D template upload error, 0E cannot receive data, 0F image
// upload error, 10 delete failed, 11 clear failed, 13 wrong password, 15 no valid image,
// 18 flash write error, 19 undefined, 1A bad register, 1B bad register value, 1C bad
// notepad page, 1D port error, 1F library full, 20 wrong address, 21 password must be
// verified; R50x add 22, 24, 26, 27, 29, FC (unsupported instruction), FD, FE.
//
// Instructions used: VfyPwd 13 (password, factory 0), ReadSysPara 0F (16 bytes: status,
// system id, library size, security level, address, packet size code 0..3 = 32/64/128/256
// bytes, baud factor N), SetSysPara 0E (register 4 baud, 5 security 1..5, 6 packet size),
// GenImg 01 (image into ImageBuffer; 02 without a finger), UpImage 0A (acknowledge, then
// the ImageBuffer as data packets of the packet size, the last with PID 08), Img2Tz 02
// (character file into CharBuffer 1 or 2), UpChar 08 (a CharBuffer as data packets),
// ReadProdInfo 3C (R50x, 46 bytes: model[16], batch[4], serial[8], hardware version[2],
// sensor type[8], image width, height, template size, library size), GetFwVer 3A (R50x,
// 32-byte string), AuraLedConfig 35 (R50x: control 1 breathing, 2 flashing, 3 on, 4 off,
// 5 fade on, 6 fade off; speed; colour 1 red, 2 blue, 3 purple; count, 0 = for ever).
//
// Images: UpImage sends 4 bits per pixel, two pixels per byte, the left pixel in the high
// nibble, rows top to bottom. Optical R30x/AS608: 256×288 at 500 ppi (36,864 bytes, 288
// packets of 128 → 40,032 bytes on the wire, 6.95 s at 57600 and 3.48 s at 115200 at
// 10 bit times per byte). Capacitive R502/R503: 192×192 at 508 ppi (18,432 bytes). This
// driver widens the pixels as v×17 (0→0, 15→255).
//
// # Errata and what users of other drivers hit
//
//   - Some R30x clones acknowledge a speed change and ignore it; the R50x manual says every
//     SetSysPara takes effect only after the module is powered again. New negotiates 115200
//     (Opts.TargetBaud): it writes register 4, reopens the port at the new speed (tarm/serial
//     cannot change speed on an open port) and handshakes; if the module does not answer it
//     goes back and reads the register to tell ErrBaudPending (stored, needs a power cycle)
//     from ErrBaudIgnored. A module already holding the target speed in its register is not
//     written again.
//   - Image reading that assumes 128-byte packets breaks on modules set to 32, 64 or 256:
//     this driver reads the packet size from ReadSysPara and handles all four.
//   - Drivers that do not resynchronise after a bad header lose the rest of the stream, and
//     drivers that skip the data checksums return corrupted images: this one searches for
//     EF 01 again one byte after any bad header or checksum, and checks every packet.
//   - Old firmware may not answer instructions it does not know (ReadProdInfo); the driver
//     asks those with a short timeout and falls back to the model table (Opts.Model).
//
// # Integrity of uploads
//
// The 16-bit additive checksum misses two errors that cancel (a bit set in one byte and
// the same bit cleared in another). By our estimate for single-bit errors, with one byte in
// a thousand damaged about 6 packets in 10,000 pass with wrong content, so roughly one
// 288-packet image in six would come back silently wrong from a single upload. The module keeps its
// ImageBuffer, so UpImage can be repeated, and the driver does (uart.Verify):
//
//   - VerifyAuto (default): a single upload is accepted only when nothing at all went
//     wrong in it (every packet present and in place, no resynchronisation, no checksum
//     or address failure). Otherwise every packet must be confirmed by at least two
//     identical copies from separate uploads, and two more than any other content, up to
//     Opts.MaxUploads (12) uploads; then ErrCorrupt. Residual risk of the single-upload
//     path: an undetected error needs two cancelling errors in one packet while no other
//     error shows anywhere in the 40 KB stream; at worst (a damage rate near 5e-5 per
//     byte) that is about 5e-5 per image, and it vanishes at higher and lower rates.
//   - VerifyStrict: always two confirming copies (at least two uploads per image).
//   - VerifyChecksum: the first upload whose packets all pass, as other drivers do.
//
// A packet's place in the image comes from its stream offset (packets start every P+11
// bytes after the acknowledge), counted forward from the acknowledge and back from the
// end-of-data packet; a place is taken only when the distance is an exact multiple of
// P+11 and both counts agree, so lost bytes cost packets but never shift one.
//
// Measured on the simulator (see BenchmarkUpload): a full R307 frame at 99.9% of the line
// bound at 57600 and 115200 baud; with 1e-3 bit noise an R503 frame takes about five
// uploads.
package r30x
