package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExampleDocumentsEveryDefault uncomments every "#key = value" line of example.toml
// and checks that the result equals Default() plus the required keys: the example cannot
// drift from the code.
func TestExampleDocumentsEveryDefault(t *testing.T) {
	uncomment := regexp.MustCompile(`(?m)^#([a-z_]+ = .*)$`)
	text := uncomment.ReplaceAllString(Example, "$1")
	c, err := Parse(text, "/etc/captura", "example.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Station.ID, want.Station.Centre = "st-07", "lisboa-arroios"
	want.AIMA.PublicKey, want.Gateway.PublicKey = "aima.pub", "gateway.pub"
	want.BaseDir, want.FilePath = "/etc/captura", "example.toml"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("example.toml defaults differ from Default():\n got %+v\nwant %+v", c, want)
	}
	// Every key of the struct appears in the example.
	var walk func(prefix string, rt reflect.Type)
	walk = func(prefix string, rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
				walk(tag+".", f.Type)
				continue
			}
			if f.Type.Kind() == reflect.Slice {
				walk(tag+".", f.Type.Elem())
				continue
			}
			if !regexp.MustCompile(`(?m)^#?\s*` + tag + ` = `).MatchString(Example) {
				t.Errorf("key %s%s is not documented in example.toml", prefix, tag)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
}

func TestParseErrorsNameEveryKey(t *testing.T) {
	text := `
[station]
id = "ST 7"
[mqtt]
broker = "http://x"
resend_after = "soon"
inflight = 0
[reader]
bauds = 9600
[capture]
attempts = 0
[capture.thresholds]
thumb = 130
[pad]
face_threshold = 0
finger_frames = 3
[[tablet]]
name = "t1"
[[tablet]]
name = "t1"
public_key = "k"
`
	_, err := Parse(text, "/x", "agent.toml")
	if err == nil {
		t.Fatal("bad config accepted")
	}
	msg := err.Error()
	// The duration error is reported by the decoder with its line; fix it and look at the rest.
	if !strings.Contains(msg, "soon") {
		t.Errorf("duration error not reported: %s", msg)
	}
	text = strings.Replace(text, `resend_after = "soon"`, `resend_after = "10ms"`, 1)
	_, err = Parse(text, "/x", "agent.toml")
	msg = err.Error()
	for _, want := range []string{
		"reader.bauds: unknown key", `station.id: "ST 7" must be`, "station.centre:", "aima.public_key: required",
		"gateway.public_key: required", `mqtt.broker: "http://x"`, "mqtt.resend_after: 10ms is below", "mqtt.inflight: 0",
		"capture.attempts: 0", "capture.thresholds.thumb: 130", "pad.face_threshold: 0", "pad.finger_frames: 3", "tablet[0].public_key: required",
		`tablet[1].name: "t1" appears twice`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing error %q in:\n%s", want, msg)
		}
	}
	if n := len(err.(Errors)); n < 13 {
		t.Errorf("%d errors reported, want every problem at once", n)
	}
}

func TestSizesAndDurations(t *testing.T) {
	for in, want := range map[string]Size{"512MiB": 512 << 20, "2GB": 2e9, "1024": 1024, "16 MiB": 16 << 20} {
		var s Size
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	var s Size
	if err := s.UnmarshalText([]byte("lots")); err == nil {
		t.Error("size 'lots' accepted")
	}
	var d Duration
	if err := d.UnmarshalText([]byte("90s")); err != nil || d.D() != 90*time.Second {
		t.Errorf("duration: %v %v", d, err)
	}
}

func TestPaths(t *testing.T) {
	c := Default()
	c.BaseDir = "/etc/captura"
	if got := c.Path("aima.pub"); got != "/etc/captura/aima.pub" {
		t.Errorf("relative path = %s", got)
	}
	if got := c.StationKeyPath(); got != "/var/lib/captura/station.key" {
		t.Errorf("station key = %s", got)
	}
}

// TestDecodeErrorSaysItStopped: the TOML decoder stops at its first error; the message
// says so, so that it is not taken for the only problem.
func TestDecodeErrorSaysItStopped(t *testing.T) {
	_, err := Parse("[mqtt]\nkeepalive = \"5x\"\n[station]\nid = \"BAD\"\n", "/etc/captura", "agent.toml")
	if err == nil || !strings.Contains(err.Error(), "agent.toml:2:") || !strings.Contains(err.Error(), "read no further") {
		t.Fatalf("err = %v", err)
	}
}
