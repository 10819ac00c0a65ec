package debpkg

import (
	"os/exec"
	"sort"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	commit := time.Date(2025, 11, 27, 17, 18, 22, 0, time.UTC)
	tests := []struct {
		in, want string
	}{
		{"v1.2.3", "1.2.3"},
		{"1.2.3", "1.2.3"},
		{"v0.9", "0.9"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-rc1-4-gabc1234", "1.2.3~rc1+4.gabc1234"},
		{"v1.2.3-dirty", "1.2.3.dirty"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"88faf47", "0~git20251127.171822.88faf47"},
		{"88faf47-dirty", "0~git20251127.171822.88faf47.dirty"},
		{"dev", "0~git20251127.171822"},
		{"", "0~git20251127.171822"},
	}
	for _, tt := range tests {
		got, err := DebVersion(tt.in, commit)
		if err != nil || got != tt.want {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"release-one", "v1.2.3_4", "v1..2", "v1.2.3-rc_1"} {
		if got, err := DebVersion(bad, commit); err == nil {
			t.Errorf("DebVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebVersionOrder checks with dpkg that the versions sort the way releases do.
func TestDebVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg not installed")
	}
	early := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	late := early.Add(24 * time.Hour)
	in := []struct {
		v string
		t time.Time
	}{ // in release order
		{"abc1234", early},
		{"def5678", late},
		{"v0.1.0-rc1", late},
		{"v0.1.0-rc1-3-gabc1234", late},
		{"v0.1.0", late},
		{"v0.1.0-2-gabc1234", late},
		{"v0.1.0-10-gabc1234", late},
		{"v0.1.1", late},
		{"v1.0.0", late},
	}
	var vs []string
	for _, x := range in {
		v, err := DebVersion(x.v, x.t)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	sorted := append([]string(nil), vs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return exec.Command("dpkg", "--compare-versions", sorted[i], "lt", sorted[j]).Run() == nil
	})
	for i := range vs {
		if vs[i] != sorted[i] {
			t.Fatalf("dpkg orders %q, want %q", sorted, vs)
		}
	}
}
