//! Codec micro-benchmarks: the hot paths a client runs for every request and reply.
//!
//! Run with `cargo bench -p zk-proto --bench codec`.
//!
//! * `encode/get_data_request`: one getData request frame written into a reused, cleared
//!   `BytesMut` that already has the capacity (no allocation, as in a session's send buffer).
//! * `decode/get_data_1k`: a getData reply carrying 1 KiB of data, from a ready frame (length
//!   prefix already cut off): `RawReply::parse` + `response(OpCode::GetData)`. Cloning the
//!   frame's `Bytes` is a reference-count increment; the data comes back as a slice of it.
//! * `decode/get_data_1k_static_frame`: the same from a `Bytes::from_static` frame, whose clones
//!   and drops touch no reference count: the difference to `get_data_1k` is what the atomic
//!   reference counting of the shared frame costs (three increments and three decrements per
//!   iteration).
//! * `decode/get_data_1k_framed_fresh_buf`: the same, but through `FrameDecoder::decode` from a
//!   freshly built `BytesMut` holding prefix + frame (`iter_batched`: building and filling the
//!   buffer is not timed, dropping it is not timed either). Timed cost includes the one
//!   allocation `BytesMut::split_to` makes the first time it splits a vector-backed buffer
//!   (promotion to shared storage), so this is the pessimistic, first-frame-of-a-buffer cost.
//! * `decode/get_data_1k_framed_reused_buf`: steady state of a receive loop: one long-lived
//!   `BytesMut` is refilled with the 1 KiB+ frame (a `memcpy`, standing in for the socket read,
//!   and timed) and cut with `FrameDecoder::decode`; once the previous frame is dropped the
//!   buffer reclaims its space, so no allocation happens.
//! * `encode/get_children2_100` and `decode/get_children2_100`: a getChildren2 reply with 100
//!   children named like `child-0000000042` (decoding allocates the vector and 100 strings).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zk_proto::{
    ErrorCode, FrameDecoder, GetChildren2Response, GetDataRequest, GetDataResponse, OpCode,
    RawReply, ReplyHeader, Request, Response, Stat, Xid, Zxid,
};

fn sample_stat() -> Stat {
    Stat {
        czxid: Zxid(0x1_0000_0010),
        mzxid: Zxid(0x1_0000_0042),
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_123_456,
        version: 7,
        cversion: 100,
        aversion: 0,
        ephemeral_owner: zk_proto::SessionId(0),
        data_length: 1024,
        num_children: 100,
        pzxid: Zxid(0x1_0000_0099),
    }
}

fn reply_header() -> ReplyHeader {
    ReplyHeader {
        xid: Xid(42),
        zxid: Zxid(0x1_0000_0100),
        err: ErrorCode::Ok,
    }
}

/// The whole reply frame on the wire, length prefix included.
fn reply_wire(response: &Response) -> Bytes {
    let mut out = BytesMut::new();
    zk_proto::write_reply(&mut out, &reply_header(), response);
    out.freeze()
}

fn get_data_response_1k() -> Response {
    let data: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    Response::GetData(GetDataResponse {
        data: Some(Bytes::from(data)),
        stat: sample_stat(),
    })
}

fn get_children2_response_100() -> Response {
    Response::GetChildren2(GetChildren2Response {
        children: (0..100).map(|i| format!("child-{i:010}")).collect(),
        stat: sample_stat(),
    })
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");

    let request = Request::GetData(GetDataRequest {
        path: "/app/config/node-0001".into(),
        watch: true,
    });
    let mut buf = BytesMut::with_capacity(256);
    group.bench_function("get_data_request", |b| {
        b.iter(|| {
            buf.clear();
            zk_proto::write_request(&mut buf, black_box(Xid(42)), black_box(&request));
            black_box(&buf);
        })
    });

    let header = reply_header();
    let response = get_children2_response_100();
    let mut buf = BytesMut::with_capacity(4096);
    group.throughput(Throughput::Elements(100));
    group.bench_function("get_children2_100", |b| {
        b.iter(|| {
            buf.clear();
            zk_proto::write_reply(&mut buf, black_box(&header), black_box(&response));
            black_box(&buf);
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    let wire = reply_wire(&get_data_response_1k());
    // Slicing clones the frozen buffer once, promoting it to shared storage: from here on every
    // clone is a reference-count increment.
    let frame = wire.slice(4..);

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("get_data_1k", |b| {
        b.iter(|| {
            let raw = RawReply::parse(black_box(&frame).clone()).unwrap();
            let response = raw.response(OpCode::GetData).unwrap().unwrap();
            black_box(response)
        })
    });

    // The same frame in static storage, where cloning and dropping `Bytes` touch no reference
    // count: the difference to `get_data_1k` is the cost of the atomic reference counting.
    let static_frame = Bytes::from_static(Vec::leak(frame.to_vec()));
    group.bench_function("get_data_1k_static_frame", |b| {
        b.iter(|| {
            let raw = RawReply::parse(black_box(&static_frame).clone()).unwrap();
            let response = raw.response(OpCode::GetData).unwrap().unwrap();
            black_box(response)
        })
    });
    let decoder = FrameDecoder::default();
    group.bench_function("get_data_1k_framed_fresh_buf", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |mut buf| {
                let frame = decoder.decode(black_box(&mut buf)).unwrap().unwrap();
                let raw = RawReply::parse(frame).unwrap();
                let response = raw.response(OpCode::GetData).unwrap().unwrap();
                // Returned, so that dropping the buffer and the reply is not timed.
                (buf, raw, response)
            },
            BatchSize::SmallInput,
        )
    });

    let mut buf = BytesMut::with_capacity(wire.len() * 2);
    group.bench_function("get_data_1k_framed_reused_buf", |b| {
        b.iter(|| {
            buf.extend_from_slice(black_box(&wire[..]));
            let frame = decoder.decode(&mut buf).unwrap().unwrap();
            let raw = RawReply::parse(frame).unwrap();
            let response = raw.response(OpCode::GetData).unwrap().unwrap();
            black_box(response);
        })
    });

    let wire = reply_wire(&get_children2_response_100());
    let frame = wire.slice(4..);
    group.throughput(Throughput::Elements(100));
    group.bench_function("get_children2_100", |b| {
        b.iter(|| {
            let raw = RawReply::parse(black_box(&frame).clone()).unwrap();
            let response = raw.response(OpCode::GetChildren2).unwrap().unwrap();
            black_box(response)
        })
    });
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
