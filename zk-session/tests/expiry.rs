//! Session expiry, told by the server or detected locally, and its stickiness.

mod support;

use std::collections::HashMap;

use bytes::Bytes;
use support::{config, connected, get_data_reply, ms, secs, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{AddWatchMode, ErrorCode, ErrorResponse, Response, SessionId};
use zk_session::{CommonError, Event, RequestId, SessionState, WatchId, WatchNotice};

/// Replies to the single request the client just wrote.
fn answer(sim: &mut Sim, response: Response) {
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 1, "{frames:?}");
    sim.reply_ok(frames[0].xid(), response);
}

/// Every completion so far, by request, checking none completed twice.
fn completions_once(sim: &mut Sim) -> HashMap<RequestId, Result<Response, CommonError>> {
    let mut map = HashMap::new();
    for c in sim.completions() {
        assert!(
            map.insert(c.id, c.result).is_none(),
            "{:?} completed twice",
            c.id
        );
    }
    map
}

/// A session with a one-shot and a persistent watch, two requests lost in flight with the
/// connection and three submissions (one an AddAuth) queued while reconnecting, now in the
/// middle of the handshake with the next server. Returns (watches, in-flight ids, queued ids).
fn session_with_work_in_the_handshake() -> (Sim, Vec<WatchId>, Vec<RequestId>, Vec<RequestId>) {
    let mut sim = connected(config("h1:1,h2:2"));
    let one_shot = sim.submit(&ops::GetData::new("/d").watch());
    answer(&mut sim, get_data_reply(b"d"));
    let persistent = sim.submit(&ops::AddWatch::new("/p", AddWatchMode::Persistent));
    answer(
        &mut sim,
        Response::AddWatch(ErrorResponse { err: ErrorCode::Ok }),
    );
    assert_eq!(sim.session.watch_count(), 2);
    sim.completions();

    let in_flight = vec![
        sim.submit(&ops::GetData::new("/a")),
        sim.submit(&ops::GetData::new("/b")),
    ];
    assert_eq!(sim.client_frames().len(), 2);
    sim.drop_transport();
    let queued = vec![
        sim.submit(&ops::GetData::new("/q1")),
        sim.submit(&ops::Create::new("/q2", Bytes::new())),
        sim.submit(&ops::AddAuth::digest("u", "p")),
    ];
    sim.wait_for_connect();
    sim.accept_transport();
    let frames = sim.client_frames();
    let [ClientFrame::Connect(req)] = frames.as_slice() else {
        panic!("expected the ConnectRequest, got {frames:?}");
    };
    assert_eq!(req.session_id, SessionId(1));
    (
        sim,
        vec![one_shot.watch_id(), persistent.watch_id()],
        in_flight,
        queued,
    )
}

/// After expiry: no connection is ever attempted again, no deadline is left, every submission
/// fails at once with SessionExpired, and nothing changes the state.
fn assert_expired_for_good(sim: &mut Sim) {
    assert_eq!(sim.session.state(), SessionState::Expired);
    assert_eq!(sim.session.poll_timeout(), None);
    assert!(sim.pending_connect.is_none());
    assert!(sim.conn.is_none());
    let attempts = sim.connect_actions().len();
    sim.events.clear();
    sim.advance(secs(600));
    assert_eq!(sim.connect_actions().len(), attempts, "a new connection");
    assert_eq!(
        sim.session.submit(&ops::GetData::new("/x"), sim.now),
        Err(CommonError::SessionExpired)
    );
    assert_eq!(
        sim.session.submit(&ops::AddAuth::digest("u", "p"), sim.now),
        Err(CommonError::SessionExpired)
    );
    sim.session.close(sim.now);
    sim.drain();
    assert!(
        sim.events.is_empty(),
        "events after expiry: {:?}",
        sim.events
    );
    assert_eq!(sim.session.state(), SessionState::Expired);
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
fn a_zero_timeout_in_the_connect_response_expires_the_session_and_fails_everything_once() {
    let (mut sim, watches, in_flight, queued) = session_with_work_in_the_handshake();
    let conn = sim.conn_id();
    sim.answer_connect(0, 0, false);

    assert_eq!(
        sim.states(),
        [SessionState::Disconnected, SessionState::Expired]
    );
    assert_eq!(
        sim.session.end_reason(),
        Some(&zk_session::SessionEnd::ExpiredByServer)
    );
    assert!(sim.disconnects().contains(&conn));
    let done = completions_once(&mut sim);
    assert_eq!(done.len(), 5);
    for id in &in_flight {
        assert_eq!(done[id], Err(CommonError::ConnectionLoss));
    }
    for id in &queued {
        assert_eq!(done[id], Err(CommonError::SessionExpired));
    }
    let notices = sim.watch_notices();
    assert_eq!(
        notices,
        watches
            .iter()
            .map(|w| (*w, WatchNotice::SessionEnded(SessionState::Expired)))
            .collect::<Vec<_>>()
    );
    assert_eq!(sim.session.watch_count(), 0);
    assert_expired_for_good(&mut sim);
}

#[test]
fn another_session_id_than_the_one_resumed_expires_the_session() {
    let (mut sim, watches, _, queued) = session_with_work_in_the_handshake();
    sim.answer_connect(2, 30_000, false);
    assert_eq!(sim.session.state(), SessionState::Expired);
    assert_eq!(
        sim.session.end_reason(),
        Some(&zk_session::SessionEnd::Replaced {
            presented: SessionId(1),
            granted: SessionId(2)
        })
    );
    assert!(
        !sim.states().contains(&SessionState::Connected),
        "continued with a new session"
    );
    assert_ne!(sim.session.session_id(), SessionId(2));
    let done = completions_once(&mut sim);
    for id in &queued {
        assert_eq!(done[id], Err(CommonError::SessionExpired));
    }
    let notices = sim.watch_notices();
    assert_eq!(notices.len(), watches.len());
    assert!(notices
        .iter()
        .all(|(_, n)| *n == WatchNotice::SessionEnded(SessionState::Expired)));
    assert_expired_for_good(&mut sim);
}

#[test]
fn a_session_resumed_from_the_config_expires_when_the_server_answers_with_another_id() {
    let mut c = config("h1:1");
    c.resume = Some((SessionId(0x42), Bytes::from_static(&[7; 16])));
    let mut sim = Sim::new(c);
    let queued = sim.submit(&ops::GetData::new("/q"));
    sim.accept_transport();
    let frames = sim.client_frames();
    let [ClientFrame::Connect(req)] = frames.as_slice() else {
        panic!("expected the ConnectRequest, got {frames:?}");
    };
    assert_eq!(req.session_id, SessionId(0x42));
    assert_eq!(&req.password[..], &[7; 16]);
    sim.answer_connect(0x43, 30_000, false);
    assert_eq!(sim.states(), [SessionState::Expired]);
    assert_eq!(
        sim.completion(queued).map(|c| c.result),
        Some(Err(CommonError::SessionExpired))
    );
    assert_expired_for_good(&mut sim);
}

/// Refuses every connection attempt (alternating a refused TCP connect with a transport that
/// opens and never answers the handshake) until the session ends or `limit` passes.
fn fail_every_attempt(sim: &mut Sim, limit: std::time::Duration) {
    let end = sim.now + limit;
    let mut accept = false;
    while sim.now < end && !sim.session.state().is_terminal() {
        let left = end - sim.now;
        if !sim.run_until(left, |s| {
            s.pending_connect.is_some() || s.session.state().is_terminal()
        }) {
            // Nothing is due before the end.
            let rest = end - sim.now;
            sim.advance(rest);
            break;
        }
        if sim.pending_connect.is_some() {
            if accept {
                sim.accept_transport();
            } else {
                sim.refuse_transport();
            }
            accept = !accept;
        }
    }
}

#[test]
fn client_side_expiry_ends_the_session_four_thirds_of_the_timeout_after_last_hearing_a_server() {
    let mut sim = connected(config("h1:1,h2:2"));
    let watch = sim.submit(&ops::Exists::new("/e").watch());
    sim.advance(secs(5));
    // The last thing ever heard from a server: at 5 s.
    let xid = sim.client_frames()[0].xid();
    sim.reply(xid, ErrorCode::NoNode, &Response::Empty);
    sim.advance(secs(1));
    sim.drop_transport();
    let queued = sim.submit(&ops::GetData::new("/q"));
    sim.events.clear();

    fail_every_attempt(&mut sim, ms(38_999));
    assert_eq!(sim.elapsed(), ms(44_999));
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    fail_every_attempt(&mut sim, ms(1));
    assert_eq!(sim.session.state(), SessionState::Expired);
    assert_eq!(sim.elapsed(), secs(45), "5 s + 4/3 x 30 s");
    assert_eq!(
        sim.events
            .iter()
            .filter(|e| matches!(e, Event::State(SessionState::Expired)))
            .count(),
        1
    );
    assert_eq!(
        sim.watch_notices(),
        [(
            watch.watch_id(),
            WatchNotice::SessionEnded(SessionState::Expired)
        )]
    );
    // The queued request timed out of the queue (30 s) or met the expiry: either way, once.
    let done = completions_once(&mut sim);
    assert_eq!(done.len(), 1);
    assert!(done[&queued].is_err());
    assert_expired_for_good(&mut sim);
}

#[test]
fn without_client_side_expiry_the_session_keeps_trying_and_can_resume() {
    let mut c = config("h1:1,h2:2");
    c.client_side_expiry = false;
    let mut sim = connected(c);
    sim.drop_transport();
    let before = sim.connect_actions().len();
    fail_every_attempt(&mut sim, secs(600));
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    assert!(sim.session.poll_timeout().is_some());
    // Half the attempts wait out a 15 s connect timeout: about 70 in 10 minutes.
    assert!(
        sim.connect_actions().len() - before > 50,
        "only {} attempts in 10 minutes",
        sim.connect_actions().len() - before
    );
    if sim.conn.is_some() {
        sim.drop_transport();
    }
    sim.wait_for_connect();
    let req = sim.establish(1, 30_000);
    assert_eq!(req.session_id, SessionId(1));
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(!sim.states().contains(&SessionState::Expired));
}

#[test]
fn hearing_from_a_server_during_reconnection_restarts_the_client_side_expiry_clock() {
    let mut sim = connected(config("h1:1,h2:2"));
    sim.drop_transport();
    fail_every_attempt(&mut sim, secs(30));
    if sim.conn.is_some() {
        sim.drop_transport();
    }
    // At about 30 s a server takes the session back; it is lost again at once.
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let heard_at = sim.elapsed();
    sim.drop_transport();
    fail_every_attempt(&mut sim, secs(39));
    assert_ne!(sim.session.state(), SessionState::Expired);
    fail_every_attempt(&mut sim, secs(2));
    assert_eq!(sim.session.state(), SessionState::Expired);
    assert_eq!(sim.elapsed() - heard_at, secs(40));
}
