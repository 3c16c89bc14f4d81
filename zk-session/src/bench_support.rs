//! A connected session and a canned server reply, for benchmarks and allocation tests of the
//! request path (submit, transmit, receive the reply, poll the completion).

use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_proto::{
    write_frame, write_reply, ConnectResponse, ErrorCode, GetDataResponse, ReplyHeader, Response,
    SessionId, Stat, Xid, Zxid,
};

use crate::{Action, Config, ConnectionId, Event, Session};

/// A session connected to an imaginary server, with a getData reply template to answer it.
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
        let now = Instant::now();
        let mut config = Config::new("127.0.0.1:2181").expect("static connect string");
        config.session_timeout = Duration::from_secs(30);
        config.max_in_flight = 100_000;
        let mut session = Session::new(config, now).expect("valid config");
        let conn = match session.poll_action() {
            Some(Action::Connect { conn, .. }) => conn,
            other => panic!("expected a connect action, got {other:?}"),
        };
        session.handle_connected(conn, now);
        let mut sink = Vec::new();
        session.poll_transmit(now, &mut sink);
        session.handle_data(conn, &ConnectedSession::handshake(), now);
        while session.poll_event().is_some() {}
        let mut reply = Vec::new();
        write_reply(
            &mut reply,
            &ReplyHeader {
                xid: Xid(0),
                zxid: Zxid(42),
                err: ErrorCode::Ok,
            },
            &Response::GetData(GetDataResponse {
                data: Bytes::from(vec![0x5a; data_len]),
                stat: Stat::default(),
            }),
        );
        ConnectedSession {
            session,
            conn,
            now,
            reply,
            next_xid: 1,
        }
    }

    /// The server's handshake frame that accepts session 1 with a 30 s timeout (also right for
    /// resuming it on a new connection).
    pub fn handshake() -> Vec<u8> {
        let mut frame = Vec::new();
        write_frame(
            &mut frame,
            &ConnectResponse {
                protocol_version: 0,
                timeout_ms: 30_000,
                session_id: SessionId(1),
                password: Bytes::from_static(&[0; 16]),
                read_only: false,
            },
        );
        frame
    }

    /// Feeds the reply to the next request in flight (xids are issued in order from 1).
    pub fn answer_next(&mut self) {
        self.reply[4..8].copy_from_slice(&self.next_xid.to_be_bytes());
        self.next_xid += 1;
        self.session.handle_data(self.conn, &self.reply, self.now);
    }

    /// Takes the next completion, if any.
    pub fn next_completion(&mut self) -> Option<crate::Completion> {
        while let Some(event) = self.session.poll_event() {
            if let Event::Completed(c) = event {
                return Some(c);
            }
        }
        None
    }
}
