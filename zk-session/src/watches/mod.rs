//! Watches: the public identifiers and kinds, the session's registry of registrations, and the
//! rules of the server's watch tables that the session follows.
//!
//! * `registry`: which registrations exist for which paths, how a notification reaches every
//!   registration it matches, and how the whole set is re-registered after a reconnect.
//! * `server_rules`: what a 3.8 server does with a session's watches (one mode per path,
//!   removals that strip persistent watches, recursive watches that replace child watches,
//!   shared persistent watches kept for one-shots), in one place.

mod registry;
pub(crate) mod server_rules;

pub(crate) use registry::WatchRegistry;

/// Identifies one watch registration: the id of the request that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchId(pub u64);

/// The kinds of watch a client can hold on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchKind {
    /// One-shot, set by getData or by exists on an existing node: fires on data change or
    /// deletion.
    Data,
    /// One-shot, set by exists on a missing node: fires on creation.
    Exist,
    /// One-shot, set by getChildren: fires on a child change or deletion of the node.
    Child,
    /// Persistent (addWatch): every data and child event of the node.
    Persistent,
    /// Persistent-recursive (addWatch): created / deleted / data-changed events of the node and
    /// every descendant; never NodeChildrenChanged.
    PersistentRecursive,
}

impl WatchKind {
    /// Whether the registration ends when it fires.
    pub fn is_one_shot(self) -> bool {
        matches!(self, WatchKind::Data | WatchKind::Exist | WatchKind::Child)
    }
}
