// Package bundle is the Captura update bundle: a manifest signed by a threshold of
// maintainer keys and the payload files it describes, in one file that a station can
// check piece by piece while it downloads it.
//
// # Layout
//
//	offset 0   "CAPBNDL1"                      8 bytes, magic and format version
//	offset 8   header length H                 uint32, big-endian, 1..MaxHeaderSize
//	offset 12  header                          H bytes: a tagged COSE_Sign (RFC 9052 §4.1)
//	offset 12+H payload                        the files of the manifest, concatenated
//
// The file ends exactly after the payload: a shorter file is truncated, a longer one has
// trailing bytes, and both are rejected.
//
// # Header
//
// The header is a COSE_Sign (tag 98), not a COSE_Sign1, so that maintainers sign
// independently and a signature can be added later, offline, without touching the
// others (each covers only the body and its own protected header):
//
//	COSE_Sign = #6.98([ body_protected: bstr .cbor {3: "application/captura-bundle+cbor"},
//	                    unprotected: {},
//	                    payload: bstr .cbor manifest,
//	                    signatures: [+ [ sign_protected: bstr .cbor {1: -8, 4: kid},
//	                                     unprotected: {}, signature: bstr .size 64 ] ] ])
//
// kid is protocol.KeyIDOf of the maintainer's Ed25519 key (16 bytes); alg -8 is EdDSA.
// Each signature is Ed25519 over Sig_structure = ["Signature", body_protected,
// sign_protected, an empty byte string (no external data), payload].
//
// Everything is core deterministic CBOR (RFC 8949 §4.2.1) and the reader requires it:
// a header is accepted only if encoding what was decoded gives back the same bytes, so
// one manifest has exactly one encoding. Unknown manifest fields, duplicate keys,
// indefinite lengths and tags other than the leading 98 are rejected.
//
//	manifest = {
//	  "v": 1,
//	  "product": id-text,            ; "captura-agent"
//	  "version": semver,             ; what this bundle installs
//	  ? "min_version": semver,       ; the oldest installed version it may replace
//	  "os": tstr, "arch": tstr,      ; GOOS and GOARCH of the payload
//	  ? "goarm": 5..7,               ; required when arch is "arm"
//	  "created": int,                ; Unix ms
//	  "files": [+ {"name": tstr, "size": uint, "sha256": bstr .size 32, "mode": uint}],
//	  "chunk_size": uint,            ; MinChunkSize..MaxChunkSize
//	  "chunks": [+ bstr .size 32],   ; SHA-256 of each chunk_size piece of the payload
//	  ? "notes": tstr,
//	}
//
// The chunk hashes let a station check every piece of a download on arrival, against
// signed data, before it writes it; the file hashes check the assembled files again.
//
// # Verification
//
// Header.Verify applies a station's policy: at least Threshold distinct trusted keys
// whose signatures verify (signatures by unknown keys are ignored; a signature by a
// trusted key that does not verify rejects the bundle, since the header was altered),
// the product, the target OS/architecture, and anti-rollback (version ≥ installed,
// ≥ the durable floor, installed ≥ min_version). Payload checks (sizes, chunk and file
// hashes) follow as the bytes arrive. Every error wraps one of the Err* reasons.
package bundle
