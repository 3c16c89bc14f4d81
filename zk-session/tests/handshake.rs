//! Handshake, request order and request lifecycle, against a scripted server in virtual time.

mod support;

use std::time::Duration;
use zk_session::probe::Answer;

use bytes::Bytes;
use support::{config, get_data_reply, ClientFrame, Sim};
use zk_session::ops::{self, Operation};
use zk_session::proto::{ErrorCode, Request, Response, SessionId, Stat, StatResponse, Xid, Zxid};
use zk_session::{CommonError, DisconnectReason, Event, SessionState};

#[test]
fn handshake_sends_only_the_connect_request_until_the_response() {
    let mut config = config("127.0.0.1:2181");
    config
        .auth
        .push(("digest".into(), Bytes::from_static(b"u:p")));
    let mut sim = Sim::new(config);
    let queued = sim.submit(&ops::GetData::new("/a"));
    sim.accept_transport();
    let frames = sim.client_frames();
    let [ClientFrame::Connect(req)] = frames.as_slice() else {
        panic!("only the ConnectRequest may be written first, got {frames:?}");
    };
    assert_eq!(req.session_id, SessionId(0));
    assert_eq!(&req.password[..], &[0u8; 16]);
    assert_eq!(req.timeout_ms, 30_000);
    assert_eq!(req.protocol_version, 0);

    // Time passes and more work arrives: still nothing may be written.
    let later = sim.submit(&ops::Exists::new("/b"));
    sim.advance(Duration::from_secs(5));
    assert!(sim.client_frames().is_empty(), "wrote during the handshake");

    sim.answer_connect(0x77, 30_000, false);
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert_eq!(sim.session.session_id(), SessionId(0x77));
    assert_eq!(
        sim.session.negotiated_timeout(),
        Some(Duration::from_secs(30))
    );
    let frames = sim.client_frames();
    let ops: Vec<_> = frames.iter().map(|f| f.opcode()).collect();
    use zk_session::proto::OpCode;
    assert_eq!(ops, [OpCode::Auth, OpCode::GetData, OpCode::Exists]);
    assert_eq!(frames[0].xid(), Xid::AUTH);
    assert!(frames[1].xid().0 < frames[2].xid().0);
    let _ = (queued, later);
}

#[test]
fn queued_requests_go_out_in_submission_order_after_reconnect() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    sim.establish(1, 30_000);
    sim.drop_transport();
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    let ids: Vec<_> = (0..5)
        .map(|i| sim.submit(&ops::GetData::new(format!("/n{i}"))))
        .collect();
    sim.run_until(Duration::from_secs(5), |s| s.pending_connect.is_some());
    let req = sim.establish(1, 30_000);
    assert_eq!(req.session_id, SessionId(1), "the session is resumed");
    let frames = sim.client_frames();
    let paths: Vec<String> = frames
        .iter()
        .map(|f| match f.request() {
            Request::GetData(r) => r.path.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(paths, ["/n0", "/n1", "/n2", "/n3", "/n4"]);
    for f in &frames {
        sim.reply_ok(f.xid(), get_data_reply(b"x"));
    }
    let done: Vec<_> = sim.completions().into_iter().map(|c| c.id).collect();
    assert_eq!(done, ids);
}

#[test]
fn in_flight_requests_fail_with_connection_loss_exactly_once() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    sim.establish(1, 30_000);
    let ids: Vec<_> = (0..3)
        .map(|i| sim.submit(&ops::GetData::new(format!("/n{i}"))))
        .collect();
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 3);
    sim.drop_transport();
    let completions = sim.completions();
    assert_eq!(completions.len(), 3);
    for (c, id) in completions.iter().zip(&ids) {
        assert_eq!(c.id, *id);
        assert_eq!(c.result, Err(CommonError::ConnectionLoss));
    }
    // A late reply on a new connection cannot complete them again.
    sim.run_until(Duration::from_secs(5), |s| s.pending_connect.is_some());
    sim.establish(1, 30_000);
    let _ = sim.client_frames();
    assert!(sim.completions().is_empty());
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
fn xid_out_of_order_drops_the_connection() {
    let mut sim = Sim::new(config("h1:1"));
    sim.establish(1, 30_000);
    let a = sim.submit(&ops::GetData::new("/a"));
    let b = sim.submit(&ops::GetData::new("/b"));
    let frames = sim.client_frames();
    sim.reply_ok(frames[1].xid(), get_data_reply(b"b"));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::ConnectionLost(DisconnectReason::ProtocolViolation(_))
    )));
    assert_eq!(sim.session.state(), SessionState::Disconnected);
    let done = sim.completions();
    assert_eq!(done.len(), 2);
    assert!(done
        .iter()
        .all(|c| c.result == Err(CommonError::ConnectionLoss)));
    assert_eq!(done[0].id, a);
    assert_eq!(done[1].id, b);
}

#[test]
fn replies_complete_typed_operations_and_advance_last_zxid() {
    let mut sim = Sim::new(config("h1:1"));
    sim.establish(1, 30_000);
    let op = ops::SetData::new("/a", Bytes::from_static(b"v")).version(3);
    let id = sim.submit(&op);
    let frames = sim.client_frames();
    sim.reply(frames[0].xid(), ErrorCode::BadVersion, &Response::Empty);
    let c = sim.completion(id).expect("completed");
    let error = op.complete(c.result).expect_err("BADVERSION");
    assert_eq!(error, ops::SetDataError::BadVersion { expected: 3 });
    assert_eq!(
        error.to_string(),
        "set_data /a: version mismatch (BADVERSION): expected version 3"
    );
    assert_eq!(sim.session.last_zxid_seen(), Zxid(sim.next_zxid));

    let id = sim.submit(&ops::SetData::new("/a", Bytes::from_static(b"v")));
    let frames = sim.client_frames();
    let stat = Stat {
        version: 4,
        ..Default::default()
    };
    sim.reply_ok(frames[0].xid(), Response::Stat(StatResponse { stat }));
    let c = sim.completion(id).expect("completed");
    assert_eq!(
        ops::SetData::new("/a", Bytes::new())
            .complete(c.result)
            .unwrap()
            .version,
        4
    );

    // Notifications and pings never move last_zxid_seen.
    let before = sim.session.last_zxid_seen();
    sim.notify(zk_session::proto::EventType::NodeCreated, "/x");
    assert_eq!(sim.session.last_zxid_seen(), before);
}

#[test]
fn invalid_arguments_fail_at_submission_without_sending() {
    let mut sim = Sim::new(config("h1:1"));
    sim.establish(1, 30_000);
    for bad in ["", "a", "/a/", "/a//b", "/a/./b"] {
        let err = sim
            .session
            .submit(&ops::GetData::new(bad), sim.now)
            .unwrap_err();
        assert!(
            matches!(err, CommonError::InvalidPath(_)),
            "{bad:?}: {err:?}"
        );
    }
    let ttl_without_mode = ops::Create::new("/t", Bytes::new()).ttl(Duration::from_secs(1));
    assert!(matches!(
        sim.session.submit(&ttl_without_mode, sim.now),
        Err(CommonError::InvalidArgument(_))
    ));
    sim.drain();
    assert!(sim.client_frames().is_empty());
    assert_eq!(sim.session.in_flight(), 0);
}

#[test]
/// Wrapping from i32::MAX back to 1 is proven by the unit test in `session/mod.rs`.
fn xids_start_at_one_and_increase() {
    let mut sim = Sim::new(config("h1:1"));
    sim.establish(1, 30_000);
    sim.submit(&ops::Exists::new("/a"));
    sim.submit(&ops::Exists::new("/b"));
    let xids: Vec<Xid> = sim.client_frames().iter().map(|f| f.xid()).collect();
    assert_eq!(xids, [Xid(1), Xid(2)]);
}

#[test]
fn host_failures_name_each_host_with_its_last_cause_until_a_handshake() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    assert!(sim.session.host_failures().is_empty());
    let first = sim.fail_transport("connection refused");
    sim.wait_for_connect();
    let second = sim.accept_transport();
    // The second host accepts the connection but never answers the handshake.
    sim.run_until(Duration::from_secs(60), |s| s.pending_connect.is_some());
    let failures = sim.session.host_failures().to_vec();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[0].host, first);
    assert_eq!(
        failures[0].reason,
        DisconnectReason::TransportFailed("connection refused".into())
    );
    assert_eq!(
        failures[0].to_string(),
        format!("{first}: connection refused")
    );
    assert_eq!(failures[1].host, second);
    assert_eq!(failures[1].reason, DisconnectReason::ConnectTimeout);
    assert_eq!(
        sim.session.last_disconnect(),
        Some(&DisconnectReason::ConnectTimeout)
    );
    // The first host again, refused another way: its entry is replaced, not repeated.
    let again = sim.fail_transport("no route to host");
    assert_eq!(again, first);
    let failures = sim.session.host_failures().to_vec();
    assert_eq!(failures.len(), 2);
    assert_eq!(
        failures[0].reason,
        DisconnectReason::TransportFailed("no route to host".into())
    );
    // A handshake that succeeds clears them.
    sim.wait_for_connect();
    sim.accept_transport();
    sim.answer_connect(1, 30_000, false);
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert!(sim.session.host_failures().is_empty());
    // The last disconnect stays, to explain the Disconnected state before this connection.
    assert_eq!(
        sim.session.last_disconnect(),
        Some(&DisconnectReason::TransportFailed(
            "no route to host".into()
        ))
    );
}

#[test]
fn a_connection_closed_before_the_connect_response_says_so() {
    let mut sim = Sim::new(config("h1:1"));
    let host = sim.accept_transport();
    sim.drop_transport();
    assert_eq!(sim.lost(), [DisconnectReason::ClosedDuringHandshake]);
    let failures = sim.session.host_failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].to_string().starts_with(&format!(
            "{host}: closed by the server before answering the handshake"
        )),
        "{}",
        failures[0]
    );
}

#[test]
fn stats_count_what_the_session_did() {
    let mut sim = support::connected(config("h1:1"));
    let after_handshake = sim.session.stats();
    assert_eq!(after_handshake.connection_attempts, 1);
    assert_eq!(after_handshake.connections, 1);
    assert_eq!(after_handshake.disconnects.total(), 0);
    assert!(after_handshake.bytes_sent > 0 && after_handshake.bytes_received > 0);

    let first = sim.submit(&ops::GetData::new("/a"));
    let _second = sim.submit(&ops::GetData::new("/b"));
    let frames = sim.client_frames();
    assert_eq!(frames.len(), 2);
    assert_eq!(sim.session.stats().requests_sent, 2);
    assert_eq!(sim.session.stats().in_flight, 2);
    sim.reply_ok(frames[0].xid(), get_data_reply(b"x"));
    assert!(sim.completion(first).is_some());
    sim.notify(zk_session::proto::EventType::NodeDataChanged, "/a");
    let stats = sim.session.stats();
    assert_eq!(stats.replies_received, 1);
    assert_eq!(stats.watch_notifications, 1);
    assert_eq!(stats.in_flight, 1);

    sim.drop_transport();
    let stats = sim.session.stats();
    assert_eq!(stats.disconnects.closed, 1);
    assert_eq!(stats.disconnects.total(), 1);
    assert_eq!(
        stats.in_flight, 0,
        "the call in flight failed with the connection"
    );
    sim.wait_for_connect();
    sim.fail_transport("connection refused");
    let stats = sim.session.stats();
    assert_eq!(stats.connection_attempts, 2);
    assert_eq!(stats.disconnects.failed, 1);
    assert_eq!(stats.connections, 1);
}

#[test]
fn the_connect_report_names_the_attempt_still_under_way() {
    let mut sim = Sim::new(config("h1:1,h2:2"));
    let refused = sim.fail_transport("connection refused");
    sim.wait_for_connect();
    let pending = sim.accept_transport();
    let report = sim.session.connect_report();
    assert_eq!(report.len(), 2, "{report:?}");
    assert_eq!(report[0].host, refused);
    assert_eq!(report[1].host, pending);
    assert_eq!(report[1].reason, DisconnectReason::StillTrying);
    assert_eq!(
        sim.session.host_failures().len(),
        1,
        "an attempt under way is no failure"
    );
}

#[test]
fn leaving_a_read_only_server_is_no_host_failure() {
    let mut config = config("h1:1,h2:2");
    config.read_only_allowed = true;
    let mut sim = Sim::new(config);
    sim.accept_transport();
    sim.answer_connect(7, 30_000, true);
    assert_eq!(sim.session.state(), SessionState::ConnectedReadOnly);
    let probed = sim
        .run_until(Duration::from_secs(5), |s| !s.probes.is_empty())
        .then(|| sim.probes[0].0)
        .expect("a read-write probe");
    let now = sim.now;
    sim.session
        .handle_probe_result(probed, Answer::ReadWrite, now);
    sim.drain();
    assert_eq!(
        sim.session.last_disconnect(),
        Some(&DisconnectReason::ReadWriteServerFound)
    );
    assert!(
        sim.session.host_failures().is_empty(),
        "{:?}",
        sim.session.host_failures()
    );
}
