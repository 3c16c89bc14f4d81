//! The watch registry: which registrations exist for which paths, how a notification reaches
//! every registration it matches, and how the whole set is re-registered after a reconnect.
//!
//! Paths here are server paths (chroot included), exactly as they travel in notifications and in
//! SetWatches, so nothing is translated on the hot path and paths outside the chroot (such as
//! `/zookeeper/config`) work too. Registrations are identified by the [`WatchId`] of the request
//! that set them.

use std::collections::{HashMap, HashSet};

use zk_proto::{EventType, Request, SetWatches, SetWatches2, WatcherType, Zxid};

use super::server_rules::{self, ServerRemoval};
use super::{WatchId, WatchKind};

#[derive(Debug, Clone, Copy)]
struct Registration {
    id: WatchId,
    kind: WatchKind,
}

/// Every watch registration of the session.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    by_path: HashMap<String, Vec<Registration>>,
    paths_by_id: HashMap<WatchId, String>,
    persistent: usize,
    /// Paths on which the server may still hold a persistent watch that no registration asked
    /// for any more: it was kept for one-shot registrations it serves (see
    /// [`WatchRegistry::has_persistent_on`]), and goes when they do.
    lingering: HashSet<String>,
}

impl WatchRegistry {
    pub(crate) fn len(&self) -> usize {
        self.paths_by_id.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.paths_by_id.is_empty()
    }

    pub(crate) fn contains(&self, id: WatchId) -> bool {
        self.paths_by_id.contains_key(&id)
    }

    pub(crate) fn has_persistent(&self) -> bool {
        self.persistent > 0
    }

    /// Whether the server holds a persistent or persistent-recursive watch on exactly `path`:
    /// for a registration, or kept for the one-shot registrations it serves.
    pub(crate) fn has_persistent_on(&self, path: &str) -> bool {
        self.lingering.contains(path)
            || self
                .by_path
                .get(path)
                .is_some_and(|regs| regs.iter().any(|r| !r.kind.is_one_shot()))
    }

    /// Whether a one-shot watch of `kind` on `path` would replace the server's persistent
    /// watch there ([`server_rules::one_shot_displaces`]); a kept persistent watch counts
    /// whatever its kind.
    pub(crate) fn one_shot_would_replace_persistent(&self, path: &str, kind: WatchKind) -> bool {
        self.lingering.contains(path)
            || self.by_path.get(path).is_some_and(|regs| {
                regs.iter()
                    .any(|r| server_rules::one_shot_displaces(kind, r.kind))
            })
    }

    /// Paths where the server keeps a persistent watch that no registration needs any more,
    /// for the session to remove (it checks that no request in flight sets one there).
    pub(crate) fn unneeded_lingering(&self) -> impl Iterator<Item = &String> + '_ {
        self.lingering
            .iter()
            .filter(|p| !self.by_path.contains_key(p.as_str()))
    }

    /// The server watch on `path` was removed (or re-registration replaced them all).
    pub(crate) fn forget_lingering(&mut self, path: &str) {
        self.lingering.remove(path);
    }

    /// The server may hold a watch on `path` that no registration accounts for.
    pub(crate) fn mark_lingering(&mut self, path: String) {
        self.lingering.insert(path);
    }

    /// A new connection re-registered exactly the registrations: nothing lingers.
    pub(crate) fn reregistered(&mut self) {
        self.lingering.clear();
    }

    pub(crate) fn add(&mut self, path: String, kind: WatchKind, id: WatchId) {
        if !kind.is_one_shot() {
            self.persistent += 1;
        }
        self.paths_by_id.insert(id, path.clone());
        self.by_path
            .entry(path)
            .or_default()
            .push(Registration { id, kind });
    }

    /// Delivers a node event to every matching registration, in registration order, via
    /// `deliver(id, event_type, path)`. One-shot registrations are removed as they fire.
    ///
    /// A node created or deleted under a path that holds both a child registration and a
    /// persistent-recursive one (or a lingering persistent watch) also fires the child
    /// registration with NodeChildrenChanged on the parent
    /// ([`server_rules::derives_parent_child_event`]).
    pub(crate) fn dispatch(
        &mut self,
        event_type: EventType,
        path: &str,
        mut deliver: impl FnMut(WatchId, EventType, &str),
    ) {
        let may_derive = self.persistent > 0 || !self.lingering.is_empty();
        if may_derive && server_rules::derives_parent_child_event(event_type) {
            if let Some(parent) = ancestors(path).nth(1) {
                let covered_by_recursive = self.lingering.contains(parent)
                    || self.by_path.get(parent).is_some_and(|regs| {
                        regs.iter()
                            .any(|r| r.kind == WatchKind::PersistentRecursive)
                    });
                if covered_by_recursive {
                    let parent = parent.to_owned();
                    self.dispatch_one(EventType::NodeChildrenChanged, &parent, &mut deliver, true);
                }
            }
        }
        self.dispatch_one(event_type, path, &mut deliver, false);
    }

    /// [`WatchRegistry::dispatch`] of one event; `one_shots_only` for a derived event, which
    /// persistent registrations do not receive.
    fn dispatch_one(
        &mut self,
        event_type: EventType,
        path: &str,
        deliver: &mut impl FnMut(WatchId, EventType, &str),
        one_shots_only: bool,
    ) {
        if !server_rules::is_node_event(event_type) {
            return;
        }
        let recursive_applies = server_rules::recursive_receives(event_type);
        if let Some(regs) = self.by_path.get_mut(path) {
            let mut removed = Vec::new();
            regs.retain(|r| {
                let one_shot = server_rules::one_shot_fires(r.kind, event_type);
                let persistent = !one_shots_only
                    && (r.kind == WatchKind::Persistent
                        || (r.kind == WatchKind::PersistentRecursive && recursive_applies));
                if one_shot || persistent {
                    deliver(r.id, event_type, path);
                }
                if one_shot {
                    removed.push(r.id);
                }
                !one_shot
            });
            if regs.is_empty() {
                self.by_path.remove(path);
            }
            for id in removed {
                self.paths_by_id.remove(&id);
            }
        }
        if recursive_applies && !one_shots_only && self.persistent > 0 {
            // The path itself was served above: only its proper ancestors remain.
            for ancestor in ancestors(path).skip(1) {
                if let Some(regs) = self.by_path.get(ancestor) {
                    for r in regs {
                        if r.kind == WatchKind::PersistentRecursive {
                            deliver(r.id, event_type, path);
                        }
                    }
                }
            }
        }
    }

    /// Removes one registration. Returns its path and kind, and the server watch type that is no
    /// longer needed by any remaining registration on that path (to remove it server-side).
    pub(crate) fn remove(
        &mut self,
        id: WatchId,
    ) -> Option<(String, WatchKind, Option<WatcherType>)> {
        let path = self.paths_by_id.remove(&id)?;
        let regs = self.by_path.get_mut(&path)?;
        let pos = regs.iter().position(|r| r.id == id)?;
        let kind = regs.remove(pos).kind;
        if !kind.is_one_shot() {
            self.persistent -= 1;
        }
        let shared = self.lingering.contains(&path);
        let removal =
            server_rules::server_watch_to_remove(kind, shared, regs.iter().map(|r| r.kind));
        if regs.is_empty() {
            self.by_path.remove(&path);
        }
        let server_type = match removal {
            ServerRemoval::None => None,
            ServerRemoval::Remove(watcher_type) => {
                if watcher_type == WatcherType::Any {
                    self.lingering.remove(&path);
                }
                Some(watcher_type)
            }
            ServerRemoval::KeepShared => {
                self.lingering.insert(path.clone());
                None
            }
        };
        Some((path, kind, server_type))
    }

    /// Removes every registration on `path` matching `watcher_type`, reporting each with the
    /// event it receives.
    pub(crate) fn remove_matching(
        &mut self,
        path: &str,
        watcher_type: WatcherType,
        mut removed: impl FnMut(WatchId, EventType),
    ) {
        if watcher_type == WatcherType::Any {
            // The server holds no watch on the path any more.
            self.lingering.remove(path);
        }
        let Some(regs) = self.by_path.get_mut(path) else {
            return;
        };
        let mut gone = Vec::new();
        regs.retain(|r| {
            let hit = server_rules::removal_ends(r.kind, watcher_type);
            if hit {
                gone.push(*r);
            }
            !hit
        });
        if regs.is_empty() {
            self.by_path.remove(path);
        }
        for r in gone {
            self.paths_by_id.remove(&r.id);
            if !r.kind.is_one_shot() {
                self.persistent -= 1;
            }
            removed(r.id, server_rules::removed_event(r.kind));
        }
    }

    /// The persistent and persistent-recursive registrations on exactly `path`.
    pub(crate) fn persistent_on(&self, path: &str) -> Vec<(WatchId, WatchKind)> {
        self.by_path
            .get(path)
            .map(|regs| {
                regs.iter()
                    .filter(|r| !r.kind.is_one_shot())
                    .map(|r| (r.id, r.kind))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ids of the persistent and persistent-recursive registrations.
    pub(crate) fn persistent_ids(&self) -> Vec<WatchId> {
        let mut ids: Vec<WatchId> = self
            .by_path
            .values()
            .flatten()
            .filter(|r| !r.kind.is_one_shot())
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Removes every registration, returning their ids in registration order.
    pub(crate) fn drain(&mut self) -> Vec<WatchId> {
        let mut ids: Vec<WatchId> = self.paths_by_id.drain().map(|(id, _)| id).collect();
        ids.sort_unstable();
        self.by_path.clear();
        self.persistent = 0;
        self.lingering.clear();
        ids
    }

    /// The SetWatches (op 101) or, when persistent watches exist, SetWatches2 (op 105) requests
    /// that re-register everything, each holding about `batch_bytes` of path bytes at most.
    pub(crate) fn reregistration_requests(
        &self,
        relative_zxid: Zxid,
        batch_bytes: usize,
    ) -> Vec<Request> {
        let use_v2 = self.has_persistent();
        let mut batches = Vec::new();
        let mut current = SetWatches2 {
            relative_zxid,
            ..Default::default()
        };
        let mut current_bytes = 0usize;
        let mut paths: Vec<&String> = self.by_path.keys().collect();
        paths.sort_unstable();
        for path in paths {
            let mut kinds = [false; 5];
            for r in &self.by_path[path] {
                kinds[r.kind as usize] = true;
            }
            for (kind_index, present) in kinds.into_iter().enumerate() {
                if !present {
                    continue;
                }
                let server_path = path.clone();
                let cost = server_path.len() + 4;
                if current_bytes > 0 && current_bytes + cost > batch_bytes {
                    batches.push(std::mem::replace(
                        &mut current,
                        SetWatches2 {
                            relative_zxid,
                            ..Default::default()
                        },
                    ));
                    current_bytes = 0;
                }
                current_bytes += cost;
                let list = match kind_index {
                    0 => &mut current.data_watches,
                    1 => &mut current.exist_watches,
                    2 => &mut current.child_watches,
                    3 => &mut current.persistent_watches,
                    _ => &mut current.persistent_recursive_watches,
                };
                list.push(server_path);
            }
        }
        if current_bytes > 0 {
            batches.push(current);
        }
        batches
            .into_iter()
            .map(|b| {
                if use_v2 {
                    Request::SetWatches2(b)
                } else {
                    Request::SetWatches(SetWatches {
                        relative_zxid: b.relative_zxid,
                        data_watches: b.data_watches,
                        exist_watches: b.exist_watches,
                        child_watches: b.child_watches,
                    })
                }
            })
            .collect()
    }
}

/// The proper ancestors of a path and the path itself, nearest first: `/a/b` gives `/a/b`, `/a`,
/// `/`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current == "/" {
            None
        } else {
            match current.rfind('/') {
                Some(0) => Some("/"),
                Some(i) => Some(&current[..i]),
                None => None,
            }
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(reg: &mut WatchRegistry, t: EventType, path: &str) -> Vec<u64> {
        let mut out = Vec::new();
        reg.dispatch(t, path, |id, _, _| out.push(id.0));
        out
    }

    #[test]
    fn ancestors_walk_to_the_root() {
        assert_eq!(ancestors("/a/b").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/").collect::<Vec<_>>(), ["/"]);
    }

    #[test]
    fn one_shot_watches_fire_once_and_persistent_ones_stay() {
        let mut reg = WatchRegistry::default();
        reg.add("/a".into(), WatchKind::Data, WatchId(1));
        reg.add("/a".into(), WatchKind::Persistent, WatchId(2));
        reg.add("/a".into(), WatchKind::Child, WatchId(3));
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/a"), [1, 2]);
        assert_eq!(fired(&mut reg, EventType::NodeDataChanged, "/a"), [2]);
        assert_eq!(
            fired(&mut reg, EventType::NodeChildrenChanged, "/a"),
            [2, 3]
        );
        assert_eq!(fired(&mut reg, EventType::NodeChildrenChanged, "/a"), [2]);
        assert_eq!(reg.len(), 1);
    }

    #[test]
    fn recursive_watches_match_descendants_but_never_child_events() {
        let mut reg = WatchRegistry::default();
        reg.add("/a".into(), WatchKind::PersistentRecursive, WatchId(1));
        reg.add("/".into(), WatchKind::PersistentRecursive, WatchId(2));
        assert_eq!(fired(&mut reg, EventType::NodeCreated, "/a/b/c"), [1, 2]);
        assert_eq!(fired(&mut reg, EventType::NodeDeleted, "/a"), [1, 2]);
        assert_eq!(fired(&mut reg, EventType::NodeCreated, "/ab"), [2]);
        assert!(fired(&mut reg, EventType::NodeChildrenChanged, "/a").is_empty());
    }

    #[test]
    fn node_deleted_ends_data_exist_and_child_watches() {
        let mut reg = WatchRegistry::default();
        reg.add("/a".into(), WatchKind::Data, WatchId(1));
        reg.add("/a".into(), WatchKind::Exist, WatchId(2));
        reg.add("/a".into(), WatchKind::Child, WatchId(3));
        assert_eq!(fired(&mut reg, EventType::NodeDeleted, "/a"), [1, 2, 3]);
        assert!(reg.is_empty());
    }

    #[test]
    fn removing_the_last_registration_names_the_server_watch_to_drop() {
        let mut reg = WatchRegistry::default();
        reg.add("/a".into(), WatchKind::Data, WatchId(1));
        reg.add("/a".into(), WatchKind::Data, WatchId(2));
        reg.add("/a".into(), WatchKind::Child, WatchId(3));
        assert_eq!(reg.remove(WatchId(1)).unwrap().2, None);
        assert_eq!(reg.remove(WatchId(2)).unwrap().2, Some(WatcherType::Data));
        assert_eq!(
            reg.remove(WatchId(3)).unwrap().2,
            Some(WatcherType::Children)
        );
        reg.add("/p".into(), WatchKind::Persistent, WatchId(4));
        assert_eq!(reg.remove(WatchId(4)).unwrap().2, Some(WatcherType::Any));
        assert!(reg.remove(WatchId(4)).is_none());
        assert!(!reg.has_persistent());
    }

    #[test]
    fn reregistration_uses_set_watches2_only_with_persistent_watches_and_batches() {
        let mut reg = WatchRegistry::default();
        for i in 0..100 {
            reg.add(format!("/c/node-{i:04}"), WatchKind::Data, WatchId(i));
        }
        let reqs = reg.reregistration_requests(Zxid(7), 500);
        assert!(reqs.len() > 1);
        let mut total = 0;
        for r in &reqs {
            let Request::SetWatches(sw) = r else {
                panic!("expected SetWatches, got {r:?}")
            };
            assert_eq!(sw.relative_zxid, Zxid(7));
            assert!(sw.data_watches.iter().all(|p| p.starts_with("/c/node-")));
            assert!(sw.data_watches.iter().map(|p| p.len() + 4).sum::<usize>() <= 500);
            total += sw.data_watches.len();
        }
        assert_eq!(total, 100);
        reg.add("/p".into(), WatchKind::PersistentRecursive, WatchId(1000));
        let reqs = reg.reregistration_requests(Zxid(7), 1 << 17);
        assert_eq!(reqs.len(), 1);
        let Request::SetWatches2(sw) = &reqs[0] else {
            panic!("expected SetWatches2")
        };
        assert_eq!(sw.persistent_recursive_watches, ["/p"]);
        assert_eq!(sw.data_watches.len(), 100);
    }
}
