package protocol

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Modalities of a capture item.
const (
	ModFinger = "finger"
	ModFace   = "face"
)

// FingerPos is an ISO/IEC 19794-2/-4 finger position code: 1 right thumb, 2 right index,
// 3 right middle, 4 right ring, 5 right little, 6 left thumb, ... 10 left little.
type FingerPos uint8

var fingerNames = [...]string{"unknown", "right thumb", "right index", "right middle", "right ring", "right little",
	"left thumb", "left index", "left middle", "left ring", "left little"}

func (p FingerPos) String() string {
	if int(p) < len(fingerNames) {
		return fingerNames[p]
	}
	return fmt.Sprintf("finger position %d", uint8(p))
}

// Valid reports whether p is one of the ten single-finger positions.
func (p FingerPos) Valid() bool { return p >= 1 && p <= 10 }

// AllFingers is the default capture plan's finger order (right thumb to left little).
var AllFingers = []FingerPos{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// Reasons for a missing finger (BSI TR-03121 exception codes).
const (
	MissingAmputated = "amputated"
	MissingBandaged  = "bandaged"
	MissingDamaged   = "damaged"
	MissingUnable    = "unable"
)

// ValidMissingReason reports whether r is one of the four exception reasons.
func ValidMissingReason(r string) bool {
	switch r {
	case MissingAmputated, MissingBandaged, MissingDamaged, MissingUnable:
		return true
	}
	return false
}

// PAD decisions.
const (
	PADBonaFide = "bona-fide"
	PADAttack   = "attack"
)

// Limits on sizes inside a record.
const (
	MaxAttempts   = 10
	MaxTextLen    = 500 // reasons, hints, method names
	MaxHints      = 16
	MaxCues       = 32
	MaxNative     = 128
	maxItemsTotal = 11 // ten fingers and a face
)

// Record is one applicant's capture session as the station signs and publishes it (the
// payload of a COSE_Sign1 with content type CTRecord). Only Body carries biometric data
// and what is derived from it (measures, feedback), and it is sealed to AIMA:
// everything else is readable by the gateway and holds no biometric content, only who,
// when, which items, quality scores and verdicts, and PAD decisions.
type Record struct {
	V        uint   `cbor:"v"`
	ID       ID     `cbor:"id"`       // random; idempotency key
	Centre   string `cbor:"centre"`   // CLAIM centre id
	Station  string `cbor:"station"`  // station id
	Seq      uint64 `cbor:"seq"`      // station's record sequence number, from 1
	Prev     Hash   `cbor:"prev"`     // SHA-256 of the previous record's envelope; zero for seq 1
	Txn      string `cbor:"txn"`      // the applicant's service (transaction) reference
	Started  int64  `cbor:"started"`  // Unix milliseconds
	Ended    int64  `cbor:"ended"`    // Unix milliseconds
	Operator string `cbor:"operator"` // id of the tablet that ran the session
	Software string `cbor:"sw"`       // agent version

	Items      []Item      `cbor:"items"`
	Exceptions []Exception `cbor:"exceptions,omitempty"`
	// Body is the sealed biometric body: a tagged COSE_Encrypt0 (see seal.go).
	Body []byte `cbor:"body"`
}

// Item is one captured finger or the face.
type Item struct {
	Mod      string    `cbor:"mod"`           // ModFinger or ModFace
	Pos      FingerPos `cbor:"pos,omitempty"` // finger position; absent for the face
	Attempts []Attempt `cbor:"attempts"`
	Chosen   uint      `cbor:"chosen"`           // index into Attempts of the kept attempt
	Forced   *Override `cbor:"forced,omitempty"` // the technician kept an attempt below threshold
}

// Attempt is one capture attempt of an item. The measures behind its quality and the
// feedback the technician was given are derived from the samples (a face check's
// values, "remove anything covering the forehead"), so they travel sealed, in the
// body's Assessments, not here.
type Attempt struct {
	N      uint    `cbor:"n"`  // 1-based attempt number
	At     int64   `cbor:"at"` // Unix milliseconds
	Q      Quality `cbor:"q"`
	PAD    *PAD    `cbor:"pad,omitempty"`
	Device string  `cbor:"dev,omitempty"` // capture device model
}

// Quality is a quality assessment of one attempt: the score and verdict only.
type Quality struct {
	Alg   string `cbor:"alg"`   // e.g. "NFIQ2", "captura-face-icao"
	Ver   string `cbor:"ver"`   // algorithm version, e.g. "2.3"
	Score uint   `cbor:"score"` // 0..100
	Pass  bool   `cbor:"pass"`  // met the configured threshold
}

// PAD is a presentation-attack-detection result (ISO/IEC 30107).
type PAD struct {
	Score    float64  `cbor:"score"`    // [0, 1]; higher means more likely an attack
	Decision string   `cbor:"decision"` // PADBonaFide or PADAttack
	Method   string   `cbor:"method"`
	Cues     []string `cbor:"cues,omitempty"` // cues that fired
}

// Override records a technician forcing acceptance of a below-threshold attempt.
type Override struct {
	Reason string `cbor:"reason"`
	By     string `cbor:"by"` // tablet id
	At     int64  `cbor:"at"`
}

// Exception records a finger that could not be captured.
type Exception struct {
	Pos    FingerPos `cbor:"pos"`
	Reason string    `cbor:"reason"` // one of the Missing* reasons
	By     string    `cbor:"by"`     // tablet id
	At     int64     `cbor:"at"`
}

// Validate checks the rules the CBOR shape cannot express.
func (r *Record) Validate() error {
	if err := checkVersion(r.V); err != nil {
		return err
	}
	if r.ID.IsZero() {
		return schemaErr("id", "all zeros")
	}
	if err := CheckID("centre", r.Centre); err != nil {
		return err
	}
	if err := CheckID("station", r.Station); err != nil {
		return err
	}
	if err := CheckID("operator", r.Operator); err != nil {
		return err
	}
	if r.Seq == 0 {
		return schemaErr("seq", "must start at 1")
	}
	if err := CheckTransaction("txn", r.Txn); err != nil {
		return err
	}
	if r.Started <= 0 || r.Ended < r.Started {
		return schemaErr("ended", "session times out of order (started %d, ended %d)", r.Started, r.Ended)
	}
	if err := checkText("sw", r.Software, false); err != nil {
		return err
	}
	if len(r.Items)+len(r.Exceptions) == 0 {
		return schemaErr("items", "a record needs at least one item or exception")
	}
	if len(r.Items) > maxItemsTotal || len(r.Exceptions) > 10 {
		return schemaErr("items", "%d items and %d exceptions: too many", len(r.Items), len(r.Exceptions))
	}
	seen := map[FingerPos]string{}
	face := false
	for i := range r.Items {
		it := &r.Items[i]
		p := fmt.Sprintf("items[%d]", i)
		if err := it.validate(p); err != nil {
			return err
		}
		if it.Mod == ModFace {
			if face {
				return schemaErr(p, "a second face item")
			}
			face = true
			continue
		}
		if prev, dup := seen[it.Pos]; dup {
			return schemaErr(p+".pos", "%s already appears in %s", it.Pos, prev)
		}
		seen[it.Pos] = p
	}
	for i, e := range r.Exceptions {
		p := fmt.Sprintf("exceptions[%d]", i)
		if !e.Pos.Valid() {
			return schemaErr(p+".pos", "%d is not a finger position 1-10", e.Pos)
		}
		if !ValidMissingReason(e.Reason) {
			return schemaErr(p+".reason", "%q is not amputated, bandaged, damaged or unable", e.Reason)
		}
		if err := CheckID(p+".by", e.By); err != nil {
			return err
		}
		if prev, dup := seen[e.Pos]; dup {
			return schemaErr(p+".pos", "%s already appears in %s", e.Pos, prev)
		}
		seen[e.Pos] = p
	}
	if len(r.Body) == 0 {
		return schemaErr("body", "empty")
	}
	return nil
}

// checkModPos checks a modality and its finger position (none for the face).
func checkModPos(p, mod string, pos FingerPos) error {
	switch mod {
	case ModFinger:
		if !pos.Valid() {
			return schemaErr(p+".pos", "%d is not a finger position 1-10", pos)
		}
	case ModFace:
		if pos != 0 {
			return schemaErr(p+".pos", "a face item has no finger position")
		}
	default:
		return schemaErr(p+".mod", "%q is not finger or face", mod)
	}
	return nil
}

func (it *Item) validate(p string) error {
	if err := checkModPos(p, it.Mod, it.Pos); err != nil {
		return err
	}
	if len(it.Attempts) == 0 || len(it.Attempts) > MaxAttempts {
		return schemaErr(p+".attempts", "%d attempts, want 1 to %d", len(it.Attempts), MaxAttempts)
	}
	if it.Chosen >= uint(len(it.Attempts)) {
		return schemaErr(p+".chosen", "index %d but only %d attempts", it.Chosen, len(it.Attempts))
	}
	for j := range it.Attempts {
		a := &it.Attempts[j]
		ap := fmt.Sprintf("%s.attempts[%d]", p, j)
		if a.N != uint(j+1) {
			return schemaErr(ap+".n", "attempt number %d at position %d", a.N, j)
		}
		if a.At <= 0 {
			return schemaErr(ap+".at", "missing time")
		}
		if err := a.Q.validate(ap + ".q"); err != nil {
			return err
		}
		if a.PAD != nil {
			if err := a.PAD.validate(ap + ".pad"); err != nil {
				return err
			}
		}
		if err := checkText(ap+".dev", a.Device, false); err != nil {
			return err
		}
	}
	if it.Forced != nil {
		if err := checkText(p+".forced.reason", it.Forced.Reason, true); err != nil {
			return err
		}
		if err := CheckID(p+".forced.by", it.Forced.By); err != nil {
			return err
		}
	}
	return nil
}

func (q *Quality) validate(p string) error {
	if err := checkText(p+".alg", q.Alg, true); err != nil {
		return err
	}
	if err := checkText(p+".ver", q.Ver, true); err != nil {
		return err
	}
	if q.Score > 100 {
		return schemaErr(p+".score", "%d is above 100", q.Score)
	}
	return nil
}

func (d *PAD) validate(p string) error {
	if math.IsNaN(d.Score) || d.Score < 0 || d.Score > 1 {
		return schemaErr(p+".score", "%v is outside [0, 1]", d.Score)
	}
	if d.Decision != PADBonaFide && d.Decision != PADAttack {
		return schemaErr(p+".decision", "%q is not bona-fide or attack", d.Decision)
	}
	if err := checkText(p+".method", d.Method, true); err != nil {
		return err
	}
	if len(d.Cues) > MaxCues {
		return schemaErr(p+".cues", "%d cues, at most %d", len(d.Cues), MaxCues)
	}
	for i, c := range d.Cues {
		if err := checkText(fmt.Sprintf("%s.cues[%d]", p, i), c, true); err != nil {
			return err
		}
	}
	return nil
}

// checkText bounds free text and keeps control characters out of it (they would end up
// in terminals and logs).
func checkText(field, s string, required bool) error {
	if required && s == "" {
		return schemaErr(field, "empty")
	}
	if len(s) > MaxTextLen {
		return schemaErr(field, "%d bytes, at most %d", len(s), MaxTextLen)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return schemaErr(field, "contains a control character")
		}
	}
	return nil
}

// DecodeRecord decodes and validates a record payload (not the signed envelope; see
// VerifyRecord).
func DecodeRecord(data []byte) (*Record, error) {
	var r Record
	if err := decodeStrict("record", data, MaxRecordSize, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Encode validates r and encodes it deterministically.
func (r *Record) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("protocol: record: %w", err)
	}
	return encMode.Marshal(r)
}
