//! Watch management records: addWatch, checkWatches / removeWatches, SetWatches(2).

use crate::error::DecodeError;
use crate::ids::Zxid;
use crate::jute::{i32_enum_codec, jute_record};

/// The kind of persistent watch addWatch sets (`AddWatchMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AddWatchMode {
    /// Data and child events of the node itself, kept after firing.
    #[default]
    Persistent,
    /// Created / deleted / data-changed events of the node and every descendant, kept after
    /// firing; never NodeChildrenChanged.
    PersistentRecursive,
}

impl AddWatchMode {
    /// The raw value on the wire.
    pub fn as_i32(self) -> i32 {
        match self {
            AddWatchMode::Persistent => 0,
            AddWatchMode::PersistentRecursive => 1,
        }
    }

    /// The mode for a raw value, or `None` when unknown.
    pub fn from_i32(value: i32) -> Option<Self> {
        match value {
            0 => Some(AddWatchMode::Persistent),
            1 => Some(AddWatchMode::PersistentRecursive),
            _ => None,
        }
    }
}

/// Which watches checkWatches / removeWatches address (`Watcher.WatcherType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WatcherType {
    /// Child watches.
    Children,
    /// Data and exist watches.
    Data,
    /// Every kind.
    #[default]
    Any,
    /// Persistent watches (3.9 servers only).
    Persistent,
    /// Persistent-recursive watches (3.9 servers only).
    PersistentRecursive,
}

impl WatcherType {
    /// The raw value on the wire.
    pub fn as_i32(self) -> i32 {
        match self {
            WatcherType::Children => 1,
            WatcherType::Data => 2,
            WatcherType::Any => 3,
            WatcherType::Persistent => 4,
            WatcherType::PersistentRecursive => 5,
        }
    }

    /// The type for a raw value, or `None` when unknown.
    pub fn from_i32(value: i32) -> Option<Self> {
        Some(match value {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }
}

i32_enum_codec!(AddWatchMode, "add watch mode", |value| {
    AddWatchMode::from_i32(value).ok_or(DecodeError::UnknownValue {
        what: "add watch mode",
        value,
    })
});
i32_enum_codec!(WatcherType, "watcher type", |value| WatcherType::from_i32(
    value
)
.ok_or(DecodeError::UnknownValue {
    what: "watcher type",
    value
}));

jute_record! {
    /// Add a persistent or persistent-recursive watch (opcode 106).
    pub struct AddWatchRequest {
        /// The node's server path.
        pub path: String,
        /// Which kind of watch.
        pub mode: AddWatchMode,
    }
}

jute_record! {
    /// checkWatches (17) and removeWatches (18).
    pub struct WatchesRequest {
        /// The node's server path.
        pub path: String,
        /// Which watches.
        pub watcher_type: WatcherType,
    }
}

/// `CheckWatchesRequest`.
pub type CheckWatchesRequest = WatchesRequest;
/// `RemoveWatchesRequest`.
pub type RemoveWatchesRequest = WatchesRequest;

jute_record! {
    /// Re-register one-shot watches after a reconnect (opcode 101).
    pub struct SetWatches {
        /// The last zxid the client saw; watches on nodes changed since fire at once.
        pub relative_zxid: Zxid,
        /// Server paths with a data watch.
        pub data_watches: Vec<String>,
        /// Server paths with an exist watch.
        pub exist_watches: Vec<String>,
        /// Server paths with a child watch.
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// Re-register every watch, persistent ones included, after a reconnect (opcode 105, 3.6+).
    pub struct SetWatches2 {
        /// The last zxid the client saw; one-shot watches on nodes changed since fire at once.
        pub relative_zxid: Zxid,
        /// Server paths with a data watch.
        pub data_watches: Vec<String>,
        /// Server paths with an exist watch.
        pub exist_watches: Vec<String>,
        /// Server paths with a child watch.
        pub child_watches: Vec<String>,
        /// Server paths with a persistent watch.
        pub persistent_watches: Vec<String>,
        /// Server paths with a persistent-recursive watch.
        pub persistent_recursive_watches: Vec<String>,
    }
}
