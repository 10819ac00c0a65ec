package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/config"
	"github.com/captura-claim/captura/agent/daemon"
	"github.com/captura-claim/captura/drivers/camera"
	"github.com/captura-claim/captura/drivers/camera/camerasim"
)

const childSimCamera = "CAPTURA_TEST_AGENT_SIMCAMERA"

// runWithSimCamera is the child agent with a simulated camera (the RSS benchmark).
func runWithSimCamera(ctx context.Context, cfgPath string) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return daemon.ExitConfig
	}
	log := daemon.NewLogger(cfg.Log, os.Stderr)
	err = daemon.Run(ctx, cfg, log, daemon.Hooks{
		Camera: func() (camera.Camera, error) { return camerasim.New(&camerasim.Opts{Seed: 3}) },
		Ready:  func() { log.Info("ready") },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return daemon.ExitFailed
	}
	return 0
}

// procStatus reads a field (in kB) of /proc/PID/status.
func procStatus(pid int, field string) (float64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// BenchmarkAgentRSS measures the agent process's memory from /proc: the resident set
// when idle (connected, reader open, no session), and the peak (VmHWM) over ten-finger
// and face sessions. Goals: idle <= 25 MB, peak <= 80 MB.
func BenchmarkAgentRSS(b *testing.B) {
	br := brokertest.Embedded(b)
	e := newEnv(b, br.URL(), "[camera]\nenabled = true\nwidth = 1280\nheight = 720\n")
	os.Setenv(childSimCamera, "1")
	defer os.Unsetenv(childSimCamera)
	c := startChildB(b, e.cfgPath)
	defer c.kill9()
	time.Sleep(3 * time.Second) // settle after start-up
	pid := c.cmd.Process.Pid
	idle, err := procStatus(pid, "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		n++
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		_, err := e.tab.Capture(ctx, fmt.Sprintf("AIMA-RSS-%d", n), nil, true, nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	peak, err := procStatus(pid, "VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(idle/1024, "idle-RSS-MB")
	b.ReportMetric(peak/1024, "peak-RSS-MB")
}

func startChildB(b *testing.B, cfg string) *child {
	c := startChild(b, cfg)
	c.waitReady(b)
	return c
}
