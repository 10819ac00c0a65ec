package protocol

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Sealing follows the Integrated Encryption mode of draft-ietf-cose-hpke (-27): the body
// is the ciphertext of a tagged COSE_Encrypt0 (tag 16) with
//
//	protected   = {1: alg, "rid": record id (bstr 16), "sid": station id (tstr)}
//	unprotected = {4: kid of the recipient key (bstr), -4: ek, the HPKE encapsulated key}
//	aad         = Enc_structure ["Encrypt0", protected, external_aad]
//	external_aad = ["captura/v1 body", station id, record id] (deterministic CBOR)
//	info        = "captura/v1 sealed body"
//
// Deviations from the draft, each deliberate:
//   - The default suite, ML-KEM-768+X25519 (X-Wing, HPKE KEM 0x647a) with HKDF-SHA256 and
//     AES-256-GCM, has no COSE algorithm value yet; it uses the private-use value -65537
//     ("HPKE-XWING-A256"). HPKE-7 (45, DHKEM P-256 + HKDF-SHA256 + AES-256-GCM) from the
//     draft is accepted for recipients that cannot hold a hybrid key.
//   - Two private protected header parameters, "rid" and "sid", name the record and
//     station the body belongs to, so a gateway can check the binding without the key;
//     the same values are also bound through external_aad.
//   - info is a fixed application string instead of the draft's default empty string.
//   - Unknown header parameters are rejected rather than ignored.

// suite is a COSE-HPKE ciphersuite.
type suite struct {
	name string
	alg  int64
	kem  hpke.KEM
	kdf  hpke.KDF
	aead hpke.AEAD
}

const (
	// SuiteXWing is the default: post-quantum hybrid, because biometrics cannot be
	// changed and must stay secret for decades.
	SuiteXWing = "HPKE-XWING-A256"
	// SuiteP256 is HPKE-7 of draft-ietf-cose-hpke.
	SuiteP256 = "HPKE-7"

	algXWing int64 = -65537
	algHPKE7 int64 = 45
)

var suites = []*suite{
	{name: SuiteXWing, alg: algXWing, kem: hpke.MLKEM768X25519(), kdf: hpke.HKDFSHA256(), aead: hpke.AES256GCM()},
	{name: SuiteP256, alg: algHPKE7, kem: hpke.DHKEM(ecdh.P256()), kdf: hpke.HKDFSHA256(), aead: hpke.AES256GCM()},
}

func suiteByName(name string) (*suite, error) {
	if name == "" {
		name = SuiteXWing
	}
	for _, s := range suites {
		if s.name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("protocol: unknown HPKE suite %q (want %s or %s)", name, SuiteXWing, SuiteP256)
}

func suiteByAlg(alg int64) (*suite, error) {
	for _, s := range suites {
		if s.alg == alg {
			return s, nil
		}
	}
	return nil, fmt.Errorf("protocol: sealed body: alg %d is not an HPKE suite this build opens: %w", alg, ErrAlgorithm)
}

var hpkeInfo = []byte("captura/v1 sealed body")

type e0Protected struct {
	Alg     int64  `cbor:"1,keyasint"`
	Record  ID     `cbor:"rid"`
	Station string `cbor:"sid"`
}

type e0Unprotected struct {
	KID []byte `cbor:"4,keyasint"`
	EK  []byte `cbor:"-4,keyasint"`
}

type encrypt0 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected e0Unprotected
	Ciphertext  []byte
}

type encStructure struct {
	_           struct{} `cbor:",toarray"`
	Context     string
	Protected   []byte
	ExternalAAD []byte
}

type bindingAAD struct {
	_       struct{} `cbor:",toarray"`
	Context string
	Station string
	Record  ID
}

var coseDecMode cbor.DecMode // strict, but allows the COSE_Encrypt0 tag

func init() {
	var err error
	coseDecMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		MaxNestedLevels:   8,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func aadFor(protected []byte, station string, record ID) ([]byte, error) {
	ext, err := encMode.Marshal(bindingAAD{Context: "captura/v1 body", Station: station, Record: record})
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(encStructure{Context: "Encrypt0", Protected: protected, ExternalAAD: ext})
}

// Seal encodes b and seals it to the recipient, bound to station and b.Record.
func (b *Body) Seal(to *RecipientPublicKey, station string) ([]byte, error) {
	pt, err := b.Encode()
	if err != nil {
		return nil, err
	}
	return SealBody(to, station, b.Record, pt)
}

// SealBody seals an encoded body to the recipient, bound to station and record.
func SealBody(to *RecipientPublicKey, station string, record ID, plaintext []byte) ([]byte, error) {
	if err := CheckID("station", station); err != nil {
		return nil, fmt.Errorf("protocol: seal: %w", err)
	}
	prot, err := encMode.Marshal(e0Protected{Alg: to.suite.alg, Record: record, Station: station})
	if err != nil {
		return nil, err
	}
	aad, err := aadFor(prot, station, record)
	if err != nil {
		return nil, err
	}
	enc, sender, err := hpke.NewSender(to.pub, to.suite.kdf, to.suite.aead, hpkeInfo)
	if err != nil {
		return nil, fmt.Errorf("protocol: seal: %w", err)
	}
	ct, err := sender.Seal(aad, plaintext)
	if err != nil {
		return nil, fmt.Errorf("protocol: seal: %w", err)
	}
	return encMode.Marshal(cbor.Tag{Number: 16, Content: encrypt0{
		Protected:   prot,
		Unprotected: e0Unprotected{KID: to.kid[:], EK: enc},
		Ciphertext:  ct,
	}})
}

// SealedInfo is what anyone can read from a sealed body without the key.
type SealedInfo struct {
	Suite      string
	KeyID      KeyID // recipient key
	Record     ID
	Station    string
	Ciphertext int // bytes
	protected  []byte
	enc, ct    []byte
	suite      *suite
}

// InspectSealed parses a sealed body's structure and headers without decrypting it.
func InspectSealed(sealed []byte) (*SealedInfo, error) {
	if len(sealed) > MaxBodySize+(64<<10) {
		return nil, fmt.Errorf("protocol: sealed body: %d bytes: %w", len(sealed), ErrTooLarge)
	}
	// The ciphertext is most of a record's bytes: slice it out rather than decode it
	// into copies. The structure is walked by hand after the well-formedness check.
	if err := coseDecMode.Wellformed(sealed); err != nil {
		return nil, fmt.Errorf("protocol: sealed body: %s: %w", cborMsg(err), ErrMalformed)
	}
	if sealed[0] != 0xd0 {
		return nil, fmt.Errorf("protocol: sealed body: want CBOR tag 16 (COSE_Encrypt0): %w", ErrSchema)
	}
	var e struct {
		Protected, Unprotected, Ciphertext []byte
	}
	if len(sealed) < 2 || sealed[1] != 0x83 {
		return nil, fmt.Errorf("protocol: sealed body: COSE_Encrypt0 must be an array of 3: %w", ErrSchema)
	}
	off := 2
	for i, dst := range []*[]byte{&e.Protected, &e.Unprotected, &e.Ciphertext} {
		end := skip(sealed, off)
		item := sealed[off:end]
		if i != 1 {
			if item[0]>>5 != 2 {
				return nil, fmt.Errorf("protocol: sealed body: COSE_Encrypt0 element %d must be a byte string: %w", i, ErrSchema)
			}
			_, start := head(item, 0)
			item = item[start:]
		}
		*dst = item
		off = end
	}
	var unprot e0Unprotected
	if err := coseDecMode.Unmarshal(e.Unprotected, &unprot); err != nil {
		return nil, fmt.Errorf("protocol: sealed body: unprotected header: %s: %w", cborMsg(err), classify(err))
	}
	var p e0Protected
	if err := coseDecMode.Unmarshal(e.Protected, &p); err != nil {
		return nil, fmt.Errorf("protocol: sealed body: protected header: %s: %w", cborMsg(err), classify(err))
	}
	if p.Record.IsZero() {
		return nil, fmt.Errorf("protocol: sealed body: protected header: missing rid: %w", ErrSchema)
	}
	s, err := suiteByAlg(p.Alg)
	if err != nil {
		return nil, err
	}
	if len(unprot.KID) != len(KeyID{}) {
		return nil, fmt.Errorf("protocol: sealed body: kid is %d bytes, want 16: %w", len(unprot.KID), ErrSchema)
	}
	if len(unprot.EK) == 0 {
		return nil, fmt.Errorf("protocol: sealed body: missing ek (encapsulated key): %w", ErrSchema)
	}
	if err := CheckID("sid", p.Station); err != nil {
		return nil, fmt.Errorf("protocol: sealed body: %w", err)
	}
	info := &SealedInfo{Suite: s.name, Record: p.Record, Station: p.Station, Ciphertext: len(e.Ciphertext),
		protected: e.Protected, enc: unprot.EK, ct: e.Ciphertext, suite: s}
	copy(info.KeyID[:], unprot.KID)
	return info, nil
}

// CheckBinding reports an error wrapping ErrBinding when the sealed body's headers name
// another station or record. Gateways call it; it needs no key.
func (si *SealedInfo) CheckBinding(station string, record ID) error {
	if si.Station != station || si.Record != record {
		return fmt.Errorf("protocol: sealed body is bound to record %s of station %q, not record %s of station %q: %w",
			si.Record, si.Station, record, station, ErrBinding)
	}
	return nil
}

// OpenBody decrypts a sealed body that must belong to station and record.
func OpenBody(k *RecipientKey, station string, record ID, sealed []byte) (*Body, error) {
	si, err := InspectSealed(sealed)
	if err != nil {
		return nil, err
	}
	if err := si.CheckBinding(station, record); err != nil {
		return nil, err
	}
	if si.suite != k.suite {
		return nil, fmt.Errorf("protocol: sealed body uses suite %s, the key is for %s: %w", si.Suite, k.suite.name, ErrDecrypt)
	}
	if si.KeyID != k.pub.kid {
		return nil, fmt.Errorf("protocol: sealed body is for recipient key %s, not %s: %w", si.KeyID, k.pub.kid, ErrDecrypt)
	}
	aad, err := aadFor(si.protected, station, record)
	if err != nil {
		return nil, err
	}
	r, err := hpke.NewRecipient(si.enc, k.priv, k.suite.kdf, k.suite.aead, hpkeInfo)
	if err != nil {
		return nil, fmt.Errorf("protocol: sealed body: %v: %w", err, ErrDecrypt)
	}
	pt, err := r.Open(aad, si.ct)
	if err != nil {
		return nil, fmt.Errorf("protocol: sealed body: authentication failed (altered ciphertext or headers): %w", ErrDecrypt)
	}
	b, err := DecodeBody(pt)
	if err != nil {
		return nil, err
	}
	if b.Record != record {
		return nil, fmt.Errorf("protocol: opened body names record %s, not %s: %w", b.Record, record, ErrBinding)
	}
	return b, nil
}
