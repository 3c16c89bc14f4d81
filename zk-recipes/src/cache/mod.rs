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

mod follower;
#[cfg(test)]
mod interleavings;
mod options;
mod tree;

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use zk_client::ops::Error;
use zk_client::proto::Stat;

use crate::cell::Cell;
use crate::client::Zk;
use follower::Follower;
use options::Options;
use tree::{children_of, join, CacheState};

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
        let shared = Arc::new(Cell::new(CacheState::new(options.event_capacity)));
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
        let follower = Follower::new(
            zk.clone(),
            self.shared.clone(),
            self.options.clone(),
            task,
            resuming,
        );
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
        self.shared.next_event().await
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
