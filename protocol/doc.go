// Package protocol is Captura's wire contract: the messages a station, the centre
// gateway, a technician's tablet and AIMA's back office exchange, their deterministic
// CBOR encoding with strict decoding, COSE signatures, the HPKE-sealed biometric body,
// and the MQTT topic layout. It imports nothing else from the project, so a gateway or a
// tablet can import it alone. captura.cddl in this directory is the specification; where
// it and the Go types disagree, that is a bug.
//
// A record's journey: the station encodes the Body (ISO/IEC 19794 records, and each
// attempt's quality measures and hints, which are derived from the samples), seals it to
// AIMA's key (Body.Seal), puts the sealed bytes in a Record and signs it (SignRecord).
// The gateway verifies signature, schema and body binding without being able to read the
// body (VerifyRecord), checks the station's hash chain (Record.Seq and Record.Prev against
// Envelope.Hash of the previous record) and answers with a signed Receipt. AIMA opens the
// body (OpenBody).
//
// Every decoding error wraps one of the Err* categories and names the field at fault.
package protocol
