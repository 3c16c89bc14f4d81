//! Requests and responses of the operations on nodes.

use bytes::Bytes;

use crate::acl::AclList;
use crate::jute::jute_record;
use crate::stat::Stat;

jute_record! {
    /// Create a node (opcodes create 1, create2 15 and createContainer 19).
    pub struct CreateRequest {
        /// The node's server path.
        pub path: String,
        /// Initial data (`None`: null, told apart from empty by readers that ask).
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: AclList,
        /// [`crate::CreateMode::flags`].
        pub flags: i32,
    }
}

jute_record! {
    /// Create a node with a time-to-live (opcode createTTL 21).
    pub struct CreateTtlRequest {
        /// The node's server path.
        pub path: String,
        /// Initial data (`None`: null).
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: AclList,
        /// [`crate::CreateMode::flags`].
        pub flags: i32,
        /// Time-to-live in milliseconds, 1 to [`crate::create_mode::MAX_TTL_MS`].
        pub ttl: i64,
    }
}

jute_record! {
    /// The reply to create (1): the created path (with its sequence suffix).
    pub struct CreateResponse {
        /// The created node's server path.
        pub path: String,
    }
}

jute_record! {
    /// The reply to create2, createContainer and createTTL: path and stat.
    pub struct Create2Response {
        /// The created node's server path.
        pub path: String,
        /// The new node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// Delete a node.
    pub struct DeleteRequest {
        /// The node's server path.
        pub path: String,
        /// The expected data version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// A request that names a node and asks whether to leave a watch on it: exists, getData,
    /// getChildren and getChildren2 all share this shape.
    pub struct PathWatchRequest {
        /// The node's server path.
        pub path: String,
        /// Whether to leave a watch.
        pub watch: bool,
    }
}

/// `ExistsRequest`.
pub type ExistsRequest = PathWatchRequest;
/// `GetDataRequest`.
pub type GetDataRequest = PathWatchRequest;
/// `GetChildrenRequest`.
pub type GetChildrenRequest = PathWatchRequest;
/// `GetChildren2Request`.
pub type GetChildren2Request = PathWatchRequest;

jute_record! {
    /// A reply made of one `Stat`: exists, setData, setACL.
    pub struct StatResponse {
        /// The node's stat.
        pub stat: Stat,
    }
}

/// `ExistsResponse`.
pub type ExistsResponse = StatResponse;
/// `SetDataResponse`.
pub type SetDataResponse = StatResponse;
/// `SetACLResponse`.
pub type SetAclResponse = StatResponse;

jute_record! {
    /// The reply to getData (and to reconfig and getConfig).
    pub struct GetDataResponse {
        /// The node's data, a slice of the received frame (`None`: null).
        pub data: Option<Bytes>,
        /// The node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// Replace a node's data.
    pub struct SetDataRequest {
        /// The node's server path.
        pub path: String,
        /// New data (`None`: null).
        pub data: Option<Bytes>,
        /// The expected data version, -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// A request made of one path: getACL, sync, getEphemerals, getAllChildrenNumber.
    pub struct PathRequest {
        /// The node's server path (for getEphemerals: a path prefix).
        pub path: String,
    }
}

/// `GetACLRequest`.
pub type GetAclRequest = PathRequest;
/// `SyncRequest`.
pub type SyncRequest = PathRequest;
/// `GetEphemeralsRequest`.
pub type GetEphemeralsRequest = PathRequest;
/// `GetAllChildrenNumberRequest`.
pub type GetAllChildrenNumberRequest = PathRequest;

jute_record! {
    /// The reply to getACL.
    pub struct GetAclResponse {
        /// The node's ACL.
        pub acl: AclList,
        /// The node's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// Replace a node's ACL.
    pub struct SetAclRequest {
        /// The node's server path.
        pub path: String,
        /// The new ACL.
        pub acl: AclList,
        /// The expected ACL version (`aversion`), -1 for any.
        pub version: i32,
    }
}

jute_record! {
    /// The reply to getChildren.
    pub struct GetChildrenResponse {
        /// Children's names (not paths).
        pub children: Vec<String>,
    }
}

jute_record! {
    /// The reply to getChildren2.
    pub struct GetChildren2Response {
        /// Children's names (not paths).
        pub children: Vec<String>,
        /// The parent's stat.
        pub stat: Stat,
    }
}

jute_record! {
    /// A reply made of one path: sync.
    pub struct PathResponse {
        /// A server path.
        pub path: String,
    }
}

/// `SyncResponse`.
pub type SyncResponse = PathResponse;

jute_record! {
    /// Check a node's version (inside multi only).
    pub struct CheckVersionRequest {
        /// The node's server path.
        pub path: String,
        /// The expected data version.
        pub version: i32,
    }
}

jute_record! {
    /// The reply to getEphemerals.
    pub struct GetEphemeralsResponse {
        /// Server paths of the session's ephemeral nodes under the prefix.
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    /// The reply to getAllChildrenNumber.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants.
        pub total_number: i32,
    }
}
