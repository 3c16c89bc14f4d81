//! The handshake: `ConnectRequest` and `ConnectResponse`, which travel without headers.

use bytes::{BufMut, Bytes};

use crate::error::DecodeError;
use crate::ids::{SessionId, Zxid};
use crate::jute::{Decode, Encode, Reader};

/// The password length of a new session's request (all zeros).
pub const EMPTY_PASSWORD: [u8; 16] = [0; 16];

/// The first message of every connection: create a session or resume one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The last zxid the client saw; a server behind it refuses the connection.
    pub last_zxid_seen: Zxid,
    /// Requested session timeout in milliseconds.
    pub timeout_ms: i32,
    /// The session to resume, or [`SessionId::NONE`] for a new one.
    pub session_id: SessionId,
    /// The session's password; 16 zero bytes for a new session.
    pub password: Bytes,
    /// Whether a read-only server may accept the session.
    pub read_only: bool,
}

impl ConnectRequest {
    /// The request for a new session with a `timeout_ms` session timeout: protocol 0, no zxid
    /// seen, no session id, the all-zero password, no read-only mode.
    pub fn new_session(timeout_ms: i32) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            timeout_ms,
            session_id: SessionId::NONE,
            password: Bytes::from_static(&EMPTY_PASSWORD),
            read_only: false,
        }
    }
}

impl Encode for ConnectRequest {
    fn encoded_len(&self) -> usize {
        4 + 8 + 4 + 8 + self.password.encoded_len() + 1
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.last_zxid_seen.encode(buf);
        self.timeout_ms.encode(buf);
        self.session_id.encode(buf);
        self.password.encode(buf);
        self.read_only.encode(buf);
    }
}

impl Decode for ConnectRequest {
    const MIN_ENCODED_LEN: usize = 28;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: reader.read_i32("protocolVersion")?,
            last_zxid_seen: Zxid(reader.read_i64("lastZxidSeen")?),
            timeout_ms: reader.read_i32("timeOut")?,
            session_id: SessionId(reader.read_i64("sessionId")?),
            password: reader.read_buffer("passwd")?,
            // Clients older than 3.4 omit the flag.
            read_only: if reader.remaining() > 0 {
                reader.read_bool("readOnly")?
            } else {
                false
            },
        })
    }
}

/// The server's answer to a [`ConnectRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// The server's protocol version (0).
    pub protocol_version: i32,
    /// The negotiated session timeout in milliseconds; `<= 0` means the session expired.
    pub timeout_ms: i32,
    /// The session's id.
    pub session_id: SessionId,
    /// The session's password.
    pub password: Bytes,
    /// Whether the server is read-only (absent from servers up to 3.3, read as `false`).
    pub read_only: bool,
}

impl ConnectResponse {
    /// Whether the server refused to resume the session because it expired.
    pub fn is_expired(&self) -> bool {
        self.timeout_ms <= 0
    }
}

impl Encode for ConnectResponse {
    fn encoded_len(&self) -> usize {
        4 + 4 + 8 + self.password.encoded_len() + 1
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.timeout_ms.encode(buf);
        self.session_id.encode(buf);
        self.password.encode(buf);
        self.read_only.encode(buf);
    }
}

impl Decode for ConnectResponse {
    const MIN_ENCODED_LEN: usize = 20;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: reader.read_i32("protocolVersion")?,
            timeout_ms: reader.read_i32("timeOut")?,
            session_id: SessionId(reader.read_i64("sessionId")?),
            password: reader.read_buffer("passwd")?,
            read_only: if reader.remaining() > 0 {
                reader.read_bool("readOnly")?
            } else {
                false
            },
        })
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for ConnectRequest {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::strategy::Strategy;
        (
            i32::arb(),
            i64::arb(),
            i32::arb(),
            i64::arb(),
            Bytes::arb(),
            bool::arb(),
        )
            .prop_map(|(v, z, t, s, p, r)| ConnectRequest {
                protocol_version: v,
                last_zxid_seen: Zxid(z),
                timeout_ms: t,
                session_id: SessionId(s),
                password: p,
                read_only: r,
            })
            .boxed()
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for ConnectResponse {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::strategy::Strategy;
        (
            i32::arb(),
            i32::arb(),
            i64::arb(),
            Bytes::arb(),
            bool::arb(),
        )
            .prop_map(|(v, t, s, p, r)| ConnectResponse {
                protocol_version: v,
                timeout_ms: t,
                session_id: SessionId(s),
                password: p,
                read_only: r,
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_request_body_is_45_bytes() {
        let req = ConnectRequest::new_session(30_000);
        assert_eq!(
            req,
            ConnectRequest {
                timeout_ms: 30_000,
                password: Bytes::from_static(&EMPTY_PASSWORD),
                ..Default::default()
            }
        );
        assert_eq!(req.encoded_len(), 45);
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(out.len(), 45);
    }

    #[test]
    fn a_response_without_the_read_only_byte_is_accepted() {
        let resp = ConnectResponse {
            timeout_ms: 4000,
            session_id: SessionId(0x1234),
            password: Bytes::from_static(&[7; 16]),
            read_only: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        resp.encode(&mut out);
        assert_eq!(out.len(), 37);
        out.pop();
        let decoded = ConnectResponse::decode(&mut Reader::new(out.into())).unwrap();
        assert_eq!(decoded.session_id, SessionId(0x1234));
        assert!(!decoded.read_only);
    }
}
