//! Entry points for fuzzers: each takes arbitrary bytes and checks the codec's promises.
//!
//! They are compiled in every build so they cannot rot; the cargo-fuzz targets under `fuzz/`
//! and the bounded property tests of the normal suite both call them. Each panics only when a
//! promise is broken.

use bytes::{Bytes, BytesMut};

use crate::connect::{ConnectRequest, ConnectResponse};
use crate::event::WatcherEvent;
use crate::frame::{write_reply, write_request, FrameDecoder};
use crate::header::ReplyHeader;
use crate::jute::{Decode, Encode, Reader};
use crate::opcode::OpCode;
use crate::request::Request;
use crate::response::{RawReply, Response};

/// Every opcode whose reply or request the fuzzers decode.
pub const FUZZ_OPCODES: [OpCode; 31] = [
    OpCode::Create,
    OpCode::Delete,
    OpCode::Exists,
    OpCode::GetData,
    OpCode::SetData,
    OpCode::GetAcl,
    OpCode::SetAcl,
    OpCode::GetChildren,
    OpCode::Sync,
    OpCode::Ping,
    OpCode::GetChildren2,
    OpCode::Check,
    OpCode::Multi,
    OpCode::Create2,
    OpCode::Reconfig,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::CreateContainer,
    OpCode::CreateTtl,
    OpCode::MultiRead,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::Sasl,
    OpCode::GetEphemerals,
    OpCode::GetAllChildrenNumber,
    OpCode::SetWatches2,
    OpCode::AddWatch,
    OpCode::WhoAmI,
    OpCode::CloseSession,
    OpCode::Error,
    OpCode::DeleteContainer,
];

/// Splits `data` into frames with a small maximum and decodes each as a reply to every opcode
/// and as a notification. Must never panic; frames must come out whole and in order.
pub fn frames(data: &[u8]) {
    let decoder = FrameDecoder::new(4096);
    let mut buf = BytesMut::from(data);
    let mut consumed = 0usize;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        consumed += 4 + frame.len();
        assert_eq!(
            buf.len(),
            data.len() - consumed,
            "frames must be taken whole"
        );
        replies(&frame);
    }
}

/// Decodes `body` as a reply frame to every known opcode, as a notification and as a handshake
/// response. Each successful decode re-encodes to a value that decodes to itself.
pub fn replies(body: &[u8]) {
    let frame = Bytes::copy_from_slice(body);
    let _ = ConnectResponse::decode(&mut Reader::new(frame.clone()));
    if let Ok(raw) = RawReply::parse(frame.clone()) {
        if raw.header.xid.0 == -1 {
            let _ = WatcherEvent::decode(&mut Reader::new(raw.body.clone()));
        }
        for op in FUZZ_OPCODES {
            if let Ok(Ok(response)) = raw.response(op) {
                reply_round_trip(&raw.header, &response, op);
            }
        }
    }
}

fn reply_round_trip(header: &ReplyHeader, response: &Response, op: OpCode) {
    let mut out = BytesMut::new();
    write_reply(&mut out, header, response);
    assert_eq!(
        out.len(),
        4 + header.encoded_len() + response.encoded_len(),
        "encoded_len must be exact"
    );
    let again = RawReply::parse(out.freeze().slice(4..)).expect("re-encoded header decodes");
    let decoded = again.response(op).expect("re-encoded body decodes");
    assert_eq!(
        decoded.as_ref(),
        Ok(response),
        "round trip must be lossless"
    );
}

/// Decodes `data` as a request body of every opcode and as a handshake request; each success
/// must round-trip through the encoder.
pub fn requests(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(req) = ConnectRequest::decode(&mut Reader::new(bytes.clone())) {
        let mut out = BytesMut::new();
        req.encode(&mut out);
        assert_eq!(out.len(), req.encoded_len());
    }
    for op in FUZZ_OPCODES {
        if let Ok(request) = Request::decode(op, &mut Reader::new(bytes.clone())) {
            let mut out = BytesMut::new();
            write_request(&mut out, crate::ids::Xid(1), &request);
            assert_eq!(out.len(), 4 + 8 + request.encoded_len());
            let mut reader = Reader::new(out.freeze().slice(12..));
            let again = Request::decode(op, &mut reader).expect("re-encoded request decodes");
            assert_eq!(again, request, "round trip must be lossless");
            assert_eq!(reader.remaining(), 0, "encoded_len must be exact");
        }
    }
}
