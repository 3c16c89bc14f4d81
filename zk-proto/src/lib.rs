//! ZooKeeper's wire protocol as pure functions over bytes.
//!
//! This crate knows the jute records ZooKeeper 3.4 to 3.9 exchange with clients, the codes and
//! enums inside them, and how messages are framed. It has no idea that sockets or clocks exist:
//! everything above it can be tested with byte buffers.
//!
//! * Encoding writes straight into any [`bytes::BufMut`]; every record knows its exact encoded
//!   length up front ([`Encode::encoded_len`]), so frames need no intermediate buffer.
//! * Decoding reads from a [`Reader`] over a received frame; data payloads come back as
//!   [`bytes::Bytes`] slices of that frame, with no copy. Whatever the bytes, a decoder returns a
//!   value or a typed [`DecodeError`]: it never panics and never allocates more than the frame
//!   holds.
//! * [`FrameDecoder`] cuts frames off a receive buffer, telling "need more bytes" (`Ok(None)`)
//!   from malformed or oversized frames ([`FrameError`]).
//!
//! ```
//! use bytes::BytesMut;
//! use zk_proto::{FrameDecoder, GetDataRequest, OpCode, RawReply, Request, Response, Xid};
//!
//! // Encode a getData request frame.
//! let mut out = BytesMut::new();
//! let request = Request::GetData(GetDataRequest { path: "/app/config".into(), watch: true });
//! zk_proto::write_request(&mut out, Xid(1), &request);
//!
//! // Decode a reply frame as the answer to a getData.
//! let mut incoming = BytesMut::from(&[0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9,
//!                                     0xff, 0xff, 0xff, 0x9b][..]);
//! let frame = FrameDecoder::default().decode(&mut incoming).unwrap().unwrap();
//! let reply = RawReply::parse(frame).unwrap();
//! assert_eq!(reply.header.xid, Xid(1));
//! assert_eq!(reply.response(OpCode::GetData).unwrap(), Err(zk_proto::ErrorCode::NoNode));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Foundations: the encoding, its errors, and the integer newtypes.
pub mod error;
pub mod ids;
pub mod jute;

// Codes and enums carried inside records.
pub mod create_mode;
pub mod error_code;
pub mod event;
pub mod opcode;

// Records, grouped by what they are for.
pub mod acl;
pub mod auth;
pub mod connect;
pub mod header;
pub mod multi;
pub mod node;
pub mod reconfig;
pub mod stat;
pub mod watch;

// Whole messages: requests, replies and frames.
pub mod frame;
pub mod request;
pub mod response;

pub mod fuzz;

#[cfg(test)]
mod arbitrary;
#[cfg(test)]
mod round_trip;

pub use acl::{Acl, AclList, Id, Perms};
pub use auth::{AuthPacket, ClientInfo, GetSaslRequest, SetSaslResponse, WhoAmIResponse};
pub use connect::{ConnectRequest, ConnectResponse, EMPTY_PASSWORD};
pub use create_mode::CreateMode;
pub use error::{DecodeError, FrameError};
pub use error_code::ErrorCode;
pub use event::{EventType, KeeperState, WatcherEvent};
pub use frame::{
    write_connect_request, write_frame, write_notification, write_reply, write_request,
    FrameDecoder, DEFAULT_MAX_FRAME_LEN,
};
pub use header::{ErrorResponse, MultiHeader, ReplyHeader, RequestHeader};
pub use ids::{SessionId, Xid, Zxid};
pub use jute::{Decode, Encode, Reader};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use node::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ExistsRequest, GetAclRequest, GetAclResponse, GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenRequest, GetChildrenResponse,
    GetDataRequest, GetDataResponse, GetEphemeralsRequest, GetEphemeralsResponse, PathRequest,
    PathResponse, PathWatchRequest, SetAclRequest, SetDataRequest, StatResponse, SyncRequest,
};
pub use opcode::OpCode;
pub use reconfig::ReconfigRequest;
pub use request::Request;
pub use response::{RawReply, Response};
pub use stat::Stat;
pub use watch::{
    AddWatchMode, AddWatchRequest, SetWatches, SetWatches2, WatcherType, WatchesRequest,
};
