//! Dynamic reconfiguration of the ensemble (opcode 16); the reply is a `GetDataResponse`.

use crate::jute::jute_record;

jute_record! {
    /// Change the ensemble's membership, incrementally or as a whole new member list.
    pub struct ReconfigRequest {
        /// Comma-separated server specs to add (incremental mode; `None`: null).
        pub joining_servers: Option<String>,
        /// Comma-separated server ids to remove (incremental mode; `None`: null).
        pub leaving_servers: Option<String>,
        /// The complete new member list (non-incremental mode); `None` (null) makes the
        /// reconfiguration incremental, as the server tells null apart from empty.
        pub new_members: Option<String>,
        /// Expected current config version, -1 for any.
        pub cur_config_id: i64,
    }
}
