//! A fake client for tests of the recipes' exact interleavings: an in-memory ZooKeeper with
//! sessions, ephemeral and sequential nodes, one-shot watches and virtual time, a fault per
//! call when asked (a create applied whose reply is lost; something done just before a call),
//! and a small executor that runs the recipes' futures and tasks until nothing can progress.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use zk_client::ops::{Operation, Paths};
use zk_client::proto::{
    AddWatchMode, Create2Response, CreateMode, ErrorCode, EventType, GetChildren2Response,
    GetDataResponse, MultiOp, MultiResponse, MultiResult, Request, Response, SessionId, Stat,
    StatResponse, Zxid,
};
use zk_client::session::Chroot;
use zk_client::{CommonError, SessionState, WatchEvent};

use crate::client::{
    AddedWatch, BoxFuture, Events, Fire, Fired, States, Watched, WatchedChildren, Zk,
};

#[derive(Debug, Clone)]
struct Node {
    data: Option<Bytes>,
    czxid: i64,
    version: i32,
    owner: i64,
}

/// A watch set by a session: fires once.
struct Watcher {
    path: String,
    children: bool,
    session: i64,
    fired: Arc<StdMutex<(Option<Fire>, Option<Waker>)>>,
}

/// A persistent (or persistent-recursive) watch set by a session.
struct PersistentWatcher {
    root: String,
    recursive: bool,
    session: i64,
    queue: Arc<StdMutex<EventQueue>>,
}

/// A persistent watch's undelivered events.
#[derive(Default)]
struct EventQueue {
    events: std::collections::VecDeque<WatchEvent>,
    closed: bool,
    waker: Option<Waker>,
}

impl EventQueue {
    fn push(&mut self, event: WatchEvent) {
        self.events.push_back(event);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// What the test does to the server just before a call of this session.
type Hook = Box<dyn FnOnce(&mut Server) + Send>;

#[derive(Default)]
pub(crate) struct Server {
    nodes: BTreeMap<String, Node>,
    zxid: i64,
    /// Sequence counters per parent.
    sequences: HashMap<String, i32>,
    watchers: Vec<Watcher>,
    /// Each session's state and the wakers of its observers.
    sessions: HashMap<i64, SessionCell>,
    /// Sessions whose next create is applied and answered with ConnectionLoss.
    lose_create_reply: Vec<i64>,
    /// Hooks run before a session's next call.
    before_call: Vec<(i64, Hook)>,
    /// Virtual time, and the wakers of timers.
    now: Duration,
    timers: Vec<(Duration, Waker)>,
    /// Tasks spawned by the recipes.
    tasks: Vec<BoxFuture<()>>,
    /// How many times each session listed children.
    pub listings: HashMap<i64, usize>,
    /// Persistent watches.
    persistent: Vec<PersistentWatcher>,
    /// Sessions whose connection is down: their persistent watches miss events.
    disconnected: std::collections::HashSet<i64>,
    /// Sessions whose replies are held back (applied at the call, delivered on release).
    held: std::collections::HashSet<i64>,
    /// Sessions whose next call fails with ConnectionLoss, unsent.
    fail_next: Vec<i64>,
    /// How many watches fired, per session.
    pub fired: HashMap<i64, usize>,
    next_session: i64,
}

#[derive(Default)]
struct SessionCell {
    state: Vec<SessionState>,
    wakers: Vec<Waker>,
}

impl Server {
    /// Delivers `event_type` on `path` to the persistent watches it concerns.
    fn notify(&mut self, event_type: EventType, path: &str) {
        let parent = Server::parent(path);
        for w in &self.persistent {
            if self.disconnected.contains(&w.session) {
                continue;
            }
            let under = path == w.root
                || (w.root == "/" && path != "/")
                || path.starts_with(&format!("{}/", w.root));
            let event = if (w.recursive && under) || (!w.recursive && path == w.root) {
                Some(event_type)
            } else if !w.recursive
                && parent == w.root
                && matches!(event_type, EventType::NodeCreated | EventType::NodeDeleted)
            {
                Some(EventType::NodeChildrenChanged)
            } else {
                None
            };
            if let Some(event_type) = event {
                let path = if event_type == EventType::NodeChildrenChanged {
                    w.root.clone()
                } else {
                    path.to_owned()
                };
                let mut queue = w.queue.lock().unwrap_or_else(|e| e.into_inner());
                queue.push(WatchEvent::Node { event_type, path });
            }
        }
    }

    /// The nodes at and under `root`, with their data.
    pub fn tree(&self, root: &str) -> BTreeMap<String, Bytes> {
        self.nodes
            .iter()
            .filter(|(p, _)| *p == root || root == "/" || p.starts_with(&format!("{root}/")))
            .map(|(p, n)| (p.clone(), n.data.clone().unwrap_or_default()))
            .collect()
    }

    /// Holds back the replies to `session`'s calls (each is applied when made) until
    /// [`Server::release`].
    pub fn hold(&mut self, session: i64) {
        self.held.insert(session);
    }

    /// Whether `session`'s replies are held back.
    pub fn is_held(&self, session: i64) -> bool {
        self.held.contains(&session)
    }

    /// Whether `session`'s connection is down.
    pub fn is_disconnected(&self, session: i64) -> bool {
        self.disconnected.contains(&session)
    }

    /// Delivers `session`'s held replies.
    pub fn release(&mut self, session: i64) {
        self.held.remove(&session);
    }

    /// The connection of `session` goes down: its state says so, and its persistent watches
    /// miss what happens until [`Server::reconnect`].
    pub fn disconnect(&mut self, session: i64) {
        self.disconnected.insert(session);
        self.set_state(session, SessionState::Disconnected);
    }

    /// Fails `session`'s next call with ConnectionLoss, unsent.
    pub fn fail_next_call(&mut self, session: i64) {
        self.fail_next.push(session);
    }

    /// The connection of `session` is back: its persistent watches are set again, and say
    /// that events may have been missed.
    pub fn reconnect(&mut self, session: i64) {
        self.disconnected.remove(&session);
        self.set_state(session, SessionState::Connected);
        for w in self.persistent.iter().filter(|w| w.session == session) {
            let mut queue = w.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(WatchEvent::PossiblyMissedEvents);
        }
    }

    fn fire(&mut self, path: &str, children: bool, why: Fire) {
        let mut kept = Vec::new();
        for w in self.watchers.drain(..) {
            if w.path == path && w.children == children {
                *self.fired.entry(w.session).or_default() += 1;
                let mut fired = w.fired.lock().unwrap_or_else(|e| e.into_inner());
                fired.0 = Some(why);
                if let Some(waker) = fired.1.take() {
                    waker.wake();
                }
            } else {
                kept.push(w);
            }
        }
        self.watchers = kept;
    }

    fn parent(path: &str) -> String {
        match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => path[..i].to_owned(),
        }
    }

    fn stat(&self, node: &Node, path: &str) -> Stat {
        let children = self
            .nodes
            .keys()
            .filter(|k| Server::parent(k) == path && *k != path)
            .count();
        Stat {
            czxid: Zxid(node.czxid),
            version: node.version,
            ephemeral_owner: SessionId(node.owner),
            data_length: node.data.as_ref().map_or(0, Bytes::len) as i32,
            num_children: children as i32,
            ..Stat::default()
        }
    }

    fn delete_node(&mut self, path: &str) {
        self.nodes.remove(path);
        self.notify(EventType::NodeDeleted, path);
        self.fire(path, false, Fire::Deleted);
        self.fire(&Server::parent(path), true, Fire::Other);
    }

    /// Ends `session` as the server does on expiry: its ephemerals go, its watches with it.
    pub fn expire(&mut self, session: i64) {
        let owned: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        for path in owned {
            self.delete_node(&path);
        }
        let mut ended = Vec::new();
        self.watchers.retain(|w| {
            let mine = w.session == session;
            if mine {
                ended.push(w.fired.clone());
            }
            !mine
        });
        for fired in ended {
            let mut fired = fired.lock().unwrap_or_else(|e| e.into_inner());
            fired.0 = Some(Fire::Other);
            if let Some(waker) = fired.1.take() {
                waker.wake();
            }
        }
        for w in self.persistent.iter().filter(|w| w.session == session) {
            let mut queue = w.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.push(WatchEvent::SessionEnded(SessionState::Expired));
            queue.closed = true;
        }
        self.persistent.retain(|w| w.session != session);
        self.set_state(session, SessionState::Expired);
    }

    fn set_state(&mut self, session: i64, state: SessionState) {
        let cell = self.sessions.entry(session).or_default();
        cell.state.push(state);
        cell.wakers.drain(..).for_each(Waker::wake);
    }

    fn state(&self, session: i64) -> SessionState {
        self.sessions
            .get(&session)
            .and_then(|c| c.state.last().copied())
            .unwrap_or(SessionState::Connected)
    }

    /// Runs `request` for `session`.
    fn execute(&mut self, session: i64, request: &Request) -> Result<Response, ErrorCode> {
        match request {
            Request::Create2(c) | Request::CreateContainer(c) => {
                let parent = Server::parent(&c.path);
                if parent != "/" && !self.nodes.contains_key(&parent) {
                    return Err(ErrorCode::NoNode);
                }
                let mode = CreateMode::from_flags(c.flags).unwrap_or(CreateMode::Persistent);
                let mut path = c.path.clone();
                let sequence = self.sequences.entry(parent.clone()).or_default();
                if mode.is_sequential() {
                    path = format!("{path}{:010}", *sequence);
                }
                *sequence += 1;
                if self.nodes.contains_key(&path) {
                    return Err(ErrorCode::NodeExists);
                }
                self.zxid += 1;
                let node = Node {
                    data: c.data.clone(),
                    czxid: self.zxid,
                    version: 0,
                    owner: if mode.is_ephemeral() { session } else { 0 },
                };
                let stat = self.stat(&node, &path);
                self.nodes.insert(path.clone(), node);
                self.notify(EventType::NodeCreated, &path);
                self.fire(&path, false, Fire::Other);
                self.fire(&parent, true, Fire::Other);
                Ok(Response::Create2(Create2Response { path, stat }))
            }
            Request::Delete(d) => {
                let Some(node) = self.nodes.get(&d.path) else {
                    return Err(ErrorCode::NoNode);
                };
                if d.version >= 0 && node.version != d.version {
                    return Err(ErrorCode::BadVersion);
                }
                if self
                    .nodes
                    .keys()
                    .any(|k| Server::parent(k) == d.path && *k != d.path)
                {
                    return Err(ErrorCode::NotEmpty);
                }
                self.zxid += 1;
                self.delete_node(&d.path);
                Ok(Response::Empty)
            }
            Request::Exists(r) => match self.nodes.get(&r.path) {
                Some(node) => Ok(Response::Stat(StatResponse {
                    stat: self.stat(node, &r.path),
                })),
                None => Err(ErrorCode::NoNode),
            },
            Request::GetData(r) => match self.nodes.get(&r.path) {
                Some(node) => Ok(Response::GetData(GetDataResponse {
                    data: node.data.clone(),
                    stat: self.stat(node, &r.path),
                })),
                None => Err(ErrorCode::NoNode),
            },
            Request::GetChildren2(r) => match self.nodes.get(&r.path) {
                Some(node) => {
                    let children = self
                        .nodes
                        .keys()
                        .filter(|k| Server::parent(k) == r.path && **k != r.path)
                        .map(|k| k.rsplit('/').next().unwrap_or_default().to_owned())
                        .collect();
                    Ok(Response::GetChildren2(GetChildren2Response {
                        children,
                        stat: self.stat(node, &r.path),
                    }))
                }
                None => Err(ErrorCode::NoNode),
            },
            Request::SetData(r) => {
                let Some(node) = self.nodes.get_mut(&r.path) else {
                    return Err(ErrorCode::NoNode);
                };
                if r.version >= 0 && node.version != r.version {
                    return Err(ErrorCode::BadVersion);
                }
                node.version += 1;
                node.data = r.data.clone();
                let node = node.clone();
                self.notify(EventType::NodeDataChanged, &r.path);
                self.fire(&r.path, false, Fire::Other);
                Ok(Response::Stat(StatResponse {
                    stat: self.stat(&node, &r.path),
                }))
            }
            Request::MultiRead(m) => {
                let results = m
                    .ops
                    .iter()
                    .map(|op| match op {
                        MultiOp::GetData(r) => match self.nodes.get(&r.path) {
                            Some(node) => MultiResult::GetData(GetDataResponse {
                                data: node.data.clone(),
                                stat: self.stat(node, &r.path),
                            }),
                            None => MultiResult::Error(ErrorCode::NoNode),
                        },
                        other => panic!("the fake server does not read {other:?} in a multi"),
                    })
                    .collect();
                Ok(Response::Multi(MultiResponse { results }))
            }
            other => panic!("the fake server does not do {:?}", other.opcode()),
        }
    }
}

/// The world of a test: the server, and the executor of every future.
#[derive(Clone, Default)]
pub(crate) struct World {
    server: Arc<StdMutex<Server>>,
}

impl World {
    pub fn server(&self) -> StdGuard<'_, Server> {
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client with a session of its own.
    pub fn client(&self) -> FakeZk {
        let mut server = self.server();
        server.next_session += 1;
        let session = server.next_session;
        server.set_state(session, SessionState::Connected);
        FakeZk {
            world: self.clone(),
            session,
        }
    }

    /// Advances virtual time by `by`, waking the timers due.
    pub fn advance(&self, by: Duration) {
        let mut server = self.server();
        server.now += by;
        let now = server.now;
        let (due, kept): (Vec<_>, Vec<_>) = server.timers.drain(..).partition(|(at, _)| *at <= now);
        server.timers = kept;
        drop(server);
        due.into_iter().for_each(|(_, waker)| waker.wake());
    }

    /// Polls `fut` and every spawned task until nothing progresses; `Some` if `fut` completed.
    pub fn run<F: Future + Unpin>(&self, fut: &mut F) -> Option<F::Output> {
        let waker = Waker::from(Arc::new(Nothing));
        let mut cx = Context::from_waker(&waker);
        let mut out = None;
        for _ in 0..1000 {
            if out.is_none() {
                if let Poll::Ready(o) = Pin::new(&mut *fut).poll(&mut cx) {
                    out = Some(o);
                }
            }
            let mut tasks = std::mem::take(&mut self.server().tasks);
            tasks.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
            let mut server = self.server();
            let spawned = std::mem::take(&mut server.tasks);
            server.tasks = tasks;
            server.tasks.extend(spawned);
        }
        out
    }
}

impl World {
    /// Runs the spawned tasks until they wait for something the test does.
    pub fn run_tasks(&self) {
        let _ = self.run(&mut std::future::pending::<()>());
    }
}

/// A waker that does nothing: the executor polls everything in rounds.
struct Nothing;

impl Wake for Nothing {
    fn wake(self: Arc<Self>) {}
}

/// A session of the fake server.
#[derive(Clone)]
pub(crate) struct FakeZk {
    world: World,
    pub session: i64,
}

impl std::fmt::Debug for FakeZk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FakeZk({})", self.session)
    }
}

impl FakeZk {
    /// Applies this session's next create, and answers it with ConnectionLoss.
    pub fn lose_next_create_reply(&self) {
        self.world.server().lose_create_reply.push(self.session);
    }

    /// Runs `hook` on the server just before this session's next call.
    pub fn before_next_call(&self, hook: impl FnOnce(&mut Server) + Send + 'static) {
        self.world
            .server()
            .before_call
            .push((self.session, Box::new(hook)));
    }

    fn request<O: Operation>(&self, op: &O) -> Result<Result<Response, CommonError>, O::Error> {
        let chroot = Chroot::none();
        let request = match op.prepare(&mut Paths::new(&chroot)) {
            Ok(prepared) => prepared.request().clone(),
            Err(e) => return Err(op.fail(e)),
        };
        let mut server = self.world.server();
        if let Some(i) = server
            .before_call
            .iter()
            .position(|(s, _)| *s == self.session)
        {
            let (_, hook) = server.before_call.remove(i);
            hook(&mut server);
        }
        let state = server.state(self.session);
        if state.is_terminal() {
            return Ok(Err(state.terminal_error()));
        }
        if let Some(i) = server.fail_next.iter().position(|s| *s == self.session) {
            server.fail_next.remove(i);
            return Ok(Err(CommonError::ConnectionLoss));
        }
        if matches!(request, Request::GetChildren(_) | Request::GetChildren2(_)) {
            *server.listings.entry(self.session).or_default() += 1;
        }
        let result = server.execute(self.session, &request);
        let is_create = matches!(request, Request::Create2(_) | Request::CreateContainer(_));
        if is_create {
            if let Some(i) = server
                .lose_create_reply
                .iter()
                .position(|s| *s == self.session)
            {
                server.lose_create_reply.remove(i);
                return Ok(Err(CommonError::ConnectionLoss));
            }
        }
        Ok(result.map_err(CommonError::Server))
    }

    fn watch(&self, path: &str, children: bool) -> Fired {
        let fired = Arc::new(StdMutex::new((None::<Fire>, None::<Waker>)));
        self.world.server().watchers.push(Watcher {
            path: path.to_owned(),
            children,
            session: self.session,
            fired: fired.clone(),
        });
        Box::pin(std::future::poll_fn(move |cx| {
            let mut fired = fired.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(why) = fired.0 {
                Poll::Ready(why)
            } else {
                fired.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }))
    }
}

impl Zk for FakeZk {
    fn call<O>(&self, op: O) -> BoxFuture<Result<O::Output, O::Error>>
    where
        O: Operation + Send + 'static,
        O::Output: Send,
        O::Error: Send,
    {
        let outcome = match self.request(&op) {
            Ok(result) => op.complete(result),
            Err(e) => Err(e),
        };
        if !self.world.server().held.contains(&self.session) {
            return Box::pin(std::future::ready(outcome));
        }
        let (world, session) = (self.world.clone(), self.session);
        let mut outcome = Some(outcome);
        Box::pin(std::future::poll_fn(move |_| {
            if world.server().held.contains(&session) {
                return Poll::Pending; // The test's executor polls everything in rounds.
            }
            match outcome.take() {
                Some(outcome) => Poll::Ready(outcome),
                None => Poll::Pending,
            }
        }))
    }

    fn send<O>(&self, op: O)
    where
        O: Operation + Send + 'static,
    {
        let _ = self.request(&op);
    }

    fn exists_and_watch(&self, path: &str) -> BoxFuture<Watched> {
        let outcome = self.call(zk_client::ops::Exists::new(path));
        let me = self.clone();
        let path = path.to_owned();
        Box::pin(async move {
            let stat = outcome.await?;
            Ok((stat, me.watch(&path, false)))
        })
    }

    fn add_watch(&self, path: &str, mode: AddWatchMode) -> BoxFuture<AddedWatch> {
        let queue = Arc::new(StdMutex::new(EventQueue::default()));
        let mut server = self.world.server();
        if server.state(self.session).is_terminal() {
            let failed = zk_client::ops::AddWatch::new(path, mode)
                .fail(server.state(self.session).terminal_error());
            return Box::pin(std::future::ready(Err(failed)));
        }
        server.persistent.push(PersistentWatcher {
            root: path.to_owned(),
            recursive: mode == AddWatchMode::PersistentRecursive,
            session: self.session,
            queue: queue.clone(),
        });
        let events = FakeEvents { queue };
        Box::pin(std::future::ready(Ok(Box::pin(events) as Events)))
    }

    fn get_children_and_watch(&self, path: &str) -> BoxFuture<WatchedChildren> {
        let outcome = self.call(zk_client::ops::GetChildren::new(path));
        let me = self.clone();
        let path = path.to_owned();
        Box::pin(async move {
            let (children, _) = outcome.await?;
            Ok((children, me.watch(&path, true)))
        })
    }

    fn spawn(&self, task: BoxFuture<()>) -> std::io::Result<()> {
        self.world.server().tasks.push(task);
        Ok(())
    }

    fn within<F>(&self, limit: Duration, fut: F) -> BoxFuture<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let world = self.world.clone();
        let deadline = world.server().now + limit;
        let mut fut = Box::pin(fut);
        Box::pin(std::future::poll_fn(move |cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            let mut server = world.server();
            if server.now >= deadline {
                return Poll::Ready(None);
            }
            server.timers.push((deadline, cx.waker().clone()));
            Poll::Pending
        }))
    }

    fn state(&self) -> SessionState {
        self.world.server().state(self.session)
    }

    fn states(&self) -> States {
        let seen = self
            .world
            .server()
            .sessions
            .get(&self.session)
            .map_or(0, |c| c.state.len());
        States::fake(FakeStates {
            world: self.world.clone(),
            session: self.session,
            seen,
        })
    }

    fn session_id(&self) -> SessionId {
        SessionId(self.session)
    }

    fn confirmation(&self) -> (Duration, Option<Duration>) {
        (Duration::ZERO, Some(Duration::from_secs(30)))
    }
}

/// A fake persistent watch's events.
struct FakeEvents {
    queue: Arc<StdMutex<EventQueue>>,
}

impl futures_core::Stream for FakeEvents {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match queue.events.pop_front() {
            Some(event) => Poll::Ready(Some(event)),
            None if queue.closed => Poll::Ready(None),
            None => {
                queue.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A fake session's state changes, read in order.
pub(crate) struct FakeStates {
    world: World,
    session: i64,
    seen: usize,
}

impl FakeStates {
    pub fn current(&self) -> SessionState {
        self.world.server().state(self.session)
    }

    pub async fn changed(&mut self) -> Option<SessionState> {
        std::future::poll_fn(|cx| {
            let mut server = self.world.server();
            let cell = server.sessions.entry(self.session).or_default();
            if let Some(state) = cell.state.get(self.seen).copied() {
                self.seen += 1;
                return Poll::Ready(Some(state));
            }
            if cell.state.last().is_some_and(|s| s.is_terminal()) {
                return Poll::Ready(None);
            }
            cell.wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// The recipes' exact interleavings, in virtual time on the fake server.
#[cfg(test)]
mod interleavings {
    use std::time::Duration;

    use bytes::Bytes;
    use zk_client::ops::{Create, GetChildren};
    use zk_client::proto::CreateMode;

    use super::{FakeZk, World};
    use crate::client::Zk;
    use crate::{create_protected, Election, LeadershipEvent, Mutex, Protected};

    /// Runs `fut` to completion on `world` (it must not wait for anything the test does).
    fn done<F: std::future::Future>(world: &World, fut: F) -> F::Output {
        let mut fut = Box::pin(fut);
        world.run(&mut fut).expect("completes without outside help")
    }

    fn children(world: &World, zk: &FakeZk, path: &str) -> Vec<String> {
        done(world, zk.call(GetChildren::new(path)))
            .map(|(c, _)| c)
            .unwrap_or_default()
    }

    #[test]
    fn a_protected_create_whose_reply_is_lost_finds_its_node() {
        let world = World::default();
        let zk = world.client();
        done(&world, zk.call(Create::new("/p", Bytes::new()))).expect("parent");
        for mode in [CreateMode::Ephemeral, CreateMode::EphemeralSequential] {
            zk.lose_next_create_reply();
            let name = format!("{mode:?}");
            let outcome = done(
                &world,
                create_protected(&zk, "/p", &name, Bytes::new(), mode),
            )
            .expect("recovered");
            let Protected::Recovered(node) = outcome else {
                panic!("{mode:?}: not recovered: {outcome:?}");
            };
            let mine: Vec<String> = children(&world, &zk, "/p")
                .into_iter()
                .filter(|c| c.contains(&name))
                .collect();
            assert_eq!(mine.len(), 1, "{mode:?}: {mine:?}");
            assert_eq!(node.stat.ephemeral_owner.0, zk.session);
        }
    }

    #[test]
    fn a_holder_whose_session_expires_hands_the_lock_to_the_next_waiter_only() {
        let world = World::default();
        let (a, b, c) = (world.client(), world.client(), world.client());
        let held = done(&world, Mutex::new(a.clone(), "/lock").acquire()).expect("a holds");
        let (b_mutex, c_mutex) = (
            Mutex::new(b.clone(), "/lock"),
            Mutex::new(c.clone(), "/lock"),
        );
        let mut b_waits = Box::pin(b_mutex.acquire());
        let mut c_waits = Box::pin(c_mutex.acquire());
        assert!(world.run(&mut b_waits).is_none(), "b waits");
        assert!(world.run(&mut c_waits).is_none(), "c waits");
        let fired = |s: i64| world.server().fired.get(&s).copied().unwrap_or(0);
        let (b_before, c_before) = (fired(b.session), fired(c.session));

        world.server().expire(a.session);
        let b_holds = world
            .run(&mut b_waits)
            .expect("b acquires once a's node is gone")
            .expect("b holds");
        assert!(world.run(&mut c_waits).is_none(), "c still waits");
        assert_eq!(fired(b.session) - b_before, 1, "b was woken once");
        assert_eq!(fired(c.session) - c_before, 0, "c was not woken: no herd");
        assert!(b_holds.fencing_token() > held.fencing_token());
        assert!(!held.is_held(), "a's guard knows its session is over");
        drop(held);
        done(&world, b_holds.release()).expect("release");
        let c_holds = world.run(&mut c_waits).expect("c next").expect("c holds");
        done(&world, c_holds.release()).expect("release");
        assert!(children(&world, &a, "/lock").is_empty() || a.state().is_terminal());
        assert!(children(&world, &b, "/lock").is_empty(), "nothing left");
    }

    #[test]
    fn a_predecessor_gone_between_the_listing_and_the_watch_is_noticed() {
        let world = World::default();
        let (a, b) = (world.client(), world.client());
        let held = done(&world, Mutex::new(a.clone(), "/lock").acquire()).expect("a holds");
        let node = held.node().to_owned();
        // b's calls: create, list, then the watch on a's node: a's node goes just before.
        b.before_next_call(move |server| {
            server.before_call.push((
                2,
                Box::new(move |server| {
                    server
                        .before_call
                        .push((2, Box::new(move |server| server.delete_node(&node))));
                }),
            ));
        });
        assert_eq!(b.session, 2);
        let b_holds = done(&world, Mutex::new(b.clone(), "/lock").acquire());
        let b_holds = b_holds.expect("b holds without a wake-up: it listed again");
        done(&world, b_holds.release()).expect("release");
        std::mem::forget(held);
    }

    #[test]
    fn a_timed_out_try_acquire_removes_its_node_in_virtual_time() {
        let world = World::default();
        let (a, b) = (world.client(), world.client());
        let held = done(&world, Mutex::new(a.clone(), "/lock").acquire()).expect("a holds");
        let mutex = Mutex::new(b.clone(), "/lock");
        let mut attempt = Box::pin(mutex.try_acquire(Duration::from_secs(5)));
        assert!(world.run(&mut attempt).is_none(), "waiting");
        assert_eq!(children(&world, &a, "/lock").len(), 2);
        world.advance(Duration::from_secs(5));
        let outcome = world.run(&mut attempt).expect("gave up").expect("no error");
        assert!(outcome.is_none());
        assert_eq!(children(&world, &a, "/lock").len(), 1, "b's node is gone");
        done(&world, held.release()).expect("release");
    }

    #[test]
    fn a_leader_whose_session_expires_is_told_and_the_next_leads() {
        let world = World::default();
        let (a, b) = (world.client(), world.client());
        let first = Election::new(a.clone(), "/election").join(&b"a"[..]);
        let token = done(&world, first.wait_leader()).expect("a leads");
        let second = Election::new(b.clone(), "/election").join(&b"b"[..]);
        let mut b_leads = Box::pin(second.wait_leader());
        assert!(world.run(&mut b_leads).is_none(), "b waits");

        world.server().expire(a.session);
        let b_token = world.run(&mut b_leads).expect("b leads").expect("token");
        assert!(b_token > token);
        assert_eq!(
            done(&world, first.next_event()),
            Some(LeadershipEvent::Gained(token))
        );
        assert_eq!(
            done(&world, first.next_event()),
            Some(LeadershipEvent::Lost)
        );
        assert!(!first.is_leader() && second.is_leader());
    }

    #[test]
    fn a_waiter_whose_predecessor_leaves_waits_for_the_holder_then_takes_over_unlisted() {
        let world = World::default();
        let (a, b, c) = (world.client(), world.client(), world.client());
        let held = done(&world, Mutex::new(a.clone(), "/lock").acquire()).expect("a holds");
        let (b_mutex, c_mutex) = (
            Mutex::new(b.clone(), "/lock"),
            Mutex::new(c.clone(), "/lock"),
        );
        let mut b_waits = Box::pin(b_mutex.acquire());
        let mut c_waits = Box::pin(c_mutex.acquire());
        assert!(world.run(&mut b_waits).is_none(), "b waits");
        assert!(world.run(&mut c_waits).is_none(), "c waits behind b");
        let listed = |s: i64| world.server().listings.get(&s).copied().unwrap_or(0);

        // b gives up (its node goes while a still holds): c must not take the lock.
        drop(b_waits);
        world.run_tasks();
        assert_eq!(children(&world, &a, "/lock").len(), 2, "a's and c's nodes");
        assert!(world.run(&mut c_waits).is_none(), "c still waits: a holds");
        assert!(held.is_held());
        let c_listed = listed(c.session);

        done(&world, held.release()).expect("release");
        let c_holds = world.run(&mut c_waits).expect("c next").expect("c holds");
        assert_eq!(listed(c.session), c_listed, "the hand-over took no listing");
        done(&world, c_holds.release()).expect("release");
        assert!(children(&world, &a, "/lock").is_empty(), "nothing left");
    }

    #[test]
    fn a_reader_waits_for_the_writer_before_it_and_not_for_readers() {
        let world = World::default();
        let (a, b, c) = (world.client(), world.client(), world.client());
        let lock = |zk: &FakeZk| crate::RwLock::new(zk.clone(), "/rw");
        let (a_lock, b_lock, c_lock) = (lock(&a), lock(&b), lock(&c));
        let reading = done(&world, a_lock.read()).expect("a reads");
        let mut b_writes = Box::pin(b_lock.write());
        assert!(
            world.run(&mut b_writes).is_none(),
            "the writer waits for the reader"
        );
        let mut c_reads = Box::pin(c_lock.read());
        assert!(
            world.run(&mut c_reads).is_none(),
            "a reader behind a writer waits"
        );
        done(&world, reading.release()).expect("release");
        let writing = world
            .run(&mut b_writes)
            .expect("b writes")
            .expect("b holds");
        assert!(world.run(&mut c_reads).is_none(), "c waits for the writer");
        done(&world, writing.release()).expect("release");
        let c_reading = world.run(&mut c_reads).expect("c reads").expect("c holds");
        done(&world, c_reading.release()).expect("release");
    }

    #[test]
    fn a_follower_whose_predecessor_leaves_waits_for_the_leader() {
        let world = World::default();
        let (a, b, c) = (world.client(), world.client(), world.client());
        let first = Election::new(a.clone(), "/election").join(&b"a"[..]);
        done(&world, first.wait_leader()).expect("a leads");
        let second = Election::new(b.clone(), "/election").join(&b"b"[..]);
        let third = Election::new(c.clone(), "/election").join(&b"c"[..]);
        world.run_tasks();
        assert_eq!(children(&world, &a, "/election").len(), 3);
        let listed = |s: i64| world.server().listings.get(&s).copied().unwrap_or(0);

        done(&world, second.close());
        world.run_tasks();
        assert!(!third.is_leader(), "the leader still leads");
        assert!(first.is_leader());
        let c_listed = listed(c.session);
        done(&world, first.close());
        done(&world, third.wait_leader()).expect("c leads");
        assert_eq!(listed(c.session), c_listed, "the fail-over took no listing");
        assert!(third.is_leader());
    }
}
