//! The headers in front of requests, replies and multi ops, and the bare error record.

use crate::error_code::ErrorCode;
use crate::ids::{Xid, Zxid};
use crate::jute::jute_record;
use crate::opcode::OpCode;

jute_record! {
    /// The header of every request but the handshake.
    pub struct RequestHeader {
        /// Matches the reply to the request.
        pub xid: Xid,
        /// The raw opcode (see [`OpCode`]).
        pub op: i32,
    }
}

impl RequestHeader {
    /// A header for `op` with `xid`.
    pub fn new(xid: Xid, op: OpCode) -> Self {
        RequestHeader {
            xid,
            op: op.as_i32(),
        }
    }
}

/// The encoded size of a [`RequestHeader`].
pub const REQUEST_HEADER_LEN: usize = 8;

jute_record! {
    /// The header of every reply and notification but the handshake's.
    pub struct ReplyHeader {
        /// The xid of the request answered, or a special xid (see [`Xid`]).
        pub xid: Xid,
        /// The server's last zxid when it answered (-1 on notifications up to 3.8).
        pub zxid: Zxid,
        /// The result; a body follows only when it is [`ErrorCode::Ok`].
        pub err: ErrorCode,
    }
}

/// The encoded size of a [`ReplyHeader`].
pub const REPLY_HEADER_LEN: usize = 16;

jute_record! {
    /// The header in front of each op of a multi request and each result of a multi reply.
    pub struct MultiHeader {
        /// The op's raw opcode; -1 for an error result and for the end marker.
        pub op: i32,
        /// True only on the end marker.
        pub done: bool,
        /// The op's result code in replies; -1 in requests.
        pub err: i32,
    }
}

impl MultiHeader {
    /// The end marker: `{type -1, done true, err -1}`.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };

    /// The header in front of a request op.
    pub fn op(op: OpCode) -> MultiHeader {
        MultiHeader {
            op: op.as_i32(),
            done: false,
            err: -1,
        }
    }
}

jute_record! {
    /// A bare result code: the body of a failed multi op and of an addWatch reply.
    pub struct ErrorResponse {
        /// The result.
        pub err: ErrorCode,
    }
}
