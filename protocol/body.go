package protocol

import (
	"fmt"
	"math"
)

// Formats of the standard records inside a sealed body.
const (
	FormatFIR = "iso19794-4:2005" // finger image record
	FormatFMR = "iso19794-2:2005" // finger minutiae record (template)
	FormatFAC = "iso19794-5:2005" // face image record
)

// Body is the biometric content of a record, sealed to AIMA. Nothing in it may ever be
// logged; only the formats and sizes are shown (capturactl verify --aima-key).
type Body struct {
	V      uint       `cbor:"v"`
	Record ID         `cbor:"record"` // the record this body belongs to
	Items  []BodyItem `cbor:"items"`
	// Assessments hold, per attempt, what the quality checks measured and the feedback
	// the technician was given: derived from the samples, so sealed with them.
	Assessments []Assessment `cbor:"assess,omitempty"`
}

// Assessment is the detail of one attempt's quality check (the attempt with number N of
// the record item Mod/Pos).
type Assessment struct {
	Mod    string             `cbor:"mod"`
	Pos    FingerPos          `cbor:"pos,omitempty"`
	N      uint               `cbor:"n"`
	Native map[string]float64 `cbor:"native,omitempty"` // e.g. NIST's NFIQ 2 native measures
	Hints  []string           `cbor:"hints,omitempty"`  // feedback given to the technician
}

// BodyItem is one standard record for one item (a finger's image and template are two
// BodyItems with the same position).
type BodyItem struct {
	Mod    string    `cbor:"mod"`
	Pos    FingerPos `cbor:"pos,omitempty"`
	Format string    `cbor:"fmt"`
	Data   []byte    `cbor:"data"`
}

// Validate checks the rules the CBOR shape cannot express.
func (b *Body) Validate() error {
	if err := checkVersion(b.V); err != nil {
		return err
	}
	if b.Record.IsZero() {
		return schemaErr("record", "all zeros")
	}
	if len(b.Items) > 4*maxItemsTotal {
		return schemaErr("items", "%d items: too many", len(b.Items))
	}
	for i, it := range b.Items {
		p := fmt.Sprintf("items[%d]", i)
		switch it.Mod {
		case ModFinger:
			if !it.Pos.Valid() {
				return schemaErr(p+".pos", "%d is not a finger position 1-10", it.Pos)
			}
			if it.Format != FormatFIR && it.Format != FormatFMR {
				return schemaErr(p+".fmt", "%q is not a finger record format", it.Format)
			}
		case ModFace:
			if it.Pos != 0 {
				return schemaErr(p+".pos", "a face item has no finger position")
			}
			if it.Format != FormatFAC {
				return schemaErr(p+".fmt", "%q is not a face record format", it.Format)
			}
		default:
			return schemaErr(p+".mod", "%q is not finger or face", it.Mod)
		}
		if len(it.Data) == 0 {
			return schemaErr(p+".data", "empty")
		}
	}
	if len(b.Assessments) > maxItemsTotal*MaxAttempts {
		return schemaErr("assess", "%d assessments: too many", len(b.Assessments))
	}
	for i := range b.Assessments {
		if err := b.Assessments[i].validate(fmt.Sprintf("assess[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (a *Assessment) validate(p string) error {
	if err := checkModPos(p, a.Mod, a.Pos); err != nil {
		return err
	}
	if a.N == 0 || a.N > MaxAttempts {
		return schemaErr(p+".n", "attempt number %d, want 1 to %d", a.N, MaxAttempts)
	}
	if len(a.Native) > MaxNative {
		return schemaErr(p+".native", "%d measures, at most %d", len(a.Native), MaxNative)
	}
	for k, v := range a.Native {
		if err := checkText(p+".native key", k, true); err != nil {
			return err
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return schemaErr(p+".native."+k, "not a finite number")
		}
	}
	if len(a.Hints) > MaxHints {
		return schemaErr(p+".hints", "%d hints, at most %d", len(a.Hints), MaxHints)
	}
	for k, h := range a.Hints {
		if err := checkText(fmt.Sprintf("%s.hints[%d]", p, k), h, true); err != nil {
			return err
		}
	}
	return nil
}

// DecodeBody decodes and validates an opened body.
func DecodeBody(data []byte) (*Body, error) {
	var b Body
	if err := decodeStrict("body", data, MaxBodySize, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Encode validates b and encodes it deterministically.
func (b *Body) Encode() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("protocol: body: %w", err)
	}
	return encMode.Marshal(b)
}
