package gt521_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/gt521"
	"github.com/captura-claim/captura/drivers/fingerprint/gt521sim"
	"github.com/captura-claim/captura/drivers/fingerprint/uart"
)

// BenchmarkUpload measures one GetImage (202×258 at 8 bits in one data packet, 52,122
// bytes) at the faithful line rate against the line-rate bound. It uses VerifyChecksum so
// that one transfer is timed; the default policy sends the image twice (see doc.go).
func BenchmarkUpload(b *testing.B) {
	for _, baud := range []int{57600, 115200} {
		b.Run(fmt.Sprintf("GT-521F52/%d", baud), func(b *testing.B) {
			s, err := gt521sim.Start(gt521sim.Config{Baud: baud, Images: images})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			d, err := gt521.Open(ctx, s.Path(), baud, &gt521.Opts{TargetBaud: -1, Verify: uart.VerifyChecksum})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if err := d.WaitFinger(ctx); err != nil { // captures once
				b.Fatal(err)
			}
			var total, bound time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := d.UploadImage(ctx); err != nil {
					b.Fatal(err)
				}
				tr := d.LastTransfer()
				total += tr.Elapsed
				bound += tr.Bound()
				b.SetBytes(int64(tr.BoundBytes))
			}
			b.ReportMetric(100*float64(bound)/float64(total), "efficiency_%")
			b.ReportMetric(total.Seconds()/float64(b.N), "s/upload")
			b.ReportMetric(bound.Seconds()/float64(b.N), "bound_s")
		})
	}
}
