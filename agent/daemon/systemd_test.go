package daemon_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/daemon"
)

// TestSystemdNotify checks the sd_notify protocol against a unixgram socket standing in
// for systemd: READY=1 once the broker is connected, WATCHDOG=1 pings while the station
// answers (WATCHDOG_USEC set), STOPPING=1 on the way out.
func TestSystemdNotify(t *testing.T) {
	b := brokertest.Embedded(t)
	e := newEnv(t, b.URL(), "")
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "600000") // 0.6 s: pings every 0.2 s
	t.Setenv("WATCHDOG_PID", "")
	os.Unsetenv("WATCHDOG_PID")
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	stop := e.runInProcess(t, daemon.Hooks{})
	want := func(s string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, s) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from the agent", s)
			}
		}
	}
	want("READY=1")
	want("WATCHDOG=1")
	want("WATCHDOG=1")
	stop()
	want("STOPPING=1")
}
