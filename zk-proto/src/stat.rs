//! The `Stat` record: a node's metadata.

use crate::error::DecodeError;
use crate::ids::{SessionId, Zxid};
use crate::jute::{jute_record, Decode, Reader};

jute_record! {
    @manual_decode
    /// A node's metadata, as returned by exists, getData, setData and others (68 bytes on the
    /// wire).
    pub struct Stat {
        /// The zxid of the change that created the node.
        pub czxid: Zxid,
        /// The zxid of the change that last modified the node's data.
        pub mzxid: Zxid,
        /// Creation time, milliseconds since the epoch.
        pub ctime: i64,
        /// Last data modification time, milliseconds since the epoch.
        pub mtime: i64,
        /// Number of changes to the node's data.
        pub version: i32,
        /// Number of changes to the node's children.
        pub cversion: i32,
        /// Number of changes to the node's ACL.
        pub aversion: i32,
        /// The owning session of an ephemeral node, else 0 (3.8.0 reports 0 for containers too).
        pub ephemeral_owner: SessionId,
        /// Length of the node's data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// The zxid of the change that last modified the node's children.
        pub pzxid: Zxid,
    }
}

/// The encoded size of a [`Stat`].
pub const STAT_LEN: usize = 68;

impl Decode for Stat {
    const MIN_ENCODED_LEN: usize = STAT_LEN;

    #[inline]
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        // Almost always the whole record is there: one length check instead of eleven keeps this
        // small enough to inline into the replies that carry a stat.
        if let Some(bytes) = reader.peek_array::<STAT_LEN>() {
            reader.skip_peeked(STAT_LEN);
            return Ok(Stat::from_array(&bytes));
        }
        Stat::decode_fields(reader)
    }
}

impl Stat {
    /// A truncated stat: read field by field, so the error names the first missing field.
    #[cold]
    #[inline(never)]
    fn decode_fields(reader: &mut Reader) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: Decode::decode(reader)?,
            mzxid: Decode::decode(reader)?,
            ctime: Decode::decode(reader)?,
            mtime: Decode::decode(reader)?,
            version: Decode::decode(reader)?,
            cversion: Decode::decode(reader)?,
            aversion: Decode::decode(reader)?,
            ephemeral_owner: Decode::decode(reader)?,
            data_length: Decode::decode(reader)?,
            num_children: Decode::decode(reader)?,
            pzxid: Decode::decode(reader)?,
        })
    }

    /// The stat in its 68 wire bytes.
    #[inline]
    fn from_array(bytes: &[u8; STAT_LEN]) -> Stat {
        let (czxid, rest) = split_i64(bytes);
        let (mzxid, rest) = split_i64(rest);
        let (ctime, rest) = split_i64(rest);
        let (mtime, rest) = split_i64(rest);
        let (version, rest) = split_i32(rest);
        let (cversion, rest) = split_i32(rest);
        let (aversion, rest) = split_i32(rest);
        let (ephemeral_owner, rest) = split_i64(rest);
        let (data_length, rest) = split_i32(rest);
        let (num_children, rest) = split_i32(rest);
        let (pzxid, _) = split_i64(rest);
        Stat {
            czxid: Zxid(czxid),
            mzxid: Zxid(mzxid),
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            ephemeral_owner: SessionId(ephemeral_owner),
            data_length,
            num_children,
            pzxid: Zxid(pzxid),
        }
    }
}

// The two helpers below read from slices cut at constant offsets of a 68-byte array: after
// inlining, the lengths are known and the fallbacks (zero) are never compiled in.

/// A big-endian `i64` off the front of `bytes`, and the rest.
#[inline(always)]
fn split_i64(bytes: &[u8]) -> (i64, &[u8]) {
    match bytes.split_first_chunk::<8>() {
        Some((head, rest)) => (i64::from_be_bytes(*head), rest),
        None => (0, &[]),
    }
}

/// A big-endian `i32` off the front of `bytes`, and the rest.
#[inline(always)]
fn split_i32(bytes: &[u8]) -> (i32, &[u8]) {
    match bytes.split_first_chunk::<4>() {
        Some((head, rest)) => (i32::from_be_bytes(*head), rest),
        None => (0, &[]),
    }
}

#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::jute::Encode;

    fn sample() -> Stat {
        Stat {
            czxid: Zxid(0x0102_0304_0506_0708),
            mzxid: Zxid(-2),
            ctime: 1_700_000_000_001,
            mtime: i64::MIN,
            version: -1,
            cversion: i32::MAX,
            aversion: 0x0a0b_0c0d,
            ephemeral_owner: SessionId(0x7e57_0000_0000_0001),
            data_length: 1024,
            num_children: i32::MIN,
            pzxid: Zxid(i64::MAX),
        }
    }

    fn encoded(stat: &Stat, trailing: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        stat.encode(&mut out);
        out.extend_from_slice(trailing);
        out.freeze()
    }

    #[test]
    fn the_one_check_path_reads_what_the_field_by_field_path_reads() {
        let bytes = encoded(&sample(), b"rest");
        let mut fast = Reader::new(bytes.clone());
        let mut slow = Reader::new(bytes);
        assert_eq!(Stat::decode(&mut fast).unwrap(), sample());
        assert_eq!(Stat::decode_fields(&mut slow).unwrap(), sample());
        assert_eq!(fast.into_rest(), Bytes::from_static(b"rest"));
        assert_eq!(slow.into_rest(), Bytes::from_static(b"rest"));
    }

    #[test]
    fn a_truncated_stat_names_the_first_missing_field() {
        let whole = encoded(&sample(), &[]);
        // (offset, size, what) of each field.
        let layout = [
            (0, 8, "long"),
            (8, 8, "long"),
            (16, 8, "long"),
            (24, 8, "long"),
            (32, 4, "int"),
            (36, 4, "int"),
            (40, 4, "int"),
            (44, 8, "long"),
            (52, 4, "int"),
            (56, 4, "int"),
            (60, 8, "long"),
        ];
        for len in 0..STAT_LEN {
            let (offset, needed, what) = layout
                .iter()
                .copied()
                .find(|&(offset, size, _)| len < offset + size)
                .unwrap();
            let err = Stat::decode(&mut Reader::new(whole.slice(..len))).unwrap_err();
            assert_eq!(
                err,
                DecodeError::Truncated {
                    what,
                    needed,
                    remaining: len - offset,
                },
                "{len} bytes"
            );
        }
    }
}
