//! One ZooKeeper server process: a standalone server or an ensemble member.

use std::fs;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{ServerOptions, KEY_STORE_FILE, TLS_DIR, TRUST_STORE_FILE};
use crate::error::{HarnessError, Result};
use crate::four_letter::four_letter_word_with_timeout;
use crate::install::{require_zookeeper, Installation};
use crate::launch::{java_command, JavaCommand, QUORUM_MAIN, STANDALONE_MAIN};
use crate::logs::{self, ERROR_TAIL_LINES, LOG4J_FILE, LOG4J_PROPERTIES, LOG_FILE};
use crate::mode::Mode;
use crate::ports::{free_loopback_port, MemberPorts};
use crate::process::JvmProcess;
use crate::tempdir::TempDir;

/// How many times a start is tried with fresh ports when a port was taken.
pub(crate) const START_ATTEMPTS: usize = 3;

/// How long [`Server::stop`] lets the JVM shut down before killing it.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long the harness waits for one `srvr` answer while polling.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the harness polls a server's mode while waiting.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Whether a server runs alone or as a member of an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A standalone server (`ZooKeeperServerMain`).
    Standalone,
    /// An ensemble member (`QuorumPeerMain`).
    Member,
}

/// The state of a server's process, as the harness left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The JVM runs (it may still be starting or without quorum).
    Running,
    /// The JVM is frozen by SIGSTOP.
    Paused,
    /// No JVM runs: never started, stopped, killed, or exited.
    Stopped,
}

/// One ZooKeeper server: its own temporary directory (data directory,
/// `zoo.cfg`, log), its ports, and its JVM while it runs.
///
/// The JVM is killed when the `Server` is dropped, and also when the test
/// process dies (see [`crate::process`]). Restarts reuse the directory and
/// the ports.
#[derive(Debug)]
pub struct Server {
    ports: MemberPorts,
    secure_client_port: Option<u16>,
    role: Role,
    command: JavaCommand,
    process: Option<JvmProcess>,
    // Declared last so that the JVM dies before its directory is removed.
    dir: TempDir,
}

impl Server {
    /// Starts a standalone server and waits until it serves.
    ///
    /// Fails with [`HarnessError::NotInstalled`] if ZooKeeper or Java is
    /// missing, and with the server's log tail if it does not serve within
    /// [`ServerOptions::start_timeout`].
    pub fn standalone(options: &ServerOptions) -> Result<Self> {
        let install = require_zookeeper()?;
        let mut attempt = 1;
        loop {
            let result = MemberPorts::allocate(0)
                .map_err(|e| HarnessError::io("allocating ports", e))
                .and_then(|ports| Self::create(&install, options, Role::Standalone, ports, &[]))
                .and_then(|mut server| {
                    server.start()?;
                    server.wait_serving(options.start_timeout)?;
                    Ok(server)
                });
            match result {
                Err(e) if e.is_port_clash() && attempt < START_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    /// Prepares (but does not start) a server in a fresh directory: writes
    /// `zoo.cfg`, the log4j configuration and, for a member, `myid`.
    pub(crate) fn create(
        install: &Installation,
        options: &ServerOptions,
        role: Role,
        ports: MemberPorts,
        peers: &[MemberPorts],
    ) -> Result<Self> {
        let dir = TempDir::new().map_err(|e| HarnessError::io("creating a server directory", e))?;
        let data_dir = dir.path().join("data");
        let zoo_cfg = dir.path().join("zoo.cfg");
        let write = |path: &Path, contents: &str| {
            fs::write(path, contents)
                .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))
        };
        fs::create_dir(&data_dir)
            .map_err(|e| HarnessError::io(format!("creating {}", data_dir.display()), e))?;
        let secure_client_port = match &options.tls {
            None => None,
            Some(tls) => {
                let tls_dir = dir.path().join(TLS_DIR);
                fs::create_dir(&tls_dir)
                    .map_err(|e| HarnessError::io(format!("creating {}", tls_dir.display()), e))?;
                write(&tls_dir.join(KEY_STORE_FILE), &tls.key_store())?;
                write(&tls_dir.join(TRUST_STORE_FILE), &tls.ca_pem)?;
                Some(
                    free_loopback_port()
                        .map_err(|e| HarnessError::io("allocating the secure client port", e))?,
                )
            }
        };
        write(
            &zoo_cfg,
            &options.zoo_cfg(&data_dir, ports.client, secure_client_port, peers),
        )?;
        write(&dir.path().join(LOG4J_FILE), LOG4J_PROPERTIES)?;
        if let Some(sasl) = &options.sasl {
            write(&dir.path().join(crate::config::JAAS_FILE), &sasl.jaas())?;
        }
        let main_class = match role {
            Role::Standalone => STANDALONE_MAIN,
            Role::Member => {
                write(&data_dir.join("myid"), &format!("{}\n", ports.id))?;
                QUORUM_MAIN
            }
        };
        let command = java_command(install, options, main_class, dir.path(), &zoo_cfg)?;
        Ok(Self {
            ports,
            secure_client_port,
            role,
            command,
            process: None,
            dir,
        })
    }

    /// The server's `myid` (0 for a standalone server).
    pub fn id(&self) -> u64 {
        self.ports.id
    }

    /// Whether the server is standalone or an ensemble member.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The server's ports.
    pub fn ports(&self) -> MemberPorts {
        self.ports
    }

    /// The address clients connect to, `127.0.0.1:<client port>`.
    pub fn client_addr(&self) -> SocketAddr {
        self.ports.client_addr()
    }

    /// The connect string of this server alone, `127.0.0.1:<client port>`.
    pub fn connect_string(&self) -> String {
        self.client_addr().to_string()
    }

    /// The address of the secure (TLS) client port,
    /// `127.0.0.1:<secure client port>`, for a server started with
    /// [`ServerOptions::tls`]; `None` otherwise.
    pub fn secure_client_addr(&self) -> Option<SocketAddr> {
        self.secure_client_port
            .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// The connect string of this server's secure client port alone,
    /// `127.0.0.1:<secure client port>`; `None` without [`ServerOptions::tls`].
    pub fn secure_connect_string(&self) -> Option<String> {
        self.secure_client_addr().map(|addr| addr.to_string())
    }

    /// The server's directory, holding `zoo.cfg`, `server.log` and `data/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory (`dataDir`), which survives restarts.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The generated `zoo.cfg`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    /// The log: the JVM's stdout and stderr, across restarts.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        logs::tail(&self.log_path(), lines)
    }

    /// The JVM's process id while it runs (or is paused).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(JvmProcess::pid)
    }

    /// Whether the JVM runs, is paused or is stopped. A JVM that exited on
    /// its own shows as running until a wait or [`Server::ensure_alive`]
    /// notices.
    pub fn state(&self) -> State {
        match &self.process {
            None => State::Stopped,
            Some(process) if process.is_paused() => State::Paused,
            Some(_) => State::Running,
        }
    }

    /// Sends the four-letter word `command` to this server (see
    /// [`crate::four_letter`]).
    pub fn four_letter(&self, command: &str) -> io::Result<String> {
        four_letter_word_with_timeout(self.client_addr(), command, PROBE_TIMEOUT)
    }

    /// The server's mode according to `srvr`; `None` if it is not running,
    /// paused, does not answer, or does not serve.
    pub fn mode(&self) -> Option<Mode> {
        if self.state() != State::Running {
            return None;
        }
        self.four_letter("srvr")
            .ok()
            .and_then(|answer| Mode::from_srvr(&answer))
    }

    /// Starts the JVM of a stopped server, on the same directory and ports.
    /// Does not wait for it to serve: see [`Server::wait_serving`].
    pub fn start(&mut self) -> Result<()> {
        if self.process.is_some() {
            return Err(HarnessError::Invalid(format!(
                "{} is already running",
                self.describe()
            )));
        }
        let log = self.log_path();
        let marker = format!("---- zk-tests: starting {} ----\n", self.describe());
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut file| file.write_all(marker.as_bytes()))
            .map_err(|e| HarnessError::io(format!("writing {}", log.display()), e))?;
        let process = JvmProcess::spawn(
            &self.command.program,
            &self.command.args,
            self.dir.path(),
            &log,
        )
        .map_err(|e| HarnessError::io(format!("starting {}", self.describe()), e))?;
        self.process = Some(process);
        Ok(())
    }

    /// Stops the JVM gracefully (SIGTERM; SIGKILL after 10 s) and waits for
    /// it. A paused JVM is resumed first. Does nothing if it is stopped.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut process) = self.process.take() {
            process
                .terminate(STOP_GRACE)
                .map_err(|e| HarnessError::io(format!("stopping {}", self.describe()), e))?;
        }
        Ok(())
    }

    /// Kills the JVM (SIGKILL, also if paused) and waits for it. Does nothing
    /// if it is stopped.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut process) = self.process.take() {
            process
                .kill()
                .map_err(|e| HarnessError::io(format!("killing {}", self.describe()), e))?;
        }
        Ok(())
    }

    /// Stops the server if it runs, then starts it again with the same
    /// directory and ports. Does not wait for it to serve.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.start()
    }

    /// Freezes the JVM (SIGSTOP) and waits until all its threads have
    /// stopped. The kernel still accepts connections to the frozen server,
    /// but it answers nothing. Drop, [`Server::kill`] and [`Server::stop`]
    /// work on a paused server.
    pub fn pause(&mut self) -> Result<()> {
        self.ensure_alive()?;
        let description = self.describe();
        match &mut self.process {
            Some(process) if !process.is_paused() => process
                .pause()
                .map_err(|e| HarnessError::io(format!("pausing {description}"), e)),
            _ => Err(HarnessError::Invalid(format!(
                "cannot pause {description}: it is {:?}",
                self.state()
            ))),
        }
    }

    /// Thaws a paused JVM (SIGCONT).
    pub fn resume(&mut self) -> Result<()> {
        let description = self.describe();
        match &mut self.process {
            Some(process) if process.is_paused() => process
                .resume()
                .map_err(|e| HarnessError::io(format!("resuming {description}"), e)),
            _ => Err(HarnessError::Invalid(format!(
                "cannot resume {description}: it is {:?}",
                self.state()
            ))),
        }
    }

    /// Fails with [`HarnessError::Exited`] (and marks the server stopped) if
    /// the JVM exited on its own.
    pub fn ensure_alive(&mut self) -> Result<()> {
        let Some(process) = &mut self.process else {
            return Ok(());
        };
        let exited = process
            .try_exit_status()
            .map_err(|e| HarnessError::io("checking a server process", e))?;
        match exited {
            None => Ok(()),
            Some(status) => {
                self.process = None;
                Err(HarnessError::Exited {
                    server: self.describe(),
                    status: status.to_string(),
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                })
            }
        }
    }

    /// Waits up to `timeout` until the server serves read and write
    /// requests (mode standalone, leader, follower or observer).
    pub fn wait_serving(&mut self, timeout: Duration) -> Result<Mode> {
        self.wait_mode(timeout, "serve read-write", Mode::is_read_write)
    }

    /// Waits up to `timeout` until `srvr` reports a mode that `accept`
    /// accepts, and returns it. `what` describes the wait for the error.
    ///
    /// Fails at once if the server is not running or is paused, and as soon
    /// as its JVM exits.
    pub fn wait_mode(
        &mut self,
        timeout: Duration,
        what: &str,
        accept: impl Fn(Mode) -> bool,
    ) -> Result<Mode> {
        let start = Instant::now();
        loop {
            self.ensure_alive()?;
            if self.state() != State::Running {
                return Err(HarnessError::Invalid(format!(
                    "cannot wait for {} to {what}: it is {:?}",
                    self.describe(),
                    self.state()
                )));
            }
            if let Some(mode) = self.mode().filter(|&mode| accept(mode)) {
                return Ok(mode);
            }
            if start.elapsed() >= timeout {
                return Err(HarnessError::Timeout {
                    what: format!("{} to {what}", self.describe()),
                    waited: start.elapsed(),
                    log_tail: self.log_tail(ERROR_TAIL_LINES),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Names the server in messages, e.g. `member 2 (127.0.0.1:20134)`.
    pub fn describe(&self) -> String {
        match self.role {
            Role::Standalone => format!("standalone server ({})", self.client_addr()),
            Role::Member => format!("member {} ({})", self.id(), self.client_addr()),
        }
    }
}
