package protocol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key kinds and their formats. Signing keys are standard PEM: PKCS#8 "PRIVATE KEY" and
// SubjectPublicKeyInfo "PUBLIC KEY". HPKE recipient keys (AIMA) have no PKCS#8 form for
// the hybrid KEM yet, so they are PEM blocks "CAPTURA HPKE PRIVATE KEY" / "CAPTURA HPKE
// PUBLIC KEY" whose bytes are RFC 9180 SerializePrivateKey / SerializePublicKey output
// and whose "Suite" header names the COSE-HPKE suite (see seal.go).
const (
	KindStation    = "station"    // Ed25519: signs records, status, events, audit
	KindTablet     = "tablet"     // ECDSA P-256 (ES256): signs commands; WebCrypto can hold it
	KindMaintainer = "maintainer" // Ed25519: signs update bundles, offline
	KindGateway    = "gateway"    // Ed25519: signs receipts
	KindAIMA       = "aima"       // HPKE recipient: opens sealed bodies
)

const (
	pemPrivate     = "PRIVATE KEY"
	pemPublic      = "PUBLIC KEY"
	pemHPKEPrivate = "CAPTURA HPKE PRIVATE KEY"
	pemHPKEPublic  = "CAPTURA HPKE PUBLIC KEY"
)

// GenerateSigningKey creates a signing key of the given kind.
func GenerateSigningKey(kind string) (crypto.Signer, error) {
	switch kind {
	case KindStation, KindMaintainer, KindGateway:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case KindTablet:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("protocol: %q is not a signing key kind", kind)
}

// KeyIDOf returns the key id of a signing public key: SHA-256 over its
// SubjectPublicKeyInfo DER, first 16 bytes.
func KeyIDOf(pub crypto.PublicKey) (KeyID, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return KeyID{}, fmt.Errorf("protocol: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	var id KeyID
	copy(id[:], sum[:16])
	return id, nil
}

// MarshalPrivateKeyPEM encodes a signing key as PKCS#8 PEM.
func MarshalPrivateKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("protocol: private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes a signing public key as SubjectPublicKeyInfo PEM.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("protocol: public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

func onePEM(data []byte, want ...string) (*pem.Block, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("protocol: not a PEM file")
	}
	if more, _ := pem.Decode(rest); more != nil {
		// A key file holds one key; a second block is a mistake (two keys pasted
		// together), not something to ignore.
		return nil, fmt.Errorf("protocol: PEM file holds more than one block (%q, then %q)", b.Type, more.Type)
	}
	for _, w := range want {
		if b.Type == w {
			return b, nil
		}
	}
	return nil, fmt.Errorf("protocol: PEM block %q, want %q", b.Type, want)
}

// ParsePrivateKeyPEM reads a PKCS#8 Ed25519 or ECDSA P-256 private key.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	b, err := onePEM(data, pemPrivate)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: private key: %w", err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("protocol: private key: ECDSA keys must be on P-256")
		}
		return k, nil
	}
	return nil, fmt.Errorf("protocol: private key: %T is not Ed25519 or ECDSA P-256", k)
}

// ParsePublicKeyPEM reads a SubjectPublicKeyInfo Ed25519 or ECDSA P-256 public key.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	b, err := onePEM(data, pemPublic)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: public key: %w", err)
	}
	switch k := k.(type) {
	case ed25519.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("protocol: public key: ECDSA keys must be on P-256")
		}
		return k, nil
	}
	return nil, fmt.Errorf("protocol: public key: %T is not Ed25519 or ECDSA P-256", k)
}

// RecipientKey is AIMA's HPKE private key, which opens sealed bodies.
type RecipientKey struct {
	suite *suite
	priv  hpke.PrivateKey
	pub   *RecipientPublicKey
}

// RecipientPublicKey is AIMA's HPKE public key, to which stations seal bodies.
type RecipientPublicKey struct {
	suite *suite
	pub   hpke.PublicKey
	kid   KeyID
}

// GenerateRecipientKey creates an HPKE key for the named suite ("" = default suite).
func GenerateRecipientKey(suiteName string) (*RecipientKey, error) {
	s, err := suiteByName(suiteName)
	if err != nil {
		return nil, err
	}
	priv, err := s.kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("protocol: hpke key: %w", err)
	}
	return newRecipientKey(s, priv), nil
}

func newRecipientKey(s *suite, priv hpke.PrivateKey) *RecipientKey {
	pub := priv.PublicKey()
	return &RecipientKey{suite: s, priv: priv, pub: &RecipientPublicKey{suite: s, pub: pub, kid: hpkeKeyID(pub.Bytes())}}
}

func hpkeKeyID(pub []byte) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:16])
	return id
}

// Public returns the public half.
func (k *RecipientKey) Public() *RecipientPublicKey { return k.pub }

// KeyID returns the key's id (SHA-256 of the serialized public key, first 16 bytes).
func (k *RecipientPublicKey) KeyID() KeyID { return k.kid }

// Suite names the key's COSE-HPKE suite.
func (k *RecipientPublicKey) Suite() string { return k.suite.name }

// MarshalPEM encodes the private key.
func (k *RecipientKey) MarshalPEM() ([]byte, error) {
	b, err := k.priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("protocol: hpke key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemHPKEPrivate, Headers: map[string]string{"Suite": k.suite.name}, Bytes: b}), nil
}

// MarshalPEM encodes the public key.
func (k *RecipientPublicKey) MarshalPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemHPKEPublic, Headers: map[string]string{"Suite": k.suite.name}, Bytes: k.pub.Bytes()})
}

// ParseRecipientKeyPEM reads an HPKE private key.
func ParseRecipientKeyPEM(data []byte) (*RecipientKey, error) {
	b, err := onePEM(data, pemHPKEPrivate)
	if err != nil {
		return nil, err
	}
	s, err := suiteByName(b.Headers["Suite"])
	if err != nil {
		return nil, err
	}
	priv, err := s.kem.NewPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: hpke private key: %w", err)
	}
	return newRecipientKey(s, priv), nil
}

// ParseRecipientPublicKeyPEM reads an HPKE public key.
func ParseRecipientPublicKeyPEM(data []byte) (*RecipientPublicKey, error) {
	b, err := onePEM(data, pemHPKEPublic)
	if err != nil {
		return nil, err
	}
	s, err := suiteByName(b.Headers["Suite"])
	if err != nil {
		return nil, err
	}
	pub, err := s.kem.NewPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("protocol: hpke public key: %w", err)
	}
	return &RecipientPublicKey{suite: s, pub: pub, kid: hpkeKeyID(pub.Bytes())}, nil
}
