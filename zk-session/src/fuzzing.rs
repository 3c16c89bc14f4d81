//! An entry point for fuzzers: drives a [`Session`] with an arbitrary sequence of inputs and
//! checks its promises.
//!
//! It is compiled in every build so it cannot rot; the cargo-fuzz target `session` under
//! `fuzz/` and a bounded property test in the normal suite both call [`session_inputs`]. It
//! panics only when a promise is broken:
//!
//! * no input, however malformed, makes the session panic;
//! * every accepted request completes exactly once (checked after the session is driven to a
//!   terminal state at the end);
//! * after the present was handled, the next deadline is never in the past, and there is none
//!   in a terminal state;
//! * a terminal state never changes;
//! * [`Session::has_transmit`] says exactly whether [`Session::poll_transmit`] gives bytes;
//! * the receive buffer and the requests outstanding stay within the configured bounds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_proto::{
    ConnectResponse, Encode, ErrorCode, EventType, FrameDecoder, GetDataResponse, KeeperState,
    Reader, ReplyHeader, RequestHeader, Response, SessionId, Stat, StatResponse, WatcherEvent, Xid,
    Zxid,
};

use crate::event::{Event, RequestId};
use crate::ops;
use crate::watches::WatchId;
use crate::{Action, Config, ConnectionId, Session};

const MAX_FRAME: usize = 4096;
const MAX_IN_FLIGHT: usize = 16;

struct Driver {
    session: Session,
    now: Instant,
    conn: Option<ConnectionId>,
    pending_connect: Option<ConnectionId>,
    old_conns: Vec<ConnectionId>,
    probes: Vec<crate::ProbeId>,
    wire: BytesMut,
    expect_connect: bool,
    written_xids: Vec<Xid>,
    accepted: HashSet<RequestId>,
    completed: HashSet<RequestId>,
    watches: Vec<WatchId>,
    terminal: Option<crate::SessionState>,
    /// The session id once a server granted one, when read-only sessions are not allowed
    /// (a session born read-only legitimately gets its real id later).
    granted_id: Option<zk_proto::SessionId>,
    /// The deadline of the next submission.
    next_deadline: Option<Instant>,
}

impl Driver {
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.session.poll_action() {
                progressed = true;
                match action {
                    Action::Connect { conn, .. } => self.pending_connect = Some(conn),
                    Action::Disconnect { conn } => {
                        if self.conn == Some(conn) {
                            self.old_conns.push(conn);
                            self.conn = None;
                            self.wire.clear();
                            self.written_xids.clear();
                        }
                        if self.pending_connect == Some(conn) {
                            self.pending_connect = None;
                        }
                    }
                    Action::Probe { probe, .. } => self.probes.push(probe),
                }
            }
            if self.conn.is_none() {
                assert!(
                    !self.session.has_transmit(),
                    "has_transmit with no connection to write to"
                );
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
                    self.read_wire();
                }
            }
            while let Some(event) = self.session.poll_event() {
                progressed = true;
                self.check_event(event);
            }
            if !progressed {
                break;
            }
        }
        let id = self.session.session_id();
        if !self.session.config().read_only_allowed && id != zk_proto::SessionId::NONE {
            match self.granted_id {
                Some(granted) => assert_eq!(id, granted, "the session id changed"),
                None => self.granted_id = Some(id),
            }
        }
        let state = self.session.state();
        if let Some(terminal) = self.terminal {
            assert_eq!(state, terminal, "a terminal state changed");
        } else if state.is_terminal() {
            self.terminal = Some(state);
        }
        assert!(
            self.session.in_flight() <= MAX_IN_FLIGHT,
            "too many requests held"
        );
        assert!(
            self.session.buffered_len() <= 2 * MAX_FRAME + MAX_IN_FLIGHT * MAX_FRAME + 64 * 1024,
            "buffers grew beyond the configured bounds"
        );
    }

    fn check_event(&mut self, event: Event) {
        match event {
            Event::Completed(c) => {
                assert!(
                    self.accepted.contains(&c.id),
                    "completion of an unknown request"
                );
                assert!(self.completed.insert(c.id), "a request completed twice");
            }
            Event::State(s) => {
                if let Some(t) = self.terminal {
                    panic!("state changed to {s:?} after terminal {t:?}");
                }
            }
            _ => {}
        }
    }

    /// Records the xids the client wrote, to answer them.
    fn read_wire(&mut self) {
        let decoder = FrameDecoder::new(usize::MAX >> 2);
        while let Ok(Some(frame)) = decoder.decode(&mut self.wire) {
            if self.expect_connect {
                self.expect_connect = false;
                continue;
            }
            let mut reader = Reader::new(frame);
            if let Ok(header) = <RequestHeader as zk_proto::Decode>::decode(&mut reader) {
                if header.xid.0 > 0 {
                    self.written_xids.push(header.xid);
                }
            }
        }
    }

    fn tick(&mut self) {
        self.session.handle_timeout(self.now);
        self.drain();
        if let Some(deadline) = self.session.poll_timeout() {
            assert!(
                deadline >= self.now,
                "next deadline is in the past: {:#?}",
                self.session
            );
        } else if !self.session.state().is_terminal() {
            // Every live session has at least one timer running.
            panic!("a live session has no deadline");
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if let Some(conn) = self.conn {
            self.session.handle_data(conn, bytes, self.now);
            self.drain();
        }
    }

    fn submit<O: ops::Operation>(&mut self, op: &O) {
        let deadline = self.next_deadline.take();
        if let Ok(id) = self.session.submit_with_deadline(op, deadline, self.now) {
            assert!(self.accepted.insert(id), "a request id was reused");
        }
        self.drain();
    }
}

fn frame(header: &ReplyHeader, body: &impl Encode) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((header.encoded_len() + body.encoded_len()) as i32).to_be_bytes());
    header.encode(&mut out);
    body.encode(&mut out);
    out
}

/// Drives a session with the inputs `data` encodes, checking every promise on the way.
pub fn session_inputs(data: &[u8]) {
    let start = Instant::now();
    let mut config = Config::new("h1:1,h2:2,[::1]:3/chroot").expect("static connect string");
    config.max_frame_len = MAX_FRAME;
    config.max_in_flight = MAX_IN_FLIGHT;
    config.session_timeout = Duration::from_secs(6);
    let mut bytes = data.iter().copied();
    let first = bytes.next().unwrap_or(0);
    config.read_only_allowed = first & 1 != 0;
    config.client_side_expiry = first & 2 != 0;
    config.queue_while_disconnected = first & 4 == 0;
    config.seed = u64::from(first);
    if first & 8 != 0 {
        config
            .auth
            .push(("digest".into(), Bytes::from_static(b"u:p")));
    }
    let Ok(session) = Session::new(config, start) else {
        return;
    };
    let mut d = Driver {
        session,
        now: start,
        conn: None,
        pending_connect: None,
        old_conns: Vec::new(),
        probes: Vec::new(),
        wire: BytesMut::new(),
        expect_connect: false,
        written_xids: Vec::new(),
        accepted: HashSet::new(),
        completed: HashSet::new(),
        watches: Vec::new(),
        terminal: None,
        granted_id: None,
        next_deadline: None,
    };
    d.drain();
    let mut zxid = 1i64;
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        match op % 16 {
            0 => {
                d.now += Duration::from_millis(u64::from(arg) * 47);
                d.tick();
            }
            1 => {
                if let Some(conn) = d.pending_connect.take() {
                    d.conn = Some(conn);
                    d.wire.clear();
                    d.written_xids.clear();
                    d.expect_connect = true;
                    d.session.handle_connected(conn, d.now);
                    d.drain();
                }
            }
            2 => {
                let conn = d.conn.take().or(d.pending_connect.take());
                if let Some(conn) = conn {
                    d.old_conns.push(conn);
                    d.wire.clear();
                    d.written_xids.clear();
                    d.session.handle_closed(conn, d.now);
                    d.drain();
                }
            }
            3 => {
                let n = usize::from(arg);
                let chunk: Vec<u8> = bytes.by_ref().take(n).collect();
                d.feed(&chunk);
            }
            4 => {
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: i32::from(arg % 8) * 1000,
                    session_id: SessionId(i64::from(arg / 8 % 4)),
                    password: Bytes::from_static(&[1; 16]),
                    read_only: arg & 0x80 != 0,
                };
                let mut out = Vec::new();
                zk_proto::write_frame(&mut out, &response);
                d.feed(&out);
            }
            5 => {
                if !d.written_xids.is_empty() {
                    let xid = d.written_xids.remove(0);
                    zxid += 1;
                    let err = match arg % 5 {
                        0 | 1 => ErrorCode::Ok,
                        2 => ErrorCode::NoNode,
                        3 => ErrorCode::BadVersion,
                        _ => ErrorCode::from_i32(-(i32::from(arg))),
                    };
                    let header = ReplyHeader {
                        xid,
                        zxid: Zxid(zxid),
                        err,
                    };
                    let body: Response = if !err.is_ok() {
                        Response::Empty
                    } else if arg & 0x20 != 0 {
                        Response::Stat(StatResponse {
                            stat: Stat::default(),
                        })
                    } else {
                        Response::GetData(GetDataResponse {
                            data: Bytes::from(vec![0u8; usize::from(arg) * 40]),
                            stat: Stat::default(),
                        })
                    };
                    d.feed(&frame(&header, &body));
                }
            }
            6 => {
                let event = WatcherEvent {
                    event_type: EventType::from_i32(i32::from(arg % 6) - 1),
                    state: KeeperState::SyncConnected,
                    path: ["/chroot/a", "/chroot", "/chroot/a/b", "/other"]
                        [usize::from(arg / 8 % 4)]
                    .to_owned(),
                };
                let mut out = Vec::new();
                zk_proto::write_notification(&mut out, &event);
                d.feed(&out);
            }
            7 => {
                let path = ["/a", "/a/b", "/", "bad", "/a/"][usize::from(arg % 5)];
                if arg % 3 == 0 {
                    d.next_deadline = Some(d.now + Duration::from_millis(u64::from(arg) * 20));
                }
                match arg / 5 % 10 {
                    0 => d.submit(&ops::GetData::new(path).watch()),
                    1 => d.submit(&ops::Exists::new(path).watch()),
                    2 => d.submit(&ops::GetChildren::new(path).watch()),
                    3 => d.submit(&ops::AddWatch::new(
                        path,
                        zk_proto::AddWatchMode::PersistentRecursive,
                    )),
                    4 => d.submit(&ops::SetData::new(path, vec![0u8; usize::from(arg) * 30])),
                    5 => d.submit(&ops::Create::new(path, Bytes::new())),
                    6 => d.submit(&ops::AddAuth::digest("u", "p")),
                    7 => d.submit(&ops::RemoveWatches::new(path, zk_proto::WatcherType::Any)),
                    8 => d.submit(
                        &ops::Multi::new()
                            .check(path, 1)
                            .delete(ops::Delete::new(path)),
                    ),
                    _ => d.submit(&ops::Sync::new(path)),
                }
                if let Some(last) = d.accepted.iter().max() {
                    d.watches.push(last.watch_id());
                }
            }
            8 => {
                d.session.close(d.now);
                d.drain();
            }
            9 => {
                if !d.watches.is_empty() {
                    let w = d.watches.remove(usize::from(arg) % d.watches.len());
                    d.session.forget_watch(w, d.now);
                    d.drain();
                }
            }
            10 => {
                if let Some(probe) = d.probes.pop() {
                    d.session.handle_probe_result(probe, arg & 1 != 0, d.now);
                    d.drain();
                }
            }
            11 => {
                if let Some(&old) = d.old_conns.last() {
                    d.session.handle_data(old, &[0, 0, 0, 1, 0], d.now);
                    d.session.handle_connected(old, d.now);
                    d.session.handle_closed(old, d.now);
                    d.drain();
                }
            }
            12 => {
                let header = ReplyHeader {
                    xid: Xid(i32::from(arg as i8)),
                    zxid: Zxid(-1),
                    err: ErrorCode::from_i32(-(i32::from(arg))),
                };
                d.feed(&frame(&header, &Response::Empty));
            }
            13 => {
                // An oversized reply to the oldest request, split in two.
                if let Some(&xid) = d.written_xids.first() {
                    d.written_xids.remove(0);
                    let len = MAX_FRAME + usize::from(arg);
                    let mut out = Vec::with_capacity(len + 4);
                    out.extend_from_slice(&(len as i32).to_be_bytes());
                    ReplyHeader {
                        xid,
                        zxid: Zxid(zxid),
                        err: ErrorCode::Ok,
                    }
                    .encode(&mut out);
                    out.resize(len + 4, 7);
                    let cut = usize::from(arg) * 20 % out.len();
                    d.feed(&out[..cut]);
                    d.feed(&out[cut..]);
                }
            }
            _ => d.tick(),
        }
    }
    // Drive to the end: every accepted request must complete exactly once.
    d.session.close(d.now);
    d.drain();
    d.now += Duration::from_secs(3600);
    d.tick();
    assert!(
        d.session.state().is_terminal(),
        "close did not end the session"
    );
    let missing: Vec<_> = d.accepted.difference(&d.completed).collect();
    assert!(missing.is_empty(), "requests never completed: {missing:?}");
}
