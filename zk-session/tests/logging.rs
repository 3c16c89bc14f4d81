//! What the session logs (with `tracing`) through a connection's life, checked with a capturing
//! subscriber in virtual time.

mod support;

use support::{config, Sim};
use zk_session::testing::LogCapture;

/// The lines that contain every one of `parts`.
fn matching<'a>(lines: &'a [String], parts: &[&str]) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

#[test]
fn connection_attempts_failures_and_the_session_are_logged_with_their_causes() {
    let capture = LogCapture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut sim = Sim::new(config("h1:1,h2:2"));
        let refused = sim.fail_transport("connection refused");
        sim.wait_for_connect();
        sim.accept_transport();
        sim.answer_connect(0x42, 30_000, false);
        sim.drop_transport();
        let lines = capture.lines();
        let expect = |parts: &[&str]| {
            assert!(
                !matching(&lines, parts).is_empty(),
                "no line with {parts:?} in:\n{}",
                lines.join("\n")
            );
        };
        let host = format!("host={refused}");
        expect(&["DEBUG", "zk_connection{conn=1", &host, "connecting"]);
        expect(&[
            "WARN",
            "zk_session{}:zk_connection{conn=1",
            &host,
            "connection attempt failed",
            "reason=connection refused",
        ]);
        expect(&[
            "DEBUG",
            "zk_connection{conn=2",
            "addr=127.0.0.1:",
            "connected: sending the handshake",
        ]);
        expect(&[
            "INFO",
            "session established",
            "session_id=0x42",
            "negotiated_timeout_ms=30000",
        ]);
        expect(&[
            "INFO",
            "zk_session{session_id=0x42}",
            "session state",
            "to=Connected",
        ]);
        expect(&[
            "WARN",
            "zk_session{session_id=0x42}:zk_connection{conn=2",
            "connection lost",
            "reason=connection closed",
            "silent_ms=",
        ]);
        expect(&["INFO", "session state", "from=Connected", "to=Disconnected"]);
    });
}

#[test]
fn requests_and_replies_are_traced_with_their_xids() {
    let capture = LogCapture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let mut sim = Sim::new(config("h1:1"));
        sim.establish(0x7, 30_000);
        let get = zk_session::ops::GetData::new("/a");
        let id = sim.submit(&get);
        let frames = sim.client_frames();
        let xid = frames[0].xid();
        sim.reply(
            xid,
            zk_session::proto::ErrorCode::NoNode,
            &zk_session::proto::Response::Empty,
        );
        assert!(sim.completion(id).is_some());
        let lines = capture.lines();
        let find = |parts: &[&str]| {
            assert!(
                !matching(&lines, parts).is_empty(),
                "no line with {parts:?} in:\n{}",
                lines.join("\n")
            );
        };
        find(&["TRACE", "request", &format!("xid={}", xid.0), "op=GetData"]);
        find(&[
            "TRACE",
            "reply",
            &format!("xid={}", xid.0),
            "op=GetData",
            "err=-101",
        ]);
    });
}
