//! What the recipes need from a client, implemented by the async client (zk-tokio,
//! zk-async-std) and, with the `blocking` feature, by zk-blocking's: the recipes are written
//! once, as async code over [`Zk`].

use std::future::Future;
use std::pin::Pin;

use std::time::Duration;

use zk_client::adapter::Runtime;
use zk_client::ops::{AddWatchError, ExistsError, GetChildrenError, OpError, Operation};
use zk_client::proto::{AddWatchMode, EventType, SessionId, Stat};
use zk_client::{CommonError, SessionState, StateWatcher, Watch, WatchEvent};

/// A boxed future the recipes await.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A one-shot watch, as the recipes wait for it: it resolves when the watch fires (or the
/// session ends), with what fired it.
pub type Fired = BoxFuture<Fire>;

/// What fired a one-shot watch, as far as the recipes tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fire {
    /// The watched node was deleted.
    Deleted,
    /// Anything else: the node was created or its data changed, its children changed, or the
    /// watch ended with the session.
    Other,
}

/// What `exists_and_watch` gives: the node's stat (or `None`) and the watch.
pub type Watched = Result<(Option<Stat>, Fired), OpError<ExistsError>>;

/// What `get_children_and_watch` gives: the children's names and the watch.
pub type WatchedChildren = Result<(Vec<String>, Fired), OpError<GetChildrenError>>;

/// A persistent watch's events, in server order, until the watch ends.
pub type Events = Pin<Box<dyn futures_core::Stream<Item = WatchEvent> + Send + 'static>>;

/// What `add_watch` gives: the watch's events.
pub type AddedWatch = Result<Events, OpError<AddWatchError>>;

/// The session's state and its changes, as the recipes follow them.
pub struct States(StatesSource);

enum StatesSource {
    Client(StateWatcher),
    #[cfg(test)]
    Fake(crate::fake::FakeStates),
}

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("States").field(&self.current()).finish()
    }
}

impl States {
    /// The state now.
    pub(crate) fn current(&self) -> SessionState {
        match &self.0 {
            StatesSource::Client(watcher) => watcher.current(),
            #[cfg(test)]
            StatesSource::Fake(fake) => fake.current(),
        }
    }

    /// The next change, in order; `None` once the session's changes ended.
    pub(crate) async fn changed(&mut self) -> Option<SessionState> {
        match &mut self.0 {
            StatesSource::Client(watcher) => watcher.changed().await,
            #[cfg(test)]
            StatesSource::Fake(fake) => fake.changed().await,
        }
    }

    /// Waits until the state (now, or a change) satisfies `pred`; `None` if the changes ended
    /// first.
    pub(crate) async fn wait_for(
        &mut self,
        mut pred: impl FnMut(SessionState) -> bool,
    ) -> Option<SessionState> {
        let now = self.current();
        if pred(now) {
            return Some(now);
        }
        while let Some(state) = self.changed().await {
            if pred(state) {
                return Some(state);
            }
        }
        None
    }

    #[cfg(test)]
    pub(crate) fn fake(fake: crate::fake::FakeStates) -> States {
        States(StatesSource::Fake(fake))
    }
}

/// Keeps [`Zk`] for the workspace's clients.
mod sealed {
    pub trait Sealed {}
    impl<R> Sealed for zk_client::Client<R> {}
    #[cfg(test)]
    impl Sealed for crate::fake::FakeZk {}
    #[cfg(feature = "blocking")]
    impl Sealed for zk_blocking::Client {}
}

/// A client the recipes run on: every client of the workspace is one (the async handle of
/// zk-tokio and zk-async-std, and zk-blocking's client with the `blocking` feature). Sealed:
/// its methods are the recipes' plumbing, not an API.
pub trait Zk: sealed::Sealed + Clone + Send + Sync + 'static {
    #[doc(hidden)]
    /// Submits `op` now; the future resolves with its result.
    fn call<O>(&self, op: O) -> BoxFuture<Result<O::Output, O::Error>>
    where
        O: Operation + Send + 'static,
        O::Output: Send,
        O::Error: Send;

    #[doc(hidden)]
    /// Submits `op` and lets it go: its result is discarded, the request is sent all the same.
    fn send<O>(&self, op: O)
    where
        O: Operation + Send + 'static;

    #[doc(hidden)]
    /// A node's stat (or `None`) and a one-shot watch on it.
    fn exists_and_watch(&self, path: &str) -> BoxFuture<Watched>;

    #[doc(hidden)]
    /// A node's children and a one-shot watch on them.
    fn get_children_and_watch(&self, path: &str) -> BoxFuture<WatchedChildren>;

    #[doc(hidden)]
    /// A persistent (or persistent-recursive) watch at `path`, and its events in server order.
    fn add_watch(&self, path: &str, mode: AddWatchMode) -> BoxFuture<AddedWatch>;

    #[doc(hidden)]
    /// Runs `task` in the background (on the client's runtime, or a thread of its own); fails
    /// when it cannot start (no runtime, no thread).
    fn spawn(&self, task: BoxFuture<()>) -> std::io::Result<()>;

    #[doc(hidden)]
    /// Runs `fut` until it completes (`Some`) or `limit` passes (`None`; `fut` is dropped).
    fn within<F>(&self, limit: Duration, fut: F) -> BoxFuture<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send;

    #[doc(hidden)]
    /// The session's state now.
    fn state(&self) -> SessionState;

    #[doc(hidden)]
    /// An observer of the session's state.
    fn states(&self) -> States;

    #[doc(hidden)]
    /// How long ago a server last confirmed the session, and the negotiated timeout.
    fn confirmation(&self) -> (Duration, Option<Duration>);

    #[doc(hidden)]
    /// The session's id (0 before the first handshake).
    fn session_id(&self) -> SessionId;
}

impl<R> Zk for zk_client::Client<R>
where
    R: Runtime + Default + Send + Sync + 'static,
{
    fn call<O>(&self, op: O) -> BoxFuture<Result<O::Output, O::Error>>
    where
        O: Operation + Send + 'static,
        O::Output: Send,
        O::Error: Send,
    {
        Box::pin(zk_client::Client::call(self, op))
    }

    fn send<O>(&self, op: O)
    where
        O: Operation + Send + 'static,
    {
        drop(zk_client::Client::call(self, op));
    }

    fn get_children_and_watch(&self, path: &str) -> BoxFuture<WatchedChildren> {
        let call = zk_client::Client::get_children_and_watch(self, path);
        Box::pin(async move {
            call.await
                .map(|((children, _), watch)| (children, fired(watch)))
        })
    }

    fn add_watch(&self, path: &str, mode: AddWatchMode) -> BoxFuture<AddedWatch> {
        let call = zk_client::Client::add_watch(self, path, mode);
        Box::pin(async move { call.await.map(|events| Box::pin(events) as Events) })
    }

    fn spawn(&self, task: BoxFuture<()>) -> std::io::Result<()> {
        R::default().spawn(task)
    }

    fn exists_and_watch(&self, path: &str) -> BoxFuture<Watched> {
        let call = zk_client::Client::exists_and_watch(self, path);
        Box::pin(async move { call.await.map(|(stat, watch)| (stat, fired(watch))) })
    }

    fn within<F>(&self, limit: Duration, fut: F) -> BoxFuture<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        Box::pin(async move { zk_client::adapter::with_timeout(&R::default(), limit, fut).await })
    }

    fn state(&self) -> SessionState {
        zk_client::Client::state(self)
    }

    fn states(&self) -> States {
        States(StatesSource::Client(zk_client::Client::state_watcher(self)))
    }

    fn session_id(&self) -> SessionId {
        zk_client::Client::session_id(self)
    }

    fn confirmation(&self) -> (Duration, Option<Duration>) {
        (
            zk_client::Client::unconfirmed_for(self),
            zk_client::Client::negotiated_timeout(self),
        )
    }
}

/// zk-blocking's client: a call is submitted when made and its future blocks for the reply when
/// first polled (so calls made together are sent together), and the recipes' futures are driven
/// on the calling thread ([`crate::wait`]) or a thread of their own.
#[cfg(feature = "blocking")]
impl Zk for zk_blocking::Client {
    fn call<O>(&self, op: O) -> BoxFuture<Result<O::Output, O::Error>>
    where
        O: Operation + Send + 'static,
        O::Output: Send,
        O::Error: Send,
    {
        let submitted = self.submit(op);
        Box::pin(async move { submitted.wait(None) })
    }

    fn send<O>(&self, op: O)
    where
        O: Operation + Send + 'static,
    {
        // Dropping the call sends what it submitted.
        drop(self.submit(op));
    }

    fn add_watch(&self, path: &str, mode: AddWatchMode) -> BoxFuture<AddedWatch> {
        let added = zk_blocking::Client::add_watch(self, path, mode);
        Box::pin(std::future::ready(
            added.map(|events| Box::pin(events) as Events),
        ))
    }

    fn get_children_and_watch(&self, path: &str) -> BoxFuture<WatchedChildren> {
        let got = zk_blocking::Client::get_children_and_watch(self, path);
        Box::pin(std::future::ready(
            got.map(|((children, _), watch)| (children, fired(watch))),
        ))
    }

    fn spawn(&self, task: BoxFuture<()>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("zk-recipe".into())
            .spawn(move || wait(task))
            .map(drop)
    }

    fn exists_and_watch(&self, path: &str) -> BoxFuture<Watched> {
        let watched = zk_blocking::Client::exists_and_watch(self, path);
        Box::pin(std::future::ready(
            watched.map(|(stat, watch)| (stat, fired(watch))),
        ))
    }

    fn within<F>(&self, limit: Duration, fut: F) -> BoxFuture<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        Box::pin(std::future::ready(zk_client::adapter::block_on(
            fut,
            Some(limit),
        )))
    }

    fn state(&self) -> SessionState {
        zk_blocking::Client::state(self)
    }

    fn states(&self) -> States {
        States(StatesSource::Client(zk_blocking::Client::state_watcher(
            self,
        )))
    }

    fn session_id(&self) -> SessionId {
        zk_blocking::Client::session_id(self)
    }

    fn confirmation(&self) -> (Duration, Option<Duration>) {
        (
            zk_blocking::Client::unconfirmed_for(self),
            zk_blocking::Client::negotiated_timeout(self),
        )
    }
}

/// Runs a recipe's future on the calling thread until it completes: how zk-blocking's users
/// call the recipes (`zk_recipes::wait(mutex.acquire())`).
pub fn wait<F: Future>(fut: F) -> F::Output {
    match zk_client::adapter::block_on(fut, None) {
        Some(out) => out,
        None => unreachable!("block_on without a deadline returns only with the output"),
    }
}

/// A client's watch as the recipes wait for it.
fn fired(watch: Watch) -> Fired {
    Box::pin(async move {
        match watch.await {
            WatchEvent::Node {
                event_type: EventType::NodeDeleted,
                ..
            } => Fire::Deleted,
            _ => Fire::Other,
        }
    })
}

/// Whether a call that failed with `common` may have been applied (ConnectionLoss, or the
/// caller's timeout): a safe call is sent again once the session is connected again.
pub(crate) fn outcome_unknown(common: Option<CommonError>) -> bool {
    matches!(
        common,
        Some(CommonError::ConnectionLoss | CommonError::RequestTimeout)
    )
}

/// Waits until the session is connected again, or over (the next call then says how): what a
/// recipe does before sending a call again, so that a client that fails calls at once while
/// disconnected is not asked in a busy loop.
pub(crate) async fn reconnected<C: Zk>(zk: &C) {
    let mut states = zk.states();
    states
        .wait_for(|s| {
            s.is_terminal()
                || matches!(s, SessionState::Connected | SessionState::ConnectedReadOnly)
        })
        .await;
}

/// Deletes `node` in the background, again after each ConnectionLoss, until it is gone or the
/// session is over (which removes it): how a recipe gives up a node it no longer wants (a
/// dropped guard, an abandoned acquire). When no task can start, the delete is sent once.
pub(crate) fn remove_in_background<C: Zk>(zk: &C, node: String) {
    let remover = zk.clone();
    let path = node.clone();
    let task = Box::pin(async move { remove(&remover, &path).await });
    if let Err(e) = zk.spawn(task) {
        tracing::warn!(node, error = %e, "no task to remove a node: its delete is sent once");
        zk.send(zk_client::ops::Delete::new(node));
    }
}

/// Deletes `node` until it is gone (Ok or NoNode) or the session is over.
pub(crate) async fn remove<C: Zk>(zk: &C, node: &str) {
    loop {
        match zk.call(zk_client::ops::Delete::new(node)).await {
            Err(e) if outcome_unknown(e.common()) => reconnected(zk).await,
            _ => return,
        }
    }
}
