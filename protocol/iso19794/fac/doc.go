// Package fac reads and writes ISO/IEC 19794-5:2005 face image records (the
// "FAC" format carried, for example, in ePassport DG2 and AIMA submissions).
//
// A record is a 14-byte header followed by one facial record per image; all
// integers are big-endian:
//
//	Facial Record Header (14 bytes)
//	  format identifier   4  "FAC\x00"
//	  version number      4  "010\x00"
//	  record length       4  whole record, header included
//	  number of images    2  ≥ 1
//	Facial Record Data, per image
//	  Facial Information (20 bytes)
//	    facial record data length  4  this block + feature points + image information + image data
//	    number of feature points   2
//	    gender                     1  0 unspecified, 1 male, 2 female, 0xFF unknown
//	    eye colour                 1  0 unspecified, 1 black, 2 blue, 3 brown, 4 grey, 5 green, 6 multi-coloured, 7 pink, 0xFF other
//	    hair colour                1  0 unspecified, 1 bald, 2 black, 3 blonde, 4 brown, 5 grey, 6 white, 7 red, 8 green, 9 blue, 0xFF other
//	    property mask              3  bit 0 properties specified, 1 glasses, 2 moustache, 3 beard, 4 teeth visible,
//	                                  5 blink, 6 mouth open, 7 left eye patch, 8 right eye patch, 9 dark glasses,
//	                                  10 distorting medical condition
//	    expression                 2  0 unspecified, 1 neutral, 2 smile (closed jaw), 3 smile (open jaw),
//	                                  4 raised eyebrows, 5 eyes looking away, 6 squinting, 7 frowning
//	    pose angle                 3  yaw, pitch, roll: 0 unspecified, else 1 + (angle + 180) / 2 (2° steps)
//	    pose angle uncertainty     3  yaw, pitch, roll
//	  Feature Points (8 bytes each)
//	    type 1 (1 = 2D MPEG-4 feature point), code 1 (major in the high nibble, minor in the low
//	    one, e.g. 0x35 = 3.5 left eye centre, 0x36 = 3.6 right eye centre), x 2, y 2, reserved 2
//	  Image Information (12 bytes)
//	    face image type     1  0 basic, 1 full frontal, 2 token frontal
//	    image data type     1  0 JPEG, 1 JPEG 2000
//	    width, height       2+2
//	    image colour space  1  0 unspecified, 1 24-bit RGB, 2 YUV422, 3 8-bit greyscale, 4 other
//	    source type         1  0 unspecified, 1 static photo (unknown source), 2 digital still camera,
//	                           3 scanner, 4 video frame (unknown), 5 analogue video, 6 digital video, 7 unknown
//	    device type         2  vendor-assigned, 0 unspecified
//	    quality             2  0 unspecified
//	  Image Data            the JPEG or JPEG 2000 file
//
// Decode checks every length against the bytes actually present and rejects
// records whose header or length fields do not add up; enumerated values it does
// not know are kept as they are, so Decode followed by Encode reproduces the
// input byte for byte. The package imports nothing from the rest of Captura.
package fac
