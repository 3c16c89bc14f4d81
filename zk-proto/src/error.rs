//! Errors of the codec: malformed records and unacceptable frames.

/// Why a record could not be decoded.
///
/// Every decoder in this crate returns one of these instead of panicking, whatever bytes it is
/// given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record ended before a field was complete.
    #[error("truncated record: {what} needs {needed} bytes but {remaining} remain")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// A length or element count claims more than the frame can hold.
    #[error("{what} claims {claimed} elements/bytes but only {remaining} bytes remain")]
    LengthOutOfBounds {
        /// The field being read.
        what: &'static str,
        /// The length or count on the wire.
        claimed: i64,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// A string is neither UTF-8 nor CESU-8 (Java's encoding of characters outside the BMP).
    #[error("string is neither valid UTF-8 nor CESU-8")]
    InvalidString,
    /// An enumerated field holds a value this crate does not know and cannot carry.
    #[error("unknown {what} value {value}")]
    UnknownValue {
        /// The field being read.
        what: &'static str,
        /// The raw value on the wire.
        value: i32,
    },
}

/// Why a frame cannot be taken from the incoming byte stream.
///
/// Both variants mean the stream can no longer be trusted as framed by this length, but
/// [`FrameError::TooLarge`] leaves the decision to the caller: the frame's length is known, so a
/// session may skip its bytes and fail only the request it answers (see
/// [`crate::frame::FrameDecoder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is negative: the stream is corrupt.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    /// The length prefix exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// Length announced by the prefix (not counting the prefix itself).
        len: usize,
        /// The configured maximum.
        max: usize,
    },
}
