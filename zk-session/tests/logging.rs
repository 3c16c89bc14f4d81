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
        expect(&["DEBUG", "connecting", &host]);
        expect(&[
            "WARN",
            "connection lost",
            &host,
            "reason=connection refused",
        ]);
        expect(&[
            "INFO",
            "session established",
            "session_id=0x42",
            "negotiated_timeout_ms=30000",
        ]);
        expect(&["INFO", "session state", "to=Connected"]);
        expect(&[
            "WARN",
            "connection lost",
            "reason=connection closed",
            "silent_ms=",
        ]);
        expect(&["INFO", "session state", "from=Connected", "to=Disconnected"]);
    });
}
