package station_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/session/sessiontest"
	"github.com/captura-claim/captura/agent/station"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/drivers/fingerprint"
	"github.com/captura-claim/captura/protocol"
)

// net is an in-memory broker and gateway: it verifies published records and audit
// entries as a gateway would and answers with signed receipts.
type net struct {
	t           *testing.T
	mu          sync.Mutex
	st          *station.Station
	down        bool
	gwSigner    *protocol.Signer
	stRing      *protocol.KeyRing
	records     []*protocol.Record
	recEnvs     [][]byte
	audits      []*protocol.Audit
	states      map[protocol.ID]*protocol.CommandState
	stateCh     chan *protocol.CommandState
	noReceipt   bool
	pairResp    [][]byte
	stationKids map[protocol.KeyID]bool
}

func (n *net) Publish(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	n.mu.Lock()
	if n.down {
		n.mu.Unlock()
		return context.DeadlineExceeded
	}
	n.mu.Unlock()
	tp, err := protocol.ParseTopic(topic)
	if err != nil {
		n.t.Errorf("bad topic %s", topic)
		return nil
	}
	n.mu.Lock()
	ignore := n.noReceipt && tp.Kind == protocol.TopicRecords
	n.mu.Unlock()
	if ignore {
		return nil // a broker whose gateway is away
	}
	switch tp.Kind {
	case protocol.TopicRecords:
		r, env, err := protocol.VerifyRecord(payload, n.stRing)
		if err != nil {
			n.t.Errorf("station published an invalid record: %v", err)
			return nil
		}
		n.mu.Lock()
		dup := false
		for _, old := range n.records {
			dup = dup || old.ID == r.ID
		}
		if !dup {
			n.records = append(n.records, r)
			n.recEnvs = append(n.recEnvs, payload)
		}
		skip := n.noReceipt
		n.mu.Unlock()
		if !skip {
			n.receipt("record", r.ID, r.Seq, env.Hash)
		}
	case protocol.TopicAudit:
		a, env, err := protocol.VerifyMessage[protocol.Audit](payload, n.stRing)
		if err != nil {
			n.t.Errorf("invalid audit entry: %v", err)
			return nil
		}
		n.mu.Lock()
		seen := false
		for _, old := range n.audits {
			seen = seen || old.ID == a.ID
		}
		if !seen { // a resend before the receipt arrived
			n.audits = append(n.audits, a)
		}
		n.mu.Unlock()
		n.receipt("audit", a.ID, a.Seq, env.Hash)
	case protocol.TopicPair:
		n.mu.Lock()
		n.pairResp = append(n.pairResp, payload)
		n.mu.Unlock()
	case protocol.TopicCmdState:
		cs, _, err := protocol.VerifyMessage[protocol.CommandState](payload, n.stRing)
		if err != nil {
			n.t.Errorf("invalid command state: %v", err)
			return nil
		}
		n.mu.Lock()
		n.states[cs.Command] = cs
		n.mu.Unlock()
		n.stateCh <- cs
	}
	return nil
}

func (n *net) receipt(kind string, id protocol.ID, seq uint64, h protocol.Hash) {
	r := &protocol.Receipt{V: 1, Kind: kind, ID: id, Centre: "c1", Station: "st-1", Seq: seq, Hash: h,
		Status: protocol.ReceiptStored, Chain: protocol.ChainOK, Gateway: "gw", At: time.Now().UnixMilli()}
	env, err := protocol.SignMessage(n.gwSigner, r)
	if err != nil {
		n.t.Fatal(err)
	}
	go n.st.HandleReceipt("captura/v1/c1/st-1/receipts", env)
}

func (n *net) audited(action string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, a := range n.audits {
		if a.Action == action {
			c++
		}
	}
	return c
}

type harness struct {
	*net
	st      *station.Station
	store   *store.Store
	reader  *sessiontest.Reader
	tablet  *protocol.Signer
	counter uint64
	cancel  context.CancelFunc
	done    chan error
	dir     string
	aima    *protocol.RecipientKey
}

func newHarness(t *testing.T, dir string, maxBytes int64) *harness {
	t.Helper()
	stKey, _ := protocol.GenerateSigningKey(protocol.KindStation)
	return startHarness(t, dir, maxBytes, stKey, nil)
}

func startHarness(t *testing.T, dir string, maxBytes int64, stKey crypto.Signer, tabKey crypto.Signer) *harness {
	t.Helper()
	signer, _ := protocol.NewSigner(stKey)
	_, gwPriv, _ := ed25519.GenerateKey(rand.Reader)
	gwSigner, _ := protocol.NewSigner(gwPriv)
	aima, _ := protocol.GenerateRecipientKey("")
	if tabKey == nil {
		tabKey, _ = protocol.GenerateSigningKey(protocol.KindTablet)
	}
	tabSigner, _ := protocol.NewSigner(tabKey)
	tablets := station.NewTablets()
	tablets.Add("tab-1", tabKey.(*ecdsa.PrivateKey).Public())
	st, err := store.Open(filepath.Join(dir, "captura.db"), &store.Opts{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := protocol.NewKeyRing(stKey.Public())
	kid, _ := protocol.KeyIDOf(stKey.Public())
	n := &net{stationKids: map[protocol.KeyID]bool{kid: true}, t: t, gwSigner: gwSigner, stRing: ring, states: map[protocol.ID]*protocol.CommandState{}, stateCh: make(chan *protocol.CommandState, 100)}
	rd := &sessiontest.Reader{}
	cfg := station.Config{Station: "st-1", Centre: "c1", Signer: signer, AIMA: aima.Public(), Gateway: gwPriv.Public(), Tablets: tablets,
		Capture: session.Config{Attempts: 3, FingerTimeout: 300 * time.Millisecond, FaceTimeout: time.Second,
			Thresholds: func(session.Item) uint { return 20 }},
		ResendAfter: 200 * time.Millisecond, MaxAge: 30 * 24 * time.Hour,
		Pairing: &station.Pairing{Secret: testSecret, Window: time.Minute, MaxFailures: 3}}
	s, err := station.New(cfg, station.Deps{Store: st, Devices: fakeDevices{rd}, Quality: &sessiontest.Quality{Scores: []uint{60}},
		Face: &sessiontest.Face{Score: 90}})
	if err != nil {
		t.Fatal(err)
	}
	n.st = s
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{net: n, st: s, store: st, reader: rd, tablet: tabSigner, cancel: cancel, done: make(chan error, 1), dir: dir, aima: aima}
	if err := s.LoadTablets(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- s.Run(ctx) }()
	s.Connected(ctx, n, 1)
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.store.Close()
		h.cancel = nil
	}
}

type fakeDevices struct{ r fingerprint.Reader }

func (d fakeDevices) Reader() (fingerprint.Reader, error) { return d.r, nil }
func (d fakeDevices) Status() []protocol.DeviceStatus {
	return []protocol.DeviceStatus{{Kind: "reader", Name: "fake", State: "ok"}}
}

// send signs and delivers a command; mut may change it before signing.
func (h *harness) send(typ string, mut func(c *protocol.Command)) *protocol.Command {
	h.counter++
	now := time.Now()
	c := &protocol.Command{V: 1, ID: protocol.NewID(), Type: typ, Centre: "c1", Station: "st-1", Tablet: "tab-1",
		Counter: h.counter, Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli()}
	switch typ {
	case protocol.CmdCaptureStart:
		c.Start = &protocol.StartArgs{Txn: "AIMA-0001", Fingers: []protocol.FingerPos{1, 2}, Face: true}
	}
	if mut != nil {
		mut(c)
	}
	h.deliver(h.tablet, c)
	return c
}

func (h *harness) deliver(s *protocol.Signer, c *protocol.Command) {
	env, err := protocol.SignMessage(s, c)
	if err != nil {
		h.t.Fatal(err)
	}
	h.st.HandleCommand(protocol.CommandTopic("c1", "st-1", c.Type, c.ID), env)
}

// waitState waits for the command's state to become final.
func (h *harness) waitState(id protocol.ID) *protocol.CommandState {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	final := func(cs *protocol.CommandState) bool {
		return cs != nil && (cs.State == protocol.CmdSuccessful || cs.State == protocol.CmdFailed)
	}
	for {
		h.mu.Lock()
		cs := h.states[id]
		if final(cs) {
			delete(h.states, id) // a redelivery must publish it again
		}
		h.mu.Unlock()
		if final(cs) {
			return cs
		}
		select {
		case <-h.stateCh:
		case <-timeout:
			h.t.Fatalf("command %s (line %d): no final state", id, callerLine())
		}
	}
}

func (h *harness) waitOutboxEmpty() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, _ := h.store.Stats()
		if st.Records == 0 && st.Audit == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _ := h.store.Stats()
	h.t.Fatalf("outbox not drained: %+v", st)
}

func TestCaptureToReceipt(t *testing.T) {
	h := newHarness(t, t.TempDir(), 0)
	cmd := h.send(protocol.CmdCaptureStart, nil)
	cs := h.waitState(cmd.ID)
	if cs.State != protocol.CmdSuccessful || cs.Record == nil {
		t.Fatalf("state = %+v", cs)
	}
	h.waitOutboxEmpty()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 1 || h.records[0].ID != *cs.Record || h.records[0].Seq != 1 {
		t.Fatalf("records at the gateway: %d", len(h.records))
	}
	r := h.records[0]
	if len(r.Items) != 3 || r.Txn != "AIMA-0001" || r.Operator != "tab-1" {
		t.Fatalf("record = %+v", r)
	}
	body, err := protocol.OpenBody(h.aima, r.Station, r.ID, r.Body)
	if err != nil || len(body.Items) != 5 {
		t.Fatalf("body: %v", err)
	}
	// What the quality checks measured travels sealed, one assessment per attempt; the
	// record's readable part has scores and verdicts only.
	if len(body.Assessments) != 3 || body.Assessments[2].Mod != protocol.ModFace || body.Assessments[2].Native["head_covering"] != 0.02 ||
		body.Assessments[0].Native["FingerJetFX_MinutiaeCount"] != 2 {
		t.Fatalf("sealed assessments = %+v", body.Assessments)
	}
	clearPart, _ := r.Encode()
	for _, leak := range []string{"head_covering", "FingerJetFX", "native", "hints"} {
		if bytes.Contains(clearPart, []byte(leak)) {
			t.Errorf("the record's readable part holds %q", leak)
		}
	}
	for _, a := range []string{"capture.start", "capture.done"} {
		if h.net.auditedLocked(a) != 1 {
			t.Errorf("audit %s missing", a)
		}
	}
}

func (n *net) auditedLocked(action string) int {
	c := 0
	for _, a := range n.audits {
		if a.Action == action {
			c++
		}
	}
	return c
}

func TestCommandsRefused(t *testing.T) {
	h := newHarness(t, t.TempDir(), 0)
	// A good status command, then its replay: answered from the stored state, not run again.
	ok := h.send(protocol.CmdStatus, nil)
	cs := h.waitState(ok.ID)
	if cs.State != protocol.CmdSuccessful || cs.Result["device_reader"] != "ok" {
		t.Fatalf("status: %+v", cs)
	}
	h.deliver(h.tablet, ok)
	if cs2 := h.waitState(ok.ID); cs2.At != cs.At {
		t.Error("replayed command executed again")
	}
	stranger, _ := protocol.GenerateSigningKey(protocol.KindTablet)
	strangerSigner, _ := protocol.NewSigner(stranger)

	// Unknown tablet.
	c := &protocol.Command{V: 1, ID: protocol.NewID(), Type: protocol.CmdStatus, Centre: "c1", Station: "st-1", Tablet: "tab-1",
		Counter: 100, Issued: time.Now().UnixMilli(), Expires: time.Now().Add(time.Minute).UnixMilli()}
	h.deliver(strangerSigner, c)
	if cs := h.waitState(c.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "unknown tablet") {
		t.Errorf("unknown tablet: %+v", cs)
	}
	for _, tc := range []struct {
		name string
		mut  func(*protocol.Command)
		want string
	}{
		{"wrong station", func(c *protocol.Command) { c.Station = "st-2" }, "wrong station"},
		{"expired", func(c *protocol.Command) {
			c.Issued, c.Expires = time.Now().Add(-2*time.Minute).UnixMilli(), time.Now().Add(-time.Minute).UnixMilli()
		}, "expired"},
		{"future", func(c *protocol.Command) {
			c.Issued, c.Expires = time.Now().Add(5*time.Minute).UnixMilli(), time.Now().Add(6*time.Minute).UnixMilli()
		}, "issued in the future"},
		{"other name", func(c *protocol.Command) { c.Tablet = "tab-2" }, `names tablet "tab-2"`},
		{"counter back", func(c *protocol.Command) { c.Counter = 1 }, "replayed or reordered command"},
	} {
		cmd := h.send(protocol.CmdStatus, tc.mut)
		if cs := h.waitState(cmd.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, tc.want) {
			t.Errorf("%s: %+v", tc.name, cs)
		}
	}
	// Tampered: a signed command with one payload byte changed.
	tc := &protocol.Command{V: 1, ID: protocol.NewID(), Type: protocol.CmdStatus, Centre: "c1", Station: "st-1", Tablet: "tab-1",
		Counter: h.counter + 10, Issued: time.Now().UnixMilli(), Expires: time.Now().Add(time.Minute).UnixMilli()}
	env, _ := protocol.SignMessage(h.tablet, tc)
	i := strings.Index(string(env), "tab-1")
	env[i+4] = '2'
	h.st.HandleCommand(protocol.CommandTopic("c1", "st-1", tc.Type, tc.ID), env)
	if cs := h.waitState(tc.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "signature verification failed") {
		t.Errorf("tampered: %+v", cs)
	}
	// Malformed bytes on a command topic, and a command with a bad transaction id.
	junk := protocol.NewID()
	h.st.HandleCommand(protocol.CommandTopic("c1", "st-1", protocol.CmdStatus, junk), []byte("\xa1\x01"))
	if cs := h.waitState(junk); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "malformed command") {
		t.Errorf("malformed: %+v", cs)
	}
	bad := &protocol.Command{V: 1, ID: protocol.NewID(), Type: protocol.CmdCaptureStart, Centre: "c1", Station: "st-1", Tablet: "tab-1",
		Counter: h.counter + 11, Issued: time.Now().UnixMilli(), Expires: time.Now().Add(time.Minute).UnixMilli(),
		Start: &protocol.StartArgs{Txn: "AIMA 2026/1"}}
	// SignMessage refuses to sign it; a hand-made envelope carries it anyway.
	payload, _ := protocol.Marshal(bad)
	benv, _ := h.tablet.Sign(protocol.CTCommand, payload)
	h.st.HandleCommand(protocol.CommandTopic("c1", "st-1", bad.Type, bad.ID), benv)
	if cs := h.waitState(bad.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, `field "start.txn"`) {
		t.Errorf("bad transaction id: %+v", cs)
	}
	h.waitOutboxEmpty()
	if h.audited("command.denied") != 9 || h.audited("command.duplicate") != 1 {
		t.Errorf("audit: %d denied, %d duplicate", h.audited("command.denied"), h.audited("command.duplicate"))
	}
}

func TestBusyAndControl(t *testing.T) {
	h := newHarness(t, t.TempDir(), 0)
	h.reader.SetNoFinger(true)
	start := h.send(protocol.CmdCaptureStart, nil)
	second := h.send(protocol.CmdCaptureStart, func(c *protocol.Command) { c.Start.Txn = "AIMA-0002" })
	if cs := h.waitState(second.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "busy") {
		t.Fatalf("second start: %+v", cs)
	}
	miss := h.send(protocol.CmdCaptureMissing, func(c *protocol.Command) {
		c.Item = &protocol.ItemArgs{Mod: protocol.ModFinger, Pos: 2, Reason: protocol.MissingAmputated}
	})
	if cs := h.waitState(miss.ID); cs.State != protocol.CmdSuccessful {
		t.Fatalf("missing: %+v", cs)
	}
	cancel := h.send(protocol.CmdCaptureCancel, nil)
	if cs := h.waitState(cancel.ID); cs.State != protocol.CmdSuccessful {
		t.Fatalf("cancel: %+v", cs)
	}
	if cs := h.waitState(start.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "cancelled") {
		t.Fatalf("start after cancel: %+v", cs)
	}
	none := h.send(protocol.CmdCaptureCancel, nil)
	if cs := h.waitState(none.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "no capture session") {
		t.Fatalf("cancel without session: %+v", cs)
	}
}

func TestBrokerOutageQueuesThenDrainsInOrder(t *testing.T) {
	h := newHarness(t, t.TempDir(), 0)
	h.st.Disconnected()
	h.mu.Lock()
	h.down = true
	h.mu.Unlock()
	var ids []protocol.ID
	for i := 0; i < 3; i++ {
		// Commands arrive, but states cannot be published while down: wait on the outbox.
		h.send(protocol.CmdCaptureStart, func(c *protocol.Command) { c.Start.Fingers = []protocol.FingerPos{1}; c.Start.Face = false })
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, _ := h.store.Stats()
			if st.Records == i+1 && !h.st.Busy() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %d not committed while offline", i+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pend, _ := h.store.Pending(store.KindRecord)
	for _, e := range pend {
		ids = append(ids, e.ID)
	}
	h.mu.Lock()
	h.down = false
	h.mu.Unlock()
	h.st.Connected(context.Background(), h.net, 2)
	h.waitOutboxEmpty()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 3 {
		t.Fatalf("%d records arrived", len(h.records))
	}
	for i, r := range h.records {
		if r.ID != ids[i] || r.Seq != uint64(i+1) {
			t.Fatalf("record %d out of order: seq %d", i, r.Seq)
		}
		if i > 0 && r.Prev != sha(h.recEnvs[i-1]) {
			t.Fatalf("chain broken at seq %d", r.Seq)
		}
	}
}

func TestOutboxFullRefusesNewSessions(t *testing.T) {
	h := newHarness(t, t.TempDir(), 16<<20)
	h.mu.Lock()
	h.noReceipt = true
	h.mu.Unlock()
	// Fill the outbox with large fake entries directly.
	for i := 0; i < 3; i++ {
		h.store.Append(store.KindRecord, func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
			return protocol.NewID(), make([]byte, 5<<20), nil
		})
	}
	cmd := h.send(protocol.CmdCaptureStart, nil)
	if cs := h.waitState(cmd.ID); cs.State != protocol.CmdFailed || !strings.Contains(cs.Reason, "outbox full") {
		t.Fatalf("state = %+v", cs)
	}
}

func TestRestartDuringSessionFailsTheCommand(t *testing.T) {
	dir := t.TempDir()
	stKey, _ := protocol.GenerateSigningKey(protocol.KindStation)
	tabKey, _ := protocol.GenerateSigningKey(protocol.KindTablet)
	h := startHarness(t, dir, 0, stKey, tabKey)
	h.reader.SetNoFinger(true)
	start := h.send(protocol.CmdCaptureStart, nil)
	for deadline := time.Now().Add(5 * time.Second); !h.st.Busy(); {
		if time.Now().After(deadline) {
			t.Fatal("session did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Simulate a crash: the state "executing" is stored; stop without letting the
	// session finish its bookkeeping by closing the store underneath.
	h.stop()
	h2 := startHarness(t, dir, 0, stKey, tabKey)
	h2.counter = h.counter
	// The recovered command's state is failed, and the retained command, delivered again,
	// is answered with it rather than run again.
	h2.deliver(h.tablet, start)
	cs := h2.waitState(start.ID)
	if cs.State != protocol.CmdFailed {
		t.Fatalf("after restart: %+v", cs)
	}
	if st, _ := h2.store.Stats(); st.Records != 0 {
		t.Fatal("an interrupted session left a record")
	}
}

func sha(b []byte) protocol.Hash {
	env, _ := protocol.ParseEnvelope(b, protocol.MaxRecordSize+(64<<10))
	return env.Hash
}

func callerLine() int {
	_, _, line, _ := runtime.Caller(2)
	return line
}
