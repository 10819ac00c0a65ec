package update

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/captura-claim/captura/protocol"
)

// Topics, all under captura/v1/<centre>/<station>/update/:
//
//	job    retained Job (with the bundle header), pusher → station; an empty retained
//	       message withdraws it
//	get    Request for the header or chunks, station → pusher (QoS 1)
//	data   chunk frames, pusher → station (QoS 0: a lost chunk is asked for again)
//	state  retained signed State, station → everyone
const (
	TopicJob   = "job"
	TopicGet   = "get"
	TopicData  = "data"
	TopicState = "state"
)

// Update states, reported like command states.
const (
	StateDownloading = "downloading"
	StateVerifying   = "verifying"
	StateInstalling  = "installing"
	StateRestarting  = "restarting"
	StateSuccessful  = "successful"
	StateFailed      = "failed"
	StateRolledBack  = "rolled-back"
)

// Terminal reports whether s ends a job.
func Terminal(s string) bool {
	return s == StateSuccessful || s == StateFailed || s == StateRolledBack
}

// CTState is the content type of the signed State.
const CTState = "application/captura-update-state+cbor"

// MaxWireMessage bounds Job (which carries the bundle header), Request and State
// messages.
const MaxWireMessage = 160 << 10

// Topic returns captura/v1/<centre>/<station>/update/<kind>.
func Topic(centre, station, kind string) string {
	return protocol.StationTopic(centre, station, protocol.TopicUpdate, kind)
}

// Job announces a bundle to one station. It is not signed: it only points at a bundle,
// and the bundle's own maintainer signatures decide whether anything is installed.
type Job struct {
	V          uint          `cbor:"v"`
	ID         protocol.ID   `cbor:"id"`
	Version    string        `cbor:"version"`     // the bundle's version (informational)
	Size       int64         `cbor:"size"`        // the whole bundle file
	HeaderSize int64         `cbor:"header_size"` // magic, length and COSE_Sign
	HeaderHash protocol.Hash `cbor:"header_hash"` // SHA-256 of those bytes: binds the job to one bundle
	Issued     int64         `cbor:"issued"`      // Unix ms
	// Header is the bundle header itself, so that a station checks signatures and
	// versions as soon as the job arrives, without a round trip. When absent the
	// station asks for it (header request).
	Header []byte `cbor:"header,omitempty"`
}

// Validate checks a job's fields.
func (j *Job) Validate() error {
	if j.V != 1 {
		return fmt.Errorf("update: job version %d (this build reads 1)", j.V)
	}
	if j.ID.IsZero() {
		return fmt.Errorf("update: job id is zero")
	}
	if j.HeaderSize < 13 || j.HeaderSize > 12+128<<10 || j.Size <= j.HeaderSize || j.Size > 12+128<<10+512<<20 {
		return fmt.Errorf("update: job sizes out of range (header %d, bundle %d)", j.HeaderSize, j.Size)
	}
	if len(j.Header) > 0 && int64(len(j.Header)) != j.HeaderSize {
		return fmt.Errorf("update: job carries a header of %d bytes but announces %d", len(j.Header), j.HeaderSize)
	}
	if len(j.Version) > 128 || strings.ContainsFunc(j.Version, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("update: job version text is not printable")
	}
	return nil
}

// Request asks the pusher for the header and/or chunks of a job.
type Request struct {
	V      uint        `cbor:"v"`
	Job    protocol.ID `cbor:"job"`
	Header bool        `cbor:"header,omitempty"`
	Chunks []uint32    `cbor:"chunks,omitempty"`
}

// MaxRequestChunks bounds the chunks one request names.
const MaxRequestChunks = 256

// Validate checks a request.
func (r *Request) Validate() error {
	if r.V != 1 || r.Job.IsZero() {
		return fmt.Errorf("update: request: bad version or job")
	}
	if !r.Header && len(r.Chunks) == 0 || len(r.Chunks) > MaxRequestChunks {
		return fmt.Errorf("update: request names %d chunks", len(r.Chunks))
	}
	return nil
}

// State is a station's report on its latest update job (retained, signed by the
// station key).
type State struct {
	V       uint        `cbor:"v"`
	Centre  string      `cbor:"centre"`
	Station string      `cbor:"station"`
	Job     protocol.ID `cbor:"job"`
	State   string      `cbor:"state"`
	Version string      `cbor:"version"`          // the job's version
	Running string      `cbor:"running"`          // the version running now
	Slot    string      `cbor:"slot,omitempty"`   // the slot running now
	Reason  string      `cbor:"reason,omitempty"` // why it failed or rolled back, or what it waits for
	Done    int64       `cbor:"done,omitempty"`   // payload bytes held
	Total   int64       `cbor:"total,omitempty"`  // payload bytes in the bundle
	At      int64       `cbor:"at"`               // Unix ms
}

// Validate checks a state.
func (s *State) Validate() error {
	if s.V != 1 {
		return fmt.Errorf("update: state version %d (this build reads 1)", s.V)
	}
	if !protocol.ValidID(s.Centre) || !protocol.ValidID(s.Station) {
		return fmt.Errorf("update: state: bad centre or station id")
	}
	switch s.State {
	case StateDownloading, StateVerifying, StateInstalling, StateRestarting, StateSuccessful, StateFailed, StateRolledBack:
	default:
		return fmt.Errorf("update: state %q is not a known update state", s.State)
	}
	for _, t := range []string{s.Version, s.Running, s.Slot, s.Reason} {
		if len(t) > 500 || strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("update: state: text field too long or not printable")
		}
	}
	if s.Done < 0 || s.Total < 0 || s.Done > s.Total {
		return fmt.Errorf("update: state: progress %d of %d", s.Done, s.Total)
	}
	return nil
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, decMode, err = protocol.StrictCBOR(protocol.CBORLimits{MaxNestedLevels: 8, MaxArrayElements: 1024, MaxMapPairs: 64}); err != nil {
		panic(err)
	}
}

type validator interface{ Validate() error }

// Encode validates m and returns its deterministic CBOR.
func Encode(m validator) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(m)
}

// Decode decodes a Job, Request or State strictly (unknown fields, duplicate keys,
// indefinite lengths and tags are rejected) and validates it.
func Decode(data []byte, m validator) error {
	if len(data) > MaxWireMessage {
		return fmt.Errorf("update: message of %d bytes exceeds %d", len(data), MaxWireMessage)
	}
	if err := decMode.Unmarshal(data, m); err != nil {
		return fmt.Errorf("update: %s", strings.TrimPrefix(err.Error(), "cbor: "))
	}
	return m.Validate()
}

// SignState signs a state with the station key.
func SignState(s *protocol.Signer, st *State) ([]byte, error) {
	b, err := Encode(st)
	if err != nil {
		return nil, err
	}
	return s.Sign(CTState, b)
}

// VerifyState verifies a signed state against the station keys and decodes it. With
// keys nil it only parses the envelope (no authenticity: for tools without the keys).
func VerifyState(data []byte, keys *protocol.KeyRing) (*State, error) {
	var env *protocol.Envelope
	var err error
	if keys != nil {
		env, err = protocol.Verify(data, CTState, keys)
	} else {
		env, err = protocol.ParseEnvelope(data, protocol.MaxMessageSize)
		if err == nil && env.ContentType != CTState {
			err = fmt.Errorf("update: envelope holds %q, want %q", env.ContentType, CTState)
		}
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := Decode(env.Payload, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Chunk frames on the data topic:
//
//	"CUD1" | job id (16 bytes) | index (uint32, big-endian; HeaderIndex for the header) | bytes
const (
	frameMagic = "CUD1"
	frameHead  = 4 + 16 + 4
	// FrameOverhead is the size of a chunk frame without its bytes.
	FrameOverhead = frameHead
	HeaderIndex   = ^uint32(0)
	maxFrameData  = 8 << 20
)

// AppendFrame appends a chunk frame to dst.
func AppendFrame(dst []byte, job protocol.ID, index uint32, data []byte) []byte {
	dst = append(dst, frameMagic...)
	dst = append(dst, job[:]...)
	dst = binary.BigEndian.AppendUint32(dst, index)
	return append(dst, data...)
}

// ParseFrame splits a chunk frame; data aliases b.
func ParseFrame(b []byte) (job protocol.ID, index uint32, data []byte, err error) {
	if len(b) < frameHead || string(b[:4]) != frameMagic {
		return job, 0, nil, fmt.Errorf("update: data frame of %d bytes is not a chunk frame", len(b))
	}
	if len(b)-frameHead > maxFrameData {
		return job, 0, nil, fmt.Errorf("update: data frame of %d bytes is too large", len(b))
	}
	copy(job[:], b[4:20])
	return job, binary.BigEndian.Uint32(b[20:24]), b[frameHead:], nil
}
