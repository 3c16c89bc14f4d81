//! A misbehaving server cannot wedge the session, in virtual time: liveness counts complete
//! frames, only a server that confirms the session postpones client-side expiry, a handshake
//! granting session id 0 (or another id) never becomes a new session, a server that drops every
//! connection at once is not retried in a loop, and calls with a deadline end at it.

mod support;

use bytes::{BufMut, BytesMut};
use support::{config, connected, ms, secs, ClientFrame, Sim};
use zk_session::ops;
use zk_session::proto::{ConnectResponse, Request, SessionId, Xid};
use zk_session::{CommonError, DisconnectReason, Event, SessionEnd, SessionState};

/// The first bytes of a reply frame that claims `len` bytes, with a valid header for `xid`.
fn claimed_reply(xid: Xid, len: i32) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_i32(len);
    out.put_i32(xid.0);
    out.put_i64(7);
    out.put_i32(0);
    out.to_vec()
}

/// The xid of the one request the client wrote.
fn sent_xid(sim: &mut Sim) -> Xid {
    let frames = sim.answer_pings();
    let [frame] = frames.as_slice() else {
        panic!("expected one request, got {frames:?}");
    };
    frame.xid()
}

#[test]
fn a_reply_trickled_a_byte_at_a_time_does_not_postpone_the_read_timeout() {
    let mut sim = connected(config("h1:1"));
    let id = sim.submit(&ops::GetData::new("/a"));
    let xid = sent_xid(&mut sim);
    let mut reply = claimed_reply(xid, 16 + 4 + 80);
    reply.resize(4 + 16 + 4 + 80, 0);
    // One byte per second: the 104-byte reply would take 104 s, the read timeout is 20 s.
    for byte in reply.iter().take(19) {
        sim.advance(secs(1));
        sim.server_bytes(&[*byte]);
    }
    assert!(sim.lost().is_empty());
    sim.advance(secs(1));
    assert_eq!(sim.lost(), [DisconnectReason::ReadTimeout]);
    assert_eq!(
        sim.completion(id).map(|c| c.result),
        Some(Err(CommonError::ConnectionLoss))
    );
    assert_eq!(sim.session.state(), SessionState::Disconnected);
}

#[test]
fn a_reply_claiming_two_gigabytes_fails_its_call_and_then_the_read_timeout_drops_the_stream() {
    let mut sim = connected(config("h1:1"));
    let first = sim.submit(&ops::GetData::new("/a"));
    let xid = sent_xid(&mut sim);
    sim.server_bytes(&claimed_reply(xid, i32::MAX));
    assert!(matches!(
        sim.completion(first).map(|c| c.result),
        Some(Err(CommonError::ReplyTooLarge { .. }))
    ));
    let second = sim.submit(&ops::GetData::new("/b"));
    // The server keeps sending filler that never ends the claimed frame, and answers nothing.
    for _ in 0..19 {
        sim.advance(secs(1));
        sim.server_bytes(&[0u8; 4096]);
        assert!(sim.lost().is_empty());
    }
    sim.advance(secs(1));
    assert_eq!(sim.lost(), [DisconnectReason::ReadTimeout]);
    assert_eq!(
        sim.completion(second).map(|c| c.result),
        Some(Err(CommonError::ConnectionLoss))
    );
    // The next connection serves calls again.
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let third = sim.submit(&ops::Exists::new("/c"));
    let xid = sent_xid(&mut sim);
    sim.reply_ok(
        xid,
        zk_session::proto::Response::Stat(zk_session::proto::StatResponse {
            stat: Default::default(),
        }),
    );
    assert!(matches!(
        sim.completion(third).map(|c| c.result),
        Some(Ok(_))
    ));
}

/// A session that had a good first connection, then met `handshake` on every reconnect (each of
/// which must present the original session).
fn expiry_after(handshake: impl Fn(&mut Sim)) -> (Sim, std::time::Duration) {
    let mut sim = connected(config("h1:1"));
    sim.answer_pings();
    let confirmed_at = sim.elapsed();
    sim.drop_transport();
    while sim.session.state() != SessionState::Expired {
        assert!(
            sim.run_until(secs(60), |s| s.pending_connect.is_some()
                || s.session.state() == SessionState::Expired),
            "neither a reconnect nor expiry within a minute"
        );
        if sim.session.state() == SessionState::Expired {
            break;
        }
        sim.accept_transport();
        let presented = match sim.client_frames().first() {
            Some(ClientFrame::Connect(request)) => request.session_id,
            other => panic!("a reconnect began with {other:?}"),
        };
        assert_eq!(
            presented,
            SessionId(1),
            "every reconnect presents the original session"
        );
        handshake(&mut sim);
        if sim.conn.is_some() {
            // The server keeps the connection open; the handshake then times out.
            sim.run_until(secs(60), |s| s.conn.is_none());
        }
        assert!(
            sim.elapsed() < secs(120),
            "still {:?} after two minutes",
            sim.session.state()
        );
    }
    (sim, confirmed_at)
}

#[test]
fn garbage_answers_to_every_reconnect_end_in_client_side_expiry() {
    let (sim, confirmed_at) = expiry_after(|sim| {
        sim.server_bytes(&[0x01, 0x02]);
        sim.drop_transport();
    });
    let expired_after = sim.elapsed() - confirmed_at;
    assert_eq!(
        sim.session.end_reason(),
        Some(&SessionEnd::Unconfirmed {
            since: expired_after
        })
    );
    // 4/3 of the 30 s timeout, counted from the last confirmation; never later.
    assert!(expired_after <= secs(40), "expired after {expired_after:?}");
    assert!(expired_after >= secs(39), "expired after {expired_after:?}");
}

#[test]
fn a_server_granting_session_id_zero_on_reconnect_never_starts_a_new_session() {
    let (sim, confirmed_at) = expiry_after(|sim| {
        sim.answer_connect(0, 30_000, false);
    });
    let expired_after = sim.elapsed() - confirmed_at;
    assert!(expired_after <= secs(40));
    assert_eq!(
        sim.session.end_reason(),
        Some(&SessionEnd::Unconfirmed {
            since: expired_after
        }),
        "id 0 is never a grant: the session ends unconfirmed, not replaced"
    );
    assert!(!sim.states().contains(&SessionState::Connected));
    let lost = sim.lost();
    assert_eq!(lost[0], DisconnectReason::TransportClosed);
    assert!(lost.len() > 1);
    assert!(lost[1..]
        .iter()
        .all(|r| matches!(r, DisconnectReason::ProtocolViolation(_))));
}

/// A fresh session whose first handshake is answered with `response`: it must be refused like
/// any malformed one (a protocol violation, no session taken), never read as an expiry.
fn first_handshake_refused(response: ConnectResponse) -> Sim {
    let mut sim = Sim::new(config("h1:1"));
    sim.accept_transport();
    let _ = sim.client_frames();
    sim.server_frame(&response);
    assert!(matches!(
        sim.lost().as_slice(),
        [DisconnectReason::ProtocolViolation(_)]
    ));
    assert_eq!(sim.session.state(), SessionState::Connecting);
    assert_eq!(sim.session.session_id(), SessionId::NONE);
    sim
}

/// A well-formed grant of session `id`.
fn grant(id: i64, read_only: bool) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout_ms: 30_000,
        session_id: SessionId(id),
        password: bytes::Bytes::from_static(&[0xAB; 16]),
        read_only,
    }
}

#[test]
fn a_first_handshake_granting_session_id_zero_is_refused() {
    first_handshake_refused(grant(0, false));
}

#[test]
fn a_read_only_session_is_refused_when_the_client_did_not_allow_one() {
    first_handshake_refused(grant(5, true));
}

#[test]
fn a_frame_with_another_protocol_version_is_not_taken_for_an_expiry() {
    // A notification's xid (-1) and zxid read as a ConnectResponse: version -1, timeout -1.
    first_handshake_refused(ConnectResponse {
        protocol_version: -1,
        timeout_ms: -1,
        session_id: SessionId(-1),
        password: Default::default(),
        read_only: false,
    });
}

#[test]
fn a_server_that_drops_every_connection_after_its_handshake_is_not_retried_in_a_loop() {
    let mut sim = connected(config("h1:1"));
    let mut attempts = Vec::new();
    for _ in 0..10 {
        sim.drop_transport();
        sim.wait_for_connect();
        attempts.push(sim.now);
        sim.establish(1, 30_000);
    }
    // One host: every attempt is a full pass, so each waits the 1 s pass delay at least.
    for pair in attempts.windows(2) {
        assert!(pair[1] - pair[0] >= secs(1), "{:?}", pair[1] - pair[0]);
    }
    // A connection that lasts a read timeout resets the back-off again.
    sim.serve_pings_for(secs(20));
    sim.drop_transport();
    let lost_at = sim.now;
    sim.wait_for_connect();
    assert!(sim.now - lost_at < secs(1));
}

#[test]
fn a_call_past_its_deadline_fails_with_request_timeout_and_its_late_reply_is_discarded() {
    let mut c = config("h1:1");
    c.max_in_flight = 1;
    let mut sim = connected(c);
    let now = sim.now;
    let id = sim.submit_with_deadline(&ops::GetData::new("/a"), Some(now + ms(500)));
    let xid = sent_xid(&mut sim);
    sim.advance(ms(499));
    assert_eq!(sim.completion(id), None);
    sim.advance(ms(1));
    assert_eq!(
        sim.completion(id).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
    // Still in flight on the wire: it counts against the limit until its reply comes.
    assert!(matches!(
        sim.session.submit(&ops::GetData::new("/b"), sim.now),
        Err(CommonError::TooManyRequests { .. })
    ));
    sim.reply_ok(
        xid,
        zk_session::proto::Response::GetData(zk_session::proto::GetDataResponse {
            data: Default::default(),
            stat: Default::default(),
        }),
    );
    assert!(sim.completions().is_empty(), "exactly one completion");
    assert!(sim.lost().is_empty(), "the connection is kept");
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(sim
        .session
        .submit(&ops::GetData::new("/b"), sim.now)
        .is_ok());
}

#[test]
fn a_call_queued_past_its_deadline_is_never_sent() {
    let mut c = config("h1:1");
    c.call_timeout = Some(secs(2));
    let mut sim = connected(c);
    sim.drop_transport();
    let early = sim.submit(&ops::GetData::new("/early"));
    let kept = sim.submit_with_deadline(&ops::GetData::new("/kept"), None);
    let late = sim.submit(&ops::GetData::new("/late"));
    sim.advance(secs(2));
    for id in [early, late] {
        assert_eq!(
            sim.completion(id).map(|c| c.result),
            Some(Err(CommonError::RequestTimeout))
        );
    }
    assert_eq!(sim.completion(kept), None);
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let paths: Vec<String> = sim
        .answer_pings()
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Request {
                request: Request::GetData(r),
                ..
            } => Some(r.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(paths, ["/kept"]);
}

#[test]
fn a_watching_call_that_timed_out_does_not_keep_the_watch_its_late_reply_set() {
    let mut sim = connected(config("h1:1"));
    let now = sim.now;
    let id = sim.submit_with_deadline(&ops::GetData::new("/w").watch(), Some(now + ms(100)));
    let xid = sent_xid(&mut sim);
    sim.advance(ms(100));
    assert_eq!(
        sim.completion(id).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
    sim.reply_ok(
        xid,
        zk_session::proto::Response::GetData(zk_session::proto::GetDataResponse {
            data: Default::default(),
            stat: Default::default(),
        }),
    );
    assert_eq!(sim.session.watch_count(), 0);
    let removal = sim.answer_pings();
    assert!(
        matches!(
            removal.as_slice(),
            [ClientFrame::Request {
                request: Request::RemoveWatches(_),
                ..
            }]
        ),
        "{removal:?}"
    );
    assert!(!sim
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Completed(_))));
}

#[test]
fn a_server_that_answers_pings_but_not_a_timed_out_call_is_dropped_a_read_timeout_later() {
    let mut c = config("h1:1");
    c.call_timeout = Some(secs(1));
    let mut sim = connected(c);
    let stuck = sim.submit(&ops::GetData::new("/stuck"));
    let _ = sent_xid(&mut sim);
    let behind = sim.submit(&ops::GetData::new("/behind"));
    sim.answer_pings();
    sim.advance(secs(1));
    assert_eq!(
        sim.completion(stuck).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
    // The server answers every ping, never the request; after a read timeout (20 s) more it is
    // taken for stuck.
    for _ in 0..19 {
        sim.advance(secs(1));
        sim.answer_pings();
        assert!(
            sim.lost().is_empty(),
            "dropped early, at {:?}",
            sim.elapsed()
        );
    }
    sim.advance(secs(1));
    assert_eq!(sim.lost(), [DisconnectReason::UnansweredRequest]);
    // The call behind it had timed out too; nothing completes twice.
    assert_eq!(
        sim.completion(behind).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
    assert!(sim.completions().is_empty());
    assert_eq!(sim.session.in_flight(), 0);
    // The session lives on: the next connection resumes it.
    sim.wait_for_connect();
    let request = sim.establish(1, 30_000);
    assert_eq!(request.session_id, SessionId(1));
}

#[test]
fn an_add_auth_that_timed_out_before_any_connection_is_never_presented() {
    let mut sim = connected(config("h1:1"));
    sim.drop_transport();
    let now = sim.now;
    let auth = sim.submit_with_deadline(&ops::AddAuth::digest("u", "p"), Some(now + secs(1)));
    sim.advance(secs(1));
    assert_eq!(
        sim.completion(auth).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
    sim.wait_for_connect();
    sim.establish(1, 30_000);
    let sent = sim.answer_pings();
    assert!(
        !sent.iter().any(|f| matches!(
            f,
            ClientFrame::Request {
                request: Request::Auth(_),
                ..
            }
        )),
        "the withdrawn credential was sent: {sent:?}"
    );
}

#[test]
fn deadlines_of_completed_calls_are_not_kept() {
    let mut c = config("h1:1");
    c.call_timeout = Some(secs(600));
    let mut sim = connected(c);
    let mut state_size_after = Vec::new();
    for round in 0..10_000 {
        let id = sim.submit(&ops::Exists::new("/a"));
        let xid = sent_xid(&mut sim);
        sim.reply_ok(
            xid,
            zk_session::proto::Response::Stat(zk_session::proto::StatResponse {
                stat: Default::default(),
            }),
        );
        assert!(sim.completion(id).is_some());
        if round == 999 || round == 9_999 {
            // The session's whole state, deadlines held included, as its Debug output shows.
            state_size_after.push(format!("{:?}", sim.session).len());
        }
    }
    // Every call completed long before its deadline: none of those deadlines is held, so ten
    // times the calls leave the state the same size.
    assert!(
        state_size_after[1] < state_size_after[0] + 4096,
        "the state grew from {} to {} bytes of Debug output",
        state_size_after[0],
        state_size_after[1]
    );
    // A later call still gets its own deadline.
    let now = sim.now;
    let late = sim.submit_with_deadline(&ops::Exists::new("/late"), Some(now + secs(1)));
    sim.advance(secs(1));
    assert_eq!(
        sim.completion(late).map(|c| c.result),
        Some(Err(CommonError::RequestTimeout))
    );
}

#[test]
fn an_auth_reply_with_no_credential_sent_is_a_protocol_violation_not_an_auth_failure() {
    let mut sim = connected(config("h1:1"));
    sim.reply(
        Xid::AUTH,
        zk_session::proto::ErrorCode::AuthFailed,
        &zk_session::proto::Response::Empty,
    );
    assert!(matches!(
        sim.lost().as_slice(),
        [DisconnectReason::ProtocolViolation(_)]
    ));
    assert_eq!(sim.session.end_reason(), None);
    assert_eq!(sim.session.state(), SessionState::Disconnected);
}
