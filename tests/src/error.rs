//! The harness's error type.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::install::INSTALL_COMMAND;

/// Why the harness could not do what it was asked.
///
/// Every variant that concerns a running server carries the tail of that
/// server's log, so a failed test shows why ZooKeeper misbehaved.
#[derive(Debug)]
pub enum HarnessError {
    /// Java or the ZooKeeper jar is missing. The message names the install
    /// command ([`INSTALL_COMMAND`]).
    NotInstalled {
        /// What is missing, e.g. `ZooKeeper jar /usr/share/java/zookeeper.jar`.
        missing: String,
    },
    /// An I/O operation of the harness itself failed.
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A server process exited when it should have been running.
    Exited {
        /// Which server, e.g. `member 2 (client port 20134)`.
        server: String,
        /// How it exited, e.g. `exit status: 1`.
        status: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// A server did not reach the expected state in time.
    Timeout {
        /// What the harness waited for.
        what: String,
        /// How long it waited.
        waited: Duration,
        /// The last lines of the relevant logs.
        log_tail: String,
    },
    /// The harness was asked for something that the current state does not
    /// allow, e.g. pausing a stopped server or an ensemble of zero members.
    Invalid(String),
}

impl HarnessError {
    /// Wraps an I/O error with what the harness was doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Tells whether a server failed because one of its ports was taken,
    /// which a fresh set of ports can cure.
    pub fn is_port_clash(&self) -> bool {
        match self {
            Self::Exited { log_tail, .. } | Self::Timeout { log_tail, .. } => {
                log_tail.contains("Address already in use")
            }
            _ => false,
        }
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled { missing } => write!(
                f,
                "Apache ZooKeeper is not installed: {missing} not found; \
                 install it with `{INSTALL_COMMAND}` \
                 (or point ZK_JAR at zookeeper.jar and JAVA at a java binary)"
            ),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Exited {
                server,
                status,
                log_tail,
            } => write!(
                f,
                "ZooKeeper {server} exited unexpectedly ({status}); log tail:\n{log_tail}"
            ),
            Self::Timeout {
                what,
                waited,
                log_tail,
            } => write!(
                f,
                "timed out after {waited:?} waiting for {what}; log tail:\n{log_tail}"
            ),
            Self::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The result type of the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
