//! Runs the API documentation's examples (the doctests of zk-client and zk-blocking) against a
//! real server: each example (a test process of its own) gets a client connected to the
//! standalone server that process starts, under the chroot `/example`.

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use crate::conformance::shared_server;

/// What an example returns: `?` works on every error of the client.
pub type Outcome = Result<(), Box<dyn Error>>;

/// The shared server's connect string with a chroot of its own, created.
fn chroot() -> String {
    let server = shared_server().connect_string();
    let setup = zk_blocking::Client::connect(&server).expect("connect to the example's server");
    match setup.create("/example", &b""[..], zk_blocking::CreateMode::Persistent) {
        Ok(_) => {}
        Err(e) if *e.kind() == zk_blocking::ops::CreateError::NodeExists => {}
        Err(e) => panic!("creating the example's chroot: {e}"),
    }
    setup.close();
    format!("{server}/example")
}

/// Runs `example` with a tokio client (on a current-thread runtime); panics with its error.
pub fn on_tokio<F, Fut>(example: F)
where
    F: FnOnce(zk_tokio::Client) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let connect_string = chroot();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let client = zk_tokio::Client::connect(&connect_string)
            .await
            .expect("connect to the example's server");
        if let Err(e) = example(client.clone()).await {
            panic!("the example failed: {e}");
        }
        client.close().await;
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// Runs `example` with a blocking client; panics with its error.
pub fn on_blocking(example: impl FnOnce(zk_blocking::Client) -> Outcome) {
    let client = zk_blocking::Client::connect(&chroot()).expect("connect to the example's server");
    if let Err(e) = example(client.clone()) {
        panic!("the example failed: {e}");
    }
    client.close();
}
