package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"

	"github.com/fxamacker/cbor/v2"
)

// IDs that appear in MQTT topics (station, centre, tablet names) are 1 to 64 characters
// of [a-z0-9-], so no wildcard (+ #), separator (/) or control character can reach a topic.
var idRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// ValidID reports whether s is a valid station or centre id.
func ValidID(s string) bool { return idRE.MatchString(s) }

// CheckID returns an error naming field when s is not a valid id.
func CheckID(field, s string) error {
	if !ValidID(s) {
		return schemaErr(field, "%q is not 1-64 characters of [a-z0-9-]", s)
	}
	return nil
}

// A transaction id is the applicant's service reference at the counter: 4 to 50
// characters of [A-Za-z0-9-]. Anything else is rejected, never cleaned up.
var txnRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,50}$`)

// CheckTransaction returns an error when s is not a valid transaction id.
func CheckTransaction(field, s string) error {
	if !txnRE.MatchString(s) {
		return schemaErr(field, "%q is not 4-50 characters of [A-Za-z0-9-]", s)
	}
	return nil
}

// ID is a random 128-bit identifier (records, commands, sessions, audit events). It is
// encoded as a 16-byte CBOR byte string and written as 32 lower-case hex digits in
// topics and logs.
type ID [16]byte

// NewID returns a fresh random ID from crypto/rand.
func NewID() ID {
	var id ID
	rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	return id
}

// ParseID parses 32 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 32 {
		return id, fmt.Errorf("protocol: id %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("protocol: id %q: want 32 hex digits", s)
	}
	return id, nil
}

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros (never a valid id).
func (id ID) IsZero() bool { return id == ID{} }

// MarshalCBOR encodes id as a byte string.
func (id ID) MarshalCBOR() ([]byte, error) { return encMode.Marshal(id[:]) }

// UnmarshalCBOR requires a byte string of exactly 16 bytes.
func (id *ID) UnmarshalCBOR(data []byte) error { return fixedBytes(data, id[:], "id") }

// Hash is a SHA-256 digest (record chain, receipts, audit chain).
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalCBOR encodes h as a byte string.
func (h Hash) MarshalCBOR() ([]byte, error) { return encMode.Marshal(h[:]) }

// UnmarshalCBOR requires a byte string of exactly 32 bytes.
func (h *Hash) UnmarshalCBOR(data []byte) error { return fixedBytes(data, h[:], "hash") }

// KeyID identifies a public key: the first 16 bytes of SHA-256 over its
// SubjectPublicKeyInfo DER encoding (or over the raw key for HPKE keys).
type KeyID [16]byte

func (k KeyID) String() string { return hex.EncodeToString(k[:]) }

// MarshalCBOR encodes k as a byte string.
func (k KeyID) MarshalCBOR() ([]byte, error) { return encMode.Marshal(k[:]) }

// UnmarshalCBOR requires a byte string of exactly 16 bytes.
func (k *KeyID) UnmarshalCBOR(data []byte) error { return fixedBytes(data, k[:], "key id") }

func fixedBytes(data []byte, dst []byte, what string) error {
	var b []byte
	if err := rawMode.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("%s: want a byte string: %s", what, cborMsg(err))
	}
	if len(data) == 0 || data[0]>>5 != 2 {
		return fmt.Errorf("%s: want a byte string", what)
	}
	if len(b) != len(dst) {
		return fmt.Errorf("%s: %d bytes, want %d", what, len(b), len(dst))
	}
	copy(dst, b)
	return nil
}

var _ cbor.Marshaler = ID{}

// MarshalText writes hex (JSON test vectors, logs).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads 32 hex digits.
func (id *ID) UnmarshalText(b []byte) error { return hexInto(id[:], b) }

// MarshalText writes hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads 64 hex digits.
func (h *Hash) UnmarshalText(b []byte) error { return hexInto(h[:], b) }

// MarshalText writes hex.
func (k KeyID) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads 32 hex digits.
func (k *KeyID) UnmarshalText(b []byte) error { return hexInto(k[:], b) }

func hexInto(dst, src []byte) error {
	if hex.DecodedLen(len(src)) != len(dst) {
		return fmt.Errorf("protocol: want %d hex digits, got %d", 2*len(dst), len(src))
	}
	_, err := hex.Decode(dst, src)
	return err
}

// Bytes returns a copy of the id's bytes.
func (id ID) Bytes() []byte { return append([]byte(nil), id[:]...) }
