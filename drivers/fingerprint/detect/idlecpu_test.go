package detect_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/fpsim"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
)

var idleCPU = flag.Bool("idlecpu", false, "measure the CPU time of a 10 s idle WaitFinger (20 s)")

// TestMain doubles as the simulator process of TestIdleCPU, so that the measured process
// holds the driver only.
func TestMain(m *testing.M) {
	if fam := os.Getenv("CAPTURA_TEST_SIM"); fam != "" {
		runChildSim(fam, os.Getenv("CAPTURA_TEST_LINK"))
		return
	}
	os.Exit(m.Run())
}

func runChildSim(family, link string) {
	lc := fpsim.LineConfig{Link: link}
	manual := fpsim.FingerConfig{Mode: fpsim.FingerManual}
	var c interface{ Close() error }
	var err error
	switch family {
	case "r30x":
		c, err = r30xsim.Start(r30xsim.Config{Model: "R503", Baud: 115200, LineConfig: lc, Finger: manual})
	default:
		c, err = gt521sim.Start(gt521sim.Config{Baud: 115200, LineConfig: lc, Finger: manual})
	}
	if err != nil {
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleCPU measures the CPU time this process (the driver only; the simulator runs in
// a child process) uses during a 10 s WaitFinger with no finger, for each family. A
// polling loop that spun would use about 10 s.
func TestIdleCPU(t *testing.T) {
	if !*idleCPU {
		t.Skip("run with -idlecpu")
	}
	for _, fam := range []string{"r30x", "gt521"} {
		t.Run(fam, func(t *testing.T) {
			link := filepath.Join(t.TempDir(), "reader")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CAPTURA_TEST_SIM="+fam, "CAPTURA_TEST_LINK="+link)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(link); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			ctx := ctxT(t, time.Minute)
			r, err := openWithRetry(ctx, link)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c0, w0 := cpuTime(), time.Now()
			err = r.WaitFinger(wctx)
			cpu, wall := cpuTime()-c0, time.Since(w0)
			if err != context.DeadlineExceeded {
				t.Fatalf("WaitFinger = %v, want the deadline", err)
			}
			t.Logf("%s: %.3f CPU seconds over a %.1f s idle WaitFinger (%.2f%% of one core)", r, cpu.Seconds(), wall.Seconds(), 100*cpu.Seconds()/wall.Seconds())
			if cpu > time.Second {
				t.Errorf("idle WaitFinger used %v of CPU in %v", cpu, wall)
			}
		})
	}
}
