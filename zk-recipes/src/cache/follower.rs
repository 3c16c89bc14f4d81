//! The cache's task: sets the watch, walks the subtree, applies events and replies in order,
//! walks again when events may have been missed.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use zk_client::ops::{
    AddWatch, Error, Exists, GetChildren, GetChildrenError, GetData, GetDataError, MultiRead,
    OpError, Operation, ReadResult,
};
use zk_client::proto::{AddWatchMode, ErrorCode, EventType, Stat};
use zk_client::WatchEvent;

use super::options::Options;
use super::tree::{children_of, join, parent, CacheState};
use super::{CacheError, CacheEvent, CachedNode};
use crate::cell::Cell;
use crate::client::{outcome_unknown, reconnected, BoxFuture, Events, Zk};

/// How many reads a cache keeps in flight at most (a batch counts each of its reads).
const WINDOW: usize = 1000;

/// How many nodes a walk reads in one request (a multi-read).
const BATCH: usize = 64;

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
pub(super) struct Follower<C> {
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
    /// The task numbered `task` (see [`CacheState::task`]), following the subtree on `zk`;
    /// `resuming` when the cache was initialized before (a restart).
    pub(super) fn new(
        zk: C,
        shared: Arc<Cell<CacheState>>,
        options: Arc<Options>,
        task: u64,
        resuming: bool,
    ) -> Follower<C> {
        Follower {
            zk,
            shared,
            options,
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
        }
    }

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
    pub(super) async fn run(mut self) -> CacheError {
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
