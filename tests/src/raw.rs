//! The floor of the benchmarks: a minimal ZooKeeper client written with zk-proto's encoder on a
//! blocking `std::net::TcpStream`.
//!
//! It sends pre-encoded frames ([`FrameRing`]) and reads only each reply's length prefix, xid
//! and error code ([`Inbox`]): no client can do less per request, so `zk-bench` and
//! `peer-bench` report every client against it. It panics on anything unexpected (it is a
//! measuring tool, not a client).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zk_proto::{
    write_connect_request, write_request, ConnectRequest, ConnectResponse, Decode, ErrorCode,
    FrameDecoder, GetDataRequest, Reader, Request, Xid,
};

/// The xid of a watch notification.
const NOTIFICATION_XID: i32 = -1;
/// `EventType.NodeDataChanged` in a notification.
const NODE_DATA_CHANGED: i32 = 3;

/// Pre-encoded request frames: `depth` frames with xids 1..=depth, laid out twice so that any
/// `k <= depth` consecutive frames starting anywhere in the first copy are one slice.
pub struct FrameRing {
    bytes: Vec<u8>,
    frame_len: usize,
    depth: usize,
    next: usize,
}

impl FrameRing {
    /// `depth` frames of `request`.
    pub fn new(depth: usize, request: &Request) -> FrameRing {
        let mut one = BytesMut::new();
        write_request(&mut one, Xid(1), request);
        let frame_len = one.len();
        let mut bytes = Vec::with_capacity(frame_len * depth * 2);
        for _ in 0..2 {
            for i in 0..depth {
                let mut frame = BytesMut::new();
                write_request(&mut frame, Xid(i as i32 + 1), request);
                assert_eq!(frame.len(), frame_len);
                bytes.extend_from_slice(&frame);
            }
        }
        FrameRing {
            bytes,
            frame_len,
            depth,
            next: 0,
        }
    }

    /// How many frames (and xids) the ring holds.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The xid of the next frame [`FrameRing::take`] gives.
    pub fn next_xid(&self) -> i32 {
        self.next as i32 + 1
    }

    /// Whether the ring is back at its first frame (after whole laps).
    pub fn at_start(&self) -> bool {
        self.next == 0
    }

    /// The next `k` frames, as one slice.
    pub fn take(&mut self, k: usize) -> &[u8] {
        debug_assert!(k <= self.depth);
        let from = self.next * self.frame_len;
        self.next = (self.next + k) % self.depth;
        &self.bytes[from..from + k * self.frame_len]
    }
}

/// Replies as they arrive: a buffer the socket is read into, and the whole frames at its front.
pub struct Inbox {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    decoder: FrameDecoder,
}

impl Default for Inbox {
    fn default() -> Inbox {
        Inbox::new()
    }
}

impl Inbox {
    /// An empty inbox of 256 KiB.
    pub fn new() -> Inbox {
        Inbox {
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            decoder: FrameDecoder::default(),
        }
    }

    /// Length of the whole frame at the front of the buffer, when it is all there.
    fn next_frame_len(&self) -> Option<usize> {
        let avail = &self.buf[self.start..self.end];
        let len = self
            .decoder
            .peek_len(avail)
            .expect("raw client: bad frame")?;
        (avail.len() >= 4 + len).then_some(len)
    }

    /// The free space to read into, at least 64 KiB.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 64 * 1024 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`Inbox::spare`].
    pub fn filled(&mut self, n: usize) {
        assert!(n > 0, "raw client: server closed the connection");
        self.end += n;
    }

    /// The whole frame at the front (without its length prefix), if there is one.
    pub fn take_frame(&mut self) -> Option<Bytes> {
        let len = self.next_frame_len()?;
        let frame = Bytes::copy_from_slice(&self.buf[self.start + 4..self.start + 4 + len]);
        self.start += 4 + len;
        Some(frame)
    }

    /// Consumes every whole reply in the buffer, checking its xid (replies come in order, xids
    /// cycling through 1..=`depth`) and error code. Returns how many there were.
    pub fn take_replies(&mut self, expected_xid: &mut i32, depth: i32) -> usize {
        let mut n = 0;
        while let Some(len) = self.next_frame_len() {
            let f = &self.buf[self.start + 4..self.start + 4 + len];
            let xid = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let err = i32::from_be_bytes([f[12], f[13], f[14], f[15]]);
            assert_eq!(xid, *expected_xid, "raw client: reply out of order");
            assert_eq!(err, ErrorCode::Ok.as_i32(), "raw client: error reply");
            *expected_xid = *expected_xid % depth + 1;
            self.start += 4 + len;
            n += 1;
        }
        n
    }

    /// Consumes every whole frame in the buffer, each a data-changed notification. Returns how
    /// many there were.
    fn take_notifications(&mut self) -> usize {
        let mut n = 0;
        while let Some(len) = self.next_frame_len() {
            let f = &self.buf[self.start + 4..self.start + 4 + len];
            let xid = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let kind = i32::from_be_bytes([f[16], f[17], f[18], f[19]]);
            assert_eq!(
                xid, NOTIFICATION_XID,
                "raw client: a reply among the events"
            );
            assert_eq!(kind, NODE_DATA_CHANGED, "raw client: another event");
            self.start += 4 + len;
            n += 1;
        }
        n
    }
}

/// Checks the reply to the raw clients' handshake.
pub fn check_handshake(frame: Bytes) {
    let response =
        ConnectResponse::decode(&mut Reader::new(frame)).expect("raw client: ConnectResponse");
    assert!(!response.is_expired(), "raw client: session refused");
}

/// The handshake frame of a new session.
pub fn connect_frame() -> BytesMut {
    let mut out = BytesMut::new();
    write_connect_request(&mut out, &ConnectRequest::new_session(30_000));
    out
}

/// The raw clients' closeSession frame.
pub fn close_frame() -> BytesMut {
    let mut out = BytesMut::new();
    write_request(&mut out, Xid(0x7fff_0000), &Request::CloseSession);
    out
}

/// The raw client on a blocking socket: one session, requests from [`FrameRing`]s.
pub struct RawClient {
    stream: TcpStream,
    inbox: Inbox,
    /// CPU burnt per pipelined reply, to show what client CPU alone does to throughput.
    pub extra_cpu: Duration,
}

impl RawClient {
    /// Connects to `addr` and establishes a session.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let mut stream = TcpStream::connect(addr).expect("raw client: connect");
        stream.set_nodelay(true).expect("raw client: nodelay");
        stream
            .write_all(&connect_frame())
            .expect("raw client: handshake");
        let mut raw = RawClient {
            stream,
            inbox: Inbox::new(),
            extra_cpu: Duration::ZERO,
        };
        let frame = loop {
            if let Some(frame) = raw.inbox.take_frame() {
                break frame;
            }
            raw.fill();
        };
        check_handshake(frame);
        raw
    }

    /// Reads once from the socket into the buffer.
    fn fill(&mut self) {
        let n = self
            .stream
            .read(self.inbox.spare())
            .expect("raw client: read");
        self.inbox.filled(n);
    }

    /// Keeps `ring.depth()` requests of `ring` in flight until `ops` replies have arrived;
    /// `ops` is a whole number of laps of the ring.
    pub fn pipelined(&mut self, ring: &mut FrameRing, ops: usize) {
        assert!(ring.at_start() && ops % ring.depth() == 0, "whole laps");
        let depth = ring.depth();
        let mut expected = 1;
        let first = depth.min(ops);
        self.stream.write_all(ring.take(first)).expect("write");
        let mut sent = first;
        let mut done = 0;
        while done < ops {
            self.fill();
            let k = self.inbox.take_replies(&mut expected, depth as i32);
            if !self.extra_cpu.is_zero() {
                let busy = Instant::now();
                while busy.elapsed() < self.extra_cpu * k as u32 {
                    std::hint::spin_loop();
                }
            }
            done += k;
            let more = k.min(ops - sent);
            if more > 0 {
                self.stream.write_all(ring.take(more)).expect("write");
                sent += more;
            }
        }
        assert!(ring.at_start(), "ring and replies out of step");
    }

    /// One request of `ring` at a time; pushes each latency in nanoseconds.
    pub fn one_at_a_time(&mut self, ring: &mut FrameRing, ops: usize, latencies: &mut Vec<u64>) {
        let mut expected = ring.next_xid();
        for _ in 0..ops {
            let t = Instant::now();
            self.stream.write_all(ring.take(1)).expect("write");
            loop {
                if self.inbox.take_replies(&mut expected, ring.depth() as i32) == 1 {
                    break;
                }
                self.fill();
            }
            latencies.push(t.elapsed().as_nanos() as u64);
        }
    }

    /// Sets a one-shot data watch on each of `paths` (getData with the watch flag, `depth` in
    /// flight at a time).
    pub fn watch_data(&mut self, paths: &[String], depth: usize) {
        for chunk in paths.chunks(depth.max(1)) {
            let mut out = BytesMut::new();
            for (i, path) in chunk.iter().enumerate() {
                let request = Request::GetData(GetDataRequest {
                    path: path.as_str().into(),
                    watch: true,
                });
                write_request(&mut out, Xid(i as i32 + 1), &request);
            }
            self.stream.write_all(&out).expect("write");
            let mut expected = 1;
            let mut done = 0;
            while done < chunk.len() {
                done += self.inbox.take_replies(&mut expected, i32::MAX);
                if done < chunk.len() {
                    self.fill();
                }
            }
        }
    }

    /// Waits for `n` data-changed notifications.
    pub fn wait_notifications(&mut self, n: usize) {
        let mut seen = self.inbox.take_notifications();
        while seen < n {
            self.fill();
            seen += self.inbox.take_notifications();
        }
        assert_eq!(seen, n, "raw client: more events than watches");
    }

    /// Closes the session (waiting up to half a second for the server's reply).
    pub fn close(mut self) {
        let _ = self.stream.write_all(&close_frame());
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(500)));
        let _ = self.stream.read(self.inbox.spare());
    }
}
