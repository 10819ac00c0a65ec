package r30x_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/captura-claim/captura/drivers/fingerprint/r30x"
	"github.com/captura-claim/captura/drivers/fingerprint/r30xsim"
)

// BenchmarkUpload measures a full-frame UpImage (R307: 256×288 at 4 bits, 288 packets of
// 128 bytes, 40,032 bytes on the wire) at the simulator's faithful line rate, against the
// line-rate bound (wire bytes × 10 bit times / baud).
func BenchmarkUpload(b *testing.B) {
	for _, baud := range []int{57600, 115200} {
		b.Run(fmt.Sprintf("R307/%d", baud), func(b *testing.B) {
			s, err := r30xsim.Start(r30xsim.Config{Model: "R307", Baud: baud, Images: images})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			d, err := r30x.Open(ctx, s.Path(), baud, &r30x.Opts{TargetBaud: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			if err := d.WaitFinger(ctx); err != nil { // leaves an image in the buffer
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

// BenchmarkCaptureFactory is what a station sees with a factory R307 (57600 baud) and the
// default options: the driver upgrades the module to 115200 at open, then GenImg and
// UpImage. Compare s/capture with BenchmarkUpload/R307/57600.
func BenchmarkCaptureFactory(b *testing.B) {
	s, err := r30xsim.Start(r30xsim.Config{Model: "R307", Images: images})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d, err := r30x.Open(ctx, s.Path(), 57600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var upload time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.WaitFinger(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Capture(ctx); err != nil {
			b.Fatal(err)
		}
		upload += d.LastTransfer().Elapsed
		b.StopTimer()
		if err := d.WaitLift(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(d.Info().Baud), "baud")
	b.ReportMetric(upload.Seconds()/float64(b.N), "upload_s")
}
