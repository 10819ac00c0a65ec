package station

import (
	"context"
	"strconv"

	"github.com/captura-claim/captura/agent/session"
	"github.com/captura-claim/captura/agent/store"
	"github.com/captura-claim/captura/protocol"
)

// audit appends an entry to the station's hash-chained audit log; the publisher sends
// it until the gateway's receipt. Details never hold biometric content.
func (s *Station) audit(ctx context.Context, actor, action, outcome, subject string, details map[string]string) {
	_, err := s.deps.Store.Append(store.KindAudit, s.auditBuilder(actor, action, outcome, subject, details))
	if err != nil {
		s.log.Error("audit entry not stored", "action", action, "err", err)
		return
	}
	s.kick()
}

// auditBuilder signs an audit entry when the store numbers it, inside the transaction
// that appends it (and, for Store.Expire, erases what it reports).
func (s *Station) auditBuilder(actor, action, outcome, subject string, details map[string]string) store.Builder {
	for k, v := range details {
		details[k] = truncate(v, protocol.MaxTextLen)
	}
	return func(seq uint64, prev protocol.Hash) (protocol.ID, []byte, error) {
		a := &protocol.Audit{V: protocol.Version, ID: protocol.NewID(), Centre: s.cfg.Centre, Station: s.cfg.Station,
			Seq: seq, Prev: prev, At: s.now().UnixMilli(), Actor: actor, Action: action, Outcome: outcome,
			Subject: truncate(subject, protocol.MaxTextLen), Details: details}
		env, err := protocol.SignMessage(s.cfg.Signer, a)
		return a.ID, env, err
	}
}

// auditSession records a committed session and each PAD alarm in it.
func (s *Station) auditSession(ctx context.Context, actor string, res *session.Result) {
	s.audit(ctx, actor, "capture.done", "ok", res.ID.String(), map[string]string{
		"txn": res.Txn, "items": strconv.Itoa(len(res.Items)), "missing": strconv.Itoa(len(res.Exceptions))})
	for _, it := range res.Items {
		for _, a := range it.Attempts {
			if a.PAD != nil && a.PAD.Decision == protocol.PADAttack {
				name := "face"
				if it.Mod == protocol.ModFinger {
					name = it.Pos.String()
				}
				s.audit(ctx, "station", "pad.alarm", "recorded", res.ID.String(), map[string]string{
					"item": name, "attempt": strconv.Itoa(int(a.N)), "score": strconv.FormatFloat(a.PAD.Score, 'f', 3, 64), "method": a.PAD.Method})
			}
		}
	}
}
