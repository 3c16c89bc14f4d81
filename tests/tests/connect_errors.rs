//! Connecting, on every adapter: the connect error names each host tried and why its last
//! connection failed (refused ports, locally); a tiny requested session timeout, which the
//! server raises, still connects (needs Apache ZooKeeper: a missing installation fails with the
//! install command); with `check_chroot`, a missing chroot is named.

use std::net::TcpListener;
use std::time::Duration;

use zk_client::session::Backoff;
use zk_client::{ConnectError, DisconnectReason};
use zk_tests::conformance::{
    shared_server, Adapter, Api, AsyncStdAdapter, BlockingAdapter, Connect, SmolAdapter,
    TokioAdapter,
};

/// Two different loopback ports nothing listens on: both bound at once (so they differ),
/// then released.
fn refused_ports() -> (u16, u16) {
    let bind = || TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("its address").port();
    (port(&a), port(&b))
}

/// Connecting to two refused ports fails within the wait, listing both hosts with the OS's
/// "connection refused"; a connect string naming a URL is refused before any attempt.
async fn refused_ports_are_named_with_their_cause<A: Adapter>() {
    let (first, second) = refused_ports();
    let connect_string = format!("127.0.0.1:{first},127.0.0.1:{second}");
    let options = Connect::new(&connect_string)
        .connect_wait(Duration::from_millis(1500))
        .backoff(Backoff {
            max_jitter: Duration::from_millis(10),
            pass_delay: Duration::from_millis(50),
        });
    let error = match A::connect(&options).await {
        Ok(_) => panic!("[{}] connected to refused ports", A::NAME),
        Err(e) => e,
    };
    let ConnectError::Timeout { failures, .. } = &error else {
        panic!(
            "[{}] expected a timeout listing the failures, got {error:?}",
            A::NAME
        );
    };
    let mut hosts: Vec<u16> = failures.iter().map(|f| f.host.port).collect();
    hosts.sort_unstable();
    let mut expected = vec![first, second];
    expected.sort_unstable();
    assert_eq!(
        hosts,
        expected,
        "[{}] every host tried is listed: {error}",
        A::NAME
    );
    for failure in failures {
        assert!(
            matches!(&failure.reason, DisconnectReason::TransportFailed(cause)
                if cause.to_lowercase().contains("refused")),
            "[{}] {failure}",
            A::NAME
        );
    }
    let text = error.to_string();
    // Shown with `--nocapture`: the README quotes it.
    eprintln!("[{}] {text}", A::NAME);
    assert!(
        text.starts_with("no server accepted the session within 1.5s: 127.0.0.1:")
            && text.contains(&format!("127.0.0.1:{first}: "))
            && text.contains(&format!("127.0.0.1:{second}: "))
            && text.to_lowercase().contains("connection refused"),
        "[{}] {text}",
        A::NAME
    );

    let url = A::connect(&Connect::new("http://127.0.0.1:2181")).await;
    let Err(ConnectError::Config(config)) = url else {
        panic!(
            "[{}] a URL is refused as configuration: {:?}",
            A::NAME,
            url.map(|_| ())
        );
    };
    assert!(
        config
            .to_string()
            .contains("is a URL, not a connect string"),
        "[{}] {config}",
        A::NAME
    );
}

/// A requested session timeout of 1 ms, which the server raises to its minimum: the attempts
/// and the connect wait are not derived from the request alone, so the client connects with
/// its default options and works with the granted timeout.
async fn a_tiny_session_timeout_still_connects<A: Adapter>() {
    let options =
        Connect::new(shared_server().connect_string()).session_timeout(Duration::from_millis(1));
    let client = match A::connect(&options).await {
        Ok(client) => client,
        Err(e) => panic!("[{}] a 1 ms session timeout: {e}", A::NAME),
    };
    let granted = client.negotiated_timeout().expect("a negotiated timeout");
    assert!(
        granted >= Duration::from_millis(100),
        "[{}] the server raised the timeout: {granted:?}",
        A::NAME
    );
    assert!(
        client.exists("/").await.is_ok(),
        "[{}] a call works",
        A::NAME
    );
    client.close().await;
}

/// With `check_chroot`, a chroot missing on the server fails the connect naming it; one that
/// exists connects.
async fn a_missing_chroot_is_named<A: Adapter>() {
    let server = shared_server().connect_string();
    let missing = format!("/no-such-chroot-{}-{}", A::NAME, std::process::id());
    let outcome = A::connect(&Connect::new(format!("{server}{missing}")).check_chroot(true)).await;
    let error = match outcome {
        Ok(_) => panic!("[{}] connected under a missing chroot", A::NAME),
        Err(e) => e,
    };
    assert!(
        matches!(&error, ConnectError::Chroot { chroot, error: None } if *chroot == missing),
        "[{}] {error:?}",
        A::NAME
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("chroot {missing}: no such node")),
        "[{}] {error}",
        A::NAME
    );
    let client = A::connect(&Connect::new(format!("{server}/zookeeper")).check_chroot(true))
        .await
        .unwrap_or_else(|e| panic!("[{}] an existing chroot: {e}", A::NAME));
    client.close().await;
}

#[test]
fn tokio_names_a_missing_chroot() {
    TokioAdapter::block_on(a_missing_chroot_is_named::<TokioAdapter>());
}

#[test]
fn async_std_names_a_missing_chroot() {
    AsyncStdAdapter::block_on(a_missing_chroot_is_named::<AsyncStdAdapter>());
}

#[test]
fn smol_names_a_missing_chroot() {
    SmolAdapter::block_on(a_missing_chroot_is_named::<SmolAdapter>());
}

#[test]
fn blocking_names_a_missing_chroot() {
    BlockingAdapter::block_on(a_missing_chroot_is_named::<BlockingAdapter>());
}

#[test]
fn tokio_connects_with_a_tiny_session_timeout() {
    TokioAdapter::block_on(a_tiny_session_timeout_still_connects::<TokioAdapter>());
}

#[test]
fn async_std_connects_with_a_tiny_session_timeout() {
    AsyncStdAdapter::block_on(a_tiny_session_timeout_still_connects::<AsyncStdAdapter>());
}

#[test]
fn smol_connects_with_a_tiny_session_timeout() {
    SmolAdapter::block_on(a_tiny_session_timeout_still_connects::<SmolAdapter>());
}

#[test]
fn blocking_connects_with_a_tiny_session_timeout() {
    BlockingAdapter::block_on(a_tiny_session_timeout_still_connects::<BlockingAdapter>());
}

#[test]
fn tokio_names_refused_hosts() {
    TokioAdapter::block_on(refused_ports_are_named_with_their_cause::<TokioAdapter>());
}

#[test]
fn async_std_names_refused_hosts() {
    AsyncStdAdapter::block_on(refused_ports_are_named_with_their_cause::<AsyncStdAdapter>());
}

#[test]
fn smol_names_refused_hosts() {
    SmolAdapter::block_on(refused_ports_are_named_with_their_cause::<SmolAdapter>());
}

#[test]
fn blocking_names_refused_hosts() {
    BlockingAdapter::block_on(refused_ports_are_named_with_their_cause::<BlockingAdapter>());
}
