//! Heap allocations of the hot decode and encode paths, counted by a wrapping global allocator.
//!
//! The counter is per thread, and only counts while a thread is inside [`count_allocations`], so
//! the test harness's own threads (and tests running in parallel) cannot disturb a measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Bytes, BytesMut};
use zk_proto::{
    DecodeError, ErrorCode, GetChildren2Response, GetDataRequest, GetDataResponse, OpCode,
    RawReply, ReplyHeader, Request, Response, Stat, Xid, Zxid,
};

thread_local! {
    /// `Some(n)`: this thread is measuring and has allocated `n` times so far.
    static ALLOCATIONS: Cell<Option<usize>> = const { Cell::new(None) };
}

fn record_allocation() {
    // `try_with`: the allocator may be called while this thread's locals are being torn down.
    // The local is const-initialised and has no destructor, so accessing it never allocates.
    let _ = ALLOCATIONS.try_with(|count| {
        if let Some(n) = count.get() {
            count.set(Some(n + 1));
        }
    });
}

struct CountingAllocator;

// `GlobalAlloc` is an unsafe trait: the implementation promises to return memory that fits the
// layout. This one keeps that promise by forwarding every call unchanged to `System`; the only
// thing it adds is a thread-local counter increment.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_allocation();
        // SAFETY: same contract as ours, forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_allocation();
        // SAFETY: same contract as ours, forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_allocation();
        // SAFETY: `ptr` was allocated by `System` (every allocation goes through it), with
        // `layout`; the caller upholds the rest of the contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the number of allocations (and reallocations) this
/// thread made meanwhile. Dropping the result happens outside, uncounted.
fn count_allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|count| count.set(Some(0)));
    let value = f();
    let n = ALLOCATIONS.with(|count| count.replace(None)).unwrap_or(0);
    (value, n)
}

fn stat() -> Stat {
    Stat {
        czxid: Zxid(1),
        mzxid: Zxid(2),
        ctime: 3,
        mtime: 4,
        version: 5,
        cversion: 6,
        aversion: 7,
        ephemeral_owner: zk_proto::SessionId(8),
        data_length: 1024,
        num_children: 100,
        pzxid: Zxid(9),
    }
}

/// A reply frame without its length prefix, in storage whose clones are reference-count bumps.
fn reply_frame(response: &Response) -> Bytes {
    let header = ReplyHeader {
        xid: Xid(42),
        zxid: Zxid(100),
        err: ErrorCode::Ok,
    };
    let mut out = BytesMut::new();
    zk_proto::write_reply(&mut out, &header, response);
    // Slicing clones once, which promotes the frozen vector to shared storage (one allocation,
    // made here and not in the measured code).
    out.freeze().slice(4..)
}

/// `bytes` in storage whose clones are reference-count bumps: the first clone of a `Bytes` made
/// from a vector allocates its shared header, so it is made here, before any measurement.
fn shared(bytes: Vec<u8>) -> Bytes {
    let bytes = Bytes::from(bytes);
    drop(bytes.clone());
    bytes
}

#[test]
fn the_counter_sees_allocations() {
    let (v, n) = count_allocations(|| vec![1u8; 10]);
    assert_eq!(v.len(), 10);
    assert_eq!(n, 1);
}

#[test]
fn decoding_a_1k_get_data_reply_does_not_allocate() {
    let data = Bytes::from(vec![0xa5u8; 1024]);
    let frame = reply_frame(&Response::GetData(GetDataResponse {
        data: Some(data.clone()),
        stat: stat(),
    }));
    // Warm up (nothing lazy is expected, but a first call must not hide behind a measurement).
    let _ = RawReply::parse(frame.clone())
        .unwrap()
        .response(OpCode::GetData);

    let (decoded, n) = count_allocations(|| {
        let raw = RawReply::parse(frame.clone()).unwrap();
        let response = raw.response(OpCode::GetData).unwrap().unwrap();
        (raw, response)
    });
    assert_eq!(n, 0, "getData reply decoding allocated {n} times");
    let (raw, response) = decoded;
    assert_eq!(raw.header.xid, Xid(42));
    match response {
        Response::GetData(r) => {
            assert_eq!(r.data.as_ref(), Some(&data));
            assert_eq!(r.stat, stat());
            // The data is a slice of the frame, not a copy.
            let frame_range = frame.as_ptr_range();
            assert!(frame_range.contains(&r.data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr())));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn encoding_a_get_data_request_into_a_big_enough_buffer_does_not_allocate() {
    let request = Request::GetData(GetDataRequest {
        path: "/app/config/node-0001".into(),
        watch: true,
    });
    let mut buf = BytesMut::with_capacity(128);
    let ((), n) = count_allocations(|| zk_proto::write_request(&mut buf, Xid(7), &request));
    assert_eq!(n, 0, "getData request encoding allocated {n} times");
    // prefix + header + path + watch
    assert_eq!(buf.len(), 4 + 8 + 4 + "/app/config/node-0001".len() + 1);
}

#[test]
fn decoding_a_get_children2_reply_allocates_the_vector_and_one_string_per_child() {
    let children: Vec<String> = (0..100).map(|i| format!("child-{i:010}")).collect();
    let frame = reply_frame(&Response::GetChildren2(GetChildren2Response {
        children: children.clone(),
        stat: stat(),
    }));
    let (response, n) = count_allocations(|| {
        RawReply::parse(frame.clone())
            .unwrap()
            .response(OpCode::GetChildren2)
            .unwrap()
            .unwrap()
    });
    assert_eq!(n, 1 + 100, "one vector plus one string per child");
    match response {
        Response::GetChildren2(r) => assert_eq!(r.children, children),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_frame_claiming_a_huge_vector_is_rejected_without_allocating() {
    // Reply header (xid 42, zxid 100, err 0), then a vector count of 2^31 - 1 and a few bytes.
    let mut body = Vec::new();
    body.extend_from_slice(&42i32.to_be_bytes());
    body.extend_from_slice(&100i64.to_be_bytes());
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&i32::MAX.to_be_bytes());
    body.extend_from_slice(&[0u8; 64]);
    let frame = shared(body);

    for op in [
        OpCode::GetChildren,
        OpCode::GetChildren2,
        OpCode::GetEphemerals,
        OpCode::GetAcl,
    ] {
        let (result, n) = count_allocations(|| {
            RawReply::parse(frame.clone())
                .unwrap()
                .response(op)
                .map(|r| r.is_ok())
        });
        assert!(
            matches!(
                result,
                Err(DecodeError::LengthOutOfBounds {
                    claimed: 2147483647,
                    ..
                })
            ),
            "{op:?}: {result:?}"
        );
        // Not even the first element's allocation happens: the count is checked first.
        assert_eq!(n, 0, "{op:?}: rejecting the count allocated {n} times");
    }
}

#[test]
fn the_huge_vector_is_also_rejected_through_the_frame_decoder() {
    let mut wire = BytesMut::new();
    let payload_len: i32 = 16 + 4 + 64;
    wire.extend_from_slice(&payload_len.to_be_bytes());
    wire.extend_from_slice(&42i32.to_be_bytes());
    wire.extend_from_slice(&100i64.to_be_bytes());
    wire.extend_from_slice(&0i32.to_be_bytes());
    wire.extend_from_slice(&i32::MAX.to_be_bytes());
    wire.extend_from_slice(&[0u8; 64]);
    let decoder = zk_proto::FrameDecoder::default();

    let (result, n) = count_allocations(|| {
        let frame = decoder.decode(&mut wire).unwrap().unwrap();
        RawReply::parse(frame)
            .unwrap()
            .response(OpCode::GetChildren2)
            .map(|r| r.is_ok())
    });
    assert!(matches!(result, Err(DecodeError::LengthOutOfBounds { .. })));
    // `BytesMut::split_to` promotes a vector-backed buffer to shared storage the first time:
    // one small allocation, whatever the count claims.
    assert!(n <= 1, "allocated {n} times");
    assert!(wire.is_empty());
}

#[test]
fn framing_allocates_once_per_fresh_buffer_and_never_in_a_reused_one() {
    let data = Bytes::from(vec![0x5au8; 1024]);
    let header = ReplyHeader {
        xid: Xid(42),
        zxid: Zxid(100),
        err: ErrorCode::Ok,
    };
    let mut wire = BytesMut::new();
    zk_proto::write_reply(
        &mut wire,
        &header,
        &Response::GetData(GetDataResponse {
            data: Some(data),
            stat: stat(),
        }),
    );
    let decoder = zk_proto::FrameDecoder::default();
    let decode = |buf: &mut BytesMut| {
        let frame = decoder.decode(buf).unwrap().unwrap();
        RawReply::parse(frame)
            .unwrap()
            .response(OpCode::GetData)
            .unwrap()
            .unwrap()
    };

    // A buffer straight from a vector: the first `split_to` moves it to shared storage.
    let mut fresh = BytesMut::from(&wire[..]);
    let (_, n) = count_allocations(|| decode(&mut fresh));
    assert_eq!(n, 1, "fresh buffer");

    // A receive buffer reused across frames: once the previous frame is dropped, refilling it
    // reclaims its space (the copy stands in for the socket read).
    let mut reused = BytesMut::with_capacity(2 * wire.len());
    for round in 0..3 {
        let (_, n) = count_allocations(|| {
            reused.extend_from_slice(&wire);
            decode(&mut reused)
        });
        if round > 0 {
            assert_eq!(n, 0, "reused buffer, round {round}");
        }
    }
}
