// Package gateway is Captura's reference centre gateway, and its doc comment is the
// contract a municipality's own gateway must keep. Stations, their tests and the demo
// rely on exactly this behaviour.
//
// # Topics and QoS
//
// The gateway connects with a stable client id and a persistent session
// (CleanSession=false) and subscribes with QoS 1 to, for its centre C (or "+" for all):
//
//	captura/v1/C/+/records   signed Records (COSE_Sign1, CTRecord)
//	captura/v1/C/+/audit     signed Audit entries (CTAudit)
//	captura/v1/C/+/status    retained signed Status (birth / Last Will)
//
// It publishes each answer with QoS 1, not retained, on
//
//	captura/v1/<centre>/<station>/receipts   signed Receipt (CTReceipt, gateway key)
//
// where centre and station are those of the topic the message arrived on.
//
// A message is acknowledged to the broker (PUBACK) only after its envelope is stored
// durably and its receipt has been published (the receipt's own PUBACK received). If
// the gateway dies or the connection drops before that, the broker delivers the message
// again on the next connection and the gateway answers it as a duplicate. The broker
// must therefore keep the gateway's session and queue for it without a count limit
// while it is away (mosquitto: max_queued_messages 0), and accept messages of
// protocol.MaxRecordSize plus 64 KiB (mosquitto: max_packet_size; nats-server:
// max_payload).
//
// # What is verified
//
// For a record, in this order:
//  1. The topic parses (protocol.ParseTopic) as captura/v1/<centre>/<station>/records.
//  2. protocol.VerifyRecord with the keys trusted for the topic's station only: the
//     COSE_Sign1 signature and algorithm, the content type, the strict CBOR schema,
//     and that the sealed body is bound to this record id and station (the body is
//     never opened: the gateway has no AIMA key). A key is bound to a station by its
//     file name in the key directory (<station>.pub, or <station>.<label>.pub for a
//     second key during rotation), so station A's key cannot sign for station B. A key
//     ring given as Config.TrustAny is trusted for every station (tests, demos).
//  3. The record's centre and station equal the topic's.
//
// An audit entry goes through the same steps with protocol.VerifyMessage (CTAudit). A
// status message is verified the same way and kept in memory (Fleet); it gets no
// receipt. An unknown key directory entry is picked up without a restart: an unknown
// key makes the gateway read the directory again (at most every 2 s).
//
// # Receipts
//
// Every record and audit entry gets one signed protocol.Receipt, Kind "record" or
// "audit", naming the id, seq, and Hash = SHA-256 of the envelope bytes as received:
//
//	stored     verified and stored durably now; Chain is the chain verdict
//	duplicate  this id was stored before with the same envelope hash; Chain is the
//	           verdict given when it was stored. Nothing is written.
//	rejected   will never be accepted as sent; Reason says why. Causes: bad
//	           signature, unknown key, wrong content type, schema, body bound to
//	           another record or station, topic naming another centre or station, and
//	           an id already stored with a different envelope hash.
//
// A rejected message is answered only when an id can be read from it (without
// trusting it); otherwise it is only logged. Nothing of a rejected message is stored,
// and no log line ever holds a payload. A station erases a record only on a receipt
// that verifies against the pinned gateway key, names the record's id and envelope hash
// and says stored or duplicate; a rejection of a hash it did not send is not about its
// record.
//
// # Chain verdicts
//
// Each station has two hash chains, records and audit, checked separately: entry n
// carries Seq n and Prev = Hash of entry n-1 (zeros at seq 1). For a new id:
//
//	fork   another id is already stored at this seq, or the entry stored at seq-1
//	       has a different hash than Prev, or seq is 1 and Prev is not zero
//	ok     seq 1 with zero Prev (the chain's start, nothing missing), or the entry at
//	       seq-1 is stored and Prev equals its hash
//	start  the first entry the gateway has seen of this station's chain, at seq > 1
//	gap    the entry at seq-1 is missing: something before this one did not arrive
//	       (it may still come; it is then checked against its own predecessor)
//
// The verdict never stops a verified entry from being stored: data is never dropped for
// being out of order. It is reported in the receipt, to the hooks, and logged (at
// warning level for gap and fork).
//
// # Storage
//
//	<store>/<centre>/<station>/records/<seq, 20 digits>-<id, 32 hex>.cose
//	<store>/<centre>/<station>/records.idx
//	<store>/<centre>/<station>/audit/<seq>-<id>.cose
//	<store>/<centre>/<station>/audit.idx
//
// An envelope is written exactly as received, atomically (temporary file, fsync,
// rename, fsync of the directory). Then one line "<seq> <id> <hash> <verdict>" is
// appended to the chain's .idx file and fsync'd; only then is the receipt sent. The
// index holds the dedupe ids and the chain, so they survive a restart and survive the
// envelopes being moved away once forwarded to AIMA. On start (lazily, per station) a
// torn last index line is cut off, and an envelope stored but not yet indexed (a crash
// between the two writes) is indexed again from the file. The id index is kept in
// memory: a gateway for many stations over years belongs on a database, with this same
// behaviour.
//
// # Concurrency
//
// Messages of one station are processed one at a time, in arrival order, by that
// station's worker goroutine; stations are processed in parallel. Handle may also be
// called directly (without a broker); it takes the station's lock.
package gateway
