package protocol

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Error categories; every error this package returns for bad input wraps one of them
// and names the message and, where there is one, the field.
var (
	ErrMalformed   = errors.New("malformed CBOR")                     // not well-formed, indefinite length, duplicate key, tags
	ErrSchema      = errors.New("does not match the schema")          // missing/unknown field, wrong type, value out of range
	ErrVersion     = errors.New("unsupported schema version")         // "v" is not one this package knows
	ErrTooLarge    = errors.New("message too large")                  // input exceeds the message type's limit
	ErrSignature   = errors.New("signature verification failed")      // the COSE signature does not verify
	ErrUnknownKey  = errors.New("unknown key id")                     // kid names no key the verifier trusts
	ErrAlgorithm   = errors.New("algorithm not allowed")              // alg is not the one this message type uses
	ErrCritical    = errors.New("unknown critical header")            // crit names a header this package does not process
	ErrContentType = errors.New("wrong content type")                 // the envelope holds another message type
	ErrBinding     = errors.New("sealed body does not belong here")   // body bound to another record or station
	ErrDecrypt     = errors.New("sealed body cannot be opened")       // wrong recipient key, or ciphertext altered
	ErrExpired     = errors.New("command expired")                    // expiry in the past
	ErrWrongTarget = errors.New("message addressed to another party") // station or centre id differs
)

// Version is the schema version this package writes and reads.
const Version = 1

// Size limits for inputs, checked before anything is decoded.
const (
	MaxRecordSize  = 16 << 20 // a whole session's sealed body is about 1.5 MB
	MaxBodySize    = 16 << 20
	MaxMessageSize = 64 << 10 // commands, receipts, status, events, audit, telemetry
)

var (
	encMode cbor.EncMode // RFC 8949 §4.2.1 core deterministic encoding
	decMode cbor.DecMode // strict: no duplicates, no indefinite lengths, no tags, valid UTF-8
	rawMode cbor.DecMode // same, used to split maps into raw fields
)

// CBORLimits bound what a strict decoder accepts (nesting depth, array length, map size).
type CBORLimits struct {
	MaxNestedLevels, MaxArrayElements, MaxMapPairs int
}

// StrictCBOR returns the project's CBOR codec for a message family with its own limits:
// RFC 8949 §4.2.1 core deterministic encoding, and a decoder that rejects duplicate map
// keys, indefinite lengths, tags, invalid UTF-8, unknown fields and integer conversions.
// Other packages whose wire formats are CBOR (update jobs, update bundles) use it so
// that every decoder of outside bytes is equally strict.
func StrictCBOR(l CBORLimits) (cbor.EncMode, cbor.DecMode, error) {
	eo := cbor.CoreDetEncOptions()
	eo.ByteArray = cbor.ByteArrayToByteSlice
	em, err := eo.EncMode()
	if err != nil {
		return nil, nil, err
	}
	dm, err := strictDecOptions(l).DecMode()
	if err != nil {
		return nil, nil, err
	}
	return em, dm, nil
}

func strictDecOptions(l CBORLimits) cbor.DecOptions {
	return cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   l.MaxNestedLevels,
		MaxArrayElements:  l.MaxArrayElements,
		MaxMapPairs:       l.MaxMapPairs,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		IntDec:            cbor.IntDecConvertNone,
	}
}

func init() {
	// Building the codec tables touches no hardware and cannot fail with these options.
	limits := CBORLimits{MaxNestedLevels: 16, MaxArrayElements: 1 << 14, MaxMapPairs: 1 << 12}
	var err error
	if encMode, decMode, err = StrictCBOR(limits); err != nil {
		panic(err)
	}
	do := strictDecOptions(limits)
	do.ExtraReturnErrors = cbor.ExtraDecErrorNone
	if rawMode, err = do.DecMode(); err != nil {
		panic(err)
	}
}

// Marshal encodes v with core deterministic encoding.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// validator is implemented by messages with rules beyond their CBOR shape.
type validator interface{ Validate() error }

// decodeStrict decodes data (a message of kind what, e.g. "record") into v, a pointer to
// a struct. Beyond what the CBOR decoder checks (well-formedness, definite lengths,
// duplicate keys, types), it rejects unknown fields and missing required fields, naming
// each by its path ("items[2].attempts[0].q.score"), checks the schema version, and runs
// Validate.
//
// Unknown fields are rejected rather than preserved: a message that gains a field gets a
// new schema version, so a reader never drops data it did not understand.
func decodeStrict(what string, data []byte, limit int, v any) error {
	if len(data) > limit {
		return fmt.Errorf("protocol: %s: %d bytes exceeds the limit of %d: %w", what, len(data), limit, ErrTooLarge)
	}
	if err := rawMode.Wellformed(data); err != nil {
		return fmt.Errorf("protocol: %s: %s: %w", what, cborMsg(err), ErrMalformed)
	}
	// The version decides the schema, so it is checked before the shape.
	var head struct {
		V any `cbor:"v"`
	}
	if err := rawMode.Unmarshal(data, &head); err == nil && head.V != nil {
		if n, ok := head.V.(uint64); !ok || n != Version {
			return fmt.Errorf("protocol: %s: field \"v\": version %v (this build reads %d): %w", what, head.V, Version, ErrVersion)
		}
	}
	rt := reflect.TypeOf(v).Elem()
	if err := checkShape(data, rt, ""); err != nil {
		return fmt.Errorf("protocol: %s: %w", what, err)
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("protocol: %s: %s: %w", what, cborMsg(err), classify(err))
	}
	if vv, ok := v.(validator); ok {
		if err := vv.Validate(); err != nil {
			return fmt.Errorf("protocol: %s: %w", what, err)
		}
	}
	return nil
}

func classify(err error) error {
	var dup *cbor.DupMapKeyError
	var syn *cbor.SyntaxError
	var tag *cbor.TagsMdError
	var ind *cbor.IndefiniteLengthError
	switch {
	case errors.As(err, &dup), errors.As(err, &syn), errors.As(err, &tag), errors.As(err, &ind):
		return ErrMalformed
	}
	if strings.Contains(err.Error(), "invalid UTF-8") {
		return ErrMalformed
	}
	return ErrSchema
}

// cborMsg strips the library's "cbor: " prefix so messages read as ours.
func cborMsg(err error) string { return strings.TrimPrefix(err.Error(), "cbor: ") }

// fieldInfo describes one struct field as checkShape sees it.
type fieldInfo struct {
	key      string
	required bool
	elem     reflect.Type // struct type to recurse into, or nil
	slice    bool         // the field is a slice of elem
}

var shapeCache sync.Map // reflect.Type -> []fieldInfo

func fieldsOf(t reflect.Type) []fieldInfo {
	if fi, ok := shapeCache.Load(t); ok {
		return fi.([]fieldInfo)
	}
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("cbor")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		info := fieldInfo{key: name, required: !strings.Contains(opts, "omitempty")}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			info.elem, info.slice = ft.Elem(), true
		} else if ft.Kind() == reflect.Struct && !hasCustomCBOR(ft) {
			info.elem = ft
		}
		if info.elem != nil && hasCustomCBOR(info.elem) {
			info.elem = nil
		}
		out = append(out, info)
	}
	shapeCache.Store(t, out)
	return out
}

var unmarshalerType = reflect.TypeOf((*cbor.Unmarshaler)(nil)).Elem()

func hasCustomCBOR(t reflect.Type) bool { return reflect.PointerTo(t).Implements(unmarshalerType) }

// checkShape verifies that data, a CBOR map, has every required key of struct type t and
// no other key, recursively. data has passed Wellformed (definite lengths, no tags), so
// the walk only slices it: large byte strings such as the sealed body are never copied.
func checkShape(data []byte, t reflect.Type, path string) error {
	where := path
	if where == "" {
		where = "top level"
	}
	if len(data) == 0 || data[0]>>5 != 5 {
		return fmt.Errorf("%s: want a map with text keys: %w", where, ErrSchema)
	}
	n, off := head(data, 0)
	fields := fieldsOf(t)
	seen := make(map[string][]byte, n)
	for i := uint64(0); i < n; i++ {
		if data[off]>>5 != 3 {
			return fmt.Errorf("%s: want a map with text keys, found a key of major type %d: %w", where, data[off]>>5, ErrSchema)
		}
		klen, kstart := head(data, off)
		key := string(data[kstart : kstart+int(klen)])
		vstart := kstart + int(klen)
		vend := skip(data, vstart)
		if _, dup := seen[key]; dup {
			return fmt.Errorf("%s: duplicate map key %q: %w", where, key, ErrMalformed)
		}
		seen[key] = data[vstart:vend]
		off = vend
	}
	for _, f := range fields {
		raw, ok := seen[f.key]
		p := join(path, f.key)
		if !ok {
			if f.required {
				return fmt.Errorf("missing required field %q: %w", p, ErrSchema)
			}
			continue
		}
		delete(seen, f.key)
		if f.elem == nil || isNull(raw) {
			continue
		}
		if !f.slice {
			if err := checkShape(raw, f.elem, p); err != nil {
				return err
			}
			continue
		}
		if raw[0]>>5 != 4 {
			return fmt.Errorf("field %q: want an array: %w", p, ErrSchema)
		}
		cnt, eoff := head(raw, 0)
		for i := uint64(0); i < cnt; i++ {
			end := skip(raw, eoff)
			if err := checkShape(raw[eoff:end], f.elem, fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return err
			}
			eoff = end
		}
	}
	for k := range seen {
		return fmt.Errorf("unknown field %q: %w", join(path, k), ErrSchema)
	}
	return nil
}

// head decodes the argument of the CBOR data item at b[i] and returns it with the offset
// just past the head. b must be well-formed.
func head(b []byte, i int) (arg uint64, next int) {
	ai := b[i] & 0x1f
	switch {
	case ai < 24:
		return uint64(ai), i + 1
	case ai == 24:
		return uint64(b[i+1]), i + 2
	case ai == 25:
		return uint64(b[i+1])<<8 | uint64(b[i+2]), i + 3
	case ai == 26:
		return uint64(b[i+1])<<24 | uint64(b[i+2])<<16 | uint64(b[i+3])<<8 | uint64(b[i+4]), i + 5
	}
	var v uint64
	for k := 1; k <= 8; k++ {
		v = v<<8 | uint64(b[i+k])
	}
	return v, i + 9
}

// skip returns the offset just past the well-formed, definite-length data item at b[i].
func skip(b []byte, i int) int {
	major := b[i] >> 5
	arg, next := head(b, i)
	switch major {
	case 2, 3:
		return next + int(arg)
	case 4:
		for k := uint64(0); k < arg; k++ {
			next = skip(b, next)
		}
	case 5:
		for k := uint64(0); k < 2*arg; k++ {
			next = skip(b, next)
		}
	case 6:
		return skip(b, next)
	case 7:
		// Simple values and floats: the head already covers their bytes.
	}
	return next
}

func isNull(raw []byte) bool { return len(raw) == 1 && (raw[0] == 0xf6 || raw[0] == 0xf7) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// schemaErr builds a validation error naming a field.
func schemaErr(field, format string, a ...any) error {
	return fmt.Errorf("field %q: %s: %w", field, fmt.Sprintf(format, a...), ErrSchema)
}

// checkVersion is the first rule of every Validate.
func checkVersion(v uint) error {
	if v != Version {
		return fmt.Errorf("field \"v\": version %d (this build reads %d): %w", v, Version, ErrVersion)
	}
	return nil
}
