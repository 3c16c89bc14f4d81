//! What a client that cannot connect says, on every adapter: the connect error names each host
//! tried and why its last connection failed. Needs no ZooKeeper (the ports are refused or
//! malformed locally).

use std::net::TcpListener;
use std::time::Duration;

use zk_client::session::Backoff;
use zk_client::{ConnectError, DisconnectReason};
use zk_tests::conformance::{
    Adapter, AsyncStdAdapter, BlockingAdapter, Connect, SmolAdapter, TokioAdapter,
};

/// A loopback port nothing listens on: bound, then released.
fn refused_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// Connecting to two refused ports fails within the wait, listing both hosts with the OS's
/// "connection refused"; a connect string naming a URL is refused before any attempt.
async fn refused_ports_are_named_with_their_cause<A: Adapter>() {
    let (first, second) = (refused_port(), refused_port());
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
