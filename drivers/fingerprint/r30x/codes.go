package r30x

import (
	"fmt"

	"github.com/captura-claim/captura/drivers/fingerprint"
)

// Instruction codes.
const (
	InsGenImg        = 0x01
	InsImg2Tz        = 0x02
	InsMatch         = 0x03
	InsSearch        = 0x04
	InsRegModel      = 0x05
	InsStore         = 0x06
	InsLoadChar      = 0x07
	InsUpChar        = 0x08
	InsDownChar      = 0x09
	InsUpImage       = 0x0A
	InsDownImage     = 0x0B
	InsDeleteChar    = 0x0C
	InsEmpty         = 0x0D
	InsSetSysPara    = 0x0E
	InsReadSysPara   = 0x0F
	InsSetPwd        = 0x12
	InsVfyPwd        = 0x13
	InsGetRandomCode = 0x14
	InsSetAddr       = 0x15
	InsReadInfPage   = 0x16
	InsTemplateNum   = 0x1D
	InsReadIndexTab  = 0x1F
	InsGetImageEx    = 0x28
	InsCancel        = 0x30
	InsAuraLedConfig = 0x35
	InsCheckSensor   = 0x36
	InsGetAlgVer     = 0x39
	InsGetFwVer      = 0x3A
	InsReadProdInfo  = 0x3C
	InsSoftRst       = 0x3D
	InsHandShake     = 0x40
)

// SetSysPara registers.
const (
	RegBaud       = 4 // N: speed = N × 9600 baud
	RegSecurity   = 5 // 1..5
	RegPacketSize = 6 // 0..3: 32, 64, 128, 256 bytes
)

// Confirmation codes (the first payload byte of an acknowledge packet).
const (
	OK               Code = 0x00
	ErrRecvPacket    Code = 0x01
	ErrNoFinger      Code = 0x02
	ErrEnrollFail    Code = 0x03
	ErrTooMessy      Code = 0x06
	ErrTooFew        Code = 0x07
	ErrNoMatch       Code = 0x08
	ErrNotFound      Code = 0x09
	ErrCombine       Code = 0x0A
	ErrBadLocation   Code = 0x0B
	ErrReadTemplate  Code = 0x0C
	ErrUpTemplate    Code = 0x0D
	ErrRecvData      Code = 0x0E
	ErrUpImage       Code = 0x0F
	ErrDelete        Code = 0x10
	ErrClearLib      Code = 0x11
	ErrWrongPassword Code = 0x13
	ErrInvalidImage  Code = 0x15
	ErrFlashWrite    Code = 0x18
	ErrNoDefinition  Code = 0x19
	ErrBadRegister   Code = 0x1A
	ErrRegConfig     Code = 0x1B
	ErrNotepadPage   Code = 0x1C
	ErrPortOp        Code = 0x1D
	ErrLibFull       Code = 0x1F
	ErrAddress       Code = 0x20
	ErrMustVerifyPwd Code = 0x21
	ErrTemplateEmpty Code = 0x22
	ErrLibEmpty      Code = 0x24
	ErrTimeoutCode   Code = 0x26
	ErrExists        Code = 0x27
	ErrSensor        Code = 0x29
	ErrUnsupported   Code = 0xFC
	ErrHardware      Code = 0xFD
	ErrExecFail      Code = 0xFE
)

// Code is a confirmation code.
type Code byte

var codeText = map[Code]string{
	OK:               "success",
	ErrRecvPacket:    "error receiving the packet",
	ErrNoFinger:      "no finger on the sensor",
	ErrEnrollFail:    "failed to take the finger image",
	ErrTooMessy:      "image too messy to make a character file",
	ErrTooFew:        "too few feature points or image too small",
	ErrNoMatch:       "finger does not match",
	ErrNotFound:      "no matching finger found",
	ErrCombine:       "failed to combine character files",
	ErrBadLocation:   "page id beyond the finger library",
	ErrReadTemplate:  "error reading the template or template invalid",
	ErrUpTemplate:    "error uploading the template",
	ErrRecvData:      "cannot receive the following data packets",
	ErrUpImage:       "error uploading the image",
	ErrDelete:        "failed to delete the template",
	ErrClearLib:      "failed to clear the finger library",
	ErrWrongPassword: "wrong password",
	ErrInvalidImage:  "no valid primary image",
	ErrFlashWrite:    "error writing flash",
	ErrNoDefinition:  "undefined error",
	ErrBadRegister:   "invalid register number",
	ErrRegConfig:     "incorrect register configuration",
	ErrNotepadPage:   "wrong notepad page number",
	ErrPortOp:        "failed to operate the communication port",
	ErrLibFull:       "finger library full",
	ErrAddress:       "wrong address",
	ErrMustVerifyPwd: "password must be verified first",
	ErrTemplateEmpty: "template empty",
	ErrLibEmpty:      "finger library empty",
	ErrTimeoutCode:   "timeout",
	ErrExists:        "fingerprint already exists",
	ErrSensor:        "sensor hardware error",
	ErrUnsupported:   "unsupported instruction",
	ErrHardware:      "hardware error",
	ErrExecFail:      "command execution failure",
}

func (c Code) String() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	return fmt.Sprintf("confirmation code %#02x", byte(c))
}

// CodeError is a module's refusal: the instruction and the confirmation code it answered.
// It wraps the fingerprint category the code belongs to, if any.
type CodeError struct {
	Ins  byte
	Code Code
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("r30x: instruction %#02x: module answered %#02x (%s)", e.Ins, byte(e.Code), e.Code)
}

// Unwrap returns the category: ErrNoFinger, ErrBadImage, ErrUnsupported or nil.
func (e *CodeError) Unwrap() error {
	switch e.Code {
	case ErrNoFinger:
		return fingerprint.ErrNoFinger
	case ErrEnrollFail, ErrTooMessy, ErrTooFew, ErrInvalidImage:
		return fingerprint.ErrBadImage
	case ErrUnsupported:
		return fingerprint.ErrUnsupported
	}
	return nil
}
