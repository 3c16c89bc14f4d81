//! The session state machine. See the crate documentation for the contract.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
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
    Completion, ConnectionId, DisconnectReason, Event, ProbeId, RequestId, SessionEnd,
    SessionState, WatchNotice,
};
use crate::hosts::{HostAddr, HostList};
use crate::ops::{AfterReply, Operation, Paths, Prepared};
use crate::path::Chroot;
use crate::rng::Rng;
use crate::timer::{Timer, TimerTable};
use crate::watches::{WatchId, WatchKind, WatchRegistry};

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
    /// Ask `host` whether it serves reads and writes: connect, send the four-letter word
    /// `isro`, read the answer (`rw` or `ro`), close; then report
    /// [`Session::handle_probe_result`].
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
    /// Deadlines of calls submitted with one, earliest first (entries of calls that completed
    /// meanwhile are skipped when they come up).
    call_deadlines: BinaryHeap<Reverse<(Instant, RequestId)>>,
    read_only_probe_delay: Duration,
    /// The probe under way and the index of the host it asks.
    probe: Option<(ProbeId, usize)>,
    probe_cursor: usize,
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
            outstanding: 0,
            spare_paths: Vec::new(),
            watches: WatchRegistry::default(),
            last_frame: now,
            last_confirmed: now,
            ready_since: None,
            call_deadlines: BinaryHeap::new(),
            probe: None,
            probe_cursor: 0,
            config,
        };
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

    /// The session password, to resume the session from another client.
    pub fn session_password(&self) -> &Bytes {
        &self.password
    }

    /// The timeout the server granted, once a handshake has completed.
    pub fn negotiated_timeout(&self) -> Option<Duration> {
        self.negotiated_timeout
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
    /// way: a blocking driver bounds its connect call by it.
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
    // Inputs
    // ----------------------------------------------------------------------------------------

    /// The transport of `conn` is open: the handshake starts.
    pub fn handle_connected(&mut self, conn: ConnectionId, now: Instant) {
        if self.phase.connection() == Some(conn) && self.phase != Phase::Connecting(conn) {
            // Reported twice: the transport is already in use.
            return;
        }
        if self.phase != Phase::Connecting(conn) {
            self.disown(conn);
            return;
        }
        self.phase = Phase::Handshaking(conn);
        self.handshake_session_id = if self.seen_read_write_server {
            self.session_id
        } else {
            SessionId::NONE
        };
        let password = if self.handshake_session_id == SessionId::NONE {
            Bytes::from_static(&EMPTY_PASSWORD)
        } else {
            self.password.clone()
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid_seen,
            timeout_ms: self.config.session_timeout.as_millis() as i32,
            session_id: self.handshake_session_id,
            password,
            read_only: self.config.read_only_allowed,
        };
        self.control.clear();
        write_connect_request(&mut self.control, &request);
        self.recv.clear();
        self.skipping = 0;
        let _ = now;
    }

    /// The transport of `conn` failed to open, failed, or was closed by the peer.
    pub fn handle_closed(&mut self, conn: ConnectionId, now: Instant) {
        if self.phase.connection() == Some(conn) {
            self.connection_lost(DisconnectReason::TransportClosed, now);
        }
    }

    /// Bytes arrived on `conn`.
    pub fn handle_data(&mut self, conn: ConnectionId, data: &[u8], now: Instant) {
        match self.phase {
            Phase::Handshaking(c) | Phase::Ready(c) if c == conn => {}
            _ => return,
        }
        if self.recv.capacity() - self.recv.len() < data.len() {
            // Grow in large steps: replies are sliced out of this buffer without copying, so
            // while the application holds them the old buffer cannot be reused.
            self.recv.reserve(data.len().max(RECV_CHUNK));
        }
        self.recv.extend_from_slice(data);
        self.process_received(conn, now);
    }

    /// Time passed: fire every timer due at `now`. Calling it early or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            if self.state.is_terminal() {
                return;
            }
            if self.timers.take_if_due(timer, now) {
                self.on_timer(timer, now);
            }
        }
    }

    /// The answer of probe `probe`: whether the server serves reads and writes.
    pub fn handle_probe_result(&mut self, probe: ProbeId, read_write: bool, now: Instant) {
        let Some((current, host_index)) = self.probe else {
            return;
        };
        if current != probe {
            return;
        }
        self.probe = None;
        if read_write && self.state == SessionState::ConnectedReadOnly {
            self.hosts.prefer(host_index);
            self.connection_lost(DisconnectReason::ReadWriteServerFound, now);
            // Go straight to the read-write server.
            self.timers.stop(Timer::Backoff);
            self.start_attempt(now);
        } else {
            self.schedule_probe(now);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------------

    /// Submits an operation. Its request goes on the wire in submission order; its completion
    /// arrives as an [`Event::Completed`] with the returned id, exactly once. The call's
    /// deadline is [`Config::call_timeout`] from `now`, if one is set.
    ///
    /// Fails at once (nothing is sent, no completion follows) when the arguments are invalid,
    /// the session is terminal or closing, too many requests are outstanding, or the session is
    /// disconnected and configured not to queue.
    pub fn submit<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        let deadline = self.config.call_timeout.map(|t| now + t);
        self.submit_with_deadline(op, deadline, now)
    }

    /// [`Session::submit`] with a deadline of its own (`None`: no deadline, whatever the
    /// configuration says). A call not completed by `deadline` completes then with
    /// [`CommonError::RequestTimeout`]: one already sent may still be applied (its reply, when
    /// it comes, is read and discarded, and the request counts against
    /// [`Config::max_in_flight`] until then); one still waiting for a connection is dropped and
    /// never sent.
    pub fn submit_with_deadline<O: Operation + ?Sized>(
        &mut self,
        op: &O,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        self.check_accepting()?;
        let mut paths =
            Paths::with_spare(&self.config.chroot, std::mem::take(&mut self.spare_paths));
        let prepared = op.prepare(&mut paths);
        self.spare_paths = paths.into_spare();
        let id = self.submit_prepared(prepared?, now)?;
        if let Some(deadline) = deadline {
            self.compact_call_deadlines();
            self.call_deadlines.push(Reverse((deadline, id)));
            let armed = self.timers.get(Timer::CallDeadline);
            if armed.map_or(true, |armed| deadline < armed) {
                self.timers.set(Timer::CallDeadline, deadline);
            }
        }
        Ok(id)
    }

    /// Closes the session: queued requests are sent, then closeSession; the state becomes
    /// [`SessionState::Closing`] and then [`SessionState::Closed`] when the server confirms,
    /// the connection ends, or the close timeout passes. A session that never had a server
    /// closes at once.
    pub fn close(&mut self, now: Instant) {
        if self.state.is_terminal() || self.is_closing() {
            return;
        }
        if self.session_id == SessionId::NONE && !matches!(self.phase, Phase::Handshaking(_)) {
            self.terminate(SessionEnd::Closed);
            return;
        }
        self.set_state(SessionState::Closing);
        self.timers
            .set(Timer::Close, now + self.config.close_timeout);
        self.enqueue_own(Request::CloseSession, now);
    }

    /// Queues a request of the session's own (no caller waits for it, nothing follows its
    /// reply).
    fn enqueue_own(&mut self, request: Request, now: Instant) {
        self.enqueue(
            Prepared {
                request,
                after: AfterReply::Nothing,
            },
            None,
            now,
        );
    }

    /// Forgets one watch registration (for example because its handle was dropped). When no
    /// other registration needs the server-side watch any more, it is removed from the server
    /// too. No notice is sent to the forgotten registration.
    pub fn forget_watch(&mut self, watch: WatchId, now: Instant) {
        let Some((path, kind, server_type)) = self.watches.remove(watch) else {
            return;
        };
        if let Some(watcher_type) = server_type {
            if self.state.is_terminal() || self.is_closing() {
                return;
            }
            if self.watch_pending_on(&path) {
                // A request not answered yet sets a watch on the same path: removing the
                // server's watch now would silently disarm the one it sets. A one-shot server
                // watch goes by itself when it fires; a persistent one is removed once the
                // registration that request makes is gone too.
                if !kind.is_one_shot() {
                    self.watches.mark_lingering(path);
                }
                return;
            }
            self.enqueue_own(
                Request::RemoveWatches(WatchesRequest { path, watcher_type }),
                now,
            );
        }
    }

    /// Whether a request not answered yet will register a watch on `path`.
    fn watch_pending_on(&self, path: &str) -> bool {
        self.in_flight
            .iter()
            .chain(self.queued.iter().map(|q| &q.request))
            .any(|r| matches!(&r.after, AfterReply::Watch { path: p, .. } if p == path))
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
            Phase::Ready(_) => true,
            _ => return 0,
        };
        if ready {
            self.promote_outbox();
        }
        let written = self.control.len();
        buf.put_slice(&self.control);
        self.control.clear();
        if written > 0 && ready {
            self.timers.set(Timer::Ping, now + self.ping_interval());
        }
        written
    }

    /// Whether [`Session::poll_transmit`] has bytes to give now (so a driver whose writes are
    /// costly to set up can skip them when there is nothing).
    pub fn has_transmit(&self) -> bool {
        match self.phase {
            Phase::Handshaking(_) => !self.control.is_empty(),
            Phase::Ready(_) => !self.control.is_empty() || !self.outbox.is_empty(),
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

    // ----------------------------------------------------------------------------------------
    // Internals: submission
    // ----------------------------------------------------------------------------------------

    /// Moves the queued requests behind the frames already bound for the ready connection:
    /// from now on they are in flight, in submission order.
    fn promote_outbox(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        self.control.extend_from_slice(&self.outbox);
        self.outbox.clear();
        self.in_flight
            .extend(self.queued.drain(..).map(|q| q.request));
        self.timers.stop(Timer::QueueDeadline);
    }

    fn check_accepting(&self) -> Result<(), CommonError> {
        if self.state.is_terminal() {
            return Err(self.state.terminal_error());
        }
        if self.is_closing() {
            return Err(CommonError::Closed);
        }
        Ok(())
    }

    fn submit_prepared(
        &mut self,
        prepared: Prepared,
        now: Instant,
    ) -> Result<RequestId, CommonError> {
        if self.outstanding >= self.config.max_in_flight {
            return Err(CommonError::TooManyRequests {
                max: self.config.max_in_flight,
            });
        }
        let connected = matches!(self.phase, Phase::Ready(_));
        if !connected && !self.config.queue_while_disconnected {
            return Err(CommonError::ConnectionLoss);
        }
        let len = 8 + zk_proto::Encode::encoded_len(&prepared.request);
        if len > self.config.max_frame_len {
            return Err(CommonError::RequestTooLarge {
                len,
                max: self.config.max_frame_len,
            });
        }
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        self.outstanding += 1;
        let mut prepared = prepared;
        self.share_persistent_watch(&mut prepared);
        if let Request::Auth(packet) = prepared.request {
            self.add_credential(packet, id);
        } else {
            self.enqueue(prepared, Some(id), now);
        }
        Ok(id)
    }

    /// A one-shot watch on a path that holds (or is about to hold) a persistent watch sets no
    /// server watch: servers before 3.9 keep one watch mode per path and session
    /// (ZOOKEEPER-4466), so it would turn the persistent watch into a one-shot one. The
    /// persistent watch's events serve the one-shot registration instead.
    ///
    /// Decided at submission; should the persistent watch be gone by the time the reply comes
    /// (it failed, expired while queued, or was removed meanwhile), [`Session::finish`] re-arms
    /// the one-shot with SetWatches from the reply's zxid, so no change is missed.
    fn share_persistent_watch(&self, prepared: &mut Prepared) {
        let AfterReply::Watch {
            path,
            on_ok,
            shared,
            ..
        } = &mut prepared.after
        else {
            return;
        };
        if !on_ok.is_one_shot() {
            return;
        }
        let kind = *on_ok;
        let persistent_pending = self
            .in_flight
            .iter()
            .chain(self.queued.iter().map(|q| &q.request))
            .any(|r| {
                matches!(&r.after, AfterReply::Watch { path: p, on_ok, .. }
                    if p == path && kind.displaces(*on_ok))
            });
        if !persistent_pending && !self.watches.one_shot_would_replace_persistent(path, kind) {
            return;
        }
        match &mut prepared.request {
            Request::GetData(r)
            | Request::Exists(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => {
                r.watch = false;
                *shared = true;
            }
            _ => {}
        }
    }

    /// A removal of a path's data or child watches strips a persistent watch there from one of
    /// the server's two watch tables on 3.8 (ZOOKEEPER-4471): it would then miss those events
    /// for good. Sets every persistent watch of the path again, and tells each one that events
    /// may have been missed in between (on later servers the removal did not touch them, and
    /// setting them again changes nothing).
    fn restore_persistent_watches(&mut self, path: &str, now: Instant) {
        for (watch, kind) in self.watches.persistent_on(path) {
            let mode = match kind {
                WatchKind::PersistentRecursive => zk_proto::AddWatchMode::PersistentRecursive,
                _ => zk_proto::AddWatchMode::Persistent,
            };
            self.enqueue_own(
                Request::AddWatch(zk_proto::AddWatchRequest {
                    path: path.to_owned(),
                    mode,
                }),
                now,
            );
            self.events.push_back(Event::Watch {
                watch,
                notice: WatchNotice::PossiblyMissedEvents,
            });
        }
    }

    /// A one-shot registered without a server watch of its own whose persistent watch is gone:
    /// sets its server watch with SetWatches, relative to the zxid of the reply just read, so
    /// a change since then fires it at once.
    fn rearm_shared_watch(&mut self, path: &str, kind: WatchKind, now: Instant) {
        if self.watches.has_persistent_on(path) {
            return;
        }
        let mut request = zk_proto::SetWatches {
            relative_zxid: self.last_zxid_seen,
            ..Default::default()
        };
        match kind {
            WatchKind::Data => request.data_watches.push(path.to_owned()),
            WatchKind::Exist => request.exist_watches.push(path.to_owned()),
            WatchKind::Child => request.child_watches.push(path.to_owned()),
            _ => return,
        }
        self.enqueue_own(Request::SetWatches(request), now);
    }

    /// Removes the server watches kept for one-shot registrations that are gone, unless a
    /// request not answered yet sets a watch on the same path.
    fn remove_unneeded_watches(&mut self, now: Instant) {
        if self.state.is_terminal() || self.is_closing() {
            return;
        }
        let unneeded: Vec<String> = self
            .watches
            .unneeded_lingering()
            .filter(|p| !self.watch_pending_on(p))
            .cloned()
            .collect();
        for path in unneeded {
            self.watches.forget_lingering(&path);
            self.enqueue_own(
                Request::RemoveWatches(WatchesRequest {
                    path,
                    watcher_type: WatcherType::Any,
                }),
                now,
            );
        }
    }

    fn add_credential(&mut self, packet: AuthPacket, id: RequestId) {
        let index = match self
            .credentials
            .iter()
            .position(|c| c.scheme == packet.scheme && c.auth == packet.auth)
        {
            Some(i) => i,
            None => {
                self.credentials.push(Credential {
                    scheme: packet.scheme.clone(),
                    auth: packet.auth.clone(),
                    waiting: Vec::new(),
                    presented: false,
                });
                self.credentials.len() - 1
            }
        };
        if matches!(self.phase, Phase::Ready(_)) {
            self.credentials[index].presented = true;
            // Behind every request submitted before it: call order is wire order.
            self.promote_outbox();
            let scheme = packet.scheme.clone();
            write_request(&mut self.control, Xid::AUTH, &Request::Auth(packet));
            self.auth_in_flight.push_back((scheme, vec![id]));
        } else {
            self.credentials[index].waiting.push(id);
        }
    }

    fn next_xid(&mut self) -> Xid {
        let xid = self.next_xid;
        self.next_xid = if self.next_xid == i32::MAX {
            1
        } else {
            self.next_xid + 1
        };
        Xid(xid)
    }

    fn enqueue(&mut self, prepared: Prepared, id: Option<RequestId>, now: Instant) {
        let xid = self.next_xid();
        let before = self.outbox.len();
        write_request(&mut self.outbox, xid, &prepared.request);
        let deadline = now + self.queue_timeout();
        if self.queued.is_empty() && !matches!(self.phase, Phase::Ready(_)) {
            self.timers.set(Timer::QueueDeadline, deadline);
        }
        self.queued.push_back(Queued {
            request: InFlight {
                xid,
                op: prepared.request.opcode(),
                id,
                after: prepared.after,
                timed_out: None,
            },
            frame_len: self.outbox.len() - before,
            deadline,
        });
        self.recycle_path(prepared.request);
    }

    /// Keeps the path buffer of an encoded request for the next one.
    fn recycle_path(&mut self, request: Request) {
        const MAX_SPARE: usize = 4;
        if self.spare_paths.len() >= MAX_SPARE {
            return;
        }
        let path = match request {
            Request::GetData(r)
            | Request::Exists(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.path,
            Request::SetData(r) => r.path,
            Request::Delete(r) => r.path,
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.path,
            _ => return,
        };
        self.spare_paths.push(path);
    }

    // ----------------------------------------------------------------------------------------
    // Internals: received bytes
    // ----------------------------------------------------------------------------------------

    fn process_received(&mut self, conn: ConnectionId, now: Instant) {
        loop {
            if self.phase.connection() != Some(conn) || self.state.is_terminal() {
                return;
            }
            if self.skipping > 0 {
                let n = self.skipping.min(self.recv.len());
                self.recv.advance(n);
                self.skipping -= n;
                if self.skipping > 0 {
                    return;
                }
                // The oversized reply is complete.
                self.last_frame = now;
            }
            match self.frames.decode(&mut self.recv) {
                Ok(Some(frame)) => {
                    self.last_frame = now;
                    self.handle_frame(frame, now);
                }
                Ok(None) => return,
                Err(FrameError::TooLarge { len, max }) => {
                    if !self.skip_oversized_reply(len, max, now) {
                        return;
                    }
                }
                Err(e) => {
                    self.protocol_violation(e.to_string(), now);
                    return;
                }
            }
        }
    }

    /// A reply over the frame limit fails the request it answers and is skipped, so the
    /// connection survives and nothing is re-sent in a loop. Returns false when more bytes are
    /// needed to read its header.
    fn skip_oversized_reply(&mut self, len: usize, max: usize, now: Instant) -> bool {
        const PREFIX: usize = 4;
        const HEADER: usize = zk_proto::header::REPLY_HEADER_LEN;
        if !matches!(self.phase, Phase::Ready(_)) || len < HEADER {
            self.protocol_violation(format!("frame of {len} bytes over the limit of {max}"), now);
            return false;
        }
        if self.recv.len() < PREFIX + HEADER {
            return false;
        }
        let header_bytes = Bytes::copy_from_slice(&self.recv[PREFIX..PREFIX + HEADER]);
        let Ok(header) = ReplyHeader::decode(&mut Reader::new(header_bytes)) else {
            self.protocol_violation("unreadable reply header".into(), now);
            return false;
        };
        if header.xid.0 < 0 {
            self.protocol_violation(format!("special frame of {len} bytes over the limit"), now);
            return false;
        }
        let Some(entry) = self.pop_reply_entry(header.xid, now) else {
            return false;
        };
        self.last_confirmed = now;
        self.recv.advance(PREFIX + HEADER);
        self.skipping = len - HEADER;
        self.note_zxid(header.zxid);
        self.finish(entry, Err(CommonError::ReplyTooLarge { len, max }), now);
        true
    }

    fn handle_frame(&mut self, frame: Bytes, now: Instant) {
        match self.phase {
            Phase::Handshaking(_) => self.handle_connect_response(frame, now),
            Phase::Ready(_) => self.handle_reply(frame, now),
            _ => {}
        }
    }

    fn handle_connect_response(&mut self, frame: Bytes, now: Instant) {
        let response = match ConnectResponse::decode(&mut Reader::new(frame)) {
            Ok(r) => r,
            Err(e) => {
                self.protocol_violation(format!("bad ConnectResponse: {e}"), now);
                return;
            }
        };
        if response.protocol_version != 0 {
            // Every server since 3.0 answers version 0; anything else is not a ConnectResponse
            // (a notification or a reply sent before the handshake would otherwise be read as
            // one, its negative fields as an expiry).
            self.protocol_violation(
                format!(
                    "ConnectResponse with protocol version {}",
                    response.protocol_version
                ),
                now,
            );
            return;
        }
        if response.is_expired() {
            self.terminate(SessionEnd::ExpiredByServer);
            return;
        }
        if response.session_id == SessionId::NONE {
            // Id 0 asks for a new session: taking it would make the next reconnect do so.
            self.protocol_violation("ConnectResponse granting session id 0".into(), now);
            return;
        }
        if response.read_only && !self.config.read_only_allowed {
            self.protocol_violation(
                "read-only session granted to a client that does not allow one".into(),
                now,
            );
            return;
        }
        if self.handshake_session_id != SessionId::NONE
            && response.session_id != self.handshake_session_id
        {
            // Never continue silently with a session other than the one asked for.
            self.terminate(SessionEnd::Replaced {
                presented: self.handshake_session_id,
                granted: response.session_id,
            });
            return;
        }
        let Phase::Handshaking(conn) = self.phase else {
            return;
        };
        self.phase = Phase::Ready(conn);
        self.session_id = response.session_id;
        self.password = response.password;
        self.negotiated_timeout = Some(Duration::from_millis(response.timeout_ms as u64));
        if !response.read_only {
            self.seen_read_write_server = true;
        }
        self.ready_since = Some(now);
        self.last_confirmed = now;
        self.timers.stop(Timer::Connect);
        self.timers.stop(Timer::Backoff);
        self.timers.stop(Timer::QueueDeadline);
        self.timers
            .set(Timer::Read, self.last_frame + self.read_timeout());
        self.timers.set(Timer::Ping, now + self.ping_interval());
        if self.config.client_side_expiry {
            self.timers.set(
                Timer::ClientExpiry,
                self.last_confirmed + self.expiry_timeout(),
            );
        }

        // Auth first, then watches, then the queued requests (in poll_transmit).
        for credential in &mut self.credentials {
            credential.presented = true;
            let packet = AuthPacket {
                auth_type: 0,
                scheme: credential.scheme.clone(),
                auth: credential.auth.clone(),
            };
            write_request(&mut self.control, Xid::AUTH, &Request::Auth(packet));
            self.auth_in_flight.push_back((
                credential.scheme.clone(),
                std::mem::take(&mut credential.waiting),
            ));
        }
        // A new connection holds no watch but those re-registered here.
        self.watches.reregistered();
        if !self.watches.is_empty() {
            // Batches also stay within the configured frame limit, which bounds every request
            // the client sends.
            let batch_bytes = SET_WATCHES_BATCH_BYTES.min(
                self.config
                    .max_frame_len
                    .saturating_sub(SET_WATCHES_OVERHEAD),
            );
            let requests = self
                .watches
                .reregistration_requests(self.last_zxid_seen, batch_bytes);
            for request in requests {
                let xid = self.next_xid();
                write_request(&mut self.control, xid, &request);
                self.in_flight.push_back(InFlight {
                    xid,
                    op: request.opcode(),
                    id: None,
                    after: AfterReply::Nothing,
                    timed_out: None,
                });
            }
            for watch in self.watches.persistent_ids() {
                self.events.push_back(Event::Watch {
                    watch,
                    notice: WatchNotice::PossiblyMissedEvents,
                });
            }
        }
        if !self.is_closing() {
            self.set_state(if response.read_only {
                SessionState::ConnectedReadOnly
            } else {
                SessionState::Connected
            });
        }
        // After the state change: probing only runs in ConnectedReadOnly.
        if response.read_only {
            self.read_only_probe_delay = self.config.read_only_probe.0;
            self.schedule_probe(now);
        } else {
            self.timers.stop(Timer::ReadOnlyProbe);
            self.probe = None;
        }
    }

    fn handle_reply(&mut self, frame: Bytes, now: Instant) {
        let reply = match RawReply::parse(frame) {
            Ok(r) => r,
            Err(e) => {
                self.protocol_violation(format!("bad reply header: {e}"), now);
                return;
            }
        };
        match reply.header.xid {
            Xid::NOTIFICATION => self.handle_notification(reply.body, now),
            Xid::PING => self.last_confirmed = now,
            Xid::AUTH => {
                self.last_confirmed = now;
                self.handle_auth_reply(reply.header.err);
            }
            xid => {
                let Some(entry) = self.pop_reply_entry(xid, now) else {
                    return;
                };
                self.last_confirmed = now;
                self.note_zxid(reply.header.zxid);
                let result = match reply.response(entry.op) {
                    Ok(Ok(mut response)) => {
                        self.strip_chroot(&mut response);
                        Ok(response)
                    }
                    Ok(Err(code)) => Err(CommonError::Server(code)),
                    Err(e) => Err(CommonError::MalformedReply(e)),
                };
                let watching = matches!(entry.after, AfterReply::Watch { .. });
                self.finish(entry, result, now);
                if watching {
                    // A watch it was to set may have been the last need of a kept one.
                    self.remove_unneeded_watches(now);
                }
            }
        }
    }

    /// Takes the oldest request in flight, which `xid` must answer; anything else is a protocol
    /// violation that drops the connection.
    fn pop_reply_entry(&mut self, xid: Xid, now: Instant) -> Option<InFlight> {
        match self.in_flight.front() {
            Some(front) if front.xid == xid => self.in_flight.pop_front(),
            Some(front) => {
                let expected = front.xid;
                self.protocol_violation(
                    format!("xid out of order: got {xid}, expected {expected}"),
                    now,
                );
                None
            }
            None => {
                self.protocol_violation(format!("reply with xid {xid} but nothing in flight"), now);
                None
            }
        }
    }

    fn note_zxid(&mut self, zxid: Zxid) {
        if zxid.0 > 0 {
            self.last_zxid_seen = zxid;
        }
    }

    fn finish(&mut self, entry: InFlight, result: Result<Response, CommonError>, now: Instant) {
        match &entry.after {
            AfterReply::Nothing => {}
            AfterReply::Watch {
                path,
                on_ok,
                on_no_node,
                shared,
            } => {
                let kind = match &result {
                    // An addWatch whose reply body carries an error set nothing.
                    Ok(Response::AddWatch(r)) if !r.err.is_ok() => None,
                    Ok(_) => Some(*on_ok),
                    Err(CommonError::Server(ErrorCode::NoNode)) => *on_no_node,
                    Err(_) => None,
                };
                if let (Some(kind), Some(id)) = (kind, entry.id) {
                    self.watches.add(path.clone(), kind, id.watch_id());
                    if *shared {
                        self.rearm_shared_watch(path, kind, now);
                    }
                }
            }
            AfterReply::RemoveWatches { path, watcher_type } => {
                if matches!(
                    result,
                    Ok(_) | Err(CommonError::Server(ErrorCode::NoWatcher))
                ) {
                    let client_path = self.client_path(path);
                    let events = &mut self.events;
                    self.watches
                        .remove_matching(path, *watcher_type, |watch, event_type| {
                            events.push_back(Event::Watch {
                                watch,
                                notice: WatchNotice::Node {
                                    event_type,
                                    path: client_path.clone(),
                                },
                            });
                        });
                    if matches!(watcher_type, WatcherType::Data | WatcherType::Children) {
                        self.restore_persistent_watches(path, now);
                    }
                }
            }
        }
        match entry.id {
            Some(id) if entry.timed_out.is_some() => {
                // Its caller already has RequestTimeout: nobody receives what the reply set.
                self.outstanding = self.outstanding.saturating_sub(1);
                self.forget_watch(id.watch_id(), now);
            }
            Some(id) => self.complete(id, result),
            None => {}
        }
        if entry.op == OpCode::CloseSession {
            self.terminate(SessionEnd::Closed);
        }
    }

    /// A request in flight that will get no reply: its call fails with `error`, unless it
    /// already completed with RequestTimeout.
    fn abandon(&mut self, entry: InFlight, error: CommonError) {
        match entry.id {
            Some(_) if entry.timed_out.is_some() => {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            Some(id) => self.complete(id, Err(error)),
            None => {}
        }
    }

    /// Completes with [`CommonError::RequestTimeout`] every call whose deadline passed.
    fn expire_calls(&mut self, now: Instant) {
        let mut due = Vec::new();
        while let Some(&Reverse((deadline, id))) = self.call_deadlines.peek() {
            if deadline > now {
                self.timers.set(Timer::CallDeadline, deadline);
                break;
            }
            self.call_deadlines.pop();
            due.push(id);
        }
        if due.is_empty() {
            return;
        }
        // Sent: the reply will come and must still be matched; it is discarded then.
        let mut timed_out_in_flight = false;
        for entry in &mut self.in_flight {
            if let Some(id) = entry.id.filter(|id| due.contains(id)) {
                if entry.timed_out.is_none() {
                    entry.timed_out = Some(now);
                    timed_out_in_flight = true;
                    self.events.push_back(Event::Completed(Completion {
                        id,
                        result: Err(CommonError::RequestTimeout),
                    }));
                }
            }
        }
        if timed_out_in_flight {
            // A read timeout from now, the server is taken for stuck if it has not answered.
            let check = now + self.read_timeout();
            if self.timers.get(Timer::Read).is_some_and(|t| check < t) {
                self.timers.set(Timer::Read, check);
            }
        }
        // Not sent yet: they never will be. One pass over the outbox for all of them.
        let is_due = |q: &Queued| q.request.id.is_some_and(|id| due.contains(&id));
        if self.queued.iter().any(is_due) {
            let old = std::mem::take(&mut self.outbox);
            let mut offset = 0;
            let mut dropped = Vec::new();
            let queued = std::mem::take(&mut self.queued);
            for q in queued {
                let frame = &old[offset..offset + q.frame_len];
                offset += q.frame_len;
                match q.request.id.filter(|id| due.contains(id)) {
                    Some(id) => dropped.push(id),
                    None => {
                        self.outbox.extend_from_slice(frame);
                        self.queued.push_back(q);
                    }
                }
            }
            for id in dropped {
                self.complete(id, Err(CommonError::RequestTimeout));
            }
        }
        // add_auth calls waiting for their credential's reply or for a connection.
        for id in due {
            self.time_out_auth(id);
        }
    }

    /// Completes an `add_auth` call `id` with RequestTimeout if it still waits. A credential
    /// that was never presented and that no call waits for any more is withdrawn.
    fn time_out_auth(&mut self, id: RequestId) {
        for (_, list) in self.auth_in_flight.iter_mut() {
            if let Some(index) = list.iter().position(|w| *w == id) {
                list.remove(index);
                self.complete(id, Err(CommonError::RequestTimeout));
                return;
            }
        }
        let Some(index) = self
            .credentials
            .iter()
            .position(|c| c.waiting.contains(&id))
        else {
            return;
        };
        let credential = &mut self.credentials[index];
        credential.waiting.retain(|w| *w != id);
        if !credential.presented && credential.waiting.is_empty() {
            self.credentials.remove(index);
        }
        self.complete(id, Err(CommonError::RequestTimeout));
    }

    /// Drops the deadlines of calls that completed before them, once they outnumber the calls
    /// outstanding, so the deadlines held stay bounded by [`Config::max_in_flight`].
    fn compact_call_deadlines(&mut self) {
        if self.call_deadlines.len() <= 2 * self.outstanding + 64 {
            return;
        }
        let pending: std::collections::HashSet<RequestId> = self
            .in_flight
            .iter()
            .filter(|e| e.timed_out.is_none())
            .filter_map(|e| e.id)
            .chain(self.queued.iter().filter_map(|q| q.request.id))
            .chain(
                self.credentials
                    .iter()
                    .flat_map(|c| c.waiting.iter().copied()),
            )
            .chain(
                self.auth_in_flight
                    .iter()
                    .flat_map(|(_, l)| l.iter().copied()),
            )
            .collect();
        self.call_deadlines
            .retain(|Reverse((_, id))| pending.contains(id));
        match self.call_deadlines.peek() {
            Some(Reverse((deadline, _))) => self.timers.set(Timer::CallDeadline, *deadline),
            None => self.timers.stop(Timer::CallDeadline),
        }
    }

    fn complete(&mut self, id: RequestId, result: Result<Response, CommonError>) {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.events
            .push_back(Event::Completed(Completion { id, result }));
    }

    fn handle_notification(&mut self, body: Bytes, now: Instant) {
        let event = match WatcherEvent::decode(&mut Reader::new(body)) {
            Ok(e) => e,
            Err(e) => {
                self.protocol_violation(format!("bad notification: {e}"), now);
                return;
            }
        };
        // Only a server that holds the session sends its watch events.
        self.last_confirmed = now;
        if event.event_type == EventType::None {
            return;
        }
        let chroot = &self.config.chroot;
        let events = &mut self.events;
        self.watches
            .dispatch(event.event_type, &event.path, |watch, event_type, path| {
                events.push_back(Event::Watch {
                    watch,
                    notice: WatchNotice::Node {
                        event_type,
                        path: chroot.to_client(path).unwrap_or(path).to_owned(),
                    },
                });
            });
        self.remove_unneeded_watches(now);
    }

    fn handle_auth_reply(&mut self, err: ErrorCode) {
        let (scheme, waiting) = self.auth_in_flight.pop_front().unwrap_or_default();
        if err == ErrorCode::AuthFailed {
            for id in waiting {
                self.complete(id, Err(CommonError::AuthFailed));
            }
            self.terminate(SessionEnd::AuthFailed { scheme });
            return;
        }
        let result = if err.is_ok() {
            Ok(Response::Empty)
        } else {
            Err(CommonError::Server(err))
        };
        for id in waiting {
            self.complete(id, result.clone());
        }
    }

    fn client_path(&self, server_path: &str) -> String {
        self.config
            .chroot
            .to_client(server_path)
            .unwrap_or(server_path)
            .to_owned()
    }

    fn strip_chroot(&self, response: &mut Response) {
        let chroot = &self.config.chroot;
        if !chroot.is_some() {
            return;
        }
        let strip = |p: &mut String| *p = chroot.strip_owned(std::mem::take(p));
        match response {
            Response::Create(r) => strip(&mut r.path),
            Response::Create2(r) => strip(&mut r.path),
            Response::Sync(r) => strip(&mut r.path),
            Response::GetEphemerals(r) => {
                // The server matches the prefix as a string: under chroot `/app`, the prefix
                // `/` also finds `/apple/x`, which is outside the client's namespace.
                r.ephemerals.retain(|p| chroot.to_client(p).is_some());
                r.ephemerals.iter_mut().for_each(strip);
            }
            Response::Multi(r) => {
                for result in &mut r.results {
                    if let zk_proto::MultiResult::Create { path, .. } = result {
                        strip(path);
                    }
                }
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------------
    // Internals: timers
    // ----------------------------------------------------------------------------------------

    fn negotiated_or_requested(&self) -> Duration {
        self.negotiated_timeout
            .unwrap_or(self.config.session_timeout)
    }

    fn read_timeout(&self) -> Duration {
        self.negotiated_or_requested() * 2 / 3
    }

    fn ping_interval(&self) -> Duration {
        let half = self.read_timeout() / 2;
        // Java pings up to a second early so the ping lands well before the read timeout.
        let slack = if half > Duration::from_secs(2) {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
        (half - slack)
            .min(MAX_PING_INTERVAL)
            .max(Duration::from_millis(1))
    }

    fn expiry_timeout(&self) -> Duration {
        self.negotiated_or_requested() * 4 / 3
    }

    fn connect_timeout(&self) -> Duration {
        self.config
            .connect_timeout
            .unwrap_or_else(|| self.negotiated_or_requested() / self.hosts.len().max(1) as u32)
            .max(Duration::from_millis(1))
    }

    fn queue_timeout(&self) -> Duration {
        self.config
            .queue_timeout
            .unwrap_or(self.negotiated_or_requested())
    }

    fn on_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Connect => {
                if matches!(self.phase, Phase::Connecting(_) | Phase::Handshaking(_)) {
                    self.connection_lost(DisconnectReason::ConnectTimeout, now);
                }
            }
            Timer::Read => self.check_liveness(now),
            Timer::Ping => {
                if let Phase::Ready(_) = self.phase {
                    write_request(&mut self.control, Xid::PING, &Request::Ping);
                    self.timers.set(Timer::Ping, now + self.ping_interval());
                }
            }
            Timer::Backoff => {
                if self.phase == Phase::Idle {
                    self.start_attempt(now);
                }
            }
            Timer::ClientExpiry => {
                let deadline = self.last_confirmed + self.expiry_timeout();
                if now >= deadline {
                    self.terminate(SessionEnd::Unconfirmed {
                        since: now.saturating_duration_since(self.last_confirmed),
                    });
                } else {
                    self.timers.set(Timer::ClientExpiry, deadline);
                }
            }
            Timer::Close => self.terminate(SessionEnd::Closed),
            Timer::ReadOnlyProbe => {
                if self.probe.take().is_some() {
                    // The driver never answered: count it as a failed probe.
                    self.schedule_probe(now);
                } else {
                    self.start_probe(now);
                }
            }
            Timer::QueueDeadline => self.expire_queued(now),
            Timer::CallDeadline => self.expire_calls(now),
        }
    }

    /// Drops a connection on which no complete frame arrived for a read timeout, or on which a
    /// request timed out by its deadline went unanswered for a read timeout more (a server
    /// that answers pings but not requests would otherwise hold the session forever, its
    /// unanswered requests filling [`Config::max_in_flight`]). Re-arms the read timer.
    fn check_liveness(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Ready(_)) {
            return;
        }
        let read_timeout = self.read_timeout();
        let silent_since = self.last_frame;
        if now >= silent_since + read_timeout {
            self.connection_lost(DisconnectReason::ReadTimeout, now);
            return;
        }
        let mut deadline = silent_since + read_timeout;
        if let Some(timed_out) = self.in_flight.iter().filter_map(|e| e.timed_out).min() {
            if now >= timed_out + read_timeout {
                self.connection_lost(DisconnectReason::UnansweredRequest, now);
                return;
            }
            deadline = deadline.min(timed_out + read_timeout);
        }
        self.timers.set(Timer::Read, deadline);
    }

    fn expire_queued(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Ready(_)) {
            return;
        }
        while let Some(front) = self.queued.front() {
            if front.request.op == OpCode::CloseSession {
                // The close is bounded by the close timer alone.
                return;
            }
            if front.deadline > now {
                self.timers.set(Timer::QueueDeadline, front.deadline);
                return;
            }
            if let Some(q) = self.queued.pop_front() {
                self.outbox.advance(q.frame_len);
                if let Some(id) = q.request.id {
                    self.complete(id, Err(CommonError::ConnectionLoss));
                }
            }
        }
    }

    fn schedule_probe(&mut self, now: Instant) {
        if self.state != SessionState::ConnectedReadOnly || self.hosts.len() < 2 {
            return;
        }
        self.timers
            .set(Timer::ReadOnlyProbe, now + self.read_only_probe_delay);
        self.read_only_probe_delay =
            (self.read_only_probe_delay * 2).min(self.config.read_only_probe.1);
    }

    fn start_probe(&mut self, now: Instant) {
        if self.state != SessionState::ConnectedReadOnly || self.hosts.len() < 2 {
            return;
        }
        let current = self.hosts.current_index();
        self.probe_cursor = (self.probe_cursor + 1) % self.hosts.len();
        if self.probe_cursor == current {
            self.probe_cursor = (self.probe_cursor + 1) % self.hosts.len();
        }
        let probe = ProbeId(self.next_probe_id);
        self.next_probe_id += 1;
        self.probe = Some((probe, self.probe_cursor));
        self.actions.push_back(Action::Probe {
            probe,
            host: self.hosts.get(self.probe_cursor).clone(),
        });
        // Bound the wait for the driver's answer.
        self.timers
            .set(Timer::ReadOnlyProbe, now + self.connect_timeout());
    }

    // ----------------------------------------------------------------------------------------
    // Internals: connection lifecycle
    // ----------------------------------------------------------------------------------------

    fn start_attempt(&mut self, now: Instant) {
        let conn = ConnectionId(self.next_connection_id);
        self.next_connection_id += 1;
        let (_, host) = self.hosts.next();
        self.actions.push_back(Action::Connect {
            conn,
            host: host.clone(),
        });
        self.phase = Phase::Connecting(conn);
        self.timers
            .set(Timer::Connect, now + self.connect_timeout());
    }

    /// Tells the driver to close a transport the session no longer wants.
    fn disown(&mut self, conn: ConnectionId) {
        self.actions.push_back(Action::Disconnect { conn });
    }

    fn protocol_violation(&mut self, what: String, now: Instant) {
        self.connection_lost(DisconnectReason::ProtocolViolation(what), now);
    }

    fn connection_lost(&mut self, reason: DisconnectReason, now: Instant) {
        if let Some(conn) = self.phase.connection() {
            self.disown(conn);
        }
        if let Some(since) = self.ready_since.take() {
            // Only a connection that lasted resets the back-off: one that a server drops right
            // after every handshake must not be retried at full speed.
            if now.saturating_duration_since(since) >= self.read_timeout() {
                self.hosts.connected();
            }
        }
        self.phase = Phase::Idle;
        self.events.push_back(Event::ConnectionLost(reason));
        self.recv.clear();
        self.control.clear();
        self.skipping = 0;
        for t in [
            Timer::Read,
            Timer::Ping,
            Timer::Connect,
            Timer::ReadOnlyProbe,
        ] {
            self.timers.stop(t);
        }
        self.probe = None;

        let mut close_was_sent = false;
        for entry in std::mem::take(&mut self.in_flight) {
            close_was_sent |= entry.op == OpCode::CloseSession;
            self.abandon(entry, CommonError::ConnectionLoss);
        }
        for (_, waiting) in std::mem::take(&mut self.auth_in_flight) {
            for id in waiting {
                self.complete(id, Err(CommonError::ConnectionLoss));
            }
        }
        if close_was_sent || (self.is_closing() && self.session_id == SessionId::NONE) {
            // Closed, or closing a session the server never granted: a new connection would
            // only create one to close it.
            self.terminate(SessionEnd::Closed);
            return;
        }
        if self.state.is_connected() {
            self.set_state(SessionState::Disconnected);
        }
        if !self.config.queue_while_disconnected {
            self.outbox.clear();
            for q in std::mem::take(&mut self.queued) {
                if let Some(id) = q.request.id {
                    self.complete(id, Err(CommonError::ConnectionLoss));
                }
            }
            if self.is_closing() {
                // The close was not sent yet: it goes out on the next connection (bounded by
                // the close timer), or the server keeps the session and its ephemeral nodes
                // until it expires.
                self.enqueue_own(Request::CloseSession, now);
            }
        } else {
            self.expire_queued(now);
        }
        let mut delay = Duration::from_nanos(
            self.rng.below(
                self.config
                    .backoff
                    .max_jitter
                    .as_nanos()
                    .min(u64::MAX as u128) as u64,
            ),
        );
        if self.hosts.completed_pass() {
            delay += self.config.backoff.pass_delay;
        }
        self.timers.set(Timer::Backoff, now + delay);
    }

    /// Whether `close` was called and the session has not ended yet.
    fn is_closing(&self) -> bool {
        self.state == SessionState::Closing
    }

    fn terminate(&mut self, end: SessionEnd) {
        if self.state.is_terminal() {
            return;
        }
        if let Some(conn) = self.phase.connection() {
            self.disown(conn);
        }
        self.phase = Phase::Idle;
        let state = end.state();
        self.end = Some(end);
        let error = state.terminal_error();
        for entry in std::mem::take(&mut self.in_flight) {
            self.abandon(entry, error.clone());
        }
        self.call_deadlines.clear();
        self.ready_since = None;
        for q in std::mem::take(&mut self.queued) {
            if let Some(id) = q.request.id {
                self.complete(id, Err(error.clone()));
            }
        }
        for (_, waiting) in std::mem::take(&mut self.auth_in_flight) {
            for id in waiting {
                self.complete(id, Err(error.clone()));
            }
        }
        let waiting: Vec<RequestId> = self
            .credentials
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.waiting))
            .collect();
        for id in waiting {
            self.complete(id, Err(error.clone()));
        }
        for watch in self.watches.drain() {
            self.events.push_back(Event::Watch {
                watch,
                notice: WatchNotice::SessionEnded(state),
            });
        }
        self.outbox = BytesMut::new();
        self.control = BytesMut::new();
        self.recv = BytesMut::new();
        self.skipping = 0;
        self.probe = None;
        self.timers.stop_all();
        self.set_state(state);
    }

    fn set_state(&mut self, state: SessionState) {
        if self.state != state {
            self.state = state;
            self.events.push_back(Event::State(state));
        }
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
