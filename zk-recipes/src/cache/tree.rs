//! The cached tree and the events that change it: the nodes by path, children found by
//! skipping descendants (no per-node index), and the queue of unread events.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::task::Waker;

use zk_client::proto::Stat;

use super::{CacheError, CacheEvent, CachedNode};
use crate::cell::EventLog;

/// The cache's state, shared by its handle and its task.
pub(super) struct CacheState {
    pub(super) nodes: BTreeMap<Box<str>, CachedNode>,
    pub(super) events: VecDeque<CacheEvent>,
    pub(super) event_capacity: usize,
    /// Events dropped since the last one kept.
    pub(super) dropped: u64,
    pub(super) initialized: bool,
    pub(super) ended: Option<CacheError>,
    /// The task that follows the subtree now: a task whose number is not this one stops.
    pub(super) task: u64,
    /// The task's waker, woken on a close request.
    pub(super) task_waker: Option<Waker>,
    /// Walks completed after the initial load.
    pub(super) resyncs: u64,
    /// Tasks not finished yet (a stopped task finishes at its next step).
    pub(super) running: usize,
}

impl EventLog for CacheState {
    type Event = CacheEvent;

    fn pop_event(&mut self) -> Option<CacheEvent> {
        self.events.pop_front()
    }

    fn has_ended(&self) -> bool {
        self.ended.is_some()
    }
}

impl CacheState {
    /// An empty cache that keeps `event_capacity` unread events.
    pub(super) fn new(event_capacity: usize) -> CacheState {
        CacheState {
            nodes: BTreeMap::new(),
            events: VecDeque::new(),
            event_capacity,
            dropped: 0,
            initialized: false,
            ended: None,
            task: 0,
            task_waker: None,
            resyncs: 0,
            running: 0,
        }
    }

    pub(super) fn push(&mut self, event: CacheEvent) {
        if self.events.len() >= self.event_capacity {
            self.dropped += 1;
            return;
        }
        if self.dropped > 0 {
            self.events.push_back(CacheEvent::Lagged(self.dropped));
            self.dropped = 0;
            if self.events.len() >= self.event_capacity {
                self.dropped += 1;
                return;
            }
        }
        self.events.push_back(event);
    }

    /// Puts `node` at `path`, with the event that says so; nothing when unchanged.
    pub(super) fn put(&mut self, path: &str, node: CachedNode) {
        match self.nodes.get_mut(path) {
            Some(cached) if *cached == node => {}
            Some(cached) => {
                *cached = node.clone();
                self.push(CacheEvent::Updated {
                    path: path.to_owned(),
                    node,
                });
            }
            None => {
                self.nodes.insert(path.into(), node.clone());
                self.push(CacheEvent::Added {
                    path: path.to_owned(),
                    node,
                });
            }
        }
    }

    /// Changes the stat of the node at `path`, when cached.
    pub(super) fn put_stat(&mut self, path: &str, stat: Stat) {
        if let Some(cached) = self.nodes.get(path) {
            let node = CachedNode {
                data: cached.data.clone(),
                stat: Some(stat),
            };
            self.put(path, node);
        }
    }

    /// Removes `path` and its descendants (the deepest first), with their events.
    pub(super) fn remove(&mut self, path: &str) {
        for descendant in descendants(&self.nodes, path).into_iter().rev() {
            self.nodes.remove(descendant.as_str());
            self.push(CacheEvent::Removed { path: descendant });
        }
        if self.nodes.remove(path).is_some() {
            self.push(CacheEvent::Removed {
                path: path.to_owned(),
            });
        }
    }
}

/// The cached descendants of `path`, in path order.
pub(super) fn descendants(nodes: &BTreeMap<Box<str>, CachedNode>, path: &str) -> Vec<String> {
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    nodes
        .range::<str, _>((Bound::Excluded(prefix.as_str()), Bound::Unbounded))
        .map(|(p, _)| p)
        .take_while(|p| p.starts_with(&prefix))
        .map(|p| p.to_string())
        .collect()
}

/// The names of the cached children of `path`, in order, found by skipping each child's
/// descendants (no per-node index is kept).
pub(super) fn children_of(nodes: &BTreeMap<Box<str>, CachedNode>, path: &str) -> Vec<String> {
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    let mut names = Vec::new();
    let mut from = Bound::Excluded(prefix.clone());
    loop {
        let next = nodes
            .range::<str, _>((from.as_ref().map(String::as_str), Bound::Unbounded))
            .next()
            .map(|(p, _)| p);
        let Some(next) = next else { break };
        let Some(rest) = next.strip_prefix(prefix.as_str()) else {
            break;
        };
        match rest.split_once('/') {
            // A child's descendant: skip past the child's subtree (`0` follows `/`).
            Some((child, _)) => from = Bound::Included(format!("{prefix}{child}0")),
            None => {
                names.push(rest.to_owned());
                from = Bound::Excluded(next.to_string());
            }
        }
    }
    names
}

/// The path of `name` under `parent`.
pub(super) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The parent of `path` (`/` for a top-level node).
pub(super) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> BTreeMap<Box<str>, CachedNode> {
        paths
            .iter()
            .map(|p| (Box::<str>::from(*p), CachedNode::default()))
            .collect()
    }

    #[test]
    fn children_are_found_past_descendants_and_lookalike_siblings() {
        let nodes = tree(&[
            "/a", "/a/b", "/a/b/x", "/a/b/x/y", "/a/b-2", "/a/b0", "/a/c", "/ab",
        ]);
        assert_eq!(children_of(&nodes, "/a"), ["b", "b-2", "b0", "c"]);
        assert_eq!(children_of(&nodes, "/a/b"), ["x"]);
        assert!(children_of(&nodes, "/a/c").is_empty());
        assert_eq!(children_of(&nodes, "/"), ["a", "ab"]);
        assert_eq!(
            descendants(&nodes, "/a/b"),
            ["/a/b/x", "/a/b/x/y"].map(String::from)
        );
    }

    #[test]
    fn a_reader_that_falls_behind_gets_lagged_in_place() {
        let mut state = CacheState::new(2);
        for i in 0..5 {
            state.put(&format!("/n{i}"), CachedNode::default());
        }
        assert_eq!(state.events.len(), 2);
        assert_eq!(state.dropped, 3);
        state.events.clear();
        state.put("/m", CachedNode::default());
        assert_eq!(state.events.front(), Some(&CacheEvent::Lagged(3)));
        assert_eq!(state.nodes.len(), 6, "the snapshot has every change");
    }
}
