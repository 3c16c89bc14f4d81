//! Credentials: presented first on every connection, and AUTHFAILED ending the session.

mod support;

use bytes::Bytes;
use support::{config, connected, get_data_reply, secs, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{ErrorCode, OpCode, Request, Response, Xid};
use zk_session::{CommonError, SessionState, WatchNotice};

/// The credential an auth frame carries, checking it travels with xid -4.
fn credential(frame: &ClientFrame) -> (String, Bytes) {
    assert_eq!(frame.xid(), Xid::AUTH, "{frame:?}");
    match frame.request() {
        Request::Auth(p) => (p.scheme.clone(), p.auth.clone()),
        other => panic!("expected an auth packet, got {other:?}"),
    }
}

fn cred(scheme: &str, auth: &'static [u8]) -> (String, Bytes) {
    (scheme.to_owned(), Bytes::from_static(auth))
}

#[test]
fn credentials_are_replayed_first_after_every_reconnect() {
    let mut c = config("h1:1,h2:2");
    c.auth.push(("digest".into(), Bytes::from_static(b"a:1")));
    let mut sim = Sim::new(c);
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(credential(&frames[0]), cred("digest", b"a:1"));
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);

    // Added while connected: sent at once, and completed by its reply.
    let b = sim.submit(&ops::AddAuth::new("digest", Bytes::from_static(b"b:2")));
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(credential(&frames[0]), cred("digest", b"b:2"));
    assert!(sim.completions().is_empty());
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    let done = sim.completions();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, b);
    assert_eq!(done[0].result, Ok(Response::Empty));

    // A watch, so the reconnection has watches to re-register.
    sim.submit(&ops::GetData::new("/w").watch());
    let xid = sim.client_frames()[0].xid();
    sim.reply_ok(xid, get_data_reply(b"d"));
    sim.completions();

    // Added while disconnected, behind a queued request.
    sim.drop_transport();
    let queued = sim.submit(&ops::GetData::new("/g"));
    let c = sim.submit(&ops::AddAuth::new("world", Bytes::from_static(b"c:3")));
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(
        ops,
        [
            OpCode::Auth,
            OpCode::Auth,
            OpCode::Auth,
            OpCode::SetWatches,
            OpCode::GetData
        ]
    );
    let creds: Vec<_> = frames[..3].iter().map(credential).collect();
    assert_eq!(
        creds,
        [
            cred("digest", b"a:1"),
            cred("digest", b"b:2"),
            cred("world", b"c:3")
        ]
    );
    // The AddAuth made while disconnected completes with its own (third) auth reply.
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    assert!(sim.completions().is_empty());
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    assert_eq!(
        sim.completions().iter().map(|c| c.id).collect::<Vec<_>>(),
        [c]
    );
    sim.reply_ok(frames[3].xid(), Response::Empty);
    sim.reply_ok(frames[4].xid(), get_data_reply(b"d"));
    assert_eq!(
        sim.completions().iter().map(|c| c.id).collect::<Vec<_>>(),
        [queued]
    );

    // And again on the next connection: all three, before SetWatches.
    sim.reconnect(1);
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(
        ops,
        [OpCode::Auth, OpCode::Auth, OpCode::Auth, OpCode::SetWatches]
    );
    let again: Vec<_> = frames[..3].iter().map(credential).collect();
    assert_eq!(again, creds);
}

#[test]
fn a_credential_added_during_the_handshake_waits_for_the_response() {
    let mut sim = Sim::new(config("h1:1"));
    sim.accept_transport();
    assert_eq!(sim.client_frames().len(), 1, "the ConnectRequest");
    let id = sim.submit(&ops::AddAuth::digest("u", "p"));
    assert!(sim.client_frames().is_empty(), "wrote during the handshake");
    sim.answer_connect(1, 30_000, false);
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(credential(&frames[0]), cred("digest", b"u:p"));
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    assert_eq!(
        sim.completion(id).map(|c| c.result),
        Some(Ok(Response::Empty))
    );
}

#[test]
fn auth_failed_on_an_added_credential_ends_the_session() {
    let mut sim = connected(config("h1:1,h2:2"));
    let watch = sim.submit(&ops::Exists::new("/e").watch());
    let xid = sim.client_frames()[0].xid();
    sim.reply(xid, ErrorCode::NoNode, &Response::Empty);
    sim.completions();

    let pending = sim.submit(&ops::GetData::new("/x"));
    let auth = sim.submit(&ops::AddAuth::new("bogus", Bytes::from_static(b"?")));
    let conn = sim.conn_id();
    assert_eq!(sim.client_frames().len(), 2);
    sim.reply(Xid::AUTH, ErrorCode::AuthFailed, &Response::Empty);

    assert_eq!(sim.states(), [SessionState::AuthFailed]);
    assert_eq!(
        sim.session.end_reason(),
        Some(&zk_session::SessionEnd::AuthFailed {
            scheme: "bogus".into()
        })
    );
    assert_eq!(sim.disconnects(), [conn]);
    let done = sim.completions();
    assert_eq!(done.len(), 2);
    for c in &done {
        assert!([pending, auth].contains(&c.id));
        assert_eq!(c.result, Err(CommonError::AuthFailed));
    }
    assert_eq!(
        sim.watch_notices(),
        [(
            watch.watch_id(),
            WatchNotice::SessionEnded(SessionState::AuthFailed)
        )]
    );
    assert_terminal_auth_failed(&mut sim);
}

#[test]
fn auth_failed_on_a_replayed_credential_fails_every_queued_request() {
    let mut c = config("h1:1,h2:2");
    c.auth.push(("digest".into(), Bytes::from_static(b"a:1")));
    let mut sim = connected(c);
    sim.reply(Xid::AUTH, ErrorCode::Ok, &Response::Empty);
    sim.drop_transport();
    let queued = [
        sim.submit(&ops::GetData::new("/q1")),
        sim.submit(&ops::GetData::new("/q2")),
    ];
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let ops: Vec<OpCode> = sim.client_frames().iter().map(|f| f.opcode()).collect();
    assert_eq!(ops, [OpCode::Auth, OpCode::GetData, OpCode::GetData]);
    sim.reply(Xid::AUTH, ErrorCode::AuthFailed, &Response::Empty);
    assert_eq!(sim.session.state(), SessionState::AuthFailed);
    let done = sim.completions();
    assert_eq!(done.iter().map(|c| c.id).collect::<Vec<_>>(), queued);
    assert!(done
        .iter()
        .all(|c| c.result == Err(CommonError::AuthFailed)));
    assert_terminal_auth_failed(&mut sim);
}

fn assert_terminal_auth_failed(sim: &mut Sim) {
    assert_eq!(sim.session.poll_timeout(), None);
    assert_eq!(
        sim.session.submit(&ops::GetData::new("/y"), sim.now),
        Err(CommonError::AuthFailed)
    );
    let attempts = sim.connect_actions().len();
    sim.events.clear();
    sim.advance(secs(600));
    assert_eq!(sim.connect_actions().len(), attempts);
    assert!(sim.events.is_empty());
    assert_eq!(sim.session.state(), SessionState::AuthFailed);
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
fn a_credential_added_behind_undrained_requests_keeps_call_order_on_the_wire() {
    let mut sim = Sim::new(config("h1:1"));
    sim.establish(1, 30_000);
    // Submit without draining in between, as a driver that batches its writes would.
    let now = sim.now;
    sim.session
        .submit(&ops::GetData::new("/before"), now)
        .expect("accepted");
    sim.session
        .submit(
            &ops::AddAuth::new("digest", Bytes::from_static(b"u:p")),
            now,
        )
        .expect("accepted");
    sim.session
        .submit(&ops::GetData::new("/after"), now)
        .expect("accepted");
    sim.drain();
    let ops: Vec<OpCode> = sim.client_frames().iter().map(|f| f.opcode()).collect();
    assert_eq!(ops, [OpCode::GetData, OpCode::Auth, OpCode::GetData]);
}
