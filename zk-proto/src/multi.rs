//! multi (14) and multiRead (22): a sequence of ops, each behind a [`MultiHeader`], ended by
//! [`MultiHeader::END`]; the reply mirrors it with one result per op.

use bytes::BufMut;

use crate::error::DecodeError;
use crate::error_code::ErrorCode;
use crate::header::{ErrorResponse, MultiHeader};
use crate::jute::{Decode, Encode, Reader};
use crate::node::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, GetChildrenResponse, GetDataResponse, PathWatchRequest, SetDataRequest,
    StatResponse,
};
use crate::opcode::OpCode;
use crate::stat::Stat;

/// One op of a multi (writes) or multiRead (reads) request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiOp {
    /// create (1): the result carries the path only.
    Create(CreateRequest),
    /// create2 (15): the result carries path and stat.
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// check (13).
    Check(CheckVersionRequest),
    /// getData (4), multiRead only.
    GetData(PathWatchRequest),
    /// getChildren (8), multiRead only.
    GetChildren(PathWatchRequest),
}

impl MultiOp {
    /// The op's opcode.
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                r.encoded_len()
            }
            MultiOp::CreateTtl(r) => r.encoded_len(),
            MultiOp::Delete(r) => r.encoded_len(),
            MultiOp::SetData(r) => r.encoded_len(),
            MultiOp::Check(r) => r.encoded_len(),
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => r.encoded_len(),
        }
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(buf),
            MultiOp::CreateTtl(r) => r.encode(buf),
            MultiOp::Delete(r) => r.encode(buf),
            MultiOp::SetData(r) => r.encode(buf),
            MultiOp::Check(r) => r.encode(buf),
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => r.encode(buf),
        }
    }

    fn decode_body(op: i32, reader: &mut Reader) -> Result<MultiOp, DecodeError> {
        Ok(match OpCode::from_i32(op) {
            Some(OpCode::Create) => MultiOp::Create(Decode::decode(reader)?),
            Some(OpCode::Create2) => MultiOp::Create2(Decode::decode(reader)?),
            Some(OpCode::CreateContainer) => MultiOp::CreateContainer(Decode::decode(reader)?),
            Some(OpCode::CreateTtl) => MultiOp::CreateTtl(Decode::decode(reader)?),
            Some(OpCode::Delete) => MultiOp::Delete(Decode::decode(reader)?),
            Some(OpCode::SetData) => MultiOp::SetData(Decode::decode(reader)?),
            Some(OpCode::Check) => MultiOp::Check(Decode::decode(reader)?),
            Some(OpCode::GetData) => MultiOp::GetData(Decode::decode(reader)?),
            Some(OpCode::GetChildren) => MultiOp::GetChildren(Decode::decode(reader)?),
            _ => {
                return Err(DecodeError::UnknownValue {
                    what: "multi op type",
                    value: op,
                })
            }
        })
    }
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The ops, in order.
    pub ops: Vec<MultiOp>,
}

const MULTI_HEADER_LEN: usize = 9;

impl Encode for MultiRequest {
    fn encoded_len(&self) -> usize {
        self.ops
            .iter()
            .map(|op| MULTI_HEADER_LEN + op.body_len())
            .sum::<usize>()
            + MULTI_HEADER_LEN
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for op in &self.ops {
            MultiHeader::op(op.opcode()).encode(buf);
            op.encode_body(buf);
        }
        MultiHeader::END.encode(buf);
    }
}

impl Decode for MultiRequest {
    const MIN_ENCODED_LEN: usize = MULTI_HEADER_LEN;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let header = MultiHeader::decode(reader)?;
            if header.done {
                return Ok(MultiRequest { ops });
            }
            ops.push(MultiOp::decode_body(header.op, reader)?);
        }
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiResult {
    /// A node was created; `stat` is present for create2, container and TTL ops.
    Create {
        /// The created node's server path.
        path: String,
        /// The new node's stat, when the op asked for it.
        stat: Option<Stat>,
    },
    /// A node was deleted.
    Delete,
    /// Data was written; the node's new stat.
    SetData(Stat),
    /// A version check passed.
    Check,
    /// A read of data (multiRead).
    GetData(GetDataResponse),
    /// A read of children (multiRead).
    GetChildren(GetChildrenResponse),
    /// The op failed (or, in a failed multi, was rolled back: [`ErrorCode::Ok`] before the
    /// failing op, [`ErrorCode::RuntimeInconsistency`] after it).
    Error(ErrorCode),
}

impl MultiResult {
    fn header_op(&self) -> OpCode {
        match self {
            MultiResult::Create { stat: None, .. } => OpCode::Create,
            MultiResult::Create { stat: Some(_), .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData(_) => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetData(_) => OpCode::GetData,
            MultiResult::GetChildren(_) => OpCode::GetChildren,
            MultiResult::Error(_) => OpCode::Error,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiResult::Create { path, stat } => {
                path.encoded_len() + stat.as_ref().map_or(0, Encode::encoded_len)
            }
            MultiResult::Delete | MultiResult::Check => 0,
            MultiResult::SetData(stat) => stat.encoded_len(),
            MultiResult::GetData(r) => r.encoded_len(),
            MultiResult::GetChildren(r) => r.encoded_len(),
            MultiResult::Error(e) => e.encoded_len(),
        }
    }
}

/// The body of a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in order.
    pub results: Vec<MultiResult>,
}

impl Encode for MultiResponse {
    fn encoded_len(&self) -> usize {
        self.results
            .iter()
            .map(|r| MULTI_HEADER_LEN + r.body_len())
            .sum::<usize>()
            + MULTI_HEADER_LEN
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for result in &self.results {
            let err = match result {
                MultiResult::Error(e) => e.as_i32(),
                _ => 0,
            };
            MultiHeader {
                op: result.header_op().as_i32(),
                done: false,
                err,
            }
            .encode(buf);
            match result {
                MultiResult::Create { path, stat } => {
                    path.encode(buf);
                    if let Some(stat) = stat {
                        stat.encode(buf);
                    }
                }
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(stat) => stat.encode(buf),
                MultiResult::GetData(r) => r.encode(buf),
                MultiResult::GetChildren(r) => r.encode(buf),
                MultiResult::Error(e) => e.encode(buf),
            }
        }
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
        .encode(buf);
    }
}

impl Decode for MultiResponse {
    const MIN_ENCODED_LEN: usize = MULTI_HEADER_LEN;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let header = MultiHeader::decode(reader)?;
            if header.done {
                return Ok(MultiResponse { results });
            }
            let result = match OpCode::from_i32(header.op) {
                Some(OpCode::Create) => MultiResult::Create {
                    path: CreateResponse::decode(reader)?.path,
                    stat: None,
                },
                Some(OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl) => {
                    let r = Create2Response::decode(reader)?;
                    MultiResult::Create {
                        path: r.path,
                        stat: Some(r.stat),
                    }
                }
                Some(OpCode::Delete) => MultiResult::Delete,
                Some(OpCode::SetData) => MultiResult::SetData(StatResponse::decode(reader)?.stat),
                Some(OpCode::Check) => MultiResult::Check,
                Some(OpCode::GetData) => MultiResult::GetData(Decode::decode(reader)?),
                Some(OpCode::GetChildren) => MultiResult::GetChildren(Decode::decode(reader)?),
                Some(OpCode::Error) => MultiResult::Error(ErrorResponse::decode(reader)?.err),
                _ => {
                    return Err(DecodeError::UnknownValue {
                        what: "multi result type",
                        value: header.op,
                    })
                }
            };
            results.push(result);
        }
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for MultiOp {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        prop_oneof![
            CreateRequest::arb().prop_map(MultiOp::Create),
            CreateRequest::arb().prop_map(MultiOp::Create2),
            CreateRequest::arb().prop_map(MultiOp::CreateContainer),
            CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
            DeleteRequest::arb().prop_map(MultiOp::Delete),
            SetDataRequest::arb().prop_map(MultiOp::SetData),
            CheckVersionRequest::arb().prop_map(MultiOp::Check),
            PathWatchRequest::arb().prop_map(MultiOp::GetData),
            PathWatchRequest::arb().prop_map(MultiOp::GetChildren),
        ]
        .boxed()
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for MultiRequest {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        Vec::<MultiOp>::arb()
            .prop_map(|ops| MultiRequest { ops })
            .boxed()
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for MultiResult {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        prop_oneof![
            (String::arb(), proptest::option::of(Stat::arb()))
                .prop_map(|(path, stat)| MultiResult::Create { path, stat }),
            Just(MultiResult::Delete),
            Stat::arb().prop_map(MultiResult::SetData),
            Just(MultiResult::Check),
            GetDataResponse::arb().prop_map(MultiResult::GetData),
            GetChildrenResponse::arb().prop_map(MultiResult::GetChildren),
            ErrorCode::arb().prop_map(MultiResult::Error),
        ]
        .boxed()
    }
}

#[cfg(test)]
impl crate::arbitrary::Arb for MultiResponse {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        Vec::<MultiResult>::arb()
            .prop_map(|results| MultiResponse { results })
            .boxed()
    }
}

/// Checks for the structure of a multi reply given what the server really sends.
#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_failed_multi_reply_decodes_every_per_op_error() {
        let reply = MultiResponse {
            results: vec![
                MultiResult::Error(ErrorCode::Ok),
                MultiResult::Error(ErrorCode::NoNode),
                MultiResult::Error(ErrorCode::RuntimeInconsistency),
            ],
        };
        let mut out = Vec::new();
        reply.encode(&mut out);
        assert_eq!(out.len(), reply.encoded_len());
        let decoded = MultiResponse::decode(&mut Reader::new(Bytes::from(out))).unwrap();
        assert_eq!(decoded, reply);
    }

    #[test]
    fn an_unterminated_multi_is_truncated_not_endless() {
        let mut out = Vec::new();
        MultiHeader::op(OpCode::Delete).encode(&mut out);
        DeleteRequest::default().encode(&mut out);
        let err = MultiRequest::decode(&mut Reader::new(Bytes::from(out))).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. }));
    }
}
