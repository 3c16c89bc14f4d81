//! The runtime-agnostic ZooKeeper client shared by the adapter crates.
//!
//! Pick the adapter for your runtime instead of using this crate directly: `zk-tokio`,
//! `zk-async-std` (async-std and smol) or `zk-blocking`. They all expose the [`Client`] defined
//! here (or, for `zk-blocking`, a blocking twin of it), so the API, its types and its
//! guarantees are the same everywhere.
//!
//! Inside: a `Shared` core holding the `zk_session::Session` and routing its completions,
//! watch notices and state changes to the handles that wait for them; an async `Driver`
//! written against the `Runtime` and `Transport` traits, which runs as a task of the runtime
//! or, for runtimes whose cross-thread wake-ups are costly, is polled by the tasks awaiting
//! replies and watch events through the runtime's `InlineDriver`; and the handles themselves.
//! What only adapter crates need is in [`adapter`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attempt;
mod block_on;
mod call;
mod client;
mod driver;
mod follow;
mod lead;
mod oneshot;
mod operations;
mod queue;
mod reply;
mod runtime;
mod shared;
mod state;
mod stats;
mod timeout;
#[cfg(feature = "tls")]
pub mod tls;
mod watch;

pub use call::Pending;
pub use client::{Client, ClientBuilder, ConnectError};
pub use shared::{
    DEFAULT_EVENT_CAPACITY, DEFAULT_SESSION_BUFFER_BYTES, DEFAULT_STREAM_BUFFER_BYTES,
};
pub use state::StateWatcher;
pub use stats::{DisconnectCounts, SessionStats, Stats};
pub use watch::{Timeout, Watch, WatchEvent, WatchStream};

pub use zk_session as session;
pub use zk_session::ops;
pub use zk_session::proto;
pub use zk_session::{
    CommonError, DisconnectReason, HostAddr, HostFailure, SessionEnd, SessionState,
};

/// What an adapter crate needs to run the client on a runtime: the session's shared core, the
/// async driver and the runtime traits it is written against, the connection attempt, the
/// launch hook and a thread-parking `block_on`. Applications never need it.
pub mod adapter {
    pub use crate::attempt::Attempt;
    pub use crate::block_on::{block_on, block_on_with};
    pub use crate::call::give_up;
    pub use crate::client::{check_chroot, ensemble_follower, shared_core, BuilderParts, Launch};
    pub use crate::driver::Driver;
    pub use crate::runtime::{BoxFuture, InlineDriver, Runtime, Transport, PROBE_STEP_TIMEOUT};
    pub use crate::shared::{Clock, DriverSignal, EventLimits, Shared};
    pub use crate::timeout::with_timeout;
}

/// What the operation list's expansion names in other crates.
#[doc(hidden)]
pub mod __private {
    pub use bytes::Bytes;
}

/// The public API every adapter re-exports, so all of them expose the very same names.
pub mod api {
    #[cfg(feature = "tls")]
    pub use crate::tls::{TlsError, TlsOptions};
    pub use crate::{
        ops, proto, CommonError, ConnectError, DisconnectCounts, DisconnectReason, HostAddr,
        HostFailure, Pending, SessionEnd, SessionState, SessionStats, StateWatcher, Stats, Timeout,
        Watch, WatchEvent, WatchStream,
    };
    /// The rustls the TLS options take a configuration of ([`TlsOptions::with_config`]).
    #[cfg(feature = "tls")]
    pub use rustls;
    pub use zk_session::ops::OpError;
    pub use zk_session::proto::{
        Acl, AddWatchMode, CreateMode, Id, Perms, SessionId, Stat, WatcherType,
    };
    pub use zk_session::sasl;
    pub use zk_session::Backoff;
}
