//! The hostile cases, each an `async fn name<A: Adapter>()` named for what the client must do
//! when the server misbehaves that way. Each starts its own [`FakeServer`]; the list that
//! turns them into tests is [`hostile_tests!`](crate::hostile_tests).
//!
//! The fake servers grant short sessions so the timers under test run fast: most cases
//! negotiate [`TIMEOUT_MS`] (read timeout 1 s, a ping every 0.5 s, client-side expiry after
//! 2 s), and the cases that must tell a prompt reaction from a timer negotiate [`ROOMY_MS`]
//! (read timeout 4 s, expiry 8 s) and require the reaction within [`PROMPT`].
//!
//! The blocking adapter's calls run whole when they are made, so a call is never "pending"
//! while the test makes the server misbehave: every misbehaviour is the script's reaction to
//! a request it has read, which works the same for every adapter.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zk_client::ops::{GetDataError, OpError};
use zk_client::proto::{
    AddWatchMode, ConnectResponse, CreateResponse, Encode, ErrorCode, EventType, GetDataResponse,
    KeeperState, OpCode, ReplyHeader, Request, Response, SessionId, Stat, Xid, Zxid,
    DEFAULT_MAX_FRAME_LEN,
};
use zk_client::session::Backoff;
use zk_client::{CommonError, SessionState, StateWatcher, WatchEvent, WatchStream};

use super::server::{
    frame, ok_response, ok_response_for, reply_header, session_response, FakeServer, Peer, ZXID,
};
use crate::conformance::{
    connect, node_event, now_or_never, wait_for_state, Adapter, Api, Connect, Task,
};

// -------------------------------------------------------------------------------------------
// Constants
// -------------------------------------------------------------------------------------------

/// The session id the fake servers grant.
pub const SESSION: i64 = 0x0123_4567_89ab_cdef;

/// Another session id, for servers that answer with a session the client did not ask for.
pub const OTHER_SESSION: i64 = 0x0fed_cba9_8765_4321;

/// The negotiated timeout of most cases, in ms: read timeout 1 s, pings every 0.5 s,
/// client-side expiry 2 s after the last confirmation.
pub const TIMEOUT_MS: i32 = 1500;

/// The negotiated timeout of the cases that tell a prompt reaction from a timer, in ms: read
/// timeout 4 s, client-side expiry after 8 s.
pub const ROOMY_MS: i32 = 6000;

/// Slack added to every timing bound.
pub const SLACK: Duration = Duration::from_secs(3);

/// How soon a reaction that needs no timer (a protocol violation) must come: well within the
/// read timeout of a [`ROOMY_MS`] session.
pub const PROMPT: Duration = Duration::from_millis(1500);

/// How long any one call may take to complete before the case fails.
const CALL_WAIT: Duration = Duration::from_secs(20);

/// A back-off that reconnects at once, so cases do not wait for the default one (up to 2 s).
const QUICK: Backoff = Backoff {
    max_jitter: Duration::from_millis(20),
    pass_delay: Duration::from_millis(20),
};

/// Notifications in a flood.
const FLOOD: usize = 64;

/// The path length of each flooding notification.
const FLOOD_PATH_LEN: usize = 1_000_000;

/// The bound on the heap's growth during a flood of [`FLOOD`] notifications of
/// [`FLOOD_PATH_LEN`] bytes (64 MB in all).
const FLOOD_MEMORY: usize = 16 << 20;

// -------------------------------------------------------------------------------------------
// Helpers: timing, options, waiting
// -------------------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn session_timeout(timeout_ms: i32) -> Duration {
    ms(timeout_ms as u64)
}

/// The read timeout of a session negotiated at `timeout_ms`: 2/3 of it.
fn read_timeout(timeout_ms: i32) -> Duration {
    session_timeout(timeout_ms) * 2 / 3
}

/// The client-side expiry of a session negotiated at `timeout_ms`: 4/3 of it.
fn expiry_timeout(timeout_ms: i32) -> Duration {
    session_timeout(timeout_ms) * 4 / 3
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Options for a client of `server`: it asks for the timeout the server grants, bounds each
/// attempt by 1 s, backs off for a few ms only, and waits up to 10 s in `connect`.
fn options(server: &FakeServer, timeout_ms: i32) -> Connect {
    Connect::new(server.connect_string())
        .session_timeout(session_timeout(timeout_ms))
        .connect_timeout(Duration::from_secs(1))
        .connect_wait(Duration::from_secs(10))
        .backoff(QUICK)
        .seed(7)
}

/// `fut`'s outcome, failing the case if it takes longer than [`CALL_WAIT`].
async fn bounded<A: Adapter, F: Future>(what: &str, fut: F) -> F::Output {
    match A::timeout(CALL_WAIT, fut).await {
        Some(out) => out,
        None => panic!("[{}] {what}: no outcome within {CALL_WAIT:?}", A::NAME),
    }
}

/// The error of a getData that must fail (checking that it names its operation).
#[track_caller]
fn failure<T: std::fmt::Debug>(
    outcome: Result<T, OpError<GetDataError>>,
    what: &str,
) -> GetDataError {
    match outcome {
        Ok(value) => panic!("{what}: expected a failure, got {value:?}"),
        Err(e) => {
            assert_eq!(e.operation(), "get_data", "{what}: {e}");
            e.into_kind()
        }
    }
}

fn connection_loss() -> GetDataError {
    GetDataError::Common(CommonError::ConnectionLoss)
}

fn session_expired() -> GetDataError {
    GetDataError::Common(CommonError::SessionExpired)
}

/// A call that must succeed against a well-behaved server.
async fn expect_ok<A: Adapter>(zk: &A::Client, what: &str) {
    let outcome = bounded::<A, _>(what, zk.get_data("/ok")).await;
    if let Err(e) = outcome {
        panic!(
            "[{}] {what}: a call to a well-behaved server failed with {e:?} (state {:?})",
            A::NAME,
            zk.state()
        );
    }
}

/// Makes a getData of `path` that must fail with RequestTimeout; with `deadline`, no sooner
/// than 100 ms before it and no later than [`SLACK`] after it (counted from the call).
async fn expect_request_timeout<A: Adapter>(
    zk: &A::Client,
    path: &str,
    deadline: Option<Duration>,
    what: &str,
) {
    let started = Instant::now();
    let outcome = bounded::<A, _>(what, zk.get_data(path)).await;
    let took = started.elapsed();
    assert_eq!(
        failure(outcome, what),
        GetDataError::Common(CommonError::RequestTimeout),
        "[{}] {what}: past its deadline",
        A::NAME
    );
    if let Some(deadline) = deadline {
        assert!(
            took >= deadline - ms(100) && took <= deadline + SLACK,
            "[{}] {what}: timed out after {took:?}; its deadline is {deadline:?}",
            A::NAME
        );
    }
}

/// The state changes reported during `window` (fewer if the changes end).
async fn collect_states<A: Adapter>(
    states: &mut StateWatcher,
    window: Duration,
) -> Vec<SessionState> {
    let deadline = Instant::now() + window;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return seen;
        }
        match A::next_state(states, left).await {
            Ok(Some(state)) => seen.push(state),
            Ok(None) | Err(_) => return seen,
        }
    }
}

/// Asserts that no state change is waiting to be read.
async fn assert_no_state_change<A: Adapter>(states: &mut StateWatcher, what: &str) {
    let change = A::next_state(states, Duration::ZERO).await;
    assert!(
        change.is_err(),
        "[{}] {what}: the state was to stay as it was, yet it changed: {change:?}",
        A::NAME
    );
}

/// An event for a failure message: node paths, which may be a megabyte long, by their length.
fn describe(event: &Result<Option<WatchEvent>, zk_client::Timeout>) -> String {
    match event {
        Ok(Some(WatchEvent::Node { event_type, path })) => {
            format!("Node {{ {event_type:?}, a path of {} bytes }}", path.len())
        }
        other => format!("{other:?}"),
    }
}

/// The times between consecutive accepted connections.
fn gaps(accepted: &[Instant]) -> Vec<Duration> {
    accepted.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Asserts that the live heap grew by less than `bound` at its peak since the case started.
fn assert_peak_below<A: Adapter>(bound: usize, what: &str) {
    let grown = super::peak_growth();
    assert!(
        grown < bound,
        "[{}] {what}: the live heap grew by {} KiB at its peak, over the bound of {} KiB",
        A::NAME,
        grown >> 10,
        bound >> 10
    );
}

// -------------------------------------------------------------------------------------------
// Helpers: scripts
// -------------------------------------------------------------------------------------------

/// Connection 0: a normal handshake, then `misbehave` upon the first call (given its xid and
/// opcode). The rest of connection 0 (if it survives) and every later connection: a
/// well-behaved server granting [`SESSION`].
fn misbehave_on_first_call(
    timeout_ms: i32,
    misbehave: impl Fn(&mut Peer, Xid, OpCode) -> io::Result<()> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::scripted(move |peer| {
        peer.handshake(SESSION, timeout_ms)?;
        if peer.index() == 0 {
            let (xid, op, _) = peer.read_call()?;
            misbehave(&mut *peer, xid, op)?;
        }
        peer.serve()
    })
}

/// A client of `server` ([`ROOMY_MS`]), whose first connection misbehaves as soon as it is
/// established: the client, watched from its start (the violation may come before `connect`
/// would return), drops that connection (Connected and Disconnected only, never an end), then
/// reconnects to the same session and closes cleanly.
async fn first_connection_dropped_at_once<A: Adapter>(server: &FakeServer) {
    let zk = A::start(&options(server, ROOMY_MS)).expect("start a client");
    let mut states = zk.state_watcher();
    let seen = wait_for_state::<A>(&mut states, SLACK, "the dropped first connection", |s| {
        s == SessionState::Disconnected
    })
    .await;
    assert!(
        seen.iter()
            .all(|s| matches!(s, SessionState::Connected | SessionState::Disconnected)),
        "[{}] {seen:?}",
        A::NAME
    );
    expect_reconnected::<A>(&zk, &mut states, server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// The connection survived what the server did: a call (`what`) works, the session is
/// connected on the one connection the server saw, and it closes cleanly.
async fn kept_then_closed<A: Adapter>(zk: &A::Client, server: &FakeServer, what: &str) {
    expect_ok::<A>(zk, what).await;
    assert_eq!(zk.state(), SessionState::Connected, "[{}] {what}", A::NAME);
    assert_eq!(server.connections(), 1, "[{}] {what}", A::NAME);
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A server whose first connection answers the first call with `misbehave` (a protocol
/// violation) and then reads on without answering; the call must fail with ConnectionLoss at
/// once and the client reconnect by itself (see [`first_call_is_lost_then_the_session_recovers`]).
async fn violation_drops_the_connection<A: Adapter>(
    misbehave: impl Fn(&mut Peer, Xid, OpCode) -> io::Result<()> + Send + Sync + 'static,
) {
    let server = misbehave_on_first_call(ROOMY_MS, move |peer, xid, op| {
        misbehave(&mut *peer, xid, op)?;
        peer.drain()
    });
    first_call_is_lost_then_the_session_recovers::<A>(&server, ROOMY_MS, Duration::ZERO, PROMPT)
        .await;
}

/// Every connection: `answer` instead of a session, upon the ConnectRequest; then silence.
fn refuse_every_handshake(
    answer: impl Fn(&mut Peer) -> io::Result<()> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::scripted(move |peer| {
        peer.read_connect_request()?;
        answer(&mut *peer)?;
        peer.drain()
    })
}

/// Connection 0: a session, one call answered, then the connection closed. Later connections:
/// `reconnect`.
fn one_call_then(
    timeout_ms: i32,
    reconnect: impl Fn(&mut Peer) -> io::Result<()> + Send + Sync + 'static,
) -> FakeServer {
    FakeServer::scripted(move |peer| {
        if peer.index() > 0 {
            return reconnect(peer);
        }
        peer.handshake(SESSION, timeout_ms)?;
        let (xid, _, request) = peer.read_call()?;
        peer.reply_ok_to(xid, &request)?;
        peer.close()
    })
}

/// A ConnectResponse body as raw bytes: protocol 0, `timeout_ms`, `session_id`, then `rest`
/// (the password field and the read-only flag, as the case wants them).
fn connect_response_body(timeout_ms: i32, session_id: i64, rest: &[u8]) -> Vec<u8> {
    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&timeout_ms.to_be_bytes());
    body.extend_from_slice(&session_id.to_be_bytes());
    body.extend_from_slice(rest);
    body
}

// -------------------------------------------------------------------------------------------
// Helpers: what the client must do
// -------------------------------------------------------------------------------------------

/// Waits for the client to be Connected again after a lost connection: the same session, a
/// call works, and the server has accepted `connections` connections in all.
async fn expect_reconnected<A: Adapter>(
    zk: &A::Client,
    states: &mut StateWatcher,
    server: &FakeServer,
    connections: usize,
) {
    let seen = wait_for_state::<A>(states, SLACK, "the reconnection", |s| {
        s == SessionState::Connected
    })
    .await;
    assert!(
        !seen.iter().any(|s| s.is_terminal()),
        "[{}] the session survives a lost connection: {seen:?}",
        A::NAME
    );
    assert_eq!(
        zk.session_id(),
        SessionId(SESSION),
        "[{}] the same session after the reconnection",
        A::NAME
    );
    expect_ok::<A>(zk, "a call after the reconnection").await;
    assert_eq!(
        server.connections(),
        connections,
        "[{}] connections accepted by the fake server",
        A::NAME
    );
}

/// [`expect_reconnected`], after the client reported Disconnected.
async fn expect_reconnection<A: Adapter>(
    zk: &A::Client,
    states: &mut StateWatcher,
    server: &FakeServer,
    connections: usize,
) {
    wait_for_state::<A>(states, SLACK, "the disconnection", |s| {
        s == SessionState::Disconnected
    })
    .await;
    expect_reconnected::<A>(zk, states, server, connections).await;
}

/// The first call meets the misbehaviour of connection 0 and must fail with ConnectionLoss
/// after between `earliest` and `latest`; the client then reconnects by itself (the same
/// session, on a second connection) and a call works.
async fn first_call_is_lost_then_the_session_recovers<A: Adapter>(
    server: &FakeServer,
    timeout_ms: i32,
    earliest: Duration,
    latest: Duration,
) {
    let zk = connect::<A>(&options(server, timeout_ms)).await;
    let mut states = zk.state_watcher();
    let started = Instant::now();
    let outcome = bounded::<A, _>("the first call", zk.get_data("/first")).await;
    let took = started.elapsed();
    assert_eq!(
        failure(outcome, "the call in flight on the misbehaving connection"),
        connection_loss(),
        "[{}] the call in flight when the connection is dropped",
        A::NAME
    );
    assert!(
        took >= earliest && took <= latest,
        "[{}] the call failed after {took:?}, expected between {earliest:?} and {latest:?}",
        A::NAME
    );
    expect_reconnection::<A>(&zk, &mut states, server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// The first call meets the misbehaviour of connection 0 and fails (returned); the connection
/// survives it: a later call works on it, the state never changes.
async fn first_call_fails_on_a_kept_connection<A: Adapter>(server: &FakeServer) -> GetDataError {
    let zk = connect::<A>(&options(server, ROOMY_MS)).await;
    let mut states = zk.state_watcher();
    let outcome = bounded::<A, _>("the first call", zk.get_data("/first")).await;
    let error = failure(outcome, "the call answered by the misbehaviour");
    expect_ok::<A>(&zk, "a call after the failed one, on the same connection").await;
    assert_eq!(zk.state(), SessionState::Connected);
    assert_no_state_change::<A>(&mut states, "a reply that fails only its own call").await;
    assert_eq!(
        server.connections(),
        1,
        "[{}] the connection was kept",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Closed);
    error
}

/// Starts a client against `server`, all of whose handshakes fail, and watches it for
/// `window`: it never connects nor ends, it keeps trying (at least two connections), and a
/// call made meanwhile fails with ConnectionLoss once it has waited the session timeout for a
/// connection. Returns the times between accepted connections.
async fn never_connects<A: Adapter>(
    server: &FakeServer,
    options: Connect,
    window: Duration,
) -> Vec<Duration> {
    let zk = A::start(&options).expect("start a client");
    let mut states = zk.state_watcher();
    let caller = zk.clone();
    let queued = A::spawn(async move { caller.get_data("/queued").await });
    let seen = collect_states::<A>(&mut states, window).await;
    assert!(
        !seen.iter().any(|s| s.is_connected() || s.is_terminal()),
        "[{}] a client whose every handshake fails must neither connect nor end: {seen:?}",
        A::NAME
    );
    assert_eq!(zk.state(), SessionState::Connecting);
    let outcome = bounded::<A, _>("the queued call", queued).await;
    assert_eq!(
        failure(outcome, "a call made while no handshake succeeds"),
        connection_loss(),
        "[{}] a queued call fails with ConnectionLoss when its queue time runs out",
        A::NAME
    );
    assert!(
        server.connections() >= 2,
        "[{}] the client kept trying: {} connection(s) in {window:?}",
        A::NAME,
        server.connections()
    );
    assert_eq!(zk.close().await, SessionState::Closed);
    gaps(&server.accepted())
}

/// [`never_connects`], for a server whose handshakes the client must refuse at once (`what`
/// names the answer): the first attempt is over well before the connect timeout (5 s here).
async fn refused_at_once<A: Adapter>(server: &FakeServer, what: &str) {
    let gaps = never_connects::<A>(
        server,
        options(server, TIMEOUT_MS).connect_timeout(ms(5000)),
        ms(2000),
    )
    .await;
    assert!(
        gaps[0] < PROMPT,
        "[{}] {what} was refused only after {:?}",
        A::NAME,
        gaps[0]
    );
}

/// [`never_connects`] over `window`, for a server that leaves every handshake unfinished
/// (`what` names the attempt): each attempt ends at the connect timeout (800 ms here), never
/// before it, and the first not much after it.
async fn dropped_by_the_connect_timeout<A: Adapter>(
    server: &FakeServer,
    window: Duration,
    what: &str,
) {
    let connect_timeout = ms(800);
    let gaps = never_connects::<A>(
        server,
        options(server, TIMEOUT_MS).connect_timeout(connect_timeout),
        window,
    )
    .await;
    for gap in &gaps {
        assert!(
            *gap >= ms(700),
            "[{}] {what} was dropped after {gap:?}, before the connect timeout \
             {connect_timeout:?}",
            A::NAME
        );
    }
    assert!(
        gaps[0] <= connect_timeout + ms(1000),
        "[{}] {what}: the first attempt was dropped only after {:?}",
        A::NAME,
        gaps[0]
    );
}

/// A server whose handshake grants `timeout_ms` as the session's timeout (zero or negative:
/// the session expired): the session ends Expired, never connected, never reconnecting, and
/// every call fails with SessionExpired.
async fn handshake_expires_the_session<A: Adapter>(timeout_ms: i32) {
    let server = FakeServer::scripted(move |peer| {
        peer.read_connect_request()?;
        peer.accept_session(SESSION, timeout_ms)?;
        peer.drain()
    });
    let zk = A::start(&options(&server, TIMEOUT_MS)).expect("start a client");
    let mut states = zk.state_watcher();
    let caller = zk.clone();
    let queued = A::spawn(async move { caller.get_data("/queued").await });
    let seen = wait_for_state::<A>(&mut states, SLACK, "the expiry", |s| {
        s == SessionState::Expired
    })
    .await;
    assert!(
        !seen.iter().any(|s| s.is_connected()),
        "[{}] a handshake that declares the session expired never connects: {seen:?}",
        A::NAME
    );
    assert_eq!(
        A::next_state(&mut states, SLACK).await,
        Ok(None),
        "nothing follows Expired"
    );
    let outcome = bounded::<A, _>("the queued call", queued).await;
    assert_eq!(
        failure(outcome, "a call queued before the expiry"),
        session_expired()
    );
    let later =
        now_or_never(zk.get_data("/later")).expect("a call on an expired session fails at once");
    assert_eq!(failure(later, "a call after the expiry"), session_expired());
    // A measurement window (no event marks a reconnection that does not happen): with the
    // cases' 20 ms back-off, a terminal session that still reconnected would do so within it.
    A::sleep(ms(300)).await;
    assert_eq!(
        server.connections(),
        1,
        "[{}] an expired session never reconnects",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Expired);
}

/// After a first good session, the server's answers to every reconnection are refused: the
/// session must end Expired by client-side expiry (4/3 of the timeout after the last
/// confirmation), never Connected again, never a new session. A call queued meanwhile fails
/// with ConnectionLoss (its queue time ran out first) or SessionExpired.
async fn refused_reconnections_end_in_client_side_expiry<A: Adapter>(server: &FakeServer) {
    let zk = connect::<A>(&options(server, TIMEOUT_MS)).await;
    let mut states = zk.state_watcher();
    expect_ok::<A>(&zk, "a call on the first connection").await;
    wait_for_state::<A>(&mut states, SLACK, "the disconnection", |s| {
        s == SessionState::Disconnected
    })
    .await;
    let lost_at = Instant::now();
    let caller = zk.clone();
    let queued = A::spawn(async move { caller.get_data("/queued").await });
    let expiry = expiry_timeout(TIMEOUT_MS);
    let seen = wait_for_state::<A>(&mut states, expiry + SLACK, "client-side expiry", |s| {
        s == SessionState::Expired
    })
    .await;
    let took = lost_at.elapsed();
    assert!(
        !seen.iter().any(|s| s.is_connected()),
        "[{}] no refused handshake may connect: {seen:?}",
        A::NAME
    );
    assert!(
        took >= ms(1000),
        "[{}] the session ended {took:?} after the disconnection: a refused handshake must not \
         end it; client-side expiry does, {expiry:?} after the last confirmation",
        A::NAME
    );
    assert_eq!(
        zk.session_id(),
        SessionId(SESSION),
        "[{}] no other session was taken",
        A::NAME
    );
    let outcome = bounded::<A, _>("the queued call", queued).await;
    let error = failure(outcome, "a call queued while reconnections were refused");
    assert!(
        error == connection_loss() || error == session_expired(),
        "[{}] a call queued while reconnections were refused: {error:?}",
        A::NAME
    );
    let later =
        now_or_never(zk.get_data("/later")).expect("a call on an expired session fails at once");
    assert_eq!(failure(later, "a call after the expiry"), session_expired());
    assert!(
        server.connections() >= 2,
        "[{}] the client tried to reconnect",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Expired);
}

// -------------------------------------------------------------------------------------------
// Handshake
// -------------------------------------------------------------------------------------------

/// Two garbage bytes instead of a ConnectResponse, then silence: the incomplete frame holds
/// the attempt only until the connect timeout; the client never connects and retries at most
/// once per connect timeout.
pub async fn garbage_instead_of_a_handshake_is_dropped_by_the_connect_timeout<A: Adapter>() {
    let server = refuse_every_handshake(|peer| peer.write_raw(&[0x01, 0x02]));
    dropped_by_the_connect_timeout::<A>(
        &server,
        ms(2500),
        "an attempt stuck on an incomplete frame",
    )
    .await;
}

/// A whole frame of garbage instead of a ConnectResponse (it does not decode as one): refused
/// at once, not after the connect timeout; never connected.
pub async fn garbage_frame_instead_of_a_handshake_is_refused_at_once<A: Adapter>() {
    let server = refuse_every_handshake(|peer| peer.write_raw(&frame(b"NOT-ZOOKEEPER")));
    refused_at_once::<A>(&server, "a garbage handshake").await;
}

/// An HTTP server's answer where the ConnectResponse belongs: its first bytes read as a
/// length of over a gigabyte, which must be refused at once (never awaited, never allocated).
pub async fn http_response_instead_of_a_handshake_is_refused_at_once<A: Adapter>() {
    let server = refuse_every_handshake(|peer| peer.write_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    refused_at_once::<A>(&server, "an HTTP answer").await;
    assert_peak_below::<A>(8 << 20, "a handshake claiming a gigabyte");
}

/// A ConnectResponse frame whose body stops after the session id (no password): refused at
/// once as malformed.
pub async fn truncated_connect_response_is_refused_at_once<A: Adapter>() {
    let server = refuse_every_handshake(|peer| {
        let mut body: Vec<u8> = Vec::new();
        session_response(SESSION, TIMEOUT_MS).encode(&mut body);
        peer.write_raw(&frame(&body[..16]))
    });
    refused_at_once::<A>(&server, "a truncated ConnectResponse").await;
}

/// A ConnectResponse cut off in the middle of its frame, then silence: the attempt ends at the
/// connect timeout; never connected.
pub async fn connect_response_cut_short_is_dropped_by_the_connect_timeout<A: Adapter>() {
    let server = refuse_every_handshake(|peer| {
        let mut whole: Vec<u8> = Vec::new();
        zk_client::proto::write_frame(&mut whole, &session_response(SESSION, TIMEOUT_MS));
        peer.write_raw(&whole[..24])
    });
    dropped_by_the_connect_timeout::<A>(
        &server,
        ms(2500),
        "an attempt waiting for the rest of its ConnectResponse",
    )
    .await;
}

/// A ConnectResponse with a negative timeout (the server's way to say the session expired):
/// the session is Expired, terminal.
pub async fn negative_timeout_expires_the_session<A: Adapter>() {
    handshake_expires_the_session::<A>(-1).await;
}

/// A ConnectResponse with a zero timeout: the session is Expired, terminal.
pub async fn zero_timeout_expires_the_session<A: Adapter>() {
    handshake_expires_the_session::<A>(0).await;
}

/// A ConnectResponse granting session id 0 is malformed, never a session: refused, never
/// connected; with the default back-off the client retries at most about once a second.
pub async fn session_id_zero_is_refused_and_retried_at_the_backoff_rate<A: Adapter>() {
    let server = refuse_every_handshake(|peer| peer.accept_session(0, TIMEOUT_MS));
    let mut options = options(&server, TIMEOUT_MS);
    // The default back-off: up to 1 s of jitter, plus 1 s after every pass over the (one) host.
    options.backoff = None;
    let gaps = never_connects::<A>(&server, options, ms(3200)).await;
    for gap in &gaps {
        assert!(
            *gap >= ms(900),
            "[{}] a refused handshake was retried after {gap:?}: faster than the back-off",
            A::NAME
        );
    }
}

/// A read-only ConnectResponse to a client that does not allow read-only servers: refused at
/// once, never connected (neither Connected nor ConnectedReadOnly).
pub async fn read_only_response_is_refused_when_read_only_is_not_allowed<A: Adapter>() {
    let server = refuse_every_handshake(|peer| {
        peer.send_connect_response(&ConnectResponse {
            read_only: true,
            ..session_response(SESSION, TIMEOUT_MS)
        })
    });
    refused_at_once::<A>(&server, "an unwanted read-only session").await;
}

/// A ConnectResponse with an empty password is a session like any other.
pub async fn empty_password_is_accepted<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.read_connect_request()?;
        peer.send_connect_response(&ConnectResponse {
            password: Bytes::new(),
            ..session_response(SESSION, TIMEOUT_MS)
        })?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(zk.state(), SessionState::Connected);
    assert_eq!(zk.session_id(), SessionId(SESSION));
    assert!(zk.session_password().is_empty());
    kept_then_closed::<A>(&zk, &server, "a call on a session with an empty password").await;
}

/// A 64 KiB password is accepted, kept whole, and presented back whole (with the session id)
/// on the next connection.
pub async fn password_of_64_kib_is_accepted_and_presented_on_reconnect<A: Adapter>() {
    let password = Bytes::from((0..64 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let presented: Arc<Mutex<Vec<(SessionId, bool)>>> = Arc::default();
    let server = {
        let password = password.clone();
        let presented = presented.clone();
        FakeServer::scripted(move |peer| {
            let request = peer.read_connect_request()?;
            if peer.index() > 0 {
                lock(&presented).push((request.session_id, request.password == password));
            }
            peer.send_connect_response(&ConnectResponse {
                password: password.clone(),
                ..session_response(SESSION, TIMEOUT_MS)
            })?;
            if peer.index() == 0 {
                let (xid, _, request) = peer.read_call()?;
                peer.reply_ok_to(xid, &request)?;
                return peer.close();
            }
            peer.serve()
        })
    };
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(
        zk.session_password(),
        password,
        "the password is kept whole"
    );
    let mut states = zk.state_watcher();
    expect_ok::<A>(&zk, "a call on the first connection").await;
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(
        *lock(&presented),
        [(SessionId(SESSION), true)],
        "[{}] the reconnection presents the session id and the whole 64 KiB password",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A ConnectResponse whose password length is -1 (jute's null buffer) reads as an empty
/// password: the session is taken.
pub async fn negative_password_length_reads_as_an_empty_password<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.read_connect_request()?;
        let mut rest = (-1i32).to_be_bytes().to_vec();
        rest.push(0);
        peer.write_raw(&frame(&connect_response_body(TIMEOUT_MS, SESSION, &rest)))?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(zk.state(), SessionState::Connected);
    assert_eq!(zk.session_id(), SessionId(SESSION));
    assert!(zk.session_password().is_empty());
    kept_then_closed::<A>(&zk, &server, "a call on a session with a null password").await;
}

/// A ConnectResponse whose password length claims more bytes than its frame holds: refused
/// at once as malformed, never connected.
pub async fn password_longer_than_the_frame_is_refused<A: Adapter>() {
    let server = refuse_every_handshake(|peer| {
        let mut rest = 1000i32.to_be_bytes().to_vec();
        rest.extend_from_slice(&[7; 16]);
        rest.push(0);
        peer.write_raw(&frame(&connect_response_body(TIMEOUT_MS, SESSION, &rest)))
    });
    refused_at_once::<A>(&server, "an impossible password length").await;
}

/// A ConnectResponse without the final read-only byte (servers before 3.4) is a read-write
/// session.
pub async fn response_without_the_read_only_byte_is_accepted<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.read_connect_request()?;
        let mut body: Vec<u8> = Vec::new();
        session_response(SESSION, TIMEOUT_MS).encode(&mut body);
        body.pop();
        peer.write_raw(&frame(&body))?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(
        zk.state(),
        SessionState::Connected,
        "read-write, not read-only"
    );
    assert_eq!(zk.session_id(), SessionId(SESSION));
    kept_then_closed::<A>(&zk, &server, "a call on an old server's session").await;
}

/// On reconnection, a server that answers with another session than the one presented: the
/// session is Expired at once (long before client-side expiry), never continued silently
/// under the other id; a call queued meanwhile fails with SessionExpired.
pub async fn another_session_id_on_reconnect_expires_the_session<A: Adapter>() {
    let server = one_call_then(ROOMY_MS, |peer| {
        peer.handshake(OTHER_SESSION, ROOMY_MS)?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let mut states = zk.state_watcher();
    expect_ok::<A>(&zk, "a call on the first connection").await;
    wait_for_state::<A>(&mut states, SLACK, "the disconnection", |s| {
        s == SessionState::Disconnected
    })
    .await;
    let caller = zk.clone();
    let queued = A::spawn(async move { caller.get_data("/queued").await });
    // Within SLACK: far sooner than client-side expiry (8 s) could end it.
    let seen = wait_for_state::<A>(&mut states, SLACK, "the expiry", |s| {
        s == SessionState::Expired
    })
    .await;
    assert!(
        !seen.iter().any(|s| s.is_connected()),
        "[{}] the other session was never taken: {seen:?}",
        A::NAME
    );
    assert_eq!(zk.session_id(), SessionId(SESSION));
    let outcome = bounded::<A, _>("the queued call", queued).await;
    assert_eq!(
        failure(outcome, "a call queued at the reconnection"),
        session_expired()
    );
    // A measurement window (no event marks a reconnection that does not happen): with the
    // cases' 20 ms back-off, a terminal session that still reconnected would do so within it.
    A::sleep(ms(300)).await;
    assert_eq!(
        server.connections(),
        2,
        "[{}] an expired session never reconnects",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Expired);
}

/// On reconnection, a server that grants session id 0: refused like any malformed handshake,
/// never taken as a new session; the session ends by client-side expiry.
pub async fn session_id_zero_on_reconnect_ends_in_client_side_expiry<A: Adapter>() {
    let server = one_call_then(TIMEOUT_MS, |peer| {
        peer.read_connect_request()?;
        peer.accept_session(0, TIMEOUT_MS)?;
        peer.drain()
    });
    refused_reconnections_end_in_client_side_expiry::<A>(&server).await;
}

/// On every reconnection, two garbage bytes then the end of the connection: the session ends
/// by client-side expiry.
pub async fn garbage_on_every_reconnect_ends_in_client_side_expiry<A: Adapter>() {
    let server = one_call_then(TIMEOUT_MS, |peer| {
        peer.read_connect_request()?;
        peer.write_raw(&[0x01, 0x02])?;
        peer.close()
    });
    refused_reconnections_end_in_client_side_expiry::<A>(&server).await;
}

/// A server that accepts TCP but never answers the handshake: each attempt ends at the
/// connect timeout, so the client reconnects at most once per connect timeout.
pub async fn silent_server_is_dropped_by_the_connect_timeout_at_a_bounded_rate<A: Adapter>() {
    let server = refuse_every_handshake(|_| Ok(()));
    dropped_by_the_connect_timeout::<A>(&server, ms(2600), "an attempt on a silent server").await;
}

/// Connections closed by the server right after accepting them are retried; the first
/// connection that gets a handshake makes the session.
pub async fn connection_closed_right_after_accept_is_retried<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        if peer.index() < 3 {
            return peer.close();
        }
        peer.handshake(SESSION, TIMEOUT_MS)?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(zk.session_id(), SessionId(SESSION));
    assert_eq!(
        server.connections(),
        4,
        "[{}] three closed connections, then the session",
        A::NAME
    );
    expect_ok::<A>(&zk, "a call once a connection survives").await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

// -------------------------------------------------------------------------------------------
// Framing
// -------------------------------------------------------------------------------------------

/// A negative length prefix: protocol violation, the call in flight fails with
/// ConnectionLoss at once, and the client reconnects.
pub async fn negative_length_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, _, _| peer.write_raw(&(-2i32).to_be_bytes())).await;
}

/// A frame of length zero (no reply header): protocol violation.
pub async fn zero_length_frame_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, _, _| peer.write_raw(&0i32.to_be_bytes())).await;
}

/// A frame of 8 bytes, shorter than a reply header, even though it starts with the right xid:
/// protocol violation.
pub async fn frame_shorter_than_a_reply_header_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, xid, _| {
        let mut body = xid.0.to_be_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0]);
        peer.write_raw(&frame(&body))
    })
    .await;
}

/// A reply one byte over the maximum frame length, with a valid header for the call: the call
/// fails with ReplyTooLarge, the reply is skipped (never buffered whole) and the connection
/// kept.
pub async fn reply_just_over_the_max_frame_fails_its_call_and_keeps_the_connection<A: Adapter>() {
    let server = misbehave_on_first_call(ROOMY_MS, |peer, xid, _| {
        let len = DEFAULT_MAX_FRAME_LEN + 1;
        let mut reply = Vec::with_capacity(4 + len);
        reply.extend_from_slice(&(len as i32).to_be_bytes());
        reply.extend_from_slice(&reply_header(xid.0, 1, 0));
        reply.resize(4 + len, 0);
        peer.write_raw(&reply)
    });
    let error = first_call_fails_on_a_kept_connection::<A>(&server).await;
    assert_eq!(
        error,
        GetDataError::Common(CommonError::ReplyTooLarge {
            len: DEFAULT_MAX_FRAME_LEN + 1,
            max: DEFAULT_MAX_FRAME_LEN,
        }),
        "[{}] the call answered by an oversized reply",
        A::NAME
    );
    assert_peak_below::<A>(8 << 20, "an oversized reply is skipped, not buffered");
}

/// A reply over the maximum frame length whose header names an xid that is not in flight:
/// protocol violation (nothing to fail with ReplyTooLarge, nothing to skip for).
pub async fn oversized_reply_for_another_xid_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, xid, _| {
        let mut claim = ((DEFAULT_MAX_FRAME_LEN + 1) as i32).to_be_bytes().to_vec();
        claim.extend_from_slice(&reply_header(xid.0 + 7, 1, 0));
        peer.write_raw(&claim)
    })
    .await;
}

/// A reply claiming 2 GiB with a valid header for the call: the call fails with ReplyTooLarge
/// at once. The server then trickles bytes that never finish the frame: no complete frame
/// arrives, so the read timeout drops the connection and the next call fails with
/// ConnectionLoss; the client reconnects and a call works. Memory stays small throughout.
pub async fn two_gib_reply_fails_its_call_then_the_trickle_is_cut_by_the_read_timeout<
    A: Adapter,
>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        if peer.index() == 0 {
            let (xid, _, _) = peer.read_call()?;
            let mut claim = i32::MAX.to_be_bytes().to_vec();
            claim.extend_from_slice(&reply_header(xid.0, 1, 0));
            peer.write_raw(&claim)?;
            // The client now skips up to 2 GiB: the next call is answered by a trickle that
            // never ends the frame.
            peer.read_call_ignoring_pings()?;
            peer.write_slowly(&[0u8; 64], ms(200))?;
            return peer.drain();
        }
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let mut states = zk.state_watcher();
    let first = bounded::<A, _>("the first call", zk.get_data("/first")).await;
    assert_eq!(
        failure(first, "the call answered by a 2 GiB reply"),
        GetDataError::Common(CommonError::ReplyTooLarge {
            len: i32::MAX as usize,
            max: DEFAULT_MAX_FRAME_LEN,
        }),
        "[{}] the call answered by a 2 GiB reply",
        A::NAME
    );
    let started = Instant::now();
    let second = bounded::<A, _>("the second call", zk.get_data("/second")).await;
    let took = started.elapsed();
    assert_eq!(
        failure(second, "the call in flight during the trickle"),
        connection_loss(),
        "[{}] the call in flight while the oversized frame trickles in",
        A::NAME
    );
    let bound = read_timeout(TIMEOUT_MS) + SLACK;
    assert!(
        took <= bound,
        "[{}] the trickle was cut after {took:?}, over {bound:?}",
        A::NAME
    );
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_peak_below::<A>(8 << 20, "a 2 GiB claim is never buffered");
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A notification frame (xid -1) claiming 2 GiB: a special frame cannot be skipped for a
/// call, so it is a protocol violation.
pub async fn two_gib_notification_frame_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, _, _| {
        let mut claim = i32::MAX.to_be_bytes().to_vec();
        claim.extend_from_slice(&reply_header(Xid::NOTIFICATION.0, -1, 0));
        peer.write_raw(&claim)
    })
    .await;
    assert_peak_below::<A>(8 << 20, "a 2 GiB notification is never buffered");
}

/// A length prefix and nothing after it: no complete frame, so the read timeout drops the
/// connection; the call in flight fails with ConnectionLoss.
pub async fn length_prefix_then_silence_is_cut_by_the_read_timeout<A: Adapter>() {
    let server = misbehave_on_first_call(TIMEOUT_MS, |peer, _, _| {
        peer.write_raw(&50i32.to_be_bytes())?;
        peer.drain()
    });
    first_call_is_lost_then_the_session_recovers::<A>(
        &server,
        TIMEOUT_MS,
        ms(300),
        read_timeout(TIMEOUT_MS) + SLACK,
    )
    .await;
}

/// A reply of exactly the maximum frame length (0xfffff bytes after the prefix) is a valid
/// reply: the data arrives whole.
pub async fn frame_of_exactly_the_max_length_is_accepted<A: Adapter>() {
    let data_len = DEFAULT_MAX_FRAME_LEN - 16 - 4 - Stat::default().encoded_len();
    let response = Response::GetData(GetDataResponse {
        data: Some(Bytes::from(vec![0x5au8; data_len])),
        stat: Stat::default(),
    });
    // Checked here, not in the server's thread, where a failure would only end the script.
    assert_eq!(
        16 + response.encoded_len(),
        DEFAULT_MAX_FRAME_LEN,
        "the reply frame is exactly the maximum"
    );
    let server = misbehave_on_first_call(ROOMY_MS, move |peer, xid, _| {
        peer.reply(xid, ZXID, ErrorCode::Ok, &response)
    });
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let outcome = bounded::<A, _>("the call answered at the maximum", zk.get_data("/max")).await;
    let (data, _) = outcome.unwrap_or_else(|e| {
        panic!(
            "[{}] a reply of exactly the maximum frame length must be accepted: {e:?}",
            A::NAME
        )
    });
    assert_eq!(data.len(), data_len);
    assert!(data.iter().all(|&b| b == 0x5a), "the data arrives intact");
    drop(data);
    expect_ok::<A>(&zk, "a call after the largest reply").await;
    assert_eq!(zk.state(), SessionState::Connected);
    assert_eq!(server.connections(), 1);
    assert_peak_below::<A>(16 << 20, "one reply of the maximum length");
    assert_eq!(zk.close().await, SessionState::Closed);
}

// -------------------------------------------------------------------------------------------
// Matching replies to calls
// -------------------------------------------------------------------------------------------

/// A reply whose xid was never sent: protocol violation.
pub async fn reply_with_an_unknown_xid_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, xid, op| {
        peer.reply(Xid(xid.0 + 100), ZXID, ErrorCode::Ok, &ok_response_for(op))
    })
    .await;
}

/// Two calls in flight answered in reverse order: protocol violation; both fail with
/// ConnectionLoss (neither gets the other's reply).
pub async fn reordered_replies_to_pipelined_calls_drop_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        if peer.index() == 0 {
            let (first, first_op, _) = peer.read_call()?;
            let (second, second_op, _) = peer.read_call()?;
            peer.reply_ok_for(second, second_op)?;
            peer.reply_ok_for(first, first_op)?;
            return peer.drain();
        }
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let mut states = zk.state_watcher();
    let calls: Vec<_> = ["/a", "/b"]
        .into_iter()
        .map(|path| {
            let caller = zk.clone();
            A::spawn(async move { caller.get_data(path).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let outcome = bounded::<A, _>("a pipelined call", call).await;
        assert_eq!(
            failure(outcome, "a call answered out of order"),
            connection_loss(),
            "[{}] pipelined call {i}",
            A::NAME
        );
    }
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// The same reply twice: the first answers the call, the second arrives with nothing in
/// flight: protocol violation, and the client reconnects.
pub async fn duplicate_reply_drops_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        if peer.index() == 0 {
            let (xid, _, request) = peer.read_call()?;
            peer.reply_ok_to(xid, &request)?;
            peer.reply_ok_to(xid, &request)?;
            return peer.drain();
        }
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let mut states = zk.state_watcher();
    let outcome = bounded::<A, _>("the call answered twice", zk.get_data("/twice")).await;
    assert!(
        outcome.is_ok(),
        "[{}] the first of two replies answers the call: {outcome:?}",
        A::NAME
    );
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A reply with the right xid but the body of another operation (a create's path for a
/// getData): that call fails with MalformedReply, the connection is kept.
pub async fn reply_body_of_the_wrong_type_fails_only_its_call<A: Adapter>() {
    let server = misbehave_on_first_call(ROOMY_MS, |peer, xid, _| {
        let body = Response::Create(CreateResponse { path: "/x".into() });
        peer.reply(xid, ZXID, ErrorCode::Ok, &body)
    });
    let error = first_call_fails_on_a_kept_connection::<A>(&server).await;
    assert!(
        matches!(error, GetDataError::Common(CommonError::MalformedReply(_))),
        "[{}] a getData answered with a create's body: {error:?}",
        A::NAME
    );
}

/// An error code no ZooKeeper version defines (-999): the call fails with it, raw; the
/// connection is kept.
pub async fn unknown_error_code_fails_the_call_with_the_raw_code<A: Adapter>() {
    let server = misbehave_on_first_call(ROOMY_MS, |peer, xid, _| {
        peer.reply(xid, ZXID, ErrorCode::from_i32(-999), &Response::Empty)
    });
    let error = first_call_fails_on_a_kept_connection::<A>(&server).await;
    assert_eq!(
        error,
        GetDataError::Common(CommonError::Server(ErrorCode::Unknown(-999))),
        "[{}] a call answered with an unknown code",
        A::NAME
    );
}

/// A getData reply whose body stops in the middle of its stat: the call fails with
/// MalformedReply; the connection is kept.
pub async fn truncated_reply_body_fails_only_its_call<A: Adapter>() {
    let server = misbehave_on_first_call(ROOMY_MS, |peer, xid, _| {
        let mut body: Vec<u8> = Vec::new();
        Response::GetData(GetDataResponse {
            data: Some(Bytes::from_static(b"abc")),
            stat: Stat::default(),
        })
        .encode(&mut body);
        body.truncate(body.len() - 10);
        let mut reply = reply_header(xid.0, 1, 0).to_vec();
        reply.extend_from_slice(&body);
        peer.write_raw(&frame(&reply))
    });
    let error = first_call_fails_on_a_kept_connection::<A>(&server).await;
    assert!(
        matches!(error, GetDataError::Common(CommonError::MalformedReply(_))),
        "[{}] a getData answered with a truncated body: {error:?}",
        A::NAME
    );
}

/// Replies carrying zxid i64::MAX and then a negative zxid are answered normally, and the
/// next handshake presents a zxid that is not negative.
pub async fn huge_and_negative_zxids_are_harmless<A: Adapter>() {
    let presented: Arc<Mutex<Vec<i64>>> = Arc::default();
    let server = {
        let presented = presented.clone();
        FakeServer::scripted(move |peer| {
            let request = peer.handshake(SESSION, TIMEOUT_MS)?;
            lock(&presented).push(request.last_zxid_seen.0);
            if peer.index() == 0 {
                let (xid, _, request) = peer.read_call()?;
                peer.reply(xid, Zxid(i64::MAX), ErrorCode::Ok, &ok_response(&request))?;
                let (xid, _, request) = peer.read_call()?;
                peer.reply(xid, Zxid(-5), ErrorCode::Ok, &ok_response(&request))?;
                return peer.close();
            }
            peer.serve()
        })
    };
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let mut states = zk.state_watcher();
    expect_ok::<A>(&zk, "a reply with zxid i64::MAX").await;
    expect_ok::<A>(&zk, "a reply with a negative zxid").await;
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    let presented = lock(&presented).clone();
    assert_eq!(presented.len(), 2);
    assert!(
        presented[1] >= 0,
        "[{}] a negative zxid must not be presented: {presented:?}",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// Ping replies that carry a body are still ping replies: the connection is kept, alive.
pub async fn ping_reply_with_a_body_is_harmless<A: Adapter>() {
    // The server reports each ping it answered.
    let (answered, pings) = std::sync::mpsc::channel::<()>();
    let server = FakeServer::scripted(move |peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        let answered = answered.clone();
        peer.serve_with(move |p, xid, op, request| {
            if op == OpCode::Ping {
                let mut reply = reply_header(xid.0, 1, 0).to_vec();
                reply.extend_from_slice(b"unexpected body");
                p.write_raw(&frame(&reply))?;
                let _ = answered.send(());
                return Ok(());
            }
            p.reply_ok_to(xid, &request)
        })
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let mut states = zk.state_watcher();
    // Pings go out every half read timeout: wait until the server reports three answered
    // with bodies (the reports are waited for on a thread of their own).
    let within = read_timeout(TIMEOUT_MS) * 2 + SLACK;
    let (wait, three_answered) = Task::wrap(async move {
        let deadline = Instant::now() + within;
        (0..3).all(|_| {
            pings
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
        })
    });
    thread::spawn(move || zk_client::adapter::block_on(wait, None));
    assert!(
        bounded::<A, _>("three pings answered", three_answered).await,
        "[{}] fewer than 3 pings were answered within {within:?}",
        A::NAME
    );
    assert_no_state_change::<A>(&mut states, "pings answered with bodies").await;
    kept_then_closed::<A>(&zk, &server, "a call after pings answered with bodies").await;
}

/// A reply arriving while no call is in flight: protocol violation; the client reconnects.
pub async fn reply_while_nothing_is_in_flight_drops_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        if peer.index() == 0 {
            peer.reply_ok_for(Xid(1), OpCode::GetData)?;
            return peer.drain();
        }
        peer.serve()
    });
    first_connection_dropped_at_once::<A>(&server).await;
}

// -------------------------------------------------------------------------------------------
// Notifications
// -------------------------------------------------------------------------------------------

/// Notifications for paths nobody watches are ignored; a watched path's notification after
/// them still fires its watch; the connection is kept.
pub async fn notification_for_an_unwatched_path_is_ignored<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        peer.serve_with(|p, xid, _, request| {
            if matches!(&request, Request::GetData(r) if r.path == "/trigger") {
                p.notify(EventType::NodeDataChanged, "/nobody")?;
                p.notify(EventType::NodeDeleted, "/nobody/child")?;
                p.notify(EventType::NodeDataChanged, "/watched")?;
            }
            p.reply_ok_to(xid, &request)
        })
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let (_, mut watch) = bounded::<A, _>("a data watch", zk.get_data_and_watch("/watched"))
        .await
        .unwrap_or_else(|e| panic!("[{}] setting a data watch: {e:?}", A::NAME));
    bounded::<A, _>(
        "the call followed by the notifications",
        zk.get_data("/trigger"),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] the triggering call: {e:?}", A::NAME));
    assert_eq!(
        A::wait_watch(&mut watch, SLACK).await,
        Some(node_event(EventType::NodeDataChanged, "/watched")),
        "[{}] the watched path's notification",
        A::NAME
    );
    kept_then_closed::<A>(&zk, &server, "a call after the notifications").await;
}

/// A notification whose path is as long as a frame allows (about 1 MiB) reaches a recursive
/// watch whole.
pub async fn huge_path_notification_reaches_a_recursive_watch_intact<A: Adapter>() {
    // Frame = reply header (16) + event type, state and path length (12) + path.
    let path_len = DEFAULT_MAX_FRAME_LEN - 32;
    let server = FakeServer::scripted(move |peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        let (xid, op, _) = peer.serve_until(|_, op, _| op == OpCode::AddWatch)?;
        peer.reply_ok_for(xid, op)?;
        let mut path = vec![b'a'; path_len];
        path[0] = b'/';
        peer.notify_raw(EventType::NodeDataChanged.as_i32(), &path)?;
        peer.serve()
    });
    // Room for one event of this size in the stream's buffer, whatever the defaults.
    let zk = connect::<A>(&options(&server, ROOMY_MS).event_buffer_bytes(8 << 20, 16 << 20)).await;
    let mut stream = bounded::<A, _>(
        "a recursive watch",
        zk.add_watch("/", AddWatchMode::PersistentRecursive),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] adding a recursive watch: {e:?}", A::NAME));
    let event = A::next_event(&mut stream, SLACK).await;
    match &event {
        Ok(Some(WatchEvent::Node { event_type, path })) => {
            assert_eq!(*event_type, EventType::NodeDataChanged);
            assert_eq!(path.len(), path_len, "[{}] the path arrives whole", A::NAME);
            assert!(
                path.starts_with('/') && path.bytes().skip(1).all(|b| b == b'a'),
                "[{}] the path arrives intact",
                A::NAME
            );
        }
        _ => panic!(
            "[{}] expected the huge node event, got {}",
            A::NAME,
            describe(&event)
        ),
    }
    drop(event);
    expect_ok::<A>(&zk, "a call after the huge notification").await;
    assert_eq!(server.connections(), 1);
    assert_peak_below::<A>(16 << 20, "one notification of the maximum length");
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A server that answers the first addWatch, then sends [`FLOOD`] notifications with distinct
/// paths of [`FLOOD_PATH_LEN`] bytes, then serves normally.
fn flood_server() -> FakeServer {
    FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        let (xid, op, _) = peer.serve_until(|_, op, _| op == OpCode::AddWatch)?;
        peer.reply_ok_for(xid, op)?;
        let mut path = vec![b'a'; FLOOD_PATH_LEN];
        path[0] = b'/';
        for i in 0..FLOOD {
            // "/00aaa...", "/01aaa...", ...
            path[1] = b'0' + (i / 10) as u8;
            path[2] = b'0' + (i % 10) as u8;
            peer.notify_raw(EventType::NodeDataChanged.as_i32(), &path)?;
        }
        peer.serve()
    })
}

/// Reads `stream`, pausing `pause` after each event, until every one of the [`FLOOD`] events
/// was either delivered or counted in a `Lagged`; returns both numbers.
async fn read_flood<A: Adapter>(stream: &mut WatchStream, pause: Duration) -> (u64, u64) {
    let (mut delivered, mut lagged) = (0u64, 0u64);
    while delivered + lagged < FLOOD as u64 {
        match A::next_event(stream, SLACK * 2).await {
            Ok(Some(WatchEvent::Node { event_type, path })) => {
                assert_eq!(event_type, EventType::NodeDataChanged);
                assert_eq!(path.len(), FLOOD_PATH_LEN, "[{}] a flood path", A::NAME);
                delivered += 1;
            }
            Ok(Some(WatchEvent::Lagged(n))) => {
                assert!(n > 0, "[{}] Lagged(0)", A::NAME);
                lagged += n;
            }
            Ok(Some(other)) => panic!(
                "[{}] unexpected event in a flood: {}",
                A::NAME,
                describe(&Ok(Some(other)))
            ),
            Ok(None) => panic!("[{}] the watch stream ended during a flood", A::NAME),
            Err(_) => panic!(
                "[{}] of {FLOOD} flooding events, {delivered} were delivered and {lagged} \
                 reported lagged; nothing more came",
                A::NAME
            ),
        }
        if !pause.is_zero() {
            A::sleep(pause).await;
        }
    }
    assert_eq!(
        delivered + lagged,
        FLOOD as u64,
        "[{}] every event is delivered or counted as lagged, once",
        A::NAME
    );
    assert!(delivered >= 1, "[{}] some events were delivered", A::NAME);
    assert!(
        lagged > 0,
        "[{}] a consumer that fell behind a 64 MB flood is told it lagged",
        A::NAME
    );
    let more = A::next_event(stream, ms(300)).await;
    assert!(
        more.is_err(),
        "[{}] nothing follows the flood: {}",
        A::NAME,
        describe(&more)
    );
    (delivered, lagged)
}

/// 64 notifications of a megabyte each to a recursive watch whose stream nobody reads:
/// the session buffers a bounded amount (the rest is dropped, not queued), so the heap stays
/// small; reading the stream afterwards gives some events and a `Lagged` for the rest.
pub async fn notification_flood_without_a_consumer_keeps_memory_bounded<A: Adapter>() {
    let server = flood_server();
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let mut stream = bounded::<A, _>(
        "a recursive watch",
        zk.add_watch("/", AddWatchMode::PersistentRecursive),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] adding a recursive watch: {e:?}", A::NAME));
    // The server reads this call only after writing the whole flood, and the client handles
    // frames in order: when it returns, every notification was handled, with nobody reading.
    expect_ok::<A>(&zk, "a call after the flood").await;
    assert_peak_below::<A>(FLOOD_MEMORY, "64 notifications of 1 MB, nobody reading");
    let (delivered, lagged) = read_flood::<A>(&mut stream, Duration::ZERO).await;
    eprintln!(
        "[{}] flood without a consumer: {delivered} delivered, {lagged} lagged",
        A::NAME
    );
    let stats = zk.stats();
    assert_eq!(
        stats.watch_events_dropped,
        lagged,
        "[{}] the client's count of dropped events is what the stream reported: {stats:?}",
        A::NAME
    );
    assert_eq!(
        stats.session.watch_notifications,
        delivered + lagged,
        "[{}] every notification is counted: {stats:?}",
        A::NAME
    );
    assert_eq!(server.connections(), 1);
    assert_peak_below::<A>(FLOOD_MEMORY, "the flood, read afterwards");
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// The same flood to a consumer that reads one event, then sleeps: the heap stays small and
/// the consumer is told how many events it missed.
pub async fn notification_flood_with_a_slow_consumer_keeps_memory_bounded<A: Adapter>() {
    let server = flood_server();
    let zk = connect::<A>(&options(&server, ROOMY_MS)).await;
    let mut stream = bounded::<A, _>(
        "a recursive watch",
        zk.add_watch("/", AddWatchMode::PersistentRecursive),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] adding a recursive watch: {e:?}", A::NAME));
    let (delivered, lagged) = read_flood::<A>(&mut stream, ms(100)).await;
    eprintln!(
        "[{}] flood with a slow consumer: {delivered} delivered, {lagged} lagged",
        A::NAME
    );
    assert_peak_below::<A>(FLOOD_MEMORY, "64 notifications of 1 MB, read slowly");
    kept_then_closed::<A>(&zk, &server, "a call after the flood").await;
}

/// A notification frame whose body does not decode as a watcher event: protocol violation.
pub async fn undecodable_notification_drops_the_connection<A: Adapter>() {
    violation_drops_the_connection::<A>(|peer, _, _| {
        let mut body = reply_header(Xid::NOTIFICATION.0, -1, 0).to_vec();
        body.extend_from_slice(&[1, 2, 3]);
        peer.write_raw(&frame(&body))
    })
    .await;
}

/// A notification of an event type no ZooKeeper defines (99) is ignored: the recursive watch
/// on its path sees only the next, known event; the connection is kept.
pub async fn unknown_event_type_is_ignored<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        let (xid, op, _) = peer.serve_until(|_, op, _| op == OpCode::AddWatch)?;
        peer.reply_ok_for(xid, op)?;
        peer.notify_raw(99, b"/x")?;
        peer.notify(EventType::NodeDataChanged, "/x")?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let mut stream = bounded::<A, _>(
        "a recursive watch",
        zk.add_watch("/", AddWatchMode::PersistentRecursive),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] adding a recursive watch: {e:?}", A::NAME));
    assert_eq!(
        A::next_event(&mut stream, SLACK).await,
        Ok(Some(node_event(EventType::NodeDataChanged, "/x"))),
        "[{}] the first event after an unknown one",
        A::NAME
    );
    assert!(
        A::next_event(&mut stream, ms(300)).await.is_err(),
        "[{}] nothing else",
        A::NAME
    );
    kept_then_closed::<A>(&zk, &server, "a call after the unknown event").await;
}

/// A notification where the ConnectResponse belongs, followed by a ConnectResponse: read as a
/// ConnectResponse the notification is malformed (its bytes give session id 0 and the
/// read-only flag), so the connection is refused and the response after it never taken; the
/// session is made on the next connection.
pub async fn notification_before_the_connect_response_is_refused<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.read_connect_request()?;
        if peer.index() == 0 {
            // zxid 0x1_0000_0000: epoch 1, counter 0, as a 3.9 server may send it.
            let mut body = reply_header(Xid::NOTIFICATION.0, 1 << 32, 0).to_vec();
            body.extend_from_slice(&EventType::NodeDataChanged.as_i32().to_be_bytes());
            body.extend_from_slice(&KeeperState::SyncConnected.as_i32().to_be_bytes());
            body.extend_from_slice(&2i32.to_be_bytes());
            body.extend_from_slice(b"/x");
            peer.write_raw(&frame(&body))?;
            peer.accept_session(OTHER_SESSION, TIMEOUT_MS)?;
            return peer.drain();
        }
        peer.accept_session(SESSION, TIMEOUT_MS)?;
        peer.serve()
    });
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    assert_eq!(
        zk.session_id(),
        SessionId(SESSION),
        "[{}] the session comes from the second connection",
        A::NAME
    );
    assert_eq!(server.connections(), 2);
    expect_ok::<A>(&zk, "a call on the second connection").await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

// -------------------------------------------------------------------------------------------
// Liveness
// -------------------------------------------------------------------------------------------

/// The client says its last connection ended by the read timeout.
fn expect_read_timeout<A: Adapter>(zk: &A::Client) {
    assert_eq!(
        zk.last_disconnect(),
        Some(zk_client::DisconnectReason::ReadTimeout),
        "[{}] the client says why it disconnected",
        A::NAME
    );
}

/// A server that grants the session on every connection, then on the first one does `first`
/// (stays silent, stops reading, ...) and serves normally on the later ones.
fn first_connection_after_the_handshake(first: fn(&mut Peer) -> io::Result<()>) -> FakeServer {
    FakeServer::scripted(move |peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        if peer.index() == 0 {
            return first(peer);
        }
        peer.serve()
    })
}

/// A server that goes silent after the handshake (not even ping replies): the read timeout
/// (2/3 of the session timeout) drops the connection, the call in flight fails with
/// ConnectionLoss, the state goes Disconnected, and the client reconnects.
pub async fn silence_after_the_handshake_is_cut_by_the_read_timeout<A: Adapter>() {
    let server = first_connection_after_the_handshake(Peer::drain);
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let connected_at = Instant::now();
    let mut states = zk.state_watcher();
    let outcome = bounded::<A, _>("the call on a silent server", zk.get_data("/silence")).await;
    let took = connected_at.elapsed();
    assert_eq!(
        failure(outcome, "the call on a silent server"),
        connection_loss(),
        "[{}] the call in flight on a silent server",
        A::NAME
    );
    let read = read_timeout(TIMEOUT_MS);
    assert!(
        took >= read - ms(200) && took <= read + SLACK,
        "[{}] silence detected {took:?} after the handshake; the read timeout is {read:?}",
        A::NAME
    );
    expect_read_timeout::<A>(&zk);
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// Payload of each call that fills the socket of a server that stops reading.
const STALL_PAYLOAD: usize = 512 << 10;
/// Calls of [`STALL_PAYLOAD`] each: 8 MiB, more than the client's send buffer holds (Linux's
/// default `tcp_wmem` maximum is 4 MiB) beside the stalled server's minimal receive buffer.
const STALL_CALLS: usize = 16;

/// A server that stops reading after the handshake (and sends nothing): the client's writes
/// fill both socket buffers and block (zk-blocking's callers write on their own threads, so
/// one is blocked in `write` holding the connection's writer). The read timeout must still
/// drop the connection: every call written fails with ConnectionLoss by then, not when the
/// server goes away, the client reconnects, and the 8 MiB of requests leave the heap within
/// the hostile suite's bound.
pub async fn server_that_stops_reading_is_cut_by_the_read_timeout<A: Adapter>() {
    let server = first_connection_after_the_handshake(Peer::stall);
    let zk = connect::<A>(&options(&server, TIMEOUT_MS)).await;
    let connected_at = Instant::now();
    let mut states = zk.state_watcher();
    let payload = Bytes::from(vec![b's'; STALL_PAYLOAD]);
    let calls: Vec<_> = (0..STALL_CALLS)
        .map(|i| {
            let caller = zk.clone();
            let payload = payload.clone();
            A::spawn(async move { caller.set_data(&format!("/stall-{i}"), payload, None).await })
        })
        .collect();
    let mut lost = 0;
    let mut first_lost = None;
    for (i, call) in calls.into_iter().enumerate() {
        let outcome = bounded::<A, _>("a call to a server that stopped reading", call).await;
        match outcome {
            Err(e)
                if *e.kind()
                    == zk_client::ops::SetDataError::Common(CommonError::ConnectionLoss) =>
            {
                lost += 1;
                first_lost.get_or_insert_with(|| connected_at.elapsed());
            }
            // Not written yet when the connection was dropped (zk-blocking's callers leave
            // their frames to the one writing): sent on the next connection, and answered.
            Ok(_) => {}
            other => panic!(
                "[{}] call {i} to a server that stopped reading: {other:?}",
                A::NAME
            ),
        }
    }
    assert!(
        lost > 0,
        "[{}] the calls written to a server that stopped reading fail with ConnectionLoss",
        A::NAME
    );
    let took = connected_at.elapsed();
    let read = read_timeout(TIMEOUT_MS);
    assert!(
        took <= read + SLACK,
        "[{}] the calls to a server that stopped reading ended {took:?} after the handshake; \
         the read timeout is {read:?}",
        A::NAME
    );
    expect_read_timeout::<A>(&zk);
    // Seen no earlier than it happened: a connection dropped before the read timeout (by
    // anything but the liveness rule) fails this.
    let first_lost = first_lost.unwrap_or(took);
    assert!(
        first_lost >= read - ms(200),
        "[{}] a call was lost {first_lost:?} after the handshake, before the read timeout \
         ({read:?})",
        A::NAME
    );
    expect_reconnection::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// A valid reply trickled one byte every 200 ms: bytes keep arriving but no frame completes,
/// so the read timeout drops the connection; the call fails with ConnectionLoss.
pub async fn reply_trickled_one_byte_every_200_ms_is_cut_by_the_read_timeout<A: Adapter>() {
    let server = misbehave_on_first_call(TIMEOUT_MS, |peer, xid, op| {
        let mut reply: Vec<u8> = Vec::new();
        let header = ReplyHeader {
            xid,
            zxid: ZXID,
            err: ErrorCode::Ok,
        };
        zk_client::proto::write_reply(&mut reply, &header, &ok_response_for(op));
        peer.write_slowly(&reply, ms(200))?;
        peer.drain()
    });
    first_call_is_lost_then_the_session_recovers::<A>(
        &server,
        TIMEOUT_MS,
        ms(300),
        read_timeout(TIMEOUT_MS) + SLACK,
    )
    .await;
}

/// A server that closes every connection right after its handshake: a connection that dies
/// at once does not reset the back-off, so with the default back-off (1 s after each pass
/// over the one host, plus jitter) the client reconnects at most about once a second; every
/// handshake confirms the session, so it survives.
pub async fn close_after_every_handshake_reconnects_at_most_once_a_second<A: Adapter>() {
    const LONGER_MS: i32 = 4000;
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, LONGER_MS)?;
        peer.close()
    });
    let mut options = options(&server, LONGER_MS);
    options.backoff = None;
    let zk = A::start(&options).expect("start a client");
    let window = ms(6000);
    // A measurement window: the reconnection rate is what is measured.
    A::sleep(window + ms(500)).await;
    let accepted = server.accepted();
    let first = *accepted.first().expect("a first connection");
    let within = accepted.iter().filter(|t| **t - first <= window).count();
    assert!(
        within <= 7,
        "[{}] {within} connections in {window:?}: the back-off allows at most 7",
        A::NAME
    );
    assert!(
        within >= 3,
        "[{}] only {within} connections in {window:?}: the client must keep reconnecting",
        A::NAME
    );
    for gap in gaps(&accepted) {
        assert!(
            gap >= ms(900),
            "[{}] a reconnection {gap:?} after the last one, faster than the back-off",
            A::NAME
        );
    }
    assert!(
        !zk.state().is_terminal(),
        "[{}] every handshake confirms the session: {:?}",
        A::NAME,
        zk.state()
    );
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// Two ConnectResponses in a row: the second arrives where only replies may, as a reply to
/// nothing: protocol violation; the client reconnects.
pub async fn second_connect_response_drops_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.read_connect_request()?;
        peer.accept_session(SESSION, ROOMY_MS)?;
        if peer.index() == 0 {
            peer.accept_session(SESSION, ROOMY_MS)?;
            return peer.drain();
        }
        peer.serve()
    });
    first_connection_dropped_at_once::<A>(&server).await;
}

/// A server that answers pings but never the call: without a call timeout the call stays
/// pending (the connection is alive) past three read timeouts, Connected throughout; closing
/// the client ends it with a terminal error.
pub async fn ignored_call_stays_pending_while_pings_are_answered_until_close<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        peer.serve_with(|p, xid, op, _| {
            if op == OpCode::Ping {
                p.reply_ok_for(xid, op)
            } else {
                Ok(())
            }
        })
    });
    // The server never answers the close either: the close timer ends the session, and is
    // kept well inside a read timeout, so that only it decides how the pending call ends
    // (a connection lost while closing, under load, would end it with ConnectionLoss).
    let zk = connect::<A>(&options(&server, TIMEOUT_MS).close_timeout(ms(300))).await;
    let mut states = zk.state_watcher();
    let caller = zk.clone();
    let mut pending = A::spawn(async move { caller.get_data("/ignored").await });
    // A measurement window: how long the call stays pending is what is measured.
    A::sleep(read_timeout(TIMEOUT_MS) * 3).await;
    assert!(
        now_or_never(&mut pending).is_none(),
        "[{}] a call on a live connection stays pending until answered",
        A::NAME
    );
    assert_eq!(zk.state(), SessionState::Connected);
    assert_no_state_change::<A>(&mut states, "pings answered, a call ignored").await;
    assert_eq!(server.connections(), 1);
    assert_eq!(zk.close().await, SessionState::Closed);
    let outcome = bounded::<A, _>("the ignored call after close", pending).await;
    let error = failure(outcome, "a call pending at close");
    assert!(
        matches!(&error, GetDataError::Common(e) if e.is_terminal()),
        "[{}] a call pending at close ends with a terminal error: {error:?} (last disconnect: \
         {:?})",
        A::NAME,
        zk.last_disconnect()
    );
}

// -------------------------------------------------------------------------------------------
// Deadlines
// -------------------------------------------------------------------------------------------

/// With a call timeout, a call the server never answers (it answers pings, and the call late,
/// only when the next one comes) fails with RequestTimeout after about the timeout; the
/// connection is kept (Connected, no reconnection) and the next call works.
pub async fn call_timeout_fails_an_unanswered_call_and_keeps_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        let mut held = None;
        loop {
            let (xid, _, request) = peer.read_call()?;
            if held.is_none() && matches!(&request, Request::GetData(r) if r.path == "/unanswered")
            {
                held = Some(xid);
                continue;
            }
            // Replies go in order: the held call's (late) reply first.
            if let Some(late) = held.take() {
                peer.reply_ok_for(late, OpCode::GetData)?;
            }
            peer.reply_ok_to(xid, &request)?;
        }
    });
    let call_timeout = ms(500);
    let zk = connect::<A>(&options(&server, ROOMY_MS).call_timeout(call_timeout)).await;
    let mut states = zk.state_watcher();
    expect_request_timeout::<A>(&zk, "/unanswered", Some(call_timeout), "an unanswered call").await;
    assert_eq!(zk.state(), SessionState::Connected);
    expect_ok::<A>(&zk, "a call after a timed-out one").await;
    assert_no_state_change::<A>(&mut states, "a call that timed out").await;
    assert_eq!(
        server.connections(),
        1,
        "[{}] the connection was kept",
        A::NAME
    );
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// With a call timeout, a server that answers pings but never the call: the call fails with
/// RequestTimeout at its deadline, and a read timeout later the connection is taken for stuck
/// and dropped (otherwise such calls would pile up against the bound on requests outstanding
/// forever); the session reconnects, the same session, and the next call works.
pub async fn call_timeout_then_a_read_timeout_without_its_reply_drops_the_connection<A: Adapter>() {
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        if peer.index() == 0 {
            return peer.serve_with(|p, xid, op, _| {
                if op == OpCode::Ping {
                    p.reply_ok_for(xid, op)
                } else {
                    Ok(())
                }
            });
        }
        peer.serve()
    });
    let call_timeout = ms(300);
    let zk = connect::<A>(&options(&server, TIMEOUT_MS).call_timeout(call_timeout)).await;
    let mut states = zk.state_watcher();
    let started = Instant::now();
    expect_request_timeout::<A>(
        &zk,
        "/ignored",
        Some(call_timeout),
        "a call the server ignores",
    )
    .await;
    wait_for_state::<A>(
        &mut states,
        SLACK * 2,
        "the stuck connection dropped",
        |s| s == SessionState::Disconnected,
    )
    .await;
    let took = started.elapsed();
    let expected = call_timeout + read_timeout(TIMEOUT_MS);
    assert!(
        took >= expected - ms(100) && took <= expected + SLACK,
        "[{}] dropped {took:?} after the call; expected about {expected:?}",
        A::NAME
    );
    expect_reconnected::<A>(&zk, &mut states, &server, 2).await;
    assert_eq!(zk.session_id(), SessionId(SESSION));
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// With a call timeout, a call made while no server accepts connections (the port refuses)
/// fails with RequestTimeout after about the timeout, long before its queue time (the session
/// timeout) would fail it.
pub async fn call_timeout_bounds_a_call_queued_while_the_port_refuses<A: Adapter>() {
    let port = crate::ports::free_loopback_port().expect("a free loopback port");
    let call_timeout = ms(500);
    let options = Connect::new(format!("127.0.0.1:{port}"))
        .session_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(1))
        .backoff(QUICK)
        .call_timeout(call_timeout);
    let zk = A::start(&options).expect("start a client");
    expect_request_timeout::<A>(&zk, "/nowhere", Some(call_timeout), "a call with no server").await;
    assert_eq!(zk.state(), SessionState::Connecting);
    assert_eq!(zk.close().await, SessionState::Closed);
}

/// `with_call_timeout(None)` on a client built with a call timeout gives a handle without
/// one: its call waits for a slow reply (longer than the builder's timeout) and gets it, while
/// the original handle keeps timing out.
pub async fn with_call_timeout_none_lifts_the_builders_call_timeout<A: Adapter>() {
    const SLOW_REPLY: Duration = Duration::from_millis(1500);
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, ROOMY_MS)?;
        loop {
            let (xid, _, request) = peer.read_call()?;
            if matches!(&request, Request::GetData(r) if r.path == "/slow") {
                thread::sleep(SLOW_REPLY);
            }
            peer.reply_ok_to(xid, &request)?;
        }
    });
    let call_timeout = ms(500);
    let zk = connect::<A>(&options(&server, ROOMY_MS).call_timeout(call_timeout)).await;
    expect_request_timeout::<A>(
        &zk,
        "/slow",
        Some(call_timeout),
        "the builder's call timeout",
    )
    .await;
    let patient = zk.with_call_timeout(None);
    let started = Instant::now();
    let outcome = bounded::<A, _>("a slow call without a timeout", patient.get_data("/slow")).await;
    let took = started.elapsed();
    assert!(
        outcome.is_ok(),
        "[{}] a handle without a call timeout waits for the reply: {outcome:?}",
        A::NAME
    );
    assert!(
        took >= ms(1000),
        "[{}] the reply came after {took:?}, yet the builder's timeout is {call_timeout:?}",
        A::NAME
    );
    expect_request_timeout::<A>(
        &zk,
        "/slow",
        Some(call_timeout),
        "the original handle keeps the builder's timeout",
    )
    .await;
    assert_eq!(server.connections(), 1);
    assert_eq!(zk.close().await, SessionState::Closed);
}

// -------------------------------------------------------------------------------------------
// Random replies
// -------------------------------------------------------------------------------------------

/// A tiny xorshift generator: the same numbers for the same seed, on every run and platform.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What connection `seed` answers its call `xid` with: 1 to 300 pseudo-random bytes, bare,
/// after a plausible length prefix, or after a reply header for the call (with a random or a
/// known error code, or a success code and a length that is right, a little off, over the
/// limit, or anything).
fn random_reply(seed: u64, xid: Xid) -> Vec<u8> {
    let mut rng = XorShift::new(seed);
    let n = 1 + rng.below(300) as usize;
    let mut out = Vec::with_capacity(4 + 16 + n);
    match rng.below(4) {
        0 => {}
        1 => out.extend_from_slice(&(n as i32).to_be_bytes()),
        2 => {
            let codes = [0, -101, -102, -1, -6, -999, rng.next() as i32];
            let err = codes[rng.below(codes.len() as u64) as usize];
            out.extend_from_slice(&((16 + n) as i32).to_be_bytes());
            out.extend_from_slice(&reply_header(xid.0, rng.next() as i64, err));
        }
        _ => {
            let len: i64 = match rng.below(4) {
                0 => 16 + n as i64,
                1 => 16 + n as i64 + rng.below(64) as i64 - 32,
                2 => DEFAULT_MAX_FRAME_LEN as i64 + 1 + rng.below(1 << 30) as i64,
                _ => rng.next() as i32 as i64,
            };
            out.extend_from_slice(&(len as i32).to_be_bytes());
            out.extend_from_slice(&reply_header(xid.0, 1, 0));
        }
    }
    for _ in 0..n {
        out.push(rng.next() as u8);
    }
    out
}

/// A thousand connections, each answering its one call with pseudo-random bytes (bare, after
/// a plausible length, or after a reply header for the call) and closing: every call
/// completes within a bound, with success or one of the errors a broken reply may cause —
/// never a hang, never a panic, never unbounded memory.
pub async fn random_bytes_after_a_request_never_hang_or_panic<A: Adapter>() {
    // Reconnecting at once is the point here: the back-off below waits 1 ms.
    super::allow_reconnect_gap(ms(1));
    const SEEDS: usize = 1000;
    let per_call = Duration::from_secs(5);
    let server = FakeServer::scripted(|peer| {
        peer.handshake(SESSION, TIMEOUT_MS)?;
        let (xid, _, _) = peer.read_call()?;
        peer.write_raw(&random_reply(peer.index() as u64, xid))?;
        peer.close()
    });
    let options = options(&server, TIMEOUT_MS)
        .backoff(Backoff {
            max_jitter: ms(1),
            pass_delay: ms(1),
        })
        // A hung call ends with RequestTimeout, reported as a hang (the blocking adapter's
        // calls cannot be abandoned otherwise).
        .call_timeout(per_call);
    let zk = connect::<A>(&options).await;
    let started = Instant::now();
    let mut tally = std::collections::BTreeMap::<&'static str, usize>::new();
    for seed in 0..SEEDS {
        let Some(outcome) = A::timeout(per_call + SLACK, zk.get_data("/random")).await else {
            panic!(
                "[{}] call {seed} hung: no outcome within {:?} (state {:?})",
                A::NAME,
                per_call + SLACK,
                zk.state()
            );
        };
        let kind = match &outcome.map_err(OpError::into_kind) {
            Ok(_) => "ok",
            Err(GetDataError::Common(CommonError::ConnectionLoss)) => "connection loss",
            Err(GetDataError::Common(CommonError::MalformedReply(_))) => "malformed reply",
            Err(GetDataError::Common(CommonError::ReplyTooLarge { .. })) => "reply too large",
            Err(GetDataError::Common(CommonError::Server(_)))
            | Err(GetDataError::NoNode)
            | Err(GetDataError::NoAuth) => "server error",
            Err(GetDataError::Common(CommonError::SessionExpired))
                if zk.state() == SessionState::Expired =>
            {
                "session expired"
            }
            Err(GetDataError::Common(CommonError::RequestTimeout)) => panic!(
                "[{}] call {seed} hung: no outcome within its {per_call:?} call timeout (state \
                 {:?})",
                A::NAME,
                zk.state()
            ),
            Err(e) => panic!(
                "[{}] call {seed}: unexpected outcome {e:?} (state {:?})",
                A::NAME,
                zk.state()
            ),
        };
        *tally.entry(kind).or_default() += 1;
    }
    eprintln!(
        "[{}] {SEEDS} calls answered with random bytes over {} connections in {:?}: {tally:?}",
        A::NAME,
        server.connections(),
        started.elapsed()
    );
    assert!(
        server.connections() >= SEEDS / 4,
        "[{}] only {} connections for {SEEDS} calls",
        A::NAME,
        server.connections()
    );
    assert_peak_below::<A>(super::MEMORY_BOUND, "a thousand random replies");
    let last = zk.close().await;
    assert!(
        last.is_terminal(),
        "[{}] close ends in a terminal state: {last:?}",
        A::NAME
    );
}
