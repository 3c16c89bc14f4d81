//! Closing a session: with and without the server's reply, while disconnected, and before any
//! session exists.

mod support;

use support::{config, connected, get_data_reply, ms, secs, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{ErrorCode, OpCode, Response, SessionId};
use zk_session::{CommonError, SessionState, WatchNotice};

/// Closed for good: no deadline, no connection, every submission refused with Closed.
fn assert_closed_for_good(sim: &mut Sim) {
    assert_eq!(sim.session.state(), SessionState::Closed);
    assert_eq!(sim.session.poll_timeout(), None);
    assert!(sim.conn.is_none() && sim.pending_connect.is_none());
    assert_eq!(
        sim.session.submit(&ops::GetData::new("/x"), sim.now),
        Err(CommonError::Closed)
    );
    let attempts = sim.connect_actions().len();
    sim.events.clear();
    sim.advance(secs(600));
    assert_eq!(sim.connect_actions().len(), attempts);
    assert!(sim.events.is_empty());
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
fn close_sends_close_session_after_earlier_requests_and_closes_on_its_reply() {
    let mut sim = connected(config("h1:1"));
    let watch = sim.submit(&ops::Exists::new("/w").watch()).watch_id();
    let xid = sim.client_frames()[0].xid();
    sim.reply(xid, ErrorCode::NoNode, &Response::Empty);
    sim.completions();

    let a = sim.submit(&ops::GetData::new("/a"));
    let b = sim.submit(&ops::GetData::new("/b"));
    sim.session.close(sim.now);
    sim.drain();
    assert_eq!(sim.states(), [SessionState::Closing]);
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(
        ops,
        [OpCode::GetData, OpCode::GetData, OpCode::CloseSession]
    );
    assert!(frames[2].xid().0 > frames[1].xid().0);

    // While closing: submissions are refused, earlier requests still complete.
    assert_eq!(
        sim.session.submit(&ops::GetData::new("/late"), sim.now),
        Err(CommonError::Closed)
    );
    sim.reply_ok(frames[0].xid(), get_data_reply(b"d"));
    sim.reply_ok(frames[1].xid(), get_data_reply(b"d"));
    let done = sim.completions();
    assert_eq!(done.iter().map(|c| c.id).collect::<Vec<_>>(), [a, b]);
    assert!(done.iter().all(|c| c.result.is_ok()));
    assert_eq!(sim.session.state(), SessionState::Closing);

    let conn = sim.conn_id();
    sim.reply_ok(frames[2].xid(), Response::Empty);
    assert_eq!(sim.states(), [SessionState::Closing, SessionState::Closed]);
    assert_eq!(sim.disconnects(), [conn]);
    assert_eq!(
        sim.watch_notices(),
        [(watch, WatchNotice::SessionEnded(SessionState::Closed))]
    );
    assert_closed_for_good(&mut sim);
}

#[test]
fn close_without_a_reply_ends_after_the_close_timeout() {
    let mut c = config("h1:1");
    c.close_timeout = secs(3);
    let mut sim = connected(c);
    let pending = sim.submit(&ops::GetData::new("/a"));
    sim.session.close(sim.now);
    sim.drain();
    let frames = sim.client_frames();
    assert_eq!(
        frames.last().map(|f| f.opcode()),
        Some(OpCode::CloseSession)
    );
    let conn = sim.conn_id();
    sim.advance(ms(2_999));
    assert_eq!(sim.session.state(), SessionState::Closing);
    sim.advance(ms(1));
    assert_eq!(sim.states(), [SessionState::Closing, SessionState::Closed]);
    assert_eq!(sim.disconnects(), [conn]);
    let done = sim.completions();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, pending);
    assert_eq!(done[0].result, Err(CommonError::Closed));
    assert_closed_for_good(&mut sim);
}

#[test]
fn losing_the_connection_after_close_session_was_sent_closes_the_session() {
    let mut sim = connected(config("h1:1,h2:2"));
    sim.session.close(sim.now);
    sim.drain();
    assert_eq!(sim.client_frames()[0].opcode(), OpCode::CloseSession);
    // The server closes the socket without a reply: the session is closed, not resumed.
    sim.drop_transport();
    assert_eq!(sim.session.state(), SessionState::Closed);
    assert_closed_for_good(&mut sim);
}

/// A session with `config`, connected, then disconnected, with a getData queued and then
/// closed meanwhile.
fn closed_while_disconnected(config: zk_session::Config) -> (Sim, zk_session::RequestId) {
    let mut sim = connected(config);
    sim.drop_transport();
    let queued = sim.submit(&ops::GetData::new("/q"));
    sim.session.close(sim.now);
    sim.drain();
    assert_eq!(sim.session.state(), SessionState::Closing);
    (sim, queued)
}

#[test]
fn close_while_disconnected_waits_for_a_connection_then_sends_close_session() {
    let mut c = config("h1:1,h2:2");
    c.close_timeout = secs(10);
    let (mut sim, queued) = closed_while_disconnected(c);

    sim.wait_for_connect();
    sim.accept_transport();
    let frames = sim.client_frames();
    let [ClientFrame::Connect(req)] = frames.as_slice() else {
        panic!("expected the ConnectRequest, got {frames:?}");
    };
    assert_eq!(req.session_id, SessionId(1), "closes the session it has");
    sim.answer_connect(1, 30_000, false);
    assert!(
        !sim.states().contains(&SessionState::Connected),
        "a closing session reported Connected"
    );
    let frames = sim.client_frames();
    let ops: Vec<OpCode> = frames.iter().map(|f| f.opcode()).collect();
    assert_eq!(ops, [OpCode::GetData, OpCode::CloseSession]);
    sim.reply_ok(frames[0].xid(), get_data_reply(b"d"));
    assert!(sim.completion(queued).expect("completed").result.is_ok());
    sim.reply_ok(frames[1].xid(), Response::Empty);
    assert_eq!(sim.session.state(), SessionState::Closed);
    assert_closed_for_good(&mut sim);
}

/// Accepts the next connection and resumes session 1 on it; returns the opcodes sent after the
/// handshake.
fn resume_and_take_opcodes(sim: &mut Sim) -> Vec<OpCode> {
    sim.wait_for_connect();
    sim.accept_transport();
    sim.client_frames();
    sim.answer_connect(1, 30_000, false);
    sim.client_frames().iter().map(|f| f.opcode()).collect()
}

#[test]
fn a_fail_fast_session_still_sends_a_close_it_had_not_sent_when_the_connection_dropped() {
    let mut c = config("h1:1,h2:2");
    c.queue_while_disconnected = false;
    c.close_timeout = secs(10);
    let mut sim = connected(c);
    // close() queues closeSession; the connection drops before the driver writes it.
    sim.session.close(sim.now);
    sim.drop_transport();
    sim.drain();
    assert_eq!(sim.session.state(), SessionState::Closing);
    assert_eq!(resume_and_take_opcodes(&mut sim), [OpCode::CloseSession]);
}

#[test]
fn a_close_queued_while_disconnected_outlives_the_queue_timeout() {
    let mut c = config("h1:1,h2:2");
    c.queue_timeout = Some(ms(100));
    c.close_timeout = secs(10);
    let (mut sim, queued) = closed_while_disconnected(c);
    // Refuse connections for a second: the queued call fails, the close stays.
    let until = sim.now + secs(1);
    while sim.now < until {
        assert!(sim.run_until(secs(5), |s| s.pending_connect.is_some()));
        sim.refuse_transport();
    }
    let failed = sim.completion(queued).expect("the queued call expired");
    assert_eq!(failed.result, Err(CommonError::ConnectionLoss));
    assert_eq!(sim.session.state(), SessionState::Closing);
    assert_eq!(resume_and_take_opcodes(&mut sim), [OpCode::CloseSession]);
}

#[test]
fn close_while_disconnected_gives_up_after_the_close_timeout() {
    let mut sim = connected(config("h1:1,h2:2"));
    sim.drop_transport();
    let closed_at = sim.now;
    sim.session.close(sim.now);
    sim.drain();
    // Every server is unreachable.
    while sim.session.state() == SessionState::Closing {
        assert!(sim.run_until(secs(5), |s| {
            s.pending_connect.is_some() || s.session.state() != SessionState::Closing
        }));
        if sim.pending_connect.is_some() {
            sim.refuse_transport();
        }
    }
    assert_eq!(sim.session.state(), SessionState::Closed);
    assert_eq!(sim.now - closed_at, secs(2), "the default close timeout");
    assert_closed_for_good(&mut sim);
}

#[test]
fn close_before_any_session_closes_at_once() {
    let mut sim = Sim::new(config("h1:1"));
    let (conn, _) = sim.pending_connect.clone().expect("connecting");
    let queued = sim.submit(&ops::GetData::new("/q"));
    sim.session.close(sim.now);
    sim.drain();
    assert_eq!(sim.states(), [SessionState::Closed]);
    assert_eq!(sim.disconnects(), [conn]);
    assert_eq!(
        sim.completion(queued).map(|c| c.result),
        Some(Err(CommonError::Closed))
    );
    // A late report about the abandoned attempt changes nothing.
    sim.session.handle_connected(conn, None, sim.now);
    sim.session.handle_data(conn, &[0, 0, 0, 1, 0], sim.now);
    sim.session.handle_closed(conn, sim.now);
    sim.drain();
    assert_eq!(sim.session.state(), SessionState::Closed);
    assert_closed_for_good(&mut sim);
    // Closing again is harmless.
    sim.session.close(sim.now);
    sim.drain();
    assert!(sim.events.is_empty());
}

#[test]
fn losing_the_first_connection_while_closing_it_closes_without_a_new_session() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    sim.wait_for_connect();
    sim.accept_transport();
    sim.client_frames();
    // The handshake is under way: close() queues closeSession behind it.
    sim.session.close(sim.now);
    sim.drain();
    assert_eq!(sim.session.state(), SessionState::Closing);
    let attempts = sim.connect_actions().len();
    sim.drop_transport();
    sim.drain();
    assert_eq!(sim.session.state(), SessionState::Closed);
    sim.advance(secs(10));
    assert_eq!(
        sim.connect_actions().len(),
        attempts,
        "no connection to create a session only to close it"
    );
}
