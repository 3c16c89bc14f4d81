//! Authentication records: AuthPacket, SASL tokens and whoAmI.

use bytes::Bytes;

use crate::jute::jute_record;

jute_record! {
    /// Add an authentication credential to the connection (xid -4, opcode 100).
    pub struct AuthPacket {
        /// Always 0.
        pub auth_type: i32,
        /// The scheme (`digest`, ...).
        pub scheme: String,
        /// The credential (`user:password` for digest).
        pub auth: Bytes,
    }
}

jute_record! {
    /// A SASL token from the client (opcode 102).
    pub struct GetSaslRequest {
        /// The token.
        pub token: Bytes,
    }
}

jute_record! {
    /// A SASL token from the server.
    pub struct SetSaslResponse {
        /// The token (`None`: null, which a server sends when it has nothing more to say).
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// One identity the server attributes to the connection.
    pub struct ClientInfo {
        /// The authentication scheme.
        pub auth_scheme: String,
        /// The user within the scheme.
        pub user: String,
    }
}

jute_record! {
    /// The reply to whoAmI (opcode 107, 3.7+).
    pub struct WhoAmIResponse {
        /// Every identity of the connection.
        pub client_info: Vec<ClientInfo>,
    }
}
