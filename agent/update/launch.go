package update

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/captura-claim/captura/firmware-tools/bundle"
	"github.com/captura-claim/captura/protocol"
)

// Environment between the launcher and the slot binary it starts.
const (
	EnvSlot  = "CAPTURA_UPDATE_SLOT"  // the slot this process runs from
	EnvTrial = "CAPTURA_UPDATE_TRIAL" // job id of the trial this process is on
	EnvFD    = "CAPTURA_UPDATE_FD"    // descriptor of the pipe to the launcher
)

// ExitRestart is the exit status with which the agent asks systemd to start it again
// (the unit lists it in RestartForceExitStatus= and SuccessExitStatus=): after a slot
// switch, so that the launcher starts the new version under watch.
const ExitRestart = 75

// DefaultMaxStarts is how many launcher starts a trial gets. One interrupted start
// (power cut, systemd stop, kill -9 of the launcher) is forgiven; the next is not.
const DefaultMaxStarts = 2

// LaunchConfig configures Launch.
type LaunchConfig struct {
	Slots       *Slots
	Self        string   // the launcher's own executable (the packaged agent); default os.Executable()
	SelfVersion string   // its version
	Args        []string // arguments for the slot binary (without argv[0])
	// Deadline is how long a new version has to prove itself healthy (update.health_deadline).
	Deadline  time.Duration
	MaxStarts int           // default DefaultMaxStarts
	Grace     time.Duration // between SIGTERM and SIGKILL of an unhealthy trial, default 10 s
	Log       *slog.Logger
	// Signals delivers the stop signals to forward to a trial (default: SIGTERM, SIGINT).
	Signals <-chan os.Signal
	// Exec replaces the process (default syscall.Exec); tests replace it.
	Exec func(path string, argv, env []string) error
}

// Launched is what Launch decided.
type Launched struct {
	// Done: the launcher supervised a process that has ended; exit with Exit.
	Done bool
	Exit int
	// Otherwise run the agent in this process, from Slot ("" = the packaged binary
	// itself, not a slot), on trial when Trial is set.
	Slot  string
	Trial *TrialLink
}

// Launch runs at the start of captura-agent when updates are enabled. In the packaged
// binary (the launcher, whose code no update replaces) it repairs the slots after any
// crash, counts the starts of a trial and rolls a trial back when it has had its
// chances, installs the packaged binary into a slot when none holds it, and then either
// replaces itself with the committed slot's binary (exec) or, during a trial, starts the
// new slot's binary as a child and watches it: if the child exits or fails before it
// reports itself healthy, or the deadline passes, it is killed, the previous slot
// comes back, and the launcher execs it.
//
// In a slot binary started by a launcher (EnvSlot set) Launch only reports the slot and
// the trial link. Launch returns to run the agent in-process whenever anything it needs
// fails, so a damaged slot directory never stops the station: the packaged binary runs.
func Launch(c LaunchConfig) Launched {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if slot := os.Getenv(EnvSlot); slot != "" {
		l := Launched{Slot: slot, Trial: trialFromEnv(slot, c.Log)}
		os.Unsetenv(EnvSlot)
		return l
	}
	if c.Self == "" {
		exe, err := os.Executable()
		if err != nil {
			c.Log.Error("update: own executable unknown; running the packaged agent", "err", err)
			return Launched{}
		}
		c.Self = exe
	}
	if c.MaxStarts <= 0 {
		c.MaxStarts = DefaultMaxStarts
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.Exec == nil {
		c.Exec = syscall.Exec
	}
	s := c.Slots
	st, err := s.Load()
	if err != nil {
		// A state file that cannot be read must not stop the station: set it aside and
		// start over from the packaged binary (the anti-rollback floor is lost with it).
		bad := s.Path(fmt.Sprintf("%s.bad-%d", StateFile, time.Now().Unix()))
		c.Log.Error("update: slot state unreadable; set aside, starting from the packaged agent", "err", err, "moved_to", bad)
		os.Rename(s.Path(StateFile), bad)
		st = &SlotState{V: 1, Slots: map[string]SlotInfo{}}
	}
	if err := s.Reconcile(st); err != nil {
		c.Log.Error("update: cannot repair the current link", "err", err)
	}
	if st.Trial != nil {
		if l, ok := c.trial(st); ok {
			return l
		}
	}
	return c.runCommitted(st)
}

// trial handles a slot on trial. It returns ok=false when the trial was rolled back
// (the committed slot must run).
func (c *LaunchConfig) trial(st *SlotState) (Launched, bool) {
	s, t := c.Slots, st.Trial
	t.Starts++
	if err := s.Save(st); err != nil {
		c.Log.Error("update: cannot count the trial start; rolling back", "err", err)
		c.rollback(st, "the trial start could not be recorded: "+err.Error())
		return Launched{}, false
	}
	crashPoint("trial-start-counted")
	if t.Starts > c.MaxStarts {
		c.rollback(st, fmt.Sprintf("version %s did not prove itself healthy in %d starts", t.Version, c.MaxStarts))
		return Launched{}, false
	}
	if sum, err := hashFile(s.Binary(t.Slot)); err != nil || string(sum) != string(st.Slots[t.Slot].SHA256) {
		c.rollback(st, fmt.Sprintf("the installed binary of version %s is missing or damaged", t.Version))
		return Launched{}, false
	}
	return c.supervise(st)
}

func (c *LaunchConfig) rollback(st *SlotState, reason string) {
	if err := c.Slots.Rollback(st, shortReason(reason)); err != nil {
		c.Log.Error("update: rollback not recorded", "err", err)
	}
}

// supervise runs the trial slot's binary as a child and waits for it to report itself
// healthy.
func (c *LaunchConfig) supervise(st *SlotState) (Launched, bool) {
	s, t := c.Slots, st.Trial
	pr, pw, err := os.Pipe()
	if err != nil {
		c.rollback(st, "cannot watch the new version: "+err.Error())
		return Launched{}, false
	}
	defer pr.Close()
	cmd := exec.Command(s.Binary(t.Slot), c.Args...)
	cmd.Env = append(cleanEnv(), EnvSlot+"="+t.Slot, EnvTrial+"="+t.Job.String(), EnvFD+"=3")
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = childAttr()
	sigs := c.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		sigs = ch
	}
	// PR_SET_PDEATHSIG fires when the thread that started the child ends, not the
	// process: keep this goroutine on its thread while the child lives.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.Log.Info("update: starting the new version on trial", "version", t.Version, "slot", t.Slot, "start", t.Starts, "deadline", c.Deadline)
	if err := cmd.Start(); err != nil {
		pw.Close()
		c.rollback(st, fmt.Sprintf("version %s does not start: %v", t.Version, err))
		return Launched{}, false
	}
	pw.Close()
	crashPoint("trial-child-started")
	msgs := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			msgs <- sc.Text()
		}
		close(msgs)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.NewTimer(c.Deadline)
	defer deadline.Stop()
	var kill <-chan time.Time
	var healthy, stopping bool
	var reason string
	terminate := func(why string) {
		if reason == "" {
			reason = why
		}
		if kill == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			kill = time.After(c.Grace)
		}
	}
	var werr error
wait:
	for {
		select {
		case sig := <-sigs:
			stopping = true
			cmd.Process.Signal(sig)
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			switch {
			case m == "ok":
				healthy = true
				deadline.Stop()
				c.Log.Info("update: the new version reports itself healthy", "version", t.Version)
			case strings.HasPrefix(m, "fail "):
				terminate(strings.TrimPrefix(m, "fail "))
			}
		case <-deadline.C:
			if !healthy {
				terminate(fmt.Sprintf("version %s was not healthy within %s", t.Version, c.Deadline))
			}
		case <-kill:
			cmd.Process.Kill()
		case werr = <-exited:
			break wait
		}
	}
	// The pipe closes with the child: read what it said last (a "fail" before exiting).
	drain := time.After(time.Second)
	for msgs != nil {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
			} else if strings.HasPrefix(m, "fail ") && reason == "" {
				reason = strings.TrimPrefix(m, "fail ")
			}
		case <-drain:
			msgs = nil
		}
	}
	code := exitCode(werr)
	now, err := s.Load()
	if err != nil {
		c.Log.Error("update: slot state unreadable after the trial", "err", err)
		now = st
	}
	if now.Trial == nil {
		// Committed (the child's report may have been lost): a normal exit.
		return Launched{Done: true, Exit: code}, true
	}
	if stopping && reason == "" {
		// Stopped from outside before it could prove itself: the start is counted, the
		// next one decides.
		c.Log.Warn("update: stopped during the trial", "version", t.Version)
		return Launched{Done: true, Exit: 0}, true
	}
	if reason == "" {
		reason = fmt.Sprintf("version %s %s before it proved itself healthy", t.Version, describeExit(werr))
	}
	c.rollback(now, reason)
	return Launched{}, false
}

// runCommitted makes sure a committed slot holds a good binary (installing the packaged
// one when needed) and execs it. It returns only to run in-process.
func (c *LaunchConfig) runCommitted(st *SlotState) Launched {
	s := c.Slots
	if c.needSeed(st) {
		if err := s.Seed(st, c.Self, c.SelfVersion); err != nil {
			c.Log.Error("update: cannot install the packaged agent into a slot; running it directly", "err", err)
			return Launched{}
		}
	}
	slot := st.Committed
	if slot == "" {
		return Launched{}
	}
	bin := s.Binary(slot)
	argv := append([]string{bin}, c.Args...)
	env := append(cleanEnv(), EnvSlot+"="+slot)
	crashPoint("before-exec")
	err := c.Exec(bin, argv, env)
	c.Log.Error("update: cannot run the committed slot; running the packaged agent", "slot", slot, "err", err)
	return Launched{}
}

// needSeed reports whether the packaged binary must be installed into a slot: no slot
// is committed, the package is newer than the committed slot, or the committed slot's
// binary does not match its recorded hash.
func (c *LaunchConfig) needSeed(st *SlotState) bool {
	if st.Committed == "" {
		return true
	}
	info := st.Slots[st.Committed]
	if bundle.CompareStrings(c.SelfVersion, info.Version) > 0 {
		c.Log.Info("update: the packaged agent is newer than the committed slot", "packaged", c.SelfVersion, "slot", info.Version)
		return true
	}
	sum, err := hashFile(c.Slots.Binary(st.Committed))
	if err != nil || string(sum) != string(info.SHA256) {
		c.Log.Error("update: the committed slot's binary is missing or damaged; reinstalling the packaged agent", "slot", st.Committed)
		return true
	}
	if _, err := bundle.ParseVersion(c.SelfVersion); err != nil && c.SelfVersion == info.Version && info.Job.IsZero() {
		// An untagged development build: a rebuild carries the same version string.
		self, err := hashFile(c.Self)
		return err == nil && string(self) != string(info.SHA256)
	}
	return false
}

func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, EnvSlot+"=") || strings.HasPrefix(kv, EnvTrial+"=") || strings.HasPrefix(kv, EnvFD+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by signal " + ws.Signal().String()
		}
		return "exited with status " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exited with status 0"
	}
	return "ended: " + err.Error()
}

// TrialLink is a trial process's line to its launcher.
type TrialLink struct {
	Job  protocol.ID
	Slot string
	f    *os.File
}

func trialFromEnv(slot string, log *slog.Logger) *TrialLink {
	js := os.Getenv(EnvTrial)
	if js == "" {
		return nil
	}
	job, err := protocol.ParseID(js)
	if err != nil {
		log.Error("update: bad trial job id from the launcher", "err", err)
		return nil
	}
	t := &TrialLink{Job: job, Slot: slot}
	if fd, err := strconv.Atoi(os.Getenv(EnvFD)); err == nil && fd > 2 {
		t.f = os.NewFile(uintptr(fd), "launcher")
	}
	// The environment is not inherited further (a restart goes through the launcher).
	os.Unsetenv(EnvTrial)
	os.Unsetenv(EnvFD)
	return t
}

// Healthy tells the launcher the trial passed (after the commit is durable).
func (t *TrialLink) Healthy() {
	if t.f != nil {
		fmt.Fprintln(t.f, "ok")
	}
}

// Failed tells the launcher the trial failed; it kills this process and rolls back.
func (t *TrialLink) Failed(reason string) {
	if t.f != nil {
		fmt.Fprintln(t.f, "fail "+shortReason(reason))
	}
}
