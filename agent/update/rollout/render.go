package rollout

import (
	"fmt"
	"strings"

	"github.com/captura-claim/captura/agent/update"
)

// Render formats the progress: one line per station, then one for the whole rollout.
// Bars are plain text, so the lines can be redrawn on a terminal or appended to a log.
func Render(s Snapshot, barWidth int) []string {
	if barWidth < 10 {
		barWidth = 10
	}
	nameW := 7
	for _, st := range s.Stations {
		nameW = max(nameW, len(st.Name))
	}
	var lines []string
	var sum float64
	var ok, failed, cancelled, waiting int
	var sent int64
	for _, st := range s.Stations {
		p := st.Progress()
		if st.Finished() {
			p = 1
		}
		sum += p
		sent += st.Sent
		switch {
		case st.State == update.StateSuccessful:
			ok++
		case st.Failed():
			failed++
		case st.State == "cancelled":
			cancelled++
		case st.State == "":
			waiting++
		}
		state := st.State
		if state == "" {
			state = "waiting"
			if s.Aborted {
				state = "not started"
			}
		}
		if st.Reason != "" {
			state += ": " + st.Reason
		}
		lines = append(lines, fmt.Sprintf("%-*s %s %3d%%  %s", nameW, st.Name, bar(st.Progress(), barWidth), int(st.Progress()*100), oneLine(state, 140)))
	}
	total := 0.0
	if n := len(s.Stations); n > 0 {
		total = sum / float64(n)
	}
	summary := fmt.Sprintf("%d/%d updated", ok, len(s.Stations))
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	if cancelled > 0 {
		summary += fmt.Sprintf(", %d cancelled", cancelled)
	}
	if waiting > 0 {
		summary += fmt.Sprintf(", %d not started", waiting)
	}
	if s.Skipped > 0 {
		summary += fmt.Sprintf(", %d left for a later wave", s.Skipped)
	}
	summary += fmt.Sprintf(", %.1f MB sent", float64(sent)/1e6)
	if s.Aborted {
		summary += " — STOPPED: " + s.Reason
	}
	lines = append(lines, fmt.Sprintf("%-*s %s %3d%%  %s", nameW, "overall", bar(total, barWidth), int(total*100), summary))
	return lines
}

func bar(p float64, w int) string {
	p = min(max(p, 0), 1)
	n := int(p * float64(w))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", w-n) + "]"
}
