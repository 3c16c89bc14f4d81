//! Real Apache ZooKeeper test harness.
//!
//! Starts Apache ZooKeeper 3.8 (Debian's `zookeeper` package) as child
//! processes on free loopback ports: a standalone [`Server`] or an
//! [`Ensemble`] of members, each in its own temporary directory with its own
//! `zoo.cfg` and log. It tells which member leads, and stops, kills,
//! restarts, pauses and resumes members for fault tests. No JVM outlives the
//! test: servers die on drop, on panic, and when the test process is killed
//! (see [`process`] for how).
//!
//! A missing installation is an error whose message holds the install
//! command, so tests fail rather than pass silently:
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_tests::{four_letter_word, Ensemble, Mode, ServerOptions};
//!
//! let mut ensemble =
//!     Ensemble::start(3, &ServerOptions::fast_expiry()).expect("start ZooKeeper");
//! let connect = ensemble.connect_string(); // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
//! # let _ = connect;
//! let leader = ensemble.leader().expect("a leader");
//! ensemble.kill(leader).expect("kill the leader");
//! let new_leader = ensemble.wait_leader(Duration::from_secs(30)).expect("re-election");
//! assert_ne!(new_leader, leader);
//! let srvr = four_letter_word(ensemble.member(new_leader).client_addr(), "srvr").unwrap();
//! assert_eq!(Mode::from_srvr(&srvr), Some(Mode::Leader));
//! ```
//!
//! Environment: `ZK_JAR` (default `/usr/share/java/zookeeper.jar`) and
//! `JAVA` (default `java`) choose the installation, `ZK_CLASSPATH` adds class
//! path entries, and `ZK_KEEP_DIRS` keeps the servers' directories and logs.
//!
//! The binary `zk-harness` runs a server or an ensemble from the command line.

#![warn(missing_docs)]

// Which ZooKeeper to run and how.
pub mod config;
pub mod install;
pub mod launch;
pub mod logs;

// Processes, directories and ports.
pub mod ports;
pub mod process;
mod tempdir;

// Talking to servers.
pub mod four_letter;
pub mod mode;

// What tests use.
pub mod conformance;
pub mod cpu;
pub mod doc;
pub mod ensemble;
pub mod error;
pub mod hostile;
pub mod kerberos;
pub mod peers;
pub mod pinning;
pub mod proxy;
pub mod raw;
pub mod server;

pub use config::{ClientAuth, ServerKerberos, ServerOptions, ServerSasl, ServerTls, SUPER_USER};
pub use ensemble::Ensemble;
pub use error::{HarnessError, Result};
pub use four_letter::{four_letter_word, four_letter_word_with_timeout};
pub use install::{require_zookeeper, Installation, INSTALL_COMMAND};
pub use mode::Mode;
pub use ports::{free_loopback_port, MemberPorts};
pub use process::process_is_alive;
pub use server::{Role, Server, State};
pub use tempdir::KEEP_DIRS_ENV;
