//! Watch notifications: event types, keeper states and the `WatcherEvent` record.

use crate::jute::{i32_enum_codec, jute_record};

/// What happened to a watched node (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EventType {
    /// A session state change, not a node event.
    #[default]
    None,
    /// The node was created.
    NodeCreated,
    /// The node was deleted.
    NodeDeleted,
    /// The node's data changed.
    NodeDataChanged,
    /// The node's children changed.
    NodeChildrenChanged,
    /// A data watch was removed (client-side).
    DataWatchRemoved,
    /// A child watch was removed (client-side).
    ChildWatchRemoved,
    /// A persistent watch was removed (client-side).
    PersistentWatchRemoved,
    /// A type this crate does not know, kept raw.
    Unknown(i32),
}

impl EventType {
    /// The type for a raw value.
    pub fn from_i32(value: i32) -> EventType {
        match value {
            -1 => EventType::None,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            7 => EventType::PersistentWatchRemoved,
            other => EventType::Unknown(other),
        }
    }

    /// The raw value on the wire.
    pub fn as_i32(self) -> i32 {
        match self {
            EventType::None => -1,
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
            EventType::DataWatchRemoved => 5,
            EventType::ChildWatchRemoved => 6,
            EventType::PersistentWatchRemoved => 7,
            EventType::Unknown(other) => other,
        }
    }
}

/// The session's state as the server reports it (`Watcher.Event.KeeperState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeeperState {
    /// Not connected.
    Disconnected,
    /// Connected to a server that can serve reads and writes.
    #[default]
    SyncConnected,
    /// Authentication failed.
    AuthFailed,
    /// Connected to a read-only server.
    ConnectedReadOnly,
    /// SASL authentication succeeded.
    SaslAuthenticated,
    /// The session expired.
    Expired,
    /// The client closed the session (client-local).
    Closed,
    /// A state this crate does not know, kept raw.
    Unknown(i32),
}

impl KeeperState {
    /// The state for a raw value.
    pub fn from_i32(value: i32) -> KeeperState {
        match value {
            0 => KeeperState::Disconnected,
            3 => KeeperState::SyncConnected,
            4 => KeeperState::AuthFailed,
            5 => KeeperState::ConnectedReadOnly,
            6 => KeeperState::SaslAuthenticated,
            -112 => KeeperState::Expired,
            7 => KeeperState::Closed,
            other => KeeperState::Unknown(other),
        }
    }

    /// The raw value on the wire.
    pub fn as_i32(self) -> i32 {
        match self {
            KeeperState::Disconnected => 0,
            KeeperState::SyncConnected => 3,
            KeeperState::AuthFailed => 4,
            KeeperState::ConnectedReadOnly => 5,
            KeeperState::SaslAuthenticated => 6,
            KeeperState::Expired => -112,
            KeeperState::Closed => 7,
            KeeperState::Unknown(other) => other,
        }
    }
}

i32_enum_codec!(EventType, "event type", |value| Ok(EventType::from_i32(
    value
)));
i32_enum_codec!(KeeperState, "keeper state", |value| Ok(
    KeeperState::from_i32(value)
));

jute_record! {
    /// A watch notification (xid -1), or a session state change.
    pub struct WatcherEvent {
        /// What happened.
        pub event_type: EventType,
        /// The session state when it happened.
        pub state: KeeperState,
        /// The node's server path (chroot included).
        pub path: String,
    }
}
