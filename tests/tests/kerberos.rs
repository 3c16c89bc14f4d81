//! SASL GSSAPI (Kerberos) against a real ZooKeeper 3.8 that requires SASL of every client,
//! with a throw-away realm: an MIT KDC on loopback (Debian's `krb5-kdc`), principals and
//! keytabs made for the run in a temporary directory and removed afterwards
//! ([`zk_tests::kerberos::Kdc`]). On every adapter: a client authenticates as its principal,
//! and that identity is what `sasl:` ACLs see; a principal whose key changed since its keytab
//! was written (a wrong password) and a principal the realm no longer knows (an unknown user)
//! end the connect with `AuthFailed`, naming GSSAPI and the reason; the exchange runs again
//! on the next connection after the server restarts, before anything else.
//!
//! libkrb5 reads the realm's configuration and the credentials' location from the process
//! environment, which a test must not change once threads run: this binary (no libtest
//! harness) starts the KDC, then runs itself again as a child process with that environment,
//! and the child runs the scenarios. It fails (never skips) when ZooKeeper or the KDC is not
//! installed.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use zk_client::api::sasl::Gssapi;
use zk_client::proto::{Acl, CreateMode, Id, Perms};
use zk_client::{ConnectError, SessionState};
use zk_tests::conformance::{
    wait_for_state, Adapter, Api, AsyncStdAdapter, BlockingAdapter, Connect, SmolAdapter,
    TokioAdapter,
};
use zk_tests::kerberos::{server_sasl_in, Kdc, REALM};
use zk_tests::{Server, ServerOptions};

/// Set in the child's environment: the KDC's directory.
const CHILD_ENV: &str = "ZK_TESTS_KERBEROS_DIR";

/// The ZooKeeper servers' service principal.
const SERVICE: &str = "zookeeper/localhost";

/// How long a connection may take on a busy machine.
const CONNECT_WAIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    match std::env::var_os(CHILD_ENV) {
        Some(_) => run_scenarios(),
        None => run_child(),
    }
}

/// The parent: the realm, then the child with its environment.
fn run_child() -> ExitCode {
    let kdc = Kdc::start().unwrap_or_else(|e| panic!("starting an MIT KDC: {e}"));
    let clients = kdc.dir().join("clients.keytab");
    let setup = || -> zk_tests::Result<()> {
        kdc.server_sasl(SERVICE, true)?;
        for principal in ["alice", "bob", "carol", "mallory"] {
            kdc.add_principal(principal)?;
            kdc.export_keys(principal, &clients)?;
        }
        // carol's keytab holds a key the realm no longer has: a wrong password.
        kdc.change_key("carol")?;
        // mallory is gone from the realm: an unknown user.
        kdc.delete_principal("mallory")
    };
    setup().unwrap_or_else(|e| panic!("setting up the realm's principals: {e}"));
    let env = kdc
        .client_env(&clients)
        .unwrap_or_else(|e| panic!("the clients' environment: {e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("this test's binary: {e}"));
    let status = Command::new(exe)
        .envs(env)
        .env(CHILD_ENV, kdc.dir())
        .status()
        .unwrap_or_else(|e| panic!("running the scenarios: {e}"));
    drop(kdc);
    if status.success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("kerberos: the scenarios failed ({status})");
        ExitCode::FAILURE
    }
}

/// The child: every adapter's scenario, one after another (they share the realm's ticket
/// caches).
fn run_scenarios() -> ExitCode {
    let scenarios: [(&str, fn()); 4] = [
        ("tokio", || {
            TokioAdapter::block_on(authenticates_and_is_refused_and_authenticates_again::<
                TokioAdapter,
            >())
        }),
        ("async-std", || {
            AsyncStdAdapter::block_on(authenticates_and_is_refused_and_authenticates_again::<
                AsyncStdAdapter,
            >())
        }),
        ("smol", || {
            SmolAdapter::block_on(authenticates_and_is_refused_and_authenticates_again::<
                SmolAdapter,
            >())
        }),
        ("blocking", || {
            BlockingAdapter::block_on(authenticates_and_is_refused_and_authenticates_again::<
                BlockingAdapter,
            >())
        }),
    ];
    let mut failed = Vec::new();
    for (name, scenario) in scenarios {
        eprintln!("test kerberos::{name} ...");
        match std::panic::catch_unwind(scenario) {
            Ok(()) => eprintln!("test kerberos::{name} ... ok"),
            Err(_) => {
                eprintln!("test kerberos::{name} ... FAILED");
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        eprintln!("kerberos: 4 adapters passed");
        ExitCode::SUCCESS
    } else {
        eprintln!("kerberos: failed on {failed:?}");
        ExitCode::FAILURE
    }
}

/// A ZooKeeper server whose clients must authenticate with Kerberos, its keytab in the KDC's
/// directory.
fn server() -> Server {
    let dir = PathBuf::from(std::env::var_os(CHILD_ENV).expect("run by the parent"));
    let sasl = server_sasl_in(&dir, SERVICE, true);
    Server::standalone(&ServerOptions::default().with_sasl(sasl)).unwrap_or_else(|e| {
        panic!(
            "starting ZooKeeper with Kerberos (install Debian's `zookeeper` package, or run \
             scripts/test.sh): {e}"
        )
    })
}

fn options(server: &Server, principal: &str) -> Connect {
    Connect::new(server.connect_string())
        .sasl(
            Gssapi::new()
                .principal(principal)
                .service_principal(SERVICE),
        )
        .session_timeout(Duration::from_secs(30))
        .connect_wait(CONNECT_WAIT)
}

/// The refusal of `principal`: the connect fails with `AuthFailed`, naming GSSAPI and
/// `reason`.
async fn refused<A: Adapter>(server: &Server, principal: &str, reason: &str) {
    match A::connect(&options(server, principal)).await {
        Ok(client) => panic!(
            "[{}] {principal} connected: {:?}",
            A::NAME,
            client.session_id()
        ),
        Err(e @ ConnectError::AuthFailed(_)) => {
            let message = e.to_string();
            eprintln!("[{}] {principal} refused: {message}", A::NAME);
            assert!(
                message.contains("GSSAPI") && message.contains(reason),
                "[{}] {principal}'s refusal names GSSAPI and {reason:?}: {message}",
                A::NAME
            );
        }
        Err(e) => panic!("[{}] {principal}: expected AuthFailed, got {e}", A::NAME),
    }
}

async fn authenticates_and_is_refused_and_authenticates_again<A: Adapter>() {
    let mut server = server();
    let alice = A::connect(&options(&server, "alice"))
        .await
        .unwrap_or_else(|e| panic!("[{}] alice authenticates: {e}", A::NAME));
    assert_eq!(alice.state(), SessionState::Connected);

    // `sasl:alice@ZK.TEST` is what the server knows alice by.
    let path = format!("/kerberos-{}", A::NAME);
    alice
        .create(&path, &b"alice's"[..], CreateMode::Persistent)
        .await
        .unwrap_or_else(|e| panic!("[{}] create: {e}", A::NAME));
    let only_alice = vec![Acl {
        perms: Perms::ALL,
        id: Id {
            scheme: "sasl".into(),
            id: format!("alice@{REALM}").into(),
        },
    }];
    alice
        .set_acl(&path, only_alice, None)
        .await
        .unwrap_or_else(|e| panic!("[{}] set_acl: {e}", A::NAME));
    let bob = A::connect(&options(&server, "bob"))
        .await
        .unwrap_or_else(|e| panic!("[{}] bob authenticates: {e}", A::NAME));
    let denied = bob.get_data(&path).await;
    assert!(
        matches!(&denied, Err(e) if *e.kind() == zk_client::ops::GetDataError::NoAuth),
        "[{}] bob may not read alice's node: {denied:?}",
        A::NAME
    );
    let (data, _) = alice
        .get_data(&path)
        .await
        .unwrap_or_else(|e| panic!("[{}] alice reads her node: {e}", A::NAME));
    assert_eq!(&data[..], b"alice's");

    // A key the realm no longer has (a wrong password), and a principal it does not know.
    refused::<A>(&server, "carol", "Decrypt integrity check failed").await;
    refused::<A>(&server, "mallory", "not found in Kerberos database").await;

    // The server restarts under alice's session: the next connection authenticates again
    // before anything else (a server that requires SASL would close it otherwise), and the
    // session goes on with alice's identity.
    let mut states = alice.state_watcher();
    server
        .stop()
        .and_then(|()| server.start())
        .unwrap_or_else(|e| panic!("restarting the server: {e}"));
    wait_for_state::<A>(&mut states, CONNECT_WAIT, "alice reconnects", |s| {
        s == SessionState::Connected
    })
    .await;
    let (data, _) = alice
        .get_data(&path)
        .await
        .unwrap_or_else(|e| panic!("[{}] alice reads her node after the restart: {e}", A::NAME));
    assert_eq!(&data[..], b"alice's");
    assert_eq!(alice.state(), SessionState::Connected);
    alice.close().await;
    bob.close().await;
}
