//! Result codes (`KeeperException.Code`).

use std::fmt;

macro_rules! error_codes {
    ($( $(#[$meta:meta])* $name:ident = $value:expr, $java:literal, $text:literal; )*) => {
        /// A result code from a reply header, a multi result or an `ErrorResponse`.
        ///
        /// Codes this crate does not know are kept as [`ErrorCode::Unknown`] with their raw value,
        /// so nothing the server says is lost.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$meta])* $name, )*
            /// A code this crate does not know.
            Unknown(i32),
        }

        impl ErrorCode {
            /// The code for a raw value.
            #[inline]
            pub fn from_i32(value: i32) -> ErrorCode {
                match value {
                    $( $value => ErrorCode::$name, )*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The raw value on the wire.
            #[inline]
            pub fn as_i32(self) -> i32 {
                match self {
                    $( ErrorCode::$name => $value, )*
                    ErrorCode::Unknown(other) => other,
                }
            }

            /// The Java client's name for the code (`KeeperException.Code`).
            pub fn java_name(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $java, )*
                    ErrorCode::Unknown(_) => "UNKNOWN",
                }
            }

            /// What the code means, in a few lower-case words (`no node`, `version mismatch`).
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $text, )*
                    ErrorCode::Unknown(_) => "unknown error code",
                }
            }
        }
    };
}

error_codes! {
    /// Success (the default).
    #[default]
    Ok = 0, "OK", "ok";
    /// A server-side system error.
    SystemError = -1, "SYSTEMERROR", "server system error";
    /// A runtime inconsistency; inside a failed multi, the result of every op after the failing one.
    RuntimeInconsistency = -2, "RUNTIMEINCONSISTENCY", "runtime inconsistency";
    /// A data inconsistency.
    DataInconsistency = -3, "DATAINCONSISTENCY", "data inconsistency";
    /// The connection to the server was lost (client-side).
    ConnectionLoss = -4, "CONNECTIONLOSS", "connection lost";
    /// Error while marshalling or unmarshalling data.
    MarshallingError = -5, "MARSHALLINGERROR", "marshalling error";
    /// The operation is not implemented by this server.
    Unimplemented = -6, "UNIMPLEMENTED", "not implemented by the server";
    /// The operation timed out.
    OperationTimeout = -7, "OPERATIONTIMEOUT", "operation timed out";
    /// Invalid arguments.
    BadArguments = -8, "BADARGUMENTS", "bad arguments";
    /// The session is unknown to the server.
    UnknownSession = -12, "UNKNOWNSESSION", "unknown session";
    /// No quorum of the new configuration is connected and up to date with the leader.
    NewConfigNoQuorum = -13, "NEWCONFIGNOQUORUM", "no quorum of the new configuration";
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14, "RECONFIGINPROGRESS", "another reconfiguration is in progress";
    /// API error.
    ApiError = -100, "APIERROR", "API error";
    /// The node does not exist.
    NoNode = -101, "NONODE", "no node";
    /// Not authorised.
    NoAuth = -102, "NOAUTH", "not authorized";
    /// The version does not match.
    BadVersion = -103, "BADVERSION", "version mismatch";
    /// Ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108, "NOCHILDRENFOREPHEMERALS", "ephemeral nodes cannot have children";
    /// The node already exists.
    NodeExists = -110, "NODEEXISTS", "node exists";
    /// The node has children.
    NotEmpty = -111, "NOTEMPTY", "node has children";
    /// The session has expired.
    SessionExpired = -112, "SESSIONEXPIRED", "session expired";
    /// Invalid callback.
    InvalidCallback = -113, "INVALIDCALLBACK", "invalid callback";
    /// Invalid ACL.
    InvalidAcl = -114, "INVALIDACL", "invalid ACL";
    /// Authentication failed.
    AuthFailed = -115, "AUTHFAILED", "authentication failed";
    /// The session moved to another server.
    SessionMoved = -118, "SESSIONMOVED", "session moved to another server";
    /// A write was sent to a read-only server.
    NotReadOnly = -119, "NOTREADONLY", "server is read-only";
    /// An ephemeral node was requested on a local session.
    EphemeralOnLocalSession = -120, "EPHEMERALONLOCALSESSION", "ephemeral node on a local session";
    /// No such watcher.
    NoWatcher = -121, "NOWATCHER", "no such watch";
    /// The request timed out (client-side).
    RequestTimeout = -122, "REQUESTTIMEOUT", "request timed out";
    /// Reconfiguration is disabled.
    ReconfigDisabled = -123, "RECONFIGDISABLED", "reconfiguration is disabled";
    /// The session was closed because it requires SASL authentication.
    SessionClosedRequireSaslAuth = -124, "SESSIONCLOSEDREQUIRESASLAUTH", "session requires SASL authentication";
    /// A quota was exceeded.
    QuotaExceeded = -125, "QUOTAEXCEEDED", "quota exceeded";
    /// The operation was throttled.
    Throttled = -127, "THROTTLEDOP", "operation throttled";
}

impl ErrorCode {
    /// Whether this is [`ErrorCode::Ok`].
    #[inline]
    pub fn is_ok(self) -> bool {
        self == ErrorCode::Ok
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.java_name(), self.as_i32())
    }
}

impl crate::jute::Encode for ErrorCode {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode<B: bytes::BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.as_i32());
    }
}

impl crate::jute::Decode for ErrorCode {
    const MIN_ENCODED_LEN: usize = 4;
    #[inline]
    fn decode(reader: &mut crate::jute::Reader) -> Result<Self, crate::error::DecodeError> {
        reader.read_i32("err").map(ErrorCode::from_i32)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_value_round_trips_and_unknown_codes_are_kept() {
        for v in -200..10 {
            assert_eq!(ErrorCode::from_i32(v).as_i32(), v);
        }
        assert_eq!(ErrorCode::from_i32(-999), ErrorCode::Unknown(-999));
        assert_eq!(ErrorCode::from_i32(-101), ErrorCode::NoNode);
        assert_eq!(ErrorCode::NoNode.to_string(), "NONODE (-101)");
    }
}
