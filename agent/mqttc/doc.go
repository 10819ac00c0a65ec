// Package mqttc is the small MQTT 3.1.1 client layer shared by every Captura component
// that talks to a broker: the station uplink, the reference gateway, the technician
// client and maintainer tools. It wraps github.com/eclipse/paho.mqtt.golang and adds
// what each of them would otherwise write again:
//
//   - Options filled from configuration: broker URLs (tcp://, mqtt://, ssl://, tls://,
//     mqtts://), client id, credentials, TLS with a pinned CA and a client certificate,
//     persistent session, Last Will, keep-alive and connect timeout.
//   - Its own reconnect loop with capped exponential backoff and jitter. One attempt
//     (dial1) is split from the loop (Run), as gokrazy does, so both are testable. Each
//     connection is a fresh paho client, so the Last Will can change between
//     connections (WillFunc: a station's will carries its birth number) and no state of
//     a dead connection leaks into the next.
//   - Subscriptions that survive reconnects: they are registered before CONNECT (a
//     persistent session may deliver queued messages right after CONNACK) and renewed
//     on every connection, then OnConnect runs (publish the birth message, ...).
//   - Publish and Subscribe that wait for the broker's acknowledgement under a context
//     and fail, rather than hang, when the connection carrying them is lost.
//   - Manual acknowledgement (Options.ManualAck): a QoS 1 message is PUBACKed only when
//     the handler's owner calls Message.Ack, so a receiver that must store a message
//     durably before the broker forgets it (the gateway) can do so.
//
// Delivery: handlers run one at a time, in arrival order, on the connection's delivery
// goroutine. A handler must be short; it must not wait for a Publish or Subscribe of
// the same client (hand such work to another goroutine).
//
// Errors name the broker. Payloads are never logged: Captura payloads are signed
// records whose sealed bodies hold biometric data.
package mqttc
