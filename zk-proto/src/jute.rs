//! Jute, ZooKeeper's binary record encoding: the primitives and the two traits every record
//! implements.
//!
//! Big-endian `int` (4 bytes) and `long` (8 bytes); `boolean` as one byte; `buffer` and `ustring`
//! as an `i32` length then the bytes (-1 for null); `vector` as an `i32` count then the elements
//! (-1 for null); records as their fields in order, with no tags.
//!
//! Null: where ZooKeeper gives null a meaning of its own (a node's data, a reconfig's member
//! lists, a SASL token), a record's field is an `Option` of a nullable type ([`Nullable`]:
//! strings, buffers, vectors), `None` written and read as -1, byte for byte as Java does.
//! Everywhere else a plain field reads a null as empty, as Java's callers treat it.
//!
//! Decoding follows Java's lenient reader where it is lenient (any non-zero byte is `true`, a
//! null or negative vector count reads as empty, a null buffer or string in a plain field reads
//! as empty) and is strict everywhere else: no length is trusted beyond the bytes actually
//! present, so a decoder never allocates more than the frame it was given.

use std::borrow::Cow;

use bytes::{Buf, BufMut, Bytes};

use crate::error::DecodeError;
use crate::ids::{SessionId, Xid, Zxid};

/// A record that can be written in jute form.
///
/// `encoded_len` is exact, so a frame's length prefix is known before anything is written and no
/// intermediate buffer is needed.
pub trait Encode {
    /// The exact number of bytes [`Encode::encode`] writes.
    fn encoded_len(&self) -> usize;
    /// Writes the record into `buf`.
    fn encode<B: BufMut>(&self, buf: &mut B);
}

/// A record that can be read from jute form.
pub trait Decode: Sized {
    /// The fewest bytes any value of this type takes on the wire; bounds vector pre-allocation.
    const MIN_ENCODED_LEN: usize;
    /// Reads one value from the front of `reader`.
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError>;
}

/// A cursor over a received frame, handing out checked reads.
///
/// Byte payloads are returned as [`Bytes`] slices of the frame: no copy is made.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// A reader over `buf`.
    #[inline]
    pub fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The bytes not read yet, consuming the reader.
    #[inline]
    pub fn into_rest(self) -> Bytes {
        self.buf
    }

    /// Takes the next `N` bytes, checking the length once.
    #[inline]
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        match self.buf.first_chunk::<N>() {
            Some(bytes) => {
                let bytes = *bytes;
                self.buf.advance(N);
                Ok(bytes)
            }
            None => Err(self.truncated(what, N)),
        }
    }

    /// The next `N` bytes, if the frame holds that many, without consuming them.
    #[inline]
    pub(crate) fn peek_array<const N: usize>(&self) -> Option<[u8; N]> {
        self.buf.first_chunk::<N>().copied()
    }

    /// Consumes `n` bytes the caller has already looked at with [`Reader::peek_array`].
    #[inline]
    pub(crate) fn skip_peeked(&mut self, n: usize) {
        self.buf.advance(n.min(self.buf.len()));
    }

    /// The error for a field of `needed` bytes that the frame does not hold; kept out of line so
    /// the reads stay small enough to inline.
    #[cold]
    #[inline(never)]
    fn truncated(&self, what: &'static str, needed: usize) -> DecodeError {
        DecodeError::Truncated {
            what,
            needed,
            remaining: self.buf.len(),
        }
    }

    /// Reads a jute `int`.
    #[inline]
    pub fn read_i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.take(what).map(i32::from_be_bytes)
    }

    /// Reads a jute `long`.
    #[inline]
    pub fn read_i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.take(what).map(i64::from_be_bytes)
    }

    /// Reads a jute `boolean`: any non-zero byte is `true`, as in Java.
    #[inline]
    pub fn read_bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        self.take::<1>(what).map(|[b]| b != 0)
    }

    /// Reads a jute `buffer` as a slice of the frame; null reads as empty.
    #[inline]
    pub fn read_buffer(&mut self, what: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.read_i32(what)?;
        if len < 0 {
            return Ok(Bytes::new());
        }
        let len = len as usize;
        if len > self.buf.len() {
            return Err(DecodeError::LengthOutOfBounds {
                what,
                claimed: len as i64,
                remaining: self.buf.len(),
            });
        }
        Ok(self.buf.split_to(len))
    }

    /// Reads a jute `ustring`; null reads as empty. Accepts UTF-8 and Java's CESU-8.
    pub fn read_string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let bytes = self.read_buffer(what)?;
        decode_java_string(&bytes)
    }

    /// Reads a jute vector count, bounded by what the rest of the frame can hold when every
    /// element takes at least `min_element_len` bytes. Null and negative counts read as zero.
    #[inline]
    pub fn read_count(
        &mut self,
        what: &'static str,
        min_element_len: usize,
    ) -> Result<usize, DecodeError> {
        let count = self.read_i32(what)?;
        if count <= 0 {
            return Ok(0);
        }
        let count = count as usize;
        if count.saturating_mul(min_element_len.max(1)) > self.buf.len() {
            return Err(DecodeError::LengthOutOfBounds {
                what,
                claimed: count as i64,
                remaining: self.buf.len(),
            });
        }
        Ok(count)
    }
}

/// Decodes a string as Java wrote it: UTF-8, or CESU-8 where characters outside the Basic
/// Multilingual Plane were written as two 3-byte surrogates.
pub fn decode_java_string(bytes: &[u8]) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => decode_cesu8(bytes),
    }
}

fn decode_cesu8(bytes: &[u8]) -> Result<String, DecodeError> {
    // Re-decode as a sequence of UTF-16 code units (CESU-8 is UTF-8 applied to UTF-16), then let
    // the standard library pair the surrogates.
    let mut units = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b0 = bytes[i] as u32;
        let cont = |k: usize| -> Result<u32, DecodeError> {
            match bytes.get(i + k) {
                Some(&b) if b & 0xC0 == 0x80 => Ok((b & 0x3F) as u32),
                _ => Err(DecodeError::InvalidString),
            }
        };
        if b0 < 0x80 {
            units.push(b0 as u16);
            i += 1;
        } else if b0 & 0xE0 == 0xC0 {
            let c = ((b0 & 0x1F) << 6) | cont(1)?;
            if c < 0x80 && c != 0 {
                return Err(DecodeError::InvalidString);
            }
            units.push(c as u16);
            i += 2;
        } else if b0 & 0xF0 == 0xE0 {
            let c = ((b0 & 0x0F) << 12) | (cont(1)? << 6) | cont(2)?;
            if c < 0x800 {
                return Err(DecodeError::InvalidString);
            }
            units.push(c as u16);
            i += 3;
        } else if b0 & 0xF8 == 0xF0 {
            // A genuine 4-byte UTF-8 sequence mixed with CESU-8 surrogates.
            let c = ((b0 & 0x07) << 18) | (cont(1)? << 12) | (cont(2)? << 6) | cont(3)?;
            let ch = char::from_u32(c).ok_or(DecodeError::InvalidString)?;
            if c < 0x10000 {
                return Err(DecodeError::InvalidString);
            }
            let mut pair = [0u16; 2];
            units.extend_from_slice(ch.encode_utf16(&mut pair));
            i += 4;
        } else {
            return Err(DecodeError::InvalidString);
        }
    }
    String::from_utf16(&units).map_err(|_| DecodeError::InvalidString)
}

/// Writes a jute `buffer` (or `ustring`) of `bytes`.
fn put_buffer<B: BufMut>(buf: &mut B, bytes: &[u8]) {
    buf.put_i32(bytes.len() as i32);
    buf.put_slice(bytes);
}

impl Encode for i32 {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(*self);
    }
}

impl Decode for i32 {
    const MIN_ENCODED_LEN: usize = 4;
    #[inline]
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        reader.read_i32("int")
    }
}

impl Encode for i64 {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i64(*self);
    }
}

impl Decode for i64 {
    const MIN_ENCODED_LEN: usize = 8;
    #[inline]
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        reader.read_i64("long")
    }
}

impl Encode for bool {
    fn encoded_len(&self) -> usize {
        1
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(u8::from(*self));
    }
}

impl Decode for bool {
    const MIN_ENCODED_LEN: usize = 1;
    #[inline]
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        reader.read_bool("boolean")
    }
}

impl Encode for String {
    fn encoded_len(&self) -> usize {
        self.as_str().encoded_len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.as_str().encode(buf)
    }
}

impl Encode for str {
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        put_buffer(buf, self.as_bytes());
    }
}

impl Decode for String {
    const MIN_ENCODED_LEN: usize = 4;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        reader.read_string("ustring")
    }
}

impl Encode for Cow<'static, str> {
    fn encoded_len(&self) -> usize {
        self.as_ref().encoded_len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.as_ref().encode(buf)
    }
}

impl Decode for Cow<'static, str> {
    const MIN_ENCODED_LEN: usize = 4;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Cow::Owned(reader.read_string("ustring")?))
    }
}

impl Encode for Bytes {
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        put_buffer(buf, self);
    }
}

impl Decode for Bytes {
    const MIN_ENCODED_LEN: usize = 4;
    #[inline]
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        reader.read_buffer("buffer")
    }
}

impl<T: Encode> Encode for [T] {
    fn encoded_len(&self) -> usize {
        4 + self.iter().map(Encode::encoded_len).sum::<usize>()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.len() as i32);
        for item in self {
            item.encode(buf);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encoded_len(&self) -> usize {
        self.as_slice().encoded_len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.as_slice().encode(buf)
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_ENCODED_LEN: usize = 4;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        let count = reader.read_count("vector", T::MIN_ENCODED_LEN)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(reader)?);
        }
        Ok(items)
    }
}

/// A jute type with a null form (length or count -1): strings, buffers and vectors. An
/// `Option` of one is a field that tells null apart (`None`) from empty.
pub trait Nullable: Encode + Decode {}

impl Nullable for String {}
impl Nullable for Cow<'static, str> {}
impl Nullable for Bytes {}
impl<T: Encode + Decode> Nullable for Vec<T> {}
impl<T: Encode + Decode + Clone> Nullable for Cow<'static, [T]> {}

/// The null length or count.
const NULL: i32 = -1;

impl<T: Nullable> Encode for Option<T> {
    fn encoded_len(&self) -> usize {
        match self {
            Some(value) => value.encoded_len(),
            None => 4,
        }
    }

    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Some(value) => value.encode(buf),
            None => buf.put_i32(NULL),
        }
    }
}

impl<T: Nullable> Decode for Option<T> {
    const MIN_ENCODED_LEN: usize = 4;

    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        if reader.peek_array::<4>() == Some(NULL.to_be_bytes()) {
            reader.skip_peeked(4);
            return Ok(None);
        }
        T::decode(reader).map(Some)
    }
}

impl<T: Encode + Clone> Encode for Cow<'static, [T]> {
    fn encoded_len(&self) -> usize {
        self.as_ref().encoded_len()
    }
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.as_ref().encode(buf)
    }
}

impl<T: Decode + Clone> Decode for Cow<'static, [T]> {
    const MIN_ENCODED_LEN: usize = 4;
    fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Cow::Owned(Vec::decode(reader)?))
    }
}

macro_rules! newtype_codec {
    ($ty:ident, $inner:ty) => {
        impl Encode for $ty {
            fn encoded_len(&self) -> usize {
                self.0.encoded_len()
            }
            fn encode<B: BufMut>(&self, buf: &mut B) {
                self.0.encode(buf)
            }
        }
        impl Decode for $ty {
            const MIN_ENCODED_LEN: usize = <$inner as Decode>::MIN_ENCODED_LEN;
            #[inline]
            fn decode(reader: &mut Reader) -> Result<Self, DecodeError> {
                <$inner>::decode(reader).map($ty)
            }
        }
    };
}
newtype_codec!(Xid, i32);
newtype_codec!(Zxid, i64);
newtype_codec!(SessionId, i64);

/// Implements [`Encode`] and [`Decode`] for an enum carried as an `int`: `as_i32` encodes, the
/// closure turns the raw value into the enum or an error.
macro_rules! i32_enum_codec {
    ($ty:ty, $what:literal, |$value:ident| $convert:expr) => {
        impl $crate::jute::Encode for $ty {
            fn encoded_len(&self) -> usize {
                4
            }
            fn encode<B: bytes::BufMut>(&self, buf: &mut B) {
                buf.put_i32(self.as_i32());
            }
        }
        impl $crate::jute::Decode for $ty {
            const MIN_ENCODED_LEN: usize = 4;
            fn decode(
                reader: &mut $crate::jute::Reader,
            ) -> Result<Self, $crate::error::DecodeError> {
                let $value = reader.read_i32($what)?;
                $convert
            }
        }
    };
}
pub(crate) use i32_enum_codec;

/// Declares a jute record: the struct, its [`Encode`] and [`Decode`] implementations (fields in
/// declaration order), and, in tests, a proptest strategy for round trips.
///
/// With a leading `@manual_decode`, [`Decode`] is left to a hand-written implementation (for a
/// fixed-size record on the hot path that reads all its fields after one length check).
macro_rules! jute_record {
    (
        @manual_decode
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $fty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $fty,
            )*
        }

        impl $crate::jute::Encode for $name {
            #[inline]
            fn encoded_len(&self) -> usize {
                0 $(+ $crate::jute::Encode::encoded_len(&self.$field))*
            }
            #[inline]
            fn encode<B: bytes::BufMut>(&self, _buf: &mut B) {
                $($crate::jute::Encode::encode(&self.$field, _buf);)*
            }
        }

        #[cfg(test)]
        impl $crate::arbitrary::Arb for $name {
            fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::strategy::Strategy;
                #[allow(unused_parens)]
                let strategy = ($(<$fty as $crate::arbitrary::Arb>::arb(),)*);
                #[allow(unused_variables, clippy::unused_unit)]
                strategy
                    .prop_map(|($($field,)*)| $name { $($field,)* })
                    .boxed()
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $fty:ty,
            )*
        }
    ) => {
        $crate::jute::jute_record! {
            @manual_decode
            $(#[$meta])*
            pub struct $name {
                $(
                    $(#[$fmeta])*
                    pub $field: $fty,
                )*
            }
        }

        impl $crate::jute::Decode for $name {
            const MIN_ENCODED_LEN: usize = 0 $(+ <$fty as $crate::jute::Decode>::MIN_ENCODED_LEN)*;
            #[inline]
            fn decode(_reader: &mut $crate::jute::Reader) -> Result<Self, $crate::error::DecodeError> {
                Ok($name {
                    $($field: <$fty as $crate::jute::Decode>::decode(_reader)?,)*
                })
            }
        }
    };
}
pub(crate) use jute_record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cesu8_surrogate_pair_decodes_to_the_supplementary_character() {
        let s = decode_java_string(&[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]).unwrap();
        assert_eq!(s, "\u{1F600}");
    }

    #[test]
    fn java_modified_nul_and_mixed_forms_decode() {
        assert_eq!(decode_java_string(&[0xC0, 0x80, b'a']).unwrap(), "\0a");
        let mut mixed = vec![0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80];
        mixed.extend_from_slice("é😀".as_bytes());
        assert_eq!(decode_java_string(&mixed).unwrap(), "😀é😀");
    }

    #[test]
    fn invalid_strings_are_typed_errors() {
        for bad in [
            &[0xFF][..],
            &[0xED, 0xA0, 0xBD][..],
            &[0xC0][..],
            &[0xE0, 0x80, 0x80][..],
        ] {
            assert_eq!(decode_java_string(bad), Err(DecodeError::InvalidString));
        }
    }

    #[test]
    fn huge_vector_count_is_rejected_without_allocating() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
        let err = Vec::<String>::decode(&mut r).unwrap_err();
        assert!(matches!(err, DecodeError::LengthOutOfBounds { .. }));
    }

    #[test]
    fn null_and_negative_counts_read_as_empty_like_java() {
        for count in [-1i32, -7] {
            let mut r = Reader::new(Bytes::copy_from_slice(&count.to_be_bytes()));
            assert!(Vec::<i32>::decode(&mut r).unwrap().is_empty());
        }
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]));
        assert!(r.read_buffer("b").unwrap().is_empty());
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0x80]));
        assert!(!r.read_bool("b").unwrap());
        assert!(r.read_bool("b").unwrap());
        assert!(r.read_bool("b").unwrap());
    }

    #[test]
    fn null_is_told_from_empty_where_a_field_is_an_option() {
        fn round_trip<T: Nullable + std::fmt::Debug + PartialEq>(value: Option<T>, wire: &[u8]) {
            let mut out = Vec::new();
            value.encode(&mut out);
            assert_eq!(out, wire, "{value:?}");
            assert_eq!(value.encoded_len(), wire.len());
            let back = Option::<T>::decode(&mut Reader::new(Bytes::copy_from_slice(wire)));
            assert_eq!(back, Ok(value));
        }
        round_trip::<Bytes>(None, &[0xff, 0xff, 0xff, 0xff]);
        round_trip(Some(Bytes::new()), &[0, 0, 0, 0]);
        round_trip(Some(Bytes::from_static(b"ab")), &[0, 0, 0, 2, b'a', b'b']);
        round_trip::<String>(None, &[0xff, 0xff, 0xff, 0xff]);
        round_trip(Some(String::new()), &[0, 0, 0, 0]);
        round_trip::<Vec<i32>>(None, &[0xff, 0xff, 0xff, 0xff]);
        round_trip(Some(Vec::<i32>::new()), &[0, 0, 0, 0]);
        // A plain field still reads null as empty.
        let plain = Bytes::decode(&mut Reader::new(Bytes::from_static(&[0xff; 4])));
        assert_eq!(plain, Ok(Bytes::new()));
    }
}
