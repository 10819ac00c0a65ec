package protocol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Pairing binds a tablet to a station. The station's label carries a high-entropy setup
// secret (128 bits); while the station's pairing window is open, a tablet proves that it
// knows the secret and the station proves the same back, and each pins the other's
// public key:
//
//	K        = HKDF-SHA256(secret, salt "captura/v1 pairing", info "<centre>/<station>")
//	request  = COSE_Sign1 by the tablet's own P-256 key over PairRequest, whose MAC is
//	           HMAC-SHA256(K, "captura/v1 pair request" || CBOR(request with empty MAC))
//	response = COSE_Sign1 by the station key over PairResponse, whose MAC is
//	           HMAC-SHA256(K, "captura/v1 pair response" || SHA-256(request envelope) ||
//	           CBOR(response with empty MAC))
//
// The signatures prove possession of each private key; the MACs over the whole
// transcript prove knowledge of the secret on both sides and bind the keys to it. A
// wrong secret costs one of a few attempts before the station closes the window.

// Content types of the pairing messages.
const (
	CTPairRequest  = "application/captura-pair-request+cbor"
	CTPairResponse = "application/captura-pair-response+cbor"
)

// Pairing outcomes.
const (
	PairPaired = "paired"
	PairDenied = "denied"
)

// SecretLen is the length of a setup secret in bytes (128 bits).
const SecretLen = 16

var secretEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSetupSecret returns a fresh setup secret.
func NewSetupSecret() []byte {
	b := make([]byte, SecretLen)
	rand.Read(b)
	return b
}

// FormatSecret writes a secret as the label shows it: base32 in groups of four,
// "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ".
func FormatSecret(s []byte) string {
	enc := secretEnc.EncodeToString(s)
	var groups []string
	for len(enc) > 4 {
		groups = append(groups, enc[:4])
		enc = enc[4:]
	}
	return strings.Join(append(groups, enc), "-")
}

// ParseSecret reads a secret as typed or scanned (case, dashes and spaces ignored).
func ParseSecret(s string) ([]byte, error) {
	clean := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
	b, err := secretEnc.DecodeString(clean)
	if err != nil || len(b) != SecretLen {
		return nil, errors.New("protocol: setup secret: want the 26 characters on the station's label")
	}
	return b, nil
}

// PairingKey derives the MAC key from the setup secret.
func PairingKey(secret []byte, centre, station string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, []byte("captura/v1 pairing"), centre+"/"+station, 32)
}

// PairRequest is a tablet's pairing request.
type PairRequest struct {
	V       uint   `cbor:"v"`
	ID      ID     `cbor:"id"`
	Centre  string `cbor:"centre"`
	Station string `cbor:"station"`
	Tablet  string `cbor:"tablet"` // the name the tablet asks to be paired as
	Key     []byte `cbor:"key"`    // the tablet's P-256 public key, SubjectPublicKeyInfo DER
	Nonce   []byte `cbor:"nonce"`
	At      int64  `cbor:"at"`
	MAC     []byte `cbor:"mac,omitempty"` // required; omitted only in the MAC's own input
}

func (*PairRequest) ContentType() string { return CTPairRequest }

func (r *PairRequest) Validate() error {
	if err := checkVersion(r.V); err != nil {
		return err
	}
	if err := checkIDs(r.Centre, r.Station); err != nil {
		return err
	}
	if err := CheckID("tablet", r.Tablet); err != nil {
		return err
	}
	if len(r.Nonce) != 16 {
		return schemaErr("nonce", "%d bytes, want 16", len(r.Nonce))
	}
	if len(r.Key) == 0 || len(r.Key) > 256 {
		return schemaErr("key", "missing or too long")
	}
	if len(r.MAC) != sha256.Size {
		return schemaErr("mac", "%d bytes, want 32", len(r.MAC))
	}
	return nil
}

// PublicKey parses the tablet key (ECDSA P-256 only).
func (r *PairRequest) PublicKey() (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(r.Key)
	if err != nil {
		return nil, fmt.Errorf("protocol: pair request key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve.Params().Name != "P-256" {
		return nil, errors.New("protocol: pair request key: want ECDSA P-256")
	}
	return ek, nil
}

// PairResponse is the station's answer.
type PairResponse struct {
	V       uint   `cbor:"v"`
	ID      ID     `cbor:"id"` // the request's id
	Centre  string `cbor:"centre"`
	Station string `cbor:"station"`
	Status  string `cbor:"status"`
	Reason  string `cbor:"reason,omitempty"`
	Key     []byte `cbor:"key,omitempty"` // the station's Ed25519 public key, SPKI DER
	Nonce   []byte `cbor:"nonce"`
	At      int64  `cbor:"at"`
	MAC     []byte `cbor:"mac,omitempty"` // only on "paired"
}

func (*PairResponse) ContentType() string { return CTPairResponse }

func (r *PairResponse) Validate() error {
	if err := checkVersion(r.V); err != nil {
		return err
	}
	if err := checkIDs(r.Centre, r.Station); err != nil {
		return err
	}
	switch r.Status {
	case PairPaired:
		if len(r.Key) == 0 || len(r.MAC) != sha256.Size {
			return schemaErr("mac", "a pairing needs the station key and a MAC")
		}
	case PairDenied:
		if r.Reason == "" {
			return schemaErr("reason", "a denial needs a reason")
		}
	default:
		return schemaErr("status", "%q is not paired or denied", r.Status)
	}
	if len(r.Nonce) != 16 {
		return schemaErr("nonce", "%d bytes, want 16", len(r.Nonce))
	}
	return checkText("reason", r.Reason, false)
}

// RequestMAC computes the MAC of a request (its MAC field is ignored).
func RequestMAC(key []byte, r *PairRequest) ([]byte, error) {
	c := *r
	c.MAC = nil
	b, err := encMode.Marshal(&c)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("captura/v1 pair request"))
	m.Write(b)
	return m.Sum(nil), nil
}

// ResponseMAC computes the MAC of a response to the request envelope reqEnv.
func ResponseMAC(key, reqEnv []byte, r *PairResponse) ([]byte, error) {
	c := *r
	c.MAC = nil
	b, err := encMode.Marshal(&c)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(reqEnv)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("captura/v1 pair response"))
	m.Write(h[:])
	m.Write(b)
	return m.Sum(nil), nil
}

// NewPairRequest builds and signs a pairing request with the tablet's key.
func NewPairRequest(tabletKey crypto.Signer, secret []byte, centre, station, tablet string, now int64) ([]byte, *PairRequest, error) {
	der, err := x509.MarshalPKIXPublicKey(tabletKey.Public())
	if err != nil {
		return nil, nil, err
	}
	r := &PairRequest{V: Version, ID: NewID(), Centre: centre, Station: station, Tablet: tablet, Key: der, Nonce: NewID().Bytes(), At: now}
	k, err := PairingKey(secret, centre, station)
	if err != nil {
		return nil, nil, err
	}
	if r.MAC, err = RequestMAC(k, r); err != nil {
		return nil, nil, err
	}
	s, err := NewSigner(tabletKey)
	if err != nil {
		return nil, nil, err
	}
	env, err := SignMessage(s, r)
	return env, r, err
}

// VerifyPairRequest checks a request's self-signature (its envelope must be signed by
// the key it carries) and decodes it. The MAC is checked by the station with CheckMAC.
func VerifyPairRequest(env []byte) (*PairRequest, error) {
	e, err := ParseEnvelope(env, MaxMessageSize)
	if err != nil {
		return nil, err
	}
	var r PairRequest
	if err := DecodeMessage(e.Payload, &r); err != nil {
		return nil, err
	}
	pub, err := r.PublicKey()
	if err != nil {
		return nil, err
	}
	ring, err := NewKeyRing(pub)
	if err != nil {
		return nil, err
	}
	if _, err := Verify(env, CTPairRequest, ring); err != nil {
		return nil, err
	}
	return &r, nil
}

// CheckRequestMAC reports whether the request proves knowledge of the secret behind key.
func CheckRequestMAC(key []byte, r *PairRequest) bool {
	want, err := RequestMAC(key, r)
	return err == nil && hmac.Equal(want, r.MAC)
}

// VerifyPairResponse checks the station's answer to reqEnv: signature by the key it
// carries, and (for "paired") the MAC that proves the station knows the secret. It
// returns the response and the station key to pin.
func VerifyPairResponse(env, reqEnv []byte, secret []byte, req *PairRequest) (*PairResponse, crypto.PublicKey, error) {
	e, err := ParseEnvelope(env, MaxMessageSize)
	if err != nil {
		return nil, nil, err
	}
	var r PairResponse
	if err := DecodeMessage(e.Payload, &r); err != nil {
		return nil, nil, err
	}
	if r.ID != req.ID {
		return nil, nil, fmt.Errorf("protocol: pair response is not for this request: %w", ErrWrongTarget)
	}
	if r.Status != PairPaired {
		return &r, nil, nil // a denial is advice; nothing is pinned
	}
	if r.Station != req.Station || r.Centre != req.Centre {
		return nil, nil, fmt.Errorf("protocol: pair response from %s/%s, not the station asked: %w", r.Centre, r.Station, ErrWrongTarget)
	}
	pub, err := x509.ParsePKIXPublicKey(r.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: pair response key: %w", err)
	}
	ring, err := NewKeyRing(pub)
	if err != nil {
		return nil, nil, err
	}
	if _, err := Verify(env, CTPairResponse, ring); err != nil {
		return nil, nil, err
	}
	k, err := PairingKey(secret, req.Centre, req.Station)
	if err != nil {
		return nil, nil, err
	}
	want, err := ResponseMAC(k, reqEnv, &r)
	if err != nil || !hmac.Equal(want, r.MAC) {
		return nil, nil, fmt.Errorf("protocol: the station's answer does not prove the setup secret: %w", ErrSignature)
	}
	return &r, pub, nil
}
