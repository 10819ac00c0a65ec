// Package update is the station side of remote updates: A/B install slots with an
// atomic switch, a launcher that watches a new version on trial and rolls it back by
// itself, and the client that fetches a signed bundle (firmware-tools/bundle) over MQTT,
// resumably, and checks it before anything is installed. The maintainer's side (push,
// fleet) is in the rollout subpackage.
//
// # Slots
//
// <update.slots_dir> (default <state_dir>/slots) holds slots a/ and b/, each with the
// files of one bundle (captura-agent, ...), a symlink current → a|b, and state.cbor:
// the committed (known-good) slot, what each slot holds (version, binary hash), the
// anti-rollback floor (the highest committed version), a trial in progress (slot, job,
// starts) and the outcome of the latest job. Every change writes state.cbor atomically
// (temporary file, fsync, rename, directory fsync) and only then makes the current link
// follow (new link under a temporary name, rename over current, directory fsync); so
// after a crash at any instant the state is old or new and the launcher repairs the
// link from it. A slot is written only while neither state nor link names it.
//
// # Launcher and trial
//
// systemd runs the packaged binary (/usr/bin/captura-agent), whose launcher code no
// update replaces. At start (Launch) it repairs the link, and then:
//
//   - no trial: installs the packaged binary into a free slot when no slot is
//     committed, the package is newer (apt upgrade), or the committed binary is
//     damaged; then execs <slots>/<committed>/captura-agent (CAPTURA_UPDATE_SLOT set);
//   - a trial: counts the start (durably); after DefaultMaxStarts starts, or if the
//     trial binary does not match its hash, rolls back; otherwise starts the trial
//     binary as a child (dies with the launcher: PR_SET_PDEATHSIG) and waits. The
//     child must reach READY, connect to the broker, publish its state (a broker round
//     trip) and pass its self-test within update.health_deadline; then it commits
//     (state: committed slot, floor, outcome — one atomic write) and tells the launcher
//     over a pipe. If the child exits, reports a failure, or the deadline passes first,
//     the launcher kills it (SIGTERM, then SIGKILL), rolls back (state first, then the
//     link) and execs the committed slot; the old version reports "rolled-back" with
//     the reason. A stop from systemd during a trial is not a failure: the start is
//     counted and the next start decides.
//
// If anything the launcher needs fails (unreadable state, no slot can be written, exec
// fails), the packaged binary runs the agent itself: a broken slot directory never
// stops a station. An unreadable state file is set aside (the floor is lost with it).
//
// # Download and install (Client)
//
// A job (retained on captura/v1/<centre>/<station>/update/job) names a bundle by size
// and header hash and carries its header. The client checks, before fetching any
// payload: the header hash, the signatures (threshold of distinct trusted maintainer
// keys; a bad signature by a trusted key rejects the bundle), product, OS/arch/GOARM,
// version ≥ installed, ≥ the floor, and installed ≥ min_version. Then it asks for
// chunks on update/get (a window of 32 outstanding, in batches) and the rollout answers
// on update/data; each chunk is checked against its signed SHA-256 before it is written
// to <slots>/download/payload at its offset. The file is fsync'd and only then the
// bitmap of held chunks (download/have) is replaced, every second or 64 chunks, so a
// restart or a broker outage resumes with the chunks that were missing. A chunk that
// fails its hash is asked for again; three failures fail the job. Once complete, every
// chunk is read back and every file hash checked (verifying); the client waits until no
// capture session runs, installs into the free slot (files fsync'd, read back and
// hashed), checks again that no session runs, records the trial, switches the link and
// returns ErrRestart: the agent exits with ExitRestart (75) and systemd starts the
// launcher again.
//
// States are published like command states, each transition in order, retained and
// signed by the station key (CTState) on update/state: downloading (with bytes held),
// verifying, installing (with "waiting for the capture session to end" while one runs),
// restarting, successful, failed (reason), rolled-back (reason). Failed and finished
// jobs are recorded in the state file, so a job is never run twice.
//
// Chunk data is sent with QoS 0: a lost chunk costs a request timeout, and QoS 1 would
// add a PUBACK per chunk without making the transfer any safer (the station checks and
// asks again anyway). Requests and states are QoS 1.
package update
