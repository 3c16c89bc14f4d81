//! Inputs tagged with a connection that is no longer current are ignored.

mod support;

use bytes::{Bytes, BytesMut};
use support::{config, connected, get_data_reply, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{self, ErrorCode, ReplyHeader, Response, SessionId, Zxid};
use zk_session::{Action, ConnectionId, SessionState};

/// A well-formed reply frame for `xid` that would complete a request if it were accepted.
fn reply_bytes(xid: proto::Xid) -> Vec<u8> {
    let mut out = BytesMut::new();
    proto::write_reply(
        &mut out,
        &ReplyHeader {
            xid,
            zxid: Zxid(9_999),
            err: ErrorCode::Ok,
        },
        &get_data_reply(b"stale"),
    );
    out.to_vec()
}

/// Feeds every kind of input for `stale` and checks none had any effect but closing it.
fn assert_ignored(sim: &mut Sim, stale: ConnectionId, xid: proto::Xid) {
    let state = sim.session.state();
    let zxid = sim.session.last_zxid_seen();
    let in_flight = sim.session.in_flight();
    sim.events.clear();
    sim.actions.clear();
    sim.session.handle_data(stale, &reply_bytes(xid), sim.now);
    sim.session
        .handle_data(stale, &[0xFF, 0xFF, 0xFF, 0xFF], sim.now);
    sim.session.handle_closed(stale, sim.now);
    sim.session.handle_connected(stale, None, sim.now);
    sim.drain();
    assert!(
        sim.events.is_empty(),
        "stale input made events: {:?}",
        sim.events
    );
    assert!(
        sim.actions
            .iter()
            .all(|a| *a == Action::Disconnect { conn: stale }),
        "stale input made actions: {:?}",
        sim.actions
    );
    assert_eq!(sim.session.state(), state);
    assert_eq!(sim.session.last_zxid_seen(), zxid);
    assert_eq!(sim.session.in_flight(), in_flight);
    assert!(
        sim.client_frames().is_empty(),
        "stale input made the client write"
    );
}

#[test]
fn inputs_for_an_old_connection_are_ignored_once_a_new_one_is_up() {
    let mut sim = connected(config("h1:1,h2:2"));
    let old = sim.conn_id();
    sim.drop_transport();
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    sim.client_frames();
    assert_ne!(sim.conn_id(), old);

    let id = sim.submit(&ops::GetData::new("/a"));
    let frames = sim.client_frames();
    assert_ignored(&mut sim, old, frames[0].xid());
    assert_eq!(sim.session.state(), SessionState::Connected);

    // The live connection is untouched: its reply still completes the request.
    sim.reply_ok(frames[0].xid(), get_data_reply(b"live"));
    let c = sim.completion(id).expect("completed");
    let Ok(Response::GetData(r)) = c.result else {
        panic!("{:?}", c.result);
    };
    assert_eq!(r.data.as_deref(), Some(&b"live"[..]));
    assert!(sim.completions().is_empty());
}

#[test]
fn inputs_for_an_old_attempt_are_ignored_while_the_next_one_is_connecting() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    let (first, _) = sim.pending_connect.clone().expect("connecting");
    sim.refuse_transport();
    sim.wait_for_connect();
    let (second, _) = sim.pending_connect.clone().expect("connecting again");
    assert_ne!(first, second);

    // A late "connected" for the abandoned attempt must not start a handshake.
    sim.events.clear();
    sim.actions.clear();
    sim.session.handle_connected(first, None, sim.now);
    sim.session.handle_data(first, &[0, 0, 0, 0], sim.now);
    sim.session.handle_closed(first, sim.now);
    sim.drain();
    assert!(sim.events.is_empty(), "{:?}", sim.events);
    assert_eq!(sim.actions, [Action::Disconnect { conn: first }]);
    assert_eq!(sim.pending_connect.as_ref().map(|c| c.0), Some(second));

    // The current attempt proceeds normally.
    sim.accept_transport();
    let frames = sim.client_frames();
    assert!(matches!(frames.as_slice(), [ClientFrame::Connect(_)]));
    sim.answer_connect(5, 30_000, false);
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert_eq!(sim.session.session_id(), SessionId(5));
}

#[test]
fn a_handshake_reply_on_an_old_connection_is_ignored() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    sim.accept_transport();
    let old = sim.conn_id();
    sim.client_frames();
    sim.drop_transport();
    sim.wait_for_connect();
    sim.accept_transport();
    sim.client_frames();
    sim.events.clear();

    // The first server answers late, on the dead connection.
    let mut out = BytesMut::new();
    proto::write_frame(
        &mut out,
        &proto::ConnectResponse {
            protocol_version: 0,
            timeout_ms: 30_000,
            session_id: SessionId(0x0D),
            password: Bytes::from_static(&[1; 16]),
            read_only: false,
        },
    );
    sim.session.handle_data(old, &out, sim.now);
    sim.drain();
    assert!(sim.events.is_empty());
    assert_eq!(sim.session.state(), SessionState::Connecting);
    assert_eq!(sim.session.session_id(), SessionId(0));
    sim.answer_connect(0x0E, 30_000, false);
    assert_eq!(sim.session.session_id(), SessionId(0x0E));
}
