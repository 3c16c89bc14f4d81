//! Request opcodes (`ZooDefs.OpCode`).

/// The operation a request asks for, as carried in `RequestHeader.type` and `MultiHeader.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum OpCode {
    /// Marks a failed op inside a multi reply (`MultiHeader.type` only).
    Error = -1,
    /// Create a node, reply with its path.
    Create = 1,
    /// Delete a node.
    Delete = 2,
    /// Stat a node.
    Exists = 3,
    /// Read a node's data and stat.
    GetData = 4,
    /// Write a node's data.
    SetData = 5,
    /// Read a node's ACL.
    GetAcl = 6,
    /// Write a node's ACL.
    SetAcl = 7,
    /// List a node's children.
    GetChildren = 8,
    /// Sync the connected server with the leader.
    Sync = 9,
    /// Heartbeat.
    Ping = 11,
    /// List a node's children with its stat.
    GetChildren2 = 12,
    /// Version check (inside multi only: a standalone check gets no reply on 3.8.0).
    Check = 13,
    /// Atomic batch of writes.
    Multi = 14,
    /// Create a node, reply with its path and stat.
    Create2 = 15,
    /// Change the ensemble's membership.
    Reconfig = 16,
    /// Ask whether a watch is registered.
    CheckWatches = 17,
    /// Remove watches.
    RemoveWatches = 18,
    /// Create a container node.
    CreateContainer = 19,
    /// Delete a container node (server internal).
    DeleteContainer = 20,
    /// Create a node with a time-to-live.
    CreateTtl = 21,
    /// Batch of independent reads.
    MultiRead = 22,
    /// Authentication packet.
    Auth = 100,
    /// Re-register watches after a reconnect.
    SetWatches = 101,
    /// SASL token exchange.
    Sasl = 102,
    /// List the session's ephemeral nodes.
    GetEphemerals = 103,
    /// Count every descendant of a node.
    GetAllChildrenNumber = 104,
    /// Re-register watches, persistent ones included.
    SetWatches2 = 105,
    /// Add a persistent or persistent-recursive watch.
    AddWatch = 106,
    /// Ask who the server thinks the client is.
    WhoAmI = 107,
    /// Create a session (never sent in a header: the handshake has none).
    CreateSession = -10,
    /// Close the session.
    CloseSession = -11,
}

impl OpCode {
    /// The opcode for a raw value, or `None` for values this crate does not know.
    pub fn from_i32(value: i32) -> Option<OpCode> {
        use OpCode::*;
        Some(match value {
            -1 => Error,
            1 => Create,
            2 => Delete,
            3 => Exists,
            4 => GetData,
            5 => SetData,
            6 => GetAcl,
            7 => SetAcl,
            8 => GetChildren,
            9 => Sync,
            11 => Ping,
            12 => GetChildren2,
            13 => Check,
            14 => Multi,
            15 => Create2,
            16 => Reconfig,
            17 => CheckWatches,
            18 => RemoveWatches,
            19 => CreateContainer,
            20 => DeleteContainer,
            21 => CreateTtl,
            22 => MultiRead,
            100 => Auth,
            101 => SetWatches,
            102 => Sasl,
            103 => GetEphemerals,
            104 => GetAllChildrenNumber,
            105 => SetWatches2,
            106 => AddWatch,
            107 => WhoAmI,
            -10 => CreateSession,
            -11 => CloseSession,
            _ => return None,
        })
    }

    /// The raw value on the wire.
    #[inline]
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

#[cfg(test)]
mod tests {
    use super::OpCode;

    #[test]
    fn every_known_value_round_trips() {
        for v in -20..200 {
            if let Some(op) = OpCode::from_i32(v) {
                assert_eq!(op.as_i32(), v);
            }
        }
        assert_eq!(OpCode::from_i32(10), None);
    }
}
