//! A throw-away Kerberos realm for tests: an MIT KDC (Debian's `krb5-kdc`) on a free loopback
//! port, with its database, configuration, keytabs and log in a temporary directory that is
//! removed with it (kept with [`crate::KEEP_DIRS_ENV`]).
//!
//! ```no_run
//! use zk_tests::kerberos::Kdc;
//!
//! let kdc = Kdc::start().expect("an MIT KDC");
//! kdc.add_principal("alice").unwrap();
//! let keytab = kdc.dir().join("clients.keytab");
//! kdc.export_keys("alice", &keytab).unwrap();
//! // A ZooKeeper server that takes Kerberos clients:
//! let sasl = kdc.server_sasl("zookeeper/localhost", true).unwrap();
//! # let _ = sasl;
//! ```
//!
//! Clients find the realm through the variables of [`Kdc::client_env`] (`KRB5_CONFIG`, a
//! ticket cache collection, a client keytab). libkrb5 reads them from the environment of the
//! process, so a test sets them before it starts any thread: by running itself again as a
//! child process with them (see `tests/tests/kerberos.rs`).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{ServerKerberos, ServerSasl};
use crate::error::{HarnessError, Result};
use crate::ports::free_loopback_port;
use crate::process::JvmProcess;
use crate::tempdir::TempDir;

/// The realm of every test KDC.
pub const REALM: &str = "ZK.TEST";

/// How to install what the KDC needs, for error messages.
pub const KDC_INSTALL_COMMAND: &str =
    "apt-get install -y krb5-kdc krb5-admin-server (or run scripts/install-deps.sh)";

/// How long the KDC may take to listen.
const START_WAIT: Duration = Duration::from_secs(20);

/// The KDC's programs (Debian puts them in `/usr/sbin`, which a user's `PATH` may lack).
const KRB5KDC: &str = "/usr/sbin/krb5kdc";
const KDB5_UTIL: &str = "/usr/sbin/kdb5_util";
const KADMIN_LOCAL: &str = "/usr/sbin/kadmin.local";

/// A running MIT KDC for the realm [`REALM`].
#[derive(Debug)]
pub struct Kdc {
    process: JvmProcess,
    port: u16,
    // Last, so that it is removed after the KDC is gone.
    dir: TempDir,
}

impl Kdc {
    /// Makes a realm database in a new directory and starts the KDC on a free loopback port
    /// (TCP and UDP; the clients' configuration prefers TCP).
    pub fn start() -> Result<Self> {
        for program in [KRB5KDC, KDB5_UTIL, KADMIN_LOCAL] {
            if !Path::new(program).is_file() {
                return Err(HarnessError::NotInstalled {
                    missing: format!("{program} (install with: {KDC_INSTALL_COMMAND})"),
                });
            }
        }
        let dir =
            TempDir::new().map_err(|e| HarnessError::io("creating the KDC's directory", e))?;
        let port = free_loopback_port().map_err(|e| HarnessError::io("a port for the KDC", e))?;
        let path = dir.path();
        write(&path.join("krb5.conf"), &krb5_conf(port))?;
        write(&path.join("kdc.conf"), &kdc_conf(path, port))?;
        write(&path.join("kadm5.acl"), "")?;
        run(
            path,
            Command::new(KDB5_UTIL).args(["-r", REALM, "create", "-s", "-P", "master-key"]),
            "creating the realm's database",
        )?;
        let log = path.join("krb5kdc.out");
        // Under `env`, which gives the KDC its configuration (the watchdog passes none).
        let mut config = OsString::from("KRB5_CONFIG=");
        config.push(path.join("krb5.conf"));
        let mut profile = OsString::from("KRB5_KDC_PROFILE=");
        profile.push(path.join("kdc.conf"));
        let process = JvmProcess::spawn(
            Path::new("env"),
            &[
                config,
                profile,
                KRB5KDC.into(),
                "-n".into(),
                "-r".into(),
                REALM.into(),
            ],
            path,
            &log,
        )
        .map_err(|e| HarnessError::io("starting krb5kdc", e))?;
        let mut kdc = Self { process, port, dir };
        kdc.wait_listening()?;
        Ok(kdc)
    }

    fn wait_listening(&mut self) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.process.try_exit_status() {
                return Err(HarnessError::Invalid(format!(
                    "krb5kdc (port {}) exited ({status}); its log:\n{}",
                    self.port,
                    self.log_tail()
                )));
            }
            if started.elapsed() > START_WAIT {
                return Err(HarnessError::Timeout {
                    what: format!("krb5kdc to listen on {addr}"),
                    waited: START_WAIT,
                    log_tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let mut tail = String::new();
        for name in ["krb5kdc.out", "kdc.log"] {
            if let Ok(text) = fs::read_to_string(self.dir.path().join(name)) {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(20);
                tail.push_str(&lines[from..].join("\n"));
                tail.push('\n');
            }
        }
        tail
    }

    /// The KDC's directory (its database, configuration, log, and any keytab written there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The KDC's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `krb5.conf` that names this realm and its KDC.
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// Adds `principal` (a name in [`REALM`], such as `alice` or `zookeeper/localhost`) with a
    /// random key.
    pub fn add_principal(&self, principal: &str) -> Result<()> {
        self.kadmin(&format!("addprinc -randkey {principal}"))
    }

    /// Writes `principal`'s keys to `keytab` (added to the file if it exists), as a new
    /// version: keys written before are no longer valid.
    pub fn export_keys(&self, principal: &str, keytab: &Path) -> Result<()> {
        self.kadmin(&format!("ktadd -k {} {principal}", keytab.display()))
    }

    /// Gives `principal` a new random key: keytabs written before hold a wrong one (as a user
    /// with a stale password would).
    pub fn change_key(&self, principal: &str) -> Result<()> {
        self.kadmin(&format!("cpw -randkey {principal}"))
    }

    /// Removes `principal` from the realm: keytabs written before name an unknown user.
    pub fn delete_principal(&self, principal: &str) -> Result<()> {
        self.kadmin(&format!("delprinc -force {principal}"))
    }

    fn kadmin(&self, query: &str) -> Result<()> {
        run(
            self.dir.path(),
            Command::new(KADMIN_LOCAL).args(["-r", REALM, "-q", query]),
            &format!("kadmin.local: {query}"),
        )
    }

    /// A ZooKeeper server's SASL set-up for Kerberos clients: adds the service `principal`
    /// (`zookeeper/localhost`), writes its keytab in the KDC's directory, and names both in
    /// the server's JAAS section; `required` makes SASL mandatory for every client.
    pub fn server_sasl(&self, principal: &str, required: bool) -> Result<ServerSasl> {
        let sasl = server_sasl_in(self.dir.path(), principal, required);
        self.add_principal(principal)?;
        if let Some(kerberos) = &sasl.kerberos {
            self.export_keys(principal, &kerberos.keytab)?;
        }
        Ok(sasl)
    }

    /// The environment a Kerberos client of this realm runs with: `KRB5_CONFIG` (this realm and
    /// its KDC), `KRB5CCNAME` (a ticket cache collection in the KDC's directory, empty at
    /// first) and `KRB5_CLIENT_KTNAME` (`client_keytab`, from which libkrb5 gets the initial
    /// tickets of the principals it holds keys for).
    pub fn client_env(&self, client_keytab: &Path) -> Result<Vec<(String, OsString)>> {
        let caches = self.dir.path().join("ccaches");
        fs::create_dir_all(&caches)
            .map_err(|e| HarnessError::io(format!("creating {}", caches.display()), e))?;
        let mut collection = OsString::from("DIR:");
        collection.push(&caches);
        Ok(vec![
            ("KRB5_CONFIG".into(), self.krb5_conf().into()),
            ("KRB5CCNAME".into(), collection),
            ("KRB5_CLIENT_KTNAME".into(), client_keytab.into()),
        ])
    }
}

/// The SASL set-up [`Kdc::server_sasl`] made for `principal` in the KDC's directory `dir`
/// (for a process that has the directory but not the [`Kdc`]).
pub fn server_sasl_in(dir: &Path, principal: &str, required: bool) -> ServerSasl {
    ServerSasl {
        users: Vec::new(),
        kerberos: Some(ServerKerberos {
            krb5_conf: dir.join("krb5.conf"),
            keytab: dir.join(format!("{}.keytab", principal.replace('/', "_"))),
            principal: format!("{principal}@{REALM}"),
        }),
        required,
    }
}

/// The clients' `krb5.conf`: the realm's KDC on loopback, over TCP, and no DNS (names stay
/// as written, so `zookeeper/localhost` is the server's principal whatever resolves it).
fn krb5_conf(port: u16) -> String {
    format!(
        "[libdefaults]\n\
         \x20   default_realm = {REALM}\n\
         \x20   dns_lookup_kdc = false\n\
         \x20   dns_lookup_realm = false\n\
         \x20   dns_canonicalize_hostname = false\n\
         \x20   rdns = false\n\
         \x20   udp_preference_limit = 1\n\
         \x20   ticket_lifetime = 1h\n\
         [realms]\n\
         \x20   {REALM} = {{\n\
         \x20       kdc = 127.0.0.1:{port}\n\
         \x20   }}\n"
    )
}

/// The KDC's own configuration (`KRB5_KDC_PROFILE`): its database and log in `dir`.
fn kdc_conf(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "[kdcdefaults]\n\
         \x20   kdc_listen = 127.0.0.1:{port}\n\
         \x20   kdc_tcp_listen = 127.0.0.1:{port}\n\
         [realms]\n\
         \x20   {REALM} = {{\n\
         \x20       database_name = {dir}/principal\n\
         \x20       key_stash_file = {dir}/stash\n\
         \x20       acl_file = {dir}/kadm5.acl\n\
         \x20       max_life = 1h\n\
         \x20   }}\n\
         [logging]\n\
         \x20   kdc = FILE:{dir}/kdc.log\n"
    )
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::File::create(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))
}

/// Runs one of the realm's administration commands against the database in `dir`.
fn run(dir: &Path, command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .current_dir(dir)
        .env("KRB5_CONFIG", dir.join("krb5.conf"))
        .env("KRB5_KDC_PROFILE", dir.join("kdc.conf"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io(what.to_owned(), e))?;
    // kadmin.local exits 0 when a query fails, and reports it on stderr as
    // "add_principal: Principal or policy already exists while creating ..." (beside notices
    // such as "No policy specified for ...").
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed = stderr.lines().any(|line| line.contains(" while "));
    if output.status.success() && !failed {
        return Ok(());
    }
    Err(HarnessError::Invalid(format!(
        "{what} failed ({}): {}{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    )))
}
