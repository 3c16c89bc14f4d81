//! A scripted fake ZooKeeper server in virtual time, driving a [`Session`] with no I/O: the
//! one driver behind zk-session's tests, the fuzz target ([`crate::fuzzing`]) and the request
//! path's benchmark and allocation test ([`ConnectedSession`]). Behind the `testing` feature.
//!
//! The test plays both the driver (it obeys the session's actions) and the server (it reads the
//! frames the client wrote and answers as the script says). Time only moves when the test says,
//! so every run replays exactly. On the way it checks promises every driver relies on:
//! [`Session::has_transmit`] says exactly whether [`Session::poll_transmit`] gives bytes, and
//! nothing is to be sent without a connection.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_proto::{
    self as proto, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, EventType,
    GetDataResponse, KeeperState, OpCode, Reader, ReplyHeader, Request, RequestHeader, Response,
    SessionId, Stat, WatcherEvent, Xid, Zxid,
};

use crate::{
    Action, Completion, Config, ConfigError, ConnectionId, DisconnectReason, Event, HostAddr,
    ProbeId, RequestId, Session, SessionState, WatchId, WatchNotice,
};

/// One frame the client wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// The handshake, first on every connection.
    Connect(ConnectRequest),
    /// A request and its xid.
    Request {
        /// The request's xid.
        xid: Xid,
        /// The request.
        request: Request,
    },
}

impl ClientFrame {
    /// The request's xid (panics on a ConnectRequest).
    pub fn xid(&self) -> Xid {
        match self {
            ClientFrame::Request { xid, .. } => *xid,
            ClientFrame::Connect(_) => panic!("a ConnectRequest has no xid"),
        }
    }

    /// The request (panics on a ConnectRequest).
    pub fn request(&self) -> &Request {
        match self {
            ClientFrame::Request { request, .. } => request,
            ClientFrame::Connect(_) => panic!("expected a request, got a ConnectRequest"),
        }
    }

    /// The request's opcode (panics on a ConnectRequest).
    pub fn opcode(&self) -> OpCode {
        self.request().opcode()
    }
}

/// A session and the fake server it talks to, in virtual time.
#[derive(Debug)]
pub struct Sim {
    /// The session under test.
    pub session: Session,
    /// The virtual present.
    pub now: Instant,
    /// When the simulation began.
    pub start: Instant,
    /// The transport the driver holds open, and the host it reaches.
    pub conn: Option<(ConnectionId, HostAddr)>,
    /// A Connect action not yet answered.
    pub pending_connect: Option<(ConnectionId, HostAddr)>,
    /// Read-write probes asked for and not answered.
    pub probes: Vec<(ProbeId, HostAddr)>,
    /// Connections that ended (closed by either side), oldest first.
    pub closed: Vec<ConnectionId>,
    /// Bytes the client wrote on the current transport that the server has not read.
    pub wire: BytesMut,
    /// Whether the next frame on the wire is a ConnectRequest.
    expect_connect: bool,
    /// Events the session gave, not taken yet.
    pub events: Vec<Event>,
    /// Every action the session gave.
    pub actions: Vec<Action>,
    /// The zxid of the server's last reply.
    pub next_zxid: i64,
}

/// A configuration for `hosts` with a 30 s session timeout.
pub fn config(hosts: &str) -> Config {
    let mut c = Config::new(hosts).expect("valid connect string");
    c.session_timeout = Duration::from_secs(30);
    c
}

/// A session whose first handshake succeeded at the start of time (session id 1, negotiated
/// timeout 30 s), with the handshake's frames, events and actions consumed.
pub fn connected(config: Config) -> Sim {
    let mut sim = Sim::new(config);
    sim.establish(1, 30_000);
    sim.client_frames();
    sim.events.clear();
    sim.actions.clear();
    sim
}

/// Milliseconds, for short timing assertions.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Sim {
    /// A new session on `config`, with its first outputs drained.
    pub fn new(config: Config) -> Sim {
        Sim::try_new(config).expect("valid config")
    }

    /// [`Sim::new`], or why `config` is refused.
    pub fn try_new(config: Config) -> Result<Sim, ConfigError> {
        let start = Instant::now();
        let session = Session::new(config, start)?;
        let mut sim = Sim {
            session,
            now: start,
            start,
            conn: None,
            pending_connect: None,
            probes: Vec::new(),
            closed: Vec::new(),
            wire: BytesMut::new(),
            expect_connect: false,
            events: Vec::new(),
            actions: Vec::new(),
            next_zxid: 100,
        };
        sim.drain();
        Ok(sim)
    }

    /// Drains every output of the session, obeying actions like a driver would (a Connect is
    /// left pending until the test decides its fate).
    pub fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.session.poll_action() {
                progressed = true;
                match &action {
                    Action::Connect { conn, host } => {
                        self.pending_connect = Some((*conn, host.clone()));
                    }
                    Action::Disconnect { conn } => {
                        if self.conn.as_ref().map(|c| c.0) == Some(*conn) {
                            self.conn = None;
                            self.closed.push(*conn);
                            self.wire.clear();
                        }
                        if self.pending_connect.as_ref().map(|c| c.0) == Some(*conn) {
                            self.pending_connect = None;
                        }
                    }
                    Action::Probe { probe, host } => self.probes.push((*probe, host.clone())),
                }
                self.actions.push(action);
            }
            if self.conn.is_some() {
                let mut out = Vec::new();
                let announced = self.session.has_transmit();
                let written = self.session.poll_transmit(self.now, &mut out);
                assert_eq!(
                    announced,
                    written > 0,
                    "has_transmit disagrees with poll_transmit"
                );
                if written > 0 {
                    progressed = true;
                    self.wire.extend_from_slice(&out);
                }
            } else {
                assert!(
                    !self.session.has_transmit(),
                    "has_transmit with no connection to write to"
                );
            }
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.events.push(event);
            }
            if !progressed {
                return;
            }
        }
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Moves virtual time forward, firing every deadline on the way in order.
    pub fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(deadline) = self.session.poll_timeout() {
            if deadline > end {
                break;
            }
            self.now = self.now.max(deadline);
            self.session.handle_timeout(self.now);
            self.drain();
            self.assert_deadline_not_past();
        }
        self.now = end;
        self.session.handle_timeout(self.now);
        self.drain();
    }

    /// The session's next deadline is never in the past after it handled the present.
    pub fn assert_deadline_not_past(&self) {
        if let Some(deadline) = self.session.poll_timeout() {
            assert!(
                deadline >= self.now,
                "deadline {:?} in the past",
                self.now - deadline
            );
        }
    }

    /// Runs virtual time until `pred` holds or `limit` passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if pred(self) {
                return true;
            }
            let next = match self.session.poll_timeout() {
                Some(d) if d <= end => d.max(self.now),
                _ => return pred(self),
            };
            self.now = next;
            self.session.handle_timeout(self.now);
            self.drain();
        }
    }

    /// Opens the transport of the pending Connect action.
    pub fn accept_transport(&mut self) -> HostAddr {
        let (conn, host) = self
            .pending_connect
            .take()
            .expect("the session asked for a connection");
        self.conn = Some((conn, host.clone()));
        self.wire.clear();
        self.expect_connect = true;
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], host.port));
        self.session.handle_connected(conn, Some(peer), self.now);
        self.drain();
        host
    }

    /// Refuses the pending Connect action.
    pub fn refuse_transport(&mut self) -> HostAddr {
        let (conn, host) = self
            .pending_connect
            .take()
            .expect("the session asked for a connection");
        self.closed.push(conn);
        self.session.handle_closed(conn, self.now);
        self.drain();
        host
    }

    /// Fails the pending Connect action with `cause`, as a driver whose connection attempt
    /// failed reports it.
    pub fn fail_transport(&mut self, cause: &str) -> HostAddr {
        let (conn, host) = self
            .pending_connect
            .take()
            .expect("the session asked for a connection");
        self.closed.push(conn);
        self.session.handle_failed(conn, cause, self.now);
        self.drain();
        host
    }

    /// Closes the current transport as a server crash would.
    pub fn drop_transport(&mut self) {
        let (conn, _) = self.conn.take().expect("a transport is open");
        self.closed.push(conn);
        self.wire.clear();
        self.session.handle_closed(conn, self.now);
        self.drain();
    }

    /// The open transport's connection.
    pub fn conn_id(&self) -> ConnectionId {
        self.conn.as_ref().expect("a transport is open").0
    }

    /// Every whole frame the client wrote since the last call.
    pub fn client_frames(&mut self) -> Vec<ClientFrame> {
        let decoder = proto::FrameDecoder::default();
        let mut frames = Vec::new();
        while let Some(frame) = decoder
            .decode(&mut self.wire)
            .expect("client frames are valid")
        {
            let mut reader = Reader::new(frame);
            if self.expect_connect {
                self.expect_connect = false;
                let req = ConnectRequest::decode(&mut reader).expect("ConnectRequest");
                assert_eq!(reader.remaining(), 0, "ConnectRequest has trailing bytes");
                frames.push(ClientFrame::Connect(req));
            } else {
                let header = RequestHeader::decode(&mut reader).expect("request header");
                let op = OpCode::from_i32(header.op).expect("known opcode");
                let request = Request::decode(op, &mut reader).expect("request body");
                assert_eq!(reader.remaining(), 0, "request {op:?} has trailing bytes");
                frames.push(ClientFrame::Request {
                    xid: header.xid,
                    request,
                });
            }
        }
        frames
    }

    /// Sends raw bytes from the server on the current transport.
    pub fn server_bytes(&mut self, bytes: &[u8]) {
        let conn = self.conn_id();
        self.session.handle_data(conn, bytes, self.now);
        self.drain();
    }

    /// Sends one record as a frame from the server.
    pub fn server_frame(&mut self, record: &(impl Encode + ?Sized)) {
        let mut out = BytesMut::new();
        proto::write_frame(&mut out, record);
        self.server_bytes(&out);
    }

    /// Answers the handshake.
    pub fn answer_connect(&mut self, session_id: i64, timeout_ms: i32, read_only: bool) {
        self.server_bytes(&connect_response_frame(session_id, timeout_ms, read_only));
    }

    /// Accepts a transport, checks the handshake, and grants a session; returns the request.
    pub fn establish(&mut self, session_id: i64, timeout_ms: i32) -> ConnectRequest {
        self.accept_transport();
        let frames = self.client_frames();
        let [ClientFrame::Connect(req)] = frames.as_slice() else {
            panic!("expected exactly a ConnectRequest, got {frames:?}");
        };
        let req = req.clone();
        self.answer_connect(session_id, timeout_ms, false);
        req
    }

    /// Answers request `xid` with `err` and, when it is Ok, `response` (the next zxid).
    pub fn reply(&mut self, xid: Xid, err: ErrorCode, response: &Response) {
        self.next_zxid += 1;
        let header = ReplyHeader {
            xid,
            zxid: Zxid(self.next_zxid),
            err,
        };
        let mut out = BytesMut::new();
        proto::write_reply(
            &mut out,
            &header,
            if err.is_ok() {
                response
            } else {
                &Response::Empty
            },
        );
        self.server_bytes(&out);
    }

    /// Answers request `xid` successfully with `response`.
    pub fn reply_ok(&mut self, xid: Xid, response: Response) {
        self.reply(xid, ErrorCode::Ok, &response);
    }

    /// Sends a watch notification for `path` (a server path).
    pub fn notify(&mut self, event_type: EventType, path: &str) {
        self.server_bytes(&notification_frame(event_type, path));
    }

    /// Answers a ping (`{-2, zxid, 0}`, no body); the zxid is deliberately far ahead, to show it
    /// is never taken as the last zxid seen.
    pub fn reply_ping(&mut self) {
        let header = ReplyHeader {
            xid: Xid::PING,
            zxid: Zxid(self.next_zxid + 1_000_000),
            err: ErrorCode::Ok,
        };
        let mut out = BytesMut::new();
        proto::write_reply(&mut out, &header, &Response::Empty);
        self.server_bytes(&out);
    }

    /// Keeps the connection up for `duration`: time passes in 5 s steps, every ping answered.
    pub fn serve_pings_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            let step = (end - self.now).min(Duration::from_secs(5));
            self.advance(step);
            self.answer_pings();
        }
    }

    /// Answers every ping the client wrote and returns the other frames.
    pub fn answer_pings(&mut self) -> Vec<ClientFrame> {
        let mut others = Vec::new();
        for frame in self.client_frames() {
            match &frame {
                ClientFrame::Request { xid, .. } if *xid == Xid::PING => self.reply_ping(),
                _ => others.push(frame),
            }
        }
        others
    }

    /// Runs virtual time until the session asks for a connection; returns the host asked for.
    pub fn wait_for_connect(&mut self) -> HostAddr {
        assert!(
            self.run_until(Duration::from_secs(60), |s| s.pending_connect.is_some()),
            "no Connect action within a minute (state {:?})",
            self.session.state()
        );
        self.pending_connect.as_ref().expect("pending").1.clone()
    }

    /// Drops the transport, waits for the next attempt and resumes the session as
    /// `session_id`; returns the ConnectRequest the client sent.
    pub fn reconnect(&mut self, session_id: i64) -> ConnectRequest {
        self.drop_transport();
        self.wait_for_connect();
        self.establish(session_id, 30_000)
    }

    /// The reasons of every `ConnectionLost` event not taken yet.
    pub fn lost(&self) -> Vec<DisconnectReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::ConnectionLost(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// The connections the session told the driver to close, in order.
    pub fn disconnects(&self) -> Vec<ConnectionId> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Disconnect { conn } => Some(*conn),
                _ => None,
            })
            .collect()
    }

    /// Takes every event not taken yet.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Takes every completion not taken yet.
    pub fn completions(&mut self) -> Vec<Completion> {
        let mut out = Vec::new();
        self.events.retain(|e| match e {
            Event::Completed(c) => {
                out.push(c.clone());
                false
            }
            _ => true,
        });
        out
    }

    /// Takes the completion of `id`, if it came.
    pub fn completion(&mut self, id: RequestId) -> Option<Completion> {
        let pos = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Completed(c) if c.id == id))?;
        match self.events.remove(pos) {
            Event::Completed(c) => Some(c),
            _ => unreachable!(),
        }
    }

    /// The state changes among the events not taken yet.
    pub fn states(&self) -> Vec<SessionState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// Takes every watch notice not taken yet.
    pub fn watch_notices(&mut self) -> Vec<(WatchId, WatchNotice)> {
        let mut out = Vec::new();
        self.events.retain(|e| match e {
            Event::Watch { watch, notice } => {
                out.push((*watch, notice.clone()));
                false
            }
            _ => true,
        });
        out
    }

    /// Every Connect action the session gave.
    pub fn connect_actions(&self) -> Vec<(ConnectionId, HostAddr)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Connect { conn, host } => Some((*conn, host.clone())),
                _ => None,
            })
            .collect()
    }

    /// Submits `op` now with `deadline` (it must be accepted) and drains.
    pub fn submit_with_deadline<O: crate::Operation>(
        &mut self,
        op: &O,
        deadline: Option<Instant>,
    ) -> RequestId {
        let id = self
            .session
            .submit_with_deadline(op, deadline, self.now)
            .expect("submission accepted");
        self.drain();
        id
    }

    /// Submits `op` now (it must be accepted) and drains.
    pub fn submit<O: crate::Operation>(&mut self, op: &O) -> RequestId {
        let id = self
            .session
            .submit(op, self.now)
            .expect("submission accepted");
        self.drain();
        id
    }
}

/// A getData reply carrying `data`.
pub fn get_data_reply(data: &'static [u8]) -> Response {
    Response::GetData(GetDataResponse {
        data: Some(Bytes::from_static(data)),
        stat: Stat::default(),
    })
}

/// A watch notification frame (`SyncConnected`) of `event_type` for `path` (a server path).
pub fn notification_frame(event_type: EventType, path: &str) -> Vec<u8> {
    let event = WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_owned(),
    };
    let mut out = Vec::new();
    proto::write_notification(&mut out, &event);
    out
}

/// The server's ConnectResponse frame granting `session_id` with `timeout_ms` (password
/// `0xAB` x 16).
pub fn connect_response_frame(session_id: i64, timeout_ms: i32, read_only: bool) -> Vec<u8> {
    let mut frame = Vec::new();
    proto::write_frame(
        &mut frame,
        &ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: SessionId(session_id),
            password: Bytes::from_static(&[0xAB; 16]),
            read_only,
        },
    );
    frame
}

/// A session connected to a fake server (session 1, 30 s), with a getData reply template to
/// answer it: the request path's benchmark and allocation test, which must not allocate in the
/// fake server.
#[derive(Debug)]
pub struct ConnectedSession {
    /// The session.
    pub session: Session,
    /// Its connection.
    pub conn: ConnectionId,
    /// The time the benchmark runs at.
    pub now: Instant,
    /// A whole reply frame (prefix included) carrying `data_len` bytes of data; its xid sits at
    /// bytes 4..8.
    pub reply: Vec<u8>,
    next_xid: i32,
}

impl ConnectedSession {
    /// A connected session whose getData replies carry `data_len` bytes.
    pub fn new(data_len: usize) -> ConnectedSession {
        let mut config = config("127.0.0.1:2181");
        config.max_in_flight = 100_000;
        let mut sim = Sim::new(config);
        sim.establish(1, 30_000);
        sim.client_frames();
        let conn = sim.conn_id();
        let mut reply = Vec::new();
        proto::write_reply(
            &mut reply,
            &ReplyHeader {
                xid: Xid(0),
                zxid: Zxid(42),
                err: ErrorCode::Ok,
            },
            &Response::GetData(GetDataResponse {
                data: Some(Bytes::from(vec![0x5a; data_len])),
                stat: Stat::default(),
            }),
        );
        ConnectedSession {
            session: sim.session,
            conn,
            now: sim.now,
            reply,
            // The handshake used no xid: requests are numbered from 1.
            next_xid: 1,
        }
    }

    /// The server's handshake frame that accepts session 1 with a 30 s timeout (also right for
    /// resuming it on a new connection).
    pub fn handshake() -> Vec<u8> {
        connect_response_frame(1, 30_000, false)
    }

    /// Feeds the reply to the next request in flight (xids are issued in order).
    pub fn answer_next(&mut self) {
        self.reply[4..8].copy_from_slice(&self.next_xid.to_be_bytes());
        self.next_xid += 1;
        self.session.handle_data(self.conn, &self.reply, self.now);
    }

    /// Takes the next completion, if any.
    pub fn next_completion(&mut self) -> Option<Completion> {
        while let Some(event) = self.session.poll_event() {
            if let Event::Completed(c) = event {
                return Some(c);
            }
        }
        None
    }
}

/// A `tracing` subscriber that keeps every event as one line, with the spans it belongs to:
/// `LEVEL zk_session{session_id=0x..}:zk_connection{conn=1 host=.. addr=..}: message field=value`,
/// for tests that check what the client logs. Install it with
/// `tracing::subscriber::with_default(capture.clone(), || ...)` (or globally), then read
/// [`LogCapture::lines`]. Spans are known by their explicit parents, as the session gives them.
#[derive(Debug, Clone, Default)]
pub struct LogCapture {
    inner: std::sync::Arc<std::sync::Mutex<Captured>>,
    /// The most verbose level kept (`None`: every level).
    max_level: Option<tracing::Level>,
}

#[derive(Debug, Default)]
struct Captured {
    lines: Vec<String>,
    /// Every span made, by id - 1: its name and fields, and its parent.
    spans: Vec<(String, Option<tracing::span::Id>)>,
}

impl LogCapture {
    /// A capture that keeps events up to `level` only (DEBUG: everything but the per-request
    /// TRACE lines).
    pub fn up_to(level: tracing::Level) -> LogCapture {
        LogCapture {
            max_level: Some(level),
            ..LogCapture::default()
        }
    }

    /// The events logged so far, one line each, in order.
    pub fn lines(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Captured {
    fn span(&mut self, id: &tracing::span::Id) -> Option<&mut (String, Option<tracing::span::Id>)> {
        let index = usize::try_from(id.into_u64()).ok()?.checked_sub(1)?;
        self.spans.get_mut(index)
    }

    /// `outer{..}:inner{..}: ` for a span and its ancestors.
    fn scope(&mut self, id: &tracing::span::Id) -> String {
        let mut chain = Vec::new();
        let mut next = Some(id.clone());
        while let Some(id) = next.take() {
            if let Some((text, parent)) = self.span(&id) {
                chain.push(text.clone());
                next = parent.clone();
            }
        }
        chain.reverse();
        chain.iter().map(|span| format!("{span}}}:")).collect()
    }
}

/// Writes fields into a line (an event's) or a span's text.
struct LineWriter<'a>(&'a mut String);

impl tracing::field::Visit for LineWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        self.max_level.is_none_or(|max| *metadata.level() <= max)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(
            self.max_level
                .map_or(tracing::level_filters::LevelFilter::TRACE, Into::into),
        )
    }

    fn new_span(&self, attributes: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        // The span's text is `name{fields` (closed when printed).
        let mut text = format!("{}{{", attributes.metadata().name());
        attributes.record(&mut LineWriter(&mut text));
        let mut captured = self.lock();
        captured.spans.push((text, attributes.parent().cloned()));
        tracing::span::Id::from_u64(captured.spans.len() as u64)
    }

    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        if let Some((text, _)) = self.lock().span(id) {
            values.record(&mut LineWriter(text));
        }
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut captured = self.lock();
        let mut line = event.metadata().level().to_string();
        if let Some(parent) = event.parent() {
            line.push(' ');
            line.push_str(&captured.scope(parent).replace("{ ", "{"));
        }
        event.record(&mut LineWriter(&mut line));
        captured.lines.push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
