//! The frame limit: oversized replies fail their request and are skipped, oversized requests are
//! refused, and a negative length is a protocol violation.

mod support;

use bytes::{BufMut, Bytes, BytesMut};
use support::{config, connected, Sim};
use zk_session::ops;
use zk_session::proto::{self, ErrorCode, GetDataResponse, ReplyHeader, Response, Stat, Xid, Zxid};
use zk_session::{CommonError, DisconnectReason, SessionState};

const MAX: usize = 4096;

fn limited() -> Sim {
    let mut c = config("h1:1");
    c.max_frame_len = MAX;
    connected(c)
}

/// A reply frame announcing `len` bytes (header included) for `xid`.
fn oversized_reply(xid: Xid, zxid: i64, len: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_i32(len as i32);
    out.put_i32(xid.0);
    out.put_i64(zxid);
    out.put_i32(0);
    out.put_bytes(0xEE, len - 16);
    out.to_vec()
}

fn data_reply(xid: Xid, zxid: i64, data: &'static [u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    proto::write_reply(
        &mut out,
        &ReplyHeader {
            xid,
            zxid: Zxid(zxid),
            err: ErrorCode::Ok,
        },
        &Response::GetData(GetDataResponse {
            data: Some(Bytes::from_static(data)),
            stat: Stat::default(),
        }),
    );
    out.to_vec()
}

/// Sends a big reply then a small one, `chunk` bytes per read, and checks the outcome.
fn oversized_then_normal(chunk: usize) {
    let mut sim = limited();
    let conn = sim.conn_id();
    let big = sim.submit(&ops::GetData::new("/big").watch());
    let small = sim.submit(&ops::GetData::new("/small"));
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 2);
    let mut stream = oversized_reply(frames[0].xid(), 500, 5_000);
    stream.extend(data_reply(frames[1].xid(), 501, b"small"));
    for piece in stream.chunks(chunk) {
        sim.server_bytes(piece);
    }

    assert!(sim.lost().is_empty(), "chunk {chunk}: {:?}", sim.lost());
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(sim.disconnects().is_empty());
    assert_eq!(sim.conn_id(), conn);
    let done = sim.completions();
    assert_eq!(done.len(), 2, "chunk {chunk}: {done:?}");
    assert_eq!(done[0].id, big);
    assert_eq!(
        done[0].result,
        Err(CommonError::ReplyTooLarge {
            len: 5_000,
            max: MAX
        })
    );
    assert_eq!(done[1].id, small);
    let Ok(Response::GetData(r)) = &done[1].result else {
        panic!("chunk {chunk}: {:?}", done[1].result);
    };
    assert_eq!(r.data.as_deref(), Some(&b"small"[..]));
    assert_eq!(sim.session.last_zxid_seen(), Zxid(501));
    // The failed read set no watch, and nothing was re-sent.
    assert_eq!(sim.session.watch_count(), 0);
    assert!(sim.client_frames().is_empty());
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
fn an_oversized_reply_fails_its_request_and_keeps_the_connection() {
    oversized_then_normal(usize::MAX);
}

#[test]
fn an_oversized_reply_split_across_many_reads_is_skipped_and_the_next_reply_still_matches() {
    // Splits inside the length prefix, inside the reply header, inside the skipped body, and
    // across the boundary with the next frame.
    for chunk in [1, 2, 3, 5, 7, 13, 19, 100, 1000, 4095, 4999, 5003] {
        oversized_then_normal(chunk);
    }
}

#[test]
fn a_request_over_the_limit_is_refused_at_submission() {
    let mut sim = limited();
    // setData "/a": header 8 + path 4+2 + data 4+n + version 4 = 22 + n bytes.
    let fits = ops::SetData::new("/a", vec![0u8; MAX - 22]);
    let too_big = ops::SetData::new("/a", vec![0u8; MAX - 21]);
    assert_eq!(
        sim.session.submit(&too_big, sim.now),
        Err(CommonError::RequestTooLarge {
            len: MAX + 1,
            max: MAX
        })
    );
    sim.drain();
    assert!(sim.client_frames().is_empty(), "a refused request was sent");
    assert_eq!(sim.session.in_flight(), 0);
    assert!(sim.completions().is_empty(), "a refused request completed");

    sim.submit(&fits);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(sim.session.state(), SessionState::Connected);
}

#[test]
fn a_negative_frame_length_is_a_protocol_violation() {
    let mut sim = limited();
    let conn = sim.conn_id();
    let pending = sim.submit(&ops::GetData::new("/a"));
    sim.client_frames();
    sim.server_bytes(&[0xFF, 0xFF]);
    assert!(sim.lost().is_empty(), "judged an incomplete prefix");
    sim.server_bytes(&[0xFF, 0xFE, 0, 0, 0]);
    assert!(matches!(
        sim.lost().as_slice(),
        [DisconnectReason::ProtocolViolation(_)]
    ));
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    assert_eq!(sim.disconnects(), [conn]);
    assert_eq!(
        sim.completion(pending).map(|c| c.result),
        Some(Err(CommonError::ConnectionLoss))
    );
}

#[test]
fn has_transmit_says_whether_poll_transmit_has_bytes() {
    let mut sim = Sim::new(config("127.0.0.1:2181"));
    let mut out = Vec::new();
    // Disconnected: requests wait, nothing can be written.
    let _queued = sim.session.submit(&ops::Exists::new("/a"), sim.now);
    assert!(!sim.session.has_transmit());
    assert_eq!(sim.session.poll_transmit(sim.now, &mut out), 0);
    // Handshaking: the ConnectRequest only.
    let (conn, _) = sim
        .pending_connect
        .take()
        .expect("the session asked to connect");
    sim.session.handle_connected(conn, None, sim.now);
    assert!(sim.session.has_transmit());
    assert!(sim.session.poll_transmit(sim.now, &mut out) > 0);
    assert!(
        !sim.session.has_transmit(),
        "the queued request waits for the handshake"
    );
    assert_eq!(sim.session.poll_transmit(sim.now, &mut out), 0);
}

#[test]
fn has_transmit_sees_requests_and_pings_once_connected() {
    let mut sim = connected(config("127.0.0.1:2181"));
    let mut out = Vec::new();
    sim.session.poll_transmit(sim.now, &mut out);
    assert!(!sim.session.has_transmit());
    let _call = sim.session.submit(&ops::Exists::new("/a"), sim.now);
    assert!(sim.session.has_transmit(), "a request to write");
    assert!(sim.session.poll_transmit(sim.now, &mut out) > 0);
    assert!(!sim.session.has_transmit());
    // The ping timer queues a ping: a driver that writes only when told must see it.
    let ping_at = sim.session.poll_timeout().expect("a ping deadline");
    sim.session.handle_timeout(ping_at);
    assert!(sim.session.has_transmit(), "a ping to write");
}
