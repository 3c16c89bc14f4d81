//! What the session tells its driver: state changes, completions and watch notices.

use std::time::Duration;

use zk_proto::{EventType, Response, SessionId};

use crate::error::CommonError;
use crate::hosts::HostAddr;
use crate::watches::WatchId;

/// Identifies a submitted request; its completion carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl RequestId {
    /// The id of the watch a request sets, if it sets one.
    pub fn watch_id(self) -> WatchId {
        WatchId(self.0)
    }
}

/// Identifies one connection attempt. Inputs naming an attempt that is no longer current are
/// ignored, so bytes from a dead socket can never reach a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Identifies one probe of a server (see [`crate::Action::Probe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeId(pub u64);

/// The session's state as the application sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// No session yet: the first connection is being made.
    Connecting,
    /// Connected to a server that serves reads and writes.
    Connected,
    /// Connected to a read-only server: writes fail with NotReadOnly.
    ConnectedReadOnly,
    /// The connection was lost; the session lives on while the client reconnects.
    Disconnected,
    /// `close` was called; waiting for the server to confirm.
    Closing,
    /// Terminal: the session expired (told by the server, or detected locally).
    Expired,
    /// Terminal: the server refused a credential.
    AuthFailed,
    /// Terminal: the session was closed.
    Closed,
}

impl SessionState {
    /// Whether the state is terminal: it never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }

    /// Whether requests are being exchanged with a server.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// The failure a request meets in this terminal state ([`CommonError::Closed`] for a
    /// state that is not terminal).
    pub fn terminal_error(self) -> CommonError {
        match self {
            SessionState::Expired => CommonError::SessionExpired,
            SessionState::AuthFailed => CommonError::AuthFailed,
            _ => CommonError::Closed,
        }
    }
}

/// Why a session ended, in more detail than its terminal [`SessionState`]
/// ([`crate::Session::end_reason`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEnd {
    /// A server declared the session expired (its ConnectResponse granted no timeout).
    ExpiredByServer,
    /// A server answered a reconnection with another session than the one presented: the
    /// session it held is gone, and the client never continues with another one.
    Replaced {
        /// The session the client presented.
        presented: SessionId,
        /// The session the server granted instead.
        granted: SessionId,
    },
    /// Client-side expiry ([`crate::Config::client_side_expiry`]): no server confirmed the
    /// session (completed a handshake, answered a request, sent a watch event) for 4/3 of its
    /// timeout, by which time the servers have expired it.
    Unconfirmed {
        /// How long the session had gone unconfirmed.
        since: Duration,
    },
    /// A server refused a credential.
    AuthFailed {
        /// The credential's scheme (`digest`, ...).
        scheme: String,
    },
    /// SASL authentication failed: the server refused the credentials, or the mechanism could
    /// not go on (a server that could not prove it knows the password, a missing ticket).
    SaslFailed {
        /// The mechanism (`DIGEST-MD5`, `GSSAPI`).
        mechanism: String,
        /// Why.
        reason: String,
    },
    /// The client closed the session: the server confirmed, the close timeout passed, or no
    /// server had granted it yet.
    Closed,
}

impl SessionEnd {
    /// The terminal state the session is in after this end.
    pub fn state(&self) -> SessionState {
        match self {
            SessionEnd::ExpiredByServer
            | SessionEnd::Replaced { .. }
            | SessionEnd::Unconfirmed { .. } => SessionState::Expired,
            SessionEnd::AuthFailed { .. } | SessionEnd::SaslFailed { .. } => {
                SessionState::AuthFailed
            }
            SessionEnd::Closed => SessionState::Closed,
        }
    }
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionEnd::ExpiredByServer => write!(f, "the server declared the session expired"),
            SessionEnd::Replaced { presented, granted } => write!(
                f,
                "the server granted session {granted} instead of {presented}: {presented} expired"
            ),
            SessionEnd::Unconfirmed { since } => write!(
                f,
                "no server confirmed the session for {since:?}: expired on the client's side"
            ),
            SessionEnd::AuthFailed { scheme } => {
                write!(f, "the server refused the {scheme} credential")
            }
            SessionEnd::SaslFailed { mechanism, reason } => {
                write!(f, "SASL {mechanism} authentication failed: {reason}")
            }
            SessionEnd::Closed => write!(f, "the session was closed"),
        }
    }
}

/// Why a connection ended (reported with [`Event::ConnectionLost`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The driver reported the transport closed (by the peer) or failed without a cause.
    TransportClosed,
    /// The server closed the connection before answering the ConnectRequest: a read-only
    /// server refusing a client that does not allow read-only sessions (3.8 logs "Refusing
    /// session request for not-read-only client"), too many connections from this address
    /// (`maxClientCnxns`), a server behind the zxid the client has seen, a plain client on a
    /// TLS port, or a server still starting.
    ClosedDuringHandshake,
    /// Only in a connect error's list: the attempt was still under way (connecting, or waiting
    /// for the handshake's answer) when the client stopped waiting.
    StillTrying,
    /// The driver reported why the transport could not be opened or failed: the name did not
    /// resolve, the connection was refused, the TLS handshake failed (the text says which).
    TransportFailed(String),
    /// The TCP connect or the handshake took longer than the connect timeout.
    ConnectTimeout,
    /// No complete frame was received for 2/3 of the session timeout.
    ReadTimeout,
    /// A request past its deadline went unanswered for 2/3 of the session timeout more,
    /// although the server kept the connection alive: it was taken for stuck.
    UnansweredRequest,
    /// The server broke the protocol (the text says how).
    ProtocolViolation(String),
    /// A read-write server was found while connected read-only.
    ReadWriteServerFound,
    /// The host list changed ([`crate::Session::update_hosts`]) and the session moves to
    /// another server, as rebalancing after a reconfiguration asks.
    Rebalanced,
    /// A server closed the handshake, and said when asked (`isro`) that it is read-only: it
    /// refuses sessions from clients that do not allow read-only mode. Reported in place of
    /// [`DisconnectReason::ClosedDuringHandshake`] (in [`crate::Session::host_failures`], the
    /// connect error and [`crate::Session::last_disconnect`]) once the server has answered.
    ReadOnlyServer,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::TransportClosed => f.write_str("connection closed"),
            DisconnectReason::ClosedDuringHandshake => f.write_str(
                "closed by the server before answering the handshake (a read-only server \
                 refusing a client that does not allow read-only sessions, too many connections \
                 from this address, a server behind the client's zxid, a plain client on a TLS \
                 port, or a server still starting)",
            ),
            DisconnectReason::StillTrying => {
                f.write_str("no answer yet (connecting, or waiting for the handshake's answer)")
            }
            DisconnectReason::TransportFailed(cause) => f.write_str(cause),
            DisconnectReason::ConnectTimeout => {
                f.write_str("no connection and handshake within the connect timeout")
            }
            DisconnectReason::ReadTimeout => {
                f.write_str("nothing received for 2/3 of the session timeout")
            }
            DisconnectReason::UnansweredRequest => {
                f.write_str("a timed-out request stayed unanswered on a live connection")
            }
            DisconnectReason::ProtocolViolation(what) => {
                write!(f, "the server broke the protocol: {what}")
            }
            DisconnectReason::ReadWriteServerFound => {
                f.write_str("left a read-only server for a read-write one")
            }
            DisconnectReason::Rebalanced => {
                f.write_str("moved to another server after the host list changed")
            }
            DisconnectReason::ReadOnlyServer => f.write_str(
                "the server is read-only (cut off from its ensemble's quorum) and refuses \
                 sessions that do not allow read-only mode",
            ),
        }
    }
}

/// Why the last connection to one host ended, as [`crate::Session::host_failures`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure {
    /// The host, as written in the connect string.
    pub host: HostAddr,
    /// Why its last connection ended.
    pub reason: DisconnectReason,
}

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.host, self.reason)
    }
}

/// A notice for one watch registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchNotice {
    /// A node event (client path). For a one-shot watch this is its only notice; a removal
    /// reports `DataWatchRemoved`, `ChildWatchRemoved` or `PersistentWatchRemoved`.
    Node {
        /// What happened.
        event_type: EventType,
        /// The node's client path.
        path: String,
    },
    /// A persistent watch was re-registered after a reconnect: events that happened while
    /// disconnected were not delivered, so state built from them must be re-read.
    PossiblyMissedEvents,
    /// The session ended: the registration will never fire.
    SessionEnded(SessionState),
}

impl WatchNotice {
    /// Whether no notice can follow this one for the same registration, whatever its kind: the
    /// watch was removed, or the session ended. (A one-shot registration also ends with its
    /// first node notice.)
    pub fn is_last(&self) -> bool {
        match self {
            WatchNotice::SessionEnded(_) => true,
            WatchNotice::Node { event_type, .. } => matches!(
                event_type,
                EventType::PersistentWatchRemoved
                    | EventType::DataWatchRemoved
                    | EventType::ChildWatchRemoved
            ),
            WatchNotice::PossiblyMissedEvents => false,
        }
    }
}

/// The completion of a request: its typed operation turns it into a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The request completed.
    pub id: RequestId,
    /// The decoded reply (paths already relative to the chroot), or why there is none.
    pub result: Result<Response, CommonError>,
}

/// Something the application must learn, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session's state changed.
    State(SessionState),
    /// A connection ended; a [`Event::State`] follows when the session state changes.
    ConnectionLost(DisconnectReason),
    /// A request completed (exactly once per request).
    Completed(Completion),
    /// A watch registration received a notice.
    Watch {
        /// The registration.
        watch: WatchId,
        /// What happened.
        notice: WatchNotice,
    },
}
