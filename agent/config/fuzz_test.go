package config

import (
	"errors"
	"testing"
)

// FuzzParse: a configuration file is outside input (a maintainer's edit, a bad copy); it
// parses or fails with problems that each say something, and never panics.
func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add("[station]\nid = \"st-1\"\ncentre = \"c1\"\n")
	f.Add("[outbox]\nmax_bytes = \"12x\"\nmax_age = \"-5h\"\n")
	f.Add("[[tablet]]\nname = \"\"\n[mqtt]\nkeepalive = 5\n")
	f.Add("= = =")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text, "/etc/captura", "fuzz.toml")
		if err != nil {
			var errs Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					if e == nil || e.Error() == "" {
						t.Fatalf("an empty problem in %v", errs)
					}
				}
			}
			return
		}
		if c == nil || c.Station.ID == "" {
			t.Fatalf("accepted without a station id: %+v", c)
		}
	})
}
