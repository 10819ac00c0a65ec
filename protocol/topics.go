package protocol

import (
	"fmt"
	"strings"
)

// Topics live under captura/v1/<centre>/<station>/. Every segment a party can choose is
// an id of [a-z0-9-], so no MQTT wildcard or separator can be injected.
//
//	status                      retained Status (birth), Last Will = offline   station →
//	records                     signed Records, QoS 1                           station →
//	receipts                    signed Receipts, QoS 1                          gateway →
//	events                      signed Progress events                          station →
//	audit                       signed Audit entries, QoS 1                     station →
//	telemetry                   signed Telemetry                                station →
//	cmd/<type>/<id>             retained signed Command                         tablet →
//	cmd/<type>/<id>/state       retained signed CommandState                    station →
//	update/<job>/...            update jobs and chunks (see the update package)
//	pair/...                    pairing exchange (see the pairing package)
const Root = "captura/v1"

// Topic kinds.
const (
	TopicStatus    = "status"
	TopicRecords   = "records"
	TopicReceipts  = "receipts"
	TopicEvents    = "events"
	TopicAudit     = "audit"
	TopicTelemetry = "telemetry"
	TopicCmd       = "cmd"
	TopicCmdState  = "cmd-state" // cmd/<type>/<id>/state
	TopicUpdate    = "update"
	TopicPair      = "pair"
)

// Topic is a parsed Captura topic.
type Topic struct {
	Centre  string
	Station string
	Kind    string   // one of the Topic* kinds
	Rest    []string // segments after the kind (cmd: type and id; update/pair: free ids)
}

// StationTopic builds captura/v1/<centre>/<station>/<kind>[/rest...]. It panics on an
// invalid id: ids are validated when configuration is loaded, so this is a bug.
func StationTopic(centre, station, kind string, rest ...string) string {
	for _, s := range append([]string{centre, station, kind}, rest...) {
		if !ValidID(s) {
			panic(fmt.Sprintf("protocol: invalid topic segment %q", s))
		}
	}
	return strings.Join(append([]string{Root, centre, station, kind}, rest...), "/")
}

// CommandTopic is the topic a tablet publishes a command to.
func CommandTopic(centre, station, cmdType string, id ID) string {
	return StationTopic(centre, station, TopicCmd, cmdType, id.String())
}

// CommandStateTopic is the topic the station publishes a command's state to.
func CommandStateTopic(centre, station, cmdType string, id ID) string {
	return StationTopic(centre, station, TopicCmd, cmdType, id.String(), "state")
}

// Filter builds a subscription filter for one station's kind; centre or station may be
// "+" to match all.
func Filter(centre, station, kind string, rest ...string) string {
	for _, s := range []string{centre, station} {
		if s != "+" && !ValidID(s) {
			panic(fmt.Sprintf("protocol: invalid filter segment %q", s))
		}
	}
	return strings.Join(append([]string{Root, centre, station, kind}, rest...), "/")
}

// ParseTopic parses and validates a Captura topic.
func ParseTopic(topic string) (Topic, error) {
	parts := strings.Split(topic, "/")
	if len(parts) < 5 || parts[0]+"/"+parts[1] != Root {
		return Topic{}, fmt.Errorf("protocol: topic %q is not under %s/<centre>/<station>/<kind>", topic, Root)
	}
	for i, p := range parts[2:] {
		if !ValidID(p) {
			return Topic{}, fmt.Errorf("protocol: topic %q: segment %d (%q) is not [a-z0-9-]{1,64}", topic, i+2, p)
		}
	}
	t := Topic{Centre: parts[2], Station: parts[3], Kind: parts[4], Rest: parts[5:]}
	switch t.Kind {
	case TopicStatus, TopicRecords, TopicReceipts, TopicEvents, TopicAudit, TopicTelemetry:
		if len(t.Rest) != 0 {
			return Topic{}, fmt.Errorf("protocol: topic %q: %s takes no further segments", topic, t.Kind)
		}
	case TopicCmd:
		if len(t.Rest) == 3 && t.Rest[2] == "state" {
			t.Kind, t.Rest = TopicCmdState, t.Rest[:2]
		}
		if len(t.Rest) != 2 {
			return Topic{}, fmt.Errorf("protocol: topic %q: want cmd/<type>/<id>[/state]", topic)
		}
		if _, ok := CommandTypes[t.Rest[0]]; !ok {
			return Topic{}, fmt.Errorf("protocol: topic %q: unknown command type %q", topic, t.Rest[0])
		}
		if _, err := ParseID(t.Rest[1]); err != nil {
			return Topic{}, fmt.Errorf("protocol: topic %q: %w", topic, err)
		}
	case TopicUpdate, TopicPair:
	default:
		return Topic{}, fmt.Errorf("protocol: topic %q: unknown kind %q", topic, t.Kind)
	}
	return t, nil
}

// CommandID returns the command id of a cmd or cmd-state topic.
func (t Topic) CommandID() (ID, error) {
	if (t.Kind != TopicCmd && t.Kind != TopicCmdState) || len(t.Rest) < 2 {
		return ID{}, fmt.Errorf("protocol: not a command topic")
	}
	return ParseID(t.Rest[1])
}
