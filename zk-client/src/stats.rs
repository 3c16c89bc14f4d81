//! A client's counters: the session's, and what the client's buffers dropped.

pub use zk_session::{DisconnectCounts, SessionStats};

/// What a client has done since it was created (`Client::stats`): a snapshot, taken under the
/// session's lock; the counters themselves are plain fields the session and the router update
/// as they work, so keeping them costs the request path no lock or atomic of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The session's counters: connections, disconnects by reason, requests, replies, watch
    /// notifications, bytes, calls in flight.
    pub session: SessionStats,
    /// Watch events dropped because their stream's buffer was full (each stream reports its
    /// own as `Lagged`).
    pub watch_events_dropped: u64,
}
