//! An entry point for fuzzers: drives a [`Session`] with an arbitrary sequence of inputs and
//! checks its promises.
//!
//! Behind the `testing` feature, on the tests' fake server ([`crate::testing::Sim`], which also
//! checks its own promises on every drain); the cargo-fuzz target `session` under `fuzz/` and a
//! bounded property test in the normal suite both call [`session_inputs`]. It panics only when
//! a promise is broken:
//!
//! * no input, however malformed, makes the session panic;
//! * every accepted request completes exactly once (checked after the session is driven to a
//!   terminal state at the end);
//! * after the present was handled, the next deadline is never in the past, and there is none
//!   in a terminal state;
//! * a terminal state never changes;
//! * [`Session::has_transmit`] says exactly whether [`Session::poll_transmit`] gives bytes;
//! * the client writes only whole, valid frames;
//! * the receive buffer and the requests outstanding stay within the configured bounds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::{
    Encode, ErrorCode, EventType, GetDataResponse, ReplyHeader, Response, Stat, StatResponse, Xid,
    Zxid,
};

use crate::event::{Event, RequestId};
use crate::ops;
use crate::probe::Answer;
use crate::testing::{ClientFrame, Sim};
use crate::watches::WatchId;
use crate::{Config, ConnectionId};

const MAX_FRAME: usize = 4096;
const MAX_IN_FLIGHT: usize = 16;

/// The fake server, and what the fuzzer checks on top of it.
struct Driver {
    sim: Sim,
    /// Requests written on the current connection and not answered yet, oldest first.
    unanswered: Vec<Xid>,
    /// The connection `unanswered` belongs to.
    unanswered_on: Option<ConnectionId>,
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
    /// After every input: the session's outputs drained (by the fake server, which checks them),
    /// the requests written recorded, and the promises checked.
    fn step(&mut self) {
        self.sim.drain();
        let conn = self.sim.conn.as_ref().map(|c| c.0);
        if conn != self.unanswered_on {
            self.unanswered.clear();
            self.unanswered_on = conn;
        }
        for frame in self.sim.client_frames() {
            if let ClientFrame::Request { xid, .. } = frame {
                if xid.0 > 0 {
                    self.unanswered.push(xid);
                }
            }
        }
        for event in self.sim.take_events() {
            self.check_event(event);
        }
        let session = &self.sim.session;
        let id = session.session_id();
        if !session.config().read_only_allowed && id != zk_proto::SessionId::NONE {
            match self.granted_id {
                Some(granted) => assert_eq!(id, granted, "the session id changed"),
                None => self.granted_id = Some(id),
            }
        }
        let state = session.state();
        if let Some(terminal) = self.terminal {
            assert_eq!(state, terminal, "a terminal state changed");
        } else if state.is_terminal() {
            self.terminal = Some(state);
        }
        assert!(
            session.in_flight() <= MAX_IN_FLIGHT,
            "too many requests held"
        );
        assert!(
            session.buffered_len() <= 2 * MAX_FRAME + MAX_IN_FLIGHT * MAX_FRAME + 64 * 1024,
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

    /// Handles the present (after a jump of the clock).
    fn tick(&mut self) {
        let now = self.sim.now;
        self.sim.session.handle_timeout(now);
        self.step();
        if let Some(deadline) = self.sim.session.poll_timeout() {
            assert!(
                deadline >= now,
                "next deadline is in the past: {:#?}",
                self.sim.session
            );
        } else if !self.sim.session.state().is_terminal() {
            // Every live session has at least one timer running.
            panic!("a live session has no deadline");
        }
    }

    /// Bytes from the server, if a connection is open.
    fn feed(&mut self, bytes: &[u8]) {
        if self.sim.conn.is_some() {
            self.sim.server_bytes(bytes);
            self.step();
        }
    }

    fn submit<O: ops::Operation>(&mut self, op: &O) {
        let deadline = self.next_deadline.take();
        let now = self.sim.now;
        if let Ok(id) = self.sim.session.submit_with_deadline(op, deadline, now) {
            assert!(self.accepted.insert(id), "a request id was reused");
        }
        self.step();
    }

    /// The oldest request written and not answered.
    fn oldest_unanswered(&mut self) -> Option<Xid> {
        (!self.unanswered.is_empty()).then(|| self.unanswered.remove(0))
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
    let Ok(sim) = Sim::try_new(config) else {
        return;
    };
    let mut d = Driver {
        sim,
        unanswered: Vec::new(),
        unanswered_on: None,
        accepted: HashSet::new(),
        completed: HashSet::new(),
        watches: Vec::new(),
        terminal: None,
        granted_id: None,
        next_deadline: None,
    };
    d.step();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        match op % 16 {
            0 => {
                d.sim.now += Duration::from_millis(u64::from(arg) * 47);
                d.tick();
            }
            1 => {
                if d.sim.pending_connect.is_some() {
                    d.sim.accept_transport();
                    d.step();
                }
            }
            2 => {
                if d.sim.conn.is_some() {
                    d.sim.drop_transport();
                } else if d.sim.pending_connect.is_some() {
                    d.sim.refuse_transport();
                }
                d.step();
            }
            3 => {
                let n = usize::from(arg);
                let chunk: Vec<u8> = bytes.by_ref().take(n).collect();
                d.feed(&chunk);
            }
            4 => {
                if d.sim.conn.is_some() {
                    let session_id = i64::from(arg / 8 % 4);
                    let timeout_ms = i32::from(arg % 8) * 1000;
                    d.sim
                        .answer_connect(session_id, timeout_ms, arg & 0x80 != 0);
                    d.step();
                }
            }
            5 => {
                if d.sim.conn.is_some() {
                    if let Some(xid) = d.oldest_unanswered() {
                        let err = match arg % 5 {
                            0 | 1 => ErrorCode::Ok,
                            2 => ErrorCode::NoNode,
                            3 => ErrorCode::BadVersion,
                            _ => ErrorCode::from_i32(-(i32::from(arg))),
                        };
                        let body = if arg & 0x20 != 0 {
                            Response::Stat(StatResponse {
                                stat: Stat::default(),
                            })
                        } else {
                            Response::GetData(GetDataResponse {
                                data: Some(Bytes::from(vec![0u8; usize::from(arg) * 40])),
                                stat: Stat::default(),
                            })
                        };
                        d.sim.reply(xid, err, &body);
                        d.step();
                    }
                }
            }
            6 => {
                if d.sim.conn.is_some() {
                    let event_type = EventType::from_i32(i32::from(arg % 6) - 1);
                    let path =
                        ["/chroot/a", "/chroot", "/chroot/a/b", "/other"][usize::from(arg / 8 % 4)];
                    d.sim.notify(event_type, path);
                    d.step();
                }
            }
            7 => {
                let path = ["/a", "/a/b", "/", "bad", "/a/"][usize::from(arg % 5)];
                if arg % 3 == 0 {
                    d.next_deadline = Some(d.sim.now + Duration::from_millis(u64::from(arg) * 20));
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
                let now = d.sim.now;
                d.sim.session.close(now);
                d.step();
            }
            9 => {
                if !d.watches.is_empty() {
                    let w = d.watches.remove(usize::from(arg) % d.watches.len());
                    let now = d.sim.now;
                    d.sim.session.forget_watch(w, now);
                    d.step();
                }
            }
            10 => {
                if let Some((probe, _)) = d.sim.probes.pop() {
                    let now = d.sim.now;
                    d.sim.session.handle_probe_result(
                        probe,
                        [Answer::ReadWrite, Answer::ReadOnly, Answer::Unknown][(arg % 3) as usize],
                        now,
                    );
                    d.step();
                }
            }
            11 => {
                if let Some(&old) = d.sim.closed.last() {
                    let now = d.sim.now;
                    d.sim.session.handle_data(old, &[0, 0, 0, 1, 0], now);
                    d.sim.session.handle_connected(old, None, now);
                    d.sim.session.handle_closed(old, now);
                    d.sim.session.handle_failed(old, "stale", now);
                    d.step();
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
                if d.sim.conn.is_some() {
                    if let Some(xid) = d.oldest_unanswered() {
                        let len = MAX_FRAME + usize::from(arg);
                        let mut out = Vec::with_capacity(len + 4);
                        out.extend_from_slice(&(len as i32).to_be_bytes());
                        ReplyHeader {
                            xid,
                            zxid: Zxid(d.sim.next_zxid),
                            err: ErrorCode::Ok,
                        }
                        .encode(&mut out);
                        out.resize(len + 4, 7);
                        let cut = usize::from(arg) * 20 % out.len();
                        d.feed(&out[..cut]);
                        d.feed(&out[cut..]);
                    }
                }
            }
            _ => d.tick(),
        }
    }
    // Drive to the end: every accepted request must complete exactly once.
    let now = d.sim.now;
    d.sim.session.close(now);
    d.step();
    d.sim.now += Duration::from_secs(3600);
    d.tick();
    assert!(
        d.sim.session.state().is_terminal(),
        "close did not end the session"
    );
    let missing: Vec<_> = d.accepted.difference(&d.completed).collect();
    assert!(missing.is_empty(), "requests never completed: {missing:?}");
}
