package protocol

import (
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// generateVectors builds the vector set. Sealed bodies are random (HPKE), so they are
// taken from the existing file when there is one; everything else is deterministic
// (Ed25519 signatures included).
func generateVectors(t *testing.T, old *vectorFile) *vectorFile {
	f := &vectorFile{Comment: "Captura protocol test vectors. hex = CBOR bytes; expect = decoded value (ids/hashes hex, byte strings base64). " +
		"Regenerate with: go test ./protocol -run TestVectors -update. Keys: fixtures_test.go (test-only seeds)."}
	addValid := func(name, typ string, v any, data []byte, decodeOnly bool) {
		exp, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		f.Valid = append(f.Valid, validVector{Name: name, Type: typ, Hex: hex.EncodeToString(data), Expect: exp, DecodeOnly: decodeOnly})
	}
	// Sealed body: sealing is randomised, so the committed one is reused while it still
	// opens to the current sample body.
	rec := sampleRecord(nil)
	body := sampleBody(rec.ID, 2000)
	var sealed []byte
	for _, v := range old.Valid {
		if v.Name == "sealed/xwing-small-body" {
			sealed, _ = hex.DecodeString(v.Hex)
			if got, err := OpenBody(testAIMAKey(t, ""), rec.Station, rec.ID, sealed); err != nil || !reflect.DeepEqual(got, body) {
				sealed = nil
			}
		}
	}
	if sealed == nil {
		var err error
		if sealed, err = body.Seal(testAIMAKey(t, "").Public(), rec.Station); err != nil {
			t.Fatal(err)
		}
	}
	addValid("sealed/xwing-small-body", "sealed", body, sealed, true)
	rec.Body = sealed
	addValid("record/full-session", "record", rec, encodeAs(t, "record", rec), false)
	addValid("envelope/record-full-session", "envelope:record", rec, encodeAs(t, "envelope:record", rec), false)

	cmd := &Command{V: Version, ID: idFrom("cmd-1"), Type: CmdCaptureStart, Centre: "lisboa-arroios", Station: "st-07",
		Tablet: "tablet-balcao-3", Counter: 7, Issued: 1795000000000, Expires: 1795000060000,
		Start: &StartArgs{Txn: "AIMA-2026-000123", Fingers: []FingerPos{2, 7}, Face: true}}
	addValid("command/capture-start", "command", cmd, encodeAs(t, "command", cmd), false)
	missing := &Command{V: Version, ID: idFrom("cmd-2"), Type: CmdCaptureMissing, Centre: "lisboa-arroios", Station: "st-07",
		Tablet: "tablet-balcao-3", Counter: 8, Issued: 1795000001000, Expires: 1795000061000,
		Item: &ItemArgs{Mod: ModFinger, Pos: 10, Reason: MissingAmputated}}
	addValid("command/capture-missing", "command", missing, encodeAs(t, "command", missing), false)
	receipt := &Receipt{V: Version, Kind: "record", ID: rec.ID, Centre: rec.Centre, Station: rec.Station, Seq: rec.Seq,
		Hash: Hash{1, 2, 3}, Status: ReceiptStored, Chain: ChainOK, Gateway: "gw-lisboa", At: 1795000100000}
	addValid("receipt/stored", "receipt", receipt, encodeAs(t, "receipt", receipt), false)
	addValid("envelope/receipt-stored", "envelope:receipt", receipt, encodeAs(t, "envelope:receipt", receipt), false)
	status := &Status{V: Version, Centre: "lisboa-arroios", Station: "st-07", State: StateOffline, Birth: 12, At: 1795000000000}
	addValid("status/offline-will", "status", status, encodeAs(t, "status", status), false)
	cs := &CommandState{V: Version, Command: cmd.ID, Type: cmd.Type, Station: "st-07", State: CmdSuccessful, At: 1795000099000, Record: &rec.ID}
	addValid("command-state/successful", "command-state", cs, encodeAs(t, "command-state", cs), false)
	score := uint(0)
	pass := false
	prog := &Progress{V: Version, Station: "st-07", Session: rec.ID, Txn: rec.Txn, Seq: 5, At: 1795000010000, Event: EvAttempt,
		Mod: ModFinger, Pos: 4, Attempt: 1, Score: &score, Pass: &pass, Hints: []string{"press harder"}, Done: 3, Total: 11}
	addValid("progress/attempt-score-zero", "progress", prog, encodeAs(t, "progress", prog), false)
	audit := &Audit{V: Version, ID: idFrom("audit-1"), Centre: "lisboa-arroios", Station: "st-07", Seq: 1, At: 1795000000500,
		Actor: "tablet:tablet-balcao-3", Action: "capture.override", Outcome: "ok", Subject: rec.ID.String(),
		Details: map[string]string{"pos": "right ring", "reason": "worn ridges"}}
	addValid("audit/override", "audit", audit, encodeAs(t, "audit", audit), false)
	tel := &Telemetry{V: Version, Station: "st-07", At: 1795000000000, Uptime: 3600, RSS: 21 << 20, DiskFree: 3 << 30, Outbox: 1, Sessions: 4, TempC: 51.5}
	addValid("telemetry/sample", "telemetry", tel, encodeAs(t, "telemetry", tel), false)

	// Invalid vectors: each built from explicit CBOR so the flaw is plain to see.
	rcpt := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"v": 1, "kind": "record", "id": make([]byte, 16), "centre": "c1", "station": "s1", "seq": 1,
			"hash": make([]byte, 32), "status": "stored", "gateway": "gw", "at": 5}
		m["id"].([]byte)[0] = 1
		if mut != nil {
			mut(m)
		}
		return m
	}
	enc := func(v any) []byte {
		b, err := encMode.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	addInvalid := func(name, typ string, data []byte, msg, class string) {
		f.Invalid = append(f.Invalid, invalidVector{Name: name, Type: typ, Hex: hex.EncodeToString(data), Error: msg, Class: class})
	}
	good := enc(rcpt(nil))
	// Duplicate key: bump the map's pair count and append a second "status".
	dup := append([]byte{good[0] + 1}, good[1:]...)
	dup = append(dup, enc("status")...)
	dup = append(dup, enc("rejected")...)
	addInvalid("receipt/duplicate-key", "receipt", dup, `duplicate map key "status"`, "malformed")
	indef := append([]byte{0xbf}, good[1:]...)
	indef = append(indef, 0xff)
	addInvalid("receipt/indefinite-length-map", "receipt", indef, "indefinite-length", "malformed")
	addInvalid("receipt/unknown-field", "receipt", enc(rcpt(func(m map[string]any) { m["extra"] = true })), `unknown field "extra"`, "schema")
	addInvalid("receipt/missing-hash", "receipt", enc(rcpt(func(m map[string]any) { delete(m, "hash") })), `missing required field "hash"`, "schema")
	addInvalid("receipt/seq-as-text", "receipt", enc(rcpt(func(m map[string]any) { m["seq"] = "1" })), "seq", "schema")
	addInvalid("receipt/version-2", "receipt", enc(rcpt(func(m map[string]any) { m["v"] = 2; m["new"] = 1 })), `version 2 (this build reads 1)`, "version")
	addInvalid("receipt/short-id", "receipt", enc(rcpt(func(m map[string]any) { m["id"] = make([]byte, 15) })), "id: 15 bytes, want 16", "schema")
	addInvalid("receipt/bad-status", "receipt", enc(rcpt(func(m map[string]any) { m["status"] = "maybe" })), `field "status"`, "schema")
	addInvalid("receipt/tagged-time", "receipt", enc(rcpt(func(m map[string]any) { m["at"] = cbor.Tag{Number: 1, Content: 5} })), "tag", "malformed")
	addInvalid("receipt/invalid-utf8", "receipt", enc(rcpt(func(m map[string]any) { m["gateway"] = "g\xffw" })), "UTF-8", "malformed")
	addInvalid("receipt/not-a-map", "receipt", enc([]any{1, 2}), "want a map", "schema")
	addInvalid("receipt/truncated", "receipt", good[:len(good)-3], "unexpected EOF", "malformed")

	recMap := func(mut func(m map[string]any)) []byte {
		var m map[string]any
		if err := decMode.Unmarshal(encodeAs(t, "record", rec), &m); err != nil {
			t.Fatal(err)
		}
		mut(m)
		return enc(m)
	}
	addInvalid("record/bad-transaction", "record", recMap(func(m map[string]any) { m["txn"] = "AIMA 2026/1" }), `field "txn"`, "schema")
	addInvalid("record/chosen-out-of-range", "record", recMap(func(m map[string]any) {
		m["items"].([]any)[0].(map[any]any)["chosen"] = 5
	}), `field "items[0].chosen"`, "schema")
	addInvalid("record/same-finger-twice", "record", recMap(func(m map[string]any) {
		m["items"].([]any)[1].(map[any]any)["pos"] = 1
	}), `right thumb already appears in items[0]`, "schema")
	addInvalid("record/pad-score-above-one", "record", recMap(func(m map[string]any) {
		m["items"].([]any)[0].(map[any]any)["attempts"].([]any)[0].(map[any]any)["pad"].(map[any]any)["score"] = 1.5
	}), `field "items[0].attempts[0].pad.score"`, "schema")
	addInvalid("record/missing-nested-field", "record", recMap(func(m map[string]any) {
		delete(m["items"].([]any)[2].(map[any]any)["attempts"].([]any)[0].(map[any]any)["q"].(map[any]any), "score")
	}), `missing required field "items[2].attempts[0].q.score"`, "schema")
	addInvalid("record/bad-missing-reason", "record", recMap(func(m map[string]any) {
		m["exceptions"].([]any)[0].(map[any]any)["reason"] = "lazy"
	}), `field "exceptions[0].reason"`, "schema")
	addInvalid("command/unknown-type", "command", func() []byte {
		var m map[string]any
		decMode.Unmarshal(encodeAs(t, "command", cmd), &m)
		m["type"] = "format-disk"
		return enc(m)
	}(), `"format-disk" is not a command type`, "schema")
	addInvalid("body/unknown-format", "body", func() []byte {
		var m map[string]any
		decMode.Unmarshal(encodeAs(t, "body", body), &m)
		m["items"].([]any)[0].(map[any]any)["fmt"] = "wsq"
		return enc(m)
	}(), `"wsq" is not a finger record format`, "schema")
	// A body sealed for record 1, presented as record 2's (headers name record 1).
	moved := sampleRecord(sealed)
	moved.ID = idFrom("record-2")
	addInvalid("envelope/body-from-another-record", "envelope:record", encodeAs(t, "envelope:record", moved), "bound to record", "binding")
	return f
}
