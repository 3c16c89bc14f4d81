//! Permissions, identities and access control lists.

use std::borrow::Cow;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::jute::{jute_record, Decode, Encode, Reader};

/// A set of permissions (`ZooDefs.Perms`), combined with `|`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    /// No permission.
    pub const NONE: Perms = Perms(0);
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Write data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Change the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// Every permission.
    pub const ALL: Perms = Perms(31);

    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl BitOrAssign for Perms {
    fn bitor_assign(&mut self, rhs: Perms) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Perms::READ, 'r'),
            (Perms::WRITE, 'w'),
            (Perms::CREATE, 'c'),
            (Perms::DELETE, 'd'),
            (Perms::ADMIN, 'a'),
        ];
        write!(f, "Perms(")?;
        for (p, c) in names {
            if self.contains(p) {
                write!(f, "{c}")?;
            }
        }
        let rest = self.0 & !Perms::ALL.0;
        if rest != 0 {
            write!(f, "+{rest:#x}")?;
        }
        write!(f, ")")
    }
}

impl Encode for Perms {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode<B: bytes::BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.0);
    }
}

impl Decode for Perms {
    const MIN_ENCODED_LEN: usize = 4;
    fn decode(reader: &mut Reader) -> Result<Self, crate::error::DecodeError> {
        reader.read_i32("perms").map(Perms)
    }
}

jute_record! {
    /// An identity: an authentication scheme and an id within it (`world:anyone`,
    /// `digest:user:hash`, `ip:10.0.0.0/8`, `auth:`).
    pub struct Id {
        /// The scheme (`world`, `auth`, `digest`, `ip`, `x509`, `sasl`, ...).
        pub scheme: Cow<'static, str>,
        /// The id within the scheme.
        pub id: Cow<'static, str>,
    }
}

impl Id {
    /// An identity from borrowed static strings: no allocation.
    pub const fn from_static(scheme: &'static str, id: &'static str) -> Id {
        Id {
            scheme: Cow::Borrowed(scheme),
            id: Cow::Borrowed(id),
        }
    }

    /// An identity from owned or borrowed strings.
    pub fn new(scheme: impl Into<Cow<'static, str>>, id: impl Into<Cow<'static, str>>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`: everybody.
    pub const ANYONE: Id = Id::from_static("world", "anyone");
    /// `auth:`: the identities the creating connection has authenticated as.
    pub const AUTH_IDS: Id = Id::from_static("auth", "");
}

jute_record! {
    /// One entry of an access control list: permissions granted to an identity.
    pub struct Acl {
        /// The permissions granted.
        pub perms: Perms,
        /// Who they are granted to.
        pub id: Id,
    }
}

impl Acl {
    /// An entry granting `perms` to `id`.
    pub const fn new(perms: Perms, id: Id) -> Acl {
        Acl { perms, id }
    }

    /// Everybody may do everything (`Ids.OPEN_ACL_UNSAFE`).
    pub const OPEN_UNSAFE: &'static [Acl] = &[Acl::new(Perms::ALL, Id::ANYONE)];
    /// The creator's authenticated identities may do everything (`Ids.CREATOR_ALL_ACL`).
    pub const CREATOR_ALL: &'static [Acl] = &[Acl::new(Perms::ALL, Id::AUTH_IDS)];
    /// Everybody may read (`Ids.READ_ACL_UNSAFE`).
    pub const READ_UNSAFE: &'static [Acl] = &[Acl::new(Perms::READ, Id::ANYONE)];
}

/// An access control list that may borrow a static list: the well-known lists are never copied.
pub type AclList = Cow<'static, [Acl]>;
