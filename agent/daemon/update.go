package daemon

// Wiring of remote updates (agent/update) into the daemon. Updates are enabled when
// [update] maintainer_keys names a directory of maintainer public keys.
//
// Main, once the configuration is loaded (not for -check-config, -version, ...):
//
//	l := updateLaunch(cfg, log, args)
//	if l.Done {
//		return l.Exit // this process was the launcher of a trial that has ended
//	}
//	// pass l to Run (e.g. a Hooks field) ...
//	err := Run(ctx, cfg, log, hooks)
//	if code, ok := updateExit(err); ok {
//		return code // 75: restart into the new slot
//	}
//
// and for the OnFailure= helper unit, a flag -update-rollback:
//
//	if *rollback { return updateRollback(cfg, log, stderr) }
//
// Run, with the uplink built but before its Run starts (the update client subscribes
// when it is built):
//
//	upd, err := newUpdater(cfg, l, signer, up.Client(), st, log, func() { poke(statusChanged) })
//	...
//	if upd != nil { run("update", upd.Run) }
//
// and station.Config.Slot = l.Slot; after READY has been sent: upd.Ready(); the
// station's status: Update = upd.Status().

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/station"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/version"
	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// updatesEnabled reports whether the configuration enables remote updates.
func updatesEnabled(cfg *config.Config) bool { return cfg.Update.MaintainerKeys != "" }

// slotsDir is update.slots_dir, or <state_dir>/slots.
func slotsDir(cfg *config.Config) string {
	if cfg.Update.SlotsDir != "" {
		return cfg.Path(cfg.Update.SlotsDir)
	}
	return filepath.Join(cfg.Path(cfg.Station.StateDir), "slots")
}

// updateLaunch runs the update launcher (see update.Launch): in the packaged binary it
// repairs the slots, rolls back a spent trial, and either execs the committed slot's
// binary (it does not return then) or supervises a trial (Done is set when that ends).
// Otherwise the agent runs in this process, from l.Slot, on trial when l.Trial is set.
// With updates disabled it returns an empty Launched.
func updateLaunch(cfg *config.Config, log *slog.Logger, args []string) update.Launched {
	if !updatesEnabled(cfg) {
		return update.Launched{}
	}
	log = log.With("component", "launcher")
	s, err := update.OpenSlots(slotsDir(cfg), log)
	if err != nil {
		log.Error("update: slots directory unusable; running the packaged agent", "err", err)
		return update.Launched{}
	}
	return update.Launch(update.LaunchConfig{Slots: s, SelfVersion: version.String(), Args: args,
		Deadline: cfg.Update.HealthDeadline.D(), Log: log})
}

// newUpdater builds the update client (nil, nil when updates are disabled). Build it
// before the uplink's connection runs. statusChanged is called when the update state
// changes, to republish the station's status.
func newUpdater(cfg *config.Config, l update.Launched, signer *protocol.Signer, mq *mqttc.Client, st *station.Station,
	log *slog.Logger, statusChanged func()) (*update.Client, error) {
	if !updatesEnabled(cfg) {
		return nil, nil
	}
	keys, err := bundle.LoadKeys(cfg.Path(cfg.Update.MaintainerKeys))
	if err != nil {
		return nil, fmt.Errorf("update.maintainer_keys: %w", err)
	}
	if cfg.Update.Threshold > keys.Len() {
		return nil, fmt.Errorf("update.threshold: %d, but only %d maintainer keys in %s", cfg.Update.Threshold, keys.Len(), cfg.Update.MaintainerKeys)
	}
	log = log.With("component", "update")
	s, err := update.OpenSlots(slotsDir(cfg), log)
	if err != nil {
		return nil, err
	}
	return update.NewClient(update.ClientConfig{Centre: cfg.Station.Centre, Station: cfg.Station.ID, Slots: s, Keys: keys,
		Threshold: cfg.Update.Threshold, Target: bundle.HostTarget(), Version: version.String(), Slot: l.Slot, Trial: l.Trial,
		Signer: signer, HealthDeadline: cfg.Update.HealthDeadline.D(), Log: log},
		update.Deps{MQTT: mq, Busy: st.Busy, SelfTest: st.Alive, Hold: st.Hold, StatusChanged: statusChanged})
}

// updateExit maps the update component's ending to an exit status: ErrRestart asks
// systemd to start the agent again (the unit lists update.ExitRestart in
// RestartForceExitStatus= and SuccessExitStatus=).
func updateExit(err error) (int, bool) {
	if errors.Is(err, update.ErrRestart) {
		return update.ExitRestart, true
	}
	return 0, false
}

// updateRollback is captura-agent -update-rollback, run by captura-rollback.service
// when the agent unit has failed: a pending trial is rolled back now (exit 0), or
// there is nothing to do (exit 1, so the unit does not restart the agent).
func updateRollback(cfg *config.Config, log *slog.Logger, stderr io.Writer) int {
	if !updatesEnabled(cfg) {
		fmt.Fprintln(stderr, "captura-agent: updates are not enabled (update.maintainer_keys is empty)")
		return ExitFailed
	}
	s, err := update.OpenSlots(slotsDir(cfg), log)
	if err != nil {
		fmt.Fprintf(stderr, "captura-agent: %v\n", err)
		return ExitFailed
	}
	st, err := s.Load()
	if err != nil {
		fmt.Fprintf(stderr, "captura-agent: %v\n", err)
		return ExitFailed
	}
	if st.Trial == nil {
		fmt.Fprintln(stderr, "captura-agent: no update on trial; nothing to roll back")
		return ExitFailed
	}
	v := st.Trial.Version
	if err := s.Rollback(st, fmt.Sprintf("version %s: the agent unit failed during its trial", v)); err != nil {
		fmt.Fprintf(stderr, "captura-agent: %v\n", err)
		return ExitFailed
	}
	fmt.Fprintf(stderr, "captura-agent: rolled back version %s; slot %s is current again\n", v, st.Committed)
	return ExitOK
}
