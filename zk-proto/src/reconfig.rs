//! Dynamic reconfiguration of the ensemble (opcode 16); the reply is a `GetDataResponse`.

use crate::jute::jute_record;

jute_record! {
    /// Change the ensemble's membership, incrementally or as a whole new member list.
    pub struct ReconfigRequest {
        /// Comma-separated server specs to add (incremental mode).
        pub joining_servers: String,
        /// Comma-separated server ids to remove (incremental mode).
        pub leaving_servers: String,
        /// The complete new member list (non-incremental mode).
        pub new_members: String,
        /// Expected current config version, -1 for any.
        pub cur_config_id: i64,
    }
}
