//! TLS against a real ZooKeeper's secure client port, for every adapter: zk-tokio, zk-async-std
//! (on smol) and zk-blocking.
//!
//! Two servers, each started on first use and shared by the tests: ZooKeeper 3.8 with the Netty
//! connection factory, a secure client port and `ssl.clientAuth=need`, one speaking TLS 1.2
//! (ZooKeeper 3.8's default), the other TLS 1.3 only. The certificates are made here, at test
//! time: a CA, a server certificate for IP 127.0.0.1 and DNS `localhost`, and a client
//! certificate, both signed by the CA; plus an unrelated CA that signed nothing the server has.
//!
//! Each refusal test connects with a short `connect_wait` and must fail with
//! `ConnectError::Timeout` (the session keeps retrying until then, each handshake failing):
//! never connect. They fail (never skip) when ZooKeeper is not installed.

use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use zk_blocking::rustls;
use zk_tests::{ClientAuth, Server, ServerOptions, ServerTls};

/// How long a connection that must fail is given (a good one takes milliseconds).
const REFUSED_WAIT: Duration = Duration::from_secs(1);
/// How long a connection that must succeed may take on a busy machine.
const CONNECT_WAIT: Duration = Duration::from_secs(20);
/// How much later than its `connect_wait` a refused connect may return.
const SLACK: Duration = Duration::from_secs(3);

/// PEM material for the server and its clients.
struct Pki {
    /// The CA that signed the server's and the client's certificates.
    ca: String,
    server_chain: String,
    server_key: String,
    client_chain: String,
    client_key: String,
    /// A CA that signed nothing the server presents.
    other_ca: String,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert, key)
}

fn leaf(
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
    issuer: &rcgen::Certificate,
    issuer_key: &KeyPair,
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    // IP literals become IP SANs, other names DNS SANs.
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("certificate parameters");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let cert = params
        .signed_by(&key, issuer, issuer_key)
        .expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}

fn make_pki() -> Pki {
    let (ca_cert, ca_key) = ca("zk-tests CA");
    let (server_chain, server_key) = leaf(
        "zk-tests server",
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca_cert,
        &ca_key,
    );
    let (client_chain, client_key) = leaf(
        "zk-tests client",
        &["zk-tests-client"],
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca_cert,
        &ca_key,
    );
    let (other_ca, _) = ca("unrelated CA");
    Pki {
        ca: ca_cert.pem(),
        server_chain,
        server_key,
        client_chain,
        client_key,
        other_ca: other_ca.pem(),
    }
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(make_pki)
}

/// Which TLS versions a server's secure port speaks.
#[derive(Clone, Copy, Debug)]
enum Version {
    /// ZooKeeper 3.8's default (`ssl.protocol=TLSv1.2`): a missing client certificate fails the
    /// client's handshake.
    Tls12,
    /// `ssl.protocol` and `ssl.enabledProtocols` `TLSv1.3` (and TLS 1.3 `ssl.ciphersuites`):
    /// the client's handshake completes before the server checks its certificate, so a refusal
    /// arrives as an alert afterwards.
    Tls13,
}

/// The TLS 1.3 cipher suites of Java 17 and of rustls.
const TLS13_SUITES: &str =
    "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256";

/// A server with a secure port, started on first use and shared by the tests of its version.
struct Fixture {
    server: Server,
    /// `127.0.0.1:<secure client port>`.
    secure: String,
}

fn start(version: Version) -> Fixture {
    let pki = pki();
    let mut options = ServerOptions::fast_expiry().with_tls(ServerTls {
        cert_chain_pem: pki.server_chain.clone(),
        key_pem: pki.server_key.clone(),
        ca_pem: pki.ca.clone(),
        client_auth: ClientAuth::Need,
    });
    if let Version::Tls13 = version {
        // ZooKeeper 3.8's default cipher suites are TLS 1.2 ones only.
        options.system_properties.extend(
            [
                ("zookeeper.ssl.protocol", "TLSv1.3"),
                ("zookeeper.ssl.enabledProtocols", "TLSv1.3"),
                ("zookeeper.ssl.ciphersuites", TLS13_SUITES),
            ]
            .map(|(key, value)| (key.to_owned(), value.to_owned())),
        );
    }
    let server = Server::standalone(&options).expect("start ZooKeeper with a secure port");
    let secure = server
        .secure_connect_string()
        .expect("a secure client port");
    Fixture { server, secure }
}

fn fixture(version: Version) -> &'static Fixture {
    static TLS12: OnceLock<Fixture> = OnceLock::new();
    static TLS13: OnceLock<Fixture> = OnceLock::new();
    match version {
        Version::Tls12 => TLS12.get_or_init(|| start(version)),
        Version::Tls13 => TLS13.get_or_init(|| start(version)),
    }
}

/// What a client presents: trusted CA, client certificate, server name override.
#[derive(Debug, Clone, Copy)]
enum Credentials {
    /// The right CA and a client certificate.
    Good,
    /// A CA that did not sign the server's certificate.
    WrongCa,
    /// The right CA, but a name the server's certificate does not carry.
    WrongName,
    /// The right CA and no client certificate.
    NoClientCert,
    /// The application's own rustls configuration: the right CA and the client certificate.
    OwnConfig,
    /// The application's own rustls configuration, with a verifier that refuses every server.
    OwnVerifierRefusing,
}

impl Credentials {
    /// The options, one type for every adapter (each re-exports `zk_client::tls::TlsOptions`).
    fn options(self) -> zk_blocking::TlsOptions {
        let pki = pki();
        if matches!(
            self,
            Credentials::OwnConfig | Credentials::OwnVerifierRefusing
        ) {
            return zk_blocking::TlsOptions::with_config(own_config(matches!(
                self,
                Credentials::OwnVerifierRefusing
            )));
        }
        let ca = match self {
            Credentials::WrongCa => &pki.other_ca,
            _ => &pki.ca,
        };
        let options = zk_blocking::TlsOptions::new(ca.as_bytes());
        let options = match self {
            Credentials::NoClientCert => options,
            _ => options.client_identity(pki.client_chain.as_bytes(), pki.client_key.as_bytes()),
        };
        match self {
            Credentials::WrongName => options.server_name("zookeeper.invalid"),
            _ => options,
        }
    }
}

/// A rustls configuration built the way an application builds its own: the ring provider, the
/// CA as the only root (or a verifier refusing every server), the client certificate.
fn own_config(refusing: bool) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let pki = pki();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("protocol versions");
    let builder = if refusing {
        builder
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(Refuse(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
            roots.add(cert.expect("CA")).expect("a usable CA");
        }
        builder.with_root_certificates(roots)
    };
    let chain = CertificateDer::pem_slice_iter(pki.client_chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("client chain");
    let key = PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).expect("client key");
    std::sync::Arc::new(
        builder
            .with_client_auth_cert(chain, key)
            .expect("client certificate"),
    )
}

/// A certificate verifier that refuses every server (an application's own policy).
#[derive(Debug)]
struct Refuse(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Refuse {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "refused by the application's policy".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Fails with the server's log tail if `result` is not a refusal in time.
fn assert_refused<C: std::fmt::Debug, E: std::fmt::Debug>(
    version: Version,
    what: &str,
    result: Result<C, E>,
    started: Instant,
    is_timeout: impl Fn(&E) -> bool,
) {
    let elapsed = started.elapsed();
    match result {
        Ok(client) => panic!(
            "{what} ({version:?}): connected, but must be refused: {client:?}\nserver log:\n{}",
            fixture(version).server.log_tail(40)
        ),
        Err(e) => {
            assert!(
                is_timeout(&e),
                "{what} ({version:?}): expected a connect timeout naming why each host failed, \
                 got {e:?}"
            );
            // Shown with `--nocapture`: what a user is told.
            eprintln!("{what} ({version:?}): {e:?}");
            assert!(
                elapsed < REFUSED_WAIT + SLACK,
                "{what} ({version:?}): refused only after {elapsed:?}"
            );
        }
    }
}

fn node(adapter: &str, version: Version) -> String {
    format!("/tls-{adapter}-{version:?}-{}", std::process::id())
}

/// The node of a round trip: its own per adapter, version and credentials, since tests with
/// different credentials make round trips at the same time.
fn round_trip_node(adapter: &str, version: Version, credentials: Credentials) -> String {
    node(&format!("{adapter}-{credentials:?}"), version)
}

// ---------------------------------------------------------------------------------------------
// zk-tokio
// ---------------------------------------------------------------------------------------------

async fn tokio_connect(
    version: Version,
    credentials: Credentials,
    wait: Duration,
) -> Result<zk_tokio::Client, zk_tokio::ConnectError> {
    let secure = fixture(version).secure.clone();
    zk_tokio::Client::builder(&secure)
        .tls(credentials.options())
        .connect_wait(wait)
        .connect()
        .await
}

async fn tokio_round_trip(version: Version, credentials: Credentials) {
    let client = tokio_connect(version, credentials, CONNECT_WAIT)
        .await
        .expect("connect over TLS");
    let path = round_trip_node("tokio", version, credentials);
    client
        .create(&path, &b"over tls"[..], zk_tokio::CreateMode::Ephemeral)
        .await
        .expect("create");
    let (data, stat) = client.get_data(&path).await.expect("get_data");
    assert_eq!(&data[..], b"over tls");
    assert_eq!(stat.ephemeral_owner, client.session_id());
    client.close().await;
}

async fn tokio_refused(version: Version, credentials: Credentials, what: &str) {
    let started = Instant::now();
    let result = tokio_connect(version, credentials, REFUSED_WAIT).await;
    assert_refused(
        version,
        what,
        result,
        started,
        |e| matches!(e, zk_tokio::ConnectError::Timeout { failures, .. } if !failures.is_empty()),
    );
}

#[tokio::test]
async fn tokio_connects_with_ca_and_client_certificate_and_round_trips_data() {
    tokio_round_trip(Version::Tls12, Credentials::Good).await;
}

#[tokio::test]
async fn tokio_refuses_a_server_certificate_from_an_untrusted_ca() {
    tokio_refused(Version::Tls12, Credentials::WrongCa, "tokio, wrong CA").await;
}

#[tokio::test]
async fn tokio_refuses_a_server_certificate_for_another_name() {
    tokio_refused(Version::Tls12, Credentials::WrongName, "tokio, wrong name").await;
}

#[tokio::test]
async fn tokio_without_client_certificate_is_refused_by_a_server_that_needs_one() {
    tokio_refused(
        Version::Tls12,
        Credentials::NoClientCert,
        "tokio, no client certificate",
    )
    .await;
}

#[tokio::test]
async fn tokio_over_tls13_round_trips_and_without_client_certificate_is_refused_after_handshake() {
    tokio_round_trip(Version::Tls13, Credentials::Good).await;
    tokio_refused(
        Version::Tls13,
        Credentials::NoClientCert,
        "tokio, no client certificate",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// zk-async-std, on smol
// ---------------------------------------------------------------------------------------------

async fn smol_connect(
    version: Version,
    credentials: Credentials,
    wait: Duration,
) -> Result<zk_async_std::Client, zk_async_std::ConnectError> {
    let secure = fixture(version).secure.clone();
    zk_async_std::Client::builder(&secure)
        .tls(credentials.options())
        .connect_wait(wait)
        .connect()
        .await
}

fn smol_round_trip(version: Version, credentials: Credentials) {
    smol::block_on(async {
        let client = smol_connect(version, credentials, CONNECT_WAIT)
            .await
            .expect("connect over TLS");
        let path = round_trip_node("smol", version, credentials);
        client
            .create(&path, &b"over tls"[..], zk_async_std::CreateMode::Ephemeral)
            .await
            .expect("create");
        let (data, stat) = client.get_data(&path).await.expect("get_data");
        assert_eq!(&data[..], b"over tls");
        assert_eq!(stat.ephemeral_owner, client.session_id());
        client.close().await;
    });
}

fn smol_refused(version: Version, credentials: Credentials, what: &str) {
    let started = Instant::now();
    let result = smol::block_on(smol_connect(version, credentials, REFUSED_WAIT));
    assert_refused(
        version,
        what,
        result,
        started,
        |e| matches!(e, zk_async_std::ConnectError::Timeout { failures, .. } if !failures.is_empty()),
    );
}

#[test]
fn async_std_connects_with_ca_and_client_certificate_and_round_trips_data() {
    smol_round_trip(Version::Tls12, Credentials::Good);
}

#[test]
fn async_std_refuses_a_server_certificate_from_an_untrusted_ca() {
    smol_refused(Version::Tls12, Credentials::WrongCa, "async-std, wrong CA");
}

#[test]
fn async_std_refuses_a_server_certificate_for_another_name() {
    smol_refused(
        Version::Tls12,
        Credentials::WrongName,
        "async-std, wrong name",
    );
}

#[test]
fn async_std_without_client_certificate_is_refused_by_a_server_that_needs_one() {
    smol_refused(
        Version::Tls12,
        Credentials::NoClientCert,
        "async-std, no client certificate",
    );
}

#[test]
fn async_std_over_tls13_round_trips_and_without_client_certificate_is_refused_after_handshake() {
    smol_round_trip(Version::Tls13, Credentials::Good);
    smol_refused(
        Version::Tls13,
        Credentials::NoClientCert,
        "async-std, no client certificate",
    );
}

// ---------------------------------------------------------------------------------------------
// zk-blocking
// ---------------------------------------------------------------------------------------------

fn blocking_connect(
    version: Version,
    credentials: Credentials,
    wait: Duration,
) -> Result<zk_blocking::Client, zk_blocking::ConnectError> {
    zk_blocking::Client::builder(&fixture(version).secure)
        .tls(credentials.options())
        .connect_wait(wait)
        .connect()
}

fn blocking_round_trip(version: Version, credentials: Credentials) {
    let client = blocking_connect(version, credentials, CONNECT_WAIT).expect("connect over TLS");
    let path = round_trip_node("blocking", version, credentials);
    client
        .create(&path, &b"over tls"[..], zk_blocking::CreateMode::Ephemeral)
        .expect("create");
    let (data, stat) = client.get_data(&path).expect("get_data");
    assert_eq!(&data[..], b"over tls");
    assert_eq!(stat.ephemeral_owner, client.session_id());
    client.close();
}

fn blocking_refused(version: Version, credentials: Credentials, what: &str) {
    let started = Instant::now();
    let result = blocking_connect(version, credentials, REFUSED_WAIT);
    assert_refused(
        version,
        what,
        result,
        started,
        |e| matches!(e, zk_blocking::ConnectError::Timeout { failures, .. } if !failures.is_empty()),
    );
}

#[test]
fn blocking_connects_with_ca_and_client_certificate_and_round_trips_data() {
    blocking_round_trip(Version::Tls12, Credentials::Good);
}

#[test]
fn blocking_refuses_a_server_certificate_from_an_untrusted_ca() {
    blocking_refused(Version::Tls12, Credentials::WrongCa, "blocking, wrong CA");
}

#[test]
fn blocking_refuses_a_server_certificate_for_another_name() {
    blocking_refused(
        Version::Tls12,
        Credentials::WrongName,
        "blocking, wrong name",
    );
}

#[test]
fn blocking_without_client_certificate_is_refused_by_a_server_that_needs_one() {
    blocking_refused(
        Version::Tls12,
        Credentials::NoClientCert,
        "blocking, no client certificate",
    );
}

#[test]
fn blocking_over_tls13_round_trips_and_without_client_certificate_is_refused_after_handshake() {
    blocking_round_trip(Version::Tls13, Credentials::Good);
    blocking_refused(
        Version::Tls13,
        Credentials::NoClientCert,
        "blocking, no client certificate",
    );
}

/// The blocking client's TLS state is shared by the reader (the I/O thread, or a caller waiting
/// alone) and the callers (writing from their own threads): concurrent callers, payloads larger than one TLS
/// record and than one read, and a watch notification arriving while calls are in flight must
/// all come through intact.
#[test]
fn blocking_tls_serves_concurrent_callers_with_large_payloads_and_watches() {
    let client = blocking_connect(Version::Tls12, Credentials::Good, CONNECT_WAIT)
        .expect("connect over TLS");
    let base = node("blocking-concurrent", Version::Tls12);
    client
        .create(&base, &b""[..], zk_blocking::CreateMode::Persistent)
        .expect("create the base node");
    let watched = format!("{base}/watched");
    client
        .create(&watched, &b"0"[..], zk_blocking::CreateMode::Persistent)
        .expect("create the watched node");
    let (_, watch) = client.get_data_and_watch(&watched).expect("watch");

    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let client = client.clone();
            let path = format!("{base}/t{t}");
            thread::spawn(move || {
                // 300 KB: many 16 KB records, more than one 64 KB socket read.
                let payload: Vec<u8> = (0..300_000u32).map(|i| (i as u8) ^ t).collect();
                client
                    .create(&path, payload.clone(), zk_blocking::CreateMode::Persistent)
                    .expect("create a large node");
                for round in 0..10u8 {
                    let mut data = payload.clone();
                    data[0] = round;
                    client
                        .set_data(&path, data.clone(), None)
                        .expect("set_data");
                    let (read, _) = client.get_data(&path).expect("get_data");
                    assert!(
                        read[..] == data[..],
                        "thread {t} round {round}: data differs"
                    );
                }
                client.delete(&path, None).expect("delete");
            })
        })
        .collect();
    client
        .set_data(&watched, &b"1"[..], None)
        .expect("trigger the watch");
    for thread in threads {
        thread.join().expect("a caller thread panicked");
    }
    let event = watch.wait(Some(Duration::from_secs(10)));
    assert!(
        matches!(event, Some(zk_blocking::WatchEvent::Node { ref path, .. }) if *path == watched),
        "{event:?}"
    );
    client
        .delete(&watched, None)
        .expect("delete the watched node");
    client.delete(&base, None).expect("delete the base node");
    client.close();
}

/// The secure port speaks only TLS (so the tests above did use TLS), while the same server's
/// plain port still serves a client without TLS options, built with the `tls` feature.
#[test]
fn secure_port_refuses_plain_clients_while_the_plain_port_serves_them() {
    let fixture = fixture(Version::Tls12);
    let started = Instant::now();
    let result = zk_blocking::Client::builder(&fixture.secure)
        .connect_wait(REFUSED_WAIT)
        .connect();
    assert_refused(
        Version::Tls12,
        "plain client on the secure port",
        result,
        started,
        |e| {
            matches!(e, zk_blocking::ConnectError::Timeout { failures, .. }
            if !failures.is_empty() && failures.iter().all(|f| {
                f.reason == zk_blocking::DisconnectReason::ClosedDuringHandshake
            }))
        },
    );

    let client = zk_blocking::Client::builder(&fixture.server.connect_string())
        .connect_wait(CONNECT_WAIT)
        .connect()
        .expect("connect to the plain port");
    let path = node("plain", Version::Tls12);
    client
        .create(&path, &b"plain"[..], zk_blocking::CreateMode::Ephemeral)
        .expect("create");
    assert_eq!(&client.get_data(&path).expect("get_data").0[..], b"plain");
    client.close();
}

/// The lines this binary logged (DEBUG and above) that contain every one of `parts`: the
/// process's global subscriber, as drivers log from threads of their own.
fn logged(parts: &[&str]) -> Vec<String> {
    static CAPTURE: std::sync::OnceLock<zk_session::testing::LogCapture> =
        std::sync::OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture = zk_session::testing::LogCapture::up_to(tracing::Level::DEBUG);
        tracing::subscriber::set_global_default(capture.clone())
            .expect("no other global subscriber in this test binary");
        capture
    });
    let lines = capture.lines();
    lines
        .into_iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// A TLS client pointed at the plain port: the server takes the TLS ClientHello for a
/// ConnectRequest and closes the connection. The connect error says the TLS handshake failed,
/// and so does the log (WARN, with the host), on every adapter.
#[test]
fn tls_client_on_the_plain_port_is_told_the_handshake_failed() {
    let plain = fixture(Version::Tls12).server.connect_string();
    let host = format!("host={plain}");
    let failed_attempts = || logged(&[&host, "WARN", "connection attempt failed", "reason="]);
    // Every adapter's ConnectError is zk-client's.
    let check = |adapter: &str, outcome: Result<(), zk_blocking::ConnectError>| {
        let Err(error) = outcome else {
            panic!("{adapter}: connected with TLS to the plain port");
        };
        let text = error.to_string();
        let zk_blocking::ConnectError::Timeout { failures, .. } = error else {
            panic!("{adapter}: expected a connect timeout: {text}");
        };
        assert_eq!(failures.len(), 1, "{adapter}: {text}");
        let zk_blocking::DisconnectReason::TransportFailed(cause) = &failures[0].reason else {
            panic!("{adapter}: the TLS failure is the transport's: {text}");
        };
        assert!(
            cause.to_lowercase().contains("tls"),
            "{adapter}: the cause names TLS: {text}"
        );
        eprintln!("{adapter}, TLS on the plain port: {text}");
        let logged = failed_attempts();
        let last = logged.last().expect("the failed attempt is logged");
        assert!(
            last.to_lowercase().contains("tls") && last.contains(cause.as_str()),
            "{adapter}: the log names the TLS failure: {last}"
        );
        logged.len()
    };
    let wait = Duration::from_secs(2);
    logged(&[]);
    let blocking = check(
        "blocking",
        zk_blocking::Client::builder(&plain)
            .tls(Credentials::Good.options())
            .connect_wait(wait)
            .connect()
            .map(drop),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let tokio = check(
        "tokio",
        runtime
            .block_on(
                zk_tokio::Client::builder(&plain)
                    .tls(Credentials::Good.options())
                    .connect_wait(wait)
                    .connect(),
            )
            .map(drop),
    );
    let smol = check(
        "smol",
        smol::block_on(
            zk_async_std::Client::builder(&plain)
                .tls(Credentials::Good.options())
                .connect_wait(wait)
                .connect(),
        )
        .map(drop),
    );
    assert!(
        0 < blocking && blocking < tokio && tokio < smol,
        "each adapter logged its own failed attempts: {blocking}, {tokio}, {smol}"
    );
}

/// A TLS server that accepts connections and never answers: a handshake with it lasts the
/// whole connect timeout. The session's timers keep firing meanwhile: a call queued for a
/// connection fails at its queue timeout, not when the attempt gives up.
#[test]
fn blocking_timers_fire_during_a_stalled_tls_handshake() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a silent server");
    let addr = listener.local_addr().expect("its address");
    // Accepted connections are kept open, unanswered, until the test ends.
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let client = zk_blocking::Client::builder(&addr.to_string())
        .tls(Credentials::Good.options())
        .connect_timeout(Duration::from_secs(60))
        .queue_timeout(Duration::from_secs(1))
        .start()
        .expect("start");
    let started = Instant::now();
    let outcome = client.get_data("/");
    let took = started.elapsed();
    assert_eq!(
        outcome.map_err(zk_blocking::ops::OpError::into_kind),
        Err(zk_blocking::ops::GetDataError::Common(
            zk_blocking::CommonError::ConnectionLoss
        ))
    );
    assert!(
        took < Duration::from_secs(1) + SLACK,
        "the queued call failed after {took:?}: the I/O thread was stuck in the attempt"
    );
}

// ---------------------------------------------------------------------------------------------
// The application's own rustls configuration (`TlsOptions::with_config`), on every adapter
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tokio_connects_with_the_applications_own_rustls_config() {
    tokio_round_trip(Version::Tls12, Credentials::OwnConfig).await;
    tokio_round_trip(Version::Tls13, Credentials::OwnConfig).await;
}

#[tokio::test]
async fn tokio_obeys_the_verifier_of_its_own_rustls_config() {
    tokio_refused(
        Version::Tls12,
        Credentials::OwnVerifierRefusing,
        "tokio, own verifier refusing",
    )
    .await;
}

#[test]
fn async_std_connects_with_the_applications_own_rustls_config() {
    smol_round_trip(Version::Tls12, Credentials::OwnConfig);
    smol_round_trip(Version::Tls13, Credentials::OwnConfig);
}

#[test]
fn async_std_obeys_the_verifier_of_its_own_rustls_config() {
    smol_refused(
        Version::Tls12,
        Credentials::OwnVerifierRefusing,
        "async-std, own verifier refusing",
    );
}

#[test]
fn blocking_connects_with_the_applications_own_rustls_config() {
    blocking_round_trip(Version::Tls12, Credentials::OwnConfig);
    blocking_round_trip(Version::Tls13, Credentials::OwnConfig);
}

#[test]
fn blocking_obeys_the_verifier_of_its_own_rustls_config() {
    blocking_refused(
        Version::Tls12,
        Credentials::OwnVerifierRefusing,
        "blocking, own verifier refusing",
    );
}
