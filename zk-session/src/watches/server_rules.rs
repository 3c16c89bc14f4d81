//! What a ZooKeeper server does with a session's watches, as far as the client must know it to
//! keep its promises: the rules of the server's watch tables that the session follows, each
//! stated once, with the server behaviour it answers. [`crate::watches::WatchRegistry`] keeps
//! the bookkeeping (which registrations exist, which paths hold a shared persistent watch) and
//! asks these functions; the session's `watching` module is the only session code that acts
//! on the answers.
//!
//! A server keeps, per session, two watch tables: a data table (getData and exists watches, and
//! every persistent kind) and a child table (getChildren watches, and every persistent kind).
//! On servers before 3.9 (this project tests against 3.8):
//!
//! 1. **One mode per path and table** (ZOOKEEPER-4466). Setting a one-shot watch where a
//!    persistent one is registered replaces the persistent one, which then fires once and is
//!    gone. The client sets no server watch for such a one-shot; the persistent watch's events
//!    serve it ([`one_shot_displaces`]).
//! 2. **A removal strips a persistent watch** (ZOOKEEPER-4471). RemoveWatches of the data or
//!    child kind on a path also removes a persistent watch there from that table. The client
//!    sets its persistent watches there again and reports that events may have been missed
//!    ([`removal_strips_persistent`]).
//! 3. **A recursive watch replaces a child watch**: a persistent-recursive watch never delivers
//!    NodeChildrenChanged, and an addWatch of the recursive kind on a path that holds a
//!    getChildren watch replaces that watch in the child table. The client sets child watches
//!    beside a recursive one normally and derives NodeChildrenChanged on the parent from the
//!    creation or deletion of a child ([`derives_parent_child_event`]).
//! 4. **A shared persistent watch outlives its registration** while one-shot registrations it
//!    serves remain: removing it would leave them without a server watch; and no partial removal
//!    is sent for a path whose server watch is such a shared persistent one, which rule 2 would
//!    strip ([`server_watch_to_remove`]). Whatever its kind was, a kept watch is treated as
//!    the one that does the most: one-shots beside it share it (rule 1) and NodeChildrenChanged
//!    is derived under it (rule 3), so no event is missed either way.
//!
//! Later servers keep separate modes (ZOOKEEPER-4466 is fixed in 3.9); the tests run against
//! 3.8, where every rule above holds.

use zk_proto::{EventType, WatcherType};

use super::WatchKind;

/// Whether the kind's watch lives in the server's data table.
fn in_data_table(kind: WatchKind) -> bool {
    kind != WatchKind::Child
}

/// Whether the kind's watch lives in the server's child table.
fn in_child_table(kind: WatchKind) -> bool {
    !matches!(kind, WatchKind::Data | WatchKind::Exist)
}

/// Rule 1: whether setting a one-shot watch of kind `one_shot` on a path replaces the server's
/// persistent watch of kind `persistent` there. A data or exist watch shares the data table with
/// every persistent kind; a child watch conflicts only with a plain persistent watch (which
/// delivers NodeChildrenChanged itself; beside a recursive one, rule 3 applies instead and the
/// child watch is set normally).
pub(crate) fn one_shot_displaces(one_shot: WatchKind, persistent: WatchKind) -> bool {
    one_shot.is_one_shot()
        && !persistent.is_one_shot()
        && (one_shot != WatchKind::Child || persistent == WatchKind::Persistent)
}

/// Rule 2: whether a successful RemoveWatches of `watcher_type` also strips the persistent
/// watches of its path.
pub(crate) fn removal_strips_persistent(watcher_type: WatcherType) -> bool {
    matches!(watcher_type, WatcherType::Data | WatcherType::Children)
}

/// Rule 3: whether `event_type` on a node, under a parent holding a persistent-recursive watch
/// (its own or a shared one), means NodeChildrenChanged for the parent's child registrations.
pub(crate) fn derives_parent_child_event(event_type: EventType) -> bool {
    matches!(event_type, EventType::NodeCreated | EventType::NodeDeleted)
}

/// Whether a one-shot registration of `kind` fires (and ends) on `event_type` at its path.
pub(crate) fn one_shot_fires(kind: WatchKind, event_type: EventType) -> bool {
    match event_type {
        EventType::NodeCreated | EventType::NodeDataChanged => {
            matches!(kind, WatchKind::Data | WatchKind::Exist)
        }
        EventType::NodeChildrenChanged => kind == WatchKind::Child,
        EventType::NodeDeleted => kind.is_one_shot(),
        _ => false,
    }
}

/// Whether a persistent-recursive registration receives `event_type` (at its path or below):
/// every node event except NodeChildrenChanged.
pub(crate) fn recursive_receives(event_type: EventType) -> bool {
    matches!(
        event_type,
        EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted
    )
}

/// Whether `event_type` is about a node (and may fire registrations at all).
pub(crate) fn is_node_event(event_type: EventType) -> bool {
    recursive_receives(event_type) || event_type == EventType::NodeChildrenChanged
}

/// Whether a registration of `kind` is among those a server-side removal of `watcher_type`
/// ends.
pub(crate) fn removal_ends(kind: WatchKind, watcher_type: WatcherType) -> bool {
    match watcher_type {
        WatcherType::Children => kind == WatchKind::Child,
        WatcherType::Data => matches!(kind, WatchKind::Data | WatchKind::Exist),
        WatcherType::Persistent => kind == WatchKind::Persistent,
        WatcherType::PersistentRecursive => kind == WatchKind::PersistentRecursive,
        _ => true,
    }
}

/// The event a registration of `kind` receives when the server removes it.
pub(crate) fn removed_event(kind: WatchKind) -> EventType {
    match kind {
        WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
        WatchKind::Child => EventType::ChildWatchRemoved,
        WatchKind::Persistent | WatchKind::PersistentRecursive => EventType::PersistentWatchRemoved,
    }
}

/// What the server must be told when the registration of `removed` leaves a path whose
/// remaining registrations are `remaining`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerRemoval {
    /// Nothing: the server watch still serves a remaining registration.
    None,
    /// Remove the server's watches of this type on the path.
    Remove(WatcherType),
    /// Rule 4: keep the persistent watch, which serves remaining one-shot registrations; remove
    /// it (all of it) when they are gone.
    KeepShared,
}

/// Rule 4 and the two tables: what to tell the server when a registration of `removed` goes
/// from a path. `shared` says whether the server holds a persistent watch there kept for
/// one-shot registrations (then it goes only with the last of them, and all at once);
/// `remaining` are the kinds still registered on the path.
pub(crate) fn server_watch_to_remove(
    removed: WatchKind,
    shared: bool,
    remaining: impl Iterator<Item = WatchKind> + Clone,
) -> ServerRemoval {
    let mut rest = remaining.clone().peekable();
    let emptied = rest.peek().is_none();
    if shared {
        return if emptied {
            ServerRemoval::Remove(WatcherType::Any)
        } else {
            ServerRemoval::None
        };
    }
    if !removed.is_one_shot() && !emptied && !remaining.clone().any(|k| !k.is_one_shot()) {
        return ServerRemoval::KeepShared;
    }
    let drop_data = in_data_table(removed) && !remaining.clone().any(in_data_table);
    let drop_child = in_child_table(removed) && !remaining.clone().any(in_child_table);
    match (drop_data, drop_child) {
        (true, true) => ServerRemoval::Remove(WatcherType::Any),
        (true, false) => ServerRemoval::Remove(WatcherType::Data),
        (false, true) => ServerRemoval::Remove(WatcherType::Children),
        (false, false) => ServerRemoval::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WatchKind::*;

    #[test]
    fn one_shots_displace_persistent_watches_in_their_table_only() {
        for one_shot in [Data, Exist] {
            assert!(one_shot_displaces(one_shot, Persistent));
            assert!(one_shot_displaces(one_shot, PersistentRecursive));
        }
        assert!(one_shot_displaces(Child, Persistent));
        assert!(!one_shot_displaces(Child, PersistentRecursive));
        for kind in [Data, Exist, Child] {
            assert!(!one_shot_displaces(kind, Data));
            assert!(!one_shot_displaces(Persistent, kind));
        }
    }

    #[test]
    fn only_data_and_child_removals_strip_persistent_watches() {
        assert!(removal_strips_persistent(WatcherType::Data));
        assert!(removal_strips_persistent(WatcherType::Children));
        assert!(!removal_strips_persistent(WatcherType::Any));
        assert!(!removal_strips_persistent(WatcherType::Persistent));
    }

    #[test]
    fn removal_names_the_tables_no_remaining_registration_needs() {
        let none = || [].into_iter();
        assert_eq!(
            server_watch_to_remove(Data, false, [Child].into_iter()),
            ServerRemoval::Remove(WatcherType::Data)
        );
        assert_eq!(
            server_watch_to_remove(Child, false, [Exist].into_iter()),
            ServerRemoval::Remove(WatcherType::Children)
        );
        assert_eq!(
            server_watch_to_remove(Data, false, [Data].into_iter()),
            ServerRemoval::None
        );
        assert_eq!(
            server_watch_to_remove(Persistent, false, none()),
            ServerRemoval::Remove(WatcherType::Any)
        );
        assert_eq!(
            server_watch_to_remove(Data, false, [PersistentRecursive].into_iter()),
            ServerRemoval::None
        );
    }

    #[test]
    fn a_persistent_watch_serving_one_shots_stays_until_the_last_goes() {
        assert_eq!(
            server_watch_to_remove(Persistent, false, [Data].into_iter()),
            ServerRemoval::KeepShared
        );
        assert_eq!(
            server_watch_to_remove(Data, true, [Child].into_iter()),
            ServerRemoval::None
        );
        assert_eq!(
            server_watch_to_remove(Child, true, [].into_iter()),
            ServerRemoval::Remove(WatcherType::Any)
        );
    }

    #[test]
    fn recursive_watches_never_receive_child_events_which_are_derived_instead() {
        assert!(!recursive_receives(EventType::NodeChildrenChanged));
        assert!(derives_parent_child_event(EventType::NodeCreated));
        assert!(derives_parent_child_event(EventType::NodeDeleted));
        assert!(!derives_parent_child_event(EventType::NodeDataChanged));
        assert!(one_shot_fires(Child, EventType::NodeDeleted));
        assert!(!one_shot_fires(Child, EventType::NodeDataChanged));
        assert!(!is_node_event(EventType::None));
    }
}
