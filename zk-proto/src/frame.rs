//! Framing: every message in both directions is an `i32` big-endian length, then that many
//! bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::connect::ConnectRequest;
use crate::error::FrameError;
use crate::error_code::ErrorCode;
use crate::event::WatcherEvent;
use crate::header::{ReplyHeader, RequestHeader};
use crate::ids::{Xid, Zxid};
use crate::jute::Encode;
use crate::request::Request;
use crate::response::Response;

/// The default largest frame accepted: 0xfffff bytes, the server's `jute.maxbuffer` default and
/// the Java client's `packetLen` default since 3.6.
pub const DEFAULT_MAX_FRAME_LEN: usize = 0xfffff;

/// The size of the length prefix.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// Cuts whole frames off the front of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max_frame_len` bytes (prefix not counted).
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder { max_frame_len }
    }

    /// The configured maximum.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Takes the next whole frame (without its prefix) off the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing is consumed), and an error when the
    /// prefix is negative or over the maximum (nothing is consumed either: the caller decides
    /// whether to drop the connection or skip the frame with [`FrameDecoder::peek_len`]). The
    /// frame is split off `buf` without copying.
    #[inline]
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(len) = self.peek_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < LENGTH_PREFIX_LEN + len {
            buf.reserve(LENGTH_PREFIX_LEN + len - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX_LEN);
        Ok(Some(buf.split_to(len).freeze()))
    }

    /// The validated length of the frame at the front of `buf`, or `None` when the prefix is
    /// not complete yet.
    #[inline]
    pub fn peek_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX_LEN) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if len < 0 {
            return Err(FrameError::NegativeLength(len));
        }
        let len = len as usize;
        if len > self.max_frame_len {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        Ok(Some(len))
    }
}

/// Writes `record` as one frame: its exact length, then the record.
pub fn write_frame<B: BufMut, R: Encode + ?Sized>(buf: &mut B, record: &R) {
    buf.put_i32(record.encoded_len() as i32);
    record.encode(buf);
}

/// Writes the handshake frame.
pub fn write_connect_request<B: BufMut>(buf: &mut B, request: &ConnectRequest) {
    write_frame(buf, request);
}

/// Writes a request frame: length, [`RequestHeader`] with `xid` and the request's opcode, body.
pub fn write_request<B: BufMut>(buf: &mut B, xid: Xid, request: &Request) {
    let header = RequestHeader::new(xid, request.opcode());
    buf.put_i32((header.encoded_len() + request.encoded_len()) as i32);
    header.encode(buf);
    request.encode(buf);
}

/// Writes a watch notification frame: the notification header (xid -1, zxid -1 as servers up
/// to 3.8 send it, no error), then `event` (servers, proxies and tests).
pub fn write_notification<B: BufMut>(buf: &mut B, event: &WatcherEvent) {
    let header = ReplyHeader {
        xid: Xid::NOTIFICATION,
        zxid: Zxid(-1),
        err: ErrorCode::Ok,
    };
    buf.put_i32((header.encoded_len() + event.encoded_len()) as i32);
    header.encode(buf);
    event.encode(buf);
}

/// Writes a reply frame: length, [`ReplyHeader`], body (servers, proxies and tests).
pub fn write_reply<B: BufMut>(buf: &mut B, header: &ReplyHeader, response: &Response) {
    buf.put_i32((header.encoded_len() + response.encoded_len()) as i32);
    header.encode(buf);
    response.encode(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let d = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0, 0, 0][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(&[3, b'a', b'b']);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"cX");
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        assert_eq!(&buf[..], b"X");
    }

    #[test]
    fn negative_and_oversized_lengths_are_typed_errors_that_consume_nothing() {
        let d = FrameDecoder::new(10);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(d.decode(&mut buf), Err(FrameError::NegativeLength(-2)));
        assert_eq!(buf.len(), 4);
        let mut buf = BytesMut::from(&[0, 0, 0, 11][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        );
        let mut buf = BytesMut::from(&[0, 0, 0, 10][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
    }
}
