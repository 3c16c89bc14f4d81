//! Read-only sessions: the handshake flag, probing for a read-write server with back-off, moving
//! to it, and the fake session id of a session created read-only.

mod support;

use std::time::Duration;

use support::{config, ms, secs, ClientFrame, Sim};
use zk_session::probe::Answer;
use zk_session::proto::{ConnectRequest, SessionId};
use zk_session::{Action, Config, DisconnectReason, Event, HostAddr, ProbeId, SessionState};

fn read_only_config() -> Config {
    let mut c = config("h1:1,h2:2,h3:3");
    c.read_only_allowed = true;
    c
}

/// Opens the pending transport, checks the handshake and answers it; returns the request.
fn handshake(sim: &mut Sim, session_id: i64, read_only: bool) -> ConnectRequest {
    sim.accept_transport();
    let frames = sim.client_frames();
    let [ClientFrame::Connect(req)] = frames.as_slice() else {
        panic!("expected the ConnectRequest, got {frames:?}");
    };
    let req = req.clone();
    sim.answer_connect(session_id, 30_000, read_only);
    req
}

/// Runs virtual time, answering pings like a live server, until the session asks for a probe
/// (returned) or `limit` passes.
fn next_probe(sim: &mut Sim, limit: Duration) -> Option<(ProbeId, HostAddr)> {
    let end = sim.now + limit;
    let known = sim.probes.len();
    loop {
        let left = end.saturating_duration_since(sim.now);
        let hit = sim.run_until(left, |s| s.probes.len() > known || !s.wire.is_empty());
        let others = sim.answer_pings();
        assert!(others.is_empty(), "unexpected frames {others:?}");
        if sim.probes.len() > known {
            return sim.probes.last().cloned();
        }
        if !hit {
            return None;
        }
    }
}

/// A session created on a read-only server (fake id 0x51) at the start of time.
fn read_only_session() -> (Sim, HostAddr) {
    let mut sim = Sim::new(read_only_config());
    let host = sim.pending_connect.clone().expect("connecting").1;
    handshake(&mut sim, 0x51, true);
    assert_eq!(sim.session.state(), SessionState::ConnectedReadOnly);
    (sim, host)
}

#[test]
fn read_only_allowed_is_announced_in_the_connect_request() {
    let mut sim = Sim::new(read_only_config());
    let req = handshake(&mut sim, 0x51, true);
    assert!(req.read_only);
    assert_eq!(sim.states(), [SessionState::ConnectedReadOnly]);

    let mut sim = Sim::new(config("h1:1"));
    let req = handshake(&mut sim, 1, false);
    assert!(!req.read_only, "read-only not allowed by default");
    assert_eq!(sim.states(), [SessionState::Connected]);
}

#[test]
fn a_read_only_session_probes_other_hosts_with_a_doubling_back_off_up_to_a_minute() {
    let (mut sim, current) = read_only_session();
    let mut gaps = Vec::new();
    let mut since = sim.now;
    for _ in 0..13 {
        let (probe, host) = next_probe(&mut sim, secs(120)).expect("a probe");
        assert_ne!(host, current, "probed the server it is connected to");
        gaps.push(sim.now - since);
        sim.session
            .handle_probe_result(probe, Answer::Unknown, sim.now);
        sim.drain();
        since = sim.now;
    }
    let expected: Vec<Duration> = [
        100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 60_000, 60_000, 60_000,
    ]
    .into_iter()
    .map(ms)
    .collect();
    assert_eq!(gaps, expected);
    // Every other host gets asked.
    let asked: std::collections::HashSet<_> = sim.probes.iter().map(|p| p.1.clone()).collect();
    assert_eq!(asked.len(), 2);
    assert_eq!(sim.session.state(), SessionState::ConnectedReadOnly);
    assert!(sim.lost().is_empty());
}

#[test]
fn finding_a_read_write_server_moves_the_session_there_at_once() {
    let (mut sim, _) = read_only_session();
    let old_conn = sim.conn_id();
    let (probe, rw_host) = next_probe(&mut sim, secs(1)).expect("a probe");
    sim.events.clear();
    sim.actions.clear();
    let at = sim.now;
    sim.session
        .handle_probe_result(probe, Answer::ReadWrite, sim.now);
    sim.drain();
    assert_eq!(sim.now, at);
    assert_eq!(sim.lost(), [DisconnectReason::ReadWriteServerFound]);
    assert_eq!(sim.states(), [SessionState::Disconnected]);
    // Disconnect from the read-only server, then connect to the read-write one, with no delay.
    let actions: Vec<_> = sim
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Disconnect { .. } | Action::Connect { .. }))
        .cloned()
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0], Action::Disconnect { conn: old_conn });
    let Action::Connect { host, .. } = &actions[1] else {
        panic!("expected a Connect, got {actions:?}");
    };
    assert_eq!(*host, rw_host);

    // A session created read-only has a fake id: the read-write server gets id 0.
    let req = handshake(&mut sim, 0x99, false);
    assert_eq!(req.session_id, SessionId(0));
    assert_eq!(&req.password[..], &[0u8; 16]);
    assert!(req.read_only);
    assert_eq!(sim.session.state(), SessionState::Connected);
    assert_eq!(sim.session.session_id(), SessionId(0x99));
    assert!(!sim.states().contains(&SessionState::Expired));

    // No more probing once read-write.
    let probes = sim.probes.len();
    assert_eq!(next_probe(&mut sim, secs(300)), None);
    assert_eq!(sim.probes.len(), probes);
    assert_eq!(sim.session.state(), SessionState::Connected);
}

#[test]
fn a_session_created_read_write_keeps_presenting_its_id() {
    let mut sim = Sim::new(read_only_config());
    handshake(&mut sim, 7, false);
    sim.drop_transport();
    sim.wait_for_connect();
    let req = handshake(&mut sim, 7, true);
    assert_eq!(req.session_id, SessionId(7));
    assert_eq!(&req.password[..], &[0xAB; 16]);
    assert_eq!(sim.session.state(), SessionState::ConnectedReadOnly);
    let (probe, _) = next_probe(&mut sim, secs(1)).expect("a probe");
    sim.session
        .handle_probe_result(probe, Answer::ReadWrite, sim.now);
    sim.drain();
    let req = handshake(&mut sim, 7, false);
    assert_eq!(req.session_id, SessionId(7));
    assert_eq!(sim.session.state(), SessionState::Connected);
}

#[test]
fn stale_and_unknown_probe_results_are_ignored() {
    let (mut sim, _) = read_only_session();
    let conn = sim.conn_id();
    let (first, _) = next_probe(&mut sim, secs(1)).expect("a probe");
    // The driver never answers it: after the connect timeout (30 s / 3) it counts as failed and
    // a later probe replaces it.
    let asked_at = sim.now;
    let (second, _) = next_probe(&mut sim, secs(20)).expect("a second probe");
    assert_ne!(first, second);
    assert_eq!(sim.now - asked_at, secs(10) + ms(200));

    sim.events.clear();
    sim.actions.clear();
    for stale in [first, ProbeId(999)] {
        sim.session
            .handle_probe_result(stale, Answer::ReadWrite, sim.now);
        sim.drain();
    }
    assert!(sim.events.is_empty(), "{:?}", sim.events);
    assert!(sim.actions.is_empty(), "{:?}", sim.actions);
    assert_eq!(sim.session.state(), SessionState::ConnectedReadOnly);
    assert_eq!(sim.conn_id(), conn);

    // The current probe still counts.
    sim.session
        .handle_probe_result(second, Answer::ReadWrite, sim.now);
    sim.drain();
    assert_eq!(sim.lost(), [DisconnectReason::ReadWriteServerFound]);
    // And answering it twice does nothing more.
    let events = sim.events.len();
    sim.session
        .handle_probe_result(second, Answer::ReadWrite, sim.now);
    sim.drain();
    assert_eq!(sim.events.len(), events);
    assert!(!sim
        .events
        .iter()
        .any(|e| matches!(e, Event::State(SessionState::Expired))));
}

/// A client that does not allow read-only sessions, whose handshake a server closes: the
/// session asks that server (`isro`) whether it is read-only and, when it says so, reports the
/// refusal as such: in the host's failure, the last disconnect and a WARN line.
#[test]
fn a_closed_handshake_is_explained_when_the_server_says_it_is_read_only() {
    let capture = zk_session::testing::LogCapture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut sim = Sim::new(config("h1:1,h2:2"));
        let host = sim.accept_transport();
        sim.drop_transport();
        assert_eq!(
            sim.session.last_disconnect(),
            Some(&DisconnectReason::ClosedDuringHandshake)
        );
        let (probe, asked) = sim.probes.last().cloned().expect("the server is asked");
        assert_eq!(asked, host, "the server that closed the handshake is asked");
        let now = sim.now;
        sim.session
            .handle_probe_result(probe, Answer::ReadOnly, now);
        assert_eq!(
            sim.session.last_disconnect(),
            Some(&DisconnectReason::ReadOnlyServer)
        );
        let failures = sim.session.host_failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (&failures[0].host, &failures[0].reason),
            (&host, &DisconnectReason::ReadOnlyServer)
        );
        let lines = capture.lines();
        assert!(
            lines.iter().any(|l| l.starts_with("WARN")
                && l.contains(&format!("host={host}"))
                && l.contains("the server is read-only")),
            "{lines:#?}"
        );

        // Another close by a server that answers otherwise stays a bare close; one probe at a
        // time, and a stale answer changes nothing.
        sim.wait_for_connect();
        let other = sim.accept_transport();
        sim.drop_transport();
        let (second, _) = sim.probes.last().cloned().expect("asked again");
        assert_ne!(second, probe);
        let now = sim.now;
        sim.session
            .handle_probe_result(probe, Answer::ReadOnly, now);
        sim.session
            .handle_probe_result(second, Answer::Unknown, now);
        assert_eq!(
            sim.session.last_disconnect(),
            Some(&DisconnectReason::ClosedDuringHandshake)
        );
        let reasons: Vec<_> = sim
            .session
            .host_failures()
            .iter()
            .map(|f| (f.host.clone(), f.reason.clone()))
            .collect();
        assert!(
            reasons.contains(&(other, DisconnectReason::ClosedDuringHandshake)),
            "{reasons:?}"
        );
    });
}

/// A host known to be read-only that closes a handshake again is reported as read-only at once,
/// without asking again; a server that keeps closing handshakes is asked once per run of
/// refusals; a session that ends stops asking.
#[test]
fn refusals_are_asked_about_once_and_not_after_the_end() {
    let mut sim = Sim::new(config("h1:1"));
    sim.accept_transport();
    sim.drop_transport();
    let (probe, _) = sim.probes.last().cloned().expect("asked");
    let now = sim.now;
    sim.session
        .handle_probe_result(probe, Answer::ReadOnly, now);
    sim.wait_for_connect();
    sim.accept_transport();
    sim.drop_transport();
    assert_eq!(
        sim.probes.len(),
        1,
        "a known read-only host is not asked again"
    );
    assert_eq!(
        sim.session.last_disconnect(),
        Some(&DisconnectReason::ReadOnlyServer)
    );

    let mut sim = Sim::new(config("h1:1"));
    for _ in 0..3 {
        sim.wait_for_connect();
        sim.accept_transport();
        sim.drop_transport();
    }
    assert_eq!(sim.probes.len(), 1, "one question per run of refusals");
    let (probe, _) = sim.probes[0].clone();
    let now = sim.now;
    sim.session.close(now);
    sim.drain();
    assert!(sim.session.state().is_terminal());
    sim.session
        .handle_probe_result(probe, Answer::ReadOnly, now);
    assert_ne!(
        sim.session.last_disconnect(),
        Some(&DisconnectReason::ReadOnlyServer),
        "an answer after the end changes nothing"
    );
}

/// A client that allows read-only sessions is never refused by a read-only server: a closed
/// handshake asks nothing.
#[test]
fn a_read_only_client_does_not_ask_why_a_handshake_was_closed() {
    let mut sim = Sim::new(read_only_config());
    sim.accept_transport();
    sim.drop_transport();
    assert!(sim.probes.is_empty(), "{:?}", sim.probes);
}
