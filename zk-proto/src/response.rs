//! Reply bodies, decoded according to the opcode of the request they answer.

use bytes::{Buf, BufMut, Bytes};

use crate::auth::{SetSaslResponse, WhoAmIResponse};
use crate::error::DecodeError;
use crate::error_code::ErrorCode;
use crate::header::{ErrorResponse, ReplyHeader, REPLY_HEADER_LEN};
use crate::ids::{Xid, Zxid};
use crate::jute::{Decode, Encode, Reader};
use crate::multi::MultiResponse;
use crate::node::{
    Create2Response, CreateResponse, GetAclResponse, GetAllChildrenNumberResponse,
    GetChildren2Response, GetChildrenResponse, GetDataResponse, GetEphemeralsResponse,
    PathResponse, StatResponse,
};
use crate::opcode::OpCode;

/// The body of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// No body: delete, auth, setWatches(2), checkWatches, removeWatches, ping, closeSession.
    Empty,
    /// create (1).
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(StatResponse),
    /// getData, reconfig.
    GetData(GetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// getChildren.
    GetChildren(GetChildrenResponse),
    /// getChildren2.
    GetChildren2(GetChildren2Response),
    /// sync.
    Sync(PathResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    /// getEphemerals.
    GetEphemerals(GetEphemeralsResponse),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// whoAmI.
    WhoAmI(WhoAmIResponse),
    /// sasl.
    Sasl(SetSaslResponse),
    /// addWatch: the server sends a bare result code as the body.
    AddWatch(ErrorResponse),
}

impl Response {
    /// Decodes the body of a successful reply to a request with opcode `op`.
    ///
    /// Bytes after the record are ignored, as Java does, so newer servers may append fields.
    pub fn decode(op: OpCode, reader: &mut Reader) -> Result<Response, DecodeError> {
        Ok(match op {
            OpCode::Create => Response::Create(Decode::decode(reader)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Decode::decode(reader)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(Decode::decode(reader)?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData(Decode::decode(reader)?),
            OpCode::GetAcl => Response::GetAcl(Decode::decode(reader)?),
            OpCode::GetChildren => Response::GetChildren(Decode::decode(reader)?),
            OpCode::GetChildren2 => Response::GetChildren2(Decode::decode(reader)?),
            OpCode::Sync => Response::Sync(Decode::decode(reader)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(Decode::decode(reader)?),
            OpCode::GetEphemerals => Response::GetEphemerals(Decode::decode(reader)?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(Decode::decode(reader)?),
            OpCode::WhoAmI => Response::WhoAmI(Decode::decode(reader)?),
            OpCode::Sasl => Response::Sasl(Decode::decode(reader)?),
            OpCode::AddWatch => {
                if reader.remaining() == 0 {
                    Response::AddWatch(ErrorResponse { err: ErrorCode::Ok })
                } else {
                    Response::AddWatch(Decode::decode(reader)?)
                }
            }
            OpCode::Delete
            | OpCode::Check
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::Ping
            | OpCode::CloseSession
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => Response::Empty,
        })
    }
}

impl Encode for Response {
    fn encoded_len(&self) -> usize {
        match self {
            Response::Empty => 0,
            Response::Create(r) => r.encoded_len(),
            Response::Create2(r) => r.encoded_len(),
            Response::Stat(r) => r.encoded_len(),
            Response::GetData(r) => r.encoded_len(),
            Response::GetAcl(r) => r.encoded_len(),
            Response::GetChildren(r) => r.encoded_len(),
            Response::GetChildren2(r) => r.encoded_len(),
            Response::Sync(r) => r.encoded_len(),
            Response::Multi(r) => r.encoded_len(),
            Response::GetEphemerals(r) => r.encoded_len(),
            Response::GetAllChildrenNumber(r) => r.encoded_len(),
            Response::WhoAmI(r) => r.encoded_len(),
            Response::Sasl(r) => r.encoded_len(),
            Response::AddWatch(r) => r.encoded_len(),
        }
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(buf),
            Response::Create2(r) => r.encode(buf),
            Response::Stat(r) => r.encode(buf),
            Response::GetData(r) => r.encode(buf),
            Response::GetAcl(r) => r.encode(buf),
            Response::GetChildren(r) => r.encode(buf),
            Response::GetChildren2(r) => r.encode(buf),
            Response::Sync(r) => r.encode(buf),
            Response::Multi(r) => r.encode(buf),
            Response::GetEphemerals(r) => r.encode(buf),
            Response::GetAllChildrenNumber(r) => r.encode(buf),
            Response::WhoAmI(r) => r.encode(buf),
            Response::Sasl(r) => r.encode(buf),
            Response::AddWatch(r) => r.encode(buf),
        }
    }
}

/// A received reply split into its header and the undecoded rest of the frame.
///
/// Decoding stops here because the body's type depends on the request it answers, which only
/// the session knows; [`Response::decode`] finishes the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    /// The reply header.
    pub header: ReplyHeader,
    /// The body, a slice of the frame; empty when `header.err` is not [`ErrorCode::Ok`].
    pub body: Bytes,
}

impl RawReply {
    /// Splits a frame (without its length prefix) into header and body.
    #[inline]
    pub fn parse(mut frame: Bytes) -> Result<RawReply, DecodeError> {
        // The usual case, a whole header: one length check, no cursor.
        if let Some(&header) = frame.first_chunk::<REPLY_HEADER_LEN>() {
            let [x0, x1, x2, x3, z0, z1, z2, z3, z4, z5, z6, z7, e0, e1, e2, e3] = header;
            let header = ReplyHeader {
                xid: Xid(i32::from_be_bytes([x0, x1, x2, x3])),
                zxid: Zxid(i64::from_be_bytes([z0, z1, z2, z3, z4, z5, z6, z7])),
                err: ErrorCode::from_i32(i32::from_be_bytes([e0, e1, e2, e3])),
            };
            frame.advance(REPLY_HEADER_LEN);
            return Ok(RawReply {
                header,
                body: frame,
            });
        }
        // A truncated header: the field-by-field decoder names the missing field.
        let mut reader = Reader::new(frame);
        let header = ReplyHeader::decode(&mut reader)?;
        Ok(RawReply {
            header,
            body: reader.into_rest(),
        })
    }

    /// Decodes the body as the reply to a request with opcode `op`, or returns the header's
    /// error code when the server reported one.
    #[inline]
    pub fn response(&self, op: OpCode) -> Result<Result<Response, ErrorCode>, DecodeError> {
        if !self.header.err.is_ok() {
            return Ok(Err(self.header.err));
        }
        Response::decode(op, &mut Reader::new(self.body.clone())).map(Ok)
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for Response {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        let all: Vec<BoxedStrategy<Response>> = vec![
            Just(Response::Empty).boxed(),
            CreateResponse::arb().prop_map(Response::Create).boxed(),
            Create2Response::arb().prop_map(Response::Create2).boxed(),
            StatResponse::arb().prop_map(Response::Stat).boxed(),
            GetDataResponse::arb().prop_map(Response::GetData).boxed(),
            GetAclResponse::arb().prop_map(Response::GetAcl).boxed(),
            GetChildrenResponse::arb()
                .prop_map(Response::GetChildren)
                .boxed(),
            GetChildren2Response::arb()
                .prop_map(Response::GetChildren2)
                .boxed(),
            PathResponse::arb().prop_map(Response::Sync).boxed(),
            MultiResponse::arb().prop_map(Response::Multi).boxed(),
            GetEphemeralsResponse::arb()
                .prop_map(Response::GetEphemerals)
                .boxed(),
            GetAllChildrenNumberResponse::arb()
                .prop_map(Response::GetAllChildrenNumber)
                .boxed(),
            WhoAmIResponse::arb().prop_map(Response::WhoAmI).boxed(),
            SetSaslResponse::arb().prop_map(Response::Sasl).boxed(),
            ErrorResponse::arb().prop_map(Response::AddWatch).boxed(),
        ];
        proptest::strategy::Union::new(all).boxed()
    }
}

impl Response {
    /// The opcode whose reply decodes as this variant (for tests and fake servers).
    pub fn opcode(&self) -> OpCode {
        match self {
            Response::Empty => OpCode::Delete,
            Response::Create(_) => OpCode::Create,
            Response::Create2(_) => OpCode::Create2,
            Response::Stat(_) => OpCode::Exists,
            Response::GetData(_) => OpCode::GetData,
            Response::GetAcl(_) => OpCode::GetAcl,
            Response::GetChildren(_) => OpCode::GetChildren,
            Response::GetChildren2(_) => OpCode::GetChildren2,
            Response::Sync(_) => OpCode::Sync,
            Response::Multi(_) => OpCode::Multi,
            Response::GetEphemerals(_) => OpCode::GetEphemerals,
            Response::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Response::WhoAmI(_) => OpCode::WhoAmI,
            Response::Sasl(_) => OpCode::Sasl,
            Response::AddWatch(_) => OpCode::AddWatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes() -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&7i32.to_be_bytes());
        bytes.extend_from_slice(&0x0102_0304_0506_0708i64.to_be_bytes());
        bytes.extend_from_slice(&(-101i32).to_be_bytes());
        bytes
    }

    #[test]
    fn parse_reads_the_header_as_the_record_decoder_does() {
        let mut frame = header_bytes();
        frame.extend_from_slice(b"body");
        let frame = Bytes::from(frame);
        let raw = RawReply::parse(frame.clone()).unwrap();
        let mut reader = Reader::new(frame);
        assert_eq!(raw.header, ReplyHeader::decode(&mut reader).unwrap());
        assert_eq!(raw.header.err, ErrorCode::NoNode);
        assert_eq!(raw.body, reader.into_rest());
        assert_eq!(raw.body, Bytes::from_static(b"body"));
    }

    #[test]
    fn a_truncated_header_gives_the_record_decoders_error() {
        let whole = Bytes::from(header_bytes());
        for len in 0..REPLY_HEADER_LEN {
            let expected = ReplyHeader::decode(&mut Reader::new(whole.slice(..len))).unwrap_err();
            assert_eq!(
                RawReply::parse(whole.slice(..len)),
                Err(expected),
                "{len} bytes"
            );
        }
    }
}
