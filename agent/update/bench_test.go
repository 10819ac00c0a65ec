package update_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captura-claim/captura/agent/brokertest"
	"github.com/captura-claim/captura/agent/mqttc"
	"github.com/captura-claim/captura/agent/update"
	"github.com/captura-claim/captura/agent/update/rollout"
)

const benchPayload = 15 << 20

// BenchmarkTransfer15MB compares an update download with the broker's raw rate, both
// over loopback mosquitto and both measured until the receiver holds every byte:
//
//	bundle:         captura-fw's rollout serves a 15 MiB bundle to a station's update
//	                client, which requests chunks (window of 32), checks each chunk's
//	                signed SHA-256, writes it, and fsyncs the download (every second,
//	                every 64 chunks, and at the end); timed from the job announcement
//	                until the last chunk is durable.
//	mosquitto_pub:  mosquitto_pub -q 1 -f publishes the same bytes as one message; timed
//	                from starting mosquitto_pub until a subscriber has the message.
//
// The two alternate within each iteration, so both meet the same load on a shared
// machine; the medians are reported (MB/s of each, and the bundle's rate as a
// percentage of mosquitto_pub's). The goal is 80% or more.
func BenchmarkTransfer15MB(b *testing.B) {
	bin, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		if os.Getenv(brokertest.RequireEnv) == "1" {
			b.Fatal("mosquitto_pub is not installed (apt-get install mosquitto-clients)")
		}
		b.Skip("mosquitto_pub is not installed (apt-get install mosquitto-clients)")
	}
	br := brokertest.Mosquitto(b)
	path, _ := makeBundle(b, bundleSpec{version: "1.1.0", size: benchPayload, chunk: 256 << 10})
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	same := filepath.Join(b.TempDir(), "same-bytes")
	os.WriteFile(same, raw, 0o644)
	size := float64(len(raw))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pmq := connect(b, ctx, br.URL(), "bench-pusher")
	sub := connect(b, ctx, br.URL(), "bench-sub")
	got := make(chan int, 1)
	if err := sub.Subscribe(ctx, "bench/raw", 1, func(m *mqttc.Message) { got <- len(m.Payload) }); err != nil {
		b.Fatal(err)
	}
	var downloaded atomic.Int64
	update.SetCrashHook(func(p string) {
		if p == "downloaded" {
			downloaded.Store(time.Now().UnixNano())
		}
	})
	defer update.SetCrashHook(nil)

	// mosquitto_pub: from its start until the subscriber has the whole message.
	rawRun := func() time.Duration {
		start := time.Now()
		cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(br.Port()), "-q", "1", "-t", "bench/raw", "-f", same)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
		select {
		case n := <-got:
			if n != len(raw) {
				b.Fatalf("received %d of %d bytes", n, len(raw))
			}
		case <-time.After(60 * time.Second):
			b.Fatal("message not received")
		}
		return time.Since(start)
	}
	// The bundle: from the job announcement until the last chunk is durable; and until
	// the switch (verification and installation included).
	bundleRun := func(i int) (time.Duration, time.Duration) {
		name := "bench-" + strconv.Itoa(i)
		st := newStation(b, name, "1.0.0")
		if os.Getenv("UPDATE_TEST_DEBUG") == "" {
			st.cfg.Log = nil
		}
		smq := connect(b, ctx, br.URL(), "bench-station-"+strconv.Itoa(i))
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		downloaded.Store(0)
		// The rollout checks the bundle's hashes before it starts: not part of the transfer.
		r, err := rollout.New(pmq, path, rollout.Options{Centre: centre, Stations: []string{name}})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		start := time.Now()
		go r.Run(rctx)
		_, errc := st.run(b, rctx, smq, nil)
		if err := <-errc; !errors.Is(err, update.ErrRestart) {
			b.Fatalf("client: %v", err)
		}
		end := time.Now()
		if downloaded.Load() == 0 {
			b.Fatal("download end not seen")
		}
		return time.Duration(downloaded.Load() - start.UnixNano()), end.Sub(start)
	}
	// Alternate the two, so that both see the same load on a shared machine, and
	// compare medians.
	var rawT, bunT, switchT []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawT = append(rawT, rawRun().Seconds())
		d, w := bundleRun(i)
		bunT = append(bunT, d.Seconds())
		switchT = append(switchT, w.Seconds())
	}
	b.StopTimer()
	rawMB, bunMB := size/1e6/median(rawT), size/1e6/median(bunT)
	b.ReportMetric(median(bunT)*1e9, "ns/op")
	b.ReportMetric(bunMB, "bundle-MB/s")
	b.ReportMetric(rawMB, "mosquitto_pub-MB/s")
	b.ReportMetric(100*bunMB/rawMB, "%-of-mosquitto_pub")
	b.ReportMetric(median(switchT)*1e3, "ms-to-switch")
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
