package bundle

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/captura-claim/captura/protocol"
)

// COSE labels and values used here (RFC 9052 §3.1, RFC 9053 §2.2).
const (
	labelAlg         = 1
	labelContentType = 3
	labelKID         = 4
	algEdDSA         = -8
	tagCOSESign      = 98
)

// Header is a bundle's signed manifest: the COSE_Sign at the start of the file.
type Header struct {
	Manifest   *Manifest
	Signatures []Signature

	manifestRaw  []byte
	protectedRaw []byte
}

// Signature is one maintainer's signature.
type Signature struct {
	KeyID protocol.KeyID
	Sig   []byte

	protectedRaw []byte
}

// NewHeader builds an unsigned header for m.
func NewHeader(m *Manifest) (*Header, error) {
	raw, err := m.Encode()
	if err != nil {
		return nil, err
	}
	prot, err := encMode.Marshal(map[int64]any{labelContentType: ContentType})
	if err != nil {
		return nil, err
	}
	return &Header{Manifest: m, manifestRaw: raw, protectedRaw: prot}, nil
}

// ManifestBytes returns the signed manifest bytes.
func (h *Header) ManifestBytes() []byte { return h.manifestRaw }

// Size is the number of bytes before the payload: magic, length and COSE_Sign.
func (h *Header) Size() int64 {
	b, _ := h.encodeCOSE()
	return int64(PrefixSize + len(b))
}

// TotalSize is the size of the whole bundle file.
func (h *Header) TotalSize() int64 { return h.Size() + h.Manifest.PayloadSize() }

// AddSignature signs the header with an Ed25519 maintainer key. A key signs once.
func (h *Header) AddSignature(key crypto.Signer) error {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("bundle: maintainer keys are Ed25519, not %T", key.Public())
	}
	kid, err := protocol.KeyIDOf(pub)
	if err != nil {
		return err
	}
	for _, s := range h.Signatures {
		if s.KeyID == kid {
			return fmt.Errorf("bundle: already signed by key %s", kid)
		}
	}
	if len(h.Signatures) >= MaxSignatures {
		return fmt.Errorf("bundle: already %d signatures, the most a bundle holds", MaxSignatures)
	}
	prot, err := encMode.Marshal(map[int64]any{labelAlg: algEdDSA, labelKID: kid[:]})
	if err != nil {
		return err
	}
	tbs, err := h.toBeSigned(prot)
	if err != nil {
		return err
	}
	sig, err := key.Sign(rand.Reader, tbs, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("bundle: sign with key %s: %w", kid, err)
	}
	h.Signatures = append(h.Signatures, Signature{KeyID: kid, Sig: sig, protectedRaw: prot})
	if len(h.encodeMust()) > MaxHeaderSize {
		h.Signatures = h.Signatures[:len(h.Signatures)-1]
		return fmt.Errorf("bundle: header would exceed %d bytes", MaxHeaderSize)
	}
	return nil
}

// toBeSigned is the Sig_structure of RFC 9052 §4.4 for a COSE_Sign signature.
func (h *Header) toBeSigned(signProtected []byte) ([]byte, error) {
	return encMode.Marshal([]any{"Signature", h.protectedRaw, signProtected, []byte{}, h.manifestRaw})
}

// verifySig checks one signature against pub.
func (h *Header) verifySig(s Signature, pub ed25519.PublicKey) bool {
	tbs, err := h.toBeSigned(s.protectedRaw)
	return err == nil && ed25519.Verify(pub, tbs, s.Sig)
}

func (h *Header) encodeCOSE() ([]byte, error) {
	sigs := make([]any, len(h.Signatures))
	for i, s := range h.Signatures {
		sigs[i] = []any{s.protectedRaw, map[int64]any{}, s.Sig}
	}
	return encMode.Marshal(cbor.Tag{Number: tagCOSESign, Content: []any{h.protectedRaw, map[int64]any{}, h.manifestRaw, sigs}})
}

func (h *Header) encodeMust() []byte {
	b, err := h.encodeCOSE()
	if err != nil {
		panic(err) // only byte strings, arrays and int maps: cannot fail
	}
	return b
}

// Encode returns the bytes before the payload: magic, header length, COSE_Sign.
func (h *Header) Encode() []byte {
	c := h.encodeMust()
	out := make([]byte, PrefixSize, PrefixSize+len(c))
	copy(out, Magic)
	binary.BigEndian.PutUint32(out[len(Magic):], uint32(len(c)))
	return append(out, c...)
}

// HeaderLen reads the header length from the first PrefixSize bytes of a bundle and
// returns the size of everything before the payload.
func HeaderLen(prefix []byte) (int, error) {
	if len(prefix) < PrefixSize {
		return 0, fmt.Errorf("bundle: %d bytes, shorter than the %d-byte prefix: %w", len(prefix), PrefixSize, ErrTruncated)
	}
	if string(prefix[:len(Magic)]) != Magic {
		return 0, malformed("not a Captura bundle (magic %q, want %q)", printable(prefix[:len(Magic)]), Magic)
	}
	n := binary.BigEndian.Uint32(prefix[len(Magic):PrefixSize])
	if n == 0 || n > MaxHeaderSize {
		return 0, malformed("header length %d (want 1 to %d)", n, MaxHeaderSize)
	}
	return PrefixSize + int(n), nil
}

func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, string(b))
}

// ParseHeader parses the bytes before the payload (exactly: magic, length, COSE_Sign).
// It checks the structure and the manifest, not the signatures: call Verify.
func ParseHeader(data []byte) (*Header, error) {
	n, err := HeaderLen(data)
	if err != nil {
		return nil, err
	}
	if len(data) < n {
		return nil, fmt.Errorf("bundle: header of %d bytes, only %d present: %w", n, len(data), ErrTruncated)
	}
	if len(data) > n {
		return nil, malformed("%d bytes after the header", len(data)-n)
	}
	c := data[PrefixSize:]
	if len(c) < 2 || c[0] != 0xd8 || c[1] != tagCOSESign {
		return nil, malformed("header is not a tagged COSE_Sign (tag 98)")
	}
	var parts []cbor.RawMessage
	if err := decMode.Unmarshal(c[2:], &parts); err != nil {
		return nil, malformed("COSE_Sign: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	if len(parts) != 4 {
		return nil, malformed("COSE_Sign has %d elements, want 4", len(parts))
	}
	h := &Header{}
	if err := decMode.Unmarshal(parts[0], &h.protectedRaw); err != nil {
		return nil, malformed("COSE_Sign protected header is not a byte string")
	}
	if !bytes.Equal(parts[1], []byte{0xa0}) {
		return nil, malformed("COSE_Sign unprotected header must be empty")
	}
	if err := decMode.Unmarshal(parts[2], &h.manifestRaw); err != nil || h.manifestRaw == nil {
		return nil, malformed("COSE_Sign payload is not a byte string (detached payloads are not accepted)")
	}
	var ph map[int64]any
	if err := decMode.Unmarshal(h.protectedRaw, &ph); err != nil {
		return nil, malformed("COSE_Sign protected header: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	if len(ph) != 1 || ph[labelContentType] != ContentType {
		return nil, malformed("COSE_Sign protected header must be exactly {3: %q}", ContentType)
	}
	var sigs []cbor.RawMessage
	if err := decMode.Unmarshal(parts[3], &sigs); err != nil {
		return nil, malformed("COSE_Sign signatures: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	if len(sigs) == 0 || len(sigs) > MaxSignatures {
		return nil, malformed("%d signatures (want 1 to %d)", len(sigs), MaxSignatures)
	}
	seen := map[protocol.KeyID]bool{}
	for i, raw := range sigs {
		s, err := parseSignature(raw)
		if err != nil {
			return nil, malformed("signature %d: %v", i, err)
		}
		if seen[s.KeyID] {
			return nil, malformed("signature %d: key %s signs twice", i, s.KeyID)
		}
		seen[s.KeyID] = true
		h.Signatures = append(h.Signatures, s)
	}
	if h.Manifest, err = DecodeManifest(h.manifestRaw); err != nil {
		return nil, err
	}
	if !bytes.Equal(h.Encode(), data) {
		return nil, malformed("header is not in deterministic CBOR")
	}
	return h, nil
}

func parseSignature(raw []byte) (Signature, error) {
	var s Signature
	var parts []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &parts); err != nil || len(parts) != 3 {
		return s, fmt.Errorf("want [protected, unprotected, signature]")
	}
	if err := decMode.Unmarshal(parts[0], &s.protectedRaw); err != nil {
		return s, fmt.Errorf("protected header is not a byte string")
	}
	if !bytes.Equal(parts[1], []byte{0xa0}) {
		return s, fmt.Errorf("unprotected header must be empty")
	}
	if err := decMode.Unmarshal(parts[2], &s.Sig); err != nil || len(s.Sig) != ed25519.SignatureSize {
		return s, fmt.Errorf("signature is not a %d-byte string", ed25519.SignatureSize)
	}
	var ph map[int64]any
	if err := decMode.Unmarshal(s.protectedRaw, &ph); err != nil {
		return s, fmt.Errorf("protected header: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	alg, _ := ph[labelAlg].(int64)
	kid, _ := ph[labelKID].([]byte)
	if len(ph) != 2 || alg != algEdDSA || len(kid) != len(protocol.KeyID{}) {
		return s, fmt.Errorf("protected header must be exactly {1: -8 (EdDSA), 4: 16-byte kid}")
	}
	copy(s.KeyID[:], kid)
	return s, nil
}

// ReadHeader reads and parses the header from the start of r.
func ReadHeader(r io.Reader) (*Header, error) {
	prefix := make([]byte, PrefixSize)
	if _, err := io.ReadFull(r, prefix); err != nil {
		return nil, fmt.Errorf("bundle: reading the prefix: %v: %w", err, ErrTruncated)
	}
	n, err := HeaderLen(prefix)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	copy(buf, prefix)
	if _, err := io.ReadFull(r, buf[PrefixSize:]); err != nil {
		return nil, fmt.Errorf("bundle: reading the %d-byte header: %v: %w", n, err, ErrTruncated)
	}
	return ParseHeader(buf)
}
