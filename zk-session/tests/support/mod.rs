//! A scripted fake ZooKeeper server in virtual time, driving a `Session` with no I/O.
//!
//! The test plays both the driver (it obeys the session's actions) and the server (it reads the
//! frames the client wrote and answers as the script says). Time only moves when the test says.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_session::proto::{
    self, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, EventType, KeeperState,
    OpCode, Reader, ReplyHeader, Request, RequestHeader, Response, SessionId, WatcherEvent, Xid,
    Zxid,
};
use zk_session::{
    Action, Completion, Config, ConnectionId, DisconnectReason, Event, HostAddr, ProbeId,
    RequestId, Session, SessionState, WatchId, WatchNotice,
};

/// One frame the client wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Connect(ConnectRequest),
    Request { xid: Xid, request: Request },
}

impl ClientFrame {
    pub fn xid(&self) -> Xid {
        match self {
            ClientFrame::Request { xid, .. } => *xid,
            ClientFrame::Connect(_) => panic!("a ConnectRequest has no xid"),
        }
    }

    pub fn request(&self) -> &Request {
        match self {
            ClientFrame::Request { request, .. } => request,
            ClientFrame::Connect(_) => panic!("expected a request, got a ConnectRequest"),
        }
    }

    pub fn opcode(&self) -> OpCode {
        self.request().opcode()
    }
}

pub struct Sim {
    pub session: Session,
    pub now: Instant,
    pub start: Instant,
    /// The transport the driver holds open, and the host it reaches.
    pub conn: Option<(ConnectionId, HostAddr)>,
    /// A Connect action not yet answered.
    pub pending_connect: Option<(ConnectionId, HostAddr)>,
    pub probes: Vec<(ProbeId, HostAddr)>,
    /// Bytes the client wrote on the current transport that the server has not read.
    pub wire: BytesMut,
    /// Whether the next frame on the wire is a ConnectRequest.
    expect_connect: bool,
    pub events: Vec<Event>,
    pub actions: Vec<Action>,
    pub next_zxid: i64,
}

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
    pub fn new(config: Config) -> Sim {
        let start = Instant::now();
        let session = Session::new(config, start).expect("valid config");
        let mut sim = Sim {
            session,
            now: start,
            start,
            conn: None,
            pending_connect: None,
            probes: Vec::new(),
            wire: BytesMut::new(),
            expect_connect: false,
            events: Vec::new(),
            actions: Vec::new(),
            next_zxid: 100,
        };
        sim.drain();
        sim
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
                            self.wire.clear();
                        }
                        if self.pending_connect.as_ref().map(|c| c.0) == Some(*conn) {
                            self.pending_connect = None;
                        }
                    }
                    Action::Probe { probe, host } => self.probes.push((*probe, host.clone())),
                    _ => {}
                }
                self.actions.push(action);
            }
            if self.conn.is_some() {
                let mut out = Vec::new();
                if self.session.poll_transmit(self.now, &mut out) > 0 {
                    progressed = true;
                    self.wire.extend_from_slice(&out);
                }
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
        self.session.handle_connected(conn, self.now);
        self.drain();
        host
    }

    /// Refuses the pending Connect action.
    pub fn refuse_transport(&mut self) -> HostAddr {
        let (conn, host) = self
            .pending_connect
            .take()
            .expect("the session asked for a connection");
        self.session.handle_closed(conn, self.now);
        self.drain();
        host
    }

    /// Closes the current transport as a server crash would.
    pub fn drop_transport(&mut self) {
        let (conn, _) = self.conn.take().expect("a transport is open");
        self.wire.clear();
        self.session.handle_closed(conn, self.now);
        self.drain();
    }

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

    pub fn server_frame(&mut self, record: &(impl Encode + ?Sized)) {
        let mut out = BytesMut::new();
        proto::write_frame(&mut out, record);
        self.server_bytes(&out);
    }

    /// Answers the handshake.
    pub fn answer_connect(&mut self, session_id: i64, timeout_ms: i32, read_only: bool) {
        let response = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: SessionId(session_id),
            password: Bytes::from_static(&[0xAB; 16]),
            read_only,
        };
        self.server_frame(&response);
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

    pub fn reply_ok(&mut self, xid: Xid, response: Response) {
        self.reply(xid, ErrorCode::Ok, &response);
    }

    pub fn notify(&mut self, event_type: EventType, path: &str) {
        let event = WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.to_owned(),
        };
        let mut out = BytesMut::new();
        proto::write_notification(&mut out, &event);
        self.server_bytes(&out);
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

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

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

    pub fn states(&self) -> Vec<SessionState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

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

    pub fn connect_actions(&self) -> Vec<(ConnectionId, HostAddr)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Connect { conn, host } => Some((*conn, host.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn submit<O: zk_session::Operation>(&mut self, op: &O) -> RequestId {
        let id = self
            .session
            .submit(op, self.now)
            .expect("submission accepted");
        self.drain();
        id
    }
}
