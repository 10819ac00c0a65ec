package protocol

import (
	"fmt"
	"math"
)

// Receipt statuses and chain verdicts (gateway → station).
const (
	ReceiptStored    = "stored"    // verified and stored durably
	ReceiptDuplicate = "duplicate" // already stored earlier (same id and hash)
	ReceiptRejected  = "rejected"  // will never be accepted as sent (see Reason)

	ChainOK    = "ok"    // seq = last+1 and prev = hash of last
	ChainStart = "start" // first record the gateway has seen from this station
	ChainGap   = "gap"   // seq skips ahead: records are missing before this one
	ChainFork  = "fork"  // prev does not match the record the gateway holds at seq-1
)

// Receipt is the gateway's signed acknowledgement of a record or audit event. A station
// erases a record from its outbox only on a receipt that verifies against the pinned
// gateway key and names the record's id and envelope hash with status stored or
// duplicate.
type Receipt struct {
	V       uint   `cbor:"v"`
	Kind    string `cbor:"kind"` // "record" or "audit"
	ID      ID     `cbor:"id"`   // record or audit event id
	Centre  string `cbor:"centre"`
	Station string `cbor:"station"`
	Seq     uint64 `cbor:"seq"`
	Hash    Hash   `cbor:"hash"` // SHA-256 of the envelope the gateway received
	Status  string `cbor:"status"`
	Chain   string `cbor:"chain,omitempty"`
	Reason  string `cbor:"reason,omitempty"`
	Gateway string `cbor:"gateway"` // gateway id
	At      int64  `cbor:"at"`
}

func (*Receipt) ContentType() string { return CTReceipt }

func (r *Receipt) Validate() error {
	if err := checkVersion(r.V); err != nil {
		return err
	}
	if r.Kind != "record" && r.Kind != "audit" {
		return schemaErr("kind", "%q is not record or audit", r.Kind)
	}
	if err := checkIDs(r.Centre, r.Station); err != nil {
		return err
	}
	if err := CheckID("gateway", r.Gateway); err != nil {
		return err
	}
	switch r.Status {
	case ReceiptStored, ReceiptDuplicate, ReceiptRejected:
	default:
		return schemaErr("status", "%q is not stored, duplicate or rejected", r.Status)
	}
	switch r.Chain {
	case "", ChainOK, ChainStart, ChainGap, ChainFork:
	default:
		return schemaErr("chain", "%q is not ok, start, gap or fork", r.Chain)
	}
	if r.Status == ReceiptRejected && r.Reason == "" {
		return schemaErr("reason", "a rejection needs a reason")
	}
	return checkText("reason", r.Reason, false)
}

func checkIDs(centre, station string) error {
	if err := CheckID("centre", centre); err != nil {
		return err
	}
	return CheckID("station", station)
}

// Station connection states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Status is the station's retained birth/status message; the MQTT Last Will carries the
// same message with State offline and the same Birth number, so a late offline cannot
// overwrite a newer online.
type Status struct {
	V       uint           `cbor:"v"`
	Centre  string         `cbor:"centre"`
	Station string         `cbor:"station"`
	State   string         `cbor:"state"`
	Birth   uint64         `cbor:"birth"` // connection counter, durable across restarts
	At      int64          `cbor:"at"`
	Version string         `cbor:"version,omitempty"`
	Slot    string         `cbor:"slot,omitempty"`   // active install slot ("a" or "b")
	Health  string         `cbor:"health,omitempty"` // "ok" or "degraded: ..."
	Session string         `cbor:"session,omitempty"`
	Devices []DeviceStatus `cbor:"devices,omitempty"`
	Caps    []string       `cbor:"caps,omitempty"` // capabilities, e.g. "finger", "face", "pad-face"
	Outbox  *OutboxStatus  `cbor:"outbox,omitempty"`
	Update  *UpdateStatus  `cbor:"update,omitempty"`
}

// DeviceStatus is one device's state.
type DeviceStatus struct {
	Kind   string `cbor:"kind"`  // "reader", "camera", "panel"
	Name   string `cbor:"name"`  // e.g. "r30x(R307@/dev/captura-reader,115200)"
	State  string `cbor:"state"` // "ok", "absent", "error"
	Detail string `cbor:"detail,omitempty"`
}

// OutboxStatus summarises unsent data (counts only).
type OutboxStatus struct {
	Records uint64 `cbor:"records"`
	Bytes   uint64 `cbor:"bytes"`
	Oldest  int64  `cbor:"oldest,omitempty"` // Unix ms of the oldest record
}

// UpdateStatus is the state of the latest update job.
type UpdateStatus struct {
	Job     ID     `cbor:"job"`
	State   string `cbor:"state"`
	Version string `cbor:"version"`
	Reason  string `cbor:"reason,omitempty"`
}

func (*Status) ContentType() string { return CTStatus }

func (s *Status) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := checkIDs(s.Centre, s.Station); err != nil {
		return err
	}
	if s.State != StateOnline && s.State != StateOffline {
		return schemaErr("state", "%q is not online or offline", s.State)
	}
	for i, d := range s.Devices {
		if err := checkText(fmt.Sprintf("devices[%d].name", i), d.Name, true); err != nil {
			return err
		}
		if err := checkText(fmt.Sprintf("devices[%d].detail", i), d.Detail, false); err != nil {
			return err
		}
	}
	for _, f := range []struct{ n, v string }{{"version", s.Version}, {"slot", s.Slot}, {"health", s.Health}, {"session", s.Session}} {
		if err := checkText(f.n, f.v, false); err != nil {
			return err
		}
	}
	return nil
}

// Command types. They appear in topics, so they are [a-z0-9-].
const (
	CmdCaptureStart    = "capture-start"
	CmdCaptureCancel   = "capture-cancel"
	CmdCaptureRetry    = "capture-retry"
	CmdCaptureOverride = "capture-override"
	CmdCaptureMissing  = "capture-missing"
	CmdStatus          = "status"
	CmdTablets         = "tablets" // list paired tablets
	CmdUnpair          = "unpair"
)

// CommandTypes lists every command type with the argument field it requires.
var CommandTypes = map[string]string{
	CmdCaptureStart: "start", CmdCaptureCancel: "", CmdCaptureRetry: "item", CmdCaptureOverride: "item",
	CmdCaptureMissing: "item", CmdStatus: "", CmdTablets: "", CmdUnpair: "unpair",
}

// MaxCommandLifetime bounds Expires-Issued: a command cannot be made valid for long.
const MaxCommandLifetime = 10 * 60 * 1000 // ms

// Command is a tablet's signed request (COSE_Sign1, ES256). The station executes a
// command only if it is signed by a paired tablet, names this station and centre, has a
// counter above the tablet's last, and has not expired.
type Command struct {
	V       uint   `cbor:"v"`
	ID      ID     `cbor:"id"`
	Type    string `cbor:"type"`
	Centre  string `cbor:"centre"`
	Station string `cbor:"station"`
	Tablet  string `cbor:"tablet"`  // the tablet's id as paired
	Counter uint64 `cbor:"counter"` // per tablet, strictly increasing
	Issued  int64  `cbor:"issued"`  // Unix ms
	Expires int64  `cbor:"expires"` // Unix ms

	Start  *StartArgs  `cbor:"start,omitempty"`
	Item   *ItemArgs   `cbor:"item,omitempty"`
	Unpair *UnpairArgs `cbor:"unpair,omitempty"`
}

// StartArgs starts a capture session.
type StartArgs struct {
	Txn     string      `cbor:"txn"`
	Fingers []FingerPos `cbor:"fingers,omitempty"` // default: all ten
	Face    bool        `cbor:"face"`
}

// ItemArgs addresses an item of the running session.
type ItemArgs struct {
	Mod    string    `cbor:"mod"`
	Pos    FingerPos `cbor:"pos,omitempty"`
	Reason string    `cbor:"reason,omitempty"` // override: free text; missing: a Missing* reason
}

// UnpairArgs names the tablet to unpair.
type UnpairArgs struct {
	Tablet string `cbor:"tablet"`
}

func (*Command) ContentType() string { return CTCommand }

func (c *Command) Validate() error {
	if err := checkVersion(c.V); err != nil {
		return err
	}
	if c.ID.IsZero() {
		return schemaErr("id", "all zeros")
	}
	want, ok := CommandTypes[c.Type]
	if !ok {
		return schemaErr("type", "%q is not a command type", c.Type)
	}
	if err := checkIDs(c.Centre, c.Station); err != nil {
		return err
	}
	if err := CheckID("tablet", c.Tablet); err != nil {
		return err
	}
	if c.Counter == 0 {
		return schemaErr("counter", "must start at 1")
	}
	if c.Issued <= 0 || c.Expires <= c.Issued || c.Expires-c.Issued > MaxCommandLifetime {
		return schemaErr("expires", "must be after issued and at most %d s later", MaxCommandLifetime/1000)
	}
	have := map[string]bool{"start": c.Start != nil, "item": c.Item != nil, "unpair": c.Unpair != nil}
	for k, v := range have {
		if v && k != want {
			return schemaErr(k, "not an argument of %s", c.Type)
		}
	}
	if want != "" && !have[want] {
		return schemaErr(want, "%s needs it", c.Type)
	}
	switch {
	case c.Start != nil:
		if err := CheckTransaction("start.txn", c.Start.Txn); err != nil {
			return err
		}
		seen := map[FingerPos]bool{}
		for i, p := range c.Start.Fingers {
			if !p.Valid() || seen[p] {
				return schemaErr(fmt.Sprintf("start.fingers[%d]", i), "%d is not a new finger position 1-10", p)
			}
			seen[p] = true
		}
	case c.Item != nil:
		it := c.Item
		switch {
		case it.Mod == ModFinger && it.Pos.Valid():
		case it.Mod == ModFace && it.Pos == 0 && c.Type != CmdCaptureMissing:
		default:
			return schemaErr("item", "mod %q with position %d is not an item", it.Mod, it.Pos)
		}
		switch c.Type {
		case CmdCaptureOverride:
			if err := checkText("item.reason", it.Reason, true); err != nil {
				return err
			}
		case CmdCaptureMissing:
			if !ValidMissingReason(it.Reason) {
				return schemaErr("item.reason", "%q is not amputated, bandaged, damaged or unable", it.Reason)
			}
		default:
			if err := checkText("item.reason", it.Reason, false); err != nil {
				return err
			}
		}
	case c.Unpair != nil:
		if err := CheckID("unpair.tablet", c.Unpair.Tablet); err != nil {
			return err
		}
	}
	return nil
}

// Command states (thin-edge.io style).
const (
	CmdInit       = "init"
	CmdExecuting  = "executing"
	CmdSuccessful = "successful"
	CmdFailed     = "failed"
)

// CommandState is the station's retained answer to a command.
type CommandState struct {
	V       uint              `cbor:"v"`
	Command ID                `cbor:"command"`
	Type    string            `cbor:"type"`
	Station string            `cbor:"station"`
	State   string            `cbor:"state"`
	Reason  string            `cbor:"reason,omitempty"` // why it failed
	At      int64             `cbor:"at"`
	Record  *ID               `cbor:"record,omitempty"` // capture-start: the record produced
	Result  map[string]string `cbor:"result,omitempty"` // small, human-readable results
}

func (*CommandState) ContentType() string { return CTCommandState }

func (s *CommandState) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := CheckID("station", s.Station); err != nil {
		return err
	}
	switch s.State {
	case CmdInit, CmdExecuting, CmdSuccessful:
	case CmdFailed:
		if s.Reason == "" {
			return schemaErr("reason", "a failed command needs a reason")
		}
	default:
		return schemaErr("state", "%q is not init, executing, successful or failed", s.State)
	}
	if len(s.Result) > 32 {
		return schemaErr("result", "%d entries, at most 32", len(s.Result))
	}
	for k, v := range s.Result {
		if err := checkText("result."+k, v, false); err != nil {
			return err
		}
	}
	return checkText("reason", s.Reason, false)
}

// Progress events of a capture session, for the technician's tablet. They carry
// quality numbers and hints, never image content.
const (
	EvSessionStart = "session-start"
	EvItemStart    = "item-start"
	EvWaitFinger   = "wait-finger"
	EvAttempt      = "attempt"
	EvItemDone     = "item-done"
	EvItemMissing  = "item-missing"
	EvPADAlarm     = "pad-alarm"
	EvSessionDone  = "session-done"
	EvSessionFail  = "session-failed"
	EvSessionAbort = "session-cancelled"
)

// Progress is one event of a running session.
type Progress struct {
	V       uint      `cbor:"v"`
	Station string    `cbor:"station"`
	Session ID        `cbor:"session"` // = the record id the session will produce
	Txn     string    `cbor:"txn"`
	Seq     uint64    `cbor:"seq"` // per session, from 1
	At      int64     `cbor:"at"`
	Event   string    `cbor:"event"`
	Mod     string    `cbor:"mod,omitempty"`
	Pos     FingerPos `cbor:"pos,omitempty"`
	Attempt uint      `cbor:"attempt,omitempty"`
	Score   *uint     `cbor:"score,omitempty"`
	Pass    *bool     `cbor:"pass,omitempty"`
	Hints   []string  `cbor:"hints,omitempty"`
	PAD     *float64  `cbor:"pad,omitempty"` // PAD score, technician only
	Done    uint      `cbor:"done,omitempty"`
	Total   uint      `cbor:"total,omitempty"`
	Message string    `cbor:"msg,omitempty"`
}

func (*Progress) ContentType() string { return CTProgress }

func (p *Progress) Validate() error {
	if err := checkVersion(p.V); err != nil {
		return err
	}
	if err := CheckID("station", p.Station); err != nil {
		return err
	}
	if err := CheckTransaction("txn", p.Txn); err != nil {
		return err
	}
	if p.Score != nil && *p.Score > 100 {
		return schemaErr("score", "%d is above 100", *p.Score)
	}
	if p.PAD != nil && (math.IsNaN(*p.PAD) || *p.PAD < 0 || *p.PAD > 1) {
		return schemaErr("pad", "outside [0, 1]")
	}
	for i, h := range p.Hints {
		if err := checkText(fmt.Sprintf("hints[%d]", i), h, true); err != nil {
			return err
		}
	}
	return checkText("msg", p.Message, false)
}

// Audit is one entry of the station's hash-chained audit log: who did what and when,
// never biometric content. Prev is the SHA-256 of the previous entry's envelope.
type Audit struct {
	V       uint              `cbor:"v"`
	ID      ID                `cbor:"id"`
	Centre  string            `cbor:"centre"`
	Station string            `cbor:"station"`
	Seq     uint64            `cbor:"seq"`
	Prev    Hash              `cbor:"prev"`
	At      int64             `cbor:"at"`
	Actor   string            `cbor:"actor"`  // "station", "tablet:<id>", "maintainer:<kid>", "unknown:<kid>"
	Action  string            `cbor:"action"` // e.g. "capture.start", "pairing.denied"
	Outcome string            `cbor:"outcome"`
	Subject string            `cbor:"subject,omitempty"` // e.g. a record or command id
	Details map[string]string `cbor:"details,omitempty"`
}

func (*Audit) ContentType() string { return CTAudit }

func (a *Audit) Validate() error {
	if err := checkVersion(a.V); err != nil {
		return err
	}
	if err := checkIDs(a.Centre, a.Station); err != nil {
		return err
	}
	if a.Seq == 0 {
		return schemaErr("seq", "must start at 1")
	}
	for _, f := range []struct{ n, v string }{{"actor", a.Actor}, {"action", a.Action}, {"outcome", a.Outcome}} {
		if err := checkText(f.n, f.v, true); err != nil {
			return err
		}
	}
	if len(a.Details) > 32 {
		return schemaErr("details", "%d entries, at most 32", len(a.Details))
	}
	for k, v := range a.Details {
		if err := checkText("details."+k, v, false); err != nil {
			return err
		}
	}
	return checkText("subject", a.Subject, false)
}

// Telemetry is a periodic health sample.
type Telemetry struct {
	V        uint    `cbor:"v"`
	Station  string  `cbor:"station"`
	At       int64   `cbor:"at"`
	Uptime   uint64  `cbor:"uptime"` // seconds
	RSS      uint64  `cbor:"rss"`    // bytes
	DiskFree uint64  `cbor:"disk_free"`
	Outbox   uint64  `cbor:"outbox"` // records waiting
	Sessions uint64  `cbor:"sessions"`
	TempC    float64 `cbor:"temp_c,omitempty"`
}

func (*Telemetry) ContentType() string { return CTTelemetry }

func (t *Telemetry) Validate() error {
	if err := checkVersion(t.V); err != nil {
		return err
	}
	if math.IsNaN(t.TempC) || math.IsInf(t.TempC, 0) {
		return schemaErr("temp_c", "not a finite number")
	}
	return CheckID("station", t.Station)
}
