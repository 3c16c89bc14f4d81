//! The session state machine: its state, its construction, getters and outputs. See the crate
//! documentation for the contract.
//!
//! The inputs and commands live by concern in the submodules: [`connection`] (attempts,
//! handshake, losing a connection, ending the session), [`receive`] (framing and matching
//! replies), [`outbox`] (submission and xids), [`watching`] (watch registrations and the 3.8
//! server's watch-table rules) and [`timers`] (timeouts, liveness, expiry and deadlines).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_proto::{
    write_connect_request, write_request, AuthPacket, ConnectRequest, ConnectResponse, Decode,
    ErrorCode, EventType, FrameDecoder, FrameError, OpCode, RawReply, Reader, ReplyHeader, Request,
    Response, SessionId, WatcherEvent, WatcherType, WatchesRequest, Xid, Zxid, EMPTY_PASSWORD,
};

use crate::config::{Config, ConfigError};
use crate::error::CommonError;
use crate::event::{
    Completion, ConnectionId, DisconnectReason, Event, HostFailure, ProbeId, RequestId, SessionEnd,
    SessionState, WatchNotice,
};
use crate::hosts::{HostAddr, HostList};
use crate::ops::{AfterReply, Operation, Paths, Prepared};
use crate::path::Chroot;
use crate::probe::Answer;
use crate::rng::Rng;
use crate::stats::SessionStats;
use crate::timer::{Timer, TimerTable};
use crate::watches::{WatchId, WatchKind, WatchRegistry};

mod connection;
mod outbox;
mod receive;
mod sasl;
mod timers;
mod watching;

/// What the driver must do for the session, polled with [`Session::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open a transport to `host` (resolving its name now, trying each address), then report
    /// [`Session::handle_connected`] or [`Session::handle_closed`] with `conn`.
    Connect {
        /// The attempt; tag every later input about this transport with it.
        conn: ConnectionId,
        /// The server to reach.
        host: HostAddr,
    },
    /// Close the transport of `conn` (if it is still open) and drop any bytes still unsent.
    Disconnect {
        /// The attempt to close.
        conn: ConnectionId,
    },
    /// Ask `host` whether it serves reads and writes: connect, send [`crate::probe::REQUEST`]
    /// (`isro`), read [`crate::probe::ANSWER_LEN`] bytes of answer (`rw` or `ro`), close; then
    /// report [`Session::handle_probe_result`] with the [`crate::probe::Answer`] it parsed
    /// (`Unknown` when the connection or the exchange failed). Probes look for a read-write
    /// server while connected read-only, and ask a server that closed a handshake whether it
    /// is read-only (refusing a client that does not allow read-only sessions).
    Probe {
        /// The probe.
        probe: ProbeId,
        /// The server to ask.
        host: HostAddr,
    },
}

/// Where the current connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No transport: waiting for the back-off timer (or terminal).
    Idle,
    /// The driver is opening a transport.
    Connecting(ConnectionId),
    /// The ConnectRequest is out; nothing else may be written until the response.
    Handshaking(ConnectionId),
    /// Requests flow.
    Ready(ConnectionId),
}

impl Phase {
    fn connection(self) -> Option<ConnectionId> {
        match self {
            Phase::Idle => None,
            Phase::Connecting(c) | Phase::Handshaking(c) | Phase::Ready(c) => Some(c),
        }
    }
}

/// A request written to the current connection and not answered yet.
#[derive(Debug)]
struct InFlight {
    xid: Xid,
    op: OpCode,
    /// `None` for the session's own requests (SetWatches, closeSession, watch removal).
    id: Option<RequestId>,
    after: AfterReply,
    /// When the call completed with [`CommonError::RequestTimeout`], if it did: its reply is
    /// read and discarded, and a server that has not sent it a read timeout later is taken
    /// for stuck.
    timed_out: Option<Instant>,
    /// Nobody will receive the watch this request sets ([`Session::forget_watch`] came before
    /// the reply): it is forgotten as soon as the reply registers it.
    watch_unwanted: bool,
}

/// A request encoded in the outbox, waiting for a ready connection.
#[derive(Debug)]
struct Queued {
    request: InFlight,
    frame_len: usize,
    deadline: Instant,
}

/// A credential presented on every connection, and the `add_auth` calls waiting for its reply.
#[derive(Debug)]
struct Credential {
    scheme: String,
    auth: Bytes,
    waiting: Vec<RequestId>,
    /// Whether it was ever sent to a server (an `add_auth` that timed out before that is
    /// withdrawn, never sent).
    presented: bool,
}

/// The most path bytes one SetWatches request carries (the Java client's limit).
const SET_WATCHES_BATCH_BYTES: usize = 128 * 1024;
/// The bytes of a SetWatches2 frame that are not path bytes (each path is counted with its own
/// length prefix): request header, relative zxid and five list counts.
const SET_WATCHES_OVERHEAD: usize = 8 + 8 + 5 * 4;
/// The smallest step by which the receive buffer grows.
const RECV_CHUNK: usize = 64 * 1024;
/// The longest the client lets the connection idle before a ping, whatever the timeout.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(10);

/// A ZooKeeper session, without I/O. See the [crate documentation](crate) for the contract.
#[derive(Debug)]
pub struct Session {
    config: Config,
    rng: Rng,
    hosts: HostList,
    state: SessionState,
    phase: Phase,
    /// Why the session ended, once it has.
    end: Option<SessionEnd>,

    // Identity of the session.
    session_id: SessionId,
    password: Bytes,
    /// Whether a read-write server has ever accepted the session (a session created read-only
    /// has a fake id that must not be presented to a read-write server).
    seen_read_write_server: bool,
    /// The session id sent in the current handshake.
    handshake_session_id: SessionId,
    negotiated_timeout: Option<Duration>,
    last_zxid_seen: Zxid,

    // Counters.
    next_xid: i32,
    next_request_id: u64,
    next_connection_id: u64,
    next_probe_id: u64,

    // Outputs.
    timers: TimerTable,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,

    // Wire state of the current connection.
    frames: FrameDecoder,
    recv: BytesMut,
    /// Bytes of an oversized reply still to discard.
    skipping: usize,
    /// Frames for the current connection that go before the outbox (handshake, auth, watches,
    /// pings).
    control: BytesMut,
    /// Encoded requests waiting for a ready connection, in submission order.
    outbox: BytesMut,
    queued: VecDeque<Queued>,
    in_flight: VecDeque<InFlight>,
    /// Auth packets sent on this connection, with the `add_auth` calls each one completes.
    auth_in_flight: VecDeque<(String, Vec<RequestId>)>,
    credentials: Vec<Credential>,
    /// The SASL exchange under way on this connection: nothing else is sent meanwhile.
    sasl: Option<sasl::SaslRun>,
    /// User requests submitted and not completed yet.
    outstanding: usize,
    /// Path buffers of encoded requests, reused by the next ones.
    spare_paths: Vec<String>,

    watches: WatchRegistry,

    // Liveness.
    /// When the last complete frame arrived (the read timeout counts from it: bytes that never
    /// make a frame prove nothing).
    last_frame: Instant,
    /// When a server last confirmed the session: a handshake completed or a request (ping
    /// included) was answered. Client-side expiry counts from it.
    last_confirmed: Instant,
    /// When the current connection became ready; a connection lost sooner than a read timeout
    /// after it does not reset the reconnect back-off.
    ready_since: Option<Instant>,
    /// Why the last connection to each host failed, since the last established one.
    host_failures: Vec<HostFailure>,
    /// Why the most recent connection ended, and the index of its host.
    last_disconnect: Option<DisconnectReason>,
    last_disconnect_host: Option<usize>,
    /// Counters of what the session did.
    stats: SessionStats,
    /// Deadlines of calls submitted with one, earliest first (entries of calls that completed
    /// meanwhile are skipped when they come up).
    call_deadlines: BinaryHeap<Reverse<(Instant, RequestId)>>,
    read_only_probe_delay: Duration,
    /// The probe under way and the index of the host it asks.
    probe: Option<(ProbeId, usize)>,
    /// The probe asking a server that closed a handshake whether it is read-only, and the
    /// index of that host.
    refusal_probe: Option<(ProbeId, usize)>,
    probe_cursor: usize,

    // Logging.
    /// The session's `tracing` span (`zk_session`, with its id once known): the parent of the
    /// connections' spans and of the events about the session as a whole.
    span: tracing::Span,
    /// The current connection attempt's span (`zk_connection`: its number, host and the
    /// address reached), the parent of the events about that connection and its requests.
    connection_span: tracing::Span,
}

impl Session {
    /// A session that starts connecting at once: the first [`Action::Connect`] is ready to poll.
    pub fn new(config: Config, now: Instant) -> Result<Session, ConfigError> {
        config.validate()?;
        let mut rng = Rng::new(config.seed);
        let hosts = HostList::new(config.hosts.clone(), &mut rng);
        let (session_id, password, seen_rw) = match &config.resume {
            Some((id, password)) => (*id, password.clone(), true),
            None => (SessionId::NONE, Bytes::from_static(&EMPTY_PASSWORD), false),
        };
        let credentials = config
            .auth
            .iter()
            .map(|(scheme, auth)| Credential {
                scheme: scheme.clone(),
                auth: auth.clone(),
                waiting: Vec::new(),
                presented: false,
            })
            .collect();
        let mut session = Session {
            frames: FrameDecoder::new(config.max_frame_len),
            read_only_probe_delay: config.read_only_probe.0,
            rng,
            hosts,
            state: SessionState::Connecting,
            phase: Phase::Idle,
            end: None,
            session_id,
            password,
            seen_read_write_server: seen_rw,
            handshake_session_id: SessionId::NONE,
            negotiated_timeout: None,
            last_zxid_seen: Zxid(0),
            next_xid: 1,
            next_request_id: 1,
            next_connection_id: 1,
            next_probe_id: 1,
            timers: TimerTable::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            recv: BytesMut::new(),
            skipping: 0,
            control: BytesMut::new(),
            outbox: BytesMut::new(),
            queued: VecDeque::new(),
            in_flight: VecDeque::new(),
            auth_in_flight: VecDeque::new(),
            credentials,
            sasl: None,
            outstanding: 0,
            spare_paths: Vec::new(),
            watches: WatchRegistry::default(),
            last_frame: now,
            last_confirmed: now,
            ready_since: None,
            host_failures: Vec::new(),
            last_disconnect: None,
            last_disconnect_host: None,
            stats: SessionStats::default(),
            call_deadlines: BinaryHeap::new(),
            probe: None,
            refusal_probe: None,
            probe_cursor: 0,
            // WARN, the level of the least verbose events logged: the spans are there under
            // every filter that lets any of the session's events through.
            span: tracing::span!(
                tracing::Level::WARN,
                "zk_session",
                session_id = tracing::field::Empty
            ),
            connection_span: tracing::Span::none(),
            config,
        };
        if session.session_id != SessionId::NONE {
            session
                .span
                .record("session_id", tracing::field::display(session.session_id));
        }
        if session.config.client_side_expiry && session.config.resume.is_some() {
            // A resumed session may already be near its end: count from now.
            session
                .timers
                .set(Timer::ClientExpiry, now + session.expiry_timeout());
        }
        session.start_attempt(now);
        Ok(session)
    }

    // ----------------------------------------------------------------------------------------
    // Getters
    // ----------------------------------------------------------------------------------------

    /// The session's state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The session id (0 until the first handshake).
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// Why the session ended, once it has: which expiry, which refused credential, or a close.
    pub fn end_reason(&self) -> Option<&SessionEnd> {
        self.end.as_ref()
    }

    /// The servers the session connects to, in the order it tries them (the connect string's,
    /// shuffled; or the last [`Session::update_hosts`]).
    pub fn hosts(&self) -> &[HostAddr] {
        self.hosts.all()
    }

    /// Why the last connection to each host tried since the session last established one
    /// failed, in the order the hosts were first tried (empty once a handshake succeeds): what
    /// to tell a user whose client cannot connect.
    pub fn host_failures(&self) -> &[HostFailure] {
        &self.host_failures
    }

    /// [`Session::host_failures`], plus the host of the attempt under way (connecting or
    /// waiting for the handshake's answer) as [`DisconnectReason::StillTrying`] when it has no
    /// failure listed yet: what a client that gives up waiting reports.
    pub fn connect_report(&self) -> Vec<HostFailure> {
        let mut report = self.host_failures.clone();
        if let Phase::Connecting(_) | Phase::Handshaking(_) = self.phase {
            let host = self.hosts.get(self.hosts.current_index());
            if !report.iter().any(|f| f.host == *host) {
                report.push(HostFailure {
                    host: host.clone(),
                    reason: DisconnectReason::StillTrying,
                });
            }
        }
        report
    }

    /// Why the most recent connection (or connection attempt) ended, if one has: kept until the
    /// next one ends, so that a `Disconnected` state can be explained.
    pub fn last_disconnect(&self) -> Option<&DisconnectReason> {
        self.last_disconnect.as_ref()
    }

    /// What the session has done since it was created.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            in_flight: self.outstanding,
            ..self.stats.clone()
        }
    }

    /// The session password, to resume the session from another client.
    pub fn session_password(&self) -> &Bytes {
        &self.password
    }

    /// The timeout the server granted, once a handshake has completed.
    pub fn negotiated_timeout(&self) -> Option<Duration> {
        self.negotiated_timeout
    }

    /// How long before `now` a server last confirmed the session (completed a handshake,
    /// answered a request or a ping, sent a watch event). Past the negotiated timeout, the
    /// servers may have expired it: what a lock holder or a leader checks before acting, since
    /// a process that was frozen learns of nothing until its timers run again.
    pub fn unconfirmed_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_confirmed)
    }

    /// The zxid of the last reply to a request (never of a notification or ping).
    pub fn last_zxid_seen(&self) -> Zxid {
        self.last_zxid_seen
    }

    /// Requests submitted and not completed yet, and requests sent whose calls completed with
    /// [`CommonError::RequestTimeout`] but whose replies are still due: what
    /// [`Config::max_in_flight`] bounds.
    pub fn in_flight(&self) -> usize {
        self.outstanding
    }

    /// The server of the current connection or connection attempt, if any.
    pub fn current_host(&self) -> Option<&HostAddr> {
        self.phase
            .connection()
            .map(|_| self.hosts.get(self.hosts.current_index()))
    }

    /// When the current connection attempt (transport and handshake) times out, if one is under
    /// way: a driver whose connect call blocks bounds it by this (see `examples/std_loop.rs`).
    pub fn connect_deadline(&self) -> Option<Instant> {
        self.timers.get(Timer::Connect)
    }

    /// The current connection attempt, if any.
    pub fn connection(&self) -> Option<ConnectionId> {
        self.phase.connection()
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The chroot applied to every path.
    pub fn chroot(&self) -> &Chroot {
        &self.config.chroot
    }

    /// Bytes held in the session's buffers: received and not yet decoded, and waiting to be
    /// sent.
    pub fn buffered_len(&self) -> usize {
        self.recv.len() + self.control.len() + self.outbox.len()
    }

    /// Whether the watch registration `watch` is held (set by a successful request and not yet
    /// fired, removed or ended).
    pub fn has_watch(&self, watch: WatchId) -> bool {
        self.watches.contains(watch)
    }

    /// Number of watch registrations held.
    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    // ----------------------------------------------------------------------------------------
    // Outputs
    // ----------------------------------------------------------------------------------------

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Appends every whole frame ready for the current connection to `buf` and returns how many
    /// bytes were added. Write them in order; a partial write is the driver's to finish.
    pub fn poll_transmit<B: BufMut>(&mut self, now: Instant, buf: &mut B) -> usize {
        let ready = match self.phase {
            Phase::Handshaking(_) => false,
            Phase::Ready(_) => self.sasl.is_none(),
            _ => return 0,
        };
        let mut written = take_frames(&mut self.control, buf);
        if ready && !self.outbox.is_empty() {
            // Behind the control frames, as `promote_outbox` would put them, without copying
            // them there first.
            written += take_frames(&mut self.outbox, buf);
            self.queued_sent();
        }
        if written > 0 && ready {
            self.timers.set(Timer::Ping, now + self.ping_interval());
        }
        self.stats.bytes_sent += written as u64;
        written
    }

    /// Whether [`Session::poll_transmit`] has bytes to give now (so a driver whose writes are
    /// costly to set up can skip them when there is nothing).
    pub fn has_transmit(&self) -> bool {
        match self.phase {
            Phase::Handshaking(_) => !self.control.is_empty(),
            Phase::Ready(_) => {
                !self.control.is_empty() || (self.sasl.is_none() && !self.outbox.is_empty())
            }
            _ => false,
        }
    }

    /// The next deadline at which [`Session::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.is_terminal() {
            return None;
        }
        self.timers.next_deadline()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// Capacity a frame buffer may keep once emptied: steady traffic (up to this much per write)
/// reuses its buffer, while a burst of large requests leaves no lasting heap.
const KEPT_BUFFER_CAPACITY: usize = 1 << 20;

/// Appends every frame of `frames` to `buf` and empties `frames` ([`clear_frames`]). Returns
/// the bytes moved.
fn take_frames<B: BufMut>(frames: &mut BytesMut, buf: &mut B) -> usize {
    let len = frames.len();
    buf.put_slice(frames);
    clear_frames(frames);
    len
}

/// Empties `frames`, releasing its memory if it holds more than [`KEPT_BUFFER_CAPACITY`].
fn clear_frames(frames: &mut BytesMut) {
    if frames.capacity() > KEPT_BUFFER_CAPACITY {
        *frames = BytesMut::new();
    } else {
        frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xids_wrap_from_i32_max_to_one_never_zero_or_negative() {
        let config = Config::new("h:1").expect("valid connect string");
        let mut session = Session::new(config, Instant::now()).expect("valid config");
        session.next_xid = i32::MAX;
        assert_eq!(session.next_xid(), Xid(i32::MAX));
        assert_eq!(session.next_xid(), Xid(1));
        assert_eq!(session.next_xid(), Xid(2));
    }
}
