//! The failures every operation shares.

use zk_proto::{DecodeError, ErrorCode};

use crate::path::PathError;

/// Why a request failed for a reason that is not specific to its operation.
///
/// Every operation's own error enum has a `Common` variant carrying one of these, and every
/// completion the session emits carries one on failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommonError {
    /// The connection was lost while the request was in flight (or while it waited for a
    /// connection): it may or may not have been applied. The session reconnects by itself.
    #[error("connection lost: the request may or may not have been applied")]
    ConnectionLoss,
    /// The session expired; the session is over.
    #[error("session expired")]
    SessionExpired,
    /// The server refused a credential; the session is over.
    #[error("authentication failed")]
    AuthFailed,
    /// The session was closed by the client.
    #[error("session closed")]
    Closed,
    /// The reply exceeded the configured maximum frame length; it was skipped and the
    /// connection kept.
    #[error("reply of {len} bytes exceeds the maximum frame length of {max} bytes")]
    ReplyTooLarge {
        /// The reply's length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The request would exceed the configured maximum frame length.
    #[error("request of {len} bytes exceeds the maximum frame length of {max} bytes")]
    RequestTooLarge {
        /// The request's length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Too many requests are outstanding.
    #[error("too many requests outstanding (max {max})")]
    TooManyRequests {
        /// The configured maximum.
        max: usize,
    },
    /// A path argument is invalid; nothing was sent.
    #[error("invalid path: {0}")]
    InvalidPath(#[from] PathError),
    /// Another argument is invalid; nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The reply could not be decoded.
    #[error("malformed reply: {0}")]
    MalformedReply(#[from] DecodeError),
    /// The caller stopped waiting (a blocking call's timeout): the request may still be applied;
    /// its outcome is unknown.
    #[error("timed out waiting for the reply: the request may still be applied")]
    RequestTimeout,
    /// The server answered with a code this operation is not documented to produce (for example
    /// SYSTEMERROR, THROTTLEDOP, UNIMPLEMENTED).
    #[error("server error: {0}")]
    Server(ErrorCode),
}

impl CommonError {
    /// Whether the session is over, so retrying on this session is pointless.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            CommonError::SessionExpired | CommonError::AuthFailed | CommonError::Closed
        )
    }

    /// The Java client's code for the failure, where it has one.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            CommonError::ConnectionLoss => ErrorCode::ConnectionLoss,
            CommonError::SessionExpired => ErrorCode::SessionExpired,
            CommonError::AuthFailed => ErrorCode::AuthFailed,
            CommonError::InvalidPath(_) | CommonError::InvalidArgument(_) => {
                ErrorCode::BadArguments
            }
            CommonError::MalformedReply(_) => ErrorCode::MarshallingError,
            CommonError::RequestTimeout => ErrorCode::RequestTimeout,
            CommonError::Server(code) => *code,
            _ => return None,
        })
    }
}
