package protocol

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/veraison/go-cose"
)

// Content types (COSE header 3) of the signed messages. The verifier checks it, so a
// message of one type can never be accepted as another.
const (
	CTRecord       = "application/captura-record+cbor"
	CTReceipt      = "application/captura-receipt+cbor"
	CTStatus       = "application/captura-status+cbor"
	CTCommand      = "application/captura-command+cbor"
	CTCommandState = "application/captura-command-state+cbor"
	CTProgress     = "application/captura-progress+cbor"
	CTAudit        = "application/captura-audit+cbor"
	CTTelemetry    = "application/captura-telemetry+cbor"
)

// Signer signs messages as COSE_Sign1 with protected headers {1: alg, 3: content type,
// 4: kid}: EdDSA for Ed25519 keys (stations, gateways, maintainers), ES256 for P-256 keys
// (tablets, so that a browser's WebCrypto key can sign too).
type Signer struct {
	kid  KeyID
	alg  cose.Algorithm
	s    cose.Signer
	pub  crypto.PublicKey
	priv crypto.Signer
}

// NewSigner wraps an Ed25519 or ECDSA P-256 private key.
func NewSigner(priv crypto.Signer) (*Signer, error) {
	alg, err := algFor(priv.Public())
	if err != nil {
		return nil, err
	}
	cs, err := cose.NewSigner(alg, priv)
	if err != nil {
		return nil, fmt.Errorf("protocol: signer: %w", err)
	}
	kid, err := KeyIDOf(priv.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{kid: kid, alg: alg, s: cs, pub: priv.Public(), priv: priv}, nil
}

// KeyID returns the signer's key id.
func (s *Signer) KeyID() KeyID { return s.kid }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// PrivateKey returns the wrapped key (for persisting it).
func (s *Signer) PrivateKey() crypto.Signer { return s.priv }

func algFor(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return cose.AlgorithmEdDSA, nil
	case *ecdsa.PublicKey:
		if k.Curve.Params().Name == "P-256" {
			return cose.AlgorithmES256, nil
		}
	}
	return 0, fmt.Errorf("protocol: %T keys cannot sign (want Ed25519 or ECDSA P-256)", pub)
}

// Sign returns a tagged COSE_Sign1 over payload.
func (s *Signer) Sign(contentType string, payload []byte) ([]byte, error) {
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(s.alg)
	msg.Headers.Protected[cose.HeaderLabelContentType] = contentType
	msg.Headers.Protected[cose.HeaderLabelKeyID] = s.kid[:]
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, s.s); err != nil {
		return nil, fmt.Errorf("protocol: sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// KeyRing is a set of trusted public keys, looked up by key id.
type KeyRing struct {
	mu   sync.RWMutex
	keys map[KeyID]trusted
}

type trusted struct {
	alg cose.Algorithm
	v   cose.Verifier
	pub crypto.PublicKey
}

// NewKeyRing returns a key ring holding pubs.
func NewKeyRing(pubs ...crypto.PublicKey) (*KeyRing, error) {
	kr := &KeyRing{keys: map[KeyID]trusted{}}
	for _, p := range pubs {
		if _, err := kr.Add(p); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

// Add trusts pub and returns its key id.
func (kr *KeyRing) Add(pub crypto.PublicKey) (KeyID, error) {
	alg, err := algFor(pub)
	if err != nil {
		return KeyID{}, err
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return KeyID{}, fmt.Errorf("protocol: verifier: %w", err)
	}
	kid, err := KeyIDOf(pub)
	if err != nil {
		return KeyID{}, err
	}
	kr.mu.Lock()
	if kr.keys == nil {
		kr.keys = map[KeyID]trusted{}
	}
	kr.keys[kid] = trusted{alg: alg, v: v, pub: pub}
	kr.mu.Unlock()
	return kid, nil
}

// Remove stops trusting the key with id kid.
func (kr *KeyRing) Remove(kid KeyID) {
	kr.mu.Lock()
	delete(kr.keys, kid)
	kr.mu.Unlock()
}

// Lookup returns the trusted key with id kid.
func (kr *KeyRing) Lookup(kid KeyID) (crypto.PublicKey, bool) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	t, ok := kr.keys[kid]
	return t.pub, ok
}

// Envelope is a parsed COSE_Sign1.
type Envelope struct {
	Alg         cose.Algorithm
	KeyID       KeyID
	ContentType string
	Payload     []byte
	// Hash is SHA-256 over the whole envelope as received: the record chain and
	// receipts refer to records by it.
	Hash Hash
	msg  *cose.Sign1Message
}

// understood are the header labels this package processes; crit may name only these.
var understood = map[any]bool{cose.HeaderLabelAlgorithm: true, cose.HeaderLabelContentType: true, cose.HeaderLabelKeyID: true}

// ParseEnvelope parses a COSE_Sign1 and checks its headers, without verifying the
// signature. Use Verify for anything that is trusted.
func ParseEnvelope(data []byte, limit int) (*Envelope, error) {
	if len(data) > limit {
		return nil, fmt.Errorf("protocol: envelope: %d bytes exceeds the limit of %d: %w", len(data), limit, ErrTooLarge)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("protocol: envelope: empty input: %w", ErrMalformed)
	}
	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(data); err != nil {
		return nil, fmt.Errorf("protocol: envelope: not a COSE_Sign1: %s: %w", cborMsg(err), ErrMalformed)
	}
	ph := msg.Headers.Protected
	if crit, ok := ph[cose.HeaderLabelCritical]; ok {
		list, _ := crit.([]any)
		for _, l := range list {
			if !understood[normLabel(l)] {
				return nil, fmt.Errorf("protocol: envelope: crit names header %v: %w", l, ErrCritical)
			}
		}
	}
	if len(msg.Headers.Unprotected) != 0 {
		return nil, fmt.Errorf("protocol: envelope: unprotected headers are not accepted (%d present): %w", len(msg.Headers.Unprotected), ErrSchema)
	}
	alg, err := ph.Algorithm()
	if err != nil {
		return nil, fmt.Errorf("protocol: envelope: protected alg: %v: %w", err, ErrAlgorithm)
	}
	env := &Envelope{Alg: alg, Payload: msg.Payload, Hash: sha256.Sum256(data), msg: msg}
	kid, ok := ph[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(kid) != len(KeyID{}) {
		return nil, fmt.Errorf("protocol: envelope: protected kid missing or not 16 bytes: %w", ErrSchema)
	}
	copy(env.KeyID[:], kid)
	ct, ok := ph[cose.HeaderLabelContentType].(string)
	if !ok {
		return nil, fmt.Errorf("protocol: envelope: protected content type missing: %w", ErrSchema)
	}
	env.ContentType = ct
	if msg.Payload == nil {
		return nil, fmt.Errorf("protocol: envelope: detached payloads are not accepted: %w", ErrSchema)
	}
	return env, nil
}

func normLabel(l any) any {
	switch v := l.(type) {
	case int64:
		return v
	case uint64:
		return int64(v)
	case int:
		return int64(v)
	}
	return l
}

// Verify parses a COSE_Sign1 of content type ct and verifies it against the key ring.
func Verify(data []byte, ct string, keys *KeyRing) (*Envelope, error) {
	limit := MaxMessageSize
	if ct == CTRecord {
		limit = MaxRecordSize + (64 << 10)
	}
	env, err := ParseEnvelope(data, limit)
	if err != nil {
		return nil, err
	}
	if env.ContentType != ct {
		return nil, fmt.Errorf("protocol: envelope holds %q, want %q: %w", env.ContentType, ct, ErrContentType)
	}
	keys.mu.RLock()
	t, ok := keys.keys[env.KeyID]
	keys.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("protocol: envelope signed by key %s, which is not trusted here: %w", env.KeyID, ErrUnknownKey)
	}
	if env.Alg != t.alg {
		return nil, fmt.Errorf("protocol: envelope alg %v, but key %s signs with %v: %w", env.Alg, env.KeyID, t.alg, ErrAlgorithm)
	}
	if err := env.msg.Verify(nil, t.v); err != nil {
		return nil, fmt.Errorf("protocol: %s from key %s: payload or protected header altered: %w", ct, env.KeyID, ErrSignature)
	}
	return env, nil
}

// SignRecord validates, encodes and signs a record.
func SignRecord(s *Signer, r *Record) ([]byte, error) {
	payload, err := r.Encode()
	if err != nil {
		return nil, err
	}
	return s.Sign(CTRecord, payload)
}

// VerifyRecord verifies a signed record and decodes it. It does not open the body, and
// it checks that the sealed body is bound to this record and station.
func VerifyRecord(data []byte, keys *KeyRing) (*Record, *Envelope, error) {
	env, err := Verify(data, CTRecord, keys)
	if err != nil {
		return nil, nil, err
	}
	r, err := DecodeRecord(env.Payload)
	if err != nil {
		return nil, nil, err
	}
	si, err := InspectSealed(r.Body)
	if err != nil {
		return nil, nil, err
	}
	if err := si.CheckBinding(r.Station, r.ID); err != nil {
		return nil, nil, err
	}
	return r, env, nil
}

// Message is a signed message type other than the record.
type Message interface {
	ContentType() string
	Validate() error
}

// SignMessage validates, encodes and signs m.
func SignMessage(s *Signer, m Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("protocol: %s: %w", m.ContentType(), err)
	}
	payload, err := encMode.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxMessageSize-512 {
		return nil, fmt.Errorf("protocol: %s: %d bytes: %w", m.ContentType(), len(payload), ErrTooLarge)
	}
	return s.Sign(m.ContentType(), payload)
}

// VerifyMessage verifies a signed message of type T and decodes it.
func VerifyMessage[T any, PT interface {
	*T
	Message
}](data []byte, keys *KeyRing) (PT, *Envelope, error) {
	var m PT = new(T)
	env, err := Verify(data, m.ContentType(), keys)
	if err != nil {
		return nil, nil, err
	}
	if err := DecodeMessage(env.Payload, m); err != nil {
		return nil, nil, err
	}
	return m, env, nil
}

// DecodeMessage decodes and validates a message payload into m.
func DecodeMessage(payload []byte, m Message) error {
	return decodeStrict(shortName(m.ContentType()), payload, MaxMessageSize, m)
}

func shortName(ct string) string {
	b := []byte(ct)
	b = bytes.TrimPrefix(b, []byte("application/captura-"))
	b = bytes.TrimSuffix(b, []byte("+cbor"))
	return string(b)
}
