//! A local, always-current copy of a subtree: a tree cache, and its thin forms for one node
//! and for one level of children.
//!
//! How it stays current: one persistent-recursive watch on the root, set *before* the subtree
//! is read, so that every change after the read is an event; each event is applied by reading
//! the node it names (a persistent watch says what changed, not to what). After a reconnect
//! that may have missed events (a 3.8 server does not replay them for persistent watches), or
//! when the client dropped events its consumer could not take, the cache walks the subtree
//! again and emits exactly the differences ([`CacheEvent::Resynchronized`] closes them).
//!
//! Ordering: the cache's reads are applied in the order they were sent (a session's replies
//! come in that order, so each read shows a state at least as new as the one before), and a
//! read sent before a node's deletion was seen is discarded. Every event a cache emits is
//! applied to its snapshot as it is emitted, so the events replayed in order from an empty
//! tree give the snapshot.
//!
//! Compared with Curator's `CuratorCache` and `TreeCache` and kazoo's `TreeCache`:
//! - like `CuratorCache`, one persistent-recursive watch instead of two one-shot watches per
//!   node (`TreeCache`, kazoo), which cost the server and the client memory per node and a
//!   request to set again after each event;
//! - unlike `CuratorCache` 5.4 (whose initial load stops past 65,535 outstanding reads,
//!   CURATOR-690), the load keeps a bounded number of reads in flight (1000);
//! - a read is made only of what the cache keeps: data and stat (`getData`), stat only
//!   (`exists`, `getChildren`), and the children are listed only for nodes whose stat says
//!   they have some;
//! - a node's stat stays current when its children change (a persistent-recursive watch says
//!   nothing of the parent: the cache reads the parent's stat again);
//! - a session's end is never hidden: the cache ends with [`CacheError`], keeps what it held,
//!   and starts again on a new session only when asked ([`TreeCache::restart`]).
//!
//! On a 3.8 server a session has one watch mode per path (ZOOKEEPER-4466): a one-shot watch
//! set where the cache's persistent one is would replace it. The client never sets such a
//! one-shot on the server (the persistent watch's events serve it), so the application may
//! set watches anywhere on the cache's session.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::poll_fn;
use std::ops::Bound;
use std::sync::Arc;
use std::task::{Poll, Waker};

use bytes::Bytes;
use zk_client::ops::{
    AddWatch, Error, Exists, GetChildren, GetChildrenError, GetData, GetDataError, MultiRead,
    OpError, Operation, ReadResult,
};
use zk_client::proto::{AddWatchMode, ErrorCode, EventType, Stat};
use zk_client::WatchEvent;

use crate::cell::Cell;
use crate::client::{outcome_unknown, reconnected, BoxFuture, Events, Zk};

/// How many reads a cache keeps in flight at most (a batch counts each of its reads).
const WINDOW: usize = 1000;

/// How many nodes a walk reads in one request (a multi-read).
const BATCH: usize = 64;

/// How many unread events a cache keeps by default (see [`CacheBuilder::event_capacity`]).
pub const DEFAULT_CACHE_EVENTS: usize = 65_536;

/// A cached node: what the cache was asked to keep of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CachedNode {
    data: Option<Bytes>,
    stat: Option<Stat>,
}

impl CachedNode {
    /// The node's data, when the cache keeps data.
    pub fn data(&self) -> Option<&Bytes> {
        self.data.as_ref()
    }

    /// The node's stat, when the cache keeps stats.
    pub fn stat(&self) -> Option<&Stat> {
        self.stat.as_ref()
    }
}

/// A change of a cache, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheEvent {
    /// A node entered the cache (each node of the initial load too).
    Added {
        /// The node's path.
        path: String,
        /// The node as cached.
        node: CachedNode,
    },
    /// A cached node changed (its data, or its stat when the cache keeps stats).
    Updated {
        /// The node's path.
        path: String,
        /// The node as cached now.
        node: CachedNode,
    },
    /// A node left the cache (its descendants' removals come first).
    Removed {
        /// The node's path.
        path: String,
    },
    /// The initial load is complete: the cache holds the subtree.
    Initialized,
    /// A walk after events may have been missed is complete: the differences it found were
    /// emitted before this.
    Resynchronized,
    /// The events' reader fell behind and this many events were dropped in this place (the
    /// snapshot has every change: read it again).
    Lagged(u64),
}

/// Why a cache stopped following its subtree. What it held stays readable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A call failed for good: the session ended (expired, closed), a missing ACL, ...
    #[error("cache of {root}: {source}")]
    Zk {
        /// The cache's root.
        root: String,
        /// The failed call.
        source: Error,
    },
    /// The cache's watch was removed on its session (`remove_watches` of every kind on its
    /// root, by the application).
    #[error("cache of {root}: its watch was removed")]
    WatchRemoved {
        /// The cache's root.
        root: String,
    },
    /// [`TreeCache::close`], dropping the cache, or a restart on another session.
    #[error("cache of {root}: closed")]
    Closed {
        /// The cache's root.
        root: String,
    },
    /// The cache's task could not start (no runtime to spawn it on, no thread).
    #[error("cache of {root}: its task could not start: {reason}")]
    NoTask {
        /// The cache's root.
        root: String,
        /// Why.
        reason: String,
    },
}

/// Which paths a cache keeps: `true` to keep a node (and look at its children).
type Filter = dyn Fn(&str) -> bool + Send + Sync;

/// What a cache keeps.
#[derive(Clone)]
struct Options {
    root: String,
    data: bool,
    stat: bool,
    max_depth: Option<usize>,
    filter: Option<Arc<Filter>>,
    event_capacity: usize,
}

impl Options {
    /// `path` relative to the root (`""` for the root), when it is in the subtree.
    fn relative<'a>(&self, path: &'a str) -> Option<&'a str> {
        if path == self.root {
            return Some("");
        }
        let rest = if self.root == "/" {
            path.strip_prefix('/')
        } else {
            path.strip_prefix(self.root.as_str())?.strip_prefix('/')
        }?;
        (!rest.is_empty()).then_some(rest)
    }

    /// The depth of `path` below the root, when it is in the subtree.
    fn depth(&self, path: &str) -> Option<usize> {
        let rest = self.relative(path)?;
        Some(if rest.is_empty() {
            0
        } else {
            rest.split('/').count()
        })
    }

    /// Whether the cache keeps `path`: in the subtree, within the depth limit, and it and
    /// every ancestor below the root pass the filter.
    fn keeps(&self, path: &str) -> bool {
        let Some(depth) = self.depth(path) else {
            return false;
        };
        if self.max_depth.is_some_and(|max| depth > max) {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        if depth == 0 {
            return true;
        }
        let start = if self.root == "/" {
            1
        } else {
            self.root.len() + 1
        };
        path[start..]
            .match_indices('/')
            .map(|(i, _)| &path[..start + i])
            .chain(std::iter::once(path))
            .all(|p| filter(p))
    }

    /// Whether the cache looks at the children of `path`.
    fn descends(&self, path: &str) -> bool {
        match (self.depth(path), self.max_depth) {
            (None, _) => false,
            (Some(depth), Some(max)) => depth < max,
            (Some(_), None) => true,
        }
    }
}

/// The cache's state, shared by its handle and its task.
struct CacheState {
    nodes: BTreeMap<Box<str>, CachedNode>,
    events: VecDeque<CacheEvent>,
    event_capacity: usize,
    /// Events dropped since the last one kept.
    dropped: u64,
    initialized: bool,
    ended: Option<CacheError>,
    /// The task that follows the subtree now: a task whose number is not this one stops.
    task: u64,
    /// The task's waker, woken on a close request.
    task_waker: Option<Waker>,
    /// Walks completed after the initial load.
    resyncs: u64,
    /// Tasks not finished yet (a stopped task finishes at its next step).
    running: usize,
}

impl CacheState {
    fn push(&mut self, event: CacheEvent) {
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
    fn put(&mut self, path: &str, node: CachedNode) {
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
    fn put_stat(&mut self, path: &str, stat: Stat) {
        if let Some(cached) = self.nodes.get(path) {
            let node = CachedNode {
                data: cached.data.clone(),
                stat: Some(stat),
            };
            self.put(path, node);
        }
    }

    /// Removes `path` and its descendants (the deepest first), with their events.
    fn remove(&mut self, path: &str) {
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
fn descendants(nodes: &BTreeMap<Box<str>, CachedNode>, path: &str) -> Vec<String> {
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
fn children_of(nodes: &BTreeMap<Box<str>, CachedNode>, path: &str) -> Vec<String> {
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

/// A read's result, as the cache applies it.
enum Reply {
    /// The node (or `None`: it does not exist).
    Node(Result<Option<(Option<Bytes>, Stat)>, Error>),
    /// The node's stat (or `None`).
    Stat(Result<Option<Stat>, Error>),
    /// The node's children and stat (or `None`).
    Children(Result<Option<(Vec<String>, Stat)>, Error>),
    /// Several nodes' data and stat, in the order of the read's `batch`.
    Batch(Result<Vec<Result<ReadResult, ErrorCode>>, Error>),
}

/// What a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// An event named the node.
    Event,
    /// The walk numbered so visits the node.
    Walk(u64),
}

/// A read in flight.
struct Read {
    path: Box<str>,
    /// The nodes of a batch read (`path` is the first).
    batch: Vec<Box<str>>,
    purpose: Purpose,
    /// The number of the last event seen when it was sent.
    sent_after: u64,
    reply: BoxFuture<Reply>,
}

fn data_reply(result: Result<(Bytes, Stat), OpError<GetDataError>>) -> Reply {
    Reply::Node(match result {
        // A copy: the reply's bytes are a slice of its whole frame, which they would keep.
        Ok((data, stat)) => Ok(Some((Some(Bytes::copy_from_slice(&data)), stat))),
        Err(e) if *e.kind() == GetDataError::NoNode => Ok(None),
        Err(e) if *e.kind() == GetDataError::NoAuth => Ok(unreadable(e.path())),
        Err(e) => Err(e.into()),
    })
}

/// A node this session may not read: left out of the cache, as a node that is not there,
/// with a warning.
fn unreadable<T>(path: Option<&str>) -> Option<T> {
    tracing::warn!(path, "cache: a node this session may not read is left out");
    None
}

/// The cache's task: follows the subtree until told to stop or the session ends.
struct Follower<C> {
    zk: C,
    shared: Arc<Cell<CacheState>>,
    options: Arc<Options>,
    /// This task's number (see [`CacheState::task`]).
    task: u64,
    in_flight: VecDeque<Read>,
    /// The reads in flight, a batch counting each of its reads.
    in_flight_reads: usize,
    /// Event reads not sent yet, and the same as a set.
    pending: Vec<Box<str>>,
    queued: std::collections::HashSet<Box<str>>,
    /// Events seen so far.
    events_seen: u64,
    /// For each path whose deletion was seen while reads were in flight: the number of that
    /// event. A read sent before it shows a state older than the deletion and is dropped.
    deleted: HashMap<Box<str>, u64>,
    /// The current walk: its number, the paths still to visit, and its reads in flight.
    walk: u64,
    to_visit: VecDeque<Box<str>>,
    walk_reads: usize,
    walking: bool,
    /// A read's outcome was lost: no walk counts as complete until one starts after it.
    needs_walk: bool,
    /// Whether the cache was initialized before this task started (a restart).
    resuming: bool,
}

/// What woke the task.
enum Woken {
    Close,
    Reply(Read, Reply),
    Event(WatchEvent),
    /// Event reads are queued and no more events are waiting: send them.
    Flush,
    WatchEnded,
}

impl<C: Zk> Follower<C> {
    /// Whether this task still follows the subtree.
    fn current(&self) -> bool {
        self.shared.lock().task == self.task
    }

    fn send(&mut self, path: Box<str>, purpose: Purpose, reply: BoxFuture<Reply>) {
        if matches!(purpose, Purpose::Walk(w) if w == self.walk) {
            self.walk_reads += 1;
        }
        self.in_flight_reads += 1;
        self.in_flight.push_back(Read {
            path,
            batch: Vec::new(),
            purpose,
            sent_after: self.events_seen,
            reply,
        });
    }

    /// Reads the node at `path`: what the cache keeps of it.
    fn read_node(&mut self, path: Box<str>, purpose: Purpose) {
        let keep_data = self.options.data;
        let reply: BoxFuture<Reply> = if keep_data {
            let call = self.zk.call(GetData::new(path.to_string()));
            Box::pin(async move { data_reply(call.await) })
        } else if matches!(purpose, Purpose::Walk(_)) && self.options.descends(&path) {
            // The stat and the children in one read.
            let call = self.zk.call(GetChildren::new(path.to_string()));
            Box::pin(async move { children_reply(call.await) })
        } else {
            let call = self.zk.call(Exists::new(path.to_string()));
            Box::pin(async move {
                Reply::Node(match call.await {
                    Ok(stat) => Ok(stat.map(|stat| (None, stat))),
                    Err(e) => Err(Error::from(e)),
                })
            })
        };
        self.send(path, purpose, reply);
    }

    /// Reads the nodes at `paths`, in one request (a multi-read).
    fn read_batch(&mut self, paths: Vec<Box<str>>, purpose: Purpose) {
        let read = paths.iter().fold(MultiRead::new(), |read, path| {
            read.get_data(path.to_string())
        });
        let call = self.zk.call(read);
        let reply: BoxFuture<Reply> =
            Box::pin(async move { Reply::Batch(call.await.map_err(Error::from)) });
        let first = paths.first().cloned().unwrap_or_default();
        if purpose == Purpose::Walk(self.walk) {
            self.walk_reads += 1;
        }
        self.in_flight_reads += paths.len();
        self.in_flight.push_back(Read {
            path: first,
            batch: paths,
            purpose,
            sent_after: self.events_seen,
            reply,
        });
    }

    /// Reads the stat of the node at `path` again (its children changed).
    fn read_stat(&mut self, path: Box<str>) {
        let call = self.zk.call(Exists::new(path.to_string()));
        let reply: BoxFuture<Reply> = Box::pin(async move {
            Reply::Stat(match call.await {
                Ok(stat) => Ok(stat),
                Err(e) => Err(Error::from(e)),
            })
        });
        self.send(path, Purpose::Event, reply);
    }

    /// Lists the children of `path` for the walk.
    fn read_children(&mut self, path: Box<str>, walk: u64) {
        let call = self.zk.call(GetChildren::new(path.to_string()));
        let reply: BoxFuture<Reply> = Box::pin(async move { children_reply(call.await) });
        self.send(path, Purpose::Walk(walk), reply);
    }

    /// Starts a walk of the subtree (a new one replaces one under way).
    fn start_walk(&mut self) {
        self.needs_walk = false;
        self.walk += 1;
        self.walking = true;
        self.walk_reads = 0;
        self.to_visit.clear();
        self.to_visit.push_back(self.options.root.as_str().into());
    }

    /// Sends the walk's next reads, as far as the window allows.
    fn advance_walk(&mut self) {
        while self.in_flight_reads < WINDOW && !self.to_visit.is_empty() {
            let batch = if self.options.data {
                self.to_visit.len().min(BATCH)
            } else {
                1
            };
            if batch == 1 {
                if let Some(path) = self.to_visit.pop_front() {
                    self.read_node(path, Purpose::Walk(self.walk));
                }
                continue;
            }
            let paths: Vec<Box<str>> = self.to_visit.drain(..batch).collect();
            self.read_batch(paths, Purpose::Walk(self.walk));
        }
        if self.walking && self.to_visit.is_empty() && self.walk_reads == 0 && !self.needs_walk {
            self.walking = false;
            let resuming = self.resuming;
            self.update(|_, s| {
                if !s.initialized && !resuming {
                    s.initialized = true;
                    s.push(CacheEvent::Initialized);
                } else {
                    s.initialized = true;
                    s.resyncs += 1;
                    s.push(CacheEvent::Resynchronized);
                }
            });
            self.resuming = true;
        }
    }

    /// Applies a read's reply.
    /// Whether a read of `path` sent after event number `sent_after` shows a state older
    /// than a deletion seen since.
    fn stale(&self, path: &str, sent_after: u64) -> bool {
        self.deleted
            .get(path)
            .is_some_and(|deleted| *deleted > sent_after)
    }

    /// Applies a node's read: `found` is its data and stat, `None` when it does not exist.
    fn apply_node(
        &mut self,
        state: &mut CacheState,
        path: Box<str>,
        found: Option<(Option<Bytes>, Stat)>,
        stale: bool,
        current_walk: bool,
    ) {
        let Some((data, stat)) = found else {
            if !stale {
                state.remove(&path);
            }
            return;
        };
        let has_children = stat.num_children > 0;
        if !stale {
            let node = CachedNode {
                data,
                stat: self.options.stat.then_some(stat),
            };
            state.put(&path, node);
        }
        if current_walk && self.options.descends(&path) {
            if has_children {
                self.read_children(path, self.walk);
            } else if !stale {
                // No children now: none of those cached is left.
                for child in children_of(&state.nodes, &path) {
                    state.remove(&join(&path, &child));
                }
            }
        }
    }

    /// Changes the cache's state with `f`, unless another task follows the subtree now (a
    /// restart, a close): then nothing is changed and `None` is returned.
    fn update<T>(&mut self, f: impl FnOnce(&mut Self, &mut CacheState) -> T) -> Option<T> {
        let shared = self.shared.clone();
        shared.update(|s| (s.task == self.task).then(|| f(self, s)))
    }

    /// Applies a read's reply.
    fn apply(&mut self, read: Read, reply: Reply) -> Result<(), Error> {
        let current_walk = read.purpose == Purpose::Walk(self.walk);
        if current_walk {
            self.walk_reads -= 1;
        }
        self.in_flight_reads -= read.batch.len().max(1);
        let stale = self.stale(&read.path, read.sent_after);
        let path = read.path;
        let outcome = match reply {
            Reply::Node(Ok(found)) => {
                self.update(|this, s| this.apply_node(s, path, found, stale, current_walk));
                Ok(())
            }
            Reply::Batch(Ok(results)) => {
                let sent_after = read.sent_after;
                let batch = read.batch;
                self.update(|this, s| {
                    let mut failed = None;
                    for (path, result) in batch.into_iter().zip(results) {
                        let stale = this.stale(&path, sent_after);
                        let found = match result {
                            Ok(ReadResult::Data(data, stat)) => {
                                Some((Some(Bytes::copy_from_slice(&data)), stat))
                            }
                            Err(ErrorCode::NoNode) => None,
                            Err(ErrorCode::NoAuth) => unreadable(Some(&path)),
                            Ok(_) | Err(_) => {
                                failed = Some(MultiRead::new().get_data(path.to_string()));
                                continue;
                            }
                        };
                        this.apply_node(s, path, found, stale, current_walk);
                    }
                    match failed {
                        Some(read) => Err(read
                            .fail(zk_client::CommonError::MalformedReply(
                                zk_client::proto::DecodeError::UnknownValue {
                                    what: "a multi-read's getData result",
                                    value: 0,
                                },
                            ))
                            .into()),
                        None => Ok(()),
                    }
                })
                .unwrap_or(Ok(()))
            }
            Reply::Children(Ok(Some((children, stat)))) => {
                self.update(|this, s| {
                    if !stale {
                        if this.options.data {
                            if this.options.stat {
                                s.put_stat(&path, stat);
                            }
                        } else {
                            let node = CachedNode {
                                data: None,
                                stat: this.options.stat.then_some(stat),
                            };
                            s.put(&path, node);
                        }
                        // Cached children not listed are gone (their deletion may have been
                        // missed).
                        let mut listed: Vec<&str> = children.iter().map(String::as_str).collect();
                        listed.sort_unstable();
                        for cached in children_of(&s.nodes, &path) {
                            if listed.binary_search(&cached.as_str()).is_err() {
                                s.remove(&join(&path, &cached));
                            }
                        }
                    }
                    if current_walk {
                        for child in children {
                            let child = join(&path, &child);
                            if this.options.keeps(&child) {
                                this.to_visit.push_back(child.into());
                            }
                        }
                    }
                });
                Ok(())
            }
            Reply::Stat(Ok(Some(stat))) => {
                if !stale && self.options.stat {
                    self.update(|_, s| s.put_stat(&path, stat));
                }
                Ok(())
            }
            Reply::Children(Ok(None)) | Reply::Stat(Ok(None)) => {
                if !stale {
                    self.update(|_, s| s.remove(&path));
                }
                Ok(())
            }
            Reply::Node(Err(e))
            | Reply::Children(Err(e))
            | Reply::Stat(Err(e))
            | Reply::Batch(Err(e)) => Err(e),
        };
        self.forget_deletions();
        match outcome {
            Ok(()) => Ok(()),
            // The connection was lost (or the call timed out): what the read was for is
            // unknown. Connected (a timeout), the walk starts again now; otherwise the watch
            // says `PossiblyMissedEvents` once it is set again on the next connection, and the
            // walk starts again then. Until then no walk counts as complete.
            Err(e) if outcome_unknown(e.common()) => {
                if matches!(
                    self.zk.state(),
                    zk_client::SessionState::Connected | zk_client::SessionState::ConnectedReadOnly
                ) {
                    self.start_walk();
                } else {
                    self.needs_walk = true;
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Forgets the deletions no read in flight was sent before: they can make no read stale.
    fn forget_deletions(&mut self) {
        match self.in_flight.front() {
            None => self.deleted.clear(),
            Some(oldest) if self.deleted.len() > 1024 => {
                let oldest = oldest.sent_after;
                self.deleted.retain(|_, deleted| *deleted > oldest);
            }
            Some(_) => {}
        }
    }

    /// Applies a watch event.
    fn on_event(&mut self, event: WatchEvent) -> Result<(), CacheError> {
        self.events_seen += 1;
        match event {
            WatchEvent::Node { event_type, path } => {
                // The parent's stat changed with its children (the parent may be cached where
                // the child is not: past the depth limit, or refused by the filter).
                if self.options.stat
                    && matches!(event_type, EventType::NodeCreated | EventType::NodeDeleted)
                    && self.options.depth(&path).is_some_and(|depth| depth > 0)
                {
                    let parent = parent(&path);
                    if self.options.keeps(parent) {
                        if self.options.data {
                            // Read with its data: batched with the other reads.
                            self.queue_read(parent.into());
                        } else {
                            self.read_stat(parent.into());
                        }
                    }
                }
                if !self.options.keeps(&path) {
                    return Ok(());
                }
                match event_type {
                    EventType::NodeCreated | EventType::NodeDataChanged => {
                        self.queue_read(path.as_str().into());
                    }
                    EventType::NodeDeleted => {
                        if !self.in_flight.is_empty() {
                            self.deleted.insert(path.as_str().into(), self.events_seen);
                        }
                        self.update(|_, s| s.remove(&path));
                    }
                    // A persistent watch on the root alone (depth 0): its stat changed.
                    EventType::NodeChildrenChanged if self.options.stat => {
                        self.read_stat(path.as_str().into());
                    }
                    _ => {}
                }
                Ok(())
            }
            WatchEvent::PossiblyMissedEvents | WatchEvent::Lagged(_) => {
                tracing::debug!(root = %self.options.root, "cache resynchronizing");
                self.start_walk();
                Ok(())
            }
            WatchEvent::SessionEnded(state) => Err(self.failed(state)),
            _ => Ok(()),
        }
    }

    /// Reads the node at `path` for an event, with the other reads queued until the events
    /// that came together are taken ([`Follower::flush`]); once for several events.
    fn queue_read(&mut self, path: Box<str>) {
        if self.queued.insert(path.clone()) {
            self.pending.push(path);
        }
    }

    /// Sends the queued event reads: alone, or together in multi-reads.
    fn flush(&mut self) {
        self.queued.clear();
        let pending = std::mem::take(&mut self.pending);
        if pending.len() == 1 || !self.options.data {
            for path in pending {
                self.read_node(path, Purpose::Event);
            }
            return;
        }
        let mut pending = pending.into_iter().peekable();
        while pending.peek().is_some() {
            let batch: Vec<Box<str>> = pending.by_ref().take(BATCH).collect();
            self.read_batch(batch, Purpose::Event);
        }
    }

    fn failed(&self, state: zk_client::SessionState) -> CacheError {
        let error = AddWatch::new(self.options.root.clone(), AddWatchMode::PersistentRecursive)
            .fail(state.terminal_error());
        CacheError::Zk {
            root: self.options.root.clone(),
            source: error.into(),
        }
    }

    /// Waits for the next thing to do.
    async fn next(&mut self, events: &mut Events) -> Woken {
        poll_fn(|cx| {
            {
                let mut state = self.shared.lock();
                if state.task != self.task {
                    return Poll::Ready(Woken::Close);
                }
                state.task_waker = Some(cx.waker().clone());
            }
            // The events that came together first, so that their reads go together.
            if self.in_flight_reads + self.pending.len() < WINDOW {
                match events.as_mut().poll_next(cx) {
                    Poll::Ready(Some(event)) => return Poll::Ready(Woken::Event(event)),
                    Poll::Ready(None) => return Poll::Ready(Woken::WatchEnded),
                    Poll::Pending => {}
                }
            }
            if !self.pending.is_empty() {
                return Poll::Ready(Woken::Flush);
            }
            if let Some(read) = self.in_flight.front_mut() {
                if let Poll::Ready(reply) = read.reply.as_mut().poll(cx) {
                    if let Some(read) = self.in_flight.pop_front() {
                        return Poll::Ready(Woken::Reply(read, reply));
                    }
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Follows the subtree until this task must stop; says why.
    async fn run(mut self) -> CacheError {
        let root = self.options.root.clone();
        let mode = if self.options.max_depth == Some(0) {
            AddWatchMode::Persistent
        } else {
            AddWatchMode::PersistentRecursive
        };
        // The watch first: every change after it is an event, so the walk misses nothing.
        let mut events = loop {
            match self.zk.add_watch(&root, mode).await {
                Ok(events) => break events,
                Err(e) if outcome_unknown(e.common()) => reconnected(&self.zk).await,
                Err(e) => {
                    return CacheError::Zk {
                        root,
                        source: e.into(),
                    }
                }
            }
            if !self.current() {
                return CacheError::Closed { root };
            }
        };
        self.start_walk();
        loop {
            self.advance_walk();
            match self.next(&mut events).await {
                Woken::Close => return CacheError::Closed { root },
                Woken::Reply(read, reply) => {
                    if let Err(e) = self.apply(read, reply) {
                        return CacheError::Zk { root, source: e };
                    }
                }
                Woken::Event(event) => {
                    if let Err(e) = self.on_event(event) {
                        return e;
                    }
                }
                Woken::Flush => self.flush(),
                Woken::WatchEnded if !self.zk.state().is_terminal() => {
                    return CacheError::WatchRemoved { root }
                }
                Woken::WatchEnded => return self.failed(self.zk.state()),
            }
        }
    }
}

fn children_reply(result: Result<(Vec<String>, Stat), OpError<GetChildrenError>>) -> Reply {
    Reply::Children(match result {
        Ok(listed) => Ok(Some(listed)),
        Err(e) if *e.kind() == GetChildrenError::NoNode => Ok(None),
        Err(e) if *e.kind() == GetChildrenError::NoAuth => Ok(unreadable(e.path())),
        Err(e) => Err(e.into()),
    })
}

/// The path of `name` under `parent`.
fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The parent of `path` (`/` for a top-level node).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// Configures a [`TreeCache`] before it starts ([`TreeCache::builder`]).
pub struct CacheBuilder<C> {
    zk: C,
    options: Options,
}

impl<C: Zk> CacheBuilder<C> {
    /// Whether the cache keeps each node's data (default: yes).
    pub fn data(mut self, keep: bool) -> Self {
        self.options.data = keep;
        self
    }

    /// Whether the cache keeps each node's stat (default: yes).
    pub fn stat(mut self, keep: bool) -> Self {
        self.options.stat = keep;
        self
    }

    /// How deep below the root the cache goes: 0 is the root alone, 1 its children, ...
    /// (default: the whole subtree).
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.options.max_depth = Some(depth);
        self
    }

    /// Which nodes the cache keeps: a node is kept when `keep` accepts it and each of its
    /// ancestors below the root (the root is always kept); the subtree of a node it refuses
    /// is not looked at.
    pub fn filter(mut self, keep: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.options.filter = Some(Arc::new(keep));
        self
    }

    /// How many unread events the cache keeps (default [`DEFAULT_CACHE_EVENTS`]); past it,
    /// new events are dropped and [`CacheEvent::Lagged`] takes their place. 0 keeps none:
    /// for a cache read only through its snapshot.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.options.event_capacity = capacity;
        self
    }

    /// Starts the cache: its task loads the subtree, then follows it.
    pub fn start(self) -> TreeCache<C> {
        let options = Arc::new(self.options);
        let shared = Arc::new(Cell::new(CacheState {
            nodes: BTreeMap::new(),
            events: VecDeque::new(),
            event_capacity: options.event_capacity,
            dropped: 0,
            initialized: false,
            ended: None,
            task: 0,
            task_waker: None,
            resyncs: 0,
            running: 0,
        }));
        let cache = TreeCache {
            shared,
            options,
            _client: std::marker::PhantomData,
        };
        cache.spawn(self.zk, false);
        cache
    }
}

/// A local, always-current copy of the subtree under a path (see the module docs).
///
/// Read it without a round trip ([`TreeCache::get`], [`TreeCache::children`],
/// [`TreeCache::snapshot`]), follow its changes ([`TreeCache::next_event`]). When the session
/// ends the cache ends with a [`CacheError`], keeping what it held; [`TreeCache::restart`]
/// follows the subtree again on a new session.
///
/// # Example: following a configuration subtree
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::cache::{CacheEvent, TreeCache};
/// use zk_tokio::CreateMode;
///
/// client.create("/config", &b""[..], CreateMode::Persistent).await?;
/// client.create("/config/db", &b"host=a"[..], CreateMode::Persistent).await?;
/// let cache = TreeCache::new(client.clone(), "/config");
/// cache.wait_initialized().await?;
/// assert_eq!(cache.children("/config"), Some(vec!["db".to_owned()]));
///
/// client.set_data("/config/db", &b"host=b"[..], None).await?;
/// loop {
///     match cache.next_event().await {
///         Some(CacheEvent::Updated { path, node }) if path == "/config/db" => {
///             assert_eq!(node.data().map(|d| &d[..]), Some(&b"host=b"[..]));
///             break;
///         }
///         Some(_) => continue,
///         None => panic!("the cache ended: {:?}", cache.ended()),
///     }
/// }
/// assert_eq!(cache.get("/config/db").and_then(|n| n.data().cloned()), Some("host=b".into()));
/// # Ok(()) });
/// ```
pub struct TreeCache<C> {
    shared: Arc<Cell<CacheState>>,
    options: Arc<Options>,
    /// The client type [`TreeCache::restart`] takes.
    _client: std::marker::PhantomData<fn(C)>,
}

impl<C> std::fmt::Debug for TreeCache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("TreeCache")
            .field("root", &self.options.root)
            .field("nodes", &state.nodes.len())
            .field("initialized", &state.initialized)
            .field("ended", &state.ended)
            .finish_non_exhaustive()
    }
}

impl<C: Zk> TreeCache<C> {
    /// A cache of the subtree at `root`, with the default options, started.
    pub fn new(zk: C, root: impl Into<String>) -> TreeCache<C> {
        TreeCache::builder(zk, root).start()
    }

    /// A cache of the subtree at `root`, to configure before it starts.
    pub fn builder(zk: C, root: impl Into<String>) -> CacheBuilder<C> {
        CacheBuilder {
            zk,
            options: Options {
                root: root.into(),
                data: true,
                stat: true,
                max_depth: None,
                filter: None,
                event_capacity: DEFAULT_CACHE_EVENTS,
            },
        }
    }

    /// Starts a task following the subtree on `zk`, replacing the one before.
    fn spawn(&self, zk: C, resuming: bool) {
        let task = self.shared.update(|s| {
            s.task += 1;
            s.running += 1;
            s.ended = None;
            if let Some(waker) = s.task_waker.take() {
                waker.wake();
            }
            s.task
        });
        let follower = Follower {
            zk: zk.clone(),
            shared: self.shared.clone(),
            options: self.options.clone(),
            task,
            in_flight: VecDeque::new(),
            in_flight_reads: 0,
            pending: Vec::new(),
            queued: std::collections::HashSet::new(),
            events_seen: 0,
            deleted: HashMap::new(),
            walk: 0,
            to_visit: VecDeque::new(),
            walk_reads: 0,
            walking: false,
            needs_walk: false,
            resuming,
        };
        let shared = self.shared.clone();
        let spawned = zk.spawn(Box::pin(async move {
            let ended = follower.run().await;
            shared.update(|s| {
                s.running -= 1;
                if s.task == task {
                    tracing::info!(error = %ended, "cache ended");
                    s.ended = Some(ended);
                }
            });
        }));
        if let Err(e) = spawned {
            let root = self.options.root.clone();
            self.shared.update(|s| {
                s.running -= 1;
                s.ended = Some(CacheError::NoTask {
                    root,
                    reason: e.to_string(),
                })
            });
        }
    }

    /// Follows the subtree again on `zk` (a new session, after this one ended): the cache
    /// walks the subtree, emits the differences with what it holds, then
    /// [`CacheEvent::Resynchronized`]. A task still following on the old session stops.
    pub fn restart(&self, zk: C) {
        let resuming = self.shared.lock().initialized;
        self.spawn(zk, resuming);
    }

    /// The cache's root.
    pub fn root(&self) -> &str {
        &self.options.root
    }

    /// The cached node at `path`.
    pub fn get(&self, path: &str) -> Option<CachedNode> {
        self.shared.lock().nodes.get(path).cloned()
    }

    /// The names of the cached children of `path`, in order; `None` when `path` is not cached.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        let state = self.shared.lock();
        state
            .nodes
            .contains_key(path)
            .then(|| children_of(&state.nodes, path))
    }

    /// How many nodes the cache holds.
    pub fn len(&self) -> usize {
        self.shared.lock().nodes.len()
    }

    /// Whether the cache holds no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every cached node, by path.
    pub fn snapshot(&self) -> BTreeMap<String, CachedNode> {
        let state = self.shared.lock();
        state
            .nodes
            .iter()
            .map(|(path, node)| (path.to_string(), node.clone()))
            .collect()
    }

    /// Whether the initial load is complete.
    pub fn is_initialized(&self) -> bool {
        self.shared.lock().initialized
    }

    /// How many walks after missed events the cache has completed.
    pub fn resyncs(&self) -> u64 {
        self.shared.lock().resyncs
    }

    /// Waits until the initial load is complete; fails when the cache ended before.
    pub async fn wait_initialized(&self) -> Result<(), CacheError> {
        poll_fn(|cx| {
            self.shared
                .poll_state(cx, |s| match (&s.ended, s.initialized) {
                    (_, true) => Some(Ok(())),
                    (Some(ended), false) => Some(Err(ended.clone())),
                    (None, false) => None,
                })
        })
        .await
    }

    /// The next change; `None` once the cache ended and every change was taken.
    pub async fn next_event(&self) -> Option<CacheEvent> {
        poll_fn(|cx| {
            self.shared.poll_state(cx, |s| match s.events.pop_front() {
                Some(event) => Some(Some(event)),
                None if s.ended.is_some() => Some(None),
                None => None,
            })
        })
        .await
    }

    /// The next change if one is waiting.
    pub fn try_next_event(&self) -> Option<CacheEvent> {
        self.shared.lock().events.pop_front()
    }

    /// Why the cache ended, once it has.
    pub fn ended(&self) -> Option<CacheError> {
        self.shared.lock().ended.clone()
    }

    /// Stops following the subtree and waits until the cache's task has stopped (its watch
    /// is then removed); what the cache holds stays readable.
    pub async fn close(&self) {
        self.stop();
        poll_fn(|cx| {
            self.shared
                .poll_state(cx, |s| (s.running == 0).then_some(()))
        })
        .await;
    }

    /// Tells the task to stop.
    fn stop(&self) {
        let root = self.options.root.clone();
        self.shared.update(|s| {
            s.task += 1;
            if let Some(waker) = s.task_waker.take() {
                waker.wake();
            }
            s.ended.get_or_insert(CacheError::Closed { root });
        });
    }
}

impl<C> Drop for TreeCache<C> {
    /// Stops following the subtree.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.task += 1;
        if let Some(waker) = state.task_waker.take() {
            waker.wake();
        }
    }
}

/// A cache of one node ([`TreeCache`] with depth 0, on a persistent watch of the node alone).
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::cache::NodeCache;
/// use zk_tokio::CreateMode;
///
/// client.create("/feature-flag", &b"on"[..], CreateMode::Persistent).await?;
/// let flag = NodeCache::new(client.clone(), "/feature-flag");
/// flag.wait_initialized().await?;
/// assert_eq!(flag.node().and_then(|n| n.data().cloned()), Some("on".into()));
/// # Ok(()) });
/// ```
#[derive(Debug)]
pub struct NodeCache<C>(TreeCache<C>);

impl<C: Zk> NodeCache<C> {
    /// A cache of the node at `path`, started.
    pub fn new(zk: C, path: impl Into<String>) -> NodeCache<C> {
        NodeCache(TreeCache::builder(zk, path).max_depth(0).start())
    }

    /// The node, when it exists.
    pub fn node(&self) -> Option<CachedNode> {
        self.0.get(self.0.root())
    }
}

impl<C> std::ops::Deref for NodeCache<C> {
    type Target = TreeCache<C>;

    fn deref(&self) -> &TreeCache<C> {
        &self.0
    }
}

/// A cache of a node's children ([`TreeCache`] with depth 1).
///
/// # Example
///
/// ```
/// # zk_tests::doc::on_tokio(|client| async move {
/// use zk_recipes::cache::ChildrenCache;
/// use zk_tokio::CreateMode;
///
/// client.create("/members", &b""[..], CreateMode::Persistent).await?;
/// client.create("/members/a", &b"10.0.0.1"[..], CreateMode::Ephemeral).await?;
/// let members = ChildrenCache::new(client.clone(), "/members");
/// members.wait_initialized().await?;
/// let names: Vec<String> = members.entries().into_iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["a"]);
/// # Ok(()) });
/// ```
#[derive(Debug)]
pub struct ChildrenCache<C>(TreeCache<C>);

impl<C: Zk> ChildrenCache<C> {
    /// A cache of the children of `path`, started.
    pub fn new(zk: C, path: impl Into<String>) -> ChildrenCache<C> {
        ChildrenCache(TreeCache::builder(zk, path).max_depth(1).start())
    }

    /// The children, by name, in order.
    pub fn entries(&self) -> Vec<(String, CachedNode)> {
        let root = self.0.root();
        let state = self.0.shared.lock();
        children_of(&state.nodes, root)
            .into_iter()
            .filter_map(|name| {
                let node = state.nodes.get(join(root, &name).as_str())?.clone();
                Some((name, node))
            })
            .collect()
    }
}

impl<C> std::ops::Deref for ChildrenCache<C> {
    type Target = TreeCache<C>;

    fn deref(&self) -> &TreeCache<C> {
        &self.0
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
    fn options_keep_by_depth_and_filter_on_every_ancestor() {
        let mut options = Options {
            root: "/r".into(),
            data: true,
            stat: true,
            max_depth: Some(2),
            filter: Some(Arc::new(|p: &str| !p.ends_with("/skip"))),
            event_capacity: 0,
        };
        assert!(options.keeps("/r"));
        assert!(options.keeps("/r/a/b"));
        assert!(!options.keeps("/r/a/b/c"), "too deep");
        assert!(!options.keeps("/r/skip/b"), "an ancestor is refused");
        assert!(!options.keeps("/rx/a"), "not in the subtree");
        assert!(options.descends("/r/a") && !options.descends("/r/a/b"));
        options.root = "/".into();
        options.max_depth = None;
        assert!(options.keeps("/x/y") && !options.keeps("/skip/y"));
        assert_eq!(options.depth("/x/y"), Some(2));
    }

    #[test]
    fn a_reader_that_falls_behind_gets_lagged_in_place() {
        let mut state = CacheState {
            nodes: BTreeMap::new(),
            events: VecDeque::new(),
            event_capacity: 2,
            dropped: 0,
            initialized: false,
            ended: None,
            task: 0,
            task_waker: None,
            resyncs: 0,
            running: 0,
        };
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

/// The cache's exact interleavings, in virtual time on the fake server.
#[cfg(test)]
mod interleavings {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use zk_client::ops::{Create, Delete, SetData};

    use super::{CacheEvent, CachedNode, TreeCache};
    use crate::client::Zk;
    use crate::fake::{FakeZk, World};

    fn done<F: std::future::Future>(world: &World, fut: F) -> F::Output {
        let mut fut = Box::pin(fut);
        world.run(&mut fut).expect("completes without outside help")
    }

    fn create(world: &World, zk: &FakeZk, path: &str, data: &str) {
        let data = Bytes::copy_from_slice(data.as_bytes());
        done(world, zk.call(Create::new(path, data))).expect("create");
    }

    fn set(world: &World, zk: &FakeZk, path: &str, data: &str) {
        let data = Bytes::copy_from_slice(data.as_bytes());
        done(world, zk.call(SetData::new(path, data))).expect("set");
    }

    fn delete(world: &World, zk: &FakeZk, path: &str) {
        done(world, zk.call(Delete::new(path))).expect("delete");
    }

    /// The cache's paths and data.
    fn cached<C: Zk>(cache: &TreeCache<C>) -> BTreeMap<String, Bytes> {
        cache
            .snapshot()
            .into_iter()
            .map(|(p, n)| (p, n.data().cloned().unwrap_or_default()))
            .collect()
    }

    /// Applies `events` to `tree`, as a reader of the cache's events would.
    fn replay(tree: &mut BTreeMap<String, CachedNode>, events: Vec<CacheEvent>) {
        for event in events {
            match event {
                CacheEvent::Added { path, node } | CacheEvent::Updated { path, node } => {
                    tree.insert(path, node);
                }
                CacheEvent::Removed { path } => {
                    tree.remove(&path);
                }
                _ => {}
            }
        }
    }

    fn drain<C: Zk>(cache: &TreeCache<C>) -> Vec<CacheEvent> {
        std::iter::from_fn(|| cache.try_next_event()).collect()
    }

    #[test]
    fn loads_then_follows_and_its_events_replay_to_its_snapshot() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "root");
        create(&world, &writer, "/r/a", "1");
        create(&world, &writer, "/r/a/b", "2");
        let cache = TreeCache::new(reader.clone(), "/r");
        world.run_tasks();
        assert!(cache.is_initialized());
        assert_eq!(cached(&cache), world.server().tree("/r"));
        let mut replayed = BTreeMap::new();
        let loaded = drain(&cache);
        assert_eq!(loaded.last(), Some(&CacheEvent::Initialized));
        replay(&mut replayed, loaded);

        create(&world, &writer, "/r/c", "3");
        set(&world, &writer, "/r/a", "1b");
        delete(&world, &writer, "/r/a/b");
        world.run_tasks();
        assert_eq!(cached(&cache), world.server().tree("/r"));
        assert_eq!(cache.children("/r"), Some(vec!["a".into(), "c".into()]));
        let stat = cache.get("/r").and_then(|n| n.stat().cloned());
        assert_eq!(
            stat.map(|s| s.num_children),
            Some(2),
            "the parent's stat follows"
        );
        replay(&mut replayed, drain(&cache));
        assert_eq!(replayed, cache.snapshot());
    }

    #[test]
    fn events_missed_while_disconnected_are_found_by_a_walk_that_emits_only_them() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        for name in ["a", "b", "c"] {
            create(&world, &writer, &format!("/r/{name}"), name);
        }
        create(&world, &writer, "/r/b/deep", "d");
        let cache = TreeCache::new(reader.clone(), "/r");
        world.run_tasks();
        let mut replayed = BTreeMap::new();
        replay(&mut replayed, drain(&cache));

        world.server().disconnect(reader.session);
        delete(&world, &writer, "/r/b/deep");
        delete(&world, &writer, "/r/b");
        set(&world, &writer, "/r/c", "c2");
        create(&world, &writer, "/r/d", "d");
        world.run_tasks();
        assert!(cache.get("/r/b").is_some(), "missed while disconnected");
        world.server().reconnect(reader.session);
        world.run_tasks();
        assert_eq!(cached(&cache), world.server().tree("/r"));
        let events = drain(&cache);
        let paths: Vec<(&str, &str)> = events
            .iter()
            .map(|e| match e {
                CacheEvent::Added { path, .. } => ("added", path.as_str()),
                CacheEvent::Updated { path, .. } => ("updated", path.as_str()),
                CacheEvent::Removed { path } => ("removed", path.as_str()),
                CacheEvent::Resynchronized => ("resynchronized", ""),
                _ => ("other", ""),
            })
            .filter(|(_, path)| *path != "/r")
            .collect();
        assert_eq!(
            paths,
            [
                ("removed", "/r/b/deep"),
                ("removed", "/r/b"),
                ("updated", "/r/c"),
                ("added", "/r/d"),
                ("resynchronized", "")
            ],
            "exactly the differences"
        );
        assert_eq!(cache.resyncs(), 1);
        replay(&mut replayed, events);
        assert_eq!(replayed, cache.snapshot());
    }

    #[test]
    fn a_read_sent_before_a_deletion_is_dropped() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        create(&world, &writer, "/r/x", "1");
        let cache = TreeCache::new(reader.clone(), "/r");
        world.run_tasks();

        // The cache reads /x for the change; its reply (/x with "2") comes after /x is gone.
        world.server().hold(reader.session);
        set(&world, &writer, "/r/x", "2");
        world.run_tasks();
        delete(&world, &writer, "/r/x");
        world.run_tasks();
        world.server().release(reader.session);
        world.run_tasks();
        assert_eq!(
            cache.get("/r/x"),
            None,
            "the stale read did not bring /x back"
        );
        assert_eq!(cached(&cache), world.server().tree("/r"));
    }

    #[test]
    fn a_session_end_ends_the_cache_which_keeps_its_nodes_and_restarts_when_asked() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        create(&world, &writer, "/r/a", "1");
        let cache = TreeCache::new(reader.clone(), "/r");
        world.run_tasks();
        drain(&cache);

        world.server().expire(reader.session);
        world.run_tasks();
        let ended = cache.ended().expect("ended");
        assert!(
            ended.to_string().contains("session expired"),
            "typed and named: {ended}"
        );
        assert_eq!(
            cache.get("/r/a").and_then(|n| n.data().cloned()),
            Some("1".into())
        );
        assert_eq!(done(&world, cache.next_event()), None, "no more events");

        set(&world, &writer, "/r/a", "2");
        create(&world, &writer, "/r/b", "3");
        cache.restart(world.client());
        world.run_tasks();
        assert!(cache.ended().is_none());
        assert_eq!(cached(&cache), world.server().tree("/r"));
        let events = drain(&cache);
        assert_eq!(events.last(), Some(&CacheEvent::Resynchronized));
        assert!(!events.contains(&CacheEvent::Initialized));
    }

    #[test]
    fn depth_and_filter_limit_what_is_read_and_kept() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        create(&world, &writer, "/r/keep", "");
        create(&world, &writer, "/r/keep/deep", "");
        create(&world, &writer, "/r/skip", "");
        create(&world, &writer, "/r/skip/x", "");
        let cache = TreeCache::builder(reader.clone(), "/r")
            .max_depth(1)
            .filter(|p| !p.ends_with("/skip"))
            .stat(false)
            .start();
        world.run_tasks();
        let paths: Vec<String> = cache.snapshot().into_keys().collect();
        assert_eq!(paths, ["/r", "/r/keep"]);
        assert!(cache.get("/r").is_some_and(|n| n.stat().is_none()));
        create(&world, &writer, "/r/keep/other", "");
        create(&world, &writer, "/r/new", "n");
        world.run_tasks();
        let paths: Vec<String> = cache.snapshot().into_keys().collect();
        assert_eq!(paths, ["/r", "/r/keep", "/r/new"]);
    }

    #[test]
    fn a_walk_whose_read_is_lost_does_not_count_until_walked_again() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        create(&world, &writer, "/r/a", "1");
        world.server().disconnect(reader.session);
        world.server().fail_next_call(reader.session);
        let cache = TreeCache::new(reader.clone(), "/r");
        world.run_tasks();
        assert!(
            !cache.is_initialized(),
            "the root's read was lost: nothing is known"
        );
        assert!(cache.is_empty());
        world.server().reconnect(reader.session);
        world.run_tasks();
        assert!(cache.is_initialized());
        assert_eq!(cached(&cache), world.server().tree("/r"));
    }

    #[test]
    fn a_parent_stat_follows_children_past_the_depth_limit() {
        let world = World::default();
        let (writer, reader) = (world.client(), world.client());
        create(&world, &writer, "/r", "");
        create(&world, &writer, "/r/a", "");
        let cache = TreeCache::builder(reader.clone(), "/r")
            .max_depth(1)
            .start();
        world.run_tasks();
        let children = |cache: &TreeCache<FakeZk>| {
            cache
                .get("/r/a")
                .and_then(|n| n.stat().map(|s| s.num_children))
        };
        assert_eq!(children(&cache), Some(0));
        create(&world, &writer, "/r/a/x", "");
        world.run_tasks();
        assert_eq!(
            children(&cache),
            Some(1),
            "a child past the limit changes its parent"
        );
        assert!(cache.get("/r/a/x").is_none());
        delete(&world, &writer, "/r/a/x");
        world.run_tasks();
        assert_eq!(children(&cache), Some(0));
    }

    /// Random interleavings (seeded, bounded): a writer's creates, sets and deletes, the
    /// reader's replies held back and released, its connection lost and back, its tasks run
    /// at random points. Whatever the interleaving, once all is delivered the cache equals the
    /// server's tree and its events replay to its snapshot.
    #[test]
    fn random_interleavings_converge_and_replay() {
        for seed in 1..=100u64 {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut below = |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let world = World::default();
            let (writer, reader) = (world.client(), world.client());
            create(&world, &writer, "/r", "");
            let cache = TreeCache::new(reader.clone(), "/r");
            let mut events = Vec::new();
            for step in 0..120 {
                let path = match below(3) {
                    0 => format!("/r/n{}", below(4)),
                    _ => format!("/r/n{}/m{}", below(4), below(3)),
                };
                let data = Bytes::from(format!("{seed}.{step}"));
                match below(10) {
                    0..=2 => {
                        let _ = done(&world, writer.call(Create::new(path, data)));
                    }
                    3..=4 => {
                        let _ = done(&world, writer.call(SetData::new(path, data)));
                    }
                    5..=6 => {
                        let _ = done(&world, writer.call(Delete::new(path)));
                    }
                    7 => {
                        let mut server = world.server();
                        if server.is_held(reader.session) {
                            server.release(reader.session);
                        } else {
                            server.hold(reader.session);
                        }
                    }
                    8 => {
                        let mut server = world.server();
                        if server.is_disconnected(reader.session) {
                            server.reconnect(reader.session);
                        } else {
                            server.disconnect(reader.session);
                            if below(2) == 0 {
                                server.fail_next_call(reader.session);
                            }
                        }
                    }
                    _ => world.run_tasks(),
                }
                events.extend(drain(&cache));
            }
            {
                let mut server = world.server();
                server.release(reader.session);
                if server.is_disconnected(reader.session) {
                    server.reconnect(reader.session);
                }
            }
            world.run_tasks();
            events.extend(drain(&cache));
            assert!(cache.ended().is_none(), "seed {seed}: {:?}", cache.ended());
            assert!(cache.is_initialized(), "seed {seed}");
            assert_eq!(cached(&cache), world.server().tree("/r"), "seed {seed}");
            let mut replayed = BTreeMap::new();
            replay(&mut replayed, events);
            assert_eq!(replayed, cache.snapshot(), "seed {seed}: replay");
        }
    }
}
