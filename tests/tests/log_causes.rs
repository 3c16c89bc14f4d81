//! What the client logs (with `tracing`) when connections fail, on every adapter, against real
//! servers: a refused port and a name that does not resolve (the connect error lists them too),
//! a frozen server (the read timeout), a killed server, and a session the server declares
//! expired. A TLS client on the plain port is in `tls.rs`.
//!
//! The drivers log from their own threads, so the capture is the process's global subscriber
//! (keeping DEBUG and above); each case finds its own lines by its host's port or its session
//! id. Needs Apache ZooKeeper (a missing installation fails with the install command).

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use zk_client::session::Backoff;
use zk_client::{ConnectError, SessionState};
use zk_session::testing::LogCapture;
use zk_tests::conformance::{wait_for_state, Adapter, Api, Connect, EVENT_WAIT};
use zk_tests::{Server, ServerOptions};

/// The process's log, captured from the first call on.
fn log() -> &'static LogCapture {
    static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = LogCapture::up_to(tracing::Level::DEBUG);
        tracing::subscriber::set_global_default(capture.clone())
            .expect("no other global subscriber in this test binary");
        capture
    })
}

/// The first captured line containing every one of `parts`; panics listing the lines that
/// contain the first part if there is none.
#[track_caller]
fn line_with(adapter: &str, parts: &[&str]) -> String {
    let lines = log().lines();
    if let Some(line) = lines.iter().find(|l| parts.iter().all(|p| l.contains(p))) {
        return line.clone();
    }
    let related: Vec<&String> = lines.iter().filter(|l| l.contains(parts[0])).collect();
    panic!(
        "[{adapter}] no line with {parts:?}; the lines with {:?}:\n{}",
        parts[0],
        related
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A loopback port nothing listens on (bound, then released).
fn refused_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// A host name no resolver accepts: its first label is longer than DNS allows (63 bytes), so
/// the system resolver fails at once, without sending a query anywhere. `tag` makes it the
/// test's own (the adapters' tests run at once and share the log).
fn unresolvable_name(tag: u16) -> String {
    format!("{}{tag}.example", "x".repeat(64))
}

/// A refused port and an unresolvable name: each attempt is logged (DEBUG `connecting`) and
/// so is its failure (WARN `connection attempt failed`), with the host in the connection's
/// span and the cause; the connect error names both.
async fn failed_attempts_are_logged_with_their_causes<A: Adapter>() {
    log();
    let port = refused_port();
    let name = unresolvable_name(port);
    let options = Connect::new(format!("127.0.0.1:{port},{name}:2181"))
        .connect_wait(Duration::from_millis(1500))
        .backoff(Backoff {
            max_jitter: Duration::from_millis(10),
            pass_delay: Duration::from_millis(50),
        });
    let error = match A::connect(&options).await {
        Ok(_) => panic!("[{}] connected to nothing", A::NAME),
        Err(e) => e,
    };
    assert!(
        matches!(error, ConnectError::Timeout { .. }),
        "[{}] {error:?}",
        A::NAME
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!("{name}:2181: failed to resolve {name}")),
        "[{}] the connect error names the unresolvable host: {text}",
        A::NAME
    );

    let refused_host = format!("host=127.0.0.1:{port}");
    line_with(
        A::NAME,
        &[&refused_host, "DEBUG", "zk_connection{", "connecting"],
    );
    let refused = line_with(
        A::NAME,
        &[
            &refused_host,
            "WARN",
            "connection attempt failed",
            "reason=",
        ],
    );
    assert!(
        refused.to_lowercase().contains("refused"),
        "[{}] {refused}",
        A::NAME
    );
    let name_host = format!("host={name}:2181");
    line_with(A::NAME, &[&name_host, "DEBUG", "connecting"]);
    let unresolved = line_with(
        A::NAME,
        &[
            &name_host,
            "WARN",
            "connection attempt failed",
            &format!("reason=failed to resolve {name}"),
        ],
    );
    // Shown with `--nocapture`: the README quotes them.
    eprintln!(
        "[{}] {refused}\n[{}] {unresolved}\n[{}] {text}",
        A::NAME,
        A::NAME,
        A::NAME
    );
}

/// On a server of its own: a frozen server is left at the read timeout, a killed one when its
/// connection closes, and a session the server expired ends with the server's verdict; each
/// logged (WARN) with the cause, in the session's span (its id) and the connection's (host,
/// address).
async fn lost_connections_and_expiry_are_logged_with_their_causes<A: Adapter>() {
    log();
    let mut server =
        Server::standalone(&ServerOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let options = Connect::new(server.connect_string()).session_timeout(Duration::from_secs(6));
    let host = format!("host={}", server.connect_string());

    // Frozen: nothing arrives for 2/3 of the session timeout.
    let frozen = A::connect(&options).await.expect("connect");
    let frozen_id = format!("session_id={}", frozen.session_id());
    line_with(A::NAME, &[&frozen_id, "INFO", "session established", &host]);
    line_with(
        A::NAME,
        &[
            &host,
            "DEBUG",
            "addr=127.0.0.1:",
            "connected: sending the handshake",
        ],
    );
    let mut states = frozen.state_watcher();
    server.pause().expect("freeze the server");
    wait_for_state::<A>(&mut states, EVENT_WAIT, "a frozen server", |s| {
        s == SessionState::Disconnected
    })
    .await;
    server.resume().expect("thaw the server");
    let lost = line_with(
        A::NAME,
        &[
            &frozen_id,
            "WARN",
            "connection lost",
            "reason=nothing received for 2/3 of the session timeout",
            "silent_ms=",
        ],
    );
    eprintln!("[{}] {lost}", A::NAME);
    wait_for_state::<A>(
        &mut states,
        EVENT_WAIT,
        "reconnecting after the thaw",
        |s| s == SessionState::Connected,
    )
    .await;
    frozen.close().await;

    // Expired: the session is resumed elsewhere and closed there (see PROTOCOL.md); the client
    // may take it back first, so up to three tries.
    let expiring = A::connect(&options).await.expect("connect");
    let expiring_id = format!("session_id={}", expiring.session_id());
    let mut states = expiring.state_watcher();
    let resume = options
        .clone()
        .resume(expiring.session_id(), expiring.session_password());
    for _ in 0..3 {
        if let Ok(twin) = A::connect(&resume).await {
            twin.close().await;
        }
        let within = Duration::from_secs(5);
        if A::timeout(
            within,
            wait_for_state::<A>(&mut states, EVENT_WAIT, "expiry", |s| s.is_terminal()),
        )
        .await
        .is_some()
        {
            break;
        }
    }
    assert_eq!(expiring.state(), SessionState::Expired, "[{}]", A::NAME);
    let ended = line_with(
        A::NAME,
        &[
            &expiring_id,
            "WARN",
            "session ended",
            "end=the server declared the session expired",
        ],
    );
    eprintln!("[{}] {ended}", A::NAME);
    line_with(
        A::NAME,
        &[&expiring_id, "INFO", "session state", "to=Expired"],
    );

    // Killed: the connection closes (or resets) under the client.
    let killed = A::connect(&options).await.expect("connect");
    let killed_id = format!("session_id={}", killed.session_id());
    let mut states = killed.state_watcher();
    server.kill().expect("kill the server");
    wait_for_state::<A>(&mut states, EVENT_WAIT, "a killed server", |s| {
        s == SessionState::Disconnected
    })
    .await;
    let lost = line_with(
        A::NAME,
        &[&killed_id, &host, "WARN", "connection lost", "reason="],
    );
    assert!(
        lost.contains("reason=connection closed") || lost.to_lowercase().contains("reset"),
        "[{}] {lost}",
        A::NAME
    );
    eprintln!("[{}] {lost}", A::NAME);
    line_with(
        A::NAME,
        &[
            &killed_id,
            "INFO",
            "session state",
            "from=Connected",
            "to=Disconnected",
        ],
    );
    drop(killed);
}

zk_tests::for_every_adapter!(
    failed_attempts_are_logged_with_their_causes,
    lost_connections_and_expiry_are_logged_with_their_causes,
);
