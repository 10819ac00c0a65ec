package station

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

// HandleCommand receives a message on a command topic. It is called from the MQTT
// client's goroutine and only queues the message.
func (s *Station) HandleCommand(topic string, payload []byte) {
	select {
	case s.cmds <- inbound{topic: topic, payload: payload}:
	default:
		s.log.Warn("command queue full; command dropped (a retained command comes back on reconnect)", "topic", topic)
	}
}

func (s *Station) runCommands(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in := <-s.cmds:
			switch {
			case in.alive != nil:
				close(in.alive)
			case in.pair:
				s.processPairing(ctx, in)
			default:
				s.processCommand(ctx, in)
			}
		}
	}
}

// denial is a command refused before execution.
type denial struct {
	actor  string
	reason string
}

// processCommand authenticates, checks and executes one command. Order matters: a
// command already processed (same id: a retained command delivered again after a
// reconnect, or a replay) is answered with its stored state and never executed twice;
// only then are the target, expiry and counter checked.
func (s *Station) processCommand(ctx context.Context, in inbound) {
	if len(in.payload) == 0 {
		return // a retained command being cleared
	}
	t, err := protocol.ParseTopic(in.topic)
	if err != nil || t.Kind != protocol.TopicCmd {
		s.log.Warn("message on a command topic ignored", "topic", in.topic, "err", err)
		return
	}
	id, _ := t.CommandID()
	typ := t.Rest[0]
	if prev, ok := s.deps.Store.CommandState(id); ok {
		s.publishState(ctx, typ, id, prev) // answered as before, never run twice
		s.audit(ctx, "unknown", "command.duplicate", "ignored", id.String(), map[string]string{"type": typ})
		return
	}
	cmd, d := s.authenticate(in.payload, typ, id)
	if d != nil {
		s.deny(ctx, typ, id, d, cmd != nil)
		return
	}
	s.execute(ctx, cmd)
}

// authenticate verifies a command's signature, signer, target, expiry and counter.
func (s *Station) authenticate(payload []byte, typ string, id protocol.ID) (*protocol.Command, *denial) {
	env, perr := protocol.ParseEnvelope(payload, protocol.MaxMessageSize)
	if perr != nil {
		return nil, &denial{actor: "unknown", reason: "malformed command: " + perr.Error()}
	}
	actor := "unknown:" + env.KeyID.String()
	cmd, e, err := protocol.VerifyMessage[protocol.Command](payload, s.cfg.Tablets.Ring())
	switch {
	case errors.Is(err, protocol.ErrUnknownKey):
		return nil, &denial{actor: actor, reason: "unknown tablet: key " + env.KeyID.String() + " is not paired with this station"}
	case err != nil:
		return nil, &denial{actor: actor, reason: "invalid command: " + err.Error()}
	}
	name, _ := s.cfg.Tablets.Name(e.KeyID)
	actor = "tablet:" + name
	now := s.now()
	switch {
	case cmd.Tablet != name:
		return cmd, &denial{actor: actor, reason: fmt.Sprintf("signed by tablet %q but names tablet %q", name, cmd.Tablet)}
	case cmd.ID != id || cmd.Type != typ:
		return cmd, &denial{actor: actor, reason: "command does not match its topic"}
	case cmd.Station != s.cfg.Station || cmd.Centre != s.cfg.Centre:
		return cmd, &denial{actor: actor, reason: fmt.Sprintf("wrong station: addressed to %s/%s", cmd.Centre, cmd.Station)}
	case now.UnixMilli() >= cmd.Expires:
		return cmd, &denial{actor: actor, reason: "expired at " + time.UnixMilli(cmd.Expires).UTC().Format(time.RFC3339)}
	case time.UnixMilli(cmd.Issued).After(now.Add(s.cfg.ClockSkew)):
		return cmd, &denial{actor: actor, reason: "issued in the future (check the tablet's clock)"}
	}
	if err := s.deps.Store.CheckCounter(name, cmd.Counter); err != nil {
		return cmd, &denial{actor: actor, reason: "replayed or reordered command: " + err.Error()}
	}
	return cmd, nil
}

// deny answers a refused command with a failed state and audits it. Authenticated
// commands keep their state, so a redelivery gets the same answer.
func (s *Station) deny(ctx context.Context, typ string, id protocol.ID, d *denial, authenticated bool) {
	s.log.Warn("command refused", "type", typ, "id", id, "actor", d.actor, "reason", d.reason)
	s.audit(ctx, d.actor, "command.denied", "denied", id.String(), map[string]string{"type": typ, "reason": d.reason})
	s.setState(ctx, typ, id, protocol.CmdFailed, d.reason, nil, nil, authenticated)
}

// setState publishes (retained) and optionally stores a command state.
func (s *Station) setState(ctx context.Context, typ string, id protocol.ID, state, reason string, record *protocol.ID, result map[string]string, keep bool) []byte {
	cs := &protocol.CommandState{V: protocol.Version, Command: id, Type: typ, Station: s.cfg.Station, State: state,
		Reason: truncate(reason, protocol.MaxTextLen), At: s.now().UnixMilli(), Record: record, Result: result}
	env, err := protocol.SignMessage(s.cfg.Signer, cs)
	if err != nil {
		s.log.Error("command state not signed", "err", err)
		return nil
	}
	if keep {
		if err := s.deps.Store.PutCommandState(id, env); err != nil {
			s.log.Error("command state not stored", "err", err)
		}
	}
	s.publishState(ctx, typ, id, env)
	return env
}

func (s *Station) publishState(ctx context.Context, typ string, id protocol.ID, env []byte) {
	t := s.tr()
	if t == nil {
		return // the retained command comes back on reconnect and is answered then
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := t.Publish(pctx, protocol.CommandStateTopic(s.cfg.Centre, s.cfg.Station, typ, id), 1, true, env); err != nil {
		s.log.Warn("command state not published", "id", id, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// execute runs an authenticated command.
func (s *Station) execute(ctx context.Context, cmd *protocol.Command) {
	actor := "tablet:" + cmd.Tablet
	switch cmd.Type {
	case protocol.CmdCaptureStart:
		s.startCapture(ctx, cmd)
	case protocol.CmdCaptureCancel, protocol.CmdCaptureRetry, protocol.CmdCaptureOverride, protocol.CmdCaptureMissing:
		s.controlSession(ctx, cmd)
	case protocol.CmdStatus:
		st, _ := s.statusMsg(protocol.StateOnline)
		res := map[string]string{"session": st.Session, "health": st.Health, "version": st.Version}
		if st.Outbox != nil {
			res["outbox_records"] = strconv.FormatUint(st.Outbox.Records, 10)
			res["outbox_bytes"] = strconv.FormatUint(st.Outbox.Bytes, 10)
		}
		for _, d := range st.Devices {
			res["device_"+d.Kind] = d.State
		}
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdSuccessful, "", nil, res, true)
	case protocol.CmdTablets:
		res := map[string]string{}
		for n, k := range s.cfg.Tablets.Names() {
			res[n] = k.String()
		}
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdSuccessful, "", nil, res, true)
	case protocol.CmdUnpair:
		if err := s.Unpair(ctx, cmd.Unpair.Tablet, actor); err != nil {
			s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdFailed, err.Error(), nil, nil, true)
			return
		}
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdSuccessful, "", nil, nil, true)
	}
}

// outboxReserve is the room a new session must find in the outbox (a full session is
// about 1.5 MB sealed).
const outboxReserve = 4 << 20

func (s *Station) startCapture(ctx context.Context, cmd *protocol.Command) {
	actor := "tablet:" + cmd.Tablet
	fail := func(reason string) {
		s.audit(ctx, actor, "capture.refused", "failed", cmd.ID.String(), map[string]string{"txn": cmd.Start.Txn, "reason": reason})
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdFailed, reason, nil, nil, true)
	}
	s.mu.Lock()
	busy, held := s.running, s.held
	s.mu.Unlock()
	if busy != nil {
		fail("busy: a session is running for transaction " + busy.sess.Txn)
		return
	}
	if held {
		fail("the station is restarting into an update; try again in a minute")
		return
	}
	if err := s.deps.Store.Room(outboxReserve); err != nil {
		fail("outbox full: records are waiting for the gateway's receipts (" + err.Error() + ")")
		return
	}
	plan := session.Plan(cmd.Start.Fingers, cmd.Start.Face)
	if needsReader(plan) {
		if err := s.waitReader(ctx); err != nil {
			fail("fingerprint reader not available: " + err.Error())
			return
		}
	}
	recID := protocol.NewID()
	var guide session.Panel
	if s.deps.Panel != nil {
		guide = s.deps.Panel
	}
	sess := session.New(recID, cmd.Start.Txn, cmd.Tablet, plan, s.cfg.Capture, session.Deps{
		Reader: s.deps.Devices.Reader, Quality: s.deps.Quality, FingerPAD: s.deps.FingerPAD, Face: s.deps.Face,
		Panel: guide, Now: s.deps.Now, Log: s.log, Emit: s.emitProgress(ctx),
	})
	r := &running{sess: sess, cmd: cmd}
	s.mu.Lock()
	if s.held { // an update took hold while the reader was being waited for
		s.mu.Unlock()
		fail("the station is restarting into an update; try again in a minute")
		return
	}
	s.running = r
	s.mu.Unlock()
	if s.cfg.SessionFlag != "" {
		if err := os.WriteFile(s.cfg.SessionFlag, []byte(recID.String()+"\n"), 0o644); err != nil {
			s.log.Warn("session flag not written", "file", s.cfg.SessionFlag, "err", err)
		}
	}
	// Stored as executing: if the station dies now, recovery turns it into failed.
	s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdExecuting, "", &recID, nil, true)
	s.audit(ctx, actor, "capture.start", "ok", recID.String(), map[string]string{"txn": cmd.Start.Txn, "items": strconv.Itoa(len(plan))})
	s.log.Info("session started", "record", recID, "txn", cmd.Start.Txn, "tablet", cmd.Tablet, "items", len(plan))
	go s.runSession(ctx, r)
}

// readerGrace is how long a start waits for a reader that is being opened (right after
// the agent starts, or after a replug) before it is refused.
const readerGrace = 3 * time.Second

func (s *Station) waitReader(ctx context.Context) error {
	deadline := s.now().Add(readerGrace)
	for {
		_, err := s.deps.Devices.Reader()
		if err == nil || !s.now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func needsReader(plan []session.Item) bool {
	for _, it := range plan {
		if it.Mod == protocol.ModFinger {
			return true
		}
	}
	return false
}

func (s *Station) runSession(ctx context.Context, r *running) {
	defer func() {
		r.sess.Wipe()
		s.mu.Lock()
		s.running = nil
		s.mu.Unlock()
		if s.cfg.SessionFlag != "" {
			os.Remove(s.cfg.SessionFlag)
		}
		s.kick()
	}()
	cmd := r.cmd
	actor := "tablet:" + cmd.Tablet
	res, err := r.sess.Run(ctx)
	if err != nil {
		reason := err.Error()
		action := "capture.failed"
		if errors.Is(err, session.ErrCancelled) {
			action = "capture.cancelled"
		}
		s.log.Info("session ended without a record", "record", r.sess.ID, "reason", reason)
		s.audit(context.WithoutCancel(ctx), actor, action, "failed", r.sess.ID.String(), map[string]string{"txn": cmd.Start.Txn, "reason": reason})
		s.setState(context.WithoutCancel(ctx), cmd.Type, cmd.ID, protocol.CmdFailed, reason, nil, nil, true)
		return
	}
	e, stateEnv, err := s.commit(res, cmd)
	if err != nil {
		s.log.Error("session not committed", "record", res.ID, "err", err)
		s.audit(ctx, actor, "capture.failed", "failed", res.ID.String(), map[string]string{"txn": cmd.Start.Txn, "reason": "commit: " + err.Error()})
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdFailed, "record not stored: "+err.Error(), nil, nil, true)
		return
	}
	s.publishState(ctx, cmd.Type, cmd.ID, stateEnv)
	s.auditSession(ctx, actor, res)
	s.log.Info("session committed", "record", res.ID, "seq", e.Seq, "bytes", len(e.Envelope), "items", len(res.Items), "missing", len(res.Exceptions))
	if s.deps.OnCommitted != nil {
		s.deps.OnCommitted(e)
	}
}

// commit seals, signs and chains the session's record and stores it together with the
// command's successful state, in one transaction.
func (s *Station) commit(res *session.Result, cmd *protocol.Command) (store.Entry, []byte, error) {
	id := res.ID
	cs := &protocol.CommandState{V: protocol.Version, Command: cmd.ID, Type: cmd.Type, Station: s.cfg.Station,
		State: protocol.CmdSuccessful, At: s.now().UnixMilli(), Record: &id}
	stateEnv, err := protocol.SignMessage(s.cfg.Signer, cs)
	if err != nil {
		return store.Entry{}, nil, err
	}
	body := &protocol.Body{V: protocol.Version, Record: res.ID, Items: res.Body, Assessments: res.Assessments}
	e, err := s.deps.Store.Append(store.KindRecord, func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
		sealed, err := body.Seal(s.cfg.AIMA, s.cfg.Station)
		if err != nil {
			return protocol.ID{}, nil, err
		}
		rec := &protocol.Record{V: protocol.Version, ID: res.ID, Centre: s.cfg.Centre, Station: s.cfg.Station, Seq: seq, Prev: prev,
			Txn: res.Txn, Started: res.Started.UnixMilli(), Ended: max(res.Ended.UnixMilli(), res.Started.UnixMilli()),
			Operator: res.Operator, Software: "captura-agent " + versionString(), Items: res.Items, Exceptions: res.Exceptions, Body: sealed}
		env, err := protocol.SignRecord(s.cfg.Signer, rec)
		return res.ID, env, err
	}, store.Extra{Bucket: "commands", Key: cmd.ID[:], Value: stateEnv})
	// The plaintext body is dropped here; only the sealed record was written.
	for i := range res.Body {
		clear(res.Body[i].Data)
	}
	return e, stateEnv, err
}

// controlSession applies cancel, retry, override and missing to the running session.
func (s *Station) controlSession(ctx context.Context, cmd *protocol.Command) {
	s.mu.Lock()
	r := s.running
	s.mu.Unlock()
	if r == nil {
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdFailed, "no capture session is running", nil, nil, true)
		return
	}
	c := session.Control{By: cmd.Tablet}
	switch cmd.Type {
	case protocol.CmdCaptureCancel:
		c.Kind = session.Cancel
	case protocol.CmdCaptureRetry:
		c.Kind = session.Retry
	case protocol.CmdCaptureOverride:
		c.Kind = session.Override
	case protocol.CmdCaptureMissing:
		c.Kind = session.Missing
	}
	if cmd.Item != nil {
		c.Item, c.Reason = session.Item{Mod: cmd.Item.Mod, Pos: cmd.Item.Pos}, cmd.Item.Reason
	}
	if err := r.sess.Apply(c); err != nil {
		s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdFailed, err.Error(), nil, nil, true)
		return
	}
	id := r.sess.ID
	if c.Kind == session.Override || c.Kind == session.Missing {
		action := map[session.ControlKind]string{session.Override: "capture.override", session.Missing: "capture.missing"}[c.Kind]
		s.audit(ctx, "tablet:"+cmd.Tablet, action, "ok", id.String(), map[string]string{"item": c.Item.String(), "reason": c.Reason})
	}
	s.setState(ctx, cmd.Type, cmd.ID, protocol.CmdSuccessful, "", &id, nil, true)
}

// recoverCommands turns commands left executing by a crash into failed ones.
func (s *Station) recoverCommands(ctx context.Context) error {
	type fix struct {
		id  protocol.ID
		typ string
	}
	var fixes []fix
	err := s.deps.Store.ForEach("commands", func(k, v []byte) error {
		env, err := protocol.ParseEnvelope(v, protocol.MaxMessageSize)
		if err != nil {
			return nil
		}
		var cs protocol.CommandState
		if protocol.DecodeMessage(env.Payload, &cs) == nil && cs.State == protocol.CmdExecuting {
			fixes = append(fixes, fix{cs.Command, cs.Type})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range fixes {
		s.log.Warn("command interrupted by a restart", "id", f.id, "type", f.typ)
		s.setState(ctx, f.typ, f.id, protocol.CmdFailed, "the station restarted during the command; nothing was recorded", nil, nil, true)
		s.audit(ctx, "station", "capture.interrupted", "failed", f.id.String(), map[string]string{"type": f.typ})
	}
	return nil
}

// Alive checks that the command loop answers (the watchdog pings only then).
func (s *Station) Alive(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case s.cmds <- inbound{alive: reply}:
	case <-ctx.Done():
		return fmt.Errorf("command loop busy: %w", ctx.Err())
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("command loop not answering: %w", ctx.Err())
	}
}
