package broker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:1883", "example.org:1883"} {
		_, err := Start(context.Background(), addr, nil)
		if !errors.Is(err, ErrNotLoopback) || !strings.HasPrefix(err.Error(), "broker: listen address") {
			t.Errorf("%s: %v, want a not-loopback error", addr, err)
		}
	}
	if _, err := Start(context.Background(), "127.0.0.1", nil); err == nil || !strings.Contains(err.Error(), "missing port") {
		t.Errorf("no port: %v", err)
	}
}

func TestStartClose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b, err := Start(ctx, "localhost:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || b.URL() != "tcp://"+b.Addr() || b.String() != "broker(tcp://"+b.Addr()+")" {
		t.Fatalf("addr %s url %s", b.Addr(), b.URL())
	}
	c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Two brokers cannot share a port.
	if _, err := Start(context.Background(), b.Addr(), nil); err == nil {
		t.Fatal("second broker on the same port")
	}
	cancel() // ctx done closes the broker
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening after the context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
