//! Create modes and the opcode each one needs.

use crate::opcode::OpCode;

/// How a node is created (`CreateMode` in Java).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CreateMode {
    /// An ordinary node that outlives the session.
    #[default]
    Persistent,
    /// A node deleted when the session that created it ends.
    Ephemeral,
    /// A persistent node whose name gets a 10-digit sequence suffix.
    PersistentSequential,
    /// An ephemeral node whose name gets a 10-digit sequence suffix.
    EphemeralSequential,
    /// A node the server deletes once it had children and has none left.
    Container,
    /// A persistent node the server deletes once it has had no children and no change for its TTL.
    PersistentWithTtl,
    /// A sequential persistent node with a TTL.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The `flags` value of the create request.
    pub fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// The mode for a `flags` value, or `None` when unknown.
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        Some(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }

    /// The opcode a create in this mode must use when the client wants the node's stat back.
    ///
    /// Container nodes need [`OpCode::CreateContainer`] and TTL nodes [`OpCode::CreateTtl`]:
    /// container flags sent through a plain create make an ordinary persistent node.
    pub fn opcode(self) -> OpCode {
        match self {
            CreateMode::Container => OpCode::CreateContainer,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => {
                OpCode::CreateTtl
            }
            _ => OpCode::Create2,
        }
    }

    /// Whether the node ends with its session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Whether the server appends a sequence number to the name.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// Whether the mode needs a TTL.
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// The largest TTL the server accepts, in milliseconds (`EphemeralType.TTL.maxValue()`).
pub const MAX_TTL_MS: i64 = (1 << 40) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_and_ttl_modes_need_their_own_opcodes() {
        assert_eq!(CreateMode::Container.opcode(), OpCode::CreateContainer);
        assert_eq!(CreateMode::Container.opcode().as_i32(), 19);
        assert_eq!(CreateMode::PersistentWithTtl.opcode().as_i32(), 21);
        assert_eq!(
            CreateMode::PersistentSequentialWithTtl.opcode().as_i32(),
            21
        );
        assert_eq!(CreateMode::Ephemeral.opcode(), OpCode::Create2);
        for f in 0..7 {
            assert_eq!(CreateMode::from_flags(f).unwrap().flags(), f);
        }
        assert_eq!(CreateMode::from_flags(7), None);
    }
}
