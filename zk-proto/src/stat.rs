//! The `Stat` record: a node's metadata.

use crate::ids::{SessionId, Zxid};
use crate::jute::jute_record;

jute_record! {
    /// A node's metadata, as returned by exists, getData, setData and others (68 bytes on the
    /// wire).
    pub struct Stat {
        /// The zxid of the change that created the node.
        pub czxid: Zxid,
        /// The zxid of the change that last modified the node's data.
        pub mzxid: Zxid,
        /// Creation time, milliseconds since the epoch.
        pub ctime: i64,
        /// Last data modification time, milliseconds since the epoch.
        pub mtime: i64,
        /// Number of changes to the node's data.
        pub version: i32,
        /// Number of changes to the node's children.
        pub cversion: i32,
        /// Number of changes to the node's ACL.
        pub aversion: i32,
        /// The owning session of an ephemeral node, else 0 (3.8.0 reports 0 for containers too).
        pub ephemeral_owner: SessionId,
        /// Length of the node's data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// The zxid of the change that last modified the node's children.
        pub pzxid: Zxid,
    }
}

/// The encoded size of a [`Stat`].
pub const STAT_LEN: usize = 68;
