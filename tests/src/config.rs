//! Server options and the `zoo.cfg` and system properties they become.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ports::MemberPorts;

/// How to configure the ZooKeeper servers that the harness starts.
///
/// Build one from [`ServerOptions::default`] or [`ServerOptions::fast_expiry`]
/// and adjust fields with struct update syntax:
///
/// ```
/// use std::time::Duration;
/// use zk_tests::ServerOptions;
///
/// let options = ServerOptions {
///     read_only: true,
///     max_session_timeout: Some(Duration::from_secs(10)),
///     ..ServerOptions::fast_expiry()
/// };
/// assert_eq!(options.tick_time, Duration::from_millis(200));
/// ```
///
/// Always set, whatever the options: four-letter words are all allowed
/// (`4lw.commands.whitelist=*`), the AdminServer is off (no port 8080),
/// local sessions are off, the server listens on 127.0.0.1 only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// ZooKeeper's basic time unit (`tickTime`): session expiry is checked
    /// once per tick, the default session timeout bounds are 2 and 20 ticks,
    /// and followers drop a silent leader after `sync_limit` ticks.
    pub tick_time: Duration,
    /// Ticks a follower may take to connect and sync to the leader
    /// (`initLimit`).
    pub init_limit: u32,
    /// Ticks a follower may lag behind or stay silent (`syncLimit`).
    pub sync_limit: u32,
    /// Lowest session timeout the server grants (`minSessionTimeout`);
    /// `None` keeps ZooKeeper's default of 2 ticks.
    pub min_session_timeout: Option<Duration>,
    /// Highest session timeout the server grants (`maxSessionTimeout`);
    /// `None` keeps ZooKeeper's default of 20 ticks.
    pub max_session_timeout: Option<Duration>,
    /// Lets a member that lost its quorum serve read-only sessions
    /// (`-Dreadonlymode.enabled=true`, and local sessions, without which 3.8
    /// refuses read-only sessions). Such a member reports `Mode: read-only`
    /// and answers `isro` with `ro`.
    pub read_only: bool,
    /// Enables TTL nodes (`-Dzookeeper.extendedTypesEnabled=true`).
    pub extended_types: bool,
    /// How often the server reaps empty container and expired TTL nodes
    /// (`-Dznode.container.checkIntervalMs`).
    pub container_check_interval: Duration,
    /// Whether the transaction log is fsynced (`forceSync`). Off by default:
    /// the tests kill processes, not machines, and the page cache survives a
    /// killed process.
    pub force_sync: bool,
    /// The JVM's maximum heap in MiB (`-Xmx`).
    pub heap_mb: u32,
    /// Whether the JVM compiles hot code fully (C2), as a production server does. Off by
    /// default: the C1 compiler alone (`-XX:TieredStopAtLevel=1`) starts tests faster, but
    /// the server then spends about twice the CPU per request. Benchmarks turn it on.
    pub full_jit: bool,
    /// How long a start waits for the servers to serve before failing.
    pub start_timeout: Duration,
    /// Further `zoo.cfg` lines as key and value; they follow, and so
    /// override, the generated ones.
    pub extra_config: Vec<(String, String)>,
    /// Further Java system properties (`-Dkey=value`); they follow, and so
    /// override, the generated ones.
    pub system_properties: Vec<(String, String)>,
    /// Further jars for the class path, e.g.
    /// [`Installation::netty_tls_jars`](crate::install::Installation::netty_tls_jars)
    /// for a secure client port.
    pub extra_jars: Vec<PathBuf>,
    /// A secure client port (`secureClientPort`) beside the plain one, with
    /// these certificates; see [`ServerOptions::with_tls`]. `None` (the
    /// default): plain client port only.
    pub tls: Option<ServerTls>,
    /// Dynamic reconfiguration enabled (`reconfigEnabled=true`), each member's client address
    /// in its server line (so that the config node gives it to clients), and a super user
    /// ([`SUPER_USER`], a `digest` credential) allowed to reconfigure.
    pub reconfig: bool,
    /// SASL for clients, with these DIGEST-MD5 users; see [`ServerOptions::with_sasl`].
    /// `None` (the default): no SASL.
    pub sasl: Option<ServerSasl>,
}

/// Whether a server asks clients of its secure port for a certificate
/// (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Clients must present a certificate signed by a trusted CA (`need`).
    Need,
    /// Clients may present one; if they do, it must be trusted (`want`).
    Want,
    /// Clients are not asked for one (`none`).
    None,
}

impl ClientAuth {
    /// The value of `ssl.clientAuth`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Need => "need",
            ClientAuth::Want => "want",
            ClientAuth::None => "none",
        }
    }
}

/// The certificates of a server's secure client port, all PEM.
///
/// The harness writes them into the server's directory as PEM key and trust
/// stores (`tls/keystore.pem`: the key and the chain; `tls/truststore.pem`:
/// the CAs) and, for a server with these options:
///
/// - allocates a secure client port on 127.0.0.1 ([`Server::secure_client_addr`](crate::Server::secure_client_addr)),
///   keeping the plain client port (which the harness polls with four-letter
///   words);
/// - switches to the Netty connection factory
///   (`-Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory`,
///   which the secure port requires) and adds
///   [`Installation::netty_tls_jars`](crate::install::Installation::netty_tls_jars)
///   to the class path;
/// - sets `-Dzookeeper.ssl.keyStore.*`, `-Dzookeeper.ssl.trustStore.*` (type
///   `PEM`), `-Dzookeeper.ssl.clientAuth`, and registers the X.509
///   authentication provider that checks client certificates
///   (`-Dzookeeper.authProvider.x509`).
///
/// [`ServerOptions::system_properties`] and [`ServerOptions::extra_config`]
/// come later and so override any of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTls {
    /// The server's certificate chain, leaf first. Clients check it against
    /// the name they connect to (e.g. SAN IP `127.0.0.1` or DNS `localhost`).
    pub cert_chain_pem: String,
    /// The server's private key, unencrypted PKCS#8 (`BEGIN PRIVATE KEY`).
    pub key_pem: String,
    /// The CA certificates that client certificates must chain to.
    pub ca_pem: String,
    /// Whether clients must present a certificate.
    pub client_auth: ClientAuth,
}

/// The directory, inside a server's directory, of its TLS files.
pub(crate) const TLS_DIR: &str = "tls";
/// The PEM key store (key and chain) in [`TLS_DIR`].
pub(crate) const KEY_STORE_FILE: &str = "keystore.pem";
/// The PEM trust store (CAs) in [`TLS_DIR`].
pub(crate) const TRUST_STORE_FILE: &str = "truststore.pem";

/// ZooKeeper's TLS (Netty) connection factory.
pub const NETTY_CNXN_FACTORY: &str = "org.apache.zookeeper.server.NettyServerCnxnFactory";

impl ServerTls {
    /// The contents of the PEM key store: the key, then the chain.
    pub(crate) fn key_store(&self) -> String {
        let mut pem = self.key_pem.trim_end().to_owned();
        pem.push('\n');
        pem.push_str(self.cert_chain_pem.trim_end());
        pem.push('\n');
        pem
    }
}

impl Default for ServerOptions {
    /// ZooKeeper's usual timing (2 s ticks, initLimit 10, syncLimit 5), TTL
    /// nodes on, containers reaped every 500 ms, read-only mode off.
    fn default() -> Self {
        Self {
            tick_time: Duration::from_secs(2),
            init_limit: 10,
            sync_limit: 5,
            min_session_timeout: None,
            max_session_timeout: None,
            read_only: false,
            extended_types: true,
            container_check_interval: Duration::from_millis(500),
            force_sync: false,
            heap_mb: 256,
            full_jit: false,
            start_timeout: Duration::from_secs(60),
            extra_config: Vec::new(),
            system_properties: Vec::new(),
            sasl: None,
            reconfig: false,
            extra_jars: Vec::new(),
            tls: None,
        }
    }
}

impl ServerOptions {
    /// Options for tests of expiry and failover: 200 ms ticks, so sessions
    /// may time out after 400 ms, expire within a tick of their timeout, and
    /// followers give up on a frozen leader after 2 s (`sync_limit` 10).
    /// Sessions may ask for up to 60 s. `init_limit` is 50 ticks (10 s) so a
    /// busy machine still lets followers sync.
    pub fn fast_expiry() -> Self {
        Self {
            tick_time: Duration::from_millis(200),
            init_limit: 50,
            sync_limit: 10,
            max_session_timeout: Some(Duration::from_secs(60)),
            ..Self::default()
        }
    }

    /// These options with a secure client port secured by `tls` (see
    /// [`ServerTls`] for what the harness then sets up).
    ///
    /// ```
    /// use zk_tests::{ClientAuth, ServerOptions, ServerTls};
    ///
    /// # let (cert_chain_pem, key_pem, ca_pem) = (String::new(), String::new(), String::new());
    /// let options = ServerOptions::fast_expiry().with_tls(ServerTls {
    ///     cert_chain_pem,
    ///     key_pem,
    ///     ca_pem,
    ///     client_auth: ClientAuth::Need,
    /// });
    /// assert!(options.tls.is_some());
    /// ```
    pub fn with_tls(self, tls: ServerTls) -> Self {
        Self {
            tls: Some(tls),
            ..self
        }
    }

    /// Renders the `zoo.cfg` of one server. `peers` lists every member of an
    /// ensemble with its `myid`; it is empty for a standalone server.
    /// `secure_client_port` is used only with [`ServerOptions::tls`].
    pub(crate) fn zoo_cfg(
        &self,
        data_dir: &Path,
        client_port: u16,
        secure_client_port: Option<u16>,
        peers: &[MemberPorts],
    ) -> String {
        let mut lines: Vec<(String, String)> = vec![
            ("tickTime".into(), millis(self.tick_time)),
            ("initLimit".into(), self.init_limit.to_string()),
            ("syncLimit".into(), self.sync_limit.to_string()),
            ("dataDir".into(), data_dir.display().to_string()),
            ("clientPort".into(), client_port.to_string()),
            ("clientPortAddress".into(), "127.0.0.1".into()),
            ("4lw.commands.whitelist".into(), "*".into()),
            ("admin.enableServer".into(), "false".into()),
            // A read-only server creates only local sessions: ZooKeeper 3.8 refuses (NOTREADONLY)
            // a session on a read-only member unless local sessions are enabled.
            ("localSessionsEnabled".into(), self.read_only.to_string()),
            (
                "localSessionsUpgradingEnabled".into(),
                self.read_only.to_string(),
            ),
            ("forceSync".into(), yes_no(self.force_sync).into()),
            // 4 MiB instead of 64 MiB per transaction log file.
            ("preAllocSize".into(), "4096".into()),
        ];
        if let Some(min) = self.min_session_timeout {
            lines.push(("minSessionTimeout".into(), millis(min)));
        }
        if let Some(max) = self.max_session_timeout {
            lines.push(("maxSessionTimeout".into(), millis(max)));
        }
        if let (Some(_), Some(port)) = (&self.tls, secure_client_port) {
            lines.push(("secureClientPort".into(), port.to_string()));
            lines.push(("secureClientPortAddress".into(), "127.0.0.1".into()));
        }
        for peer in peers {
            let client = if self.reconfig {
                // The client address in the member's line, so that the config node gives it.
                format!(":participant;127.0.0.1:{}", peer.client)
            } else {
                String::new()
            };
            lines.push((
                format!("server.{}", peer.id),
                format!("127.0.0.1:{}:{}{client}", peer.quorum, peer.election),
            ));
        }
        if self.reconfig {
            lines.push(("reconfigEnabled".into(), "true".into()));
        }
        lines.extend(self.extra_config.iter().cloned());
        let mut cfg = String::from("# Generated by the zk-tests harness.\n");
        for (key, value) in lines {
            // Writing to a String cannot fail.
            let _ = writeln!(cfg, "{key}={value}");
        }
        cfg
    }

    /// The ZooKeeper system properties these options call for, followed by
    /// [`ServerOptions::system_properties`]. `dir` is the server's directory
    /// (where the TLS files are).
    pub(crate) fn zookeeper_properties(&self, dir: &Path) -> Vec<(String, String)> {
        let mut props: Vec<(String, String)> = vec![
            ("zookeeper.admin.enableServer".into(), "false".into()),
            ("zookeeper.4lw.commands.whitelist".into(), "*".into()),
            (
                "zookeeper.extendedTypesEnabled".into(),
                self.extended_types.to_string(),
            ),
            (
                "znode.container.checkIntervalMs".into(),
                millis(self.container_check_interval),
            ),
            ("readonlymode.enabled".into(), self.read_only.to_string()),
        ];
        if let Some(tls) = &self.tls {
            let tls_dir = dir.join(TLS_DIR);
            let path = |file: &str| tls_dir.join(file).display().to_string();
            props.extend([
                (
                    "zookeeper.serverCnxnFactory".into(),
                    NETTY_CNXN_FACTORY.into(),
                ),
                (
                    "zookeeper.authProvider.x509".into(),
                    "org.apache.zookeeper.server.auth.X509AuthenticationProvider".into(),
                ),
                (
                    "zookeeper.ssl.keyStore.location".into(),
                    path(KEY_STORE_FILE),
                ),
                ("zookeeper.ssl.keyStore.type".into(), "PEM".into()),
                (
                    "zookeeper.ssl.trustStore.location".into(),
                    path(TRUST_STORE_FILE),
                ),
                ("zookeeper.ssl.trustStore.type".into(), "PEM".into()),
                (
                    "zookeeper.ssl.clientAuth".into(),
                    tls.client_auth.as_str().into(),
                ),
            ]);
        }
        if self.reconfig {
            props.push((
                "zookeeper.DigestAuthenticationProvider.superDigest".into(),
                SUPER_DIGEST.into(),
            ));
        }
        if let Some(sasl) = &self.sasl {
            props.push((
                "java.security.auth.login.config".into(),
                dir.join(JAAS_FILE).display().to_string(),
            ));
            props.push((
                "zookeeper.authProvider.sasl".into(),
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider".into(),
            ));
            if let Some(kerberos) = &sasl.kerberos {
                props.push((
                    "java.security.krb5.conf".into(),
                    kerberos.krb5_conf.display().to_string(),
                ));
            }
            if sasl.required {
                props.push((
                    "zookeeper.sessionRequireClientSASLAuth".into(),
                    "true".into(),
                ));
            }
        }
        props.extend(self.system_properties.iter().cloned());
        props
    }

    /// These options with SASL for clients (see [`ServerSasl`]).
    pub fn with_sasl(mut self, sasl: ServerSasl) -> Self {
        self.sasl = Some(sasl);
        self
    }
}

/// The super user of a server with [`ServerOptions::reconfig`]: `digest` credential `super`,
/// password `secret`.
pub const SUPER_USER: (&str, &str) = ("super", "secret");

/// [`SUPER_USER`]'s digest, as ZooKeeper wants it: `super:` and base64(SHA-1(`super:secret`)).
const SUPER_DIGEST: &str = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";

/// The name of the JAAS file in a server's directory, for [`ServerOptions::sasl`].
pub(crate) const JAAS_FILE: &str = "jaas.conf";

/// SASL for a server's clients: a JAAS `Server` section, written into the server's directory
/// (removed with it), and the SASL authentication provider; optionally required of every
/// client (`zookeeper.sessionRequireClientSASLAuth`: a client that sends anything else first
/// is disconnected). The section holds DIGEST-MD5 users (ZooKeeper's `DigestLoginModule`), or,
/// with [`ServerSasl::kerberos`], the server's Kerberos principal and keytab (the JDK's
/// `Krb5LoginModule`: the server then speaks GSSAPI; see [`crate::kerberos::Kdc::server_sasl`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSasl {
    /// The DIGEST-MD5 users, as name and password.
    pub users: Vec<(String, String)>,
    /// The server's Kerberos identity, for GSSAPI clients.
    pub kerberos: Option<ServerKerberos>,
    /// Whether every client must authenticate with SASL.
    pub required: bool,
}

/// A ZooKeeper server's Kerberos identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKerberos {
    /// The realm's `krb5.conf` (the JVM's `java.security.krb5.conf`).
    pub krb5_conf: PathBuf,
    /// The keytab holding the service principal's keys.
    pub keytab: PathBuf,
    /// The service principal, with its realm (`zookeeper/localhost@ZK.TEST`).
    pub principal: String,
}

impl ServerSasl {
    /// The JAAS file's contents.
    pub(crate) fn jaas(&self) -> String {
        if let Some(kerberos) = &self.kerberos {
            return format!(
                "Server {{\n    com.sun.security.auth.module.Krb5LoginModule required\n    \
                 useKeyTab=true\n    keyTab=\"{}\"\n    storeKey=true\n    \
                 useTicketCache=false\n    isInitiator=false\n    principal=\"{}\";\n}};\n",
                kerberos.keytab.display(),
                kerberos.principal
            );
        }
        let users: String = self
            .users
            .iter()
            .map(|(user, password)| format!("\n    user_{user}=\"{password}\""))
            .collect();
        format!(
            "Server {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required{users};\n}};\n"
        )
    }
}

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_cfg_lists_peers_and_overrides_last() {
        let options = ServerOptions {
            min_session_timeout: Some(Duration::from_millis(400)),
            extra_config: vec![("syncLimit".into(), "7".into())],
            ..ServerOptions::fast_expiry()
        };
        let peers = [
            MemberPorts {
                id: 1,
                client: 10001,
                quorum: 10002,
                election: 10003,
            },
            MemberPorts {
                id: 2,
                client: 10004,
                quorum: 10005,
                election: 10006,
            },
        ];
        let cfg = options.zoo_cfg(Path::new("/tmp/d"), 10001, Some(10007), &peers);
        for line in [
            "tickTime=200\n",
            "dataDir=/tmp/d\n",
            "clientPort=10001\n",
            "4lw.commands.whitelist=*\n",
            "admin.enableServer=false\n",
            "localSessionsEnabled=false\n",
            "minSessionTimeout=400\n",
            "maxSessionTimeout=60000\n",
            "server.1=127.0.0.1:10002:10003\n",
            "server.2=127.0.0.1:10005:10006\n",
        ] {
            assert!(cfg.contains(line), "missing {line:?} in\n{cfg}");
        }
        assert!(cfg.find("syncLimit=10").unwrap() < cfg.find("syncLimit=7").unwrap());
        // No secure port without TLS options.
        assert!(!cfg.contains("secureClientPort"), "{cfg}");
    }

    #[test]
    fn tls_options_add_a_secure_port_and_the_netty_factory() {
        let options = ServerOptions::default().with_tls(ServerTls {
            cert_chain_pem: "CHAIN\n".into(),
            key_pem: "KEY\n".into(),
            ca_pem: "CA\n".into(),
            client_auth: ClientAuth::Want,
        });
        let cfg = options.zoo_cfg(Path::new("/tmp/d"), 10001, Some(10002), &[]);
        assert!(cfg.contains("secureClientPort=10002\n"), "{cfg}");
        assert!(cfg.contains("secureClientPortAddress=127.0.0.1\n"), "{cfg}");
        let props = options.zookeeper_properties(Path::new("/srv/zk"));
        let get = |key: &str| {
            props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("zookeeper.serverCnxnFactory"), Some(NETTY_CNXN_FACTORY));
        assert_eq!(
            get("zookeeper.ssl.keyStore.location"),
            Some("/srv/zk/tls/keystore.pem")
        );
        assert_eq!(get("zookeeper.ssl.trustStore.type"), Some("PEM"));
        assert_eq!(get("zookeeper.ssl.clientAuth"), Some("want"));
        assert_eq!(options.tls.unwrap().key_store(), "KEY\nCHAIN\n");
    }

    #[test]
    fn properties_follow_the_options() {
        let options = ServerOptions {
            read_only: true,
            ..ServerOptions::default()
        };
        let props = options.zookeeper_properties(Path::new("/tmp/d"));
        let get = |key: &str| {
            props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("readonlymode.enabled"), Some("true"));
        assert_eq!(get("zookeeper.extendedTypesEnabled"), Some("true"));
        assert_eq!(get("znode.container.checkIntervalMs"), Some("500"));
    }
}
