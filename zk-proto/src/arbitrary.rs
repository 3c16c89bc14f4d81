//! Proptest strategies for every field type, used by the round-trip tests.

use std::borrow::Cow;

use bytes::Bytes;
use proptest::prelude::*;

use crate::acl::{Acl, Perms};
use crate::error_code::ErrorCode;
use crate::event::{EventType, KeeperState};
use crate::ids::{SessionId, Xid, Zxid};
use crate::watch::{AddWatchMode, WatcherType};

/// A type with a strategy covering its whole value space (vectors kept short).
pub(crate) trait Arb: Sized + std::fmt::Debug {
    fn arb() -> BoxedStrategy<Self>;
}

macro_rules! arb_any {
    ($($ty:ty),*) => {$(
        impl Arb for $ty {
            fn arb() -> BoxedStrategy<Self> {
                any::<$ty>().boxed()
            }
        }
    )*};
}
arb_any!(i32, i64, bool, String);

impl Arb for Bytes {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(Bytes::from)
            .boxed()
    }
}

impl Arb for Cow<'static, str> {
    fn arb() -> BoxedStrategy<Self> {
        any::<String>().prop_map(Cow::Owned).boxed()
    }
}

impl<T: Arb + 'static> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(T::arb()).boxed()
    }
}

impl<T: Arb + 'static> Arb for Vec<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(T::arb(), 0..5).boxed()
    }
}

impl Arb for Cow<'static, [Acl]> {
    fn arb() -> BoxedStrategy<Self> {
        Vec::<Acl>::arb().prop_map(Cow::Owned).boxed()
    }
}

macro_rules! arb_map {
    ($($ty:ty => $inner:ty, $f:expr;)*) => {$(
        impl Arb for $ty {
            fn arb() -> BoxedStrategy<Self> {
                <$inner>::arb().prop_map($f).boxed()
            }
        }
    )*};
}
arb_map! {
    Xid => i32, Xid;
    Zxid => i64, Zxid;
    SessionId => i64, SessionId;
    Perms => i32, Perms;
    ErrorCode => i32, ErrorCode::from_i32;
    EventType => i32, EventType::from_i32;
    KeeperState => i32, KeeperState::from_i32;
}

impl Arb for AddWatchMode {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(AddWatchMode::Persistent),
            Just(AddWatchMode::PersistentRecursive)
        ]
        .boxed()
    }
}

impl Arb for WatcherType {
    fn arb() -> BoxedStrategy<Self> {
        (1..=5)
            .prop_map(|v| WatcherType::from_i32(v).unwrap_or_default())
            .boxed()
    }
}
