//! Newtypes for the integers that would otherwise be easy to confuse.

use std::fmt;

/// A request's transaction-less identifier, chosen by the client to match replies to requests.
///
/// Positive xids number ordinary requests; a few negative values are reserved (see the
/// associated constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Xid(pub i32);

impl Xid {
    /// The xid of a watch notification sent by the server.
    pub const NOTIFICATION: Xid = Xid(-1);
    /// The xid of a ping and of its reply.
    pub const PING: Xid = Xid(-2);
    /// The xid of an authentication packet and of its reply.
    pub const AUTH: Xid = Xid(-4);
    /// The xid of a SetWatches / SetWatches2 request and of its reply.
    pub const SET_WATCHES: Xid = Xid(-8);
}

/// A ZooKeeper transaction id: the server's global, monotonically increasing change counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Zxid(pub i64);

/// A session's identifier, assigned by the server in the `ConnectResponse`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(pub i64);

impl SessionId {
    /// The id a client sends to ask for a new session.
    pub const NONE: SessionId = SessionId(0);
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({:#x})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
