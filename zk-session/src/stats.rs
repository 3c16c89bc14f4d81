//! Counters of a session's activity: what a user reads to see how a client is doing.

use crate::event::DisconnectReason;

/// What a session has done since it was created. Kept by the session itself (plain counters,
/// updated as it handles inputs: no lock or atomic of their own); read with
/// [`crate::Session::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Connections the session asked the driver to open.
    pub connection_attempts: u64,
    /// Handshakes completed: connections that carried the session.
    pub connections: u64,
    /// Connections (and attempts) that ended, by reason.
    pub disconnects: DisconnectCounts,
    /// Requests written: calls and the session's own requests (pings, credentials and watch
    /// re-registration are not counted).
    pub requests_sent: u64,
    /// Pings written.
    pub pings_sent: u64,
    /// Replies to requests received.
    pub replies_received: u64,
    /// Watch notifications received from servers.
    pub watch_notifications: u64,
    /// Bytes handed to the driver to write.
    pub bytes_sent: u64,
    /// Bytes received on the current connections.
    pub bytes_received: u64,
    /// Requests outstanding now, as [`crate::Session::in_flight`] counts them: calls submitted
    /// and not completed, and calls that completed with `RequestTimeout` whose replies are
    /// still due on their connection.
    pub in_flight: usize,
}

/// How many connections ended for each reason (see [`DisconnectReason`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DisconnectCounts {
    /// Closed by the peer after the handshake.
    pub closed: u64,
    /// Closed by the server before answering the handshake.
    pub closed_during_handshake: u64,
    /// Failed with a cause the driver reported (refused, unresolved name, TLS, I/O errors).
    pub failed: u64,
    /// No connection and handshake within the connect timeout.
    pub connect_timeout: u64,
    /// Nothing received for 2/3 of the session timeout.
    pub read_timeout: u64,
    /// A timed-out request stayed unanswered on a live connection.
    pub unanswered_request: u64,
    /// The server broke the protocol.
    pub protocol_violation: u64,
    /// Left a read-only server for a read-write one.
    pub read_write_server_found: u64,
    /// Moved to another server when the host list changed ([`crate::Session::update_hosts`]).
    pub rebalanced: u64,
}

impl DisconnectCounts {
    /// Counts one disconnect.
    pub(crate) fn count(&mut self, reason: &DisconnectReason) {
        let counter = match reason {
            DisconnectReason::TransportClosed => &mut self.closed,
            DisconnectReason::ClosedDuringHandshake | DisconnectReason::ReadOnlyServer => {
                &mut self.closed_during_handshake
            }
            DisconnectReason::TransportFailed(_) => &mut self.failed,
            DisconnectReason::ConnectTimeout => &mut self.connect_timeout,
            DisconnectReason::ReadTimeout => &mut self.read_timeout,
            DisconnectReason::UnansweredRequest => &mut self.unanswered_request,
            DisconnectReason::ProtocolViolation(_) => &mut self.protocol_violation,
            DisconnectReason::ReadWriteServerFound => &mut self.read_write_server_found,
            DisconnectReason::Rebalanced => &mut self.rebalanced,
            // Never a disconnect: only listed in connect errors.
            DisconnectReason::StillTrying => return,
        };
        *counter += 1;
    }

    /// Every disconnect, whatever its reason.
    pub fn total(&self) -> u64 {
        self.closed
            + self.closed_during_handshake
            + self.failed
            + self.connect_timeout
            + self.read_timeout
            + self.unanswered_request
            + self.protocol_violation
            + self.read_write_server_found
    }
}
